"""publish_image.yml, rollout.yml and rollback_image.yml against the AWS emulator: a release is a
numbered launch template version with the AMI id, made the default (every other launch parameter
inherited from the default version); the group stays on its version until rollout.yml's canary
instance refresh (DesiredConfiguration with the version number, checkpoints, the tier's alarms,
AutoRollback) moves it; SSM /arena/<env>/images/<tier> records the current AMI with DataType
aws:ec2:image and the replaced value is kept for rollback (same DataType); a rollback makes the
previous AMI the default again and refreshes; re-runs change nothing; a release during an event
freeze is refused naming the event and goes on with an override, a rollback is always allowed; a
parameter stored as text is refused by name (or migrated on request), and bad manifests or AMIs are
refused before SSM is touched. The emulator's instance refresh ends at once in the state a
successful one leaves (scripts/lab/emulator_server.py); the request itself is pinned with botocore's
Stubber (tests/unit/library/test_arena_autoscaling_instance_refresh.py). That both playbooks run the
real-AWS guard first is checked statically (tests/unit/test_playbooks_guarded.py); what the guard
refuses, end to end, is tests/integration/test_aws_guard.py.

Run through scripts/with-emulator.sh (it sets AWS_URL, AWS_ENDPOINT_URL, AWS_REGION and dummy
credentials)."""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from arena_testlib import VENV_BIN, base_env, run

pytestmark = pytest.mark.skipif(not os.environ.get("AWS_URL"), reason="needs the emulator (scripts/with-emulator.sh)")

# The lab inventory's environment (ansible.cfg's default inventory, inventories/local): a release
# acts on the environment of the inventory it runs with.
ENV = "local"
IMAGE = "aws:ec2:image"


@pytest.fixture(scope="module")
def ec2():
    return boto3.client("ec2", endpoint_url=os.environ["AWS_URL"], region_name=os.environ["AWS_REGION"])


@pytest.fixture(scope="module")
def ssm():
    return boto3.client("ssm", endpoint_url=os.environ["AWS_URL"], region_name=os.environ["AWS_REGION"])


def make_ami(ec2, tier: str, *, public: bool = False) -> str:
    source = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=source, MinCount=1, MaxCount=1, InstanceType="t3.micro")["Instances"][0]
    image = ec2.create_image(InstanceId=instance["InstanceId"], Name=f"arena-{tier}-{uuid.uuid4().hex[:8]}")["ImageId"]
    ec2.create_tags(Resources=[image], Tags=[{"Key": "Tier", "Value": tier}, {"Key": "Project", "Value": "arena"}])
    if public:
        ec2.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"Group": "all"}]})
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
    return image


def make_encrypted_ami(ec2, tier: str) -> str:
    """An AMI registered from a snapshot encrypted with a new customer managed key (default policy)."""
    region = os.environ["AWS_REGION"]
    key = boto3.client("kms", endpoint_url=os.environ["AWS_URL"], region_name=region).create_key()["KeyMetadata"]["Arn"]
    volume = ec2.create_volume(AvailabilityZone=f"{region}a", Size=8, Encrypted=True, KmsKeyId=key)["VolumeId"]
    snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    image = ec2.register_image(
        Name=f"arena-{tier}-{uuid.uuid4().hex[:8]}",
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot}}],
        Architecture="x86_64",
        VirtualizationType="hvm",
    )["ImageId"]
    ec2.create_tags(Resources=[image], Tags=[{"Key": "Tier", "Value": tier}, {"Key": "Project", "Value": "arena"}])
    return image


def manifest(tmp_path: Path, tier: str, ami: str, *, stale_ami: str = "ami-00000000000000000") -> Path:
    region = os.environ["AWS_REGION"]
    last, older = str(uuid.uuid4()), str(uuid.uuid4())
    doc = {
        "builds": [
            {
                "name": "tier",
                "builder_type": "amazon-ebs",
                "artifact_id": f"{region}:{stale_ami}",
                "packer_run_uuid": older,
                "custom_data": {"tier": tier},
            },
            {
                "name": "local",
                "builder_type": "docker",
                "artifact_id": "sha256:0123",
                "packer_run_uuid": last,
                "custom_data": {"tier": tier},
            },
            {
                "name": "tier",
                "builder_type": "amazon-ebs",
                "artifact_id": f"us-east-1:ami-11111111111111111,{region}:{ami}",
                "packer_run_uuid": last,
                "custom_data": {"tier": tier},
            },
        ],
        "last_run_uuid": last,
    }
    path = tmp_path / f"manifest-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(doc))
    return path


