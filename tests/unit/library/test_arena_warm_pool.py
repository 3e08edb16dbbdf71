"""arena_warm_pool against botocore's Stubber (the real autoscaling API model)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

ROOT = Path(__file__).resolve().parents[3]
GROUP = "arena-production-web"
CONFIG = {"MinSize": 6, "MaxGroupPreparedCapacity": -1, "PoolState": "Stopped", "Status": "",
          "InstanceReusePolicy": {"ReuseOnScaleIn": True}}  # fmt: skip


@pytest.fixture(scope="module")
def mod() -> ModuleType:
    name = "arena_warm_pool_under_test"
    spec = importlib.util.spec_from_file_location(name, ROOT / "library" / "arena_warm_pool.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "autoscaling", region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def params(**overrides: Any) -> dict[str, Any]:
    base = {
        "autoscaling_group_name": GROUP,
        "state": "present",
        "min_size": 6,
        "max_group_prepared_capacity": -1,
        "pool_state": "Stopped",
        "reuse_on_scale_in": True,
        "force_delete": False,
    }
    return base | overrides


def described(config: dict[str, Any] | None) -> dict[str, Any]:
    return {"WarmPoolConfiguration": config, "Instances": []} if config else {"Instances": []}


def test_creates_a_missing_pool(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_warm_pool", described(None), {"AutoScalingGroupName": GROUP})
    stubber.add_response(
        "put_warm_pool",
        {},
        {
            "AutoScalingGroupName": GROUP,
            "MaxGroupPreparedCapacity": -1,
            "MinSize": 6,
            "PoolState": "Stopped",
            "InstanceReusePolicy": {"ReuseOnScaleIn": True},
        },
    )
    result = mod.run(client, params(), check_mode=False)
    assert result == {
        "changed": True,
        "warm_pool": {
            "min_size": 6,
            "max_group_prepared_capacity": -1,
            "pool_state": "Stopped",
            "reuse_on_scale_in": True,
        },
    }


def test_same_pool_changes_nothing(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_warm_pool", described(CONFIG), {"AutoScalingGroupName": GROUP})
    assert mod.run(client, params(), check_mode=False)["changed"] is False


def test_resize_is_a_put(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_warm_pool", described(CONFIG), {"AutoScalingGroupName": GROUP})
    stubber.add_response(
        "put_warm_pool",
        {},
        {
            "AutoScalingGroupName": GROUP,
            "MaxGroupPreparedCapacity": 20,
            "MinSize": 10,
            "PoolState": "Hibernated",
            "InstanceReusePolicy": {"ReuseOnScaleIn": True},
        },
    )
    result = mod.run(client, params(min_size=10, max_group_prepared_capacity=20, pool_state="Hibernated"), False)
    assert result["changed"] is True


def test_check_mode_does_not_write(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_warm_pool", described(CONFIG), {"AutoScalingGroupName": GROUP})
    assert mod.run(client, params(min_size=8), check_mode=True)["changed"] is True


@pytest.mark.parametrize(
    ("config", "calls_delete"),
    [(CONFIG, True), (None, False), ({**CONFIG, "Status": "PendingDelete"}, False)],
)
def test_absent(mod: ModuleType, stubbed: tuple[Any, Stubber], config: Any, calls_delete: bool) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_warm_pool", described(config), {"AutoScalingGroupName": GROUP})
    if calls_delete:
        stubber.add_response("delete_warm_pool", {}, {"AutoScalingGroupName": GROUP, "ForceDelete": False})
    result = mod.run(client, params(state="absent"), check_mode=False)
    assert result == {"changed": calls_delete, "warm_pool": {}}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"min_size": -1}, "min_size must be >= 0, got -1"),
        ({"max_group_prepared_capacity": -2}, "max_group_prepared_capacity must be >= 0 or -1 (unlimited), got -2"),
        ({"max_group_prepared_capacity": 4}, "max_group_prepared_capacity 4 is below min_size 6"),
    ],
)
def test_bad_sizes_are_rejected_before_any_write(
    mod: ModuleType, stubbed: tuple[Any, Stubber], overrides: dict[str, Any], message: str
) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_warm_pool", described(None), {"AutoScalingGroupName": GROUP})
    with pytest.raises(mod.WarmPoolError) as caught:
        mod.run(client, params(**overrides), check_mode=False)
    assert str(caught.value) == message
