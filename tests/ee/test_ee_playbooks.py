"""The real playbooks, run inside the built execution environment (make ee, scripts/ee.sh) with
ansible-runner, against the AWS emulator on 127.0.0.1 (host network): the image alone must be enough
to run them. One platform's life in one emulator, module-scoped, each step starting from the one
before:

1. the image holds no credentials and has requirements.yml's collections;
2. playbooks/aws_identity.yml;
3. playbooks/platform.yml: the create, then a re-run that changes nothing but the one documented
   emulator gap (tests/integration/platform/platform_lab.py EMULATOR_GAP_TASKS);
4. playbooks/event_scaling.yml with the local inventory's calendar and capacity model, at a fixed
   clock before its first event: the plan lands on the platform's groups;
5. playbooks/teardown.yml leaves nothing of environment `local` behind.

The repository is mounted read-only at /runner/project (ansible-runner's project dir); the emulator's
endpoint, region and dummy keys are given to each run (`podman run -e`), never built into the image.
Requests that are not for loopback go to a dead proxy, as in every other suite (arena_testlib.base_env).
Run: make ee-test   (seconds per step are printed at the end of the module)
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import platform_fixtures
import pytest
import yaml
from ansible.galaxy.dependency_resolution.versioning import meets_requirements
from arena_testlib import REPO_ROOT, reset_emulator, scheduled_actions
from platform_lab import EMULATOR_GAP_TASKS, changed_tasks, leftovers, recap

PROJECT = "/runner/project"
INVENTORY = f"{PROJECT}/inventories/local/containers.yml"
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
RUN_TIMEOUT = 1800
# Before the local calendar's first event (inventories/local/group_vars/all/events.yml).
EVENT_SCALING_NOW = "2027-01-01T00:00:00Z"
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def image() -> str:
    """The execution environment, built if it is not up to date (seconds when it is)."""
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "ee.sh")], capture_output=True, text=True, timeout=1200, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, Any]]:
    url = os.environ.get("AWS_URL", "")
    assert url.startswith("http://127.0.0.1:"), "run through scripts/with-emulator.sh (make ee-test)"
    reset_emulator()
    # What the platform consumes from elsewhere: tier image parameters and a certificate (as the
    # platform suite seeds them; not a playbook).
    platform_fixtures.seed()
    names = ("ec2", "elbv2", "autoscaling", "iam", "s3", "ssm", "acm", "elasticache", "cloudfront", "sesv2", "sns")
    yield {n: boto3.client(n) for n in names}
    print(f"\nee timings (s): {json.dumps(TIMINGS)}")
    reset_emulator()


def in_ee(image: str, step: str, playbook: str, *args: str, tmp: Path | None = None) -> tuple[int, str]:
    """Run `playbook` in the image with ansible-runner; returns (exit code, the playbook's output)."""
    env = {name: os.environ[name] for name in EMULATOR_ENV if name in os.environ}
    env |= {
        "ANSIBLE_CONFIG": f"{PROJECT}/ansible.cfg",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost,::1",
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    }
    cmd = ["podman", "run", "--rm", "--network", "host", "-v", f"{REPO_ROOT}:{PROJECT}:ro"]
    if tmp is not None:
        cmd += ["-v", f"{tmp}:/runner/vars:ro"]
    for name, value in env.items():
        cmd += ["-e", f"{name}={value}"]
    cmd += [image, "ansible-runner", "run", "/runner", "-p", playbook, "--inventory", INVENTORY]
    if args:
        cmd += ["--cmdline", " ".join(args)]
    started = time.monotonic()
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)
    TIMINGS[step] = round(time.monotonic() - started, 1)
    return result.returncode, result.stdout + result.stderr


def succeeded(image: str, step: str, playbook: str, *args: str, tmp: Path | None = None) -> str:
    rc, output = in_ee(image, step, playbook, *args, tmp=tmp)
    assert rc == 0, output[-6000:]
    assert recap(output)["failed"] == 0, output[-6000:]
    return output


# 1. The image.


def test_image_holds_no_credentials(image: str) -> None:
    env = subprocess.run(
        ["podman", "image", "inspect", "--format", "{{json .Config.Env}}", image],
        capture_output=True,
        text=True,
        check=True,
    )
    assert not [v for v in json.loads(env.stdout) if v.startswith("AWS_")]
    found = subprocess.run(
        [
            "podman", "run", "--rm", "--network", "none", image, "bash", "-c",
            "env | grep '^AWS_'; ls -d ~/.aws /runner/env 2>/dev/null;"
            " find / -xdev -name emulator.env 2>/dev/null; true",
        ],
        capture_output=True,
        text=True,
        check=True,
    )  # fmt: skip
    assert found.stdout == ""


def test_image_has_the_required_collections(image: str) -> None:
    galaxy_list = ["ansible-galaxy", "collection", "list", "--format", "json"]
    listed = subprocess.run(
        ["podman", "run", "--rm", "--network", "none", image, *galaxy_list],
        capture_output=True,
        text=True,
        check=True,
    )
    installed = {name: info["version"] for where in json.loads(listed.stdout).values() for name, info in where.items()}
    required = yaml.safe_load((REPO_ROOT / "requirements.yml").read_text())["collections"]
    # Every collection of requirements.yml, in its range (ansible-core's own ansible._* ones aside).
    assert {name for name in installed if not name.startswith("ansible._")} == {c["name"] for c in required}
    for collection in required:
        assert meets_requirements(installed[collection["name"]], collection["version"]), collection


# 2-5. The playbooks, in order.


def test_aws_identity(image: str, aws: dict[str, Any]) -> None:
    succeeded(image, "aws_identity", "playbooks/aws_identity.yml")


@pytest.fixture(scope="module")
def created(image: str, aws: dict[str, Any]) -> str:
    return succeeded(image, "platform create", "playbooks/platform.yml")


def test_platform_create(created: str, aws: dict[str, Any]) -> None:
    assert recap(created)["changed"] > 0
    groups = aws["autoscaling"].describe_auto_scaling_groups()["AutoScalingGroups"]
    assert sorted(g["AutoScalingGroupName"] for g in groups) == [f"arena-local-{t}" for t in ("admin", "api", "web")]


def test_platform_rerun_changes_nothing_but_the_documented_gap(image: str, created: str) -> None:
    output = succeeded(image, "platform re-run", "playbooks/platform.yml")
    assert changed_tasks(output) == EMULATOR_GAP_TASKS, output[-6000:]
    assert recap(output)["changed"] == len(EMULATOR_GAP_TASKS), output[-6000:]


def test_event_scaling_plans_the_local_calendar(image: str, created: str, tmp_path: Path) -> None:
    (tmp_path / "vars.json").write_text(json.dumps({"event_scaling_now": EVENT_SCALING_NOW}))
    tmp_path.chmod(0o755)
    playbook = "playbooks/event_scaling.yml"
    output = succeeded(image, "event_scaling", playbook, "-e @/runner/vars/vars.json", tmp=tmp_path)
    assert recap(output)["changed"] > 0
    endpoint = os.environ["AWS_URL"]
    for group in ("arena-local-web", "arena-local-api"):
        assert any(name.startswith("arena-event-") for name in scheduled_actions(endpoint, group)), group


def test_teardown_leaves_nothing(image: str, created: str, aws: dict[str, Any]) -> None:
    succeeded(image, "teardown", "playbooks/teardown.yml")
    assert leftovers(aws) == {}
