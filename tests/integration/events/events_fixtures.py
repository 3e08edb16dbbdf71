"""The platform's Auto Scaling groups, created in the emulator the way platform_autoscaling makes them.

Running playbooks/platform.yml takes minutes; these groups carry the same names, tags, sizes and,
like every platform group (library/arena_autoscaling_group.py), a mixed instances policy with the
tier's instance types and Spot share (`<arena_project>-<arena_environment>-<tier>`, tags
Project/Environment/ManagedBy/Tier/Name), which tests/unit/roles/test_event_scaling_platform_names.py
checks against the platform roles. `create_groups(mixed=False)` makes on-demand groups with a launch
lifecycle hook instead: the design a warm pool would need (AWS refuses one on a mixed-instances group).
Only ever talks to the emulator (AWS_ENDPOINT_URL on loopback).
"""

from __future__ import annotations

import os
from typing import Any

import boto3

PROJECT = "arena"
ENVIRONMENT = "local"
# platform_autoscaling_tiers defaults (roles/platform_autoscaling/defaults/main.yml): min, max, desired.
TIERS = {"web": (2, 6, 2), "api": (2, 6, 2), "admin": (1, 2, 1)}
# platform_autoscaling_tiers defaults: instance types, on-demand base, Spot share above it.
MIXED = {
    "web": (["c6i.large", "c6a.large", "m6i.large", "m6a.large"], 1, 70),
    "api": (["c6i.xlarge", "c6a.xlarge", "m6i.xlarge", "m6a.xlarge"], 1, 50),
    "admin": (["t3.small", "t3a.small"], 1, 0),
}
LAUNCH_HOOK = "arena-boot"  # on-demand groups only: what a warm pool needs


def group_name(tier: str, project: str = PROJECT, environment: str = ENVIRONMENT) -> str:
    """platform_autoscaling: name "{{ platform_autoscaling_name_prefix }}-{{ tier }}", prefix project-environment."""
    return f"{project}-{environment}-{tier}"


def group_tags(tier: str) -> dict[str, str]:
    """platform_autoscaling_tags + Tier + Name."""
    return {
        "Project": PROJECT,
        "Environment": ENVIRONMENT,
        "ManagedBy": "arena-infra",
        "Tier": tier,
        "Name": group_name(tier),
    }


def require_emulator() -> str:
    url = os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_URL") or ""
    if not url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise SystemExit(f"events_fixtures: AWS_ENDPOINT_URL must point at the local emulator, not {url!r}")
    return url


def mixed_instances_policy(tier: str, template: str) -> dict[str, Any]:
    """What arena_autoscaling_group sends: the tier's types over the launch template, Spot above the base."""
    types, base, spot = MIXED[tier]
    return {
        "LaunchTemplate": {
            "LaunchTemplateSpecification": {"LaunchTemplateName": template, "Version": "$Latest"},
            "Overrides": [{"InstanceType": instance_type} for instance_type in types],
        },
        "InstancesDistribution": {
            "OnDemandBaseCapacity": base,
            "OnDemandPercentageAboveBaseCapacity": 100 - spot,
            "SpotAllocationStrategy": "price-capacity-optimized",
        },
    }


def create_groups(tiers: dict[str, tuple[int, int, int]] = TIERS, *, mixed: bool = True) -> list[str]:
    """A launch template per tier and the tier's group over two zones; returns the group names.

    mixed: the platform's mixed instances policy (True), or an on-demand group over the launch
    template with a lifecycle hook on autoscaling:EC2_INSTANCE_LAUNCHING (False).
    """
    url = require_emulator()
    ec2 = boto3.client("ec2", endpoint_url=url)
    autoscaling = boto3.client("autoscaling", endpoint_url=url)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    names = []
    for tier, (min_size, max_size, desired) in tiers.items():
        name = group_name(tier)
        # The tier's first type (the capacity model's): what an on-demand group launches, and what
        # event_scaling checks it can launch.
        ec2.create_launch_template(
            LaunchTemplateName=name, LaunchTemplateData={"ImageId": image, "InstanceType": MIXED[tier][0][0]}
        )
        launch = (
            {"MixedInstancesPolicy": mixed_instances_policy(tier, name)}
            if mixed
            else {"LaunchTemplate": {"LaunchTemplateName": name, "Version": "$Latest"}}
        )
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            **launch,
            MinSize=min_size,
            MaxSize=max_size,
            DesiredCapacity=desired,
            AvailabilityZones=zones,
            Tags=[
                {"Key": key, "Value": value, "PropagateAtLaunch": True}
                for key, value in sorted(group_tags(tier).items())
            ],
        )
        if not mixed:
            autoscaling.put_lifecycle_hook(
                LifecycleHookName=LAUNCH_HOOK,
                AutoScalingGroupName=name,
                LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING",
                HeartbeatTimeout=300,
                DefaultResult="CONTINUE",
            )
        names.append(name)
    return names


def delete_groups(tiers: dict[str, Any] = TIERS) -> None:
    url = require_emulator()
    ec2 = boto3.client("ec2", endpoint_url=url)
    autoscaling = boto3.client("autoscaling", endpoint_url=url)
    for tier in tiers:
        autoscaling.delete_auto_scaling_group(AutoScalingGroupName=group_name(tier), ForceDelete=True)
        ec2.delete_launch_template(LaunchTemplateName=group_name(tier))
