"""arena_warm_pool against botocore's Stubber (the real autoscaling and ec2 API models).

The emulator accepts PutWarmPool on a group with a mixed instances policy; AWS does not:
"This operation cannot be called on an Auto Scaling group that has a mixed instances policy or a
launch template or launch configuration that requests Spot Instances"
(https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutWarmPool.html,
https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html#warm-pools-limitations).
These tests pin the reads the module makes first and that no PutWarmPool is sent to such a group.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from botocore.stub import Stubber
from stub_answers import auto_scaling_groups

GROUP = "arena-production-web"
CONFIG = {"MinSize": 6, "MaxGroupPreparedCapacity": -1, "PoolState": "Stopped", "Status": "",
          "InstanceReusePolicy": {"ReuseOnScaleIn": True}}  # fmt: skip
TEMPLATE = {"LaunchTemplateId": "lt-0123456789abcdef0", "LaunchTemplateName": "arena-production-web"}
MIXED = {
    "LaunchTemplate": {
        "LaunchTemplateSpecification": {**TEMPLATE, "Version": "$Latest"},
        "Overrides": [{"InstanceType": "c6i.large"}, {"InstanceType": "c6a.large"}],
    },
    "InstancesDistribution": {"OnDemandBaseCapacity": 2, "OnDemandPercentageAboveBaseCapacity": 30},
}
HOOK = {
    "LifecycleHookName": "boot",
    "AutoScalingGroupName": GROUP,
    "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
}
API = "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutWarmPool.html"
LIMITS = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html#warm-pools-limitations"
HOOKS_DOC = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html"
REFUSAL = (
    "PutWarmPool 'cannot be called on an Auto Scaling group that has a mixed instances policy or a launch"
    " template or launch configuration that requests Spot Instances'"
)


@pytest.fixture
def stubbed(mod: ModuleType, stub_client: Any, retry_sleeps: list[float]) -> tuple[Any, Stubber, Any, Stubber]:
    return (*stub_client("autoscaling", mod.RETRY, strict=True), *stub_client("ec2", mod.RETRY, strict=True))


def params(**overrides: Any) -> dict[str, Any]:
    base = {
        "autoscaling_group_name": GROUP,
        "state": "present",
        "min_size": 6,
        "max_group_prepared_capacity": -1,
        "pool_state": "Stopped",
        "reuse_on_scale_in": True,
        "force_delete": False,
    }
    return base | overrides


def described(config: dict[str, Any] | None) -> dict[str, Any]:
    return {"WarmPoolConfiguration": config, "Instances": []} if config else {"Instances": []}


def expect_group(
    asg: Stubber, ec2: Stubber, shape: dict[str, Any], hooks: list[dict[str, Any]], market: str | None = None
) -> None:
    """The reads before any PutWarmPool: the group, its launch template version (no mixed instances
    policy), its lifecycle hooks."""
    asg.add_response(
        "describe_auto_scaling_groups", auto_scaling_groups(GROUP, **shape), {"AutoScalingGroupNames": [GROUP]}
    )
    if "LaunchTemplate" in shape:
        data = {"ImageId": "ami-0123456789abcdef0"} | (
            {"InstanceMarketOptions": {"MarketType": market}} if market else {}
        )
        ec2.add_response(
            "describe_launch_template_versions",
            {"LaunchTemplateVersions": [{**TEMPLATE, "VersionNumber": 3, "LaunchTemplateData": data}]},
            {
                "LaunchTemplateId": TEMPLATE["LaunchTemplateId"],
                "Versions": [shape["LaunchTemplate"].get("Version", "$Default")],
            },
        )
    asg.add_response("describe_lifecycle_hooks", {"LifecycleHooks": hooks}, {"AutoScalingGroupName": GROUP})


ON_DEMAND = {"LaunchTemplate": {**TEMPLATE, "Version": "$Latest"}}
PUT = {
    "AutoScalingGroupName": GROUP,
    "MaxGroupPreparedCapacity": -1,
    "MinSize": 6,
    "PoolState": "Stopped",
    "InstanceReusePolicy": {"ReuseOnScaleIn": True},
}


def test_creates_a_missing_pool(mod: ModuleType, stubbed: tuple[Any, Stubber, Any, Stubber]) -> None:
    client, asg, ec2, ec2_stub = stubbed
    asg.add_response("describe_warm_pool", described(None), {"AutoScalingGroupName": GROUP})
    expect_group(asg, ec2_stub, ON_DEMAND, [HOOK])
    asg.add_response("put_warm_pool", {}, PUT)
    result = mod.run(client, ec2, params(), check_mode=False)
    assert result == {
        "changed": True,
        "warm_pool": {
            "min_size": 6,
            "max_group_prepared_capacity": -1,
            "pool_state": "Stopped",
            "reuse_on_scale_in": True,
        },
        "constraints": {
            "autoscaling_group_name": GROUP,
            "mixed_instances_policy": False,
            "spot_request": None,
            "launch_lifecycle_hooks": ["boot"],
        },
    }


def test_same_pool_changes_nothing(mod: ModuleType, stubbed: tuple[Any, Stubber, Any, Stubber]) -> None:
    client, asg, ec2, ec2_stub = stubbed
    asg.add_response("describe_warm_pool", described(CONFIG), {"AutoScalingGroupName": GROUP})
    expect_group(asg, ec2_stub, ON_DEMAND, [HOOK])
    assert mod.run(client, ec2, params(), check_mode=False)["changed"] is False


def test_resize_is_a_put(mod: ModuleType, stubbed: tuple[Any, Stubber, Any, Stubber]) -> None:
    client, asg, ec2, ec2_stub = stubbed
    asg.add_response("describe_warm_pool", described(CONFIG), {"AutoScalingGroupName": GROUP})
    expect_group(asg, ec2_stub, ON_DEMAND, [HOOK])
    asg.add_response(
        "put_warm_pool", {}, PUT | {"MaxGroupPreparedCapacity": 20, "MinSize": 10, "PoolState": "Hibernated"}
    )
    result = mod.run(client, ec2, params(min_size=10, max_group_prepared_capacity=20, pool_state="Hibernated"), False)
    assert result["changed"] is True


def test_check_mode_does_not_write(mod: ModuleType, stubbed: tuple[Any, Stubber, Any, Stubber]) -> None:
    client, asg, ec2, ec2_stub = stubbed
    asg.add_response("describe_warm_pool", described(CONFIG), {"AutoScalingGroupName": GROUP})
    expect_group(asg, ec2_stub, ON_DEMAND, [HOOK])
    assert mod.run(client, ec2, params(min_size=8), check_mode=True)["changed"] is True


@pytest.mark.parametrize(
    ("config", "calls_delete"),
    [(CONFIG, True), (None, False), ({**CONFIG, "Status": "PendingDelete"}, False)],
)
def test_absent(mod: ModuleType, stubbed: tuple[Any, Stubber, Any, Stubber], config: Any, calls_delete: bool) -> None:
    """Deleting a pool is allowed on any group: no group read, no refusal."""
    client, asg, ec2, _ = stubbed
    asg.add_response("describe_warm_pool", described(config), {"AutoScalingGroupName": GROUP})
    if calls_delete:
        asg.add_response("delete_warm_pool", {}, {"AutoScalingGroupName": GROUP, "ForceDelete": False})
    result = mod.run(client, ec2, params(state="absent"), check_mode=False)
    assert result == {"changed": calls_delete, "warm_pool": {}}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"min_size": -1}, "min_size must be >= 0, got -1"),
        ({"max_group_prepared_capacity": -2}, "max_group_prepared_capacity must be >= 0 or -1 (unlimited), got -2"),
        ({"max_group_prepared_capacity": 4}, "max_group_prepared_capacity 4 is below min_size 6"),
    ],
)
def test_bad_sizes_are_rejected_before_any_call(
    mod: ModuleType, stubbed: tuple[Any, Stubber, Any, Stubber], overrides: dict[str, Any], message: str
) -> None:
    client, _, ec2, _ = stubbed  # nothing queued: any call would fail the test
    with pytest.raises(mod.WarmPoolError) as caught:
        mod.run(client, ec2, params(**overrides), check_mode=False)
    assert str(caught.value) == message


# --- what AWS refuses (issue 13, defect 3) --------------------------------------------------------


@pytest.mark.parametrize("check_mode", [False, True], ids=["apply", "check-mode"])
def test_mixed_instances_policy_is_refused_before_put_warm_pool(
    mod: ModuleType, stubbed: tuple[Any, Stubber, Any, Stubber], check_mode: bool
) -> None:
    """Every platform group has a mixed instances policy (library/arena_autoscaling_group.py); AWS refuses
    PutWarmPool on it (API_PutWarmPool.html, ec2-auto-scaling-warm-pools.html#warm-pools-limitations).
    No put_warm_pool is queued: a call would fail the test. No launch template read either: the policy
    alone decides."""
    client, asg, ec2, ec2_stub = stubbed
    asg.add_response("describe_warm_pool", described(None), {"AutoScalingGroupName": GROUP})
    expect_group(asg, ec2_stub, {"MixedInstancesPolicy": MIXED}, [HOOK])
    with pytest.raises(mod.WarmPoolError) as caught:
        mod.run(client, ec2, params(), check_mode=check_mode)
    assert str(caught.value) == f"{GROUP} has a mixed instances policy: {REFUSAL} ({API}; {LIMITS})"
    assert caught.value.constraints == {
        "autoscaling_group_name": GROUP,
        "mixed_instances_policy": True,
        "spot_request": None,
        "launch_lifecycle_hooks": ["boot"],
    }


def test_spot_launch_template_is_refused(mod: ModuleType, stubbed: tuple[Any, Stubber, Any, Stubber]) -> None:
    """A launch template that requests Spot Instances (InstanceMarketOptions.MarketType spot), read at the
    group's version ($Default when the group names none), is refused like a mixed instances policy."""
    client, asg, ec2, ec2_stub = stubbed
    asg.add_response("describe_warm_pool", described(None), {"AutoScalingGroupName": GROUP})
    expect_group(asg, ec2_stub, {"LaunchTemplate": TEMPLATE}, [HOOK], market="spot")
    with pytest.raises(mod.WarmPoolError) as caught:
        mod.run(client, ec2, params(), check_mode=False)
    assert str(caught.value) == (
        f"{GROUP} requests Spot Instances (launch template arena-production-web version 3:"
        f" InstanceMarketOptions.MarketType spot): {REFUSAL} ({API}; {LIMITS})"
    )


def test_spot_launch_configuration_is_refused(mod: ModuleType, stubbed: tuple[Any, Stubber, Any, Stubber]) -> None:
    client, asg, ec2, _ = stubbed
    asg.add_response("describe_warm_pool", described(None), {"AutoScalingGroupName": GROUP})
    asg.add_response(
        "describe_auto_scaling_groups",
        auto_scaling_groups(GROUP, LaunchConfigurationName="old-lc"),
        {"AutoScalingGroupNames": [GROUP]},
    )
    asg.add_response(
        "describe_launch_configurations",
        {
            "LaunchConfigurations": [
                {
                    "LaunchConfigurationName": "old-lc",
                    "ImageId": "ami-0123456789abcdef0",
                    "InstanceType": "c6i.large",
                    "SpotPrice": "0.05",
                    "CreatedTime": "2026-01-01T00:00:00Z",
                }
            ]
        },
        {"LaunchConfigurationNames": ["old-lc"]},
    )
    asg.add_response("describe_lifecycle_hooks", {"LifecycleHooks": [HOOK]}, {"AutoScalingGroupName": GROUP})
    with pytest.raises(mod.WarmPoolError) as caught:
        mod.run(client, ec2, params(), check_mode=False)
    assert str(caught.value) == (
        f"{GROUP} requests Spot Instances (launch configuration old-lc: SpotPrice 0.05): {REFUSAL} ({API}; {LIMITS})"
    )


def test_a_group_without_a_launch_lifecycle_hook_is_refused(
    mod: ModuleType, stubbed: tuple[Any, Stubber, Any, Stubber]
) -> None:
    """A warm pool needs a hook on autoscaling:EC2_INSTANCE_LAUNCHING: AWS stops instances entering the
    pool without waiting for user data (warm-pool-instance-lifecycle.html). A terminating hook does not count."""
    client, asg, ec2, ec2_stub = stubbed
    asg.add_response("describe_warm_pool", described(None), {"AutoScalingGroupName": GROUP})
    terminating = HOOK | {"LifecycleHookName": "drain", "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING"}
    expect_group(asg, ec2_stub, ON_DEMAND, [terminating])
    with pytest.raises(mod.WarmPoolError) as caught:
        mod.run(client, ec2, params(), check_mode=False)
    assert str(caught.value) == (
        f"{GROUP} has no lifecycle hook for autoscaling:EC2_INSTANCE_LAUNCHING: a warm pool needs one, AWS stops"
        f" instances as they enter the pool without waiting for their user data ({HOOKS_DOC})"
    )


def test_a_missing_group_is_refused(mod: ModuleType, stubbed: tuple[Any, Stubber, Any, Stubber]) -> None:
    client, asg, ec2, _ = stubbed
    asg.add_response("describe_warm_pool", described(None), {"AutoScalingGroupName": GROUP})
    asg.add_response("describe_auto_scaling_groups", {"AutoScalingGroups": []}, {"AutoScalingGroupNames": [GROUP]})
    with pytest.raises(mod.WarmPoolError, match=f"no Auto Scaling group named '{GROUP}'"):
        mod.run(client, ec2, params(), check_mode=False)


# --- retries --------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["Throttling", "ResourceContention"])
def test_throttling_and_contention_are_retried(
    mod: ModuleType, stubbed: tuple[Any, Stubber, Any, Stubber], code: str
) -> None:
    """The module's client retries with jittered backoff (sleeps patched out); RequireRetry has already
    checked that every call asked for the retry."""
    client, asg, ec2, ec2_stub = stubbed
    asg.add_response("describe_warm_pool", described(None), {"AutoScalingGroupName": GROUP})
    expect_group(asg, ec2_stub, ON_DEMAND, [HOOK])
    asg.add_client_error("put_warm_pool", service_error_code=code, http_status_code=400)
    asg.add_response("put_warm_pool", {}, PUT)
    assert mod.run(client, ec2, params(), check_mode=False)["changed"] is True
