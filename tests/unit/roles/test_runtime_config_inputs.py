"""Bad input for roles/runtime_config: ansible-playbook --check on localhost with bad variables fails in the
validation task with the exact message, and no task before it changed anything."""

from __future__ import annotations

import pytest

# The import is what collects these tests here, on this file's CASES and WRONG_TYPE (F401: ruff sees no use).
from role_input_tests import test_bad_input_fails_in_validation, test_wrong_type_is_caught_by_the_argument_spec  # noqa: F401

ROLE = "runtime_config"
GOOD: dict = {"runtime_config_tiers": [{"name": "api", "group": "arena-api", "required_keys": ["REDIS_HOST"]}]}
SPEC_TASK = "Validating arguments against arg spec 'main' - First-boot runtime configuration from SSM Parameter Store"


TIERS_TASK = "Validate | Tiers are named, unique and readable by an existing kind of group"
RETRY_TASK = "Validate | Retries are bounded and sane"
RETRY_MESSAGE = (
    "runtime_config_attempts must be 1..60, runtime_config_delay > 0 and <= runtime_config_max_delay, "
    "runtime_config_timeout > 0 (got attempts={attempts}, delay={delay}, max_delay={max_delay}, timeout=5)."
)


CASES = [
    pytest.param(
        {"runtime_config_tiers": []},
        TIERS_TASK,
        "runtime_config_tiers must list at least one tier, each with a unique lower-case name "
        "matching ^[a-z][a-z0-9_-]*$ (got []).",
        id="no-tier",
    ),
    pytest.param(
        {"runtime_config_tiers": [{"name": "api"}, {"name": "api"}]},
        TIERS_TASK,
        "runtime_config_tiers must list at least one tier, each with a unique lower-case name "
        "matching ^[a-z][a-z0-9_-]*$ (got ['api', 'api']).",
        id="duplicate-tier",
    ),
    pytest.param(
        {"runtime_config_tiers": [{"name": "api", "required_keys": ["redis_host", "REDIS_PORT"]}]},
        "Validate | Required keys are valid env names",
        "runtime_config_tiers[].required_keys must be upper-case env names matching ^[A-Z][A-Z0-9_]*$ "
        "(bad: ['redis_host']).",
        id="lower-case-key",
    ),
    pytest.param(
        {"runtime_config_delay": 60},
        RETRY_TASK,
        RETRY_MESSAGE.format(attempts=10, delay=60, max_delay=30),
        id="delay-above-cap",
    ),
    pytest.param(
        {"runtime_config_attempts": 0},
        RETRY_TASK,
        RETRY_MESSAGE.format(attempts=0, delay=2, max_delay=30),
        id="no-attempt",
    ),
    pytest.param(
        {"runtime_config_prefix": "arena"},
        "Validate | Prefix and output directory are absolute paths",
        "runtime_config_prefix must be an SSM path like /arena and runtime_config_output_dir an absolute "
        "path (got prefix='arena', output_dir='/etc/arena/runtime').",
        id="relative-prefix",
    ),
    pytest.param(
        {
            "runtime_config_source_override": {
                "endpoint_url": "https://ssm.eu-west-1.amazonaws.com",
                "environment": "prod",
                "region": "eu-west-1",
            }
        },
        "Validate | The source override only points at an emulator, with environment and region",
        "runtime_config_source_override (tests only) needs endpoint_url (an emulator, http(s)://, not "
        "amazonaws.com), environment and region, and allows only the keys ['endpoint_url', 'environment', "
        "'region', 'access_key_id', 'secret_access_key'] (got keys ['endpoint_url', 'environment', 'region']).",
        id="override-to-real-aws",
    ),
]
WRONG_TYPE = (
    {"runtime_config_attempts": "many"},
    "argument 'runtime_config_attempts' is of type str and we were unable to convert to int",
)