def playbook(name: str, *flags: str, **extra: object) -> tuple[int, str]:
    result = run(
        [str(VENV_BIN / "ansible-playbook"), f"playbooks/{name}.yml", *flags, "-e", json.dumps(extra)],
        base_env(),
        timeout=300,
    )
    return result.returncode, re.sub(r"\s+", " ", result.stdout + result.stderr)


NO_EVENTS: dict[str, Any] = {"arena_events": []}


def publish(tier: str, path: Path, *flags: str, **extra: Any) -> tuple[int, str]:
    return playbook(
        "publish_image",
        *flags,
        **{"publish_image_tier": tier, "publish_image_manifest": str(path), **NO_EVENTS, **extra},
    )


def rollback(tier: str, **extra: Any) -> tuple[int, str]:
    return playbook("rollback_image", **{"rollback_image_tier": tier, **NO_EVENTS, **extra})


def rollout(tier: str, **extra: Any) -> tuple[int, str]:
    return playbook("rollout", **{"platform_autoscaling_refresh_tiers": [tier], **NO_EVENTS, **extra})


def kickoff_in(minutes: int) -> dict[str, Any]:
    """A calendar with one event whose kick-off is `minutes` from now (UTC)."""
    start = (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")
    event = {
        "name": "Freeze test final",
        "kind": "basketball",
        "start": start,
        "timezone": "UTC",
        "duration_minutes": 120,
        "peak_viewers": 20000,
    }
    return {"arena_events": [event]}


class Platform:
    """What playbooks/platform.yml leaves for the web tier, made directly: its launch template (version
    1 with `ami`), its group pinned to version 1 with a mixed instances policy, the release alarms."""

    def __init__(self, ami: str) -> None:
        region, url = os.environ["AWS_REGION"], os.environ["AWS_URL"]
        self.ec2 = boto3.client("ec2", endpoint_url=url, region_name=region)
        self.asg = boto3.client("autoscaling", endpoint_url=url, region_name=region)
        self.cw = boto3.client("cloudwatch", endpoint_url=url, region_name=region)
        self.name = f"arena-{ENV}-web"
        self.alarms = [f"{self.name}-target-5xx", f"{self.name}-unhealthy-hosts"]
        self.remove()
        data = {"ImageId": ami, "InstanceType": "c6i.large", "MetadataOptions": {"HttpTokens": "required"}}
        self.ec2.create_launch_template(LaunchTemplateName=self.name, LaunchTemplateData=data)
        subnet = self.ec2.describe_subnets()["Subnets"][0]["SubnetId"]
        spec = {"LaunchTemplateName": self.name, "Version": "1"}
        self.asg.create_auto_scaling_group(
            AutoScalingGroupName=self.name,
            MinSize=1,
            MaxSize=2,
            VPCZoneIdentifier=subnet,
            MixedInstancesPolicy={
                "LaunchTemplate": {"LaunchTemplateSpecification": spec, "Overrides": [{"InstanceType": "c6i.large"}]}
            },
        )
        for alarm in self.alarms:
            self.cw.put_metric_alarm(
                AlarmName=alarm,
                Namespace="AWS/ApplicationELB",
                MetricName="UnHealthyHostCount",
                Statistic="Maximum",
                Period=60,
                EvaluationPeriods=3,
                Threshold=1,
                ComparisonOperator="GreaterThanOrEqualToThreshold",
            )

    def versions(self) -> dict[int, str]:
        """Version number -> ImageId, and the default version's number under key 0."""
        found = self.ec2.describe_launch_template_versions(LaunchTemplateName=self.name)["LaunchTemplateVersions"]
        out = {v["VersionNumber"]: v["LaunchTemplateData"]["ImageId"] for v in found}
        out[0] = next(v["VersionNumber"] for v in found if v["DefaultVersion"])
        return out

    def data(self, version: int) -> dict[str, Any]:
        return self.ec2.describe_launch_template_versions(LaunchTemplateName=self.name, Versions=[str(version)])[
            "LaunchTemplateVersions"
        ][0]["LaunchTemplateData"]

    def group_version(self) -> str:
        group = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[self.name])["AutoScalingGroups"][0]
        return group["MixedInstancesPolicy"]["LaunchTemplate"]["LaunchTemplateSpecification"]["Version"]

    def refreshes(self) -> list[dict[str, Any]]:
        return self.asg.describe_instance_refreshes(AutoScalingGroupName=self.name)["InstanceRefreshes"]

    def remove(self) -> None:
        if self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[self.name])["AutoScalingGroups"]:
            self.asg.delete_auto_scaling_group(AutoScalingGroupName=self.name, ForceDelete=True)
        if self.ec2.describe_launch_templates(Filters=[{"Name": "launch-template-name", "Values": [self.name]}])[
            "LaunchTemplates"
        ]:
            self.ec2.delete_launch_template(LaunchTemplateName=self.name)
        self.cw.delete_alarms(AlarmNames=self.alarms)


