"""arena_elasticache_replication_group against botocore's real ElastiCache model (Stubber)."""

from __future__ import annotations

from typing import Any

import pytest
from arena_loader import library_module
from botocore.stub import ANY, Stubber
from stub_answers import expect_lookup

mod = library_module("arena_elasticache_replication_group")
ARN = "arn:aws:elasticache:eu-west-1:123456789012:replicationgroup:arena-cache"
TAGS = {"Project": "arena", "Environment": "production", "ManagedBy": "arena-infra"}


def params(**over: Any) -> dict[str, Any]:
    base = {
        "replication_group_id": "arena-cache",
        "state": "present",
        "description": "arena cache",
        "engine": "valkey",
        "engine_version": "8.0",
        "node_type": "cache.t4g.small",
        "port": 6379,
        "availability_zones": ["eu-west-1a", "eu-west-1b"],
        "multi_az": True,
        "automatic_failover": True,
        "at_rest_encryption": True,
        "transit_encryption": True,
        "kms_key_id": None,
        "auth_token": "x" * 32,
        "cache_subnet_group": "arena-cache",
        "security_group_ids": ["sg-0123456789abcdef0"],
        "parameter_group": "arena-valkey8",
        "maintenance_window": "tue:03:00-tue:04:00",
        "snapshot_window": "01:00-02:00",
        "snapshot_retention_limit": 7,
        "tags": TAGS,
        "apply_immediately": True,
        "wait": False,
        "wait_timeout": 60,
    }
    base.update(over)
    return base


def group(**over: Any) -> dict[str, Any]:
    base = {
        "ReplicationGroupId": "arena-cache",
        "Description": "arena cache",
        "Status": "available",
        "MemberClusters": ["arena-cache-001", "arena-cache-002"],
        "NodeGroups": [
            {
                "NodeGroupId": "0001",
                "PrimaryEndpoint": {"Address": "master.arena-cache.x.cache.amazonaws.com", "Port": 6379},
            }
        ],
        "AutomaticFailover": "enabled",
        "MultiAZ": "enabled",
        "SnapshotRetentionLimit": 7,
        "SnapshotWindow": "01:00-02:00",
        "CacheNodeType": "cache.t4g.small",
        "AuthTokenEnabled": True,
        "TransitEncryptionEnabled": True,
        "AtRestEncryptionEnabled": True,
        "ARN": ARN,
    }
    base.update(over)
    return base


def cluster(**over: Any) -> dict[str, Any]:
    base = {
        "CacheClusterId": "arena-cache-001",
        "PreferredMaintenanceWindow": "tue:03:00-tue:04:00",
        "SecurityGroups": [{"SecurityGroupId": "sg-0123456789abcdef0", "Status": "active"}],
        "CacheParameterGroup": {"CacheParameterGroupName": "arena-valkey8", "ParameterApplyStatus": "in-sync"},
    }
    base.update(over)
    return base


@pytest.fixture
def stub(stub_client: Any) -> tuple[Any, Stubber]:
    return stub_client("elasticache", mod.RETRY)


def expect_describe(stubber: Stubber, found: dict[str, Any] | None) -> None:
    answer = None if found is None else {"ReplicationGroups": [found]}
    expect_lookup(
        stubber,
        "describe_replication_groups",
        {"ReplicationGroupId": "arena-cache"},
        answer,
        "ReplicationGroupNotFoundFault",
    )


def expect_in_sync(stubber: Stubber, tags: dict[str, str] = TAGS, member: dict[str, Any] | None = None) -> None:
    stubber.add_response(
        "describe_cache_clusters", {"CacheClusters": [member or cluster()]}, {"CacheClusterId": "arena-cache-001"}
    )
    stubber.add_response(
        "list_tags_for_resource", {"TagList": [{"Key": k, "Value": v} for k, v in tags.items()]}, {"ResourceName": ARN}
    )


