"""arena_scheduled_actions against botocore's Stubber (the real autoscaling API model).

Every call goes through the module's own retrying client and must pass aws_retry=True (RequireRetry).
AWS allows 125 scheduled actions per Auto Scaling group and does not raise that quota
(https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-quotas.html); the emulator
accepts more, so the count is pinned here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest
from botocore.stub import Stubber

SERVICE = "autoscaling"  # the client of the `stubbed` fixture (conftest.py)
STRICT_RETRY = True  # every call must pass aws_retry=True (RequireRetry)
GROUP = "arena-production-web"
PREFIX = "arena-event-web-"
NOW = "2027-01-01T00:00:00Z"
DESCRIBE = {"AutoScalingGroupName": GROUP, "MaxRecords": 100}  # one page of DescribeScheduledActions


def action(stamp: str, size: int, desired: bool = True, **extra: Any) -> dict[str, Any]:
    """A wanted action as the filter writes it: a step-up has desired_capacity None."""
    return {
        "name": f"{PREFIX}{stamp}",
        "start_time": f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:00Z",
        "min_size": size,
        "max_size": 40,
        "desired_capacity": size if desired else None,
        **extra,
    }


def api(stamp: str, size: int, desired: bool = True) -> dict[str, Any]:
    start = datetime.strptime(stamp, "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
    shape = {"ScheduledActionName": f"{PREFIX}{stamp}", "StartTime": start, "MinSize": size, "MaxSize": 40}
    return shape | ({"DesiredCapacity": size} if desired else {})


def existing(*actions: dict[str, Any]) -> dict[str, Any]:
    return {
        "ScheduledUpdateGroupActions": [
            {
                "AutoScalingGroupName": GROUP,
                "ScheduledActionARN": f"arn:aws:autoscaling:x:{a['ScheduledActionName']}",
                **a,
            }
            for a in actions
        ]
    }


def params(actions: list[dict[str, Any]]) -> dict[str, Any]:
    return {"autoscaling_group_name": GROUP, "name_prefix": PREFIX, "actions": actions, "now": NOW}


def expect_put(stubber: Stubber, actions: list[dict[str, Any]]) -> None:
    """The module's next call: one accepted batch put of exactly `actions` (API shape) on GROUP."""
    stubber.add_response(
        "batch_put_scheduled_update_group_action",
        {"FailedScheduledUpdateGroupActions": []},
        {"AutoScalingGroupName": GROUP, "ScheduledUpdateGroupActions": actions},
    )


def expect_delete(stubber: Stubber, names: list[str]) -> None:
    """The module's next call: one accepted batch delete of exactly `names` on GROUP."""
    stubber.add_response(
        "batch_delete_scheduled_action",
        {"FailedScheduledActions": []},
        {"AutoScalingGroupName": GROUP, "ScheduledActionNames": names},
    )


def counts(current: int, not_managed: int, after: int) -> dict[str, Any]:
    """The module's constraints: AWS's per-group quota and the counts checked against it."""
    return {
        "autoscaling_group_name": GROUP,
        "name_prefix": PREFIX,
        "quota": 125,
        "current": current,
        "not_managed": not_managed,
        "after": after,
    }


