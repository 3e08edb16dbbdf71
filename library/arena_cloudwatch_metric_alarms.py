#!/usr/bin/python
# Copyright: arena-infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A set of CloudWatch metric and composite alarms (metric math included), idempotent, with retries."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_cloudwatch_metric_alarms
short_description: Create, update or delete a set of CloudWatch metric and composite alarms
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
  - I(composite_alarms) are the arguments of PutCompositeAlarm
    (U(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutCompositeAlarm.html)),
    written after the metric alarms their rules name, and deleted before them (DeleteAlarms refuses
    an alarm a composite alarm's rule still names).
  - With I(prune), the alarms whose names start with I(prune.name_prefix) and whose tags hold every
    one of I(prune.tags), but which this call does not give (I(state=present)) or all of them
    (I(state=absent)), are deleted (what a removed tier or service left). The tags tell an
    environment's alarms from another's whose name shares the prefix (C(arena-prod-) and
    C(arena-prod-2-)). ListTagsForResource is called only for alarms under the prefix that this call
    does not give.
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
  composite_alarms:
    description: Composite alarms, each the arguments of PutCompositeAlarm.
    type: list
    elements: dict
    default: []
  prune:
    description: Delete the alarms under I(name_prefix) carrying every tag of I(tags) that are not given.
    type: dict
    suboptions:
      name_prefix:
        description: Alarm name prefix (DescribeAlarms AlarmNamePrefix).
        type: str
        required: true
      tags:
        description: Tags an alarm must carry, all of them, to be deleted. At least one.
        type: dict
        required: true
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
  description: Names of the alarms deleted (in check mode, that would be); with I(prune), also when present.
  returned: always
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


def describe(client, names: list[str], kinds: tuple[str, ...]) -> dict[str, dict[str, dict[str, Any]]]:
    """The alarms of `names` that exist, by kind and name: one DescribeAlarms per 100 names."""
    found: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in kinds}
    for start in range(0, len(names), BATCH):
        answer = client.describe_alarms(AlarmNames=names[start : start + BATCH], AlarmTypes=list(kinds), aws_retry=True)
        for kind, alarms in found.items():
            alarms.update({a["AlarmName"]: a for a in answer.get(kind + "s", [])})
    return found


def _under_prefix(client, prefix: str) -> dict[str, list[dict[str, Any]]]:
    """Every alarm under `prefix`, both kinds (DescribeAlarms page by page, each call retried)."""
    out: dict[str, list[dict[str, Any]]] = {"CompositeAlarms": [], "MetricAlarms": []}
    token: dict[str, str] = {}
    while True:
        page = client.describe_alarms(
            AlarmNamePrefix=prefix, AlarmTypes=["CompositeAlarm", "MetricAlarm"], aws_retry=True, **token
        )
        for key, alarms in out.items():
            alarms.extend(page.get(key, []))
        if not page.get("NextToken"):
            return out
        token = {"NextToken": page["NextToken"]}


def prunable(client, prune: dict[str, Any] | None, keep: set[str]) -> list[tuple[str, str]]:
    """(name, kind) of the alarms under prune's prefix, carrying all its tags, not in `keep`."""
    if not prune:
        return []
    wanted_tags = {k: str(v) for k, v in prune["tags"].items()}
    listing = _under_prefix(client, prune["name_prefix"])
    out: list[tuple[str, str]] = []
    for kind in ("CompositeAlarm", "MetricAlarm"):
        for alarm in listing.get(kind + "s", []):
            if alarm["AlarmName"] in keep:
                continue
            tags = client.list_tags_for_resource(ResourceARN=alarm["AlarmArn"], aws_retry=True).get("Tags", [])
            have = {t["Key"]: t["Value"] for t in tags}
            if all(have.get(k) == v for k, v in wanted_tags.items()):
                out.append((alarm["AlarmName"], kind))
    return sorted(out)


