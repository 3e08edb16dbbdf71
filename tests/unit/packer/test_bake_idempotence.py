"""scripts/bake-idempotence.sh, the command of the bake's idempotence pass (packer/builds.pkr.hcl):
it runs ansible-playbook and fails the bake unless the pass succeeded and changed nothing, naming the
tasks that changed. A stand-in ansible-playbook on PATH prints what a real run prints."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "bake-idempotence.sh"

RECAP_CLEAN = """
TASK [base : packages | Install] ***
ok: [ami-bake-web]

PLAY RECAP *********************************************************************
ami-bake-web               : ok=212  changed=0    unreachable=0    failed=0    skipped=40   rescued=0    ignored=0
"""
RECAP_CHANGED = """
TASK [base : packages | Install] ***
ok: [ami-bake-web]

TASK [web : nginx | Deploy the site config] ***
\x1b[0;33mchanged: [ami-bake-web]\x1b[0m

PLAY RECAP *********************************************************************
ami-bake-web               : ok=212  \x1b[0;33mchanged=1   \x1b[0m unreachable=0    failed=0    skipped=40
"""


def run(tmp_path: Path, output: str, rc: int = 0, *args: str) -> subprocess.CompletedProcess[str]:
    fake = tmp_path / "ansible-playbook"
    (tmp_path / "out.txt").write_text(output)
    fake.write_text(
        f'#!/bin/sh\necho "$@" > {tmp_path}/args.txt\n'
        f'[ "$1" = --version ] && {{ echo "ansible-playbook [core 2.19.0]"; exit 0; }}\n'
        f"cat {tmp_path}/out.txt\nexit {rc}\n"
    )
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env, check=False, timeout=30)


def test_a_pass_that_changes_nothing_passes(tmp_path: Path) -> None:
    done = run(tmp_path, RECAP_CLEAN, 0, "playbooks/bake.yml", "-e", "bake_phase=idempotence")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "args.txt").read_text().split() == ["playbooks/bake.yml", "-e", "bake_phase=idempotence"]
    assert "second pass changed nothing" in done.stdout


def test_a_pass_that_changes_something_fails_naming_the_task(tmp_path: Path) -> None:
    done = run(tmp_path, RECAP_CHANGED, 0, "playbooks/bake.yml")
    assert done.returncode == 1
    assert "TASK [web : nginx | Deploy the site config] ***" in done.stderr
    assert "TASK [base : packages | Install]" not in done.stderr


@pytest.mark.parametrize(("output", "rc", "want"), [(RECAP_CLEAN, 2, 2), ("ERROR! no playbook\n", 0, 1)])
def test_a_failed_run_or_one_without_recap_fails(tmp_path: Path, output: str, rc: int, want: int) -> None:
    assert run(tmp_path, output, rc, "playbooks/bake.yml").returncode == want


def test_packer_asking_for_the_version_gets_ansible_playbooks(tmp_path: Path) -> None:
    done = run(tmp_path, "", 0, "--version")
    assert (done.returncode, done.stdout.strip()) == (0, "ansible-playbook [core 2.19.0]")
