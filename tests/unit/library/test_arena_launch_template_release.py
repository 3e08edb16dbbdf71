"""arena_launch_template_release against botocore's Stubber (the real EC2 API model): the exact
requests of a release (CreateLaunchTemplateVersion from the default version with only ImageId, a
client token, ModifyLaunchTemplate to the new number), and what makes none.

CreateLaunchTemplateVersion, SourceVersion: "the new version inherits the launch parameters from the
source version", the ones given overwrite theirs; ClientToken makes the request idempotent
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateLaunchTemplateVersion.html).
The emulator's SourceVersion stand-in is exercised by tests/integration/images/test_publish_rollback.py.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

SERVICE = "ec2"  # the client of the `stubbed` fixture (conftest.py)
STRICT_RETRY = True
NAME = "arena-staging-web"
LT_ID = "lt-0123456789abcdef0"
OLD, NEW = "ami-0123456789abcdef0", "ami-0fedcba9876543210"


def default_version(number: int = 4, image: str = OLD) -> dict[str, Any]:
    data = {"ImageId": image, "InstanceType": "c6i.large", "MetadataOptions": {"HttpTokens": "required"}}
    return {
        "LaunchTemplateVersions": [{"LaunchTemplateId": LT_ID, "VersionNumber": number, "LaunchTemplateData": data}]
    }


def expect_default(stub: Any, answer: dict[str, Any]) -> None:
    stub.add_response(
        "describe_launch_template_versions", answer, {"LaunchTemplateName": NAME, "Versions": ["$Default"]}
    )


def test_release_creates_a_version_from_the_default_and_makes_it_the_default(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    expect_default(stub, default_version())
    stub.add_response(
        "create_launch_template_version",
        {"LaunchTemplateVersion": {"LaunchTemplateId": LT_ID, "VersionNumber": 5}},
        {
            "LaunchTemplateName": NAME,
            "SourceVersion": "4",
            "LaunchTemplateData": {"ImageId": NEW},
            "ClientToken": mod.client_token(LT_ID, "4", NEW),
        },
    )
    stub.add_response(
        "modify_launch_template", {"LaunchTemplate": {}}, {"LaunchTemplateName": NAME, "DefaultVersion": "5"}
    )
    result = mod.run(client, {"name": NAME, "image_id": NEW}, check_mode=False)
    assert result == {
        "changed": True,
        "status": "Released",
        "version": "5",
        "previous_version": "4",
        "previous_image_id": OLD,
    }


def test_the_client_token_is_stable_and_fits_the_api() -> None:
    from arena_loader import library_module  # noqa: PLC0415 -- the module under test, by name

    mod = library_module("arena_launch_template_release")
    token = mod.client_token(LT_ID, "4", NEW)
    assert token == mod.client_token(LT_ID, "4", NEW) != mod.client_token(LT_ID, "5", NEW)
    assert len(token) <= 64 and token.isascii()


def test_the_image_of_the_default_version_changes_nothing(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    expect_default(stub, default_version(image=NEW))
    result = mod.run(client, {"name": NAME, "image_id": NEW}, check_mode=False)
    assert (result["changed"], result["status"], result["version"]) == (False, "Current", "4")


def test_check_mode_writes_nothing(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    expect_default(stub, default_version())
    result = mod.run(client, {"name": NAME, "image_id": NEW}, check_mode=True)
    assert (result["changed"], result["status"]) == (True, "WouldRelease")


def test_a_missing_template_is_reported_not_created(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    stub.add_client_error(
        "describe_launch_template_versions",
        "InvalidLaunchTemplateName.NotFoundException",
        expected_params={"LaunchTemplateName": NAME, "Versions": ["$Default"]},
    )
    assert mod.run(client, {"name": NAME, "image_id": NEW}, check_mode=False) == {
        "changed": False,
        "status": "NoTemplate",
    }


@pytest.mark.parametrize("bad", ["", "resolve:ssm:/arena/staging/images/web", "ami-123", "ami-0123456789ABCDEF0"])
def test_a_value_that_is_no_ami_id_is_refused_before_any_call(mod: ModuleType, stubbed: Any, bad: str) -> None:
    client, _ = stubbed  # nothing queued
    with pytest.raises(ValueError, match="is not an AMI id"):
        mod.run(client, {"name": NAME, "image_id": bad}, check_mode=False)


@pytest.mark.parametrize(
    "operation", ["describe_launch_template_versions", "create_launch_template_version", "modify_launch_template"]
)
def test_throttled_call_is_retried(mod: ModuleType, run_retried: Any, operation: str) -> None:
    calls = [
        (
            "describe_launch_template_versions",
            default_version(),
            {"LaunchTemplateName": NAME, "Versions": ["$Default"]},
        ),
        (
            "create_launch_template_version",
            {"LaunchTemplateVersion": {"LaunchTemplateId": LT_ID, "VersionNumber": 5}},
            {
                "LaunchTemplateName": NAME,
                "SourceVersion": "4",
                "LaunchTemplateData": {"ImageId": NEW},
                "ClientToken": mod.client_token(LT_ID, "4", NEW),
            },
        ),
        ("modify_launch_template", {"LaunchTemplate": {}}, {"LaunchTemplateName": NAME, "DefaultVersion": "5"}),
    ]
    result = run_retried(mod, {"name": NAME, "image_id": NEW}, "ec2", calls, (operation, "RequestLimitExceeded"))
    assert (result["changed"], result["version"]) == (True, "5")
