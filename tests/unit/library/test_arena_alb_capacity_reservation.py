"""arena_alb_capacity_reservation against botocore's Stubber (real elbv2 API model; not emulated)."""

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
ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/arena-web/50dc6c495c0c9188"


@pytest.fixture(scope="module")
def mod() -> ModuleType:
    name = "arena_alb_capacity_reservation_under_test"
    spec = importlib.util.spec_from_file_location(name, ROOT / "library" / "arena_alb_capacity_reservation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "elbv2", region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def reservation(units: int | None, decreases: int = 4, code: str = "provisioned") -> dict[str, Any]:
    response: dict[str, Any] = {"DecreaseRequestsRemaining": decreases, "CapacityReservationState": []}
    if units is not None:
        response["MinimumLoadBalancerCapacity"] = {"CapacityUnits": units}
        response["CapacityReservationState"] = [
            {"AvailabilityZone": az, "State": {"Code": code}, "EffectiveCapacityUnits": units / 2}
            for az in ("eu-west-1a", "eu-west-1b")
        ]
    return response


def params(state: str = "present", units: int | None = 300) -> dict[str, Any]:
    return {"load_balancer_arn": ARN, "state": state, "capacity_units": units}


def test_reserves_capacity(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_capacity_reservation", reservation(None), {"LoadBalancerArn": ARN})
    stubber.add_response(
        "modify_capacity_reservation",
        reservation(300, code="pending"),
        {"LoadBalancerArn": ARN, "MinimumLoadBalancerCapacity": {"CapacityUnits": 300}},
    )
    result = mod.run(client, params(), check_mode=False)
    assert result["changed"] is True
    assert result["capacity_reservation"] == {
        "capacity_units": 300,
        "decrease_requests_remaining": 4,
        "states": [
            {"availability_zone": "eu-west-1a", "state": "pending", "reason": None, "effective_capacity_units": 150},
            {"availability_zone": "eu-west-1b", "state": "pending", "reason": None, "effective_capacity_units": 150},
        ],
    }


def test_same_reservation_changes_nothing(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_capacity_reservation", reservation(300), {"LoadBalancerArn": ARN})
    result = mod.run(client, params(), check_mode=False)
    assert (result["changed"], result["capacity_reservation"]["capacity_units"]) == (False, 300)


def test_check_mode_predicts_without_writing(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_capacity_reservation", reservation(100), {"LoadBalancerArn": ARN})
    result = mod.run(client, params(units=400), check_mode=True)
    assert (result["changed"], result["capacity_reservation"]["capacity_units"]) == (True, 400)


def test_reset_when_absent(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_capacity_reservation", reservation(300), {"LoadBalancerArn": ARN})
    stubber.add_response(
        "modify_capacity_reservation",
        reservation(None, decreases=3),
        {"LoadBalancerArn": ARN, "ResetCapacityReservation": True},
    )
    result = mod.run(client, params(state="absent", units=None), check_mode=False)
    assert (result["changed"], result["capacity_reservation"]["capacity_units"]) == (True, None)


def test_absent_without_reservation_changes_nothing(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_capacity_reservation", reservation(None), {"LoadBalancerArn": ARN})
    assert mod.run(client, params(state="absent", units=None), check_mode=False)["changed"] is False


def test_decrease_without_requests_left_fails_before_the_call(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_capacity_reservation", reservation(300, decreases=0), {"LoadBalancerArn": ARN})
    with pytest.raises(mod.ReservationError) as caught:
        mod.run(client, params(units=200), check_mode=False)
    assert str(caught.value) == (
        f"cannot lower the reservation of {ARN} from 300 to 200 LCU: no decrease requests remaining"
    )


def test_increase_with_no_decreases_left_is_allowed(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_capacity_reservation", reservation(300, decreases=0), {"LoadBalancerArn": ARN})
    stubber.add_response(
        "modify_capacity_reservation",
        reservation(500, decreases=0),
        {"LoadBalancerArn": ARN, "MinimumLoadBalancerCapacity": {"CapacityUnits": 500}},
    )
    assert mod.run(client, params(units=500), check_mode=False)["changed"] is True


@pytest.mark.parametrize("units", [0, -5, None])
def test_bad_units_are_rejected(mod: ModuleType, stubbed: tuple[Any, Stubber], units: int | None) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_capacity_reservation", reservation(None), {"LoadBalancerArn": ARN})
    with pytest.raises(mod.ReservationError) as caught:
        mod.run(client, params(units=units), check_mode=False)
    assert str(caught.value) == f"capacity_units must be an integer >= 1 with state=present, got {units!r}"


def test_api_errors_surface(mod: ModuleType, stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_capacity_reservation", reservation(None), {"LoadBalancerArn": ARN})
    stubber.add_client_error(
        "modify_capacity_reservation", service_error_code="CapacityUnitsLimitExceeded", http_status_code=400
    )
    with pytest.raises(client.exceptions.CapacityUnitsLimitExceededException):
        mod.run(client, params(units=100000), check_mode=False)
