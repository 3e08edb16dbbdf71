#!/usr/bin/python
"""Ansible module: reconcile the one-off scheduled actions of an Auto Scaling group."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_scheduled_actions
short_description: Make an Auto Scaling group's one-off scheduled actions match a list
description:
  - Reconciles the scheduled actions whose names start with O(name_prefix) on one Auto Scaling group
    with O(actions). Missing ones are created, changed ones are replaced, and ones no longer listed
    are deleted (an event removed from the calendar removes its actions). Actions without the prefix
    are never touched.
  - One-off actions only (a start time, no recurrence); C(community.aws.autoscaling_scheduled_action)
    requires a recurrence.
  - Actions whose start time has passed are skipped (AWS refuses start times in the past, and runs and
    removes one-off actions itself); existing past actions are left alone.
  - The list is what the C(arena_scaling_schedule) filter returns for one tier; its informational keys
    (V(tier), V(events), V(kind)) are accepted and ignored.
  - An action without O(actions[].desired_capacity) sets MinSize and MaxSize only. When it runs, EC2 Auto
    Scaling raises a desired capacity below the new MinSize to it and leaves a higher one alone, so a
    step-up never lowers capacity that target tracking added.
  - AWS keeps the old value of a parameter left out when an existing scheduled action is put again, so an
    existing action that has a DesiredCapacity the wanted one lacks is deleted and created again (reported
    in RV(updated)).
  - AWS allows 125 scheduled actions per Auto Scaling group, a quota that cannot be raised
    (U(https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-quotas.html)); the emulator
    accepts more. The module counts every action the group holds (also those outside O(name_prefix)) and
    refuses, before any change and in check mode too, a plan that would leave more than 125. Deletions run
    before puts, so the count never goes above the larger of before and after.
  - Every call goes through amazon.aws's retrying client (jittered backoff on throttling and
    C(ResourceContention)); the actions are listed page by page (100 per call).
options:
  autoscaling_group_name:
    description: Name of the Auto Scaling group.
    type: str
    required: true
  name_prefix:
    description: Only scheduled actions whose names start with this prefix are managed.
    type: str
    required: true
  actions:
    description: The wanted one-off actions. An empty list deletes every managed action.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Scheduled action name; must start with O(name_prefix).
        type: str
        required: true
      start_time:
        description: Start time, ISO 8601 in UTC (V(2027-01-12T19:20:00Z)).
        type: str
        required: true
      min_size:
        description: Minimum size the action sets.
        type: int
        required: true
      max_size:
        description: Maximum size the action sets.
        type: int
        required: true
      desired_capacity:
        description:
          - Desired capacity the action sets; must lie within O(actions[].min_size)..O(actions[].max_size).
          - Omit it (or V(null)) for an action that must not lower the group's capacity (the filter's step-ups).
        type: int
      tier:
        description: Informational (from arena_scaling_schedule), ignored.
        type: str
      events:
        description: Informational (from arena_scaling_schedule), ignored.
        type: list
        elements: str
      kind:
        description: Informational (from arena_scaling_schedule), ignored.
        type: str
  now:
    description: The current time in UTC (ISO 8601) for skipping past actions; defaults to the clock. For tests.
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Apply the web tier's event plan
  arena_scheduled_actions:
    autoscaling_group_name: arena-production-web
    name_prefix: arena-event-web-
    actions: "{{ arena_events | arena_scaling_schedule(arena_capacity_model) | selectattr('tier', 'eq', 'web') }}"
    region: eu-west-1

- name: Raise the floor at 19:20Z without lowering capacity, back to the baseline at 22:15Z
  arena_scheduled_actions:
    autoscaling_group_name: arena-production-web
    name_prefix: arena-event-web-
    actions:
      - name: arena-event-web-20270112T1920Z
        start_time: "2027-01-12T19:20:00Z"
        min_size: 15
        max_size: 40
      - name: arena-event-web-20270112T2215Z
        start_time: "2027-01-12T22:15:00Z"
        min_size: 2
        max_size: 40
        desired_capacity: 2
    region: eu-west-1
"""

RETURN = r"""
created:
  description: Names of the actions created.
  returned: always
  type: list
  elements: str
updated:
  description: Names of the actions replaced because their time or sizes changed (or because they carry a
    DesiredCapacity the wanted action leaves out).
  returned: always
  type: list
  elements: str
deleted:
  description: Names of the managed actions deleted (no longer wanted).
  returned: always
  type: list
  elements: str
skipped_past:
  description: Names of wanted actions not applied because their start time has passed.
  returned: always
  type: list
  elements: str
constraints:
  description: The per-group quota and the counts it is checked against (also returned with a refusal).
  returned: when the group's actions could be read
  type: dict
  contains:
    autoscaling_group_name:
      description: The group.
      type: str
    name_prefix:
      description: O(name_prefix).
      type: str
    quota:
      description: Scheduled actions AWS allows per Auto Scaling group (125).
      type: int
    current:
      description: Scheduled actions the group holds now, every name.
      type: int
    not_managed:
      description: Of those, the ones outside O(name_prefix).
      type: int
    after:
      description: Scheduled actions the group would hold after the run.
      type: int
"""

