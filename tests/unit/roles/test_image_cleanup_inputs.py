"""Bad input to image_cleanup fails in the validation tasks, before any change, with a message that
names the variable. Runs `ansible-playbook --check` against localhost (no container); --check keeps
a wrong test from touching the host, and the validation fails before anything else would run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from arena_testlib import REPO_ROOT, VENV_BIN, base_env, run

PLAYBOOK = """\
- name: Apply image_cleanup
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: image_cleanup
"""

EXTRA_PATHS_MSG = (
    "image_cleanup_extra_paths must hold absolute paths below a system directory (at least two components, "
    "no '..', none of /, /bin, /boot, /dev, /etc, /home, /lib, /lib64, /opt, /proc, /root, /run, /sbin, /srv, "
    "/sys, /tmp, /usr, /usr/local, /var, /var/lib, /var/log, /var/tmp); refused: "
)
SCAN_MSG = (
    "image_cleanup_secret_scan_paths must be a non-empty list of absolute directories other than / "
    "(no whole-filesystem scan); refused: "
)


def apply(tmp_path: Path, extra_vars: dict[str, object]) -> tuple[int, str]:
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK)
    env = base_env({"ANSIBLE_ROLES_PATH": str(REPO_ROOT / "roles")}, keep_aws=False)
    result = run(
        [
            str(VENV_BIN / "ansible-playbook"),
            "--check",
            "-i",
            "localhost,",
            str(playbook),
            "-e",
            json.dumps(extra_vars),
        ],
        env,
        timeout=120,
    )
    return result.returncode, re.sub(r"\s+", " ", result.stdout + result.stderr)


@pytest.mark.parametrize(
    ("extra_vars", "message"),
    [
        ({"image_cleanup_extra_paths": ["/etc"]}, EXTRA_PATHS_MSG + "/etc"),
        ({"image_cleanup_extra_paths": ["/var/log/"]}, EXTRA_PATHS_MSG + "/var/log"),
        ({"image_cleanup_extra_paths": ["srv/bake"]}, EXTRA_PATHS_MSG + "srv/bake"),
        ({"image_cleanup_extra_paths": ["/srv/../etc"]}, EXTRA_PATHS_MSG + "/srv/../etc"),
        ({"image_cleanup_extra_paths": ["/srv/bake", "/"]}, EXTRA_PATHS_MSG + "/"),
        ({"image_cleanup_secret_scan_paths": ["/etc", "/"]}, SCAN_MSG + "/"),
        ({"image_cleanup_secret_scan_paths": []}, SCAN_MSG.rstrip()),
        (
            {"image_cleanup_home_roots": ["/"]},
            "image_cleanup_home_roots and image_cleanup_tmp_dirs must hold absolute directories other than /",
        ),
        (
            {"image_cleanup_secret_name_patterns": []},
            "image_cleanup_secret_content_regex and image_cleanup_secret_name_patterns must not be empty "
            "(an empty scan would pass any image).",
        ),
        (
            {"image_cleanup_secret_content_regex": "  "},
            "image_cleanup_secret_content_regex and image_cleanup_secret_name_patterns must not be empty",
        ),
    ],
)
def test_bad_input_fails_in_validation_before_any_change(
    tmp_path: Path, extra_vars: dict[str, object], message: str
) -> None:
    rc, out = apply(tmp_path, extra_vars)
    assert rc != 0
    assert message in out, out[-2000:]
    failing_task = out.split("[ERROR]")[0].rsplit("TASK [", 1)[-1]
    assert failing_task.startswith("image_cleanup : Validate | "), failing_task
    assert "changed=0" in out
    assert "TASK [image_cleanup : Ssh_host_keys" not in out


def test_argument_spec_rejects_wrong_types(tmp_path: Path) -> None:
    rc, out = apply(tmp_path, {"image_cleanup_verify_enabled": "sometimes"})
    assert rc != 0
    assert (
        "argument 'image_cleanup_verify_enabled' is of type str and we were unable to convert to bool: "
        "The value 'sometimes' is not a valid boolean." in out
    ), out[-2000:]
    assert "changed=0" in out
