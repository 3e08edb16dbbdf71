"""Bad input for roles/awx_config: ansible-playbook --check with bad variables fails in the validation task
with the exact message naming the variable, before any controller call (none is reachable here) and with
nothing changed. The defaults themselves are checked against playbooks/ in tests/unit/test_awx_config.py."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from arena_testlib import REPO_ROOT

# The import is what collects these tests here, on this file's CASES and WRONG_TYPE (F401: ruff sees no use).
from role_input_tests import test_bad_input_fails_in_validation, test_wrong_type_is_caught_by_the_argument_spec  # noqa: F401

DEFAULTS: dict[str, Any] = yaml.safe_load((REPO_ROOT / "roles/awx_config/defaults/main.yml").read_text())
PLAYBOOKS = Path(REPO_ROOT / "playbooks").resolve()


def templates(**changes: Any) -> list[dict[str, Any]]:
    """The default job templates, with the entry named `name` changed."""
    name = changes.pop("name")
    out = copy.deepcopy(DEFAULTS["awx_config_job_templates"])
    for template in out:
        if template["name"] == name:
            template.update(changes)
            for key in [k for k, v in changes.items() if v is None]:
                del template[key]
    return out


def schedules(**changes: Any) -> list[dict[str, Any]]:
    out = copy.deepcopy(DEFAULTS["awx_config_schedules"])
    out[0].update(changes)
    return out


def workflow(node: int, **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(DEFAULTS["awx_config_workflow"])
    out["nodes"][node].update(changes)
    return out


ROLE = "awx_config"
GOOD: dict = {
    "awx_config_controller_host": "https://awx.example.invalid",
    "awx_config_project_scm_url": "https://github.com/example/arena-infra.git",
}
SPEC_TASK = (
    "Validating arguments against arg spec 'main' - "
    "AWX / Automation Controller configuration as code for the arena ops playbooks"
)
WRONG_TYPE = ({"awx_config_job_templates": "arena platform"}, "awx_config_job_templates")

CASES = [
    pytest.param(
        {"awx_config_controller_host": " "},
        "Validate | Require a controller host",
        "awx_config_controller_host is empty: set CONTROLLER_HOST (and CONTROLLER_OAUTH_TOKEN) to the controller,"
        " e.g. CONTROLLER_HOST=https://awx.example.com.",
        id="no-controller-host",
    ),
    pytest.param(
        {"awx_config_project_scm_url": "github.com/example/arena-infra"},
        "Validate | Require a git URL for the project",
        "awx_config_project_scm_url must be a git URL (https://, ssh:// or git@...),"
        " got 'github.com/example/arena-infra'.",
        id="bad-scm-url",
    ),
    pytest.param(
        {"awx_config_environments": ["staging", "qa"]},
        "Validate | Require an inventory file for every environment",
        "awx_config_environments must name environments with an inventories/<env>/aws_ec2.yml and contain"
        " awx_config_default_environment ('staging'); without an inventory file: ['qa'].",
        id="environment-without-inventory",
    ),
    pytest.param(
        {"awx_config_job_templates": templates(name="arena rollout", playbook="playbooks/deploy.yml")},
        "Validate | Require every job template's playbook to exist",
        f"awx_config_job_templates names playbooks that do not exist in {PLAYBOOKS}: ['deploy.yml'].",
        id="missing-playbook",
    ),
    pytest.param(
        {"awx_config_job_templates": templates(name="arena rollout", playbook="../site.yml")},
        "Validate | Require every job template's playbook to exist",
        f"awx_config_job_templates names playbooks that do not exist in {PLAYBOOKS}: ['../site.yml'].",
        id="playbook-outside-playbooks",
    ),
    pytest.param(
        {"awx_config_job_templates": templates(name="arena event review", survey=None)},
        "Validate | Require every required input of a job template to be asked or given",
        "awx_config_job_templates: required_vars neither in the survey nor in extra_vars, and"
        " ask_variables_on_launch false: ['arena event review: event_review_event'].",
        id="required-input-not-asked",
    ),
    pytest.param(
        {"awx_config_workflow": workflow(2, name="arena publish")},
        "Validate | Require the workflow's nodes to be approvals or existing job templates",
        "awx_config_workflow.nodes must be workflow_approval nodes or job_template nodes naming an entry of"
        " awx_config_job_templates, with unique identifiers; bad nodes: ['publish (job_template arena publish)'].",
        id="workflow-node-without-template",
    ),
    pytest.param(
        {"awx_config_schedules": schedules(template="arena scaling")},
        "Validate | Require every schedule to run an existing job template in a known environment",
        "awx_config_schedules: unknown template or environment in ['arena event scaling daily (production)'].",
        id="schedule-without-template",
    ),
    pytest.param(
        {"awx_config_schedules": schedules(rrule="RRULE:FREQ=DAILY")},
        "Validate | Require every schedule's rrule in AWX's DTSTART + RRULE form",
        "awx_config_schedules: rrule must look like 'DTSTART;TZID=UTC:20270101T050000 RRULE:FREQ=DAILY;INTERVAL=1';"
        " bad: ['arena event scaling daily (production)'].",
        id="rrule-without-dtstart",
    ),
    pytest.param(
        {"awx_config_schedules": schedules(rrule="DTSTART;TZID=UTC:20270101T050000 RRULE:FREQ=DAYLY")},
        "Validate | Require every schedule's rrule in AWX's DTSTART + RRULE form",
        "awx_config_schedules: rrule must look like 'DTSTART;TZID=UTC:20270101T050000 RRULE:FREQ=DAILY;INTERVAL=1';"
        " bad: ['arena event scaling daily (production)'].",
        id="rrule-bad-freq",
    ),
]
