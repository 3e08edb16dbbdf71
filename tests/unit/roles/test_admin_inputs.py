"""Bad input for roles/admin: ansible-playbook --check on localhost with bad variables fails in the
validation task with the exact message, and no task before it changed anything."""

from __future__ import annotations

import pytest
from arena_testlib import CasesRun, role_input_run

ROLE = "admin"
# The allow-list is no input: it is read at boot (roles/admin/molecule: fails closed without it).
GOOD: dict = {}
SPEC_TASK = "Validating arguments against arg spec 'main' - Admin tier content-management tools behind nginx"


CASES = [
    pytest.param(
        {"admin_real_ip_trusted_cidrs": ["alb"]},
        "Validate | Trusted proxies are networks",
        "admin_real_ip_trusted_cidrs[0] 'alb' is not an IPv4 or IPv6 CIDR ('alb' does not appear to be an IPv4 or "
        "IPv6 network)",
        id="trusted-proxy-not-a-network",
    ),
    pytest.param(
        {"admin_listen_port": 70000},
        "Validate | Listen port and paths",
        "admin_listen_port must be 1..65535, admin_content_dir an absolute path without spaces or ';', "
        "admin_client_max_body_size an nginx size like 50m (got port=70000, "
        "content_dir='/srv/arena-admin/content', client_max_body_size='50m').",
        id="port-out-of-range",
    ),
]
SPEC_CASES: list[dict] = [{"admin_listen_port": "eighty"}]


@pytest.fixture(scope="module")
def cases_run(tmp_path_factory: pytest.TempPathFactory) -> CasesRun:
    """One --check run of the role for every case of this file (one inventory host each)."""
    overrides = [case.values[0] for case in CASES] + SPEC_CASES
    return role_input_run(tmp_path_factory.mktemp(ROLE), ROLE, [{**GOOD, **o} for o in overrides])


def play(cases_run: CasesRun, overrides: dict) -> tuple[str, str, dict]:
    """The case GOOD | overrides of the run: (failed task, its message, stats)."""
    return cases_run.failure({**GOOD, **overrides})


@pytest.mark.parametrize(("overrides", "task", "message"), CASES)
def test_bad_input_fails_in_validation(cases_run: CasesRun, overrides: dict, task: str, message: str) -> None:
    failed_task, failed_message, stats = play(cases_run, overrides)
    assert failed_task == f"{ROLE} : {task}"
    assert failed_message == message
    assert stats["changed"] == 0


def test_wrong_type_is_caught_by_the_argument_spec(cases_run: CasesRun) -> None:
    failed_task, failed_message, stats = play(cases_run, {"admin_listen_port": "eighty"})
    assert failed_task == f"{ROLE} : {SPEC_TASK}"
    assert "argument 'admin_listen_port' is of type str and we were unable to convert to int" in failed_message
    assert stats["changed"] == 0