def delete(client, names: list[str], check_mode: bool) -> None:
    if check_mode:
        return
    for start in range(0, len(names), BATCH):
        client.delete_alarms(AlarmNames=names[start : start + BATCH], aws_retry=True)


def composite_problems(alarm: dict[str, Any]) -> list[str]:
    """What PutCompositeAlarm would refuse in `alarm` (name 1-255, rule 1-10240 characters)."""
    name = alarm.get("AlarmName") or "?"
    out = []
    if not 1 <= len(alarm.get("AlarmName") or "") <= 255:
        out.append(f"{name}: AlarmName must be 1-255 characters")
    if not 1 <= len(alarm.get("AlarmRule") or "") <= 10240:
        out.append(f"{name}: AlarmRule must be 1-10240 characters")
    return out


def converge(client, alarms: list[dict[str, Any]], kind: str, tags: dict[str, Any], check_mode: bool):
    """Write what is missing or differs; (written names, before, after)."""
    names = [a["AlarmName"] for a in alarms]
    existing = describe(client, names, (kind,))[kind]
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
        if have is None and tags:
            request["Tags"] = [{"Key": k, "Value": str(v)} for k, v in sorted(tags.items())]
        if kind == "CompositeAlarm":
            client.put_composite_alarm(**request, aws_retry=True)
        else:
            client.put_metric_alarm(**request, aws_retry=True)
    return written, before, after


def run(client, params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """Converge the alarms; returns the module result (before/after views for --diff included)."""
    prune = params.get("prune")
    if prune is not None and not prune.get("tags"):
        raise AlarmError("arena_cloudwatch_metric_alarms: prune.tags must name at least one tag")
    if params["state"] == "absent":
        names = sorted(set(params["names"]))
        found = describe(client, names, ("CompositeAlarm", "MetricAlarm"))
        composites, metrics = found["CompositeAlarm"], found["MetricAlarm"]
        pruned = prunable(client, prune, set())
        first = sorted({n for n in names if n in composites} | {n for n, k in pruned if k == "CompositeAlarm"})
        then = sorted({n for n in names if n in metrics} | {n for n, k in pruned if k == "MetricAlarm"})
        delete(client, first, check_mode)
        delete(client, then, check_mode)
        gone = first + then
        return {"changed": bool(gone), "deleted": gone, "before": {n: True for n in gone}, "after": {}}
    alarms = [dict(a) for a in params["alarms"]]
    composites = [dict(a) for a in params["composite_alarms"]]
    found = [p for a in alarms for p in problems(a)] + [p for a in composites for p in composite_problems(a)]
    names = [a.get("AlarmName") for a in alarms + composites]
    if len(set(names)) != len(names):
        found.append(f"alarm names {names} must be unique")
    if found:
        raise AlarmError("arena_cloudwatch_metric_alarms: " + "; ".join(found))
    written, before, after = converge(client, alarms, "MetricAlarm", params["tags"], check_mode)
    more, before2, after2 = converge(client, composites, "CompositeAlarm", params["tags"], check_mode)
    pruned = prunable(client, prune, set(names))
    delete(client, [n for n, k in pruned if k == "CompositeAlarm"], check_mode)
    delete(client, [n for n, k in pruned if k == "MetricAlarm"], check_mode)
    gone = [n for n, _ in pruned]
    before.update(before2)
    before.update({n: True for n in gone})
    after.update(after2)
    return {
        "changed": bool(written or more or gone),
        "written": written + more,
        "deleted": gone,
        "before": before,
        "after": after,
    }


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "alarms": {"type": "list", "elements": "dict", "default": []},
            "names": {"type": "list", "elements": "str", "default": []},
            "composite_alarms": {"type": "list", "elements": "dict", "default": []},
            "prune": {
                "type": "dict",
                "options": {
                    "name_prefix": {"type": "str", "required": True},
                    "tags": {"type": "dict", "required": True},
                },
            },
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