def param(ssm, name: str) -> str | None:
    try:
        return ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None


def data_type(ssm, name: str) -> tuple[str, str]:
    """DataType as GetParameter and as DescribeParameters report it."""
    got = ssm.get_parameter(Name=name)["Parameter"]["DataType"]
    described = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}])
    return got, described["Parameters"][0]["DataType"]


def version(ssm, name: str) -> int:
    return ssm.get_parameter(Name=name)["Parameter"]["Version"]


def changed(out: str) -> int:
    return int(re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", out).group(1))


def assert_canary_refresh(platform: Platform, version: str) -> None:
    """The group's one refresh named `version` with a canary, its alarms and rollback; it is on it now."""
    assert platform.group_version() == version
    (refresh,) = platform.refreshes()
    spec = refresh["DesiredConfiguration"]["MixedInstancesPolicy"]["LaunchTemplate"]["LaunchTemplateSpecification"]
    assert spec["Version"] == version
    prefs = refresh["Preferences"]
    assert prefs["AutoRollback"] is True and prefs["SkipMatching"] is True
    assert prefs["CheckpointPercentages"] == [10, 100] and prefs["AlarmSpecification"]["Alarms"] == platform.alarms


def test_release_rollout_freeze_rollback_and_reruns(ec2, ssm, tmp_path: Path) -> None:
    first, second = make_ami(ec2, "web"), make_ami(ec2, "web")
    current, previous = f"/arena/{ENV}/images/web", f"/arena/{ENV}/images-previous/web"
    platform = Platform(first)
    try:
        rc, out = publish("web", manifest(tmp_path, "web", first))
        assert rc == 0, out[-3000:]
        assert (param(ssm, current), param(ssm, previous), data_type(ssm, current)) == (first, None, (IMAGE, IMAGE))
        assert platform.versions() == {0: 1, 1: first}  # the default launches it already: no version

        # An event kicks off in 30 minutes: the release is refused, naming it, before any change.
        frozen = kickoff_in(30)
        rc, out = publish("web", manifest(tmp_path, "web", second), **frozen)
        assert rc != 0 and "Freeze test final" in out and "release_freeze_override" in out, out[-3000:]
        assert "changed=0" in out and param(ssm, current) == first and platform.versions() == {0: 1, 1: first}
        rc, out = rollout("web", **frozen)
        assert rc != 0 and "Freeze test final" in out and "changed=0" in out, out[-3000:]

        # With an override the release goes on (and says so): version 2 = version 1 with the new AMI.
        reason = "security fix before the final"
        rc, out = publish("web", manifest(tmp_path, "web", second), **frozen, release_freeze_override=reason)
        assert rc == 0, out[-3000:]
        assert "RELEASE FREEZE OVERRIDDEN" in out and reason in out
        assert (param(ssm, current), param(ssm, previous)) == (second, first)
        assert data_type(ssm, current) == data_type(ssm, previous) == (IMAGE, IMAGE)
        assert platform.versions() == {0: 2, 1: first, 2: second}
        assert platform.data(2) == {**platform.data(1), "ImageId": second}
        assert platform.group_version() == "1"  # a release alone replaces no instance
        tags = {
            t["Key"]: t["Value"]
            for t in ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=current)["TagList"]
        }
        assert tags == {"Project": "arena", "Environment": ENV, "Tier": "web", "ManagedBy": "ansible"}
        versions = version(ssm, current), version(ssm, previous)

        # The rollout: a canary refresh onto version 2 that AWS can roll back; a re-run starts none.
        rc, out = rollout("web")
        assert rc == 0, out[-3000:]
        assert_canary_refresh(platform, "2")
        rc, out = rollout("web")
        assert rc == 0 and changed(out) == 0 and len(platform.refreshes()) == 1, out[-3000:]

        rc, out = publish("web", manifest(tmp_path, "web", second))
        assert rc == 0 and changed(out) == 0, out[-3000:]
        assert (version(ssm, current), version(ssm, previous)) == versions  # no PutParameter at all
        assert platform.versions()[0] == 2

        rc, out = publish("web", manifest(tmp_path, "web", make_ami(ec2, "web")), "--check")
        assert rc == 0 and changed(out) == 3, out[-3000:]  # would release, keep the previous and re-point
        assert (version(ssm, current), version(ssm, previous)) == versions and platform.versions()[0] == 2

        # A rollback during the freeze: always allowed; the previous AMI is the default again, refreshed.
        rc, out = rollback("web", **frozen)
        assert rc == 0, out[-3000:]
        assert (param(ssm, current), data_type(ssm, current)) == (first, (IMAGE, IMAGE))
        assert platform.versions() == {0: 3, 1: first, 2: second, 3: first}
        assert platform.group_version() == "3" and len(platform.refreshes()) == 2
        rc, out = rollback("web")
        assert rc == 0 and changed(out) == 0, out[-3000:]
        assert param(ssm, current) == first and platform.versions()[0] == 3
    finally:
        platform.remove()