def test_creates_multi_az_encrypted_group(stub) -> None:
    client, stubber = stub
    expect_describe(stubber, None)
    stubber.add_response(
        "create_replication_group",
        {"ReplicationGroup": group(Status="creating")},
        {
            "ReplicationGroupId": "arena-cache",
            "ReplicationGroupDescription": "arena cache",
            "Engine": "valkey",
            "EngineVersion": "8.0",
            "CacheNodeType": "cache.t4g.small",
            "Port": 6379,
            "NumCacheClusters": 2,
            "PreferredCacheClusterAZs": ["eu-west-1a", "eu-west-1b"],
            "MultiAZEnabled": True,
            "AutomaticFailoverEnabled": True,
            "AtRestEncryptionEnabled": True,
            "TransitEncryptionEnabled": True,
            "AuthToken": "x" * 32,
            "CacheSubnetGroupName": "arena-cache",
            "SecurityGroupIds": ["sg-0123456789abcdef0"],
            "CacheParameterGroupName": "arena-valkey8",
            "PreferredMaintenanceWindow": "tue:03:00-tue:04:00",
            "SnapshotWindow": "01:00-02:00",
            "SnapshotRetentionLimit": 7,
            "Tags": [
                {"Key": "Environment", "Value": "production"},
                {"Key": "ManagedBy", "Value": "arena-infra"},
                {"Key": "Project", "Value": "arena"},
            ],
        },
    )
    changed, result = mod.ensure_present(client, params(), check_mode=False)
    assert changed
    assert mod.primary_endpoint(result) == {"address": "master.arena-cache.x.cache.amazonaws.com", "port": 6379}


def test_check_mode_creates_nothing(stub) -> None:
    client, stubber = stub
    expect_describe(stubber, None)
    assert mod.ensure_present(client, params(), check_mode=True) == (True, {})


def test_in_sync_group_is_unchanged(stub) -> None:
    client, stubber = stub
    expect_describe(stubber, group())
    expect_in_sync(stubber)
    changed, _ = mod.ensure_present(client, params(), check_mode=False)
    assert not changed


@pytest.mark.parametrize(
    ("current", "member", "expected"),
    [
        (group(MultiAZ="disabled"), cluster(), {"MultiAZEnabled": True}),
        (group(AutomaticFailover="disabled"), cluster(), {"AutomaticFailoverEnabled": True}),
        (group(SnapshotRetentionLimit=1), cluster(), {"SnapshotRetentionLimit": 7}),
        (
            group(),
            cluster(PreferredMaintenanceWindow="sun:20:00-sun:21:00"),
            {"PreferredMaintenanceWindow": "tue:03:00-tue:04:00"},
        ),
        (group(), cluster(SecurityGroups=[]), {"SecurityGroupIds": ["sg-0123456789abcdef0"]}),
        (
            group(),
            cluster(CacheParameterGroup={"CacheParameterGroupName": "default.valkey8"}),
            {"CacheParameterGroupName": "arena-valkey8"},
        ),
    ],
    ids=["multi-az", "failover", "retention", "maintenance-window", "security-groups", "parameter-group"],
)
def test_modifies_drift(stub, current: dict[str, Any], member: dict[str, Any], expected: dict[str, Any]) -> None:
    client, stubber = stub
    expect_describe(stubber, current)
    stubber.add_response("describe_cache_clusters", {"CacheClusters": [member]}, {"CacheClusterId": "arena-cache-001"})
    stubber.add_response(
        "modify_replication_group",
        {"ReplicationGroup": group()},
        {"ReplicationGroupId": "arena-cache", "ApplyImmediately": True, **expected},
    )
    stubber.add_response(
        "list_tags_for_resource", {"TagList": [{"Key": k, "Value": v} for k, v in TAGS.items()]}, {"ResourceName": ARN}
    )
    changed, _ = mod.ensure_present(client, params(), check_mode=False)
    assert changed


def test_check_mode_reports_drift_without_modifying(stub) -> None:
    client, stubber = stub
    expect_describe(stubber, group(MultiAZ="disabled"))
    expect_in_sync(stubber)
    changed, _ = mod.ensure_present(client, params(), check_mode=True)
    assert changed  # no modify_replication_group was stubbed: a call would fail the test


def test_tags_are_reconciled(stub) -> None:
    client, stubber = stub
    expect_describe(stubber, group())
    expect_in_sync(stubber, tags={"Project": "arena", "Owner": "someone"})
    stubber.add_response(
        "add_tags_to_resource",
        {"TagList": []},
        {
            "ResourceName": ARN,
            "Tags": [{"Key": "Environment", "Value": "production"}, {"Key": "ManagedBy", "Value": "arena-infra"}],
        },
    )
    stubber.add_response("remove_tags_from_resource", {"TagList": []}, {"ResourceName": ARN, "TagKeys": ["Owner"]})
    assert mod.ensure_present(client, params(), check_mode=False)[0]


