"""arena_autoscaling_group: planning functions, and the API calls against botocore's Stubber."""

from __future__ import annotations

from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from botocore.stub import ANY, Stubber
from hypothesis import given
from hypothesis import strategies as st

SERVICE = "autoscaling"  # the client of the `stubbed` fixture (conftest.py)
NAME = "arena-local-web"
TG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/arena-local-web/0123456789abcdef"


def params(**overrides: Any) -> dict[str, Any]:
    base = {
        "name": NAME,
        "state": "present",
        "launch_template": NAME,
        "launch_template_version": "$Latest",
        "subnet_ids": ["subnet-b", "subnet-a"],
        "min_size": 2,
        "max_size": 6,
        "desired_capacity": 2,
        "instance_types": ["t3.small", "t3a.small"],
        "on_demand_base_capacity": 1,
        "spot_percentage": 70,
        "spot_allocation_strategy": "price-capacity-optimized",
        "capacity_rebalance": True,
        "health_check_type": "ELB",
        "health_check_grace_period": 120,
        "default_instance_warmup": None,
        "target_group_arns": [TG],
        "metrics_collection": [],
        "tags": {"Tier": "web", "Project": "arena"},
    }
    return {**base, **overrides}


def existing(mod: ModuleType, p: dict[str, Any]) -> dict[str, Any]:
    """The group as the API describes it after creation from p."""
    return {
        "AutoScalingGroupName": NAME,
        "MixedInstancesPolicy": mod.desired_policy(p),
        "MinSize": p["min_size"],
        "MaxSize": p["max_size"],
        "DesiredCapacity": p["desired_capacity"],
        "VPCZoneIdentifier": ",".join(sorted(p["subnet_ids"])),
        "HealthCheckType": p["health_check_type"],
        "HealthCheckGracePeriod": p["health_check_grace_period"],
        "CapacityRebalance": p["capacity_rebalance"],
        "TargetGroupARNs": p["target_group_arns"],
        "Tags": [
            {"Key": k, "Value": v, "PropagateAtLaunch": True, "ResourceId": NAME, "ResourceType": "auto-scaling-group"}
            for k, v in p["tags"].items()
        ],
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"min_size": 5, "max_size": 2}, "arena_autoscaling_group: min_size 5 must be 0..max_size (2)"),
        ({"spot_percentage": 101}, "arena_autoscaling_group: spot_percentage 101 is outside 0-100"),
        ({"spot_percentage": -1}, "arena_autoscaling_group: spot_percentage -1 is outside 0-100"),
        ({"desired_capacity": 9}, "arena_autoscaling_group: desired_capacity 9 is outside min_size..max_size"),
        ({"instance_types": []}, "arena_autoscaling_group: instance_types required when state=present"),
        ({"on_demand_base_capacity": -2}, "arena_autoscaling_group: on_demand_base_capacity must be >= 0"),
    ],
)
def test_bad_input_is_refused(mod: ModuleType, overrides: dict[str, Any], message: str) -> None:
    assert mod.validate(params(**overrides)) == message


def test_good_input_passes(mod: ModuleType) -> None:
    assert mod.validate(params()) is None
    assert mod.validate({"state": "absent"}) is None


def test_spot_share_becomes_on_demand_share_above_base(mod: ModuleType) -> None:
    dist = mod.desired_policy(params(spot_percentage=70))["InstancesDistribution"]
    assert dist == {
        "OnDemandBaseCapacity": 1,
        "OnDemandPercentageAboveBaseCapacity": 30,
        "SpotAllocationStrategy": "price-capacity-optimized",
    }


def test_unchanged_group_needs_no_update(mod: ModuleType) -> None:
    p = params()
    assert mod.update_request(existing(mod, p), p) == {}
    assert mod.tag_changes(existing(mod, p), NAME, p["tags"]) == ([], [])


def test_any_update_resends_the_whole_mixed_instances_policy(mod: ModuleType) -> None:
    p = params()
    req = mod.update_request(existing(mod, p), params(max_size=8))
    assert req == {"MaxSize": 8, "MixedInstancesPolicy": mod.desired_policy(p)}


def test_instance_type_change_updates_the_policy(mod: ModuleType) -> None:
    p = params()
    new = params(instance_types=["m6i.large", "t3.small"])
    assert mod.update_request(existing(mod, p), new) == {"MixedInstancesPolicy": mod.desired_policy(new)}


def test_tags_are_sorted_and_extra_tags_removed(mod: ModuleType) -> None:
    group = existing(mod, params(tags={"Old": "x", "Tier": "api"}))
    upsert, delete = mod.tag_changes(group, NAME, {"Tier": "web", "Project": "arena"})
    assert [t["Key"] for t in upsert] == ["Project", "Tier"]
    assert [t["Key"] for t in delete] == ["Old"]


