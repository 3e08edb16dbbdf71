"""arena_ssm_parameter against botocore's Stubber (the real SSM API model)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
import yaml
from botocore.stub import Stubber

SERVICE = "ssm"  # the client of the `stubbed` fixture (conftest.py)
NAME = "/arena/staging/images/web"
AMI, NEW_AMI = "ami-0123456789abcdef0", "ami-0fedcba9876543210"
DESCRIPTION = "Current web image of staging (launch templates resolve:ssm)"
TAGS = {"Project": "arena", "Environment": "staging", "Tier": "web", "ManagedBy": "ansible"}
FILTERS = {"ParameterFilters": [{"Key": "Name", "Option": "Equals", "Values": [NAME]}]}


def params(**overrides: Any) -> dict[str, Any]:
    base = {
        "name": NAME,
        "value": AMI,
        "data_type": "aws:ec2:image",
        "string_type": "String",
        "description": DESCRIPTION,
        "tags": dict(TAGS),
        "purge_tags": True,
        "replace_on_data_type_change": False,
        "wait_timeout": 60,
        "state": "present",
    }
    return base | overrides


def stored(
    stubber: Stubber,
    *,
    value: str = AMI,
    version: int = 3,
    data_type: str = "aws:ec2:image",
    tags: dict[str, str] | None = None,
) -> None:
    """Queue the three reads of an existing parameter."""
    meta = {"Name": NAME, "Type": "String", "DataType": data_type, "Description": DESCRIPTION, "Version": version}
    stubber.add_response("describe_parameters", {"Parameters": [meta]}, FILTERS)
    got = {"Name": NAME, "Type": "String", "Value": value, "Version": version, "DataType": data_type}
    stubber.add_response("get_parameter", {"Parameter": got}, {"Name": NAME})
    tag_list = [{"Key": k, "Value": v} for k, v in (TAGS if tags is None else tags).items()]
    stubber.add_response(
        "list_tags_for_resource", {"TagList": tag_list}, {"ResourceType": "Parameter", "ResourceId": NAME}
    )


def missing(stubber: Stubber) -> None:
    stubber.add_response("describe_parameters", {"Parameters": []}, FILTERS)


def readable(stubber: Stubber, value: str, version: int) -> None:
    """Queue the read that the wait for an aws:ec2:image version makes."""
    got = {"Name": NAME, "Type": "String", "Value": value, "Version": version, "DataType": "aws:ec2:image"}
    stubber.add_response("get_parameter", {"Parameter": got}, {"Name": NAME})


def expect_put(stubber: Stubber, value: str, version: int, *, create: bool, description: str = DESCRIPTION) -> None:
    """Queue the PutParameter: a create carries the tags, an overwrite carries Overwrite instead."""
    params = {"Name": NAME, "Value": value, "Type": "String", "DataType": "aws:ec2:image", "Description": description}
    if create:
        params["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(TAGS.items())]
    else:
        params["Overwrite"] = True
    stubber.add_response("put_parameter", {"Version": version, "Tier": "Standard"}, params)


def expected(value: str, version: int, **overrides: Any) -> dict[str, Any]:
    return {
        "name": NAME,
        "value": value,
        "data_type": "aws:ec2:image",
        "type": "String",
        "description": DESCRIPTION,
        "tags": TAGS,
        "version": version,
    } | overrides


def no_sleep(_: float) -> None:
    """The polls' sleep, without the wait."""