# The AUTH token: ROTATE on an available group, ApplyImmediately, token sent with its strategy
# (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyReplicationGroup.html,
# https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth.html#auth-modifyng-token).
VERSIONED = {**TAGS, "arena:auth-token-version": "3"}


def test_create_records_the_token_version(stub) -> None:
    client, stubber = stub
    expect_describe(stubber, None)
    stubber.add_response("create_replication_group", {"ReplicationGroup": group()}, None)
    assert mod.ensure_present(client, params(auth_token_version="3"), check_mode=False)[0]
    request = mod.create_request(params(auth_token_version="3"))
    assert request["AuthToken"] == "x" * 32
    assert {"Key": "arena:auth-token-version", "Value": "3"} in request["Tags"]


def test_group_holding_the_token_version_is_not_rotated(stub) -> None:
    client, stubber = stub
    expect_describe(stubber, group())
    expect_in_sync(stubber, tags=VERSIONED)
    assert mod.ensure_present(client, params(auth_token_version="3"), check_mode=False) == (False, group())


@pytest.mark.parametrize("have", [TAGS, {**TAGS, "arena:auth-token-version": "2"}], ids=["untagged", "older"])
def test_group_without_the_token_version_is_rotated_then_tagged(stub, have: dict[str, str]) -> None:
    client, stubber = stub
    expect_describe(stubber, group())
    expect_in_sync(stubber, tags=have)
    expect_describe(stubber, group())  # available: AWS takes the token now
    stubber.add_response(
        "modify_replication_group",
        {"ReplicationGroup": group(Status="modifying")},
        {
            "ReplicationGroupId": "arena-cache",
            "AuthToken": "x" * 32,
            "AuthTokenUpdateStrategy": "ROTATE",
            "ApplyImmediately": True,
        },
    )
    stubber.add_response(
        "add_tags_to_resource",
        {"TagList": []},
        {"ResourceName": ARN, "Tags": [{"Key": "arena:auth-token-version", "Value": "3"}]},
    )
    assert mod.ensure_present(client, params(auth_token_version="3"), check_mode=False)[0]


def test_check_mode_reports_a_rotation_without_rotating(stub) -> None:
    client, stubber = stub
    expect_describe(stubber, group())
    expect_in_sync(stubber, tags=TAGS)
    assert mod.ensure_present(client, params(auth_token_version="3"), check_mode=True)[0]


def test_read_back_without_a_version_keeps_the_version_tag(stub) -> None:
    client, stubber = stub
    expect_describe(stubber, group())
    expect_in_sync(stubber, tags=VERSIONED)
    assert not mod.ensure_present(client, params(auth_token=None), check_mode=True)[0]


def test_group_still_creating_is_waited_for_before_compare(stub, monkeypatch) -> None:
    """A run interrupted while AWS created the group: the re-run waits and returns the endpoint."""
    client, stubber = stub
    monkeypatch.setattr(mod.time, "sleep", lambda _s: None)
    expect_describe(stubber, group(Status="creating", NodeGroups=[]))
    for status in ("creating", "available"):
        stubber.add_response(
            "describe_replication_groups", {"ReplicationGroups": [group(Status=status)]}, {"ReplicationGroupId": ANY}
        )
    expect_in_sync(stubber, tags=VERSIONED)
    changed, result = mod.ensure_present(client, params(auth_token_version="3", wait=True), check_mode=False)
    assert not changed
    assert mod.primary_endpoint(result)["address"] == "master.arena-cache.x.cache.amazonaws.com"


def test_refuses_to_change_encryption_of_an_existing_group(stub) -> None:
    client, stubber = stub
    expect_describe(stubber, group(AtRestEncryptionEnabled=False))
    with pytest.raises(
        ValueError,
        match=r"^cannot change settings fixed at creation \(replace the group\): "
        r"at_rest_encryption is False on the existing group, requested True$",
    ):
        mod.ensure_present(client, params(), check_mode=False)


