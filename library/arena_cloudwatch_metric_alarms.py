#!/usr/bin/python
# Copyright: arena-infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A set of CloudWatch metric alarms (metric math included), idempotent, with retries."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_cloudwatch_metric_alarms
short_description: Create, update or delete a set of CloudWatch metric alarms
description:
  - Each alarm is given as the arguments of PutMetricAlarm (API names, for example C(AlarmName),
    C(Metrics) for metric math, C(Threshold)). An alarm is written only when it is missing or one
    of the given arguments differs from what DescribeAlarms answers, so a second run changes nothing;
    also with C(Metrics), which C(amazon.aws.cloudwatch_metric_alarm) rewrites on every run.
  - Every call is retried on throttling (CloudWatch answers C(Throttling) above its API rate);
    C(amazon.aws.cloudwatch_metric_alarm) makes its client without a retry decorator.
  - Refused before any call, naming the alarm, as PutMetricAlarm refuses it
    (U(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html));
    a name of 1-255 characters; either C(Metrics) or C(MetricName) with C(Namespace), not both;
    metric math with unique ids and exactly one query with C(ReturnData) true; C(Period) 10, 20, 30
    or a multiple of 60; C(DatapointsToAlarm) at most C(EvaluationPeriods); C(Period) times
    C(EvaluationPeriods) at most one day below an hour's period, at most seven days otherwise.
  - I(tags) are set when an alarm is created (PutMetricAlarm ignores tags on an update).
  - With I(state=absent), the alarms named in I(names) are deleted (DeleteAlarms, 100 a call).
  - Not in the C(group/aws) module-defaults group; pass I(region) and I(endpoint_url) explicitly.
options:
  state:
    description: present or absent.
    type: str
    choices: [present, absent]
    default: present
  alarms:
    description: The alarms, each the arguments of PutMetricAlarm. Required when I(state=present).
    type: list
    elements: dict
    default: []
  names:
    description: Names of the alarms to delete when I(state=absent).
    type: list
    elements: str
    default: []
  tags:
    description: Tags of a new alarm.
    type: dict
    default: {}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - arena-infra
"""

EXAMPLES = r"""
- name: A 5xx share alarm from metric math
  arena_cloudwatch_metric_alarms:
    alarms:
      - AlarmName: arena-staging-web-target-5xx
        ComparisonOperator: GreaterThanOrEqualToThreshold
        Threshold: 5
        EvaluationPeriods: 3
        DatapointsToAlarm: 2
        TreatMissingData: notBreaching
        Metrics:
          - {Id: errors, ReturnData: false, MetricStat: {Metric: {Namespace: AWS/ApplicationELB,
              MetricName: HTTPCode_Target_5XX_Count, Dimensions: [{Name: TargetGroup, Value: targetgroup/web/1}]},
              Period: 60, Stat: Sum}}
          - {Id: requests, ReturnData: false, MetricStat: {Metric: {Namespace: AWS/ApplicationELB,
              MetricName: RequestCount, Dimensions: [{Name: TargetGroup, Value: targetgroup/web/1}]},
              Period: 60, Stat: Sum}}
          - {Id: share, ReturnData: true, Expression: "IF(requests >= 20, 100 * errors / requests, 0)"}
    region: eu-west-1
"""

RETURN = r"""
written:
  description: Names of the alarms created or updated (in check mode, that would be).
  returned: state is present
  type: list
deleted:
  description: Names of the alarms deleted (in check mode, that would be).
  returned: state is absent
  type: list
