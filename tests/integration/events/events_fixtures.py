"""The platform's Auto Scaling groups, created in the emulator the way platform_autoscaling names them.

Running playbooks/platform.yml takes minutes; these groups carry the same names, tags and sizes
(`<arena_project>-<arena_environment>-<tier>`, tags Project/Environment/ManagedBy/Tier/Name),
which tests/unit/roles/test_event_scaling_platform_names.py checks against the platform roles.
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


def create_groups(tiers: dict[str, tuple[int, int, int]] = TIERS) -> list[str]:
    """A launch template per tier and the tier's group over two zones; returns the group names."""
    url = require_emulator()
    ec2 = boto3.client("ec2", endpoint_url=url)
    autoscaling = boto3.client("autoscaling", endpoint_url=url)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    names = []
    for tier, (min_size, max_size, desired) in tiers.items():
        name = group_name(tier)
        ec2.create_launch_template(
            LaunchTemplateName=name, LaunchTemplateData={"ImageId": image, "InstanceType": "t3.small"}
        )
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateName": name, "Version": "$Latest"},
            MinSize=min_size,
            MaxSize=max_size,
            DesiredCapacity=desired,
            AvailabilityZones=zones,
            Tags=[
                {"Key": key, "Value": value, "PropagateAtLaunch": True}
                for key, value in sorted(group_tags(tier).items())
            ],
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
