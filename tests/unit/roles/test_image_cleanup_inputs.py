"""Bad input to image_cleanup fails in the validation tasks, before any change, with a message that
names the variable. One `ansible-playbook --check` run for every case of this file, each case its own
inventory host (connection local, no container); --check keeps a wrong test from touching the host,
and the validation fails before anything else would run."""

from __future__ import annotations

import re

import pytest
from arena_testlib import CasesRun, role_input_run

EXTRA_PATHS_MSG = (
    "image_cleanup_extra_paths must hold absolute paths below a system directory (at least two components, "
    "no '..', none of /, /bin, /boot, /dev, /etc, /home, /lib, /lib64, /opt, /proc, /root, /run, /sbin, /srv, "
    "/sys, /tmp, /usr, /usr/local, /var, /var/lib, /var/log, /var/tmp); refused: "
)
SCAN_MSG = (
    "image_cleanup_secret_scan_paths must be a non-empty list of absolute directories other than / "
    "(no whole-filesystem scan); refused: "
)


CASES = [
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
]
SPEC_CASE: dict[str, object] = {"image_cleanup_verify_enabled": "sometimes"}
# The component toggles added for the build machine's hostname, resolver and SSM Agent state.
TOGGLE_CASES: list[dict[str, object]] = [
    {"image_cleanup_hostname_enabled": "sometimes"},
    {"image_cleanup_resolv_conf_enabled": "sometimes"},
    {"image_cleanup_ssm_agent_enabled": "sometimes"},
]


@pytest.fixture(scope="module")
def cases_run(tmp_path_factory: pytest.TempPathFactory) -> CasesRun:
    """One --check run of the role for every case of this file (one inventory host each)."""
    cases = [extra_vars for extra_vars, _ in CASES] + [SPEC_CASE, *TOGGLE_CASES]
    return role_input_run(tmp_path_factory.mktemp("image_cleanup"), "image_cleanup", cases)


def failure(cases_run: CasesRun, extra_vars: dict[str, object]) -> tuple[str, str]:
    """The case's one failed task and its message with white space collapsed (messages are folded)."""
    task, message, stats = cases_run.failure(extra_vars)
    assert stats["changed"] == 0
    assert not any(name.startswith("image_cleanup : Ssh_host_keys") for name, _ in cases_run.tasks(extra_vars))
    return task, re.sub(r"\s+", " ", message)


@pytest.mark.parametrize(("extra_vars", "message"), CASES)
def test_bad_input_fails_in_validation_before_any_change(
    cases_run: CasesRun, extra_vars: dict[str, object], message: str
) -> None:
    failing_task, out = failure(cases_run, extra_vars)
    assert message in out, out
    assert failing_task.startswith("image_cleanup : Validate | "), failing_task


def test_argument_spec_rejects_wrong_types(cases_run: CasesRun) -> None:
    _, out = failure(cases_run, SPEC_CASE)
    assert (
        "argument 'image_cleanup_verify_enabled' is of type str and we were unable to convert to bool: "
        "The value 'sometimes' is not a valid boolean." in out
    ), out


@pytest.mark.parametrize("extra_vars", TOGGLE_CASES)
def test_argument_spec_rejects_a_toggle_that_is_not_a_bool(cases_run: CasesRun, extra_vars: dict[str, object]) -> None:
    _, out = failure(cases_run, extra_vars)
    (name,) = extra_vars
    assert (
        f"argument '{name}' is of type str and we were unable to convert to bool: "
        "The value 'sometimes' is not a valid boolean." in out
    ), out
