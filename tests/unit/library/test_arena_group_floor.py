"""arena_group_floor against botocore's Stubber (the real autoscaling API model).

The immediate floor of a late or running event: UpdateAutoScalingGroup with MinSize only ("If you
specify a new value for MinSize without specifying a value for DesiredCapacity, and the new MinSize is
larger than the current size of the group, this sets the group's DesiredCapacity to the new MinSize
value", https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_UpdateAutoScalingGroup.html),
because a scheduled action cannot start in the past
(https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutScheduledUpdateGroupAction.html).
These pin the exact request, that nothing is sent when the floor is already there (or higher: it
never lowers), check mode, the refusal above MaxSize, and the retries.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from botocore.stub import Stubber
from stub_answers import auto_scaling_groups

SERVICE = "autoscaling"  # the client of the `stubbed` fixture (conftest.py)
STRICT_RETRY = True  # every call must pass aws_retry=True (RequireRetry)
GROUP = "arena-production-web"


TEMPLATE = {"LaunchTemplateId": "lt-0123456789abcdef0", "LaunchTemplateName": GROUP, "Version": "$Latest"}
# As DescribeAutoScalingGroups gives it (id and name), and as the update must send it (id only).
MIXED = {
    "LaunchTemplate": {
        "LaunchTemplateSpecification": TEMPLATE,
        "Overrides": [{"InstanceType": "c6i.large"}, {"InstanceType": "c6a.large"}],
    },
    "InstancesDistribution": {"OnDemandBaseCapacity": 1, "OnDemandPercentageAboveBaseCapacity": 30},
}
MIXED_SENT = {
    "LaunchTemplate": {
        "LaunchTemplateSpecification": {"LaunchTemplateId": "lt-0123456789abcdef0", "Version": "$Latest"},
        "Overrides": [{"InstanceType": "c6i.large"}, {"InstanceType": "c6a.large"}],
    },
    "InstancesDistribution": {"OnDemandBaseCapacity": 1, "OnDemandPercentageAboveBaseCapacity": 30},
}
UPDATE = {"AutoScalingGroupName": GROUP, "MinSize": 15, "MixedInstancesPolicy": MIXED_SENT}


def group(min_size: int, desired: int, max_size: int = 40, **launch: Any) -> dict[str, Any]:
    return auto_scaling_groups(
        GROUP,
        MinSize=min_size,
        MaxSize=max_size,
        DesiredCapacity=desired,
        **(launch or {"MixedInstancesPolicy": MIXED}),
    )


def params(**overrides: Any) -> dict[str, Any]:
    return {"autoscaling_group_name": GROUP, "min_size": 15, "reason": "event 'Final'"} | overrides


def describe(stub: Stubber, answer: dict[str, Any]) -> None:
    stub.add_response("describe_auto_scaling_groups", answer, {"AutoScalingGroupNames": [GROUP]})


def test_raises_min_size_only_and_warns(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    describe(stub, group(2, 3))
    stub.add_response("update_auto_scaling_group", {}, UPDATE)
    result, warning = mod.run(client, params(), check_mode=False, show_diff=True)
    assert result == {
        "changed": True,
        "autoscaling_group_name": GROUP,
        "min_size_before": 2,
        "min_size": 15,
        "desired_capacity_before": 3,
        "max_size": 40,
        "diff": {"before": {"min_size": 2}, "after": {"min_size": 15}},
    }
    assert warning == (
        "arena_group_floor: raised arena-production-web MinSize from 2 to 15 now for event 'Final' (desired"
        " capacity was 3: AWS raises it to the new MinSize when it is lower)"
    )


@pytest.mark.parametrize("current", [15, 20], ids=["at-the-floor", "above-it"])
def test_a_floor_already_there_or_higher_is_left_alone(
    mod: ModuleType, stubbed: tuple[Any, Stubber], current: int
) -> None:
    client, stub = stubbed
    describe(stub, group(current, 22))
    result, warning = mod.run(client, params(), check_mode=False)
    assert (result["changed"], result["min_size"], warning) == (False, current, None)


def test_a_launch_template_group_keeps_its_template_by_id(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    """The emulator drops a group's launch template (or mixed instances policy) on an update that leaves
    it out, so the update sends the group's own back; AWS takes an id or a name, not both."""
    client, stub = stubbed
    describe(stub, group(2, 2, LaunchTemplate=TEMPLATE))
    stub.add_response(
        "update_auto_scaling_group",
        {},
        {
            "AutoScalingGroupName": GROUP,
            "MinSize": 15,
            "LaunchTemplate": {"LaunchTemplateId": "lt-0123456789abcdef0", "Version": "$Latest"},
        },
    )
    result, _ = mod.run(client, params(), check_mode=False)
    assert result["changed"] is True


def test_check_mode_reads_only(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    describe(stub, group(2, 2))
    result, warning = mod.run(client, params(), check_mode=True)
    assert result["changed"] is True
    assert warning is not None and warning.startswith("arena_group_floor: would raise arena-production-web MinSize")


def test_a_floor_above_max_size_is_refused_before_any_change(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    describe(stub, group(2, 2, max_size=6))
    with pytest.raises(mod.FloorError) as refused:
        mod.run(client, params(), check_mode=False)
    assert str(refused.value) == (
        "arena-production-web: min_size 15 is above the group's MaxSize 6; AWS refuses a MinSize above MaxSize"
        " (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_UpdateAutoScalingGroup.html)"
    )


def test_a_missing_group_is_refused(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    describe(stub, {"AutoScalingGroups": []})
    with pytest.raises(mod.FloorError, match="no Auto Scaling group named 'arena-production-web'"):
        mod.run(client, params(), check_mode=False)


@pytest.mark.parametrize("code", ["Throttling", "ScalingActivityInProgress", "ResourceContention"])
def test_documented_errors_are_retried(mod: ModuleType, stubbed: tuple[Any, Stubber], code: str) -> None:
    client, stub = stubbed
    describe(stub, group(2, 2))
    update = UPDATE
    stub.add_client_error("update_auto_scaling_group", service_error_code=code, expected_params=update)
    stub.add_response("update_auto_scaling_group", {}, update)
    result, _ = mod.run(client, params(), check_mode=False)
    assert result["min_size"] == 15


def test_main_reports_the_warning(mod: ModuleType, run_module: Any, stub_client: Any) -> None:
    client, stub = stub_client("autoscaling")
    describe(stub, group(2, 2))
    stub.add_response("update_auto_scaling_group", {}, UPDATE)
    result = run_module(mod, params(region="eu-west-1"), {"autoscaling": client})
    assert result["changed"] is True
    # ansible-core hands warnings out as text or as a WarningSummary, depending on how it was loaded.
    shown = [w["event"]["msg"] if isinstance(w, dict) else w for w in result["warnings"]]
    assert shown == [
        "arena_group_floor: raised arena-production-web MinSize from 2 to 15 now for event 'Final' (desired"
        " capacity was 2: AWS raises it to the new MinSize when it is lower)"
    ]
