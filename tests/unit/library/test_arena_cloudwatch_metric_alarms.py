"""arena_cloudwatch_metric_alarms against botocore's Stubber (the real CloudWatch API model): an alarm
is written only when missing or different (metric math included, dimensions in any order), tags only
on create, deletes in batches, and what PutMetricAlarm refuses is refused before any call
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html).
The platform's release alarms against the emulator: tests/ee/test_ee_platform.py."""

from __future__ import annotations

import copy
from types import ModuleType
from typing import Any

import pytest

SERVICE = "cloudwatch"  # the client of the `stubbed` fixture (conftest.py)
STRICT_RETRY = True
DIMS = [{"Name": "TargetGroup", "Value": "targetgroup/web/1"}, {"Name": "LoadBalancer", "Value": "app/public/2"}]


def stat(metric: str) -> dict[str, Any]:
    return {
        "Period": 60,
        "Stat": "Sum",
        "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": metric, "Dimensions": DIMS},
    }


SHARE = {
    "AlarmName": "arena-staging-web-target-5xx",
    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    "Threshold": 5,
    "EvaluationPeriods": 3,
    "DatapointsToAlarm": 2,
    "TreatMissingData": "notBreaching",
    "Metrics": [
        {"Id": "errors", "ReturnData": False, "MetricStat": stat("HTTPCode_Target_5XX_Count")},
        {"Id": "requests", "ReturnData": False, "MetricStat": stat("RequestCount")},
        {"Id": "share", "ReturnData": True, "Expression": "IF(requests >= 20, 100 * errors / requests, 0)"},
    ],
}
HOSTS = {
    "AlarmName": "arena-staging-web-unhealthy-hosts",
    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    "Threshold": 1,
    "EvaluationPeriods": 3,
    "Namespace": "AWS/ApplicationELB",
    "MetricName": "UnHealthyHostCount",
    "Statistic": "Maximum",
    "Period": 60,
    "Dimensions": DIMS,
}
NAMES = [SHARE["AlarmName"], HOSTS["AlarmName"]]
TAGS = {"Project": "arena", "Environment": "staging"}


