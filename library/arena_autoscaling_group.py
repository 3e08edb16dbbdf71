#!/usr/bin/python
# Copyright: arena-infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Auto Scaling group with a mixed instances policy and capacity rebalance, idempotently."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_autoscaling_group
short_description: Auto Scaling group over a launch template with a mixed instances policy
description:
  - Creates, updates or deletes an Auto Scaling group whose instances come from a launch template
    through a mixed instances policy (on-demand base, spot above it, several instance types),
    with capacity rebalance, ELB health checks and target groups.
  - Compares the group with the request and calls only what differs, so a second run changes
    nothing. The desired capacity is set at creation only (scaling policies own it afterwards)
    and clamped into min..max on update.
  - Written because C(amazon.aws.autoscaling_group) has no capacity rebalance option, and against
    the emulator it fails on DisableMetricsCollection and is idempotent only with tags sorted by key.
  - Not in the C(group/aws) module-defaults group; pass I(region) and I(endpoint_url) explicitly.
options:
  name:
    description: Name of the group.
    type: str
    required: true
  state:
    description: present or absent.
    type: str
    choices: [present, absent]
    default: present
  launch_template:
    description: Name of the launch template. Required when I(state=present).
    type: str
  launch_template_version:
    description: Version of the launch template; C($Latest) follows new versions at the next refresh.
    type: str
    default: $Latest
  pin_launch_template_version:
    description:
      - Keep the group on a numbered version. A new group (or one on C($Latest), C($Default) or another
        template) gets the number I(launch_template_version) resolves to now (EC2
        DescribeLaunchTemplates); an existing group on a numbered version of the template keeps it.
      - Releases move a pinned group to a new version with an instance refresh
        (arena_autoscaling_instance_refresh), which is what AWS needs to roll one back; a platform run
        then never rolls a new image out by itself.
    type: bool
    default: false
  subnet_ids:
    description: Subnets of the group (spread over two availability zones or more).
    type: list
    elements: str
  min_size:
    description: Minimum size.
    type: int
  max_size:
    description: Maximum size.
    type: int
  desired_capacity:
    description: Desired capacity at creation (defaults to I(min_size)).
    type: int
  instance_types:
    description: Instance types of the mixed instances policy, in order of preference.
    type: list
    elements: str
  on_demand_base_capacity:
    description: On-demand instances before any spot instance.
    type: int
    default: 0
  spot_percentage:
    description: Share (0-100) of the capacity above the on-demand base that runs on spot.
    type: int
    default: 0
  spot_allocation_strategy:
    description: Spot allocation strategy.
    type: str
    default: price-capacity-optimized
  capacity_rebalance:
    description: Replace spot instances at elevated interruption risk before they are interrupted.
    type: bool
    default: false
  health_check_type:
    description: EC2 or ELB.
    type: str
    choices: [EC2, ELB]
    default: ELB
  health_check_grace_period:
    description: Seconds after launch before health checks count.
    type: int
    default: 300
  default_instance_warmup:
    description: Seconds a new instance takes to contribute to the metrics.
    type: int
  target_group_arns:
    description: Target groups the instances register with.
    type: list
    elements: str
    default: []
  metrics_collection:
    description:
      - Group metrics to collect at one-minute granularity (EnableMetricsCollection; AWS publishes them
        at no charge, U(https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-metrics.html)),
        for example C(GroupMinSize) and C(GroupInServiceInstances), which the capacity shortfall alarm
        compares. Metrics missing from the group's EnabledMetrics are enabled; others already enabled
        are left on (DisableMetricsCollection is one of the emulator's gaps).
    type: list
    elements: str
    default: []
  tags:
    description: Tags of the group, propagated to its instances at launch.
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
- name: Web tier group
  arena_autoscaling_group:
    name: arena-local-web
    launch_template: arena-local-web
    subnet_ids: [subnet-1, subnet-2]
    min_size: 2
    max_size: 6
    instance_types: [t3.small, t3a.small, m6i.large]
    on_demand_base_capacity: 1
    spot_percentage: 70
    capacity_rebalance: true
    health_check_type: ELB
    health_check_grace_period: 120
    target_group_arns: [arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/arena-local-web/1]
    tags: {Project: arena, Environment: local, Tier: web, ManagedBy: arena-infra}
    region: eu-west-1
    endpoint_url: http://127.0.0.1:5000
"""

RETURN = r"""
auto_scaling_group:
  description: The group as DescribeAutoScalingGroups returns it (snake_case); empty when absent.
  returned: always
  type: dict
actions:
  description: API calls made (or, in check mode, that would be made).
  returned: always
  type: list
  elements: str
"""

import contextlib
from typing import Any

with contextlib.suppress(ImportError):  # a missing botocore is reported by AnsibleAWSModule
    import botocore

from ansible.module_utils.arena_diff import with_diff
from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# Every call passes aws_retry=True: AWSRetry's throttling codes, and ScalingActivityInProgress ("The
# operation can't be performed because there are scaling activities in progress"), which
# UpdateAutoScalingGroup and DeleteAutoScalingGroup answer while the group launches or terminates
# instances (a group created or resized a moment ago); it clears when the activity ends.
# amazon.aws.autoscaling_group retries it on delete the same way.
# https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DeleteAutoScalingGroup.html
# https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_UpdateAutoScalingGroup.html
RETRY = AWSRetry.jittered_backoff(catch_extra_error_codes=["ScalingActivityInProgress"])


def validate(params: dict[str, Any]) -> str | None:
    """Message for the first bad input, or None. Runs before any API call."""
    if params["state"] == "absent":
        return None
    required = ("launch_template", "subnet_ids", "min_size", "max_size", "instance_types")
    missing = [k for k in required if params.get(k) in (None, "", [])]
    desired = params.get("desired_capacity")
    checks = [
        (bool(missing), f"{', '.join(missing)} required when state=present"),
        (
            not missing and not 0 <= params["min_size"] <= params["max_size"],
            f"min_size {params['min_size']} must be 0..max_size ({params['max_size']})",
        ),
        (
            not missing and desired is not None and not params["min_size"] <= desired <= params["max_size"],
            f"desired_capacity {desired} is outside min_size..max_size",
        ),
        (
            not 0 <= params["spot_percentage"] <= 100,
            f"spot_percentage {params['spot_percentage']} is outside 0-100",
        ),
        (params["on_demand_base_capacity"] < 0, "on_demand_base_capacity must be >= 0"),
    ]
    for failed, message in checks:
        if failed:
            return f"arena_autoscaling_group: {message}"
    return None


def desired_policy(params: dict[str, Any]) -> dict[str, Any]:
    """MixedInstancesPolicy as the API takes it."""
    return {
        "LaunchTemplate": {
            "LaunchTemplateSpecification": {
                "LaunchTemplateName": params["launch_template"],
                "Version": params["launch_template_version"],
            },
            "Overrides": [{"InstanceType": t} for t in params["instance_types"]],
        },
        "InstancesDistribution": {
            "OnDemandBaseCapacity": params["on_demand_base_capacity"],
            "OnDemandPercentageAboveBaseCapacity": 100 - params["spot_percentage"],
            "SpotAllocationStrategy": params["spot_allocation_strategy"],
        },
    }


def policy_differs(current: dict[str, Any] | None, desired: dict[str, Any]) -> bool:
    """Compare the parts of the mixed instances policy this module manages."""
    if not current:
        return True
    cur_lt = current.get("LaunchTemplate", {})
    cur_spec = cur_lt.get("LaunchTemplateSpecification", {})
    want_spec = desired["LaunchTemplate"]["LaunchTemplateSpecification"]
    if cur_spec.get("LaunchTemplateName") != want_spec["LaunchTemplateName"]:
        return True
    if cur_spec.get("Version") != want_spec["Version"]:
        return True
    cur_types = [o.get("InstanceType") for o in cur_lt.get("Overrides", [])]
    if cur_types != [o["InstanceType"] for o in desired["LaunchTemplate"]["Overrides"]]:
        return True
    cur_dist = current.get("InstancesDistribution", {})
    return any(cur_dist.get(k) != v for k, v in desired["InstancesDistribution"].items())


def update_request(group: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Arguments of UpdateAutoScalingGroup for what differs (empty: nothing to do)."""
    req: dict[str, Any] = {}
    subnets = ",".join(sorted(params["subnet_ids"]))
    if ",".join(sorted(filter(None, group.get("VPCZoneIdentifier", "").split(",")))) != subnets:
        req["VPCZoneIdentifier"] = subnets
    wanted = {
        "MinSize": params["min_size"],
        "MaxSize": params["max_size"],
        "HealthCheckType": params["health_check_type"],
        "HealthCheckGracePeriod": params["health_check_grace_period"],
        "CapacityRebalance": params["capacity_rebalance"],
    }
    if params.get("default_instance_warmup") is not None:
        wanted["DefaultInstanceWarmup"] = params["default_instance_warmup"]
    req.update({k: v for k, v in wanted.items() if group.get(k) != v})
    desired = group.get("DesiredCapacity", params["min_size"])
    clamped = min(max(desired, params["min_size"]), params["max_size"])
    if clamped != desired:
        req["DesiredCapacity"] = clamped
    policy = desired_policy(params)
    # Any update carries the whole mixed instances policy: the emulator drops the policy on an
    # update that leaves it out (AWS keeps it; sending the same policy again changes nothing).
    if req or policy_differs(group.get("MixedInstancesPolicy"), policy):
        req["MixedInstancesPolicy"] = policy
    return req


def tag_changes(group: dict[str, Any], name: str, tags: dict[str, str]) -> tuple[list, list]:
    """(tags to create or update, tags to delete), each sorted by key."""
    current = {t["Key"]: (t["Value"], t.get("PropagateAtLaunch")) for t in group.get("Tags", [])}
    base = {"ResourceId": name, "ResourceType": "auto-scaling-group"}
    upsert = [
        {**base, "Key": k, "Value": str(v), "PropagateAtLaunch": True}
        for k, v in sorted(tags.items())
        if current.get(k) != (str(v), True)
    ]
    delete = [{**base, "Key": k} for k in sorted(current) if k not in tags]
    return upsert, delete


def group_view(group: dict[str, Any] | None) -> dict[str, Any]:
    """What --diff shows of a group (API shape in, {} for none): the settings this module manages."""
    if not group:
        return {}
    policy = group.get("MixedInstancesPolicy") or {}
    template = policy.get("LaunchTemplate", {})
    spec = template.get("LaunchTemplateSpecification", {})
    distribution = policy.get("InstancesDistribution", {})
    managed = ("OnDemandBaseCapacity", "OnDemandPercentageAboveBaseCapacity", "SpotAllocationStrategy")
    return {
        "min_size": group.get("MinSize"),
        "max_size": group.get("MaxSize"),
        "desired_capacity": group.get("DesiredCapacity"),
        "subnet_ids": sorted(filter(None, group.get("VPCZoneIdentifier", "").split(","))),
        "health_check_type": group.get("HealthCheckType"),
        "health_check_grace_period": group.get("HealthCheckGracePeriod"),
        "capacity_rebalance": group.get("CapacityRebalance"),
        "default_instance_warmup": group.get("DefaultInstanceWarmup"),
        "launch_template": spec.get("LaunchTemplateName"),
        "launch_template_version": spec.get("Version"),
        "instance_types": [o.get("InstanceType") for o in template.get("Overrides", [])],
        "instances_distribution": {k: distribution.get(k) for k in managed},
        "target_group_arns": sorted(group.get("TargetGroupARNs", [])),
        "metrics_collection": sorted(m.get("Metric") for m in group.get("EnabledMetrics", [])),
        "tags": {t["Key"]: t["Value"] for t in sorted(group.get("Tags", []), key=lambda t: t["Key"])},
    }


def wanted_view(group: dict[str, Any] | None, params: dict[str, Any]) -> dict[str, Any]:
    """The group as this run leaves it, in group_view's terms."""
    enabled = sorted(
        {m.get("Metric") for m in (group or {}).get("EnabledMetrics", [])} | set(params.get("metrics_collection") or [])
    )
    metrics = {"EnabledMetrics": [{"Metric": m, "Granularity": "1Minute"} for m in enabled]}
    if group is None:
        return group_view({**create_request(params), **metrics})
    tags = [{"Key": k, "Value": str(v)} for k, v in params["tags"].items()]
    changed = update_request(group, params)
    return group_view({**group, **changed, "TargetGroupARNs": params["target_group_arns"], "Tags": tags, **metrics})


def describe(client, name: str) -> dict[str, Any] | None:
    groups = client.describe_auto_scaling_groups(AutoScalingGroupNames=[name], aws_retry=True)["AutoScalingGroups"]
    return groups[0] if groups else None


def create_request(params: dict[str, Any]) -> dict[str, Any]:
    """Arguments of CreateAutoScalingGroup."""
    request = {
        "AutoScalingGroupName": params["name"],
        "MixedInstancesPolicy": desired_policy(params),
        "MinSize": params["min_size"],
        "MaxSize": params["max_size"],
        "DesiredCapacity": params["min_size"] if params["desired_capacity"] is None else params["desired_capacity"],
        "VPCZoneIdentifier": ",".join(sorted(params["subnet_ids"])),
        "HealthCheckType": params["health_check_type"],
        "HealthCheckGracePeriod": params["health_check_grace_period"],
        "CapacityRebalance": params["capacity_rebalance"],
        "TargetGroupARNs": sorted(params["target_group_arns"]),
        "Tags": tag_changes({}, params["name"], params["tags"])[0],
    }
    if params["default_instance_warmup"] is not None:
        request["DefaultInstanceWarmup"] = params["default_instance_warmup"]
    return request


def metrics_to_enable(group: dict[str, Any] | None, params: dict[str, Any]) -> list[str]:
    """The wanted group metrics the group does not collect yet (sorted)."""
    enabled = {m.get("Metric") for m in (group or {}).get("EnabledMetrics", [])}
    return sorted(set(params.get("metrics_collection") or []) - enabled)


def enable_metrics(client, name: str, metrics: list[str], check: bool) -> list[str]:
    if not metrics:
        return []
    if not check:
        client.enable_metrics_collection(
            AutoScalingGroupName=name, Metrics=metrics, Granularity="1Minute", aws_retry=True
        )
    return ["EnableMetricsCollection " + ",".join(metrics)]


def ensure_present(module, client, group: dict[str, Any] | None) -> list[str]:
    params = module.params
    name = params["name"]
    check = module.check_mode
    if group is None:
        if not check:
            client.create_auto_scaling_group(aws_retry=True, **create_request(params))
        return ["CreateAutoScalingGroup", *enable_metrics(client, name, metrics_to_enable(None, params), check)]
    actions: list[str] = enable_metrics(client, name, metrics_to_enable(group, params), check)
    request = update_request(group, params)
    if request:
        actions.append("UpdateAutoScalingGroup " + ",".join(sorted(request)))
        if not check:
            client.update_auto_scaling_group(AutoScalingGroupName=name, aws_retry=True, **request)
    current_tgs = set(group.get("TargetGroupARNs", []))
    wanted_tgs = set(params["target_group_arns"])
    if wanted_tgs - current_tgs:
        actions.append("AttachLoadBalancerTargetGroups")
        if not check:
            client.attach_load_balancer_target_groups(
                AutoScalingGroupName=name, TargetGroupARNs=sorted(wanted_tgs - current_tgs), aws_retry=True
            )
    if current_tgs - wanted_tgs:
        actions.append("DetachLoadBalancerTargetGroups")
        if not check:
            client.detach_load_balancer_target_groups(
                AutoScalingGroupName=name, TargetGroupARNs=sorted(current_tgs - wanted_tgs), aws_retry=True
            )
    upsert, delete = tag_changes(group, name, params["tags"])
    if upsert:
        actions.append("CreateOrUpdateTags")
        if not check:
            client.create_or_update_tags(Tags=upsert, aws_retry=True)
    if delete:
        actions.append("DeleteTags")
        if not check:
            client.delete_tags(Tags=delete, aws_retry=True)
    return actions


def pinned_version(group: dict[str, Any] | None, params: dict[str, Any], ec2, check_mode: bool) -> str:
    """The numbered version a pinned group is on: its own, or what launch_template_version resolves to."""
    spec = (((group or {}).get("MixedInstancesPolicy") or {}).get("LaunchTemplate") or {}).get(
        "LaunchTemplateSpecification"
    ) or {}
    current = str(spec.get("Version", ""))
    if spec.get("LaunchTemplateName") == params["launch_template"] and current.isdigit():
        return current
    wanted = str(params["launch_template_version"])
    if wanted.isdigit():
        return wanted
    try:
        template = ec2.describe_launch_templates(LaunchTemplateNames=[params["launch_template"]], aws_retry=True)[
            "LaunchTemplates"
        ][0]
    except botocore.exceptions.ClientError as e:
        # In check mode the template may be one this run would create: its first version.
        if check_mode and e.response["Error"]["Code"] == "InvalidLaunchTemplateName.NotFoundException":
            return "1"
        raise
    key = "LatestVersionNumber" if wanted.lower() == "$latest" else "DefaultVersionNumber"
    return str(template[key])


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "launch_template": {"type": "str"},
            "launch_template_version": {"type": "str", "default": "$Latest"},
            "pin_launch_template_version": {"type": "bool", "default": False},
            "subnet_ids": {"type": "list", "elements": "str"},
            "min_size": {"type": "int"},
            "max_size": {"type": "int"},
            "desired_capacity": {"type": "int"},
            "instance_types": {"type": "list", "elements": "str"},
            "on_demand_base_capacity": {"type": "int", "default": 0},
            "spot_percentage": {"type": "int", "default": 0},
            "spot_allocation_strategy": {"type": "str", "default": "price-capacity-optimized"},
            "capacity_rebalance": {"type": "bool", "default": False},
            "health_check_type": {"type": "str", "choices": ["EC2", "ELB"], "default": "ELB"},
            "health_check_grace_period": {"type": "int", "default": 300},
            "default_instance_warmup": {"type": "int"},
            "target_group_arns": {"type": "list", "elements": "str", "default": []},
            "metrics_collection": {"type": "list", "elements": "str", "default": []},
            "tags": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    problem = validate(module.params)
    if problem:
        module.fail_json(msg=problem)
    client = module.client("autoscaling", retry_decorator=RETRY)
    name = module.params["name"]
    try:
        group = describe(client, name)
        if module.params["state"] == "absent":
            actions = []
            if group is not None:
                actions.append("DeleteAutoScalingGroup")
                if not module.check_mode:
                    client.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True, aws_retry=True)
            result = {"changed": bool(actions), "actions": actions, "auto_scaling_group": {}}
            module.exit_json(**with_diff(module, result, group_view(group), {}))
        if module.params["pin_launch_template_version"]:
            ec2 = module.client("ec2", retry_decorator=RETRY)
            module.params["launch_template_version"] = pinned_version(group, module.params, ec2, module.check_mode)
        actions = ensure_present(module, client, group)
        after = describe(client, name) if actions and not module.check_mode else group
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"arena_autoscaling_group: cannot manage group '{name}'")
    result = {
        "changed": bool(actions),
        "actions": actions,
        "auto_scaling_group": camel_dict_to_snake_dict(after or {}, ignore_list=["Tags"]),
    }
    module.exit_json(**with_diff(module, result, group_view(group), wanted_view(group, module.params)))


if __name__ == "__main__":
    main()