def test_creates_a_missing_parameter_with_tags(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    missing(stubber)
    expect_put(stubber, AMI, 1, create=True)
    readable(stubber, AMI, 1)
    result = mod.run(client, params(), check_mode=False, sleep=no_sleep)
    assert result == {"changed": True, "parameter": expected(AMI, 1)}


def test_unchanged_parameter_is_not_written(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stored(stubber)
    result = mod.run(client, params(), check_mode=False)
    assert result == {"changed": False, "parameter": expected(AMI, 3)}


def test_changed_value_is_a_put_with_overwrite_and_waits(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stored(stubber)
    expect_put(stubber, NEW_AMI, 4, create=False)
    readable(stubber, AMI, 3)  # AWS still validating the AMI: the old version is what reads back
    readable(stubber, NEW_AMI, 4)
    slept: list[float] = []
    result = mod.run(client, params(value=NEW_AMI), check_mode=False, sleep=slept.append)
    assert result == {"changed": True, "parameter": expected(NEW_AMI, 4)}
    assert slept == [mod.POLL_SECONDS]


def test_changed_description_alone_is_a_put(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stored(stubber)
    expect_put(stubber, AMI, 4, create=False, description="Rolled back")
    readable(stubber, AMI, 4)
    result = mod.run(client, params(description="Rolled back"), check_mode=False, sleep=no_sleep)
    assert result == {"changed": True, "parameter": expected(AMI, 4, description="Rolled back")}


def test_omitted_description_and_tags_are_left_alone(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stored(stubber)
    result = mod.run(client, params(description=None, tags=None), check_mode=False)
    assert result == {"changed": False, "parameter": expected(AMI, 3)}


def test_a_version_that_never_appears_fails(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stored(stubber)
    stubber.add_response("put_parameter", {"Version": 4, "Tier": "Standard"})
    for _ in range(3):
        readable(stubber, AMI, 3)
    with pytest.raises(mod.SsmParameterError) as caught:
        mod.run(client, params(value=NEW_AMI, wait_timeout=4), check_mode=False, sleep=no_sleep)
    assert str(caught.value) == (
        f"{NAME}: version 4 ({NEW_AMI}) was not readable after 4 s: Parameter Store rejects an aws:ec2:image "
        "value that is not an AMI this account can use (check the AMI id, its region and its launch permissions)"
    )


def test_text_parameter_is_not_waited_for(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    missing(stubber)
    stubber.add_response("put_parameter", {"Version": 1, "Tier": "Standard"})
    result = mod.run(client, params(data_type="text", tags=None), check_mode=False)
    assert result["parameter"]["data_type"] == "text"
    assert result["changed"] is True


def test_tags_only_change_uses_the_tag_api(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stored(stubber, tags={"Project": "arena", "Tier": "api", "Owner": "someone"})
    stubber.add_response(
        "add_tags_to_resource",
        {},
        {
            "ResourceType": "Parameter",
            "ResourceId": NAME,
            "Tags": [
                {"Key": "Environment", "Value": "staging"},
                {"Key": "ManagedBy", "Value": "ansible"},
                {"Key": "Tier", "Value": "web"},
            ],
        },
    )
    stubber.add_response(
        "remove_tags_from_resource", {}, {"ResourceType": "Parameter", "ResourceId": NAME, "TagKeys": ["Owner"]}
    )
    result = mod.run(client, params(), check_mode=False)
    assert result == {"changed": True, "parameter": expected(AMI, 3)}


def test_purge_tags_false_keeps_other_tags(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stored(stubber, tags=TAGS | {"Owner": "someone"})
    result = mod.run(client, params(purge_tags=False), check_mode=False)
    assert result == {"changed": False, "parameter": expected(AMI, 3, tags=TAGS | {"Owner": "someone"})}


@pytest.mark.parametrize("exists", [True, False])
def test_check_mode_does_not_write(mod: ModuleType, stubbed: tuple[Any, Stubber], exists: bool) -> None:
    client, stubber = stubbed
    if exists:
        stored(stubber)
    else:
        missing(stubber)
    result = mod.run(client, params(value=NEW_AMI), check_mode=True)
    assert result == {"changed": True, "parameter": expected(NEW_AMI, 4 if exists else 1)}


def test_data_type_change_is_refused(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stored(stubber, data_type="text")
    with pytest.raises(mod.SsmParameterError) as caught:
        mod.run(client, params(), check_mode=False)
    assert str(caught.value) == (
        f"{NAME} is stored with data_type text; AWS cannot change it to aws:ec2:image: delete the parameter "
        "first or set replace_on_data_type_change=true"
    )


def test_data_type_change_replaces_when_allowed(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stored(stubber, data_type="text")
    stubber.add_response("delete_parameter", {}, {"Name": NAME})
    expect_put(stubber, AMI, 1, create=True)
    readable(stubber, AMI, 1)
    result = mod.run(client, params(replace_on_data_type_change=True), check_mode=False)
    assert result == {"changed": True, "parameter": expected(AMI, 1)}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"string_type": "SecureString"},
            f"{NAME}: string_type SecureString is refused: this module writes plain parameters (image ids); "
            "write secrets with community.aws.ssm_parameter and a KMS key",
        ),
        ({"string_type": "string"}, "string_type must be String or StringList, got 'string'"),
        ({"string_type": "StringList"}, f"{NAME}: data_type aws:ec2:image needs string_type String, got StringList"),
        ({"value": ""}, f"{NAME}: value is required (and not empty) with state=present"),
        ({"value": None}, f"{NAME}: value is required (and not empty) with state=present"),
        ({"wait_timeout": -1}, "wait_timeout must be >= 0, got -1"),
    ],
)
def test_bad_input_is_refused_before_any_call(
    mod: ModuleType, stubbed: tuple[Any, Stubber], overrides: dict[str, Any], message: str
) -> None:
    client, _ = stubbed  # no responses queued: any AWS call would fail the test
    with pytest.raises(mod.SsmParameterError) as caught:
        mod.run(client, params(**overrides), check_mode=False)
    assert str(caught.value) == message


@pytest.mark.parametrize(("exists", "check_mode"), [(True, False), (True, True), (False, False)])
def test_absent(mod: ModuleType, stubbed: tuple[Any, Stubber], exists: bool, check_mode: bool) -> None:
    client, stubber = stubbed
    if exists:
        stored(stubber)
        if not check_mode:
            stubber.add_response("delete_parameter", {}, {"Name": NAME})
    else:
        missing(stubber)
    result = mod.run(client, params(state="absent", value=None), check_mode=check_mode)
    assert result == {"changed": exists, "parameter": {}}


def published_image_calls(version: int = 4) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """What publishing a new image id to an existing parameter calls, in order."""
    meta = {"Name": NAME, "Type": "String", "DataType": IMAGE, "Description": DESCRIPTION, "Version": version - 1}
    old = {"Name": NAME, "Type": "String", "Value": AMI, "Version": version - 1, "DataType": IMAGE}
    new = old | {"Value": NEW_AMI, "Version": version}
    put = {"Name": NAME, "Value": NEW_AMI, "Type": "String", "DataType": IMAGE, "Description": DESCRIPTION}
    tags = {"ResourceType": "Parameter", "ResourceId": NAME}
    added = sorted((k, v) for k, v in TAGS.items() if k != "Project")  # Project is already there
    return [
        ("describe_parameters", {"Parameters": [meta]}, FILTERS),
        ("get_parameter", {"Parameter": old}, {"Name": NAME}),
        ("list_tags_for_resource", {"TagList": [{"Key": "Project", "Value": "arena"}]}, tags),
        ("put_parameter", {"Version": version, "Tier": "Standard"}, put | {"Overwrite": True}),
        ("add_tags_to_resource", {}, tags | {"Tags": [{"Key": k, "Value": v} for k, v in added]}),
        ("get_parameter", {"Parameter": new}, {"Name": NAME}),
    ]


IMAGE = "aws:ec2:image"


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        # AWSRetry's own throttling code.
        ("describe_parameters", "Throttling"),
        # Parameter Store answers "ThrottlingException: Rate exceeded" above its throughput quota:
        # https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-throughput.html
        ("get_parameter", "ThrottlingException"),
        ("put_parameter", "ThrottlingException"),
        # "There are concurrent updates for a resource that supports one update at a time":
        # https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html
        ("put_parameter", "TooManyUpdates"),
        ("add_tags_to_resource", "TooManyUpdates"),
    ],
)
def test_throttled_or_busy_call_is_retried_then_succeeds(
    mod: ModuleType, run_retried: Any, *, operation: str, code: str
) -> None:
    """main() as Ansible runs it: the call answered with `code` is retried once and the run succeeds."""
    args = {"name": NAME, "value": NEW_AMI, "data_type": IMAGE, "description": DESCRIPTION, "tags": TAGS}
    result = run_retried(mod, args, "ssm", published_image_calls(), (operation, code))
    assert result["changed"] is True
    assert result["parameter"]["version"] == 4


def test_secure_string_is_not_documented(mod: ModuleType) -> None:
    """Documentation against the spec: tests/unit/library/test_module_docs.py; here what only this module promises."""
    assert "SecureString" not in yaml.safe_load(mod.DOCUMENTATION)["options"]["string_type"]["choices"]
