"""The platform suites' shared steps: running platform.yml and teardown.yml (to their end, or killed
at a task), reading their output, and listing what of environment `local` is left in the emulator.

Used by tests/ee/test_ee_platform.py (a platform's life, in the execution environment) and
test_platform_failures.py (creates killed part-way, torn down, on the host); the fixtures of both are
at the end of this file. Where ARENA_EE_IMAGE names an image (tests/ee/conftest.py sets it), the
playbooks run in it with ansible-runner (tests/arena_ee.py), else with the host's ansible-playbook.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import arena_ee
import boto3
import platform_fixtures
import pytest
from arena_testlib import LAB_INVENTORY, REPO_ROOT, base_env, kill_tree, reset_emulator, run

TIERS = platform_fixtures.TIERS
PREFIX = "arena-local"
TAGS = {"Project": "arena", "Environment": "local", "ManagedBy": "arena-infra"}
MINE = [{"Name": "tag:Project", "Values": ["arena"]}, {"Name": "tag:Environment", "Values": ["local"]}]
# Seconds per step, printed at the end of each suite (its cost, by playbook run; conftest.py).
TIMINGS: dict[str, float] = {}
# A full platform run takes about 3 minutes on a quiet 2-core machine; far longer when it is busy.
RUN_TIMEOUT = 1800
# The only task a no-op re-run may report as changed: the emulator drops OriginAccessControlId from
# CloudFront responses, so the distribution always looks different there (docs/platform-services.md);
# the module's idempotence against AWS's response shape is proven by
# tests/unit/library/test_arena_cloudfront.py::test_distribution_second_run_unchanged_when_aws_returns_the_oac.
EMULATOR_GAP_TASKS = ["platform_static : Distribution | Create or update the distribution"]


def timed(step: str, started: float) -> None:
    TIMINGS[step] = round(TIMINGS.get(step, 0) + time.monotonic() - started, 1)


def playbook(name: str, step: str, *extra: str) -> str:
    """Run a playbook to its end; it must succeed. Returns its output."""
    started = time.monotonic()
    cmd = ["ansible-playbook", "-i", LAB_INVENTORY, f"playbooks/{name}", *extra]
    result = arena_ee.run(cmd, timeout=RUN_TIMEOUT) if in_ee() else run(cmd, base_env(), timeout=RUN_TIMEOUT)
    timed(step, started)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    return result.stdout


def killed_at(name: str, banner: str, step: str) -> str:
    """Run a playbook and SIGKILL it (the run and every process under it, arena_testlib.kill_tree)
    when the banner of a task whose name contains `banner` appears. Fails if the run ends before
    that task. In the execution environment it is ansible-playbook in the image, not ansible-runner:
    runner relays a task's banner only once it has handled the task's events, by which time the
    task may be done (a late kill, seen under load); what is tested is the playbook's interruption."""
    started = time.monotonic()
    cmd = ["ansible-playbook", "-i", LAB_INVENTORY, f"playbooks/{name}"]
    pidfile = Path(tempfile.mkdtemp(prefix="arena-killed-")) / "pid" if in_ee() else None
    if pidfile:
        env, cmd = None, arena_ee.command(cmd, runner=False, podman_args=["--pidfile", str(pidfile)])
    else:
        env = base_env({"PYTHONUNBUFFERED": "1"})
    with subprocess.Popen(
        cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    ) as proc:
        assert proc.stdout is not None
        output = []
        for line in proc.stdout:
            output.append(line)
            if line.startswith("TASK [") and banner in line:
                if pidfile:
                    arena_ee.kill(pidfile)
                else:
                    kill_tree(proc.pid)
                break
        proc.wait(timeout=60)
    if pidfile:
        shutil.rmtree(pidfile.parent, ignore_errors=True)
    timed(step, started)
    # podman reports its container's SIGKILL as 128 + 9.
    killed = (128 + signal.SIGKILL) if pidfile else -signal.SIGKILL
    assert proc.returncode == killed, f"{name} ended before '{banner}':\n" + "".join(output)[-4000:]
    return "".join(output)


