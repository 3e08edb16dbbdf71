"""Bad input for roles/admin: ansible-playbook --check on localhost with bad variables fails in the
validation task with the exact message, and no task before it changed anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from arena_testlib import check_role_input

ROLE = "admin"
GOOD: dict = {"admin_allowed_cidrs": ["10.20.0.0/16"]}
SPEC_TASK = "Validating arguments against arg spec 'main' - Admin tier content-management tools behind nginx"


def play(tmp_path: Path, overrides: dict) -> tuple[str, str, dict]:
    """Run the role in --check with GOOD | overrides; return (failed task, its message, stats)."""
    return check_role_input(tmp_path, ROLE, {**GOOD, **overrides})


@pytest.mark.parametrize(
    ("overrides", "task", "message"),
    [
        pytest.param(
            {"admin_allowed_cidrs": ["10.20.0.0/16", "0.0.0.0/0"]},
            "Assert | The allow-list holds valid networks and is not open to the world",
            "admin_allowed_cidrs must list at least one network in CIDR notation and must not contain "
            "0.0.0.0/0 or ::/0 (got ['10.20.0.0/16', '0.0.0.0/0']).",
            id="open-to-the-world",
        ),
        pytest.param(
            {"admin_allowed_cidrs": ["10.20.0.0/33"]},
            "Assert | The allow-list holds valid networks and is not open to the world",
            "admin_allowed_cidrs must list at least one network in CIDR notation and must not contain "
            "0.0.0.0/0 or ::/0 (got ['10.20.0.0/33']).",
            id="bad-prefix-length",
        ),
        pytest.param(
            {"admin_allowed_cidrs": []},
            "Assert | The allow-list holds valid networks and is not open to the world",
            "admin_allowed_cidrs must list at least one network in CIDR notation and must not contain "
            "0.0.0.0/0 or ::/0 (got []).",
            id="empty-allow-list",
        ),
        pytest.param(
            {"admin_real_ip_trusted_cidrs": ["alb"]},
            "Assert | Trusted proxies are networks",
            "admin_real_ip_trusted_cidrs must be networks in CIDR notation (got ['alb']).",
            id="trusted-proxy-not-a-network",
        ),
        pytest.param(
            {"admin_listen_port": 70000},
            "Assert | Listen port and paths",
            "admin_listen_port must be 1..65535, admin_content_dir an absolute path without spaces or ';', "
            "admin_client_max_body_size an nginx size like 50m (got port=70000, "
            "content_dir='/srv/arena-admin/content', client_max_body_size='50m').",
            id="port-out-of-range",
        ),
    ],
)
def test_bad_input_fails_in_validation(tmp_path: Path, overrides: dict, task: str, message: str) -> None:
    failed_task, failed_message, stats = play(tmp_path, overrides)
    assert failed_task == f"{ROLE} : {task}"
    assert failed_message == message
    assert stats["changed"] == 0


def test_wrong_type_is_caught_by_the_argument_spec(tmp_path: Path) -> None:
    failed_task, failed_message, stats = play(tmp_path, {"admin_listen_port": "eighty"})
    assert failed_task == f"{ROLE} : {SPEC_TASK}"
    assert "argument 'admin_listen_port' is of type str and we were unable to convert to int" in failed_message
    assert stats["changed"] == 0
