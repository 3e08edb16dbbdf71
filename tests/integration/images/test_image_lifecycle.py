"""image_lifecycle.yml against the AWS emulator: --check lists what would go and changes nothing; a
real run deregisters the old images no one uses and deletes their snapshots, keeps the newest
releases and every older image still referenced (by a running instance, by the image parameter's
history within the rollback window, by the launch template version an Auto Scaling group uses), and
gives every kept image its deprecation time (EnableImageDeprecation, which scripts/lab/emulator_server.py
adds to the emulator); a re-run changes nothing. The exact requests, and what the emulator cannot
show (images and parameter versions of any age, $Latest/$Default, launch configurations, throttling),
are pinned in tests/unit/library/test_arena_image_lifecycle.py.

Other test files use the same emulator (publish_image's tests tag their AMIs Project=arena and
Tier=web|api|admin and write /arena/<env>/images/<tier>): this test's AMIs carry one more tag,
arena:lifecycle-test=<run id>, which the playbook gets as an extra DescribeImages filter
(image_lifecycle_filters), and its parameters live under a prefix of their own
(image_lifecycle_prefix), so it neither sees nor touches theirs, and they never see its parameters.

Run through scripts/with-emulator.sh (it sets AWS_URL, AWS_ENDPOINT_URL, AWS_REGION and dummy
credentials)."""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from arena_testlib import VENV_BIN, base_env, run

pytestmark = pytest.mark.skipif(not os.environ.get("AWS_URL"), reason="needs the emulator (scripts/with-emulator.sh)")

KEEP = 2
DAYS = 30


def client(service: str):
    return boto3.client(service, endpoint_url=os.environ["AWS_URL"], region_name=os.environ["AWS_REGION"])


def make_amis(ec2, tier: str, count: int, run_id: str) -> list[str]:
    """`count` AMIs of the tier, oldest first as the module orders them: by CreationDate, then by id
    (the emulator stamps whole seconds, so images made in the same second tie)."""
    source = ec2.describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"]
    images = []
    for _ in range(count):
        instance = ec2.run_instances(ImageId=source, MinCount=1, MaxCount=1, InstanceType="t3.micro")
        instance_id = instance["Instances"][0]["InstanceId"]
        name = f"arena-{tier}-lifecycle-{uuid.uuid4().hex[:8]}"
        images.append(ec2.create_image(InstanceId=instance_id, Name=name)["ImageId"])
        ec2.terminate_instances(InstanceIds=[instance_id])
    tags = [{"Key": "Project", "Value": "arena"}, {"Key": "Tier", "Value": tier}]
    ec2.create_tags(Resources=images, Tags=[*tags, {"Key": "arena:lifecycle-test", "Value": run_id}])
    found = ec2.describe_images(ImageIds=images)["Images"]
    return [i["ImageId"] for i in sorted(found, key=lambda i: (i["CreationDate"], i["ImageId"]))]


def ours(ec2, run_id: str) -> dict[str, dict]:
    """This test's registered AMIs by id."""
    found = ec2.describe_images(Owners=["self"], Filters=[{"Name": "tag:arena:lifecycle-test", "Values": [run_id]}])
    return {i["ImageId"]: i for i in found["Images"]}


def snapshots(image: dict) -> list[str]:
    return [m["Ebs"]["SnapshotId"] for m in image["BlockDeviceMappings"] if "Ebs" in m]


def deprecation(image: dict) -> str:
    """CreationDate + DAYS on the next whole minute, as the module asks (and EC2 shows) it."""
    at = datetime.fromisoformat(image["CreationDate"].replace("Z", "+00:00")) + timedelta(days=DAYS)
    whole = at.replace(second=0, microsecond=0)
    return f"{(whole if whole == at else whole + timedelta(minutes=1)).astimezone(UTC):%Y-%m-%dT%H:%M:%S}.000Z"