def described(alarm: dict[str, Any]) -> dict[str, Any]:
    """The alarm as DescribeAlarms answers it: floats, more keys, dimensions in another order."""
    have = copy.deepcopy(alarm)
    have["Threshold"] = float(have["Threshold"])
    have.update(
        {"AlarmArn": f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{alarm['AlarmName']}", "StateValue": "OK"}
    )
    if "Dimensions" in have:
        have["Dimensions"] = list(reversed(have["Dimensions"]))
    return have


def params(**overrides: Any) -> dict[str, Any]:
    return {
        "state": "present",
        "alarms": [SHARE, HOSTS],
        "composite_alarms": [],
        "names": [],
        "prune": None,
        "tags": TAGS,
        **overrides,
    }


def expect_describe(stub: Any, alarms: list[dict[str, Any]], names: list[str] = NAMES) -> None:
    stub.add_response("describe_alarms", {"MetricAlarms": alarms}, {"AlarmNames": names, "AlarmTypes": ["MetricAlarm"]})


def expect_describe_both(stub: Any, alarms: list[dict[str, Any]], names: list[str]) -> None:
    """DescribeAlarms as a delete asks it: both kinds in one call."""
    types = {"AlarmNames": names, "AlarmTypes": ["CompositeAlarm", "MetricAlarm"]}
    stub.add_response("describe_alarms", {"MetricAlarms": alarms}, types)


def test_missing_alarms_are_created_with_their_tags(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    expect_describe(stub, [])
    tags = [{"Key": "Environment", "Value": "staging"}, {"Key": "Project", "Value": "arena"}]
    stub.add_response("put_metric_alarm", {}, {**SHARE, "Tags": tags})
    stub.add_response("put_metric_alarm", {}, {**HOSTS, "Tags": tags})
    assert mod.run(client, params(), check_mode=False)["written"] == NAMES


def test_alarms_as_described_change_nothing(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    expect_describe(stub, [described(SHARE), described(HOSTS)])
    result = mod.run(client, params(), check_mode=False)
    assert (result["changed"], result["written"]) == (False, [])


def test_a_changed_expression_is_written_without_tags(mod: ModuleType, stubbed: Any) -> None:
    """PutMetricAlarm ignores tags on an update: none are sent."""
    client, stub = stubbed
    old = described(SHARE)
    old["Metrics"][2]["Expression"] = "100 * errors / requests"
    expect_describe(stub, [old, described(HOSTS)])
    stub.add_response("put_metric_alarm", {}, SHARE)
    result = mod.run(client, params(), check_mode=False)
    assert result["written"] == [SHARE["AlarmName"]]
    assert result["before"][SHARE["AlarmName"]]["Metrics"][2]["Expression"] == "100 * errors / requests"


def test_check_mode_writes_nothing(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    expect_describe(stub, [described(HOSTS)])
    result = mod.run(client, params(), check_mode=True)
    assert (result["changed"], result["written"]) == (True, [SHARE["AlarmName"]])


def test_absent_deletes_the_existing_ones_only(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    names = sorted([*NAMES, "arena-staging-api-target-5xx"])
    expect_describe_both(stub, [described(HOSTS)], names)
    stub.add_response("delete_alarms", {}, {"AlarmNames": [HOSTS["AlarmName"]]})
    result = mod.run(client, params(state="absent", names=names), check_mode=False)
    assert (result["changed"], result["deleted"]) == (True, [HOSTS["AlarmName"]])


def test_more_than_100_alarms_go_in_batches(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    names = sorted(f"alarm-{n:03d}" for n in range(150))
    expect_describe_both(stub, [{"AlarmName": n} for n in names[:100]], names[:100])
    expect_describe_both(stub, [{"AlarmName": n} for n in names[100:]], names[100:])
    stub.add_response("delete_alarms", {}, {"AlarmNames": names[:100]})
    stub.add_response("delete_alarms", {}, {"AlarmNames": names[100:]})
    assert len(mod.run(client, params(state="absent", names=names), check_mode=False)["deleted"]) == 150


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"AlarmName": ""}, "AlarmName must be 1-255 characters"),
        ({"EvaluationPeriods": 0}, "EvaluationPeriods must be an integer >= 1"),
        ({"DatapointsToAlarm": 4}, "DatapointsToAlarm 4 is over EvaluationPeriods 3"),
        ({"MetricName": "RequestCount"}, "Metrics and MetricName exclude each other"),
        ({"Metrics": [{**SHARE["Metrics"][0], "ReturnData": True}, *SHARE["Metrics"][1:]]}, "exactly one metric query"),
        ({"Metrics": [{**SHARE["Metrics"][0], "Id": "Errors"}, *SHARE["Metrics"][1:]]}, "must be unique, start with"),
        ({"Metrics": [], "Namespace": "AWS/ApplicationELB"}, "give Metrics, or MetricName and Namespace"),
    ],
)
def test_what_put_metric_alarm_refuses_is_refused_before_any_call(
    mod: ModuleType, stubbed: Any, change: dict[str, Any], message: str
) -> None:
    client, _ = stubbed  # nothing queued
    with pytest.raises(mod.AlarmError, match=message):
        mod.run(client, params(alarms=[{**SHARE, **change}]), check_mode=False)


@pytest.mark.parametrize(
    ("period", "evaluations", "message"),
    [
        (45, 3, "Period 45 must be 10, 20, 30 or a multiple of 60"),
        (60, 1441, "Period x EvaluationPeriods = 86460 s is over 86400 s"),
        (3600, 169, "Period x EvaluationPeriods = 608400 s is over 604800 s"),
    ],
)
def test_periods_cloudwatch_refuses(mod: ModuleType, stubbed: Any, period: int, evaluations: int, message: str) -> None:
    client, _ = stubbed
    alarm = {**HOSTS, "Period": period, "EvaluationPeriods": evaluations}
    with pytest.raises(mod.AlarmError, match=message):
        mod.run(client, params(alarms=[alarm]), check_mode=False)


@pytest.mark.parametrize("operation", ["describe_alarms", "put_metric_alarm"])
def test_throttled_call_is_retried(mod: ModuleType, run_retried: Any, operation: str) -> None:
    calls = [
        ("describe_alarms", {"MetricAlarms": [described(SHARE)]}, {"AlarmNames": NAMES, "AlarmTypes": ["MetricAlarm"]}),
        (
            "put_metric_alarm",
            {},
            {**HOSTS, "Tags": [{"Key": "Environment", "Value": "staging"}, {"Key": "Project", "Value": "arena"}]},
        ),
    ]
    result = run_retried(mod, params(), "cloudwatch", calls, (operation, "Throttling"))
    assert (result["changed"], result["written"]) == (True, [HOSTS["AlarmName"]])


# Composite alarms (PutCompositeAlarm; the emulator's stand-in is scripts/lab/emulator_server.py,
# so the request is pinned here) and pruning by prefix and tags.
COMPOSITE = {
    "AlarmName": "arena-staging-event-at-risk",
    "AlarmRule": 'ALARM("arena-staging-web-target-5xx") OR ALARM("arena-staging-web-unhealthy-hosts")',
    "ActionsEnabled": True,
    "AlarmActions": ["arn:aws:sns:eu-west-1:123456789012:arena-staging-alerts"],
    "OKActions": ["arn:aws:sns:eu-west-1:123456789012:arena-staging-alerts"],
}
PRUNE = {"name_prefix": "arena-staging-", "tags": TAGS}
ARN = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:"


def expect_listing(stub: Any, metric: list[str], composite: list[str] = ()) -> None:
    answer = {
        "MetricAlarms": [{"AlarmName": n, "AlarmArn": ARN + n} for n in metric],
        "CompositeAlarms": [{"AlarmName": n, "AlarmArn": ARN + n} for n in composite],
    }
    stub.add_response(
        "describe_alarms",
        answer,
        {"AlarmNamePrefix": "arena-staging-", "AlarmTypes": ["CompositeAlarm", "MetricAlarm"]},
    )


def expect_tags(stub: Any, name: str, tags: dict[str, str]) -> None:
    listed = {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
    stub.add_response("list_tags_for_resource", listed, {"ResourceARN": ARN + name})


def test_composite_written_after_its_metric_alarms_with_tags(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    tags = [{"Key": "Environment", "Value": "staging"}, {"Key": "Project", "Value": "arena"}]
    expect_describe(stub, [described(SHARE), described(HOSTS)])
    stub.add_response(
        "describe_alarms",
        {"CompositeAlarms": []},
        {"AlarmNames": [COMPOSITE["AlarmName"]], "AlarmTypes": ["CompositeAlarm"]},
    )
    stub.add_response("put_composite_alarm", {}, {**COMPOSITE, "Tags": tags})
    result = mod.run(client, params(composite_alarms=[COMPOSITE]), check_mode=False)
    assert result["written"] == [COMPOSITE["AlarmName"]]


def test_composite_as_described_changes_nothing(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    expect_describe(stub, [described(SHARE), described(HOSTS)])
    have = {**COMPOSITE, "AlarmArn": ARN + COMPOSITE["AlarmName"], "StateValue": "OK"}
    stub.add_response(
        "describe_alarms",
        {"CompositeAlarms": [have]},
        {"AlarmNames": [COMPOSITE["AlarmName"]], "AlarmTypes": ["CompositeAlarm"]},
    )
    assert mod.run(client, params(composite_alarms=[COMPOSITE]), check_mode=False)["changed"] is False


def test_prune_deletes_only_this_environments_unwanted_alarms_composites_first(mod: ModuleType, stubbed: Any) -> None:
    """arena-staging-2-... shares the prefix but not the tags: it stays. A removed tier's alarm and an
    old composite go, the composite in its own call first (DeleteAlarms refuses an alarm a composite
    still names)."""
    client, stub = stubbed
    expect_describe(stub, [described(SHARE), described(HOSTS)])
    expect_listing(
        stub, [*NAMES, "arena-staging-2-web-target-5xx", "arena-staging-stream-target-5xx"], ["arena-staging-old-risk"]
    )
    expect_tags(stub, "arena-staging-old-risk", TAGS)
    expect_tags(stub, "arena-staging-2-web-target-5xx", {"Project": "arena", "Environment": "staging-2"})
    expect_tags(stub, "arena-staging-stream-target-5xx", {**TAGS, "ManagedBy": "arena-infra"})
    stub.add_response("delete_alarms", {}, {"AlarmNames": ["arena-staging-old-risk"]})
    stub.add_response("delete_alarms", {}, {"AlarmNames": ["arena-staging-stream-target-5xx"]})
    result = mod.run(client, params(prune=PRUNE), check_mode=False)
    assert result["deleted"] == ["arena-staging-old-risk", "arena-staging-stream-target-5xx"]
    assert result["changed"] is True


def test_absent_with_prune_deletes_every_tagged_alarm_under_the_prefix(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    expect_listing(stub, NAMES, ["arena-staging-event-at-risk"])
    for name in ["arena-staging-event-at-risk", *NAMES]:
        expect_tags(stub, name, TAGS)
    stub.add_response("delete_alarms", {}, {"AlarmNames": ["arena-staging-event-at-risk"]})
    stub.add_response("delete_alarms", {}, {"AlarmNames": sorted(NAMES)})
    result = mod.run(client, params(state="absent", prune=PRUNE), check_mode=False)
    assert result["deleted"] == ["arena-staging-event-at-risk", *sorted(NAMES)]


def test_prune_needs_a_tag(mod: ModuleType, stubbed: Any) -> None:
    client, _ = stubbed
    with pytest.raises(mod.AlarmError, match=r"prune\.tags must name at least one tag"):
        mod.run(client, params(prune={"name_prefix": "arena-", "tags": {}}), check_mode=False)


def test_a_composite_rule_over_10240_characters_is_refused(mod: ModuleType, stubbed: Any) -> None:
    client, _ = stubbed
    with pytest.raises(mod.AlarmError, match="AlarmRule must be 1-10240 characters"):
        mod.run(client, params(composite_alarms=[{**COMPOSITE, "AlarmRule": "x" * 10241}]), check_mode=False)
