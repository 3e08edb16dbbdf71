"""The lab catches an image/platform contract break by itself: reverting "instance tags in instance
metadata" on the api tier's launch template (the defect that left every tier unconfigured on AWS)
makes an instance launched from the group fail its target group's health check, and putting it back
makes the next launch healthy.

AWS: with InstanceMetadataTags disabled, /latest/meta-data/tags/instance/ answers 404
(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/work-with-tags-in-IMDS.html), so first boot
(roles/runtime_config) cannot learn its environment and writes no runtime configuration.

Runs in the image gate's lab (scripts/gate.sh: emulator with the platform core, the baked api image
published, its runtime configuration seeded); skipped elsewhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ROOT / "scripts" / "lab" / "launch.py"
GROUP = "arena-local-api"
PREFIX = "ami-contract"
# Request fields of LaunchTemplateData that a describe answer also carries.
REQUEST_KEYS = (
    "ImageId",
    "InstanceType",
    "IamInstanceProfile",
    "MetadataOptions",
    "BlockDeviceMappings",
    "NetworkInterfaces",
    "TagSpecifications",
    "UserData",
    "SecurityGroupIds",
)

pytestmark = pytest.mark.skipif(
    not os.environ.get("ARENA_LAB_CONTRACT"),
    reason="runs in the image gate's lab (scripts/gate.sh sets ARENA_LAB_CONTRACT)",
)


@pytest.fixture(scope="module")
def clients() -> dict[str, Any]:
    import boto3  # noqa: PLC0415 -- only when the lab runs

    url, region = os.environ["AWS_URL"], os.environ["AWS_REGION"]
    return {s: boto3.client(s, endpoint_url=url, region_name=region) for s in ("autoscaling", "ec2")}


def current_template(clients: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    group = clients["autoscaling"].describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])["AutoScalingGroups"][0]
    spec = group["MixedInstancesPolicy"]["LaunchTemplate"]["LaunchTemplateSpecification"]
    version = clients["ec2"].describe_launch_template_versions(
        LaunchTemplateId=spec["LaunchTemplateId"], Versions=[spec["Version"]]
    )["LaunchTemplateVersions"][0]
    return spec["LaunchTemplateId"], version["LaunchTemplateData"]


def new_version(clients: dict[str, Any], template_id: str, data: dict[str, Any], tags: str) -> None:
    """A new template version (the group launches $Latest) with tags in metadata on or off. The whole
    data is given: the emulator does not inherit SourceVersion's data as EC2 does."""
    request = {key: data[key] for key in REQUEST_KEYS if key in data}
    request["MetadataOptions"] = {**data.get("MetadataOptions", {}), "InstanceMetadataTags": tags}
    clients["ec2"].create_launch_template_version(LaunchTemplateId=template_id, LaunchTemplateData=request)


def launch(tmp_path: Path, budget: int) -> tuple[int, dict[str, Any]]:
    out = tmp_path / "launched.json"
    done = subprocess.run(
        [
            sys.executable,
            str(LAUNCH),
            "up",
            "--tiers",
            "api",
            "--count",
            "1",
            "--name-prefix",
            PREFIX,
            "--budget",
            str(budget),
            "--json",
            str(out),
            "--workdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.exists(), done.stderr
    return done.returncode, json.loads(out.read_text())[0]


def runtime_config_log(container: str) -> str:
    return subprocess.run(
        ["podman", "exec", container, "journalctl", "-b", "-u", "arena-runtime-config.service", "--no-pager"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout


def test_tags_off_in_metadata_fail_the_health_check_and_on_pass_it(clients: dict[str, Any], tmp_path: Path) -> None:
    template_id, data = current_template(clients)
    assert data["MetadataOptions"]["InstanceMetadataTags"] == "enabled", "the platform's template should enable tags"
    try:
        new_version(clients, template_id, data, "disabled")
        rc, broken = launch(tmp_path / "off", budget=15)
        assert rc == 1 and broken["boot_seconds"] is None, f"healthy without tags in metadata: {broken}"
        assert broken["health_status"] != 200
        assert "IMDS answered 404" in runtime_config_log(broken["container"])

        new_version(clients, template_id, data, "enabled")
        rc, fixed = launch(tmp_path / "on", budget=30)
        assert rc == 0 and fixed["health_status"] == 200, f"not healthy with tags in metadata: {fixed}"
    finally:
        subprocess.run([sys.executable, str(LAUNCH), "down", "--name-prefix", PREFIX], check=False)
        if current_template(clients)[1]["MetadataOptions"].get("InstanceMetadataTags") != "enabled":
            new_version(clients, template_id, data, "enabled")
