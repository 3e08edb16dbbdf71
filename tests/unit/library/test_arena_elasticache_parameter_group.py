"""arena_elasticache_parameter_group against botocore's real ElastiCache model (Stubber only: the
emulator has no parameter groups)."""

from __future__ import annotations

from typing import Any

import pytest
from arena_loader import library_module
from botocore.stub import Stubber

mod = library_module("arena_elasticache_parameter_group")
GROUP = {"CacheParameterGroupName": "arena-valkey8", "CacheParameterGroupFamily": "valkey8", "Description": "d"}
# ModifyCacheParameterGroup of the default parameters (params()): allkeys-lru, and timeout 300.
MODIFY = {
    "CacheParameterGroupName": "arena-valkey8",
    "ParameterNameValues": [
        {"ParameterName": "maxmemory-policy", "ParameterValue": "allkeys-lru"},
        {"ParameterName": "timeout", "ParameterValue": "300"},
    ],
}


def params(**over: Any) -> dict[str, Any]:
    base = {
        "name": "arena-valkey8",
        "family": "valkey8",
        "description": "d",
        "parameters": {"maxmemory-policy": "allkeys-lru", "timeout": 300},
        "state": "present",
    }
    base.update(over)
    return base


@pytest.fixture
def stub(stub_client: Any) -> tuple[Any, Stubber]:
    return stub_client("elasticache", mod.RETRY)


def expect_group(stubber: Stubber, found: bool) -> None:
    if found:
        stubber.add_response(
            "describe_cache_parameter_groups",
            {"CacheParameterGroups": [GROUP]},
            {"CacheParameterGroupName": "arena-valkey8"},
        )
    else:
        stubber.add_client_error(
            "describe_cache_parameter_groups",
            service_error_code="CacheParameterGroupNotFound",
            expected_params={"CacheParameterGroupName": "arena-valkey8"},
        )


def expect_user_params(stubber: Stubber, values: dict[str, str]) -> None:
    stubber.add_response(
        "describe_cache_parameters",
        {"Parameters": [{"ParameterName": k, "ParameterValue": v} for k, v in values.items()]},
        {"CacheParameterGroupName": "arena-valkey8", "Source": "user"},
    )


def test_creates_valkey8_group_with_parameters(stub) -> None:
    client, stubber = stub
    expect_group(stubber, found=False)
    stubber.add_response(
        "create_cache_parameter_group",
        {"CacheParameterGroup": GROUP},
        {"CacheParameterGroupName": "arena-valkey8", "CacheParameterGroupFamily": "valkey8", "Description": "d"},
    )
    stubber.add_response("modify_cache_parameter_group", {"CacheParameterGroupName": "arena-valkey8"}, MODIFY)
    assert mod.ensure_present(client, params(), check_mode=False)


def test_in_sync_group_is_unchanged(stub) -> None:
    client, stubber = stub
    expect_group(stubber, found=True)
    expect_user_params(stubber, {"maxmemory-policy": "allkeys-lru", "timeout": "300"})
    assert not mod.ensure_present(client, params(), check_mode=False)


def test_sets_drift_and_resets_unlisted(stub) -> None:
    client, stubber = stub
    expect_group(stubber, found=True)
    expect_user_params(stubber, {"maxmemory-policy": "volatile-lru", "timeout": "300", "notify-keyspace-events": "Ex"})
    stubber.add_response(
        "modify_cache_parameter_group",
        {"CacheParameterGroupName": "arena-valkey8"},
        {
            "CacheParameterGroupName": "arena-valkey8",
            "ParameterNameValues": [{"ParameterName": "maxmemory-policy", "ParameterValue": "allkeys-lru"}],
        },
    )
    stubber.add_response(
        "reset_cache_parameter_group",
        {"CacheParameterGroupName": "arena-valkey8"},
        {
            "CacheParameterGroupName": "arena-valkey8",
            "ResetAllParameters": False,
            "ParameterNameValues": [{"ParameterName": "notify-keyspace-events"}],
        },
    )
    assert mod.ensure_present(client, params(), check_mode=False)


def test_check_mode_changes_nothing(stub) -> None:
    client, stubber = stub
    expect_group(stubber, found=True)
    expect_user_params(stubber, {"timeout": "0"})
    assert mod.ensure_present(client, params(), check_mode=True)


def test_refuses_a_family_change(stub) -> None:
    client, stubber = stub
    expect_group(stubber, found=True)
    with pytest.raises(ValueError, match=r"^parameter group arena-valkey8 has family valkey8, requested redis7: "):
        mod.ensure_present(client, params(family="redis7"), check_mode=False)


def test_absent(stub) -> None:
    client, stubber = stub
    expect_group(stubber, found=True)
    stubber.add_response("delete_cache_parameter_group", {}, {"CacheParameterGroupName": "arena-valkey8"})
    assert mod.ensure_absent(client, params(state="absent"), check_mode=False)
    expect_group(stubber, found=False)
    assert not mod.ensure_absent(client, params(state="absent"), check_mode=False)


def test_every_page_of_user_parameters_is_read(stub) -> None:
    client, stubber = stub
    expect_group(stubber, found=True)
    request = {"CacheParameterGroupName": "arena-valkey8", "Source": "user"}
    first = [{"ParameterName": "timeout", "ParameterValue": "300"}]
    second = [{"ParameterName": "maxmemory-policy", "ParameterValue": "allkeys-lru"}]
    stubber.add_response("describe_cache_parameters", {"Parameters": first, "Marker": "m1"}, request)
    stubber.add_response("describe_cache_parameters", {"Parameters": second}, request | {"Marker": "m1"})
    assert not mod.ensure_present(client, params(), check_mode=False)


@pytest.mark.parametrize(
    "operation", ["describe_cache_parameter_groups", "describe_cache_parameters", "modify_cache_parameter_group"]
)
def test_throttled_call_is_retried_then_succeeds(run_retried: Any, *, operation: str) -> None:
    """main() as Ansible runs it: a throttled call (the paginated listing included) is retried once."""
    calls = [
        (
            "describe_cache_parameter_groups",
            {"CacheParameterGroups": [GROUP]},
            {"CacheParameterGroupName": "arena-valkey8"},
        ),
        (
            "describe_cache_parameters",
            {"Parameters": [{"ParameterName": "timeout", "ParameterValue": "0"}]},
            {"CacheParameterGroupName": "arena-valkey8", "Source": "user"},
        ),
        ("modify_cache_parameter_group", {"CacheParameterGroupName": "arena-valkey8"}, MODIFY),
    ]
    result = run_retried(mod, params(), "elasticache", calls, (operation, "Throttling"))
    assert result["changed"] is True
