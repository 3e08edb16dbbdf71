#!/usr/bin/python
# Copyright: arena-infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Roll an Auto Scaling group onto a numbered launch template version with a canary instance refresh."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_autoscaling_instance_refresh
short_description: Roll a group onto a launch template version (canary, alarms, automatic rollback)
description:
  - Starts a rolling instance refresh whose C(DesiredConfiguration) names a numbered version of the
    group's launch template (by default its C($Default) version, which a release makes the new
    image's version), so C(SkipMatching) compares versions and C(AutoRollback) is supported (AWS
    rolls back only between numbered versions whose image is an AMI id, not an SSM parameter;
    RefreshPreferences, U(https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RefreshPreferences.html)).
  - A group that uses a mixed instances policy gets its whole current policy back with only the launch
    template specification changed (the desired configuration replaces the group's when the refresh
    succeeds).
  - Checkpoints (for example 10 then 100 per cent, waiting I(checkpoint_delay) seconds at each) make
    the first instances a canary; I(alarms) (CloudWatch alarm names, which must exist) fail the
    refresh when one goes to ALARM, and with I(auto_rollback) the group returns to its previous version.
  - Instances in a warm pool are replaced by the same refresh (InstanceRefreshWarmPoolProgress).
  - Idempotent. Nothing is started when a refresh of the group is pending or running (that one is
    returned), or when the group and every instance in it are on the desired version already.
  - Not in the C(group/aws) module-defaults group; pass I(region) and I(endpoint_url) explicitly.
options:
  name:
    description: Name of the Auto Scaling group.
    type: str
    required: true
  launch_template_version:
    description:
      - Version of the group's launch template to roll onto, a number, C($Default) or C($Latest).
        It is resolved to its number before the refresh starts.
    type: str
    default: $Default
  min_healthy_percentage:
    description: Share of the desired capacity that must stay healthy during the refresh (0-100).
    type: int
    default: 90
  max_healthy_percentage:
    description:
      - Share of the desired capacity that may be in service or pending during the refresh (100-200),
        at most 100 above I(min_healthy_percentage). Above 100, new instances launch before old ones go.
    type: int
  instance_warmup:
    description: Seconds a new instance needs after InService before it counts as healthy capacity.
    type: int
  checkpoint_percentages:
    description: Checkpoints in per cent of the group, unique and ascending, each 1-100, the last 100.
    type: list
    elements: int
    default: []
  checkpoint_delay:
    description: Seconds to wait at each checkpoint (0-172800); needs I(checkpoint_percentages).
    type: int
  alarms:
    description: CloudWatch alarms that fail the refresh when one is in ALARM (each must exist).
    type: list
    elements: str
    default: []
  skip_matching:
    description: Leave instances that already match the desired configuration alone.
    type: bool
    default: true
  auto_rollback:
    description: Roll back to the group's previous version when the refresh fails or an alarm fires.
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - arena-infra
"""

EXAMPLES = r"""
- name: Roll the web tier onto its launch template's default version, 10 % first
  arena_autoscaling_instance_refresh:
    name: arena-staging-web
    min_healthy_percentage: 90
    max_healthy_percentage: 150
    checkpoint_percentages: [10, 100]
    checkpoint_delay: 600
    alarms: [arena-staging-web-target-5xx, arena-staging-web-unhealthy-hosts]
    region: eu-west-1
"""

RETURN = r"""
instance_refresh_id:
  description: Id of the refresh started, or of the one already running.
  returned: when a refresh was started or is running
  type: str
status:
  description: Pending (just started), WouldStart (check mode), UpToDate, or the running refresh's status.
  returned: always
  type: str
launch_template_version:
  description: The version the group is rolled onto (a number).
  returned: unless a refresh was already running
  type: str
previous_version:
  description: The group's version before the refresh (what a rollback returns to).
  returned: unless a refresh was already running
  type: str
preferences:
  description: The preferences sent to StartInstanceRefresh.
  returned: always
  type: dict
desired_configuration:
  description: The DesiredConfiguration sent to StartInstanceRefresh.
  returned: unless a refresh was already running
  type: dict
