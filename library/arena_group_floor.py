#!/usr/bin/python
"""Ansible module: raise an Auto Scaling group's MinSize now, never lower it."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_group_floor
short_description: Raise an Auto Scaling group's minimum size now (never lower it)
description:
  - Raises the group's MinSize to O(min_size) at once with UpdateAutoScalingGroup, when it is below;
    leaves the group alone when its MinSize is already at or above it (idempotent, and it never lowers a
    floor or a capacity).
  - For a live event inside its lead time, or already running (the C(immediate) actions of the
    C(arena_scaling_schedule) filter planned as of now). A scheduled action cannot do it, "If you try to
    schedule your action in the past, Amazon EC2 Auto Scaling returns an error message"
    (U(https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutScheduledUpdateGroupAction.html)),
    and one a short time ahead would depend on the controller's clock agreeing with AWS's.
  - UpdateAutoScalingGroup, "If you specify a new value for MinSize without specifying a value for
    DesiredCapacity, and the new MinSize is larger than the current size of the group, this sets the group's
    DesiredCapacity to the new MinSize value"
    (U(https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_UpdateAutoScalingGroup.html)); the group
    launches up to the floor now, and a desired capacity above it (target tracking's) stays. DesiredCapacity
    and MaxSize are never sent.
  - The update carries the group's own mixed instances policy (or launch template) as read; the AWS emulator
    drops either from a group on an update that leaves it out; AWS keeps what the request leaves out, and
    sending the same again changes nothing. A launch template is named by its id only (AWS takes an id or a
    name, not both).
  - When it raises the floor it warns, naming O(reason). A O(min_size) above the group's MaxSize is refused
    before any change (AWS would refuse it too).
  - Replaces nothing in the collections; C(amazon.aws.autoscaling_group) manages the whole group (its
    defaults would reset settings C(playbooks/platform.yml) owns) and cannot express "raise only".
  - Every call goes through amazon.aws's retrying client (throttling, and the documented
    C(ScalingActivityInProgress) and C(ResourceContention) errors of UpdateAutoScalingGroup).
options:
  autoscaling_group_name:
    description: Name of the Auto Scaling group.
    type: str
    required: true
  min_size:
    description: The floor the group must have at least, now.
    type: int
    required: true
  reason:
    description: Why (the events that hold the floor), for the warning.
    type: str
    default: ""
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Raise the web floor now for a game inside its lead time
  arena_group_floor:
    autoscaling_group_name: arena-production-web
    min_size: 15
    reason: "event 'Arena Basket vs Real Madrid'"
    region: eu-west-1
"""

RETURN = r"""
autoscaling_group_name:
  description: The group.
  returned: always
  type: str
min_size_before:
  description: The group's MinSize before the run.
  returned: always
  type: int
min_size:
  description: The group's MinSize after the run (in check mode, what it would be).
  returned: always
  type: int
desired_capacity_before:
  description: The group's DesiredCapacity before the run.
  returned: always
  type: int
max_size:
  description: The group's MaxSize (unchanged).
  returned: always
  type: int
"""

import contextlib
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    import botocore

from ansible.module_utils.arena_diff import diff_field, diff_if_asked
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

DOC_UPDATE_GROUP = "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_UpdateAutoScalingGroup.html"
# Throttling is retried by default; both extra codes are documented errors of UpdateAutoScalingGroup
# ("there are scaling activities in progress", "You already have a pending update").
RETRY = AWSRetry.jittered_backoff(
    retries=10, delay=3, max_delay=60, catch_extra_error_codes=["ScalingActivityInProgress", "ResourceContention"]
)


class FloorError(Exception):
    """Bad input or a refused floor; the message is what the module reports."""


def read_group(client: Any, group: str) -> dict[str, Any]:
    groups = client.describe_auto_scaling_groups(AutoScalingGroupNames=[group], aws_retry=True)["AutoScalingGroups"]
    if not groups:
        raise FloorError(f"no Auto Scaling group named {group!r}")
    return groups[0]


def _by_id(spec: dict[str, Any]) -> dict[str, Any]:
    """A launch template specification as a request takes it: the id (or else the name), the version."""
    key = "LaunchTemplateId" if spec.get("LaunchTemplateId") else "LaunchTemplateName"
    return {key: spec[key]} | ({"Version": spec["Version"]} if spec.get("Version") else {})


def unchanged_launch(found: dict[str, Any]) -> dict[str, Any]:
    """The group's own mixed instances policy or launch template, to send back unchanged (module docs)."""
    policy = found.get("MixedInstancesPolicy")
    if policy:
        launch = dict(policy.get("LaunchTemplate") or {})
        if launch.get("LaunchTemplateSpecification"):
            launch["LaunchTemplateSpecification"] = _by_id(launch["LaunchTemplateSpecification"])
        launch["Overrides"] = [
            {**o, "LaunchTemplateSpecification": _by_id(o["LaunchTemplateSpecification"])}
            if o.get("LaunchTemplateSpecification")
            else o
            for o in launch.get("Overrides") or []
        ]
        return {"MixedInstancesPolicy": {**policy, "LaunchTemplate": launch}}
    if found.get("LaunchTemplate"):
        return {"LaunchTemplate": _by_id(found["LaunchTemplate"])}
    return {}


def run(
    client: Any, params: dict[str, Any], check_mode: bool, show_diff: bool = False
) -> tuple[dict[str, Any], str | None]:
    """The whole module without AnsibleModule: (result with the diff when ``show_diff``, warning or
    None); raises FloorError."""
    group, floor = params["autoscaling_group_name"], params["min_size"]
    if floor < 0:
        raise FloorError(f"min_size must be >= 0, got {floor}")
    found = read_group(client, group)
    before, desired, maximum = found["MinSize"], found["DesiredCapacity"], found["MaxSize"]
    result = {
        "autoscaling_group_name": group,
        "min_size_before": before,
        "min_size": max(before, floor),
        "desired_capacity_before": desired,
        "max_size": maximum,
    }
    if before >= floor:
        return {"changed": False, **result}, None
    if floor > maximum:
        raise FloorError(
            f"{group}: min_size {floor} is above the group's MaxSize {maximum}; AWS refuses a MinSize above"
            f" MaxSize ({DOC_UPDATE_GROUP})"
        )
    if not check_mode:
        client.update_auto_scaling_group(
            AutoScalingGroupName=group, MinSize=floor, **unchanged_launch(found), aws_retry=True
        )
    verb = "would raise" if check_mode else "raised"
    reason = f" for {params['reason']}" if params.get("reason") else ""
    warning = (
        f"arena_group_floor: {verb} {group} MinSize from {before} to {floor} now{reason} (desired capacity was"
        f" {desired}: AWS raises it to the new MinSize when it is lower)"
    )
    shown = diff_field(show_diff, {"min_size": before}, {"min_size": floor})
    return {"changed": True, **result, **shown}, warning


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "autoscaling_group_name": {"type": "str", "required": True},
            "min_size": {"type": "int", "required": True},
            "reason": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    client = module.client("autoscaling", retry_decorator=RETRY)
    try:
        result, warning = run(client, module.params, module.check_mode, show_diff=module._diff)
    except FloorError as error:
        module.fail_json(msg=f"arena_group_floor: {error}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(
            error, msg=f"arena_group_floor: AWS call failed for {module.params['autoscaling_group_name']}"
        )
    if warning:
        module.warn(warning)
    module.exit_json(**diff_if_asked(module, result))


if __name__ == "__main__":
    main()
