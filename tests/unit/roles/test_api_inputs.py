"""roles/api refuses bad inputs before it changes anything, with messages naming the variable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
GOOD_SHA = "0" * 64


def run_role(role: str, extra_vars: dict[str, Any], tmp_path: Path) -> list[dict[str, Any]]:
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        f"- name: Input check\n  hosts: localhost\n  connection: local\n  gather_facts: false\n"
        f"  roles:\n    - role: {role}\n"
    )
    varfile = tmp_path / "vars.json"
    varfile.write_text(json.dumps(extra_vars))
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_ROLES_PATH=str(REPO / "roles"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_NOCOLOR="1",
    )
    bindir = Path(sys.executable).parent
    proc = subprocess.run(
        [str(bindir / "ansible-playbook"), "--check", "-i", "localhost,", str(playbook), "-e", f"@{varfile}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 2, f"expected a failed play (rc 2), got {proc.returncode}\n{proc.stderr}"
    # The timer callback (ansible.cfg) prints its line after the JSON document.
    document, _ = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{") :])
    return document["plays"][0]["tasks"]


def first_failure(tasks: list[dict[str, Any]]) -> tuple[int, str, list[str]]:
    """Index and name of the first failed task, and its messages (per loop item when looped)."""
    for index, task in enumerate(tasks):
        result = task["hosts"].get("localhost", {})
        if result.get("failed"):
            items = result.get("results") or [result]
            messages = [str(item.get("msg", "")) for item in items if item.get("failed")]
            return index, task["task"]["name"], messages
    raise AssertionError("no task failed")


def changed_before(tasks: list[dict[str, Any]], index: int) -> list[str]:
    return [t["task"]["name"] for t in tasks[:index] if t["hosts"].get("localhost", {}).get("changed")]


GOOD: dict[str, Any] = {
    "api_version": "1.0.0",
    "api_artifact_url": "file:///srv/fixtures/arena-api-1.0.0.tar.gz",
    "api_artifact_sha256": GOOD_SHA,
}
SPEC_TASK = (
    "api : Validating arguments against arg spec 'main' - "
    "The platform API as a sandboxed systemd service, nginx in front"
)
CHECK_TASK = "api : validate | Check the inputs"

CASES = [
    pytest.param(
        {"api_runtime_env_manage": True, "api_runtime_env": {"REDIS_HOST": "cache", "REDIS_PORT": "6379"}},
        CHECK_TASK,
        "api_runtime_env is missing REDIS_TLS, REDIS_AUTH_TOKEN (needed with api_runtime_env_manage)",
        id="runtime-env-incomplete",
    ),
    pytest.param(
        {"api_bind_port": 80},
        CHECK_TASK,
        "api_bind_port must be 1024-65535 and differ from api_nginx_listen_port, got 80",
        id="bind-port-clash",
    ),
    pytest.param(
        {"api_wsgi_app": "arena_api/app.py"},
        CHECK_TASK,
        "api_wsgi_app must be module:callable, got 'arena_api/app.py'",
        id="wsgi-app",
    ),
    pytest.param(
        {"api_memory_max": "half"},
        CHECK_TASK,
        "api_memory_max must be a systemd size such as 512M, got 'half'",
        id="memory-max",
    ),
    pytest.param(
        {"api_version": "../1.0"},
        CHECK_TASK,
        "api_version must be a release name (letters, digits, . _ + -), got '../1.0'",
        id="version-path",
    ),
    pytest.param(
        {"api_service_state": "restarted"},
        SPEC_TASK,
        "value of api_service_state must be one of: started, stopped, got: restarted",
        id="spec-service-state",
    ),
]


@pytest.mark.parametrize(("bad", "task", "message"), CASES)
def test_bad_input_rejected(tmp_path: Path, bad: dict[str, Any], task: str, message: str) -> None:
    tasks = run_role("api", GOOD | bad, tmp_path)
    index, name, messages = first_failure(tasks)
    assert name == task
    assert any(message in m for m in messages), messages
    assert changed_before(tasks, index) == []
