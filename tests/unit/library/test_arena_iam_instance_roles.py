"""arena_iam_instance_roles: document comparison, and the API calls against botocore's Stubber (real IAM model)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import ModuleType
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from botocore.stub import Stubber

SERVICE = "iam"  # the client of the `stubbed` fixture (conftest.py)
REGION = "us-east-1"
NAME = "arena-local-web-instance"
ARN = f"arn:aws:iam::123456789012:role/{NAME}"
PROFILE_ARN = f"arn:aws:iam::123456789012:instance-profile/{NAME}"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "ReadOwn", "Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": ["arn:x"]}],
}
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def fresh(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> Any:
    """The same connection with the decorator main() uses for roles and profiles it has just created."""
    return RetryingBotoClientWrapper(stubbed[0].client, mod.RETRY_NEW)


def role(**over: Any) -> dict[str, Any]:
    return {
        "name": NAME,
        "description": "Instances of the web tier",
        "assume_role_policy": TRUST,
        "inline_policies": {"least-privilege": POLICY},
        "managed_policies": [],
        "tags": {"Project": "arena", "Tier": "web"},
        **over,
    }


def api_role(trust: Any = None, description: str = "Instances of the web tier") -> dict[str, Any]:
    return {
        "Role": {
            "Path": "/",
            "RoleName": NAME,
            "RoleId": "AROAEXAMPLEEXAMPLE01",
            "Arn": ARN,
            "CreateDate": WHEN,
            "AssumeRolePolicyDocument": quote(json.dumps(trust or TRUST)),
            "Description": description,
        }
    }


def api_profile(roles: list[str]) -> dict[str, Any]:
    return {
        "InstanceProfile": {
            "Path": "/",
            "InstanceProfileName": NAME,
            "InstanceProfileId": "AIPAEXAMPLEEXAMPLE01",
            "Arn": PROFILE_ARN,
            "CreateDate": WHEN,
            "Roles": [api_role()["Role"] | {"RoleName": r} for r in roles],
        }
    }


def not_found(stub: Stubber, method: str, params: dict[str, Any]) -> None:
    stub.add_client_error(method, service_error_code="NoSuchEntity", http_status_code=404, expected_params=params)


def existing_role_reads(stub: Stubber, policy: Any = POLICY, tags: list[dict[str, str]] | None = None) -> None:
    stub.add_response("get_role", api_role(), {"RoleName": NAME})
    stub.add_response(
        "list_role_tags",
        {"Tags": tags if tags is not None else [{"Key": "Project", "Value": "arena"}, {"Key": "Tier", "Value": "web"}]},
        {"RoleName": NAME},
    )
    stub.add_response("list_attached_role_policies", {"AttachedPolicies": []}, {"RoleName": NAME})
    stub.add_response(
        "get_role_policy",
        {"RoleName": NAME, "PolicyName": "least-privilege", "PolicyDocument": quote(json.dumps(policy))},
        {"RoleName": NAME, "PolicyName": "least-privilege"},
    )


def test_creates_role_policy_and_profile(mod: ModuleType, stubbed: Any, fresh: Any) -> None:
    client, stub = stubbed
    not_found(stub, "get_role", {"RoleName": NAME})
    stub.add_response(
        "create_role",
        api_role(),
        {
            "RoleName": NAME,
            "AssumeRolePolicyDocument": json.dumps(TRUST),
            "Description": "Instances of the web tier",
            "Tags": [{"Key": "Project", "Value": "arena"}, {"Key": "Tier", "Value": "web"}],
        },
    )
    stub.add_response(
        "put_role_policy",
        {},
        {"RoleName": NAME, "PolicyName": "least-privilege", "PolicyDocument": json.dumps(POLICY)},
    )
    not_found(stub, "get_instance_profile", {"InstanceProfileName": NAME})
    stub.add_response("create_instance_profile", api_profile([]), {"InstanceProfileName": NAME})
    stub.add_response("add_role_to_instance_profile", {}, {"InstanceProfileName": NAME, "RoleName": NAME})
    result, change = mod.ensure_role(client, fresh, role(), check=False)
    assert result == {"arn": ARN, "instance_profile_arn": PROFILE_ARN}
    assert change == {
        "created": True,
        "inline_policies": ["least-privilege"],
        "instance_profile": "created",
        "instance_profile_role": "added",
    }


def test_second_run_changes_nothing(mod: ModuleType, stubbed: Any, fresh: Any) -> None:
    client, stub = stubbed
    # The policy comes back with another key order and a one-element list as a plain string.
    reordered = {"Statement": [{**POLICY["Statement"][0], "Action": "ssm:GetParameter"}], "Version": "2012-10-17"}
    existing_role_reads(stub, policy=reordered)
    stub.add_response("get_instance_profile", api_profile([NAME]), {"InstanceProfileName": NAME})
    result, change = mod.ensure_role(client, fresh, role(), check=False)
    assert change == {}
    assert result["instance_profile_arn"] == PROFILE_ARN


def test_drift_is_corrected_and_unmanaged_tags_kept(mod: ModuleType, stubbed: Any, fresh: Any) -> None:
    client, stub = stubbed
    wider = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:*", "Resource": "*"}]}
    stub.add_response("get_role", api_role(description="old"), {"RoleName": NAME})
    stub.add_response("list_role_tags", {"Tags": [{"Key": "Owner", "Value": "x"}]}, {"RoleName": NAME})
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    stub.add_response(
        "list_attached_role_policies",
        {"AttachedPolicies": [{"PolicyName": "AdministratorAccess", "PolicyArn": admin}]},
        {"RoleName": NAME},
    )
    stub.add_response(
        "get_role_policy",
        {"RoleName": NAME, "PolicyName": "least-privilege", "PolicyDocument": json.dumps(wider)},
        {"RoleName": NAME, "PolicyName": "least-privilege"},
    )
    stub.add_response("update_role_description", {}, {"RoleName": NAME, "Description": "Instances of the web tier"})
    stub.add_response(
        "tag_role",
        {},
        {"RoleName": NAME, "Tags": [{"Key": "Project", "Value": "arena"}, {"Key": "Tier", "Value": "web"}]},
    )
    stub.add_response("detach_role_policy", {}, {"RoleName": NAME, "PolicyArn": admin})
    stub.add_response(
        "put_role_policy",
        {},
        {"RoleName": NAME, "PolicyName": "least-privilege", "PolicyDocument": json.dumps(POLICY)},
    )
    stub.add_response("get_instance_profile", api_profile([NAME]), {"InstanceProfileName": NAME})
    _result, change = mod.ensure_role(client, fresh, role(), check=False)
    assert change == {
        "description": "Instances of the web tier",
        "tags": {"Project": "arena", "Tier": "web"},
        "detached": [admin],
        "inline_policies": ["least-privilege"],
    }


def test_changed_trust_policy_is_updated(mod: ModuleType, stubbed: Any, fresh: Any) -> None:
    client, stub = stubbed
    lambda_trust = {**TRUST, "Statement": [{**TRUST["Statement"][0], "Principal": {"Service": "lambda.amazonaws.com"}}]}
    stub.add_response("get_role", api_role(trust=lambda_trust), {"RoleName": NAME})
    stub.add_response(
        "list_role_tags",
        {"Tags": [{"Key": "Project", "Value": "arena"}, {"Key": "Tier", "Value": "web"}]},
        {"RoleName": NAME},
    )
    stub.add_response("list_attached_role_policies", {"AttachedPolicies": []}, {"RoleName": NAME})
    stub.add_response(
        "get_role_policy",
        {"RoleName": NAME, "PolicyName": "least-privilege", "PolicyDocument": json.dumps(POLICY)},
        {"RoleName": NAME, "PolicyName": "least-privilege"},
    )
    stub.add_response("update_assume_role_policy", {}, {"RoleName": NAME, "PolicyDocument": json.dumps(TRUST)})
    stub.add_response("get_instance_profile", api_profile([NAME]), {"InstanceProfileName": NAME})
    _result, change = mod.ensure_role(client, fresh, role(), check=False)
    assert change == {"trust_policy": True}


def test_check_mode_on_an_empty_account_writes_nothing(mod: ModuleType, stubbed: Any, fresh: Any) -> None:
    client, stub = stubbed
    not_found(stub, "get_role", {"RoleName": NAME})
    result, change = mod.ensure_role(client, fresh, role(), check=True)
    assert result == {"arn": "", "instance_profile_arn": ""}
    assert change == {"created": True}


def test_check_mode_on_drift_only_reads(mod: ModuleType, stubbed: Any, fresh: Any) -> None:
    client, stub = stubbed
    existing_role_reads(stub, tags=[])
    stub.add_response("get_instance_profile", api_profile([]), {"InstanceProfileName": NAME})
    _result, change = mod.ensure_role(client, fresh, role(), check=True)
    assert change == {"tags": {"Project": "arena", "Tier": "web"}, "instance_profile_role": "added"}


def test_absent_empties_and_deletes_profile_then_role(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    stub.add_response("get_role", api_role(), {"RoleName": NAME})
    stub.add_response("get_instance_profile", api_profile([NAME]), {"InstanceProfileName": NAME})
    stub.add_response("remove_role_from_instance_profile", {}, {"InstanceProfileName": NAME, "RoleName": NAME})
    stub.add_response("delete_instance_profile", {}, {"InstanceProfileName": NAME})
    stub.add_response("list_attached_role_policies", {"AttachedPolicies": []}, {"RoleName": NAME})
    stub.add_response("list_role_policies", {"PolicyNames": ["least-privilege"]}, {"RoleName": NAME})
    stub.add_response("delete_role_policy", {}, {"RoleName": NAME, "PolicyName": "least-privilege"})
    stub.add_response("delete_role", {}, {"RoleName": NAME})
    assert mod.remove_role(client, NAME, check=False) == {"deleted": True}


def test_absent_when_nothing_exists_changes_nothing(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    not_found(stub, "get_role", {"RoleName": NAME})
    not_found(stub, "get_instance_profile", {"InstanceProfileName": NAME})
    assert mod.remove_role(client, NAME, check=False) == {}


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ({"A": ["x", "y"]}, {"A": ["y", "x"]}, True),
        ({"A": ["x"]}, {"A": "x"}, True),
        (quote(json.dumps({"A": 1})), {"A": 1}, True),
        ({"A": ["x", "y"]}, {"A": ["x"]}, False),
        ({"Resource": "*"}, {"Resource": "arn:x"}, False),
    ],
)
def test_documents_compare_as_data(mod: ModuleType, a: Any, b: Any, same: bool) -> None:
    assert mod.same_document(a, b) is same


def test_documentation_examples_and_return_parse(mod: ModuleType) -> None:
    doc = yaml.safe_load(mod.DOCUMENTATION)
    assert set(doc["options"]) == {"roles", "state"}
    assert set(doc["options"]["roles"]["suboptions"]) == {
        "name",
        "description",
        "assume_role_policy",
        "inline_policies",
        "managed_policies",
        "tags",
    }
    assert yaml.safe_load(mod.EXAMPLES)[0]["arena_iam_instance_roles"]["roles"]
    assert set(yaml.safe_load(mod.RETURN)) == {"roles", "changes"}


NO_SUCH_ENTITY = {"Error": {"Code": "NoSuchEntity"}}


def creation_calls() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """An account without the role: role, inline policy, profile, role added to the profile."""
    tags = [{"Key": "Project", "Value": "arena"}, {"Key": "Tier", "Value": "web"}]
    create = {
        "RoleName": NAME,
        "AssumeRolePolicyDocument": json.dumps(TRUST),
        "Description": "Instances of the web tier",
        "Tags": tags,
    }
    policy = {"RoleName": NAME, "PolicyName": "least-privilege", "PolicyDocument": json.dumps(POLICY)}
    return [
        ("get_role", NO_SUCH_ENTITY, {"RoleName": NAME}),
        ("create_role", api_role(), create),
        ("put_role_policy", {}, policy),
        ("get_instance_profile", NO_SUCH_ENTITY, {"InstanceProfileName": NAME}),
        ("create_instance_profile", api_profile([]), {"InstanceProfileName": NAME}),
        ("add_role_to_instance_profile", {}, {"InstanceProfileName": NAME, "RoleName": NAME}),
    ]


@pytest.mark.parametrize(
    ("fail", "retries"),
    [
        # The existence checks' NoSuchEntity is an answer: nothing is retried.
        (None, 0),
        (("get_role", "Throttling"), 1),
        # "Wait a few minutes and submit your request again":
        # https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
        (("create_role", "ConcurrentModification"), 1),
        (("create_instance_profile", "ConcurrentModification"), 1),
        # The role or profile just created is not visible everywhere yet:
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency
        (("put_role_policy", "NoSuchEntity"), 1),
        (("add_role_to_instance_profile", "NoSuchEntity"), 1),
    ],
    ids=["no-error", "throttled", "concurrent-create-role", "concurrent-create-profile", "new-role", "new-profile"],
)
def test_new_role_retries_throttling_and_eventual_consistency(
    mod: ModuleType, run_retried: Any, *, fail: Any, retries: int
) -> None:
    args = {"roles": [role()]}
    result = run_retried(mod, args, "iam", creation_calls(), fail, region="us-east-1", retries=retries)
    assert result["roles"] == {NAME: {"arn": ARN, "instance_profile_arn": PROFILE_ARN}}


def test_no_such_entity_on_an_existing_role_is_not_waited_for(
    mod: ModuleType, stub_client: Any, *, run_module: Any, retry_sleeps: list[float]
) -> None:
    """Only what this run created is waited for: a role that was read a moment ago and is gone
    now (deleted meanwhile) fails the run at once."""
    raw_client, stubber = stub_client("iam", region="us-east-1")
    existing_role_reads(stubber, policy={"Version": "2012-10-17", "Statement": []})
    stubber.add_client_error(
        "put_role_policy",
        service_error_code="NoSuchEntity",
        expected_params={"RoleName": NAME, "PolicyName": "least-privilege", "PolicyDocument": json.dumps(POLICY)},
    )
    result = run_module(mod, {"roles": [role()]}, {"iam": raw_client})
    stubber.assert_no_pending_responses()
    assert result["failed"] is True
    assert result["error"]["code"] == "NoSuchEntity"
    assert retry_sleeps == []