"""

import contextlib
import re
from typing import Any

with contextlib.suppress(ImportError):  # a missing botocore is reported by AnsibleAWSModule
    import botocore

from ansible.module_utils.arena_diff import with_diff
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

RETRY = AWSRetry.jittered_backoff()
QUERY_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")
DAY, WEEK, HOUR = 86400, 604800, 3600
# DescribeAlarms takes at most 100 names, DeleteAlarms at most 100 (API reference).
BATCH = 100


class AlarmError(ValueError):
    """An alarm PutMetricAlarm would refuse; the message names it."""


def _period_problem(name: str, period: Any, evaluations: int) -> str | None:
    if not isinstance(period, int) or not (period in (10, 20, 30) or (period > 0 and period % 60 == 0)):
        return f"{name}: Period {period!r} must be 10, 20, 30 or a multiple of 60"
    limit = DAY if period < HOUR else WEEK
    if period * evaluations > limit:
        return f"{name}: Period x EvaluationPeriods = {period * evaluations} s is over {limit} s"
    return None


def problems(alarm: dict[str, Any]) -> list[str]:
    """What PutMetricAlarm would refuse in `alarm`."""
    name = alarm.get("AlarmName") or "?"
    out: list[str] = []
    if not 1 <= len(alarm.get("AlarmName") or "") <= 255:
        out.append(f"{name}: AlarmName must be 1-255 characters")
    evaluations = alarm.get("EvaluationPeriods")
    if not isinstance(evaluations, int) or evaluations < 1:
        out.append(f"{name}: EvaluationPeriods must be an integer >= 1")
        evaluations = 1
    if alarm.get("DatapointsToAlarm", 1) > evaluations:
        out.append(f"{name}: DatapointsToAlarm {alarm['DatapointsToAlarm']} is over EvaluationPeriods {evaluations}")
    metrics = alarm.get("Metrics")
    single = [k for k in ("MetricName", "Namespace", "Statistic", "Period", "Dimensions") if k in alarm]
    if metrics and single:
        out.append(f"{name}: Metrics and {', '.join(single)} exclude each other")
    elif metrics:
        ids = [m.get("Id", "") for m in metrics]
        if len(set(ids)) != len(ids) or not all(QUERY_ID.match(i) for i in ids):
            out.append(f"{name}: metric query ids {ids} must be unique, start with a lower-case letter")
        if [m.get("ReturnData") for m in metrics].count(True) != 1:
            out.append(f"{name}: exactly one metric query must have ReturnData true")
        for m in metrics:
            if "MetricStat" in m:
                out.append(_period_problem(name, m["MetricStat"].get("Period"), evaluations) or "")
    elif not {"MetricName", "Namespace"} <= set(alarm):
        out.append(f"{name}: give Metrics, or MetricName and Namespace")
    else:
        out.append(_period_problem(name, alarm.get("Period"), evaluations) or "")
    return [p for p in out if p]


def _same(want: Any, have: Any) -> bool:
    """`have` holds everything `want` gives (dicts: the keys given; lists: item by item; numbers as floats)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(_same(v, have.get(k)) for k, v in want.items())
    if isinstance(want, list):
        if not isinstance(have, list) or len(want) != len(have):
            return False
        if all(isinstance(d, dict) and set(d) == {"Name", "Value"} for d in want + have):  # dimensions: a set
            return sorted((d["Name"], d["Value"]) for d in want) == sorted((d["Name"], d["Value"]) for d in have)
        return all(map(_same, want, have))
    if isinstance(want, (int, float)) and not isinstance(want, bool):
        return isinstance(have, (int, float)) and float(want) == float(have)
    return want == have


def describe(client, names: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(names), BATCH):
        answer = client.describe_alarms(
            AlarmNames=names[start : start + BATCH], AlarmTypes=["MetricAlarm"], aws_retry=True
        )
        found.update({a["AlarmName"]: a for a in answer.get("MetricAlarms", [])})
    return found


def run(client, params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """Converge the alarms; returns the module result (before/after views for --diff included)."""
    if params["state"] == "absent":
        names = sorted(set(params["names"]))
        existing = describe(client, names) if names else {}
        gone = [n for n in names if n in existing]
        if gone and not check_mode:
            for start in range(0, len(gone), BATCH):
                client.delete_alarms(AlarmNames=gone[start : start + BATCH], aws_retry=True)
        return {"changed": bool(gone), "deleted": gone, "before": {n: True for n in gone}, "after": {}}
    alarms = [dict(a) for a in params["alarms"]]
    found = [p for a in alarms for p in problems(a)]
    names = [a.get("AlarmName") for a in alarms]
    if len(set(names)) != len(names):
        found.append(f"alarm names {names} must be unique")
    if found:
        raise AlarmError("arena_cloudwatch_metric_alarms: " + "; ".join(found))
    existing = describe(client, names) if names else {}
    written, before, after = [], {}, {}
    for alarm in alarms:
        have = existing.get(alarm["AlarmName"])
        if have is not None and _same(alarm, have):
            continue
        written.append(alarm["AlarmName"])
        before[alarm["AlarmName"]] = {k: have.get(k) for k in alarm} if have else None
        after[alarm["AlarmName"]] = alarm
        if check_mode:
            continue
        request = dict(alarm)
        if have is None and params["tags"]:
            request["Tags"] = [{"Key": k, "Value": str(v)} for k, v in sorted(params["tags"].items())]
        client.put_metric_alarm(**request, aws_retry=True)
    return {"changed": bool(written), "written": written, "before": before, "after": after}


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "alarms": {"type": "list", "elements": "dict", "default": []},
            "names": {"type": "list", "elements": "str", "default": []},
            "tags": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    client = module.client("cloudwatch", retry_decorator=RETRY)
    try:
        result = run(client, module.params, module.check_mode)
    except AlarmError as e:
        module.fail_json(msg=str(e))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="arena_cloudwatch_metric_alarms: cannot manage the alarms")
    before, after = result.pop("before"), result.pop("after")
    module.exit_json(**with_diff(module, result, before, after))


if __name__ == "__main__":
    main()