def test_creates_missing_actions(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_scheduled_actions", existing(), DESCRIBE)
    expect_put(stubber, [api("20270112T1920Z", 15), api("20270112T2215Z", 2)])
    wanted = [action("20270112T1920Z", 15, tier="web", events=["G"], kind="event"), action("20270112T2215Z", 2)]
    result = mod.run(client, params(wanted), check_mode=False)
    assert result == {
        "changed": True,
        "created": [f"{PREFIX}20270112T1920Z", f"{PREFIX}20270112T2215Z"],
        "updated": [],
        "deleted": [],
        "skipped_past": [],
        "constraints": counts(current=0, not_managed=0, after=2),
    }


def test_same_actions_change_nothing(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    other = {"ScheduledActionName": "nightly-scale-in", "Recurrence": "0 3 * * *", "MinSize": 2}
    stubber.add_response("describe_scheduled_actions", existing(api("20270112T1920Z", 15), other), DESCRIBE)
    result = mod.run(client, params([action("20270112T1920Z", 15)]), check_mode=False)
    assert result["changed"] is False
    # actions outside the prefix (nightly-scale-in) are not deleted


def test_changed_size_is_put_again_and_removed_event_deleted(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    """The action no longer planned is deleted before the put (the Stubber enforces the order)."""
    client, stubber = stubbed
    stubber.add_response(
        "describe_scheduled_actions",
        existing(api("20270112T1920Z", 12), api("20270116T1635Z", 10)),
        DESCRIBE,
    )
    expect_delete(stubber, [f"{PREFIX}20270116T1635Z"])
    expect_put(stubber, [api("20270112T1920Z", 15)])
    result = mod.run(client, params([action("20270112T1920Z", 15)]), check_mode=False)
    assert (result["created"], result["updated"], result["deleted"]) == (
        [],
        [f"{PREFIX}20270112T1920Z"],
        [f"{PREFIX}20270116T1635Z"],
    )


def test_check_mode_reports_without_writing(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_scheduled_actions", existing(api("20270116T1635Z", 10)), DESCRIBE)
    result = mod.run(client, params([action("20270112T1920Z", 15)]), check_mode=True)
    assert (result["changed"], result["created"], result["deleted"]) == (
        True,
        [f"{PREFIX}20270112T1920Z"],
        [f"{PREFIX}20270116T1635Z"],
    )


def test_past_actions_are_skipped_and_existing_past_ones_kept(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_scheduled_actions", existing(api("20261201T1000Z", 4)), DESCRIBE)
    result = mod.run(client, params([action("20261130T2000Z", 9)]), check_mode=False)
    assert result == {
        "changed": False,
        "created": [],
        "updated": [],
        "deleted": [],
        "skipped_past": [f"{PREFIX}20261130T2000Z"],
        "constraints": counts(current=1, not_managed=0, after=1),  # the past action still counts
    }


def test_more_than_fifty_actions_go_in_batches(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stamps = [f"202702{day:02d}T{hour:02d}00Z" for day in range(1, 27) for hour in (10, 20)][:51]
    stubber.add_response("describe_scheduled_actions", existing(), DESCRIBE)
    for chunk in (stamps[:50], stamps[50:]):
        expect_put(stubber, [api(s, 5) for s in chunk])
    result = mod.run(client, params([action(s, 5) for s in stamps]), check_mode=False)
    assert len(result["created"]) == 51


def test_refused_put_is_an_error(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_scheduled_actions", existing(), DESCRIBE)
    failure = {"ScheduledActionName": f"{PREFIX}20270112T1920Z", "ErrorCode": "AlreadyExists", "ErrorMessage": "x"}
    stubber.add_response(
        "batch_put_scheduled_update_group_action",
        {"FailedScheduledUpdateGroupActions": [failure]},
        {"AutoScalingGroupName": GROUP, "ScheduledUpdateGroupActions": [api("20270112T1920Z", 15)]},
    )
    with pytest.raises(mod.ActionError) as caught:
        mod.run(client, params([action("20270112T1920Z", 15)]), check_mode=False)
    assert str(caught.value) == f"AWS refused scheduled actions on {GROUP}: [{failure}]"


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (
            [{**action("20270112T1920Z", 15), "name": "other-1"}],
            f"action 'other-1' does not start with name_prefix '{PREFIX}'",
        ),
        ([action("20270112T1920Z", 15)] * 2, f"action '{PREFIX}20270112T1920Z' is listed twice"),
        (
            [{**action("20270112T1920Z", 15), "min_size": 20}],
            f"action '{PREFIX}20270112T1920Z': sizes must satisfy 0 <= min_size <= desired_capacity <= max_size,"
            " got 20/15/40",
        ),
        (
            [{**action("20270112T1920Z", 15), "start_time": "2027-01-12 19:20"}],
            f"action '{PREFIX}20270112T1920Z': start_time '2027-01-12 19:20' has no UTC offset"
            " (write it like 2027-01-12T19:20:00Z)",
        ),
        (
            [{**action("20270112T1920Z", 15), "start_time": "tomorrow"}],
            f"action '{PREFIX}20270112T1920Z': start_time 'tomorrow' is not an ISO 8601 time",
        ),
    ],
)
def test_bad_actions_are_rejected_before_any_call(
    mod: ModuleType, stubbed: tuple[Any, Stubber], actions: list[dict[str, Any]], message: str
) -> None:
    client, _ = stubbed  # no response queued: any API call would fail the test
    with pytest.raises(mod.ActionError) as caught:
        mod.run(client, params(actions), check_mode=False)
    assert str(caught.value) == message


def test_empty_prefix_is_refused(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, _ = stubbed
    with pytest.raises(mod.ActionError, match="name_prefix must not be empty"):
        mod.run(client, {**params([]), "name_prefix": ""}, check_mode=False)


# --- step-ups without a desired capacity ---------------------------------------------------------


def test_step_up_is_created_without_desired_capacity(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_scheduled_actions", existing(), DESCRIBE)
    # the step-up carries MinSize and MaxSize only; the return to the baseline its DesiredCapacity
    expect_put(stubber, [api("20270112T1920Z", 15, desired=False), api("20270112T2215Z", 2)])
    wanted = [action("20270112T1920Z", 15, desired=False), action("20270112T2215Z", 2)]
    result = mod.run(client, params(wanted), check_mode=False)
    assert (result["changed"], result["created"]) == (True, [f"{PREFIX}20270112T1920Z", f"{PREFIX}20270112T2215Z"])


@pytest.mark.parametrize("missing", [None, "absent"], ids=["null", "key-left-out"])
def test_step_up_without_desired_capacity_is_idempotent(
    mod: ModuleType, stubbed: tuple[Any, Stubber], missing: str | None
) -> None:
    client, stubber = stubbed
    stubber.add_response(
        "describe_scheduled_actions",
        existing(api("20270112T1920Z", 15, desired=False), api("20270112T2215Z", 2)),
        DESCRIBE,
    )
    step_up = action("20270112T1920Z", 15, desired=False)
    if missing == "absent":
        del step_up["desired_capacity"]
    result = mod.run(client, params([step_up, action("20270112T2215Z", 2)]), check_mode=False)
    assert {key: value for key, value in result.items() if key != "constraints"} == {
        "changed": False,
        "created": [],
        "updated": [],
        "deleted": [],
        "skipped_past": [],
    }


def test_existing_desired_capacity_is_removed_by_delete_then_put(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    # An action made before step-ups dropped DesiredCapacity: putting it again without the key would
    # keep DesiredCapacity 15 in AWS, so it is deleted first (the Stubber enforces the order).
    client, stubber = stubbed
    stubber.add_response("describe_scheduled_actions", existing(api("20270112T1920Z", 15)), DESCRIBE)
    stubber.add_response(
        "batch_delete_scheduled_action",
        {"FailedScheduledActions": []},
        {"AutoScalingGroupName": GROUP, "ScheduledActionNames": [f"{PREFIX}20270112T1920Z"]},
    )
    expect_put(stubber, [api("20270112T1920Z", 15, desired=False)])
    result = mod.run(client, params([action("20270112T1920Z", 15, desired=False)]), check_mode=False)
    assert (result["changed"], result["updated"], result["deleted"]) == (True, [f"{PREFIX}20270112T1920Z"], [])


def test_adding_a_desired_capacity_is_a_plain_put(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response(
        "describe_scheduled_actions",
        existing(api("20270112T2215Z", 2, desired=False)),
        DESCRIBE,
    )
    expect_put(stubber, [api("20270112T2215Z", 2)])
    result = mod.run(client, params([action("20270112T2215Z", 2)]), check_mode=False)
    assert (result["changed"], result["updated"]) == (True, [f"{PREFIX}20270112T2215Z"])


def test_check_mode_reports_a_desired_capacity_to_remove_without_writing(
    mod: ModuleType, stubbed: tuple[Any, Stubber]
) -> None:
    client, stubber = stubbed  # only the describe is queued: a delete or put would fail the test
    stubber.add_response("describe_scheduled_actions", existing(api("20270112T1920Z", 15)), DESCRIBE)
    result = mod.run(client, params([action("20270112T1920Z", 15, desired=False)]), check_mode=True)
    assert (result["changed"], result["updated"]) == (True, [f"{PREFIX}20270112T1920Z"])


@pytest.mark.parametrize(
    ("wanted", "message"),
    [
        (
            {**action("20270112T1920Z", 15, desired=False), "max_size": 10},
            f"action '{PREFIX}20270112T1920Z': sizes must satisfy 0 <= min_size <= max_size, got 15/10",
        ),
        (
            {**action("20270112T1920Z", 15, desired=False), "min_size": -1},
            f"action '{PREFIX}20270112T1920Z': sizes must satisfy 0 <= min_size <= max_size, got -1/40",
        ),
        (
            {**action("20270112T1920Z", 15), "desired_capacity": 41},
            f"action '{PREFIX}20270112T1920Z': sizes must satisfy 0 <= min_size <= desired_capacity <= max_size,"
            " got 15/41/40",
        ),
    ],
)
def test_sizes_are_checked_with_and_without_desired_capacity(
    mod: ModuleType, stubbed: tuple[Any, Stubber], wanted: dict[str, Any], message: str
) -> None:
    client, _ = stubbed
    with pytest.raises(mod.ActionError) as caught:
        mod.run(client, params([wanted]), check_mode=False)
    assert str(caught.value) == message


# --- scheduled actions per group (issue 13: AWS allows 125 and does not raise it) -------------------


def others(count: int) -> list[dict[str, Any]]:
    """Actions event_scaling does not own (another tool's, ops' manual ones): they count too."""
    return [
        {"ScheduledActionName": f"ops-manual-{index:03d}", "StartTime": datetime(2027, 3, 1, tzinfo=UTC), "MinSize": 2}
        for index in range(count)
    ]


def five_events() -> list[dict[str, Any]]:
    return [action(f"202701{day:02d}T1920Z", 4) for day in range(10, 15)]


@pytest.mark.parametrize("check_mode", [False, True], ids=["apply", "check-mode"])
def test_more_than_125_actions_on_a_group_are_refused_before_any_change(
    mod: ModuleType, stubbed: tuple[Any, Stubber], check_mode: bool
) -> None:
    """121 actions outside the prefix + 5 planned = 126 > 125 ("Scheduled actions per Auto Scaling group:
    125", not adjustable: https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-quotas.html).
    Only the describe is queued: a put would fail the test. The emulator stores all 126."""
    client, stubber = stubbed
    stubber.add_response("describe_scheduled_actions", existing(*others(121)), DESCRIBE)
    with pytest.raises(mod.ActionError) as caught:
        mod.run(client, params(five_events()), check_mode=check_mode)
    assert str(caught.value) == (
        f"{GROUP} would hold 126 scheduled actions after this run (121 outside name_prefix '{PREFIX}'); AWS allows"
        " 125 per Auto Scaling group and does not raise that quota"
        " (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-quotas.html)"
    )
    assert caught.value.constraints == counts(current=121, not_managed=121, after=126)


def test_exactly_125_actions_are_accepted(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_scheduled_actions", existing(*others(120)), DESCRIBE)
    expect_put(stubber, [api(f"202701{day:02d}T1920Z", 4) for day in range(10, 15)])
    result = mod.run(client, params(five_events()), check_mode=False)
    assert result["constraints"] == counts(current=120, not_managed=120, after=125)


def test_at_the_quota_a_moved_event_is_deleted_before_its_replacement_is_put(
    mod: ModuleType, stubbed: tuple[Any, Stubber]
) -> None:
    """124 + 1 owned = 125 held; the event moves (one action out, one in): still 125 after, but a put
    before the delete would make 126 and AWS would answer LimitExceeded half-way. The Stubber enforces
    delete first."""
    client, stubber = stubbed
    stubber.add_response("describe_scheduled_actions", existing(*others(124), api("20270112T1920Z", 4)), DESCRIBE)
    expect_delete(stubber, [f"{PREFIX}20270112T1920Z"])
    expect_put(stubber, [api("20270113T1920Z", 4)])
    result = mod.run(client, params([action("20270113T1920Z", 4)]), check_mode=False)
    assert result["constraints"] == counts(current=125, not_managed=124, after=125)


def test_every_page_of_actions_is_counted(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    """DescribeScheduledActions returns at most 100 per call ("The default value is 50 and the maximum value
    is 100"): the module follows NextToken."""
    client, stubber = stubbed
    stubber.add_response("describe_scheduled_actions", existing(*others(100)) | {"NextToken": "page-2"}, DESCRIBE)
    stubber.add_response("describe_scheduled_actions", existing(*others(121)[100:]), DESCRIBE | {"NextToken": "page-2"})
    with pytest.raises(mod.ActionError, match="would hold 126 scheduled actions"):
        mod.run(client, params(five_events()), check_mode=True)


@pytest.mark.parametrize("code", ["Throttling", "ResourceContention"])
def test_throttling_and_contention_are_retried(mod: ModuleType, stubbed: tuple[Any, Stubber], code: str) -> None:
    """The module's client retries with jittered backoff (sleeps patched out)."""
    client, stubber = stubbed
    stubber.add_client_error("describe_scheduled_actions", service_error_code=code, http_status_code=400)
    stubber.add_response("describe_scheduled_actions", existing(), DESCRIBE)
    stubber.add_client_error("batch_put_scheduled_update_group_action", service_error_code=code, http_status_code=400)
    expect_put(stubber, [api("20270112T1920Z", 15)])
    assert mod.run(client, params([action("20270112T1920Z", 15)]), check_mode=False)["changed"] is True
