"""The dynamic inventories group emulator instances by tier, per environment."""

from __future__ import annotations

import json

import boto3
import pytest
from arena_testlib import base_env, run

TIERS = ("web", "api", "admin")


def launch(ec2, environment: str, tier: str) -> str:
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    tags = [
        {"Key": "Project", "Value": "arena"},
        {"Key": "Environment", "Value": environment},
        {"Key": "Tier", "Value": tier},
        {"Key": "ManagedBy", "Value": "arena-infra-tests"},
    ]
    reservation = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, TagSpecifications=[{"ResourceType": "instance", "Tags": tags}]
    )
    return reservation["Instances"][0]["InstanceId"]


@pytest.fixture(scope="module")
def fleet() -> dict[tuple[str, str], str]:
    ec2 = boto3.client("ec2")
    ids = {(env, tier): launch(ec2, env, tier) for env in ("local", "staging") for tier in TIERS}
    # An instance of another project must never show up.
    other = launch(ec2, "local", "web")
    ec2.create_tags(Resources=[other], Tags=[{"Key": "Project", "Value": "someone-else"}])
    ids[("other", "web")] = other
    yield ids
    ec2.terminate_instances(InstanceIds=list(ids.values()))


def plain(value):
    """ansible-inventory marks templated values as unsafe in its JSON output."""
    if isinstance(value, dict) and set(value) == {"__ansible_unsafe"}:
        return value["__ansible_unsafe"]
    return value


def inventory(source: str, env: dict[str, str] | None = None) -> dict:
    result = run(["ansible-inventory", "-i", source, "--list"], env or base_env())
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("environment", ["local", "staging"])
def test_instances_are_grouped_by_tier(fleet: dict[tuple[str, str], str], environment: str) -> None:
    inv = inventory(f"inventories/{environment}")
    for tier in TIERS:
        assert inv[f"tier_{tier}"]["hosts"] == [fleet[(environment, tier)]], tier
    aws_hosts = set(inv["aws_ec2"]["hosts"])
    assert aws_hosts == {fleet[(environment, tier)] for tier in TIERS}


def test_graph_shows_the_tier_groups(fleet: dict[tuple[str, str], str]) -> None:
    result = run(["ansible-inventory", "-i", "inventories/local", "--graph"], base_env())
    assert result.returncode == 0, result.stderr
    for tier in TIERS:
        assert f"@tier_{tier}:\n  |  |--{fleet[('local', tier)]}" in result.stdout
    assert "@lab:\n  |  |--arena-demo" in result.stdout


def test_staging_hosts_are_reached_through_ssm(fleet: dict[tuple[str, str], str]) -> None:
    inv = inventory("inventories/staging")
    host = fleet[("staging", "api")]
    hostvars = {k: plain(v) for k, v in inv["_meta"]["hostvars"][host].items()}
    assert hostvars["ansible_connection"] == "community.aws.aws_ssm"
    assert hostvars["ansible_aws_ssm_instance_id"] == host
    assert hostvars["arena_tier"] == "api"


def test_local_inventory_never_leaves_loopback_without_the_emulator() -> None:
    # No AWS_URL: the local aws_ec2 source points at a closed loopback port, parses to nothing,
    # and the container hosts are still there.
    result = run(["ansible-inventory", "-i", "inventories/local", "--list"], base_env(keep_aws=False))
    assert result.returncode == 0, result.stderr
    inv = json.loads(result.stdout)
    assert "aws_ec2" not in inv
    assert inv["lab"]["hosts"] == ["arena-demo"]
    assert "Unable to parse" in result.stderr and "aws_ec2.yml" in result.stderr