def test_emulator_group_without_readable_members_skips_member_settings(stub) -> None:
    client, stubber = stub
    expect_describe(stubber, group(MemberClusters=[]))
    stubber.add_response(
        "list_tags_for_resource", {"TagList": [{"Key": k, "Value": v} for k, v in TAGS.items()]}, {"ResourceName": ARN}
    )
    assert not mod.ensure_present(client, params(), check_mode=False)[0]


def test_absent_deletes_and_treats_deleting_as_gone(stub) -> None:
    client, stubber = stub
    expect_describe(stubber, group())
    stubber.add_response(
        "delete_replication_group",
        {"ReplicationGroup": group(Status="deleting")},
        {"ReplicationGroupId": "arena-cache"},
    )
    assert mod.ensure_absent(client, params(state="absent"), check_mode=False)
    expect_describe(stubber, group(Status="deleting"))
    assert not mod.ensure_absent(client, params(state="absent"), check_mode=False)


def test_absent_waits_for_a_group_still_creating(stub, monkeypatch) -> None:
    """A teardown after a run interrupted during the create wait: AWS deletes only an available group."""
    client, stubber = stub
    monkeypatch.setattr(mod.time, "sleep", lambda _s: None)
    expect_describe(stubber, group(Status="creating"))
    for status in ("creating", "available"):
        stubber.add_response(
            "describe_replication_groups", {"ReplicationGroups": [group(Status=status)]}, {"ReplicationGroupId": ANY}
        )
    stubber.add_response(
        "delete_replication_group",
        {"ReplicationGroup": group(Status="deleting")},
        {"ReplicationGroupId": "arena-cache"},
    )
    assert mod.ensure_absent(client, params(state="absent", wait=False), check_mode=False)


def test_absent_check_mode_deletes_nothing(stub) -> None:
    client, stubber = stub
    expect_describe(stubber, group())
    assert mod.ensure_absent(client, params(state="absent"), check_mode=True)


def test_wait_until_available(stub, monkeypatch) -> None:
    client, stubber = stub
    monkeypatch.setattr(mod.time, "sleep", lambda _s: None)
    for status in ("creating", "available"):
        stubber.add_response(
            "describe_replication_groups", {"ReplicationGroups": [group(Status=status)]}, {"ReplicationGroupId": ANY}
        )
    assert mod.wait_for(client, "arena-cache", gone=False, timeout=60)["Status"] == "available"


@pytest.mark.parametrize(
    "operation",
    ["describe_replication_groups", "describe_cache_clusters", "list_tags_for_resource", "add_tags_to_resource"],
)
def test_throttled_call_is_retried_then_succeeds(run_retried: Any, *, operation: str) -> None:
    """main() as Ansible runs it: a throttled call is retried once and the missing tag is added."""
    calls = [
        ("describe_replication_groups", {"ReplicationGroups": [group()]}, {"ReplicationGroupId": "arena-cache"}),
        ("describe_cache_clusters", {"CacheClusters": [cluster()]}, {"CacheClusterId": "arena-cache-001"}),
        ("list_tags_for_resource", {"TagList": [{"Key": "Project", "Value": "arena"}]}, {"ResourceName": ARN}),
        (
            "add_tags_to_resource",
            {"TagList": []},
            {
                "ResourceName": ARN,
                "Tags": [{"Key": "Environment", "Value": "production"}, {"Key": "ManagedBy", "Value": "arena-infra"}],
            },
        ),
    ]
    result = run_retried(mod, params(), "elasticache", calls, (operation, "Throttling"))
    assert result["changed"] is True


def test_throttled_create_is_retried(stub_client: Any, *, run_module: Any, retry_sleeps: list[float]) -> None:
    raw_client, stubber = stub_client("elasticache")
    expect_describe(stubber, None)
    # The request itself is checked in test_creates_multi_az_encrypted_group.
    stubber.add_client_error("create_replication_group", service_error_code="Throttling")
    stubber.add_response("create_replication_group", {"ReplicationGroup": group(Status="creating")})
    result = run_module(mod, params(), {"elasticache": raw_client})
    stubber.assert_no_pending_responses()
    assert result.get("failed") is None, result
    assert result["primary_endpoint"] == {"address": "master.arena-cache.x.cache.amazonaws.com", "port": 6379}
    assert len(retry_sleeps) == 1
