"""roles/web refuses bad inputs before it changes anything, with messages naming the variable."""

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
    "web_site_version": "1.0.0",
    "web_site_artifact_url": "file:///srv/fixtures/arena-site-1.0.0.tar.gz",
    "web_site_artifact_sha256": GOOD_SHA,
}
SPEC_TASK = (
    "web : Validating arguments against arg spec 'main' - nginx serving the public site from a versioned artifact"
)
CHECK_TASK = "web : validate | Check the inputs"

CASES = [
    pytest.param(
        {"web_site_artifact_sha256": "ABC123"},
        CHECK_TASK,
        "web_site_artifact_sha256 must be 64 lowercase hex digits, got 'ABC123'",
        id="sha256-not-hex",
    ),
    pytest.param(
        {"web_vpc_cidr": "10.0.0.300/16"},
        CHECK_TASK,
        "web_vpc_cidr must be an IPv4 CIDR such as 10.0.0.0/16, got '10.0.0.300/16'",
        id="cidr-octet",
    ),
    pytest.param(
        {"web_csp": "default-src 'self'; frame-ancestors *"},
        CHECK_TASK,
        "web_csp must not contain frame-ancestors: set it with web_frame_ancestors",
        id="csp-frame-ancestors",
    ),
    pytest.param(
        {"web_worker_connections": 4096, "web_worker_rlimit_nofile": 4096},
        CHECK_TASK,
        "web_worker_rlimit_nofile (4096) must be at least twice web_worker_connections (4096)",
        id="nofile-vs-connections",
    ),
    pytest.param(
        {"web_site_artifact_url": "ftp://example.invalid/site.tar.gz"},
        CHECK_TASK,
        "web_site_artifact_url must be an https://, http:// or file:// URL, got 'ftp://example.invalid/site.tar.gz'",
        id="url-scheme",
    ),
    pytest.param(
        {"web_referrer_policy": "unsafe-url"},
        SPEC_TASK,
        "value of web_referrer_policy must be one of: no-referrer, no-referrer-when-downgrade, origin, "
        "origin-when-cross-origin, same-origin, strict-origin, strict-origin-when-cross-origin, got: unsafe-url",
        id="spec-referrer-policy",
    ),
]


@pytest.mark.parametrize(("bad", "task", "message"), CASES)
def test_bad_input_rejected(tmp_path: Path, bad: dict[str, Any], task: str, message: str) -> None:
    tasks = run_role("web", GOOD | bad, tmp_path)
    index, name, messages = first_failure(tasks)
    assert name == task
    assert any(message in m for m in messages), messages
    assert changed_before(tasks, index) == []
