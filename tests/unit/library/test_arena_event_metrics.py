"""arena_event_metrics against botocore's Stubber (the real CloudWatch API model): the exact
GetMetricData requests, and the API's rules it honours
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html):

- at most 500 MetricDataQuery per call and at most 100,800 datapoints per call (batches), NextToken
  followed to the last page;
- the period a start of that age needs (MetricStat.Period: a multiple of 60 s from 3 h to 15 days ago, of
  300 s from 15 to 63 days, of 3600 s beyond; retention 15 / 63 / 455 days), grown or refused naming the
  rule, and a window older than 455 days refused;
- StartTime rounded down and EndTime up to the period;
- every call retried on throttling (aws_retry=True, RequireRetry), read-only in check mode too.
Against the emulator: tests/integration/events/test_event_review.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest
from botocore.stub import Stubber

SERVICE = "cloudwatch"  # the client of the `stubbed` fixture (conftest.py)
STRICT_RETRY = True  # every call must pass aws_retry=True (RequireRetry)
PUBLIC = "app/arena-production-public/50dc6c495c0c9188"
INTERNAL = "app/arena-production-internal/6d0ecf831eec9f09"
TIERS = {
    "web": {"load_balancer": PUBLIC, "target_group": "targetgroup/arena-production-web/73e2d6bc24d8a067"},
    "api": {"load_balancer": INTERNAL, "target_group": "targetgroup/arena-production-api/2453ed029918f21f"},
}
NOW = "2027-01-13T09:00:00Z"
ARGS = {
    "tiers": TIERS,
    "start_time": "2027-01-12T19:20:30Z",
    "end_time": "2027-01-12T21:45:10Z",
    "period": 60,
    "allow_coarser_period": True,
    "now": NOW,
    "region": "eu-west-1",
}


def utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def query(qid: str, metric: str, dims: list[tuple[str, str]], period: int = 60) -> dict[str, Any]:
    return {
        "Id": qid,
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/ApplicationELB",
                "MetricName": metric,
                "Dimensions": [{"Name": n, "Value": v} for n, v in dims],
            },
            "Period": period,
            "Stat": "Sum",
        },
        "ReturnData": True,
    }


# Tiers in name order (api, web); the load balancers in the order the tiers name them.
QUERIES = [
    query("requests0", "RequestCount", [("TargetGroup", TIERS["api"]["target_group"]), ("LoadBalancer", INTERNAL)]),
    query("requests1", "RequestCount", [("TargetGroup", TIERS["web"]["target_group"]), ("LoadBalancer", PUBLIC)]),
    query("connections0", "ActiveConnectionCount", [("LoadBalancer", INTERNAL)]),
    query("connections1", "ActiveConnectionCount", [("LoadBalancer", PUBLIC)]),
]


def request(queries: list[dict[str, Any]], start: str, end: str, token: str | None = None) -> dict[str, Any]:
    sent = {
        "MetricDataQueries": queries,
        "StartTime": utc(start),
        "EndTime": utc(end),
        "ScanBy": "TimestampAscending",
        "MaxDatapoints": 100800,
    }
    return sent | ({"NextToken": token} if token else {})


def result(qid: str, points: dict[str, float]) -> dict[str, Any]:
    return {
        "Id": qid,
        "Label": qid,
        "Timestamps": [utc(t) for t in points],
        "Values": list(points.values()),
        "StatusCode": "Complete",
    }


ALIGNED = ("2027-01-12T19:20:00Z", "2027-01-12T21:46:00Z")
PAGE_1 = {
    "MetricDataResults": [
        result("requests0", {"2027-01-12T20:00:00Z": 150000.0}),
        result("requests1", {"2027-01-12T20:00:00Z": 57000.0}),
        result("connections0", {}),
        result("connections1", {"2027-01-12T20:00:00Z": 40000.0}),
    ],
    "NextToken": "page-2",
}
PAGE_2 = {
    "MetricDataResults": [
        result("requests0", {"2027-01-12T20:01:00Z": 160000.0}),
        result("requests1", {"2027-01-12T20:01:00Z": 60000.0}),
    ]
}
CALLS = [
    ("get_metric_data", PAGE_1, request(QUERIES, *ALIGNED)),
    ("get_metric_data", PAGE_2, request(QUERIES, *ALIGNED, token="page-2")),
]


def test_exact_requests_aligned_paginated_and_merged(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    for operation, answer, expected in CALLS:
        stubber.add_response(operation, answer, expected)
    got = mod.read(client, ARGS)
    assert (got["period"], got["start_time"], got["end_time"], got["calls"]) == (60, *ALIGNED, 2)
    assert got["tiers"]["api"] == {
        "load_balancer": INTERNAL,
        "target_group": TIERS["api"]["target_group"],
        "request_count": [
            {"timestamp": "2027-01-12T20:00:00Z", "value": 150000.0},
            {"timestamp": "2027-01-12T20:01:00Z", "value": 160000.0},
        ],
        "active_connection_count": [],
    }
    assert got["tiers"]["web"]["active_connection_count"] == [{"timestamp": "2027-01-12T20:00:00Z", "value": 40000.0}]


def test_main_reads_in_check_mode_and_never_changes(mod: ModuleType, run_with_calls: Any) -> None:
    got = run_with_calls(mod, ARGS | {"_ansible_check_mode": True}, "cloudwatch", CALLS)
    assert got["changed"] is False and got["calls"] == 2 and not got.get("failed")


def test_throttling_is_retried(mod: ModuleType, run_retried: Any) -> None:
    got = run_retried(mod, ARGS, "cloudwatch", CALLS, ("get_metric_data", "Throttling"))
    assert got["tiers"]["web"]["request_count"][-1]["value"] == 60000.0


def test_a_shared_load_balancer_is_read_once(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    tiers = {"web": TIERS["web"], "admin": {"load_balancer": PUBLIC, "target_group": "targetgroup/arena-x-admin/1"}}
    queries = [
        query("requests0", "RequestCount", [("TargetGroup", "targetgroup/arena-x-admin/1"), ("LoadBalancer", PUBLIC)]),
        query("requests1", "RequestCount", [("TargetGroup", TIERS["web"]["target_group"]), ("LoadBalancer", PUBLIC)]),
        query("connections0", "ActiveConnectionCount", [("LoadBalancer", PUBLIC)]),
    ]
    stubber.add_response("get_metric_data", {"MetricDataResults": []}, request(queries, *ALIGNED))
    got = mod.read(client, ARGS | {"tiers": tiers})
    assert got["tiers"]["admin"]["request_count"] == [] and got["calls"] == 1


def test_batches_hold_at_most_100800_datapoints_and_500_queries(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    """10 days at 60 s = 14400 datapoints a query: 7 queries a call (100800 / 14400)."""
    client, stubber = stubbed
    tiers = {f"t{i}": {"load_balancer": f"app/lb{i}/1", "target_group": f"targetgroup/tg{i}/1"} for i in range(4)}
    start, end = "2027-01-02T00:00:00Z", "2027-01-12T00:00:00Z"
    queries = [
        query(
            f"requests{i}", "RequestCount", [("TargetGroup", f"targetgroup/tg{i}/1"), ("LoadBalancer", f"app/lb{i}/1")]
        )
        for i in range(4)
    ] + [query(f"connections{i}", "ActiveConnectionCount", [("LoadBalancer", f"app/lb{i}/1")]) for i in range(4)]
    stubber.add_response("get_metric_data", {"MetricDataResults": []}, request(queries[:7], start, end))
    stubber.add_response("get_metric_data", {"MetricDataResults": []}, request(queries[7:], start, end))
    got = mod.read(client, ARGS | {"tiers": tiers, "start_time": start, "end_time": end})
    assert got["calls"] == 2
    assert [len(b) for b in mod.batches([{}] * 600, 1)] == [500, 100]
    assert [len(b) for b in mod.batches([{}] * 3, 200000)] == [1, 1, 1]  # one query a call, pages follow


# (window asked, period used, window sent) as of NOW.
AGES = [
    pytest.param(
        ("2026-12-30T08:59:30Z", "2026-12-30T11:00:10Z"),
        60,
        ("2026-12-30T08:59:00Z", "2026-12-30T11:01:00Z"),
        id="14-days-1-minute",
    ),
    pytest.param(
        ("2026-12-24T08:57:30Z", "2026-12-24T11:00:10Z"),
        300,
        ("2026-12-24T08:55:00Z", "2026-12-24T11:05:00Z"),
        id="20-days-5-minutes",
    ),
    pytest.param(
        ("2026-10-05T08:30:00Z", "2026-10-05T11:00:10Z"),
        3600,
        ("2026-10-05T08:00:00Z", "2026-10-05T12:00:00Z"),
        id="100-days-1-hour",
    ),
]


@pytest.mark.parametrize(("asked", "period", "sent"), AGES)
def test_older_windows_get_the_period_their_age_needs(
    mod: ModuleType, stubbed: tuple[Any, Stubber], asked: tuple[str, str], period: int, sent: tuple[str, str]
) -> None:
    client, stubber = stubbed
    queries = [{**q, "MetricStat": {**q["MetricStat"], "Period": period}} for q in QUERIES]
    stubber.add_response("get_metric_data", {"MetricDataResults": []}, request(queries, *sent))
    got = mod.read(client, ARGS | {"start_time": asked[0], "end_time": asked[1]})
    assert (got["period"], got["start_time"], got["end_time"]) == (period, *sent)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"start_time": "2026-12-24T09:00:00Z", "allow_coarser_period": False},
            "the window starts 2026-12-24T09:00:00Z, 20 days before 2027-01-13T09:00:00Z: CloudWatch keeps 60-second"
            " datapoints for 15 days only and answers a start that old only for a period that is a multiple of 300"
            " seconds (GetMetricData, https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/"
            "API_GetMetricData.html); allow a coarser period or read a newer window",
        ),
        (
            {"start_time": "2025-09-01T00:00:00Z", "end_time": "2025-09-01T02:00:00Z"},
            "the window starts 2025-09-01T00:00:00Z, 499 days before 2027-01-13T09:00:00Z: CloudWatch keeps datapoints"
            " for 455 days (1-hour resolution), so nothing of it is left (GetMetricData,"
            " https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html)",
        ),
        (
            {"end_time": "2027-01-12T19:20:30Z"},
            "end_time 2027-01-12T19:20:30Z is not after start_time 2027-01-12T19:20:30Z",
        ),
        ({"period": 90}, "period must be a multiple of 60 seconds (1-minute load balancer metrics), got 90"),
        (
            {"start_time": "2027-01-12 19:20"},
            "start_time must be UTC like 2027-01-12T19:20:00Z, got '2027-01-12 19:20'",
        ),
        (
            {"tiers": {"web": {"load_balancer": PUBLIC}}},
            f"tiers.web needs load_balancer and target_group dimension values, got {{'load_balancer': '{PUBLIC}'}}",
        ),
    ],
    ids=[
        "coarser-period-refused",
        "older-than-455-days",
        "empty-window",
        "period-not-minutes",
        "bad-time",
        "no-target-group",
    ],
)
def test_refused_before_any_call(mod: ModuleType, run_with_calls: Any, changes: dict[str, Any], message: str) -> None:
    got = run_with_calls(mod, ARGS | changes, "cloudwatch", [])
    assert got["failed"] is True
    assert got["msg"] == f"arena_event_metrics: {message}"


def test_a_forbidden_query_fails_naming_the_metric(mod: ModuleType, run_with_calls: Any) -> None:
    answer = {"MetricDataResults": [{**result("requests1", {}), "StatusCode": "Forbidden"}]}
    got = run_with_calls(mod, ARGS, "cloudwatch", [("get_metric_data", answer, request(QUERIES, *ALIGNED))])
    assert (
        got["msg"]
        == f"arena_event_metrics: CloudWatch answered Forbidden for request_count of {TIERS['web']['target_group']}"
    )
