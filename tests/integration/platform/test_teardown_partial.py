"""playbooks/teardown.yml from partial states (issue 14): whatever a failed create left, teardown
removes everything billable or name-clashing, a teardown that was itself interrupted is finished by
the next one, a teardown of an empty environment succeeds and changes nothing, and a create after a
teardown succeeds in the same emulator.

The create fails for real, without hooks in the product: ansible-playbook is killed (SIGKILL, the
whole process group, as a crash or a cancelled CI job would) the moment a given task's banner
appears, so everything before that task is made and nothing after it. The steps share one emulator
and run in file order; each step starts from what the one before left.
Run: scripts/with-emulator.sh scripts/pytest.sh tests/integration/platform/test_teardown_partial.py
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from typing import Any

import boto3
import platform_fixtures
import pytest
from arena_testlib import REPO_ROOT, base_env, reset_emulator, run

PREFIX = "arena-local"
MINE = [{"Name": "tag:Project", "Values": ["arena"]}, {"Name": "tag:Environment", "Values": ["local"]}]
TIMINGS: dict[str, float] = {}


def timed(step: str, started: float) -> None:
    TIMINGS[step] = round(TIMINGS.get(step, 0) + time.monotonic() - started, 1)


def playbook(name: str, step: str, *extra: str) -> str:
    started = time.monotonic()
    result = run(["ansible-playbook", "-i", "inventories/local", f"playbooks/{name}", *extra], base_env(), timeout=900)
    timed(step, started)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    return result.stdout


def killed_at(name: str, banner: str, step: str) -> str:
    """Run a playbook and SIGKILL it (its whole process group) when the banner of a task whose
    name contains `banner` appears. Fails if the run ends before that task."""
    started = time.monotonic()
    env = base_env({"PYTHONUNBUFFERED": "1"})
    cmd = ["ansible-playbook", "-i", "inventories/local", f"playbooks/{name}"]
    with subprocess.Popen(
        cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    ) as proc:
        assert proc.stdout is not None
        output = []
        for line in proc.stdout:
            output.append(line)
            if line.startswith("TASK [") and banner in line:
                os.killpg(proc.pid, signal.SIGKILL)
                break
        proc.wait(timeout=60)
    timed(step, started)
    assert proc.returncode == -signal.SIGKILL, f"{name} ended before '{banner}':\n" + "".join(output)[-4000:]
    return "".join(output)


def recap(stdout: str) -> dict[str, int]:
    match = re.search(r"^localhost\s+:\s+(.*)$", stdout, re.MULTILINE)
    assert match, stdout[-2000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}


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
        "launch templates": [
            t["LaunchTemplateName"]
            for t in ec2.describe_launch_templates()["LaunchTemplates"]
            if t["LaunchTemplateName"].startswith(PREFIX)
        ],
        "auto scaling groups": [
            g["AutoScalingGroupName"]
            for g in aws["autoscaling"].describe_auto_scaling_groups()["AutoScalingGroups"]
            if g["AutoScalingGroupName"].startswith(PREFIX)
        ],
        "load balancers": [
            lb["LoadBalancerName"]
            for lb in elbv2.describe_load_balancers()["LoadBalancers"]
            if lb["LoadBalancerName"].startswith(PREFIX)
        ],
        "target groups": [
            tg["TargetGroupName"]
            for tg in elbv2.describe_target_groups()["TargetGroups"]
            if tg["TargetGroupName"].startswith(PREFIX)
        ],
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


@pytest.fixture(scope="module")
def aws() -> dict[str, Any]:
    reset_emulator()
    platform_fixtures.seed()
    names = ("ec2", "elbv2", "autoscaling", "iam", "s3", "ssm", "elasticache", "cloudfront", "sesv2", "sns")
    return {n: boto3.client(n) for n in names}


def test_teardown_of_an_empty_environment_succeeds_and_changes_nothing(aws: dict[str, Any]) -> None:
    stdout = playbook("teardown.yml", "teardown empty")
    assert recap(stdout)["changed"] == 0, stdout[-5000:]
    assert leftovers(aws) == {}


# Each create is killed at the banner of the first task it must not run; the teardown after it must
# leave nothing. Chosen so every role's absent path meets its resources half made: the network with
# its NAT gateway and address but no routes; the core up to the launch templates (load balancers,
# target groups, log bucket, instance roles, SSM transfer bucket); the services with the cache and
# static content made and the relay's IAM user made without its policy or key.
CREATE_FAILURES = {
    "network: NAT gateway and its address, no routes": "platform_network : Routes | Route the public subnets",
    "core: up to the instance roles, no launch templates": "platform_launch_templates : Templates | Launch template",
    "services: cache and static made, relay user without policy": "platform_email : Smtp | Allow the user to send",
}


@pytest.mark.parametrize("banner", CREATE_FAILURES.values(), ids=CREATE_FAILURES.keys())
def test_teardown_after_a_failed_create_leaves_nothing(aws: dict[str, Any], banner: str) -> None:
    killed_at("platform.yml", banner, "create killed")
    made = leftovers(aws)
    assert made, "the killed create made nothing: the test would prove nothing"
    playbook("teardown.yml", "teardown")
    assert leftovers(aws) == {}, f"left behind (the create had made {sorted(made)})"


def test_an_interrupted_teardown_is_finished_by_the_next(aws: dict[str, Any]) -> None:
    """Killed after the NAT gateway is deleted and before its address is released: the address is
    no longer attached to anything the network role finds by tags, only the deleted gateway names it."""
    killed_at("platform.yml", "platform_security_groups : Groups", "create killed")
    addresses = aws["ec2"].describe_addresses()["Addresses"]
    assert addresses
    killed_at("teardown.yml", "platform_network : Nat | Find the addresses", "teardown killed")
    assert aws["ec2"].describe_addresses()["Addresses"] == addresses, "the address was released before the kill"
    playbook("teardown.yml", "teardown")
    assert leftovers(aws) == {}


# Every step above created and tore down in this emulator (scripts/lab/emulator_server.py deletes cache
# subnet groups, replication groups and SES event destinations as AWS does: plain moto kept them and
# the next create failed on them).
def test_create_after_teardown_succeeds_in_the_same_emulator(aws: dict[str, Any]) -> None:
    """Every step above created and tore down in this emulator: nothing left clashes with a create."""
    print(f"\nteardown-partial timings (s): {json.dumps(TIMINGS)}")
    stdout = playbook("platform.yml", "create")
    assert recap(stdout)["failed"] == 0
    assert {"vpcs", "load balancers", "auto scaling groups", "s3 buckets", "ses identities"} <= set(leftovers(aws))
