#!/usr/bin/python
# Copyright: arena-infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The load a finished live event put on each tier, read from CloudWatch (GetMetricData), read-only."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_event_metrics
short_description: Read the tiers' load balancer metrics over a time window (GetMetricData)
description:
  - Read-only. For each tier of O(tiers) (the C(tiers) of M(arena_monitoring_view)'s view) reads, over the
    window O(start_time)..O(end_time), C(AWS/ApplicationELB) C(RequestCount) (statistic C(Sum)) of the
    tier's target group (dimensions C(TargetGroup) and C(LoadBalancer)) and C(ActiveConnectionCount)
    (C(Sum)) of its load balancer (dimension C(LoadBalancer); one query per load balancer even when
    tiers share it), with CloudWatch GetMetricData
    (U(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html)).
  - Replaces C(amazon.aws.cloudwatch_metric_info)-style reads (no maintained module returns
    GetMetricData datapoints over a window), and does it in as few calls as the API allows.
  - "Limits of the API honoured: at most 500 C(MetricDataQuery) per call, and at most 100,800 datapoints per
    call: queries go in batches of C(min(500, 100800 // points per query)), and every batch follows
    C(NextToken) until the last page."
  - "Retention: 1-minute datapoints are kept 15 days, 5-minute ones 63 days, 1-hour ones 455 days; a
    C(Period) must be a multiple of 60 s for a start 3 h to 15 days ago, of 300 s for 15 to 63 days, of
    3600 s beyond (else no datapoint is returned). The period used is O(period) grown to the multiple the
    start's age needs; with O(allow_coarser_period=false) a window that needs a coarser period is refused,
    naming the rule. A window that starts more than 455 days before O(now) is refused (its data is gone)."
  - "C(StartTime) is rounded down and C(EndTime) up to a multiple of the period (CloudWatch rounds a start
    down to the minute, 5 minutes or the hour by age, and answers faster for aligned times)."
  - Every call is retried on throttling. Not in the C(group/aws) module-defaults group; pass I(region)
    and I(endpoint_url) explicitly.
options:
  tiers:
    description:
      - Tier name -> its C(load_balancer) (C(app/<name>/<id>)) and C(target_group)
        (C(targetgroup/<name>/<id>)) dimension values, as in M(arena_monitoring_view)'s C(view.tiers).
    type: dict
    required: true
  start_time:
    description: Start of the window, UTC ISO 8601 (C(2027-01-12T19:20:00Z)).
    type: str
    required: true
  end_time:
    description: End of the window (exclusive), UTC ISO 8601; after I(start_time).
    type: str
    required: true
  period:
    description: Wanted period in seconds, a multiple of 60 (load balancer metrics are 1-minute metrics).
    type: int
    default: 60
  allow_coarser_period:
    description: Grow the period when the window is older than the wanted period's retention (else refuse).
    type: bool
    default: true
  now:
    description: The current time, UTC ISO 8601, that the window's age is measured from; empty means the clock.
    type: str
    default: ""
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - arena-infra
"""

EXAMPLES = r"""
- name: Read the platform's dimensions
  arena_monitoring_view:
    name_prefix: arena-production
    tiers: [web, api]
    region: eu-west-1
  register: view

- name: Read the load of a finished event
  arena_event_metrics:
    tiers: "{{ view.view.tiers }}"
    start_time: "2027-01-12T19:20:00Z"
    end_time: "2027-01-12T22:45:00Z"
    region: eu-west-1
  register: metrics
"""

RETURN = r"""
period:
  description: The period used, seconds.
  returned: always
  type: int
start_time:
  description: The StartTime sent (rounded down to the period), UTC.
  returned: always
  type: str
end_time:
  description: The EndTime sent (rounded up to the period), UTC.
  returned: always
  type: str
calls:
  description: GetMetricData calls made (pages included).
  returned: always
  type: int
tiers:
  description:
    - Per tier, C(request_count) and C(active_connection_count), each a list of C({timestamp, value})
      in time order (C(Sum) per period), with the dimensions read.
  returned: always
  type: dict
"""

import contextlib
import math
from datetime import UTC, datetime, timedelta
from typing import Any

with contextlib.suppress(ImportError):  # a missing botocore is reported by AnsibleAWSModule
    import botocore

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

RETRY = AWSRetry.jittered_backoff()
DOC = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html"
NAMESPACE = "AWS/ApplicationELB"
MAX_QUERIES = 500  # MetricDataQuery structures per GetMetricData call
MAX_DATAPOINTS = 100_800  # datapoints per GetMetricData call (MaxDatapoints' default and ceiling)
# (age of StartTime at most, period multiple that age needs): MetricStat.Period's rule, and the retention.
RESOLUTIONS = ((timedelta(days=15), 60), (timedelta(days=63), 300), (timedelta(days=455), 3600))
UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
FAILED_CODES = ("InternalError", "Forbidden")


class MetricsError(ValueError):
    """Bad input or a window CloudWatch cannot answer; the message is what the module reports."""


def parse_utc(value: str, name: str) -> datetime:
    try:
        moment = datetime.strptime(value, UTC_FORMAT)
    except (TypeError, ValueError):
        raise MetricsError(f"{name} must be UTC like 2027-01-12T19:20:00Z, got {value!r}") from None
    return moment.replace(tzinfo=UTC)


def text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(UTC_FORMAT)


def choose_period(start: datetime, now: datetime, wanted: int, allow_coarser: bool) -> int:
    """The period for a window starting at `start`: `wanted` grown to the multiple the start's age needs."""
    if wanted < 60 or wanted % 60:
        raise MetricsError(f"period must be a multiple of 60 seconds (1-minute load balancer metrics), got {wanted}")
    age = now - start
    for oldest, multiple in RESOLUTIONS:
        if age <= oldest:
            if wanted % multiple == 0:
                return wanted
            if not allow_coarser:
                raise MetricsError(
                    f"the window starts {text(start)}, {age.days} days before {text(now)}: CloudWatch keeps"
                    f" {wanted}-second datapoints for {_kept(wanted)} only and answers a start that old only for a"
                    f" period that is a multiple of {multiple} seconds (GetMetricData, {DOC}); allow a coarser"
                    " period or read a newer window"
                )
            return math.ceil(wanted / multiple) * multiple
    raise MetricsError(
        f"the window starts {text(start)}, {age.days} days before {text(now)}: CloudWatch keeps datapoints for"
        f" 455 days (1-hour resolution), so nothing of it is left (GetMetricData, {DOC})"
    )


def _kept(period: int) -> str:
    return "15 days" if period % 300 else "63 days" if period % 3600 else "455 days"


def align(start: datetime, end: datetime, period: int) -> tuple[datetime, datetime]:
    """StartTime rounded down and EndTime rounded up to a multiple of the period (since the epoch)."""
    first = int(start.timestamp()) // period * period
    last = -(-math.ceil(end.timestamp()) // period) * period
    return datetime.fromtimestamp(first, UTC), datetime.fromtimestamp(last, UTC)


def queries(tiers: dict[str, Any], period: int) -> tuple[list[dict[str, Any]], dict[str, tuple[str, str]]]:
    """The MetricDataQuery list and, per query id, (metric key, dimension value): RequestCount per target
    group, ActiveConnectionCount once per load balancer."""
    out: list[dict[str, Any]] = []
    ids: dict[str, tuple[str, str]] = {}

    def add(qid: str, metric: str, dims: list[dict[str, str]], key: tuple[str, str]) -> None:
        stat = {"Metric": {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": dims}}
        out.append({"Id": qid, "MetricStat": {**stat, "Period": period, "Stat": "Sum"}, "ReturnData": True})
        ids[qid] = key

    balancers: list[str] = []
    for index, tier in enumerate(sorted(tiers)):
        dims = tiers[tier]
        if not isinstance(dims, dict) or not dims.get("load_balancer") or not dims.get("target_group"):
            raise MetricsError(f"tiers.{tier} needs load_balancer and target_group dimension values, got {dims!r}")
        add(
            f"requests{index}",
            "RequestCount",
            [
                {"Name": "TargetGroup", "Value": dims["target_group"]},
                {"Name": "LoadBalancer", "Value": dims["load_balancer"]},
            ],
            ("request_count", dims["target_group"]),
        )
        if dims["load_balancer"] not in balancers:
            balancers.append(dims["load_balancer"])
    for index, balancer in enumerate(balancers):
        add(
            f"connections{index}",
            "ActiveConnectionCount",
            [{"Name": "LoadBalancer", "Value": balancer}],
            ("active_connection_count", balancer),
        )
    return out, ids


def batches(items: list[dict[str, Any]], points_per_query: int) -> list[list[dict[str, Any]]]:
    """At most 500 queries a call, and at most 100,800 datapoints a call where one query fits."""
    size = max(1, min(MAX_QUERIES, MAX_DATAPOINTS // max(1, points_per_query)))
    return [items[i : i + size] for i in range(0, len(items), size)]


def read(client: Any, params: dict[str, Any]) -> dict[str, Any]:
    """The whole module without AnsibleModule; raises MetricsError."""
    start = parse_utc(params["start_time"], "start_time")
    end = parse_utc(params["end_time"], "end_time")
    now = parse_utc(params["now"], "now") if params.get("now") else datetime.now(UTC).replace(microsecond=0)
    if end <= start:
        raise MetricsError(f"end_time {text(end)} is not after start_time {text(start)}")
    if not params["tiers"]:
        raise MetricsError("tiers is empty: name at least one tier's load balancer and target group")
    period = choose_period(start, now, params["period"], params["allow_coarser_period"])
    start, end = align(start, end, period)
    wanted, ids = queries(params["tiers"], period)
    points = int((end - start).total_seconds()) // period
    series: dict[str, dict[datetime, float]] = {qid: {} for qid in ids}
    calls = 0
    for batch in batches(wanted, points):
        request: dict[str, Any] = {
            "MetricDataQueries": batch,
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
            "MaxDatapoints": MAX_DATAPOINTS,
        }
        while True:
            answer = client.get_metric_data(**request, aws_retry=True)
            calls += 1
            for result in answer.get("MetricDataResults", []):
                if result.get("StatusCode") in FAILED_CODES:
                    metric, dimension = ids[result["Id"]]
                    raise MetricsError(f"CloudWatch answered {result['StatusCode']} for {metric} of {dimension}")
                for stamp, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=True):
                    series[result["Id"]][stamp.astimezone(UTC)] = float(value)
            token = answer.get("NextToken")
            if not token:
                break
            request["NextToken"] = token

    def points_of(metric: str, dimension: str) -> list[dict[str, Any]]:
        qid = next(q for q, key in ids.items() if key == (metric, dimension))
        return [{"timestamp": text(t), "value": v} for t, v in sorted(series[qid].items())]

    tiers = {
        tier: {
            "load_balancer": dims["load_balancer"],
            "target_group": dims["target_group"],
            "request_count": points_of("request_count", dims["target_group"]),
            "active_connection_count": points_of("active_connection_count", dims["load_balancer"]),
        }
        for tier, dims in sorted(params["tiers"].items())
    }
    return {"period": period, "start_time": text(start), "end_time": text(end), "calls": calls, "tiers": tiers}


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "tiers": {"type": "dict", "required": True},
            "start_time": {"type": "str", "required": True},
            "end_time": {"type": "str", "required": True},
            "period": {"type": "int", "default": 60},
            "allow_coarser_period": {"type": "bool", "default": True},
            "now": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    client = module.client("cloudwatch", retry_decorator=RETRY)
    try:
        result = read(client, module.params)
    except MetricsError as error:
        module.fail_json(msg=f"arena_event_metrics: {error}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="arena_event_metrics: cannot read the metrics")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
