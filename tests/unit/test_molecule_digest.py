"""scripts/molecule_digest.py: a failed scenario's log reduced to its cause."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from arena_loader import load_source

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "molecule_digest.py"

# Molecule's plain layout (no TTY), as CI prints it.
PLAIN = """\
TASK [base : Validate | Time zone exists] **************************************
ok: [hardening-admin]

TASK [base : Packages | Optional probe] ****************************************
fatal: [hardening-admin]: FAILED! => {"changed": false, "msg": "probe failed"}
...ignoring

TASK [base : Packages | Install the minimal set and the components' packages] ***
fatal: [hardening-admin]: FAILED! => {"changed": false, "msg": "Failed to update apt cache: W:Failed to fetch \\
http://deb.debian.org/debian/dists/bookworm/InRelease  Could not connect to 10.88.0.1:3142"}

PLAY RECAP *********************************************************************
hardening-admin            : ok=17   changed=0    unreachable=0    failed=1    skipped=4    rescued=0    ignored=0

CRITICAL Ansible return code was 2, command was: ansible-playbook converge.yml
ERROR    [admin > converge] Executed: Failed
TASK [Destroy molecule instance(s)] ********************************************
changed: [localhost]
FAILED - RETRYING: [localhost]: Wait for instance(s) deletion to complete (300 retries left).
ERROR    Ansible return code was 2, command was: ansible-playbook converge.yml
"""

# Molecule's boxed layout (TTY) with colour, an idempotence failure and a testinfra failure.
BOXED = """\
\x1b[36mINFO    \x1b[0m admin \u279c idempotence: Executing
  \u2502 TASK [web : Nginx | Site]
  \u2502   ***********************
  \u2502 \x1b[0;33mchanged: [web-default]\x1b[0m
\x1b[31mERROR   \x1b[0m Idempotence test failed because of the following tasks:
*  => web : Nginx | Site
*  => web : Nginx | Reload

FAILED tests/test_web.py::test_health[ansible://web-default] - AssertionError: 503
E   AssertionError: 503
"""


@pytest.fixture(scope="module")
def mod() -> ModuleType:
    return load_source(SCRIPT, "molecule_digest")


def test_plain_log_names_the_failed_task_and_its_error(mod: ModuleType) -> None:
    out = mod.digest(PLAIN.splitlines(keepends=True))
    assert out[0] == "  TASK [base : Packages | Install the minimal set and the components' packages]"
    assert "Could not connect to 10.88.0.1:3142" in "\n".join(out[1:3])
    # The ignored failure is not a cause; the destroy play after it adds nothing.
    assert not any("probe failed" in line or "Optional probe" in line for line in out)
    assert not any("Destroy" in line or "RETRYING" in line for line in out)
    # molecule's repeated error line once.
    assert sum("Ansible return code was 2" in line for line in out) == 2  # CRITICAL and ERROR differ
    assert "  ERROR    [admin > converge] Executed: Failed" in out


def test_boxed_coloured_log_names_idempotence_tasks_and_failed_tests(mod: ModuleType) -> None:
    out = mod.digest(BOXED.splitlines(keepends=True))
    assert any(line.endswith("Idempotence test failed because of the following tasks:") for line in out)
    assert "    *  => web : Nginx | Site" in out
    assert "    *  => web : Nginx | Reload" in out
    assert any(line.startswith("  FAILED tests/test_web.py::test_health") for line in out)
    assert "  E   AssertionError: 503" in out
    assert not any("\x1b" in line for line in out)


def test_long_digest_is_cut_with_a_count(mod: ModuleType) -> None:
    log = "".join(f"TASK [t{i}] ***\nfatal: [h]: FAILED! => {{}}\n" for i in range(30))
    out = mod.digest(log.splitlines(keepends=True), max_lines=10)
    assert len(out) == 11
    assert out[-1] == "  ... 50 more lines in the log"  # 30 tasks x (name + error) - 10


def test_cli_falls_back_to_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "ok.log"
    log.write_text("TASK [x] ***\nok: [h]\n\nmolecule: command not found\n", encoding="utf-8")
    run = subprocess.run([sys.executable, str(SCRIPT), str(log)], capture_output=True, text=True, check=True)
    assert run.stdout.splitlines() == [
        "  (no failing task in the log; its last lines:)",
        "    TASK [x] ***",
        "    ok: [h]",
        "    molecule: command not found",
    ]


def test_offline_apt_download_gets_the_package_layer_hint(mod: ModuleType) -> None:
    log = (
        "TASK [web : packages | Install nginx from Debian] ***\n"
        'fatal: [tier-wa-web-default]: FAILED! => {"msg": "E: Failed to fetch http://deb.debian.org/debian/pool/'
        'main/n/nginx/nginx_1.22.1-9_amd64.deb  Could not connect to 127.0.0.1:9 (127.0.0.1)"}\n'
        "PLAY RECAP ***\n"
    )
    out = mod.digest(log.splitlines(keepends=True))
    assert out[0] == "  TASK [web : packages | Install nginx from Debian]"
    assert out[-1] == mod.OFFLINE_HINT
    assert mod.OFFLINE_HINT not in mod.digest(PLAIN.splitlines(keepends=True))
