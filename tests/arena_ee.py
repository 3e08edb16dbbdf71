"""Commands run inside the execution environment (make ee, scripts/ee.sh), as AWX runs them.

The in-image suite (tests/ee) runs the real playbooks in the image with ansible-runner, the way an
AWX job does: the repository mounted read-only at /runner/project (ansible-runner's project dir),
the emulator's endpoint, region and dummy keys given to each run (`podman run -e`, never built into
the image), the host's network (the emulator listens on 127.0.0.1). Requests that are not for
loopback go to a dead proxy, as in every other suite (arena_testlib.base_env).

Executor: a run with `executor=True` uses the lab's (arena_testlib.mitogen_env: Mitogen's linear
strategy and tests/mitogen_site), with Mitogen mounted read-only from .venv at /opt/arena-lab; the
playbooks, ansible-core, the collections, boto3 and Python are the image's. That halves the CPU of a
platform run (docs/benchmarks.md); `executor=False` (and ARENA_MITOGEN=0 for every run) is plain
ansible-runner, exactly as AWX runs a job.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from arena_testlib import REPO_ROOT, kill_tree

# The image to run in: tests/ee/conftest.py builds it (scripts/ee.sh) and sets this, or `make ee-test` does.
IMAGE_VAR = "ARENA_EE_IMAGE"
PROJECT = "/runner/project"
LAB_SITE = "/opt/arena-lab"
# The emulator's variables (scripts/emulator.sh writes them to the lab's emulator.env).
EMULATOR_ENV = (
    "AWS_URL",
    "AWS_ENDPOINT_URL",
    "ARENA_EMULATOR_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)
BASE_ENV = {
    "ANSIBLE_CONFIG": f"{PROJECT}/ansible.cfg",
    "ANSIBLE_NOCOLOR": "1",
    "ANSIBLE_FORCE_COLOR": "0",
    "NO_COLOR": "1",
    "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost,::1",
    "PYTHONWARNINGS": "ignore::DeprecationWarning",
    # Lines as they come (the interrupted teardown watches for a task's banner).
    "PYTHONUNBUFFERED": "1",
}


def image() -> str:
    name = os.environ.get(IMAGE_VAR, "")
    assert name, f"{IMAGE_VAR} is not set: run through make ee-test (tests/ee/conftest.py builds the image)"
    return name


def executor_mounts_and_env() -> tuple[list[str], dict[str, str]]:
    """podman -v arguments and variables that give a run in the image the lab's executor."""
    if os.environ.get("ARENA_MITOGEN", "1") == "0":
        return [], {}
    site = Path(importlib.util.find_spec("ansible_mitogen").origin).parent.parent  # type: ignore[union-attr]
    mounts = []
    for package in ("mitogen", "ansible_mitogen"):
        mounts += ["-v", f"{site / package}:{LAB_SITE}/{package}:ro"]
    env = {
        "ANSIBLE_STRATEGY_PLUGINS": f"{LAB_SITE}/ansible_mitogen/plugins/strategy",
        "ANSIBLE_STRATEGY": "mitogen_linear",
        "PYTHONPATH": f"{PROJECT}/tests/mitogen_site:{LAB_SITE}",
    }
    return mounts, env


def command(
    argv: Sequence[str],
    *,
    executor: bool = True,
    runner: bool = True,
    podman_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> list[str]:
    """The podman command that runs ARGV in the image, from /runner/project.

    With RUNNER, `ansible-playbook -i INVENTORY PLAYBOOK ARGS...` becomes what AWX runs for a job:
    `ansible-runner run /runner -p PLAYBOOK --inventory /runner/project/INVENTORY --cmdline=ARGS`.
    Any other command (ansible-inventory, as an inventory update runs it), or any command without
    RUNNER, runs as it is. PODMAN_ARGS go to `podman run` (`-v` mounts, `--pidfile`)."""
    values = {n: os.environ[n] for n in EMULATOR_ENV if n in os.environ} | BASE_ENV | (env or {})
    cmd = ["podman", "run", "--rm", "--network", "host", "-v", f"{REPO_ROOT}:{PROJECT}:ro", "-w", PROJECT]
    cmd += list(podman_args)
    if executor:
        extra_mounts, extra_env = executor_mounts_and_env()
        cmd += extra_mounts
        values |= extra_env
    for key, value in values.items():
        cmd += ["-e", f"{key}={value}"]
    cmd.append(image())
    argv = list(argv)
    if runner and argv[:1] == ["ansible-playbook"]:
        inventory, playbook, extra = argv[2], argv[3], argv[4:]
        assert argv[1] == "-i", argv
        cmd += ["ansible-runner", "run", "/runner", "-p", playbook, "--inventory", f"{PROJECT}/{inventory}"]
        if extra:
            cmd.append(f"--cmdline={' '.join(extra)}")
    else:
        cmd += argv
    return cmd


def run(
    argv: Sequence[str],
    *,
    timeout: int,
    executor: bool = True,
    podman_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """ARGV in the image (command(), through ansible-runner) to its end; output captured
    (ansible-runner prints the playbook's output)."""
    cmd = command(argv, executor=executor, podman_args=podman_args, env=env)
    return subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False)


def kill(pidfile: Path) -> None:
    """Stop the run whose first process `podman run --pidfile PIDFILE` wrote, as the host's
    interrupted runs are stopped (arena_testlib.kill_tree: every process of it frozen first, so that
    no module finishes a request after the run is gone, then SIGKILL); no podman command in the way."""
    pid = pidfile.read_text().strip() if pidfile.exists() else ""
    assert pid.isdigit() and int(pid) > 0, f"no process in {pidfile} ({pid!r}): the container did not start"
    kill_tree(int(pid))