"""

import contextlib
import copy
from typing import Any

with contextlib.suppress(ImportError):  # a missing botocore is reported by AnsibleAWSModule
    import botocore

from ansible.module_utils.arena_diff import with_diff
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

ACTIVE_STATES = frozenset({"Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"})
MOVING_VERSIONS = ("$latest", "$default")
# Every call passes aws_retry=True: AWSRetry's throttling codes ("Throttling" is what Auto Scaling
# answers above its API rate). The group, its template and the alarms exist already (a missing one is
# an input error, reported at once), so no not-found code is retried.
RETRY = AWSRetry.jittered_backoff()
# RefreshPreferences limits (botocore's model of the API, and the API reference above).
CHECKPOINT_DELAY_MAX = 172800


class RefreshError(ValueError):
    """An input or a state AWS would refuse; the message names it."""


def _fail(message: str) -> RefreshError:
    return RefreshError(f"arena_autoscaling_instance_refresh: {message}")


def validate(params: dict[str, Any]) -> None:
    """Refuse, before any call, what StartInstanceRefresh refuses (RefreshPreferences)."""
    low, high = params["min_healthy_percentage"], params.get("max_healthy_percentage")
    points, delay = params.get("checkpoint_percentages") or [], params.get("checkpoint_delay")
    version = str(params.get("launch_template_version") or "$Default")
    checks = [
        (not 0 <= low <= 100, f"min_healthy_percentage {low} is outside 0-100"),
        (high is not None and not 100 <= high <= 200, f"max_healthy_percentage {high} is outside 100-200"),
        (
            high is not None and high - low > 100,
            f"max_healthy_percentage {high} is more than 100 above min_healthy_percentage {low}",
        ),
        (
            any(not 1 <= p <= 100 for p in points) or points != sorted(set(points)),
            f"checkpoint_percentages {points} must be unique, ascending and each 1-100",
        ),
        (bool(points) and points[-1] != 100, f"checkpoint_percentages {points} must end with 100 (all instances)"),
        (delay is not None and not points, "checkpoint_delay needs checkpoint_percentages"),
        (
            delay is not None and not 0 <= delay <= CHECKPOINT_DELAY_MAX,
            f"checkpoint_delay {delay} is outside 0-{CHECKPOINT_DELAY_MAX}",
        ),
        (
            version.lower() not in MOVING_VERSIONS and not version.isdigit(),
            f"launch_template_version '{version}' is not a number, $Default or $Latest",
        ),
        (
            any(not a or len(a) > 255 for a in params.get("alarms") or []),
            "alarms must be names of 1-255 characters",
        ),
    ]
    for failed, message in checks:
        if failed:
            raise _fail(message)


def preferences(params: dict[str, Any]) -> dict[str, Any]:
    """Preferences of StartInstanceRefresh from the module parameters."""
    prefs: dict[str, Any] = {
        "MinHealthyPercentage": params["min_healthy_percentage"],
        "SkipMatching": params["skip_matching"],
        "AutoRollback": params["auto_rollback"],
    }
    optional = {
        "MaxHealthyPercentage": params.get("max_healthy_percentage"),
        "InstanceWarmup": params.get("instance_warmup"),
        "CheckpointPercentages": params.get("checkpoint_percentages") or None,
        "CheckpointDelay": params.get("checkpoint_delay"),
    }
    prefs.update({k: v for k, v in optional.items() if v is not None})
    if params.get("alarms"):
        prefs["AlarmSpecification"] = {"Alarms": list(params["alarms"])}
    return prefs


def active_refresh(refreshes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The refresh that is still running, if any."""
    return next((r for r in refreshes if r.get("Status") in ACTIVE_STATES), None)


def group_spec(group: dict[str, Any]) -> dict[str, Any]:
    """The group's launch template specification (of its mixed instances policy, or its own)."""
    policy = group.get("MixedInstancesPolicy")
    spec = policy["LaunchTemplate"]["LaunchTemplateSpecification"] if policy else group.get("LaunchTemplate")
    if not spec:
        raise _fail(f"Auto Scaling group '{group['AutoScalingGroupName']}' has no launch template")
    return spec


def desired_configuration(group: dict[str, Any], template_id: str, version: str) -> dict[str, Any]:
    """DesiredConfiguration: the group's template at `version`; a mixed instances policy whole, with
    only its specification changed. The template goes by id alone: AWS takes an id or a name, not both."""
    spec = {"LaunchTemplateId": template_id, "Version": version}
    policy = group.get("MixedInstancesPolicy")
    if not policy:
        return {"LaunchTemplate": spec}
    policy = copy.deepcopy(policy)
    policy["LaunchTemplate"]["LaunchTemplateSpecification"] = spec
    return {"MixedInstancesPolicy": policy}


def up_to_date(group: dict[str, Any], template_id: str, version: str) -> bool:
    """The group is on `version` and so is every instance in it (AWS reports each instance's version)."""
    spec = group_spec(group)
    if str(spec.get("Version")) != version or spec.get("LaunchTemplateId", template_id) != template_id:
        return False
    return all(
        str((i.get("LaunchTemplate") or {}).get("Version")) == version
        and (i.get("LaunchTemplate") or {}).get("LaunchTemplateId", template_id) == template_id
        for i in group.get("Instances", [])
    )