def in_ee() -> bool:
    return bool(os.environ.get(arena_ee.IMAGE_VAR))


def recap(stdout: str) -> dict[str, int]:
    match = re.search(r"^localhost\s+:\s+(.*)$", stdout, re.MULTILINE)
    assert match, stdout[-2000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}


def changed_tasks(stdout: str) -> list[str]:
    """Names of the tasks that reported a change (default callback output)."""
    names, current = [], ""
    for line in stdout.splitlines():
        task = re.match(r"TASK \[(.*)\] \*+", line)
        if task:
            current = task.group(1)
        elif line.startswith("changed:") and (not names or names[-1] != current):
            names.append(current)
    return names


def tags_of(resource: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", []) or []}


def assert_tagged(resource: dict[str, Any], what: str, tier: str | None = None) -> None:
    tags = tags_of(resource)
    for key, value in TAGS.items():
        assert tags.get(key) == value, f"{what}: tag {key} is {tags.get(key)!r}"
    if tier:
        assert tags.get("Tier") == tier, f"{what}: Tier is {tags.get('Tier')!r}"


def ours(resources: list[dict[str, Any]], key: str) -> list[str]:
    """The `key` names of the resources named with the environment's prefix."""
    return [r[key] for r in resources if r[key].startswith(PREFIX)]


def leftovers(aws: dict[str, Any]) -> dict[str, list[str]]:
    """Everything of environment `local` that costs money or would clash with the next create's
    names, by kind; kinds with nothing left are omitted. The emulator is this module's alone (reset
    at the start), so any Elastic IP or running instance in it is the platform's."""
    ec2, elbv2, iam, ssm = aws["ec2"], aws["elbv2"], aws["iam"], aws["ssm"]
    left: dict[str, list[str]] = {
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs(Filters=MINE)["Vpcs"]],
        "subnets": [s["SubnetId"] for s in ec2.describe_subnets(Filters=MINE)["Subnets"]],
        "security groups": [g["GroupName"] for g in ec2.describe_security_groups(Filters=MINE)["SecurityGroups"]],
        "route tables": [r["RouteTableId"] for r in ec2.describe_route_tables(Filters=MINE)["RouteTables"]],
        "internet gateways": [
            g["InternetGatewayId"] for g in ec2.describe_internet_gateways(Filters=MINE)["InternetGateways"]
        ],
        "nat gateways": [
            n["NatGatewayId"] for n in ec2.describe_nat_gateways(Filter=MINE)["NatGateways"] if n["State"] != "deleted"
        ],
        "vpc endpoints": [
            e["VpcEndpointId"]
            for e in ec2.describe_vpc_endpoints(Filters=MINE)["VpcEndpoints"]
            if e["State"].lower() != "deleted"
        ],
        "elastic ips": [a["AllocationId"] for a in ec2.describe_addresses()["Addresses"]],
        "instances": [
            i["InstanceId"]
            for r in ec2.describe_instances(
                Filters=[{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]
            )["Reservations"]
            for i in r["Instances"]
        ],
        "launch templates": ours(ec2.describe_launch_templates()["LaunchTemplates"], "LaunchTemplateName"),
        "auto scaling groups": ours(
            aws["autoscaling"].describe_auto_scaling_groups()["AutoScalingGroups"], "AutoScalingGroupName"
        ),
        "load balancers": ours(elbv2.describe_load_balancers()["LoadBalancers"], "LoadBalancerName"),
        "target groups": ours(elbv2.describe_target_groups()["TargetGroups"], "TargetGroupName"),
        "iam roles": [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(PREFIX)],
        "instance profiles": [
            p["InstanceProfileName"]
            for p in iam.list_instance_profiles()["InstanceProfiles"]
            if p["InstanceProfileName"].startswith(PREFIX)
        ],
        "iam users": [u["UserName"] for u in iam.list_users()["Users"] if u["UserName"].startswith(PREFIX)],
        "s3 buckets": [b["Name"] for b in aws["s3"].list_buckets()["Buckets"] if b["Name"].startswith(PREFIX)],
        "cloudfront distributions": [
            d["Id"] for d in aws["cloudfront"].list_distributions()["DistributionList"].get("Items", [])
        ],
        "cloudfront origin access controls": [
            o["Id"] for o in aws["cloudfront"].list_origin_access_controls()["OriginAccessControlList"].get("Items", [])
        ],
        "elasticache replication groups": [
            g["ReplicationGroupId"] for g in aws["elasticache"].describe_replication_groups()["ReplicationGroups"]
        ],
        "elasticache subnet groups": [
            g["CacheSubnetGroupName"]
            for g in aws["elasticache"].describe_cache_subnet_groups()["CacheSubnetGroups"]
            if g["CacheSubnetGroupName"].startswith(PREFIX)
        ],
        "ses identities": [i["IdentityName"] for i in aws["sesv2"].list_email_identities()["EmailIdentities"]],
        "ses configuration sets": aws["sesv2"].list_configuration_sets()["ConfigurationSets"],
        "sns topics": [t["TopicArn"] for t in aws["sns"].list_topics()["Topics"] if f":{PREFIX}-" in t["TopicArn"]],
        # What the platform published; the image parameters are the fixtures' (platform_fixtures.py).
        "ssm parameters": [
            p["Name"]
            for p in ssm.get_parameters_by_path(Path="/arena/local", Recursive=True)["Parameters"]
            if not p["Name"].startswith("/arena/local/images/")
        ],
    }
    return {kind: found for kind, found in left.items() if found}


def security_groups(aws: dict[str, Any], vpc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    groups = aws["ec2"].describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])
    return {g["GroupName"]: g for g in groups["SecurityGroups"]}