def test_local_bake_is_registered_as_a_lab_ami_and_published(ec2, ssm, tmp_path: Path) -> None:
    """A local bake (docker source only) against the emulator: publish registers a lab AMI tagged with
    the container image (scripts/lab/launch.py boots it when a launch template resolves the parameter),
    publishes it like an amazon-ebs AMI, and a re-run registers nothing and changes nothing."""
    last = str(uuid.uuid4())
    local = f"localhost/arena-api:test-{last[:8]}"
    doc = {
        "builds": [
            {
                "name": "local",
                "builder_type": "docker",
                "artifact_id": "sha256:0123",
                "packer_run_uuid": last,
                "custom_data": {"tier": "api", "image_version": f"test-{last[:8]}", "local_image": local},
            }
        ],
        "last_run_uuid": last,
    }
    path = tmp_path / "local-manifest.json"
    path.write_text(json.dumps(doc))
    # The lab's environment (inventories/local), as scripts/images-lab.sh publishes.
    lab = {"publish_image_env": "local", "publish_image_tier": "api", "publish_image_manifest": str(path), **NO_EVENTS}
    rc, out = playbook("publish_image", **lab)
    assert rc == 0, out[-3000:]
    ami = param(ssm, "/arena/local/images/api")
    image = ec2.describe_images(ImageIds=[ami])["Images"][0]
    assert {t["Key"]: t["Value"] for t in image["Tags"]}["arena:lab-image"] == local
    assert data_type(ssm, "/arena/local/images/api") == (IMAGE, IMAGE)
    rc, out = playbook("publish_image", **lab)
    assert rc == 0 and changed(out) == 0, out[-3000:]
    assert param(ssm, "/arena/local/images/api") == ami