def lifecycle(run_id: str, prefix: str, *flags: str) -> tuple[int, str]:
    extra = {
        "image_lifecycle_env": "staging",
        "image_lifecycle_tiers": ["web", "api"],
        "image_lifecycle_keep_releases": KEEP,
        "image_lifecycle_deprecate_after_days": DAYS,
        "image_lifecycle_prefix": prefix,
        "image_lifecycle_filters": {"tag:arena:lifecycle-test": run_id},
    }
    result = run(
        [str(VENV_BIN / "ansible-playbook"), "playbooks/image_lifecycle.yml", *flags, "-e", json.dumps(extra)],
        base_env(),
        timeout=300,
    )
    return result.returncode, re.sub(r"\s+", " ", result.stdout + result.stderr)


def changed(out: str) -> int:
    return int(re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", out).group(1))


def test_check_then_retire_then_rerun() -> None:
    ec2, ssm, autoscaling = client("ec2"), client("ssm"), client("autoscaling")
    run_id = uuid.uuid4().hex[:12]
    prefix = f"/arena-lifecycle-{run_id}"
    parameter = f"{prefix}/staging/images/web"
    group = f"arena-lifecycle-{run_id}"
    # web, oldest first: unused, an instance's, the parameter's previous value, the group's, then the
    # two newest releases. api: unused, then the two newest.
    web = make_amis(ec2, "web", 6, run_id)
    api = make_amis(ec2, "api", 3, run_id)
    instance = ec2.run_instances(ImageId=web[1], MinCount=1, MaxCount=1, InstanceType="t3.micro")
    instance_id = instance["Instances"][0]["InstanceId"]
    ssm.put_parameter(Name=parameter, Value=web[2], Type="String", DataType="aws:ec2:image")
    ssm.put_parameter(Name=parameter, Value=web[5], Type="String", DataType="aws:ec2:image", Overwrite=True)
    template = ec2.create_launch_template(
        LaunchTemplateName=group, LaunchTemplateData={"ImageId": web[3], "InstanceType": "t3.micro"}
    )["LaunchTemplate"]
    ec2.create_launch_template_version(
        LaunchTemplateId=template["LaunchTemplateId"], LaunchTemplateData={"ImageId": web[5]}
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=group,
        LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"], "Version": "1"},
        MinSize=0,
        MaxSize=0,
        DesiredCapacity=0,
        AvailabilityZones=[f"{os.environ['AWS_REGION']}a"],
    )
    try:
        before = ours(ec2, run_id)
        unused = {web[0]: snapshots(before[web[0]]), api[0]: snapshots(before[api[0]])}

        rc, out = lifecycle(run_id, prefix, "--check")
        assert rc == 0 and changed(out) == 1, out[-3000:]
        assert ours(ec2, run_id) == before  # nothing deregistered, no deprecation time set
        for image, snaps in unused.items():
            assert f"would deregister {image} " in out and f"and delete {', '.join(snaps)}" in out, out[-3000:]
        for reason in (
            f"keep {web[1]} arena-web-lifecycle-",
            f"(instance {instance_id} (running))",
            f"(SSM {parameter} version 1 (in use until",
            f"(launch template {group} version 1, used by Auto Scaling group {group})",
            f"would deprecate {web[5]} at ",
        ):
            assert reason in out, (reason, out[-3000:])

        rc, out = lifecycle(run_id, prefix)
        assert rc == 0 and changed(out) == 1, out[-3000:]
        after = ours(ec2, run_id)
        assert sorted(after) == sorted([*web[1:], *api[1:]])
        left = {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
        assert not left & {s for snaps in unused.values() for s in snaps}
        assert all(set(snapshots(image)) <= left for image in after.values())
        assert {i: image.get("DeprecationTime") for i, image in after.items()} == {
            i: deprecation(image) for i, image in after.items()
        }

        rc, out = lifecycle(run_id, prefix)
        assert rc == 0 and changed(out) == 0, out[-3000:]
        assert ours(ec2, run_id) == after
    finally:
        autoscaling.delete_auto_scaling_group(AutoScalingGroupName=group, ForceDelete=True)
        ec2.delete_launch_template(LaunchTemplateId=template["LaunchTemplateId"])
        ec2.terminate_instances(InstanceIds=[instance_id])
        ssm.delete_parameter(Name=parameter)
