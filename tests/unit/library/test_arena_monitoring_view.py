"""arena_monitoring_view against botocore's Stubber (the real API models): the requests it makes, the
dimension values it derives from the ARNs (app/<lb>/<id>, targetgroup/<tg>/<id>), a service that is not
built read as null, and a tier without its target group refused naming it (or left out in check mode).
DescribeTargetGroups: https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeTargetGroups.html
DescribeReplicationGroups: https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DescribeReplicationGroups.html
Against the emulator: tests/ee/test_ee_platform.py (the alarms made from it)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

ACCOUNT = "123456789012"
LB = f"arn:aws:elasticloadbalancing:eu-west-1:{ACCOUNT}:loadbalancer/app/arena-staging-public/50dc6c495c0c9188"
TG = f"arn:aws:elasticloadbalancing:eu-west-1:{ACCOUNT}:targetgroup/arena-staging-web/73e2d6bc24d8a067"
ARGS = {
    "name_prefix": "arena-staging",
    "tiers": ["web"],
    "require_tiers": True,
    "cache_replication_group": "arena-staging-cache",
    "distribution_comment": "arena-staging-static",
    "configuration_set": "arena-staging-mail",
    "tags": {"Project": "arena", "Environment": "staging"},
    "region": "eu-west-1",
}


def calls(*, target_groups: dict[str, Any] | None = None, cache_missing: bool = False) -> dict[str, list]:
    tgs = (
        target_groups
        if target_groups is not None
        else {"TargetGroups": [{"TargetGroupArn": TG, "LoadBalancerArns": [LB]}]}
    )
    group = {
        "AutoScalingGroupName": "arena-staging-web",
        "MinSize": 2,
        "MaxSize": 6,
        "DesiredCapacity": 2,
        "DefaultCooldown": 300,
        "AvailabilityZones": ["eu-west-1a"],
        "HealthCheckType": "ELB",
        "CreatedTime": "2026-12-01T00:00:00Z",
    }
    cache = (
        {"Error": {"Code": "ReplicationGroupNotFoundFault"}}
        if cache_missing
        else {
            "ReplicationGroups": [
                {
                    "ReplicationGroupId": "arena-staging-cache",
                    "MemberClusters": ["arena-staging-cache-002", "arena-staging-cache-001"],
                    "NodeGroups": [
                        {
                            "NodeGroupMembers": [
                                {"CacheClusterId": "arena-staging-cache-001", "CurrentRole": "primary"},
                                {"CacheClusterId": "arena-staging-cache-002", "CurrentRole": "replica"},
                            ]
                        }
                    ],
                }
            ]
        }
    )
    return {
        "sts": [("get_caller_identity", {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/ops"}, {})],
        "autoscaling": [
            (
                "describe_auto_scaling_groups",
                {"AutoScalingGroups": [group]},
                {"AutoScalingGroupNames": ["arena-staging-web"]},
            )
        ],
        "elbv2": [("describe_target_groups", tgs, {"Names": ["arena-staging-web"]})],
        "elasticache": [("describe_replication_groups", cache, {"ReplicationGroupId": "arena-staging-cache"})],
        "cloudfront": [
            (
                "list_distributions",
                {
                    "DistributionList": {
                        "Marker": "",
                        "MaxItems": 100,
                        "IsTruncated": False,
                        "Quantity": 0,
                        "Items": [],
                    }
                },
                {},
            )
        ],
        "sesv2": [
            (
                "get_configuration_set",
                {"ConfigurationSetName": "arena-staging-mail"},
                {"ConfigurationSetName": "arena-staging-mail"},
            )
        ],
        "ec2": [
            (
                "describe_nat_gateways",
                {"NatGateways": [{"NatGatewayId": "nat-0b"}, {"NatGatewayId": "nat-0a"}]},
                {
                    "Filters": [
                        {"Name": "tag:Environment", "Values": ["staging"]},
                        {"Name": "tag:Project", "Values": ["arena"]},
                        {"Name": "state", "Values": ["pending", "available"]},
                    ]
                },
            )
        ],
    }


@pytest.fixture
def view_of(mod: ModuleType, run_module: Any, stub_client: Any, queue_calls: Any) -> Any:
    """Run the module with `args` against stubbed clients answering `answers` (every one consumed)."""

    def run(args: dict[str, Any], answers: dict[str, list]) -> dict[str, Any]:
        clients = {}
        for service, queued in answers.items():
            client, stubber = stub_client(service)  # run_module wraps it with the module's retry decorator
            queue_calls(stubber, queued, None)
            clients[service] = client
        return run_module(mod, args, clients)

    return run


def test_the_view_of_a_built_platform(view_of: Any) -> None:
    result = view_of(ARGS, calls())
    assert not result.get("failed"), result.get("msg")
    view = result["view"]
    assert view["tiers"] == {
        "web": {
            "load_balancer": "app/arena-staging-public/50dc6c495c0c9188",
            "target_group": "targetgroup/arena-staging-web/73e2d6bc24d8a067",
            "group": "arena-staging-web",
        }
    }
    assert view["cache"] == {
        "replication_group": "arena-staging-cache",
        "nodes": ["arena-staging-cache-001", "arena-staging-cache-002"],
        "replicas": ["arena-staging-cache-002"],
    }
    assert (view["cdn"], view["email"], view["nat_gateways"]) == (
        None,
        {"configuration_set": "arena-staging-mail"},
        ["nat-0a", "nat-0b"],
    )
    assert (view["account"], view["partition"], result["changed"]) == (ACCOUNT, "aws", False)


def test_a_cache_not_built_is_null(view_of: Any) -> None:
    result = view_of(ARGS, calls(cache_missing=True))
    assert result["view"]["cache"] is None


@pytest.mark.parametrize("required", [True, False])
def test_a_tier_without_its_target_group(view_of: Any, required: bool) -> None:
    answers = calls(target_groups={"TargetGroups": []})
    if required:  # refused at the tier: nothing after it is read
        answers = {s: q if s in ("sts", "autoscaling", "elbv2") else [] for s, q in answers.items()}
    result = view_of({**ARGS, "require_tiers": required}, answers)
    if required:
        assert (
            result["failed"] and "tier web: no target group arena-staging-web behind a load balancer" in result["msg"]
        )
    else:
        assert not result.get("failed") and result["view"]["tiers"] == {}
