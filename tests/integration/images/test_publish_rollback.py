"""publish_image.yml and rollback_image.yml against the AWS emulator: the manifest's AMI goes to
SSM /arena/<env>/images/<tier> with DataType aws:ec2:image, the replaced value is kept for rollback
(same DataType), re-runs change nothing, a parameter stored as text is refused by name (or migrated
on request), and bad manifests or AMIs are refused before SSM is touched. That both playbooks run the
real-AWS guard first is checked statically (tests/unit/test_playbooks_guarded.py); what the guard
refuses, end to end, is tests/integration/test_aws_guard.py.

Run through scripts/with-emulator.sh (it sets AWS_URL, AWS_ENDPOINT_URL, AWS_REGION and dummy
credentials)."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path

import boto3
import pytest
from arena_testlib import VENV_BIN, base_env, run

pytestmark = pytest.mark.skipif(not os.environ.get("AWS_URL"), reason="needs the emulator (scripts/with-emulator.sh)")

ENV = "staging"
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


def publish(tier: str, path: Path, *flags: str) -> tuple[int, str]:
    return playbook(
        "publish_image", *flags, publish_image_env=ENV, publish_image_tier=tier, publish_image_manifest=str(path)
    )


def rollback(tier: str) -> tuple[int, str]:
    return playbook("rollback_image", rollback_image_env=ENV, rollback_image_tier=tier)


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


def test_publish_keep_previous_rollback_and_rerun(ec2, ssm, tmp_path: Path) -> None:
    first, second = make_ami(ec2, "web"), make_ami(ec2, "web")
    current, previous = f"/arena/{ENV}/images/web", f"/arena/{ENV}/images-previous/web"

    rc, out = publish("web", manifest(tmp_path, "web", first))
    assert rc == 0, out[-3000:]
    assert param(ssm, current) == first and param(ssm, previous) is None
    assert data_type(ssm, current) == (IMAGE, IMAGE)

    rc, out = publish("web", manifest(tmp_path, "web", second))
    assert rc == 0, out[-3000:]
    assert (param(ssm, current), param(ssm, previous)) == (second, first)
    assert data_type(ssm, current) == data_type(ssm, previous) == (IMAGE, IMAGE)
    versions = version(ssm, current), version(ssm, previous)
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=current)["TagList"]
    assert {t["Key"]: t["Value"] for t in tags} == {
        "Project": "arena",
        "Environment": ENV,
        "Tier": "web",
        "ManagedBy": "ansible",
    }

    rc, out = publish("web", manifest(tmp_path, "web", second))
    assert rc == 0 and changed(out) == 0, out[-3000:]
    assert (param(ssm, current), param(ssm, previous)) == (second, first)
    assert (version(ssm, current), version(ssm, previous)) == versions  # no PutParameter at all

    rc, out = publish("web", manifest(tmp_path, "web", make_ami(ec2, "web")), "--check")
    assert rc == 0 and changed(out) == 2, out[-3000:]  # would keep the previous and re-point
    assert (version(ssm, current), version(ssm, previous)) == versions

    rc, out = rollback("web")
    assert rc == 0, out[-3000:]
    assert param(ssm, current) == first
    assert data_type(ssm, current) == (IMAGE, IMAGE)
    rc, out = rollback("web")
    assert rc == 0 and changed(out) == 0, out[-3000:]
    assert param(ssm, current) == first
    assert data_type(ssm, current) == (IMAGE, IMAGE)


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
    lab = {"publish_image_env": "local", "publish_image_tier": "api", "publish_image_manifest": str(path)}
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
            publish_image_env=ENV,
            publish_image_tier="admin",
            publish_image_manifest=str(path),
            publish_image_replace_data_type=True,
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
    ],
)
def test_bad_images_are_refused_before_ssm(ec2, ssm, tmp_path: Path, case: str, message: str) -> None:
    if case == "wrong_tier":
        path = manifest(tmp_path, "admin", make_ami(ec2, "web"))
    elif case == "public":
        path = manifest(tmp_path, "admin", make_ami(ec2, "admin", public=True))
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
            {"rollback_image_env": "staging", "rollback_image_tier": "db"},
            "rollback_image_env must be one of local, staging, production and rollback_image_tier one of web, api, "
            "admin; got env 'staging', tier 'db'",
        ),
    ],
)
def test_bad_inputs(name: str, extra: dict[str, str], message: str) -> None:
    rc, out = playbook(name, **extra)
    assert rc != 0
    assert message in out
    assert "changed=0" in out
