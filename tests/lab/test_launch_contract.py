"""The lab catches an image/platform contract break by itself, and a release reaches the instances:

1. reverting "instance tags in instance metadata" on the api tier's launch template (the defect that
   left every tier unconfigured on AWS), in a version the group is moved to, makes an instance
   launched from the group fail its target group's health check;
2. a release, as an operator makes one (playbooks/publish_image.yml: a new default launch template
   version with a new AMI id, made from the platform's default version, then playbooks/rollout.yml:
   the group's instance refresh onto it), makes the next launch boot the new AMI and pass the health
   check. The new AMI is the same baked container image under another name (a lab AMI per local image).

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
PLAYBOOK = ROOT / ".venv" / "bin" / "ansible-playbook"
RELEASE_TAGS: list[str] = []  # image names a test made; removed (untagged) at its end
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
    return {s: boto3.client(s, endpoint_url=url, region_name=region) for s in ("autoscaling", "ec2", "ssm")}


def current_template(clients: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    group = clients["autoscaling"].describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])["AutoScalingGroups"][0]
    spec = group["MixedInstancesPolicy"]["LaunchTemplate"]["LaunchTemplateSpecification"]
    version = clients["ec2"].describe_launch_template_versions(
        LaunchTemplateId=spec["LaunchTemplateId"], Versions=[spec["Version"]]
    )["LaunchTemplateVersions"][0]
    return spec["LaunchTemplateId"], version["LaunchTemplateData"]


def move_group_to_new_version(clients: dict[str, Any], template_id: str, data: dict[str, Any], tags: str) -> None:
    """A new template version with tags in metadata on or off (not the default), and the group moved
    onto it by an instance refresh naming it (the group is pinned to a numbered version)."""
    request = {key: data[key] for key in REQUEST_KEYS if key in data}
    request["MetadataOptions"] = {**data.get("MetadataOptions", {}), "InstanceMetadataTags": tags}
    created = clients["ec2"].create_launch_template_version(LaunchTemplateId=template_id, LaunchTemplateData=request)
    group = clients["autoscaling"].describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])["AutoScalingGroups"][0]
    policy = group["MixedInstancesPolicy"]
    policy["LaunchTemplate"]["LaunchTemplateSpecification"] = {
        "LaunchTemplateId": template_id,
        "Version": str(created["LaunchTemplateVersion"]["VersionNumber"]),
    }
    clients["autoscaling"].start_instance_refresh(
        AutoScalingGroupName=GROUP, DesiredConfiguration={"MixedInstancesPolicy": policy}, Preferences={}
    )


def release_same_image_as_new_ami(clients: dict[str, Any], tmp_path: Path) -> str:
    """Release the api tier's current container image under a new name (a new lab AMI) with the
    operator's playbooks: publish_image.yml, then rollout.yml. Returns the new local image name."""
    ami = clients["ssm"].get_parameter(Name="/arena/local/images/api")["Parameter"]["Value"]
    image = clients["ec2"].describe_images(ImageIds=[ami])["Images"][0]
    local = {t["Key"]: t["Value"] for t in image["Tags"]}["arena:lab-image"]
    release = f"{local}-release-{tmp_path.name[-8:]}"
    subprocess.run(["podman", "tag", local, release], check=True)
    RELEASE_TAGS.append(release)
    run_uuid = f"release-{tmp_path.name}"
    manifest = tmp_path / "manifest.json"
    build = {"tier": "api", "image_version": release.rsplit(":", 1)[1], "local_image": release}
    manifest.write_text(
        json.dumps(
            {
                "builds": [
                    {
                        "name": "local",
                        "builder_type": "docker",
                        "artifact_id": "sha256:0",
                        "packer_run_uuid": run_uuid,
                        "custom_data": build,
                    }
                ],
                "last_run_uuid": run_uuid,
            }
        )
    )
    calm = json.dumps({"arena_events": []})  # the release itself, not the event freeze, is tested here
    for playbook, extra in (
        ("publish_image.yml", {"publish_image_tier": "api", "publish_image_manifest": str(manifest)}),
        ("rollout.yml", {"platform_autoscaling_refresh_tiers": ["api"]}),
    ):
        done = subprocess.run(
            [
                str(PLAYBOOK),
                "-i",
                str(ROOT / "inventories" / "local"),
                str(ROOT / "playbooks" / playbook),
                "-e",
                calm,
                "-e",
                json.dumps(extra),
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return release


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


def test_tags_off_in_metadata_fail_the_health_check_and_a_release_serves(
    clients: dict[str, Any], tmp_path: Path
) -> None:
    template_id, data = current_template(clients)
    assert data["MetadataOptions"]["InstanceMetadataTags"] == "enabled", "the platform's template should enable tags"
    try:
        move_group_to_new_version(clients, template_id, data, "disabled")
        rc, broken = launch(tmp_path / "off", budget=15)
        assert rc == 1 and broken["boot_seconds"] is None, f"healthy without tags in metadata: {broken}"
        assert broken["health_status"] != 200
        assert "IMDS answered 404" in runtime_config_log(broken["container"])

        release = release_same_image_as_new_ami(clients, tmp_path)
        rc, fixed = launch(tmp_path / "on", budget=30)
        assert rc == 0 and fixed["health_status"] == 200, f"the release's instance is not healthy: {fixed}"
        assert fixed["image"] == release, fixed
        assert fixed["ami_id"] == clients["ssm"].get_parameter(Name="/arena/local/images/api")["Parameter"]["Value"]
    finally:
        subprocess.run([sys.executable, str(LAUNCH), "down", "--name-prefix", PREFIX], check=False)
        for name in RELEASE_TAGS:
            subprocess.run(["podman", "untag", name, name], check=False, capture_output=True)