def groups_by_name(aws: dict[str, Any]) -> dict[str, dict[str, Any]]:
    names = [f"{PREFIX}-{t}" for t in TIERS]
    found = aws["autoscaling"].describe_auto_scaling_groups(AutoScalingGroupNames=names)["AutoScalingGroups"]
    return {g["AutoScalingGroupName"]: g for g in found}


# The fixtures of the platform suites (re-exported by tests/integration/platform/conftest.py and
# tests/ee/conftest.py): each module gets the emulator to itself, reset before and after it, with
# what the platform consumes from elsewhere seeded, and its own create.


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, Any]]:
    # A fresh emulator even when another suite ran before in the same one (each pytest-xdist worker
    # keeps its emulator for every file it runs): the services suite leaves emulator-gap leftovers
    # behind, and leftovers() takes every Elastic IP and instance in it for the platform's.
    reset_emulator()
    # What the platform consumes from elsewhere: tier image parameters and a certificate.
    platform_fixtures.seed()
    names = (
        "ec2",
        "elbv2",
        "autoscaling",
        "iam",
        "s3",
        "ssm",
        "acm",
        "elasticache",
        "cloudfront",
        "sesv2",
        "sns",
        "cloudwatch",
    )
    yield {n: boto3.client(n) for n in names}
    print(f"\nplatform timings (s): {json.dumps(TIMINGS)}")
    TIMINGS.clear()
    # Whatever the module left (a built platform, the seeds): the next file on this worker starts
    # from nothing (the dynamic inventory tests count the instances tagged Environment=local).
    reset_emulator()


@pytest.fixture(scope="module")
def created(aws: dict[str, Any]) -> str:
    """The module's create (test_platform_failures.py: after its teardowns, in the same emulator)."""
    return playbook("platform.yml", "create")


@pytest.fixture(scope="module")
def vpc(aws: dict[str, Any], created: str) -> dict[str, Any]:
    vpcs = aws["ec2"].describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{PREFIX}-vpc"]}])["Vpcs"]
    assert len(vpcs) == 1
    return vpcs[0]
