"""arena_elbv2_lb_attributes: which attributes are set, and the API calls against botocore's Stubber."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from botocore.stub import Stubber

SERVICE = "elbv2"  # the client of the `stubbed` fixture (conftest.py)


def test_only_differing_keys_are_set(mod: ModuleType) -> None:
    current = {"deletion_protection.enabled": "false", "access_logs.s3.bucket": "logs"}
    desired = {"deletion_protection.enabled": False, "access_logs.s3.bucket": "other"}
    assert mod.attribute_changes(current, desired) == {"access_logs.s3.bucket": "other"}


def test_a_key_the_endpoint_omits_is_set(mod: ModuleType) -> None:
    # The emulator leaves access_logs.s3.enabled out until it is set.
    assert mod.attribute_changes({}, {"access_logs.s3.enabled": True}) == {"access_logs.s3.enabled": "true"}


def test_same_values_change_nothing(mod: ModuleType) -> None:
    current = {"routing.http.drop_invalid_header_fields.enabled": "true", "idle_timeout.timeout_seconds": "60"}
    desired = {"routing.http.drop_invalid_header_fields.enabled": True, "idle_timeout.timeout_seconds": 60}
    assert mod.attribute_changes(current, desired) == {}


LB_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/arena-local-public/0123456789abcdef"


def describe(stub: Stubber, attributes: dict[str, str]) -> None:
    stub.add_response(
        "describe_load_balancers",
        {"LoadBalancers": [{"LoadBalancerArn": LB_ARN, "LoadBalancerName": "arena-local-public"}]},
        {"Names": ["arena-local-public"]},
    )
    stub.add_response(
        "describe_load_balancer_attributes",
        {"Attributes": [{"Key": k, "Value": v} for k, v in attributes.items()]},
        {"LoadBalancerArn": LB_ARN},
    )


def test_ensure_modifies_only_what_differs(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    describe(stub, {"deletion_protection.enabled": "false", "routing.http.drop_invalid_header_fields.enabled": "false"})
    stub.add_response(
        "modify_load_balancer_attributes",
        {"Attributes": [{"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"}]},
        {
            "LoadBalancerArn": LB_ARN,
            "Attributes": [{"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"}],
        },
    )
    result = mod.ensure(
        client,
        "arena-local-public",
        {"deletion_protection.enabled": False, "routing.http.drop_invalid_header_fields.enabled": True},
        check=False,
    )
    assert result["changes"] == {"routing.http.drop_invalid_header_fields.enabled": "true"}
    assert result["load_balancer_arn"] == LB_ARN


def test_ensure_unchanged_and_check_mode_only_read(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    describe(stub, {"deletion_protection.enabled": "false"})
    assert (
        mod.ensure(client, "arena-local-public", {"deletion_protection.enabled": False}, check=False)["changes"] == {}
    )
    describe(stub, {"deletion_protection.enabled": "false"})
    result = mod.ensure(client, "arena-local-public", {"deletion_protection.enabled": True}, check=True)
    assert result["changes"] == {"deletion_protection.enabled": "true"}
    assert result["attributes"]["deletion_protection.enabled"] == "true"  # as it would be


def test_ensure_names_a_missing_load_balancer(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    stub.add_client_error(
        "describe_load_balancers",
        service_error_code="LoadBalancerNotFound",
        http_status_code=400,
        expected_params={"Names": ["arena-local-public"]},
    )
    with pytest.raises(mod.NotFoundError) as err:
        mod.ensure(client, "arena-local-public", {}, check=False)
    assert str(err.value) == "arena_elbv2_lb_attributes: load balancer 'arena-local-public' not found"


@pytest.mark.parametrize(
    "operation", ["describe_load_balancers", "describe_load_balancer_attributes", "modify_load_balancer_attributes"]
)
def test_throttled_call_is_retried_then_succeeds(mod: ModuleType, run_retried: Any, *, operation: str) -> None:
    key = "routing.http.drop_invalid_header_fields.enabled"
    calls = [
        (
            "describe_load_balancers",
            {"LoadBalancers": [{"LoadBalancerArn": LB_ARN, "LoadBalancerName": "arena-local-public"}]},
            {"Names": ["arena-local-public"]},
        ),
        (
            "describe_load_balancer_attributes",
            {"Attributes": [{"Key": key, "Value": "false"}]},
            {"LoadBalancerArn": LB_ARN},
        ),
        (
            "modify_load_balancer_attributes",
            {"Attributes": [{"Key": key, "Value": "true"}]},
            {"LoadBalancerArn": LB_ARN, "Attributes": [{"Key": key, "Value": "true"}]},
        ),
    ]
    result = run_retried(
        mod, {"name": "arena-local-public", "attributes": {key: True}}, "elbv2", calls, (operation, "Throttling")
    )
    assert result["changes"] == {key: "true"}