def test_text_parameter_is_refused_then_migrated(ec2, ssm, tmp_path: Path) -> None:
    """A parameter written as text before: AWS cannot change its DataType, so publish refuses it by
    name (leaving it as it is) unless publish_image_replace_data_type re-creates it."""
    old, new = make_ami(ec2, "admin"), make_ami(ec2, "admin")
    current, previous = f"/arena/{ENV}/images/admin", f"/arena/{ENV}/images-previous/admin"
    ssm.put_parameter(Name=current, Value=old, Type="String", DataType="text")
    path = manifest(tmp_path, "admin", new)
    try:
        rc, out = publish("admin", path)
        assert rc != 0
        assert (
            f"arena_ssm_parameter: {current} is stored with data_type text; AWS cannot change it to "
            "aws:ec2:image: delete the parameter first or set replace_on_data_type_change=true" in out
        ), out[-3000:]
        assert (param(ssm, current), data_type(ssm, current)) == (old, ("text", "text"))
        # The rollback copy is written first (a new parameter, so no conversion): it already holds
        # the value being replaced, which is what it should hold after the migration too.
        assert (param(ssm, previous), data_type(ssm, previous)) == (old, (IMAGE, IMAGE))

        rc, out = playbook(
            "publish_image",
            publish_image_tier="admin",
            publish_image_manifest=str(path),
            publish_image_replace_data_type=True,
            **NO_EVENTS,
        )
        assert rc == 0, out[-3000:]
        assert (param(ssm, current), param(ssm, previous)) == (new, old)
        assert data_type(ssm, current) == data_type(ssm, previous) == (IMAGE, IMAGE)
        rc, out = publish("admin", path)
        assert rc == 0 and changed(out) == 0, out[-3000:]
    finally:
        ssm.delete_parameters(Names=[current, previous])


def test_rollback_without_previous_is_refused(ec2, ssm) -> None:
    # An image published once, as the first publish leaves it (test_publish_keep_previous_rollback_and_rerun
    # proves that publish): the current parameter and no rollback copy.
    ssm.put_parameter(
        Name=f"/arena/{ENV}/images/api", Value=make_ami(ec2, "api"), Type="String", DataType=IMAGE, Overwrite=True
    )
    assert param(ssm, f"/arena/{ENV}/images-previous/api") is None
    rc, out = rollback("api")
    assert rc != 0
    assert (
        f"/arena/{ENV}/images-previous/api holds no previous image (''): nothing to roll back to "
        "(publish_image.yml keeps one when it replaces an image)" in out
    )


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("wrong_tier", "must exist, be available, not public and carry tag Tier=admin"),
        ("public", "must exist, be available, not public and carry tag Tier=admin"),
        ("no_region", "has no amazon-ebs build of tier admin in its last run for region"),
        ("missing", "does not exist: bake the admin image first"),
        # A customer managed key whose policy does not let EC2 Auto Scaling's service-linked role use it
        # (a new key's default policy names the account only): Auto Scaling could not launch the image
        # (https://docs.aws.amazon.com/autoscaling/ec2/userguide/key-policy-requirements-EBS-encryption.html).
        ("kms", "EC2 Auto Scaling could not launch it; grant the key policy statements"),
    ],
)
def test_bad_images_are_refused_before_ssm(ec2, ssm, tmp_path: Path, case: str, message: str) -> None:
    if case == "wrong_tier":
        path = manifest(tmp_path, "admin", make_ami(ec2, "web"))
    elif case == "public":
        path = manifest(tmp_path, "admin", make_ami(ec2, "admin", public=True))
    elif case == "kms":
        path = manifest(tmp_path, "admin", make_encrypted_ami(ec2, "admin"))
    elif case == "no_region":
        path = manifest(tmp_path, "admin", "ami-22222222222222222")
        path.write_text(path.read_text().replace(os.environ["AWS_REGION"] + ":ami-2", "ap-south-1:ami-2"))
    else:
        path = tmp_path / "absent.json"
    rc, out = publish("admin", path)
    assert rc != 0
    assert message in out, out[-3000:]
    assert "changed=0" in out
    assert param(ssm, f"/arena/{ENV}/images/admin") is None


@pytest.mark.parametrize(
    ("name", "extra", "message"),
    [
        (
            "publish_image",
            {"publish_image_env": "prod", "publish_image_tier": "web"},
            "publish_image_env must be one of local, staging, production and publish_image_tier one of web, api, "
            "admin; got env 'prod', tier 'web'",
        ),
        (
            "rollback_image",
            {"rollback_image_tier": "db"},
            "rollback_image_env must be one of local, staging, production and rollback_image_tier one of web, api, "
            "admin; got env 'local', tier 'db'",
        ),
    ],
)
def test_bad_inputs(name: str, extra: dict[str, str], message: str) -> None:
    rc, out = playbook(name, **extra)
    assert rc != 0
    assert message in out
    assert "changed=0" in out
