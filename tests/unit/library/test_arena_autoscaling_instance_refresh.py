"""arena_autoscaling_instance_refresh against botocore's Stubber (the real autoscaling API model).

The emulator has no instance refresh, so this is what covers playbooks/rollout.yml's API calls:
the Stubber checks every request against the real service model (parameter names and types).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from botocore.stub import Stubber
from stub_answers import auto_scaling_groups

SERVICE = "autoscaling"  # the client of the `stubbed` fixture (conftest.py)
GROUP = "arena-staging-web"
REFRESH_ID = "08b91cf7-8fa6-48af-b6a6-d227f40f1b9b"


def params(**overrides: Any) -> dict[str, Any]:
    base = {
        "name": GROUP,
        "min_healthy_percentage": 90,
        "instance_warmup": 120,
        "skip_matching": True,
        "auto_rollback": True,
    }
    return {**base, **overrides}


def group_response() -> dict[str, Any]:
    return auto_scaling_groups(GROUP, MaxSize=6)


def refresh(status: str) -> dict[str, Any]:
    return {"InstanceRefreshId": REFRESH_ID, "AutoScalingGroupName": GROUP, "Status": status}


EXPECTED_PREFS = {"MinHealthyPercentage": 90, "SkipMatching": True, "AutoRollback": True, "InstanceWarmup": 120}


def test_starts_rolling_refresh_with_the_preferences(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    stub.add_response("describe_auto_scaling_groups", group_response(), {"AutoScalingGroupNames": [GROUP]})
    stub.add_response(
        "describe_instance_refreshes",
        {"InstanceRefreshes": [refresh("Successful")]},
        {"AutoScalingGroupName": GROUP},
    )
    stub.add_response(
        "start_instance_refresh",
        {"InstanceRefreshId": REFRESH_ID},
        {"AutoScalingGroupName": GROUP, "Strategy": "Rolling", "Preferences": EXPECTED_PREFS},
    )
    result = mod.run(client, params(), check_mode=False)
    assert result == {
        "changed": True,
        "instance_refresh_id": REFRESH_ID,
        "status": "Pending",
        "preferences": EXPECTED_PREFS,
    }


@pytest.mark.parametrize("status", ["Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"])
def test_running_refresh_is_reported_not_duplicated(mod: ModuleType, stubbed: tuple[Any, Stubber], status: str) -> None:
    client, stub = stubbed
    stub.add_response("describe_auto_scaling_groups", group_response(), {"AutoScalingGroupNames": [GROUP]})
    stub.add_response(
        "describe_instance_refreshes", {"InstanceRefreshes": [refresh(status)]}, {"AutoScalingGroupName": GROUP}
    )
    result = mod.run(client, params(), check_mode=False)
    assert result["changed"] is False
    assert result["instance_refresh_id"] == REFRESH_ID
    assert result["status"] == status


def test_check_mode_starts_nothing(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    stub.add_response("describe_auto_scaling_groups", group_response(), {"AutoScalingGroupNames": [GROUP]})
    stub.add_response("describe_instance_refreshes", {"InstanceRefreshes": []}, {"AutoScalingGroupName": GROUP})
    result = mod.run(client, params(), check_mode=True)
    assert result == {"changed": True, "status": "WouldStart", "preferences": EXPECTED_PREFS}


def test_without_warmup_the_preference_is_left_out(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    prefs = {"MinHealthyPercentage": 100, "SkipMatching": False, "AutoRollback": False}
    stub.add_response("describe_auto_scaling_groups", group_response(), {"AutoScalingGroupNames": [GROUP]})
    stub.add_response("describe_instance_refreshes", {"InstanceRefreshes": []}, {"AutoScalingGroupName": GROUP})
    stub.add_response(
        "start_instance_refresh",
        {"InstanceRefreshId": REFRESH_ID},
        {"AutoScalingGroupName": GROUP, "Strategy": "Rolling", "Preferences": prefs},
    )
    p = params(min_healthy_percentage=100, instance_warmup=None, skip_matching=False, auto_rollback=False)
    assert mod.run(client, p, check_mode=False)["preferences"] == prefs


def test_missing_group_is_an_error(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    stub.add_response("describe_auto_scaling_groups", {"AutoScalingGroups": []}, {"AutoScalingGroupNames": [GROUP]})
    expected = f"^arena_autoscaling_instance_refresh: Auto Scaling group '{GROUP}' not found$"
    with pytest.raises(LookupError, match=expected):
        mod.run(client, params(), check_mode=False)


@pytest.mark.parametrize("bad", [-1, 101])
def test_min_healthy_outside_0_100_is_refused_before_any_call(
    mod: ModuleType, stubbed: tuple[Any, Stubber], bad: int
) -> None:
    client, _ = stubbed  # no response queued: any API call would fail the test
    with pytest.raises(ValueError, match=f"min_healthy_percentage {bad} is outside 0-100"):
        mod.run(client, params(min_healthy_percentage=bad), check_mode=False)


@pytest.mark.parametrize(
    "operation", ["describe_auto_scaling_groups", "describe_instance_refreshes", "start_instance_refresh"]
)
def test_throttled_call_is_retried_then_succeeds(mod: ModuleType, run_retried: Any, *, operation: str) -> None:
    """main() as Ansible runs it: a call answered with Throttling (Auto Scaling's rate limit) is
    retried once and the refresh starts."""
    calls = [
        ("describe_auto_scaling_groups", group_response(), {"AutoScalingGroupNames": [GROUP]}),
        (
            "describe_instance_refreshes",
            {"InstanceRefreshes": [refresh("Successful")]},
            {"AutoScalingGroupName": GROUP},
        ),
        (
            "start_instance_refresh",
            {"InstanceRefreshId": REFRESH_ID},
            {"AutoScalingGroupName": GROUP, "Strategy": "Rolling", "Preferences": EXPECTED_PREFS},
        ),
    ]
    result = run_retried(mod, params(), "autoscaling", calls, (operation, "Throttling"))
    assert (result["changed"], result["instance_refresh_id"]) == (True, REFRESH_ID)
