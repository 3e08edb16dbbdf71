"""arena_ec2_security_groups: rule planning, and the API calls against botocore's Stubber (real EC2 model)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
import yaml

SERVICE = "ec2"  # the client of the `stubbed` fixture (conftest.py)
VPC = "vpc-0a1b2c3d"
ALB, WEB = "sg-0000000000000a1b0", "sg-0000000000000e0b0"
TAGS = {"Project": "arena", "Environment": "local"}


def params(state: str = "present", alb_rules: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "vpc_id": VPC,
        "state": state,
        "groups": [
            {
                "name": "arena-local-public-alb",
                "description": "Public load balancer",
                "tags": {**TAGS, "Tier": "web"},
                "rules": alb_rules
                if alb_rules is not None
                else [{"proto": "tcp", "ports": [80, 443], "cidr_ip": "0.0.0.0/0", "rule_desc": "internet"}],
            },
            {
                "name": "arena-local-web",
                "description": "Web instances",
                "tags": {**TAGS, "Tier": "web"},
                "rules": [
                    {"proto": "tcp", "ports": [80], "group_name": "arena-local-public-alb", "rule_desc": "from alb"}
                ],
            },
        ],
    }


def tags(extra: dict[str, str] | None = None) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted({**TAGS, "Tier": "web", **(extra or {})}.items())]


def group(name: str, group_id: str, perms: list[dict[str, Any]], tag_list: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "GroupName": name,
        "GroupId": group_id,
        "VpcId": VPC,
        "OwnerId": "123456789012",
        "Description": name,
        "IpPermissions": perms,
        "IpPermissionsEgress": [],
        "Tags": tag_list,
    }


ALB_PERMS = [
    {
        "IpProtocol": "tcp",
        "FromPort": 80,
        "ToPort": 80,
        "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "internet"}],
    },
    {
        "IpProtocol": "tcp",
        "FromPort": 443,
        "ToPort": 443,
        "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "internet"}],
    },
]
WEB_PERMS = [
    {
        "IpProtocol": "tcp",
        "FromPort": 80,
        "ToPort": 80,
        "UserIdGroupPairs": [{"GroupId": ALB, "UserId": "123456789012", "Description": "from alb"}],
    }
]
DESCRIBE = {
    "Filters": [
        {"Name": "vpc-id", "Values": [VPC]},
        {"Name": "group-name", "Values": ["arena-local-public-alb", "arena-local-web"]},
    ]
}


def test_creates_every_group_with_tags_then_authorises_rules_by_group_id(
    mod: ModuleType, stubbed: Any, queue_calls: Any
) -> None:
    """The calls: creation_calls() below (describe, two creates with tags, the ALB's CIDR rules, the web
    group's rule from the ALB by group id)."""
    client, stub = stubbed
    queue_calls(stub, creation_calls(), None)
    ids, changes = mod.ensure_present(client, params(), check=False)
    assert ids == {"arena-local-public-alb": ALB, "arena-local-web": WEB}
    assert changes["arena-local-web"]["created"] is True
    assert "tags" not in changes["arena-local-web"]  # set at creation, not again


def test_second_run_describes_once_and_changes_nothing(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    found = [group("arena-local-public-alb", ALB, ALB_PERMS, tags()), group("arena-local-web", WEB, WEB_PERMS, tags())]
    stub.add_response("describe_security_groups", {"SecurityGroups": found}, DESCRIBE)
    ids, changes = mod.ensure_present(client, params(), check=False)
    assert ids == {"arena-local-public-alb": ALB, "arena-local-web": WEB}
    assert changes == {}


def test_drift_revokes_extra_rules_authorises_missing_ones_and_adds_tags(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    found = [
        group("arena-local-public-alb", ALB, [ALB_PERMS[0], ssh], tags()),
        group(
            "arena-local-web", WEB, WEB_PERMS, [{"Key": "Project", "Value": "arena"}, {"Key": "Owner", "Value": "x"}]
        ),
    ]
    stub.add_response("describe_security_groups", {"SecurityGroups": found}, DESCRIBE)
    stub.add_response(
        "revoke_security_group_ingress",
        {"Return": True},
        {
            "GroupId": ALB,
            "IpPermissions": [
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
            ],
        },
    )
    stub.add_response(
        "authorize_security_group_ingress",
        {"Return": True},
        {
            "GroupId": ALB,
            "IpPermissions": [
                {
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "internet"}],
                }
            ],
        },
    )
    # Missing tags are added; the unmanaged Owner tag is kept (no delete_tags call).
    stub.add_response(
        "create_tags",
        {},
        {"Resources": [WEB], "Tags": [{"Key": "Environment", "Value": "local"}, {"Key": "Tier", "Value": "web"}]},
    )
    _ids, changes = mod.ensure_present(client, params(), check=False)
    assert changes["arena-local-public-alb"]["revoked"] == [["tcp", 22, 22, "cidr", "0.0.0.0/0"]]
    assert changes["arena-local-public-alb"]["authorized"] == [["tcp", 443, 443, "cidr", "0.0.0.0/0"]]
    assert changes["arena-local-web"] == {"tags": {"Environment": "local", "Tier": "web"}}


def test_changed_description_is_updated_in_place(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    old = [{**p, "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "old"}]} for p in ALB_PERMS]
    found = [group("arena-local-public-alb", ALB, old, tags()), group("arena-local-web", WEB, WEB_PERMS, tags())]
    stub.add_response("describe_security_groups", {"SecurityGroups": found}, DESCRIBE)
    stub.add_response(
        "update_security_group_rule_descriptions_ingress",
        {"Return": True},
        {
            "GroupId": ALB,
            "IpPermissions": [
                {**p, "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "internet"}]} for p in ALB_PERMS
            ],
        },
    )
    _ids, changes = mod.ensure_present(client, params(), check=False)
    assert list(changes) == ["arena-local-public-alb"]
    assert len(changes["arena-local-public-alb"]["descriptions"]) == 2


def test_check_mode_reports_creation_without_writing(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    stub.add_response("describe_security_groups", {"SecurityGroups": []}, DESCRIBE)
    ids, changes = mod.ensure_present(client, params(), check=True)
    assert ids == {"arena-local-public-alb": "check-mode-new", "arena-local-web": "check-mode-new"}
    assert set(changes) == {"arena-local-public-alb", "arena-local-web"}


def test_absent_revokes_inner_references_then_deletes_in_reverse_order(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    found = [group("arena-local-public-alb", ALB, ALB_PERMS, tags()), group("arena-local-web", WEB, WEB_PERMS, tags())]
    stub.add_response("describe_security_groups", {"SecurityGroups": found}, DESCRIBE)
    stub.add_response(
        "revoke_security_group_ingress",
        {"Return": True},
        {
            "GroupId": WEB,
            "IpPermissions": [
                {
                    "IpProtocol": "tcp",
                    "FromPort": 80,
                    "ToPort": 80,
                    "UserIdGroupPairs": [{"GroupId": ALB, "Description": "from alb"}],
                }
            ],
        },
    )
    stub.add_response("delete_security_group", {}, {"GroupId": WEB})
    stub.add_response("delete_security_group", {}, {"GroupId": ALB})
    changes = mod.ensure_absent(client, params("absent"), check=False)
    assert changes["arena-local-web"] == {"revoked": [["tcp", 80, 80, "group", ALB]], "deleted": True}
    assert changes["arena-local-public-alb"] == {"deleted": True}


def test_absent_when_nothing_exists_changes_nothing(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    stub.add_response("describe_security_groups", {"SecurityGroups": []}, DESCRIBE)
    assert mod.ensure_absent(client, params("absent"), check=False) == {}


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"proto": "-1", "ports": [0], "cidr_ip": "10.0.0.0/8"},
            "group arena-local-public-alb: protocol -1 (every protocol) is refused",
        ),
        (
            {"proto": "tcp", "ports": [80], "cidr_ip": "10.0.0.0/8", "group_name": "arena-local-web"},
            "group arena-local-public-alb: each rule needs exactly one of cidr_ip and group_name: "
            "{'proto': 'tcp', 'ports': [80], 'cidr_ip': '10.0.0.0/8', 'group_name': 'arena-local-web'}",
        ),
        (
            {"proto": "tcp", "ports": [80], "group_name": "nowhere"},
            "group arena-local-public-alb: source group nowhere not found in the VPC",
        ),
    ],
)
def test_bad_rules_are_refused_with_the_group_named(mod: ModuleType, rule: dict[str, Any], message: str) -> None:
    with pytest.raises(mod.InputError) as err:
        mod.wanted_rules(params(alb_rules=[rule])["groups"][0], {"arena-local-web": WEB})
    assert str(err.value) == message


def test_current_rules_flattens_merged_permissions(mod: ModuleType) -> None:
    merged = [
        {
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "IpRanges": [{"CidrIp": "192.0.2.0/24"}, {"CidrIp": "198.51.100.0/24", "Description": "vpn"}],
            "UserIdGroupPairs": [{"GroupId": WEB}],
        }
    ]
    assert mod.current_rules(merged) == {
        ("tcp", 443, 443, "cidr", "192.0.2.0/24"): "",
        ("tcp", 443, 443, "cidr", "198.51.100.0/24"): "vpn",
        ("tcp", 443, 443, "group", WEB): "",
    }


def test_documentation_examples_and_return_parse(mod: ModuleType) -> None:
    doc = yaml.safe_load(mod.DOCUMENTATION)
    assert set(doc["options"]) == {"vpc_id", "groups", "state"}
    assert set(doc["options"]["groups"]["suboptions"]["rules"]["suboptions"]) == {
        "proto",
        "ports",
        "cidr_ip",
        "group_name",
        "rule_desc",
    }
    assert yaml.safe_load(mod.EXAMPLES)[0]["arena_ec2_security_groups"]["groups"]
    assert set(yaml.safe_load(mod.RETURN)) == {"groups", "changes"}


def creation_calls() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """An empty VPC: both groups created, then the ALB's CIDR rules and the web group's rule from the ALB."""
    calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        ("describe_security_groups", {"SecurityGroups": []}, DESCRIBE)
    ]
    for name, desc, gid in (
        ("arena-local-public-alb", "Public load balancer", ALB),
        ("arena-local-web", "Web instances", WEB),
    ):
        spec = {"GroupName": name, "Description": desc, "VpcId": VPC}
        tagging = {"TagSpecifications": [{"ResourceType": "security-group", "Tags": tags()}]}
        calls.append(("create_security_group", {"GroupId": gid}, spec | tagging))
    web_rule = {
        "IpProtocol": "tcp",
        "FromPort": 80,
        "ToPort": 80,
        "UserIdGroupPairs": [{"GroupId": ALB, "Description": "from alb"}],
    }
    calls.append(("authorize_security_group_ingress", {"Return": True}, {"GroupId": ALB, "IpPermissions": ALB_PERMS}))
    calls.append(("authorize_security_group_ingress", {"Return": True}, {"GroupId": WEB, "IpPermissions": [web_rule]}))
    return calls


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        # EC2's throttling error: https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html
        ("describe_security_groups", "RequestLimitExceeded"),
        ("create_security_group", "RequestLimitExceeded"),
        # The id CreateSecurityGroup just returned is not known everywhere yet:
        # https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html
        ("authorize_security_group_ingress", "InvalidGroup.NotFound"),
    ],
)
def test_throttling_and_a_new_group_not_yet_visible_are_retried(
    mod: ModuleType, run_retried: Any, *, operation: str, code: str
) -> None:
    result = run_retried(mod, params(), "ec2", creation_calls(), (operation, code))
    assert result["groups"] == {"arena-local-public-alb": ALB, "arena-local-web": WEB}