@given(
    min_size=st.integers(0, 20),
    span=st.integers(0, 20),
    desired=st.integers(0, 60),
)
def test_desired_capacity_is_only_clamped_never_reset(mod: ModuleType, min_size: int, span: int, desired: int) -> None:
    module = mod
    old = params()
    group = {**existing(module, old), "DesiredCapacity": desired}
    new = params(min_size=min_size, max_size=min_size + span, desired_capacity=None)
    req = module.update_request(group, new)
    final = req.get("DesiredCapacity", desired)
    assert min_size <= final <= min_size + span
    if min_size <= desired <= min_size + span:
        assert "DesiredCapacity" not in req


def fake_module(p: dict[str, Any], check_mode: bool = False) -> SimpleNamespace:
    return SimpleNamespace(params=p, check_mode=check_mode)


ANY_CREATE = {
    k: ANY
    for k in (
        "AutoScalingGroupName",
        "MixedInstancesPolicy",
        "MinSize",
        "MaxSize",
        "DesiredCapacity",
        "VPCZoneIdentifier",
        "HealthCheckType",
        "HealthCheckGracePeriod",
        "CapacityRebalance",
        "TargetGroupARNs",
        "Tags",
    )
}


def test_create_sends_the_full_group(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    p = params()
    stub.add_response(
        "create_auto_scaling_group",
        {},
        {
            "AutoScalingGroupName": NAME,
            "MixedInstancesPolicy": mod.desired_policy(p),
            "MinSize": 2,
            "MaxSize": 6,
            "DesiredCapacity": 2,
            "VPCZoneIdentifier": "subnet-a,subnet-b",
            "HealthCheckType": "ELB",
            "HealthCheckGracePeriod": 120,
            "CapacityRebalance": True,
            "TargetGroupARNs": [TG],
            "Tags": ANY,
        },
    )
    assert mod.ensure_present(fake_module(p), client, None) == ["CreateAutoScalingGroup"]


GROUP_METRICS = ["GroupInServiceInstances", "GroupMinSize"]


def test_a_new_group_collects_the_group_metrics_it_is_given(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    """GroupMinSize and GroupInServiceInstances exist only once collection is on (the capacity shortfall
    alarm compares them): https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-metrics.html"""
    client, stub = stubbed
    p = params(metrics_collection=list(reversed(GROUP_METRICS)))
    stub.add_response("create_auto_scaling_group", {}, ANY_CREATE)
    stub.add_response(
        "enable_metrics_collection",
        {},
        {"AutoScalingGroupName": NAME, "Metrics": GROUP_METRICS, "Granularity": "1Minute"},
    )
    actions = mod.ensure_present(fake_module(p), client, None)
    assert actions == ["CreateAutoScalingGroup", "EnableMetricsCollection " + ",".join(GROUP_METRICS)]


def test_metrics_already_collected_are_not_enabled_again(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed  # only the missing metric is enabled; an extra one stays on
    p = params(metrics_collection=GROUP_METRICS)
    group = existing(mod, p)
    group["EnabledMetrics"] = [
        {"Metric": "GroupMinSize", "Granularity": "1Minute"},
        {"Metric": "GroupTotalInstances", "Granularity": "1Minute"},
    ]
    stub.add_response(
        "enable_metrics_collection",
        {},
        {"AutoScalingGroupName": NAME, "Metrics": ["GroupInServiceInstances"], "Granularity": "1Minute"},
    )
    assert mod.ensure_present(fake_module(p), client, group) == ["EnableMetricsCollection GroupInServiceInstances"]
    group["EnabledMetrics"].append({"Metric": "GroupInServiceInstances", "Granularity": "1Minute"})
    assert mod.ensure_present(fake_module(p), client, group) == []


def test_update_detaches_old_target_groups(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    old_tg = TG.replace("0123456789abcdef", "fedcba9876543210")
    p = params()
    group = existing(mod, params(target_group_arns=[old_tg]))
    stub.add_response("attach_load_balancer_target_groups", {}, {"AutoScalingGroupName": NAME, "TargetGroupARNs": [TG]})
    stub.add_response(
        "detach_load_balancer_target_groups", {}, {"AutoScalingGroupName": NAME, "TargetGroupARNs": [old_tg]}
    )
    actions = mod.ensure_present(fake_module(p), client, group)
    assert actions == ["AttachLoadBalancerTargetGroups", "DetachLoadBalancerTargetGroups"]


def test_check_mode_calls_nothing(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, _ = stubbed  # nothing queued: any call would fail
    p = params()
    assert mod.ensure_present(fake_module(p, check_mode=True), client, None) == ["CreateAutoScalingGroup"]
    group = existing(mod, params(max_size=3))
    assert mod.ensure_present(fake_module(p, check_mode=True), client, group) == [
        "UpdateAutoScalingGroup MaxSize,MixedInstancesPolicy"
    ]


def described(mod: ModuleType, p: dict[str, Any]) -> dict[str, Any]:
    """DescribeAutoScalingGroups' answer for the group made from p (with the fields the model requires)."""
    group = existing(mod, p) | {
        "DefaultCooldown": 300,
        "AvailabilityZones": ["eu-west-1a", "eu-west-1b"],
        "CreatedTime": "2026-01-01T00:00:00Z",
    }
    return {"AutoScalingGroups": [group]}


DESCRIBE = {"AutoScalingGroupNames": [NAME]}


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        ("describe_auto_scaling_groups", "Throttling"),
        ("delete_auto_scaling_group", "Throttling"),
        # "The operation can't be performed because there are scaling activities in progress":
        # https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DeleteAutoScalingGroup.html
        ("delete_auto_scaling_group", "ScalingActivityInProgress"),
    ],
)
def test_delete_retries_throttling_and_scaling_activity(
    mod: ModuleType, run_retried: Any, *, operation: str, code: str
) -> None:
    calls = [
        ("describe_auto_scaling_groups", described(mod, params()), DESCRIBE),
        ("delete_auto_scaling_group", {}, {"AutoScalingGroupName": NAME, "ForceDelete": True}),
    ]
    result = run_retried(mod, {"name": NAME, "state": "absent"}, "autoscaling", calls, (operation, code))
    assert result["actions"] == ["DeleteAutoScalingGroup"]


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        ("update_auto_scaling_group", "Throttling"),
        # https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_UpdateAutoScalingGroup.html
        ("update_auto_scaling_group", "ScalingActivityInProgress"),
        ("create_or_update_tags", "Throttling"),
    ],
)
def test_update_retries_throttling_and_scaling_activity(
    mod: ModuleType, run_retried: Any, *, operation: str, code: str
) -> None:
    wanted = params(max_size=8, tags={"Tier": "web", "Project": "arena", "Environment": "local"})
    before, after = described(mod, params()), described(mod, wanted)
    update = {"AutoScalingGroupName": NAME, "MaxSize": 8, "MixedInstancesPolicy": mod.desired_policy(wanted)}
    tag = {"Key": "Environment", "Value": "local", "PropagateAtLaunch": True}
    calls = [
        ("describe_auto_scaling_groups", before, DESCRIBE),
        ("update_auto_scaling_group", {}, update),
        ("create_or_update_tags", {}, {"Tags": [{"ResourceId": NAME, "ResourceType": "auto-scaling-group", **tag}]}),
        ("describe_auto_scaling_groups", after, DESCRIBE),
    ]
    result = run_retried(mod, wanted, "autoscaling", calls, (operation, code))
    assert result["actions"] == ["UpdateAutoScalingGroup MaxSize,MixedInstancesPolicy", "CreateOrUpdateTags"]


LT_ANSWER = {
    "LaunchTemplates": [
        {
            "LaunchTemplateId": "lt-0123456789abcdef0",
            "LaunchTemplateName": NAME,
            "DefaultVersionNumber": 7,
            "LatestVersionNumber": 9,
        }
    ]
}


@pytest.mark.parametrize(("wanted", "number"), [("$Default", "7"), ("$Latest", "9")])
def test_a_new_pinned_group_gets_the_version_number_now(
    mod: ModuleType, stub_client: Any, wanted: str, number: str
) -> None:
    """Pinned: AWS rolls back an instance refresh only between numbered versions (RefreshPreferences,
    https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RefreshPreferences.html)."""
    ec2, stub = stub_client("ec2", mod.RETRY, strict=True)
    stub.add_response("describe_launch_templates", LT_ANSWER, {"LaunchTemplateNames": [NAME]})
    assert mod.pinned_version(None, params(launch_template_version=wanted), ec2, check_mode=False) == number


def test_an_existing_pinned_group_keeps_its_version(mod: ModuleType, stub_client: Any) -> None:
    """A release moved it (instance refresh); a platform run does not move it back or forward."""
    ec2, _ = stub_client("ec2", mod.RETRY, strict=True)  # nothing queued: no call
    group = existing(mod, params(launch_template_version="4"))
    assert mod.pinned_version(group, params(launch_template_version="$Default"), ec2, check_mode=False) == "4"


def test_a_group_on_a_moving_version_is_pinned(mod: ModuleType, stub_client: Any) -> None:
    ec2, stub = stub_client("ec2", mod.RETRY, strict=True)
    stub.add_response("describe_launch_templates", LT_ANSWER, {"LaunchTemplateNames": [NAME]})
    group = existing(mod, params(launch_template_version="$Latest"))
    assert mod.pinned_version(group, params(launch_template_version="$Default"), ec2, check_mode=False) == "7"
    assert mod.update_request(group, params(launch_template_version="7"))["MixedInstancesPolicy"]["LaunchTemplate"][
        "LaunchTemplateSpecification"
    ] == {"LaunchTemplateName": NAME, "Version": "7"}


def test_check_mode_before_the_template_exists_plans_its_first_version(mod: ModuleType, stub_client: Any) -> None:
    ec2, stub = stub_client("ec2", mod.RETRY, strict=True)
    stub.add_client_error(
        "describe_launch_templates",
        "InvalidLaunchTemplateName.NotFoundException",
        expected_params={"LaunchTemplateNames": [NAME]},
    )
    assert mod.pinned_version(None, params(launch_template_version="$Default"), ec2, check_mode=True) == "1"
