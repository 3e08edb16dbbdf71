"""Bad input for roles/cloudwatch_agent: ansible-playbook --check on localhost with bad variables fails in the
validation task with the exact message naming the variable, and no task before it changed anything."""

from __future__ import annotations

import pytest

# The import is what collects these tests here, on this file's CASES and WRONG_TYPE (F401: ruff sees no use).
from role_input_tests import test_bad_input_fails_in_validation, test_wrong_type_is_caught_by_the_argument_spec  # noqa: F401

ROLE = "cloudwatch_agent"
GOOD: dict = {"cloudwatch_agent_tier": "web"}
SPEC_TASK = (
    "Validating arguments against arg spec 'main' - CloudWatch agent configuration baked per tier, completed at boot"
)

LOGS_TASK = "Validate | Every log is named and is the journal or an absolute file path"
LOGS_MESSAGE = (
    "cloudwatch_agent_logs must map log names (^[a-z][a-z0-9-]*$) to {{source: journald}} or "
    "{{source: file, path: <absolute path>}}; bad: {bad}."
)
KNOBS_TASK = "Validate | Journal priority, log stream, disk paths and start timeout"
KNOBS_MESSAGE = (
    "cloudwatch_agent_journal_priority must be one of emerg, alert, crit, err, warning, notice, info, debug "
    "(got '{priority}'), cloudwatch_agent_log_stream_name not empty, cloudwatch_agent_disk_paths a non-empty list "
    "of absolute paths (got {paths}) and cloudwatch_agent_start_timeout 10-900 seconds (got {timeout})."
)
JOURNAL = {"source": "journald"}

CASES = [
    pytest.param(
        {"cloudwatch_agent_tier": "db"},
        "Validate | The tier is one of tiers.yml",
        "cloudwatch_agent_tier must be one of the tiers of tiers.yml (web, api, admin); got 'db'.",
        id="unknown-tier",
    ),
    pytest.param(
        {"cloudwatch_agent_log_group_root": "/arena/"},
        "Validate | The log group root is a log group path",
        "cloudwatch_agent_log_group_root must be an absolute log group path of A-Za-z0-9_.#- without a trailing "
        "slash, like /arena; got '/arena/'.",
        id="root-trailing-slash",
    ),
    pytest.param(
        {"cloudwatch_agent_log_group_root": "arena logs"},
        "Validate | The log group root is a log group path",
        "cloudwatch_agent_log_group_root must be an absolute log group path of A-Za-z0-9_.#- without a trailing "
        "slash, like /arena; got 'arena logs'.",
        id="root-relative-with-space",
    ),
    pytest.param(
        {"cloudwatch_agent_logs": {}},
        LOGS_TASK,
        LOGS_MESSAGE.format(bad="(empty)"),
        id="no-logs",
    ),
    pytest.param(
        {"cloudwatch_agent_logs": {"journal": JOURNAL, "Nginx_Access": {"source": "file", "path": "/var/log/x"}}},
        LOGS_TASK,
        LOGS_MESSAGE.format(bad="['Nginx_Access']"),
        id="bad-log-name",
    ),
    pytest.param(
        {"cloudwatch_agent_logs": {"journal": JOURNAL, "syslog": {"source": "syslog"}}},
        LOGS_TASK,
        LOGS_MESSAGE.format(bad="['syslog']"),
        id="unknown-source",
    ),
    pytest.param(
        {"cloudwatch_agent_logs": {"journal": JOURNAL, "app": {"source": "file", "path": "log/app.log"}}},
        LOGS_TASK,
        LOGS_MESSAGE.format(bad="['app']"),
        id="relative-file",
    ),
    pytest.param(
        {"cloudwatch_agent_logs": {"journal": JOURNAL, "app": {"source": "file"}}},
        LOGS_TASK,
        LOGS_MESSAGE.format(bad="['app']"),
        id="file-without-path",
    ),
    pytest.param(
        {"cloudwatch_agent_journal_priority": "warn"},
        KNOBS_TASK,
        KNOBS_MESSAGE.format(priority="warn", paths="['/']", timeout=120),
        id="journal-priority",
    ),
    pytest.param(
        {"cloudwatch_agent_disk_paths": ["/", "srv"]},
        KNOBS_TASK,
        KNOBS_MESSAGE.format(priority="info", paths="['/', 'srv']", timeout=120),
        id="relative-disk-path",
    ),
    pytest.param(
        {"cloudwatch_agent_start_timeout": 5},
        KNOBS_TASK,
        KNOBS_MESSAGE.format(priority="info", paths="['/']", timeout=5),
        id="start-timeout",
    ),
    pytest.param(
        {"cloudwatch_agent_settings_file": "monitoring.env"},
        "Validate | The settings file is an absolute path",
        "cloudwatch_agent_settings_file must be an absolute path; got 'monitoring.env'.",
        id="relative-settings-file",
    ),
    pytest.param(
        {"cloudwatch_agent_tier": ""},
        "Validate | The tier is one of tiers.yml",
        "cloudwatch_agent_tier must be one of the tiers of tiers.yml (web, api, admin); got ''.",
        id="no-tier",
    ),
]
WRONG_TYPE = (
    {"cloudwatch_agent_start_timeout": "soon"},
    "argument 'cloudwatch_agent_start_timeout' is of type str and we were unable to convert to int",
)