def run(clients: dict[str, Any], params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """Start the refresh unless one runs or the group is up to date; returns the module result."""
    validate(params)
    autoscaling, ec2 = clients["autoscaling"], clients["ec2"]
    name, prefs = params["name"], preferences(params)
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name], aws_retry=True)
    if not groups["AutoScalingGroups"]:
        raise LookupError(f"arena_autoscaling_instance_refresh: Auto Scaling group '{name}' not found")
    group = groups["AutoScalingGroups"][0]
    running = active_refresh(
        autoscaling.describe_instance_refreshes(AutoScalingGroupName=name, aws_retry=True)["InstanceRefreshes"]
    )
    if running:
        return {
            "changed": False,
            "instance_refresh_id": running["InstanceRefreshId"],
            "status": running["Status"],
            "preferences": prefs,
        }
    spec = group_spec(group)
    template = (
        {"LaunchTemplateId": spec["LaunchTemplateId"]}
        if spec.get("LaunchTemplateId")
        else {"LaunchTemplateName": spec["LaunchTemplateName"]}
    )
    wanted = ec2.describe_launch_template_versions(
        **template, Versions=[str(params.get("launch_template_version") or "$Default")], aws_retry=True
    )["LaunchTemplateVersions"][0]
    template_id, version = wanted["LaunchTemplateId"], str(wanted["VersionNumber"])
    previous = str(spec.get("Version"))
    if params["auto_rollback"]:
        if previous.lower() in MOVING_VERSIONS:
            raise _fail(
                f"group '{name}' uses its launch template's {previous} version: AWS cannot roll back from it; "
                "run playbooks/platform.yml (it pins the group to a numbered version) or set auto_rollback=false"
            )
        image = str(wanted["LaunchTemplateData"].get("ImageId", ""))
        if image.startswith("resolve:ssm:"):
            raise _fail(
                f"version {version} of the launch template takes its image from SSM ({image}): AWS cannot "
                "roll back to or from it; publish the image as a version with its AMI id (playbooks/publish_image.yml)"
            )
    if params.get("alarms"):
        found = clients["cloudwatch"].describe_alarms(
            AlarmNames=list(params["alarms"]), AlarmTypes=["MetricAlarm", "CompositeAlarm"], aws_retry=True
        )
        known = {a["AlarmName"] for a in found.get("MetricAlarms", []) + found.get("CompositeAlarms", [])}
        missing = [a for a in params["alarms"] if a not in known]
        if missing:
            raise _fail(f"alarms {missing} do not exist in CloudWatch: create them first (playbooks/platform.yml)")
    desired = desired_configuration(group, template_id, version)
    result = {
        "launch_template_version": version,
        "previous_version": previous,
        "preferences": prefs,
        "desired_configuration": desired,
    }
    if up_to_date(group, template_id, version):
        return {"changed": False, "status": "UpToDate", **result}
    if check_mode:
        return {"changed": True, "status": "WouldStart", **result}
    started = autoscaling.start_instance_refresh(
        AutoScalingGroupName=name, Strategy="Rolling", DesiredConfiguration=desired, Preferences=prefs, aws_retry=True
    )
    return {"changed": True, "instance_refresh_id": started["InstanceRefreshId"], "status": "Pending", **result}


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "launch_template_version": {"type": "str", "default": "$Default"},
            "min_healthy_percentage": {"type": "int", "default": 90},
            "max_healthy_percentage": {"type": "int"},
            "instance_warmup": {"type": "int"},
            "checkpoint_percentages": {"type": "list", "elements": "int", "default": []},
            "checkpoint_delay": {"type": "int"},
            "alarms": {"type": "list", "elements": "str", "default": []},
            "skip_matching": {"type": "bool", "default": True},
            "auto_rollback": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    autoscaling = module.client("autoscaling", retry_decorator=RETRY)
    ec2 = module.client("ec2", retry_decorator=RETRY)
    cloudwatch = module.client("cloudwatch", retry_decorator=RETRY)
    clients = {"autoscaling": autoscaling, "ec2": ec2, "cloudwatch": cloudwatch}
    try:
        result = run(clients, module.params, module.check_mode)
    except (ValueError, LookupError) as e:
        module.fail_json(msg=str(e))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"arena_autoscaling_instance_refresh: cannot refresh '{module.params['name']}'")
    before = {"launch_template_version": result.get("previous_version")}
    after = {"launch_template_version": result.get("launch_template_version"), "status": result["status"]}
    module.exit_json(**with_diff(module, result, before, after))


if __name__ == "__main__":
    main()