import contextlib
from datetime import UTC, datetime
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    import botocore

from ansible.module_utils.arena_diff import diff_field, diff_if_asked
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

BATCH = 50  # API limit for batch put/delete of scheduled actions
PAGE = 100  # DescribeScheduledActions MaxRecords: "The default value is 50 and the maximum value is 100"
# "Scheduled actions per Auto Scaling group: 125" (a quota that cannot be changed).
QUOTA = 125
DOC_ASG_QUOTAS = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-quotas.html"
# Throttling is retried by default; ResourceContention is a documented error of the batch calls.
RETRY = AWSRetry.jittered_backoff(retries=10, delay=3, max_delay=60, catch_extra_error_codes=["ResourceContention"])
SIZES = (("min_size", "MinSize"), ("max_size", "MaxSize"), ("desired_capacity", "DesiredCapacity"))


class ActionError(Exception):
    """Bad input, a refused plan or a refused API call; the message is what the module reports."""

    def __init__(self, message: str, constraints: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.constraints = constraints


def parse_utc(text: str, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ActionError(f"{where}: start_time {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ActionError(f"{where}: start_time {text!r} has no UTC offset (write it like 2027-01-12T19:20:00Z)")
    return moment.astimezone(UTC)


def wanted_actions(actions: list[dict[str, Any]], prefix: str, now: datetime) -> tuple[dict[str, dict], list[str]]:
    """Validate the wanted list -> ({name: API shape}, names skipped because they are past)."""
    wanted: dict[str, dict] = {}
    past = []
    for action in actions:
        name = action["name"]
        if not name.startswith(prefix):
            raise ActionError(f"action {name!r} does not start with name_prefix {prefix!r}")
        if name in wanted or name in past:
            raise ActionError(f"action {name!r} is listed twice")
        desired = action.get("desired_capacity")
        if desired is None and not 0 <= action["min_size"] <= action["max_size"]:
            raise ActionError(
                f"action {name!r}: sizes must satisfy 0 <= min_size <= max_size, got "
                f"{action['min_size']}/{action['max_size']}"
            )
        if desired is not None and not 0 <= action["min_size"] <= desired <= action["max_size"]:
            raise ActionError(
                f"action {name!r}: sizes must satisfy 0 <= min_size <= desired_capacity <= max_size, got "
                f"{action['min_size']}/{desired}/{action['max_size']}"
            )
        start = parse_utc(action["start_time"], f"action {name!r}")
        if start <= now:
            past.append(name)
            continue
        sizes = {api: action.get(key) for key, api in SIZES}
        wanted[name] = {"ScheduledActionName": name, "StartTime": start} | {
            api: value for api, value in sizes.items() if value is not None
        }
    return wanted, past


def all_actions(client: Any, group: str) -> dict[str, dict]:
    """Every scheduled action of the group (every name: they all count against the quota)."""
    found: dict[str, dict] = {}
    request: dict[str, Any] = {"AutoScalingGroupName": group, "MaxRecords": PAGE}
    while True:
        page = client.describe_scheduled_actions(aws_retry=True, **request)
        for action in page["ScheduledUpdateGroupActions"]:
            found[action["ScheduledActionName"]] = action
        if not page.get("NextToken"):
            return found
        request["NextToken"] = page["NextToken"]


def count(group: str, prefix: str, every: dict[str, dict], changes: dict[str, list[str]]) -> dict[str, Any]:
    """What the group would hold after ``changes`` (updated actions are replaced, not added)."""
    return {
        "autoscaling_group_name": group,
        "name_prefix": prefix,
        "quota": QUOTA,
        "current": len(every),
        "not_managed": sum(1 for name in every if not name.startswith(prefix)),
        "after": len(every) - len(changes["deleted"]) + len(changes["created"]),
    }


def differs(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    if current.get("Recurrence") or current.get("EndTime"):
        return True
    if current.get("StartTime") is None or current["StartTime"].astimezone(UTC) != wanted["StartTime"]:
        return True
    # A size the wanted action leaves out must be absent from the existing one too (DesiredCapacity on
    # a step-up): AWS would otherwise keep running the old value.
    return any(current.get(api) != wanted.get(api) for _, api in SIZES)


def must_recreate(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Putting an existing action again keeps the parameters the put leaves out (older AWS API reference
    wording of BatchPutScheduledUpdateGroupAction: "If you leave a parameter unspecified when updating a
    scheduled scaling action, the corresponding value remains unchanged"), so dropping a size, a
    recurrence or an end time needs a delete first."""
    if current.get("Recurrence") or current.get("EndTime"):
        return True
    return any(current.get(api) is not None and api not in wanted for _, api in SIZES)


def plan(current: dict[str, dict], wanted: dict[str, dict], now: datetime) -> dict[str, list[str]]:
    """Names to create, update (put again) and delete. Past actions already in AWS are left alone."""
    future_current = {
        name: action
        for name, action in current.items()
        if action.get("StartTime") is None or action["StartTime"].astimezone(UTC) > now
    }
    return {
        "created": sorted(set(wanted) - set(current)),
        "updated": sorted(name for name in wanted if name in current and differs(current[name], wanted[name])),
        "deleted": sorted(set(future_current) - set(wanted)),
    }


def action_view(action: dict[str, Any]) -> dict[str, Any]:
    """What --diff shows of one action (the API shape, times as ISO 8601 UTC)."""
    view: dict[str, Any] = {snake: action[api] for snake, api in SIZES if action.get(api) is not None}
    for snake, api in (("start_time", "StartTime"), ("end_time", "EndTime")):
        if action.get(api) is not None:
            view[snake] = action[api].astimezone(UTC).isoformat()
    if action.get("Recurrence"):
        view["recurrence"] = action["Recurrence"]
    return view


def changes_diff(current: dict[str, dict], wanted: dict[str, dict], changes: dict[str, list[str]]) -> tuple[dict, dict]:
    """(before, after) of the actions this run creates, updates or deletes, by name."""
    names = sorted(changes["created"] + changes["updated"] + changes["deleted"])
    before = {name: action_view(current[name]) for name in names if name in current}
    after = {name: action_view(wanted[name]) for name in names if name in wanted}
    return before, after


def delete_batches(client: Any, group: str, names: list[str]) -> None:
    for index in range(0, len(names), BATCH):
        result = client.batch_delete_scheduled_action(
            AutoScalingGroupName=group, ScheduledActionNames=names[index : index + BATCH], aws_retry=True
        )
        failed = result.get("FailedScheduledActions", [])
        if failed:
            raise ActionError(f"AWS refused to delete scheduled actions on {group}: {failed}")


def apply(
    client: Any,
    group: str,
    wanted: dict[str, dict],
    changes: dict[str, list[str]],
    recreate: list[str],
) -> None:
    """Deletes first (the actions no longer wanted and ``recreate``, updated actions that must lose a
    size), then puts: the group never holds more actions than the larger of before and after, so a
    plan within the quota cannot hit LimitExceeded half-way."""
    delete_batches(client, group, sorted(changes["deleted"] + recreate))
    puts = [wanted[name] for name in changes["created"] + changes["updated"]]
    for index in range(0, len(puts), BATCH):
        result = client.batch_put_scheduled_update_group_action(
            AutoScalingGroupName=group, ScheduledUpdateGroupActions=puts[index : index + BATCH], aws_retry=True
        )
        failed = result.get("FailedScheduledUpdateGroupActions", [])
        if failed:
            raise ActionError(f"AWS refused scheduled actions on {group}: {failed}")


def run(client: Any, params: dict[str, Any], check_mode: bool, show_diff: bool = False) -> dict[str, Any]:
    """The whole module without AnsibleModule: returns the result (with `diff`, the changed actions
    before and after, when `show_diff`), raises ActionError."""
    group, prefix = params["autoscaling_group_name"], params["name_prefix"]
    if not prefix:
        raise ActionError("name_prefix must not be empty (it would manage every scheduled action of the group)")
    now = parse_utc(params["now"], "now") if params.get("now") else datetime.now(UTC)
    wanted, past = wanted_actions(params["actions"] or [], prefix, now)
    every = all_actions(client, group)
    current = {name: action for name, action in every.items() if name.startswith(prefix)}
    changes = plan(current, wanted, now)
    constraints = count(group, prefix, every, changes)
    if constraints["after"] > QUOTA:
        raise ActionError(
            f"{group} would hold {constraints['after']} scheduled actions after this run"
            f" ({constraints['not_managed']} outside name_prefix {prefix!r}); AWS allows {QUOTA} per Auto Scaling"
            f" group and does not raise that quota ({DOC_ASG_QUOTAS})",
            constraints,
        )
    changed = any(changes.values())
    if changed and not check_mode:
        recreate = [name for name in changes["updated"] if must_recreate(current[name], wanted[name])]
        apply(client, group, wanted, changes, recreate)
    shown = diff_field(show_diff, *changes_diff(current, wanted, changes)) if changed else {}
    return {"changed": changed, "skipped_past": past, **changes, "constraints": constraints, **shown}


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "autoscaling_group_name": {"type": "str", "required": True},
            "name_prefix": {"type": "str", "required": True},
            "actions": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "name": {"type": "str", "required": True},
                    "start_time": {"type": "str", "required": True},
                    "min_size": {"type": "int", "required": True},
                    "max_size": {"type": "int", "required": True},
                    "desired_capacity": {"type": "int"},
                    "tier": {"type": "str"},
                    "events": {"type": "list", "elements": "str"},
                    "kind": {"type": "str"},
                },
            },
            "now": {"type": "str"},
        },
        supports_check_mode=True,
    )
    client = module.client("autoscaling", retry_decorator=RETRY)
    try:
        result = run(client, module.params, module.check_mode, show_diff=module._diff)
    except ActionError as error:
        extra = {"constraints": error.constraints} if error.constraints is not None else {}
        module.fail_json(msg=f"arena_scheduled_actions: {error}", **extra)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(
            error, msg=f"arena_scheduled_actions: AWS call failed for {module.params['autoscaling_group_name']}"
        )
    module.exit_json(**diff_if_asked(module, result))


if __name__ == "__main__":
    main()
