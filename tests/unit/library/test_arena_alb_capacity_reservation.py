"""arena_alb_capacity_reservation against botocore's Stubber (real elbv2 and service-quotas API models).

The emulator implements neither the reservation (DescribeCapacityReservation answers "provisioned"
without units, ModifyCapacityReservation fails) nor the quota (Service Quotas knows only "vpc"), so
the exact requests are pinned here. What AWS documents and these tests guard:
- "To update an existing reservation, the previous request must be provisioned or failed. You can
  increase reserved capacity as many times as you need, however you can only decrease the reserved
  capacity two times per day."
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/request-capacity-unit-reservation.html)
- "Reserved Application Load Balancer Capacity Units (LCU) per Region": default 0, adjustable, Service
  Quotas code L-8A66D0E6 of service elasticloadbalancing
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html#lcu-quotas).
Every call goes through the module's own retrying client and must pass aws_retry=True (RequireRetry).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from botocore.stub import Stubber

ACCOUNT = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer"
ARN = f"{ACCOUNT}/app/arena-production-public/50dc6c495c0c9188"
INTERNAL = f"{ACCOUNT}/app/arena-production-internal/6d0ecf831eec9f09"
OTHER = f"{ACCOUNT}/app/billing-public/0c0fe1e5b3e2e0a1"
NLB = f"{ACCOUNT}/net/arena-production-mqtt/1f2e3d4c5b6a7980"
REQUEST_DOC = (
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/request-capacity-unit-reservation.html"
)
QUOTA_DOC = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html#lcu-quotas"
QUOTA_REQUEST = {"ServiceCode": "elasticloadbalancing", "QuotaCode": "L-8A66D0E6"}


Clients = tuple[Any, Stubber, Any, Stubber]


@pytest.fixture
def stubbed(mod: ModuleType, stub_client: Any, retry_sleeps: list[float]) -> Clients:
    return (*stub_client("elbv2", mod.RETRY, strict=True), *stub_client("service-quotas", mod.RETRY, strict=True))


def reservation(units: int | None, decreases: int = 2, code: str = "provisioned") -> dict[str, Any]:
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


def expect_describe(elb: Stubber, units: int | None, decreases: int = 2, code: str = "provisioned") -> None:
    elb.add_response("describe_capacity_reservation", reservation(units, decreases, code), {"LoadBalancerArn": ARN})


def balancer(arn: str, kind: str = "application") -> dict[str, Any]:
    return {"LoadBalancerArn": arn, "LoadBalancerName": arn.split("/")[-2], "Type": kind}


def expect_region(
    elb: Stubber, quotas: Stubber, value: float | None, elsewhere: dict[str, int | None] | None = None
) -> None:
    """The reads of an increase: the Region quota (GetServiceQuota; GetAWSDefaultServiceQuota when none is
    applied, value None here), then every other ALB's reservation (NLBs have their own quota)."""
    quota = {"ServiceCode": "elasticloadbalancing", "QuotaCode": "L-8A66D0E6", "Adjustable": True}
    if value is None:
        quotas.add_client_error("get_service_quota", service_error_code="NoSuchResourceException", http_status_code=400)
        quotas.add_response("get_aws_default_service_quota", {"Quota": quota | {"Value": 0.0}}, QUOTA_REQUEST)
    else:
        quotas.add_response("get_service_quota", {"Quota": quota | {"Value": value}}, QUOTA_REQUEST)
    elsewhere = elsewhere or {}
    listed = [balancer(ARN), *(balancer(arn) for arn in elsewhere), balancer(NLB, "network")]
    elb.add_response("describe_load_balancers", {"LoadBalancers": listed}, {"PageSize": 400})
    for arn, units in elsewhere.items():
        response = {"CapacityReservationState": []} | (
            {"MinimumLoadBalancerCapacity": {"CapacityUnits": units}} if units else {}
        )
        elb.add_response("describe_capacity_reservation", response, {"LoadBalancerArn": arn})


def test_reserves_capacity(mod: ModuleType, stubbed: Clients) -> None:
    elbv2, elb, quotas, quota_stub = stubbed
    expect_describe(elb, None)
    expect_region(elb, quota_stub, 500.0, {INTERNAL: 107, OTHER: None})
    elb.add_response(
        "modify_capacity_reservation",
        reservation(300, code="pending"),
        {"LoadBalancerArn": ARN, "MinimumLoadBalancerCapacity": {"CapacityUnits": 300}},
    )
    result = mod.run(elbv2, quotas, params(), False, "eu-west-1")
    assert result["changed"] is True
    assert result["capacity_reservation"] == {
        "capacity_units": 300,
        "decrease_requests_remaining": 2,
        "states": [
            {"availability_zone": "eu-west-1a", "state": "pending", "reason": None, "effective_capacity_units": 150},
            {"availability_zone": "eu-west-1b", "state": "pending", "reason": None, "effective_capacity_units": 150},
        ],
    }
    assert result["constraints"] == {
        "load_balancer_arn": ARN,
        "current_capacity_units": None,
        "requested_capacity_units": 300,
        "decrease_requests_remaining": 2,
        "zone_states": [],
        "region_quota": {
            "service_code": "elasticloadbalancing",
            "quota_code": "L-8A66D0E6",
            "quota_name": "Reserved Application Load Balancer Capacity Units (LCU) per Region",
            "region": "eu-west-1",
            "value": 500.0,
            "value_source": "applied",
            "reserved_elsewhere": {INTERNAL: 107},
        },
    }


def test_same_reservation_changes_nothing(mod: ModuleType, stubbed: Clients) -> None:
    elbv2, elb, quotas, _ = stubbed
    expect_describe(elb, 300)
    result = mod.run(elbv2, quotas, params(), False, "eu-west-1")
    assert (result["changed"], result["capacity_reservation"]["capacity_units"]) == (False, 300)


def test_same_reservation_while_pending_changes_nothing(mod: ModuleType, stubbed: Clients) -> None:
    """A re-run right after a request (eventual consistency: pending for minutes to hours) asks nothing."""
    elbv2, elb, quotas, _ = stubbed
    expect_describe(elb, 300, code="pending")
    assert mod.run(elbv2, quotas, params(), False, "eu-west-1")["changed"] is False


def test_check_mode_predicts_without_writing(mod: ModuleType, stubbed: Clients) -> None:
    elbv2, elb, quotas, quota_stub = stubbed
    expect_describe(elb, 100)
    expect_region(elb, quota_stub, 1000.0)
    result = mod.run(elbv2, quotas, params(units=400), True, "eu-west-1")
    assert (result["changed"], result["capacity_reservation"]["capacity_units"]) == (True, 400)


def test_reset_when_absent(mod: ModuleType, stubbed: Clients) -> None:
    elbv2, elb, quotas, _ = stubbed
    expect_describe(elb, 300)
    elb.add_response(
        "modify_capacity_reservation",
        reservation(None, decreases=1),
        {"LoadBalancerArn": ARN, "ResetCapacityReservation": True},
    )
    result = mod.run(elbv2, quotas, params(state="absent", units=None), False, "eu-west-1")
    assert (result["changed"], result["capacity_reservation"]["capacity_units"]) == (True, None)


def test_absent_without_reservation_changes_nothing(mod: ModuleType, stubbed: Clients) -> None:
    elbv2, elb, quotas, _ = stubbed
    expect_describe(elb, None)
    assert mod.run(elbv2, quotas, params(state="absent", units=None), False, "eu-west-1")["changed"] is False


def test_decrease_is_not_a_quota_read(mod: ModuleType, stubbed: Clients) -> None:
    """Lowering needs no quota: no Service Quotas or DescribeLoadBalancers call is queued."""
    elbv2, elb, quotas, _ = stubbed
    expect_describe(elb, 300, decreases=1)
    elb.add_response(
        "modify_capacity_reservation",
        reservation(200, decreases=0),
        {"LoadBalancerArn": ARN, "MinimumLoadBalancerCapacity": {"CapacityUnits": 200}},
    )
    assert mod.run(elbv2, quotas, params(units=200), False, "eu-west-1")["changed"] is True


# --- what AWS refuses (issue 13, defect 5) --------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [("present", 200, "lower it to 200 LCU"), ("absent", None, "reset it")],
    ids=["lower", "reset"],
)
@pytest.mark.parametrize("check_mode", [False, True], ids=["apply", "check-mode"])
def test_decrease_without_requests_left_fails_before_the_call(
    mod: ModuleType, stubbed: Clients, case: tuple[str, int | None, str], check_mode: bool
) -> None:
    """Two decreases a day (DecreaseRequestsRemaining); a reset lowers the reservation too. No modify is
    queued: a call would fail the test."""
    elbv2, elb, quotas, _ = stubbed
    state, units, target = case
    expect_describe(elb, 300, decreases=0)
    with pytest.raises(mod.ReservationError) as caught:
        mod.run(elbv2, quotas, params(state, units), check_mode, "eu-west-1")
    assert str(caught.value) == (
        f"cannot {target} from 300 LCU on {ARN}: no decrease requests remaining today (AWS allows two decreases a"
        f" day: {REQUEST_DOC})"
    )


def test_increase_with_no_decreases_left_is_allowed(mod: ModuleType, stubbed: Clients) -> None:
    elbv2, elb, quotas, quota_stub = stubbed
    expect_describe(elb, 300, decreases=0)
    expect_region(elb, quota_stub, 1000.0)
    elb.add_response(
        "modify_capacity_reservation",
        reservation(500, decreases=0),
        {"LoadBalancerArn": ARN, "MinimumLoadBalancerCapacity": {"CapacityUnits": 500}},
    )
    assert mod.run(elbv2, quotas, params(units=500), False, "eu-west-1")["changed"] is True


@pytest.mark.parametrize("code", ["pending", "rebalancing"])
@pytest.mark.parametrize(("state", "units"), [("present", 500), ("present", 200), ("absent", None)])
def test_update_while_the_previous_request_is_in_progress_is_refused(
    mod: ModuleType, stubbed: Clients, code: str, state: str, units: int | None
) -> None:
    """'To update an existing reservation, the previous request must be provisioned or failed': pending and
    rebalancing are neither; an increase, a decrease and a reset are all updates."""
    elbv2, elb, quotas, quota_stub = stubbed
    expect_describe(elb, 300, code=code)
    if units == 500:
        expect_region(elb, quota_stub, 1000.0)
    with pytest.raises(mod.ReservationError) as caught:
        mod.run(elbv2, quotas, params(state, units), False, "eu-west-1")
    assert str(caught.value) == (
        f"the reservation of {ARN} is {code} in eu-west-1a, {code} in eu-west-1b: AWS updates a reservation only"
        f" when the previous request is provisioned or failed ({REQUEST_DOC})"
    )


@pytest.mark.parametrize("code", ["provisioned", "failed"])
def test_update_after_provisioned_or_failed_is_sent(mod: ModuleType, stubbed: Clients, code: str) -> None:
    elbv2, elb, quotas, quota_stub = stubbed
    expect_describe(elb, 300, code=code)
    expect_region(elb, quota_stub, 1000.0)
    elb.add_response(
        "modify_capacity_reservation",
        reservation(400, code="pending"),
        {"LoadBalancerArn": ARN, "MinimumLoadBalancerCapacity": {"CapacityUnits": 400}},
    )
    assert mod.run(elbv2, quotas, params(units=400), False, "eu-west-1")["changed"] is True


@pytest.mark.parametrize("check_mode", [False, True], ids=["apply", "check-mode"])
def test_default_quota_zero_is_refused_with_what_ops_must_request(
    mod: ModuleType, stubbed: Clients, check_mode: bool
) -> None:
    """No value applied to the account: GetServiceQuota answers NoSuchResourceException, the AWS default
    (0) holds. 40 LCU here + 107 on another ALB = 147 needed."""
    elbv2, elb, quotas, quota_stub = stubbed
    expect_describe(elb, None)
    expect_region(elb, quota_stub, None, {INTERNAL: 107})
    with pytest.raises(mod.ReservationError) as caught:
        mod.run(elbv2, quotas, params(units=40), check_mode, "eu-west-1")
    assert str(caught.value) == (
        f"reserving 40 LCU on {ARN} needs 147 LCU of the quota 'Reserved Application Load Balancer Capacity Units"
        f" (LCU) per Region' in eu-west-1, which is 0 (AWS default; {QUOTA_DOC}): ops must request at least 147"
        " in Service Quotas (elasticloadbalancing L-8A66D0E6, eu-west-1)"
    )
    assert caught.value.constraints["region_quota"]["value_source"] == "AWS default"


def test_applied_quota_below_the_need_is_refused(mod: ModuleType, stubbed: Clients) -> None:
    elbv2, elb, quotas, quota_stub = stubbed
    expect_describe(elb, 30)
    expect_region(elb, quota_stub, 100.0, {OTHER: 80})
    with pytest.raises(mod.ReservationError, match=r"needs 120 LCU .* which is 100 \(applied;"):
        mod.run(elbv2, quotas, params(units=40), False, "eu-west-1")


def test_quota_exactly_met_is_accepted(mod: ModuleType, stubbed: Clients) -> None:
    elbv2, elb, quotas, quota_stub = stubbed
    expect_describe(elb, None)
    expect_region(elb, quota_stub, 147.0, {INTERNAL: 107})
    elb.add_response(
        "modify_capacity_reservation",
        reservation(40, code="pending"),
        {"LoadBalancerArn": ARN, "MinimumLoadBalancerCapacity": {"CapacityUnits": 40}},
    )
    assert mod.run(elbv2, quotas, params(units=40), False, "eu-west-1")["changed"] is True


def test_every_page_of_load_balancers_is_read(mod: ModuleType, stubbed: Clients) -> None:
    elbv2, elb, quotas, quota_stub = stubbed
    expect_describe(elb, None)
    quota_stub.add_response(
        "get_service_quota",
        {"Quota": {"ServiceCode": "elasticloadbalancing", "QuotaCode": "L-8A66D0E6", "Value": 100.0}},
        QUOTA_REQUEST,
    )
    elb.add_response(
        "describe_load_balancers", {"LoadBalancers": [balancer(ARN)], "NextMarker": "m2"}, {"PageSize": 400}
    )
    elb.add_response("describe_load_balancers", {"LoadBalancers": [balancer(OTHER)]}, {"PageSize": 400, "Marker": "m2"})
    elb.add_response(
        "describe_capacity_reservation",
        {"MinimumLoadBalancerCapacity": {"CapacityUnits": 90}},
        {"LoadBalancerArn": OTHER},
    )
    with pytest.raises(mod.ReservationError, match="needs 130 LCU"):
        mod.run(elbv2, quotas, params(units=40), True, "eu-west-1")


@pytest.mark.parametrize("units", [0, -5, None])
def test_bad_units_are_rejected_before_any_call(mod: ModuleType, stubbed: Clients, units: int | None) -> None:
    elbv2, _, quotas, _ = stubbed  # nothing queued: any call would fail the test
    with pytest.raises(mod.ReservationError) as caught:
        mod.run(elbv2, quotas, params(units=units), False, "eu-west-1")
    assert str(caught.value) == f"capacity_units must be an integer >= 1 with state=present, got {units!r}"


def test_api_errors_surface(mod: ModuleType, stubbed: Clients) -> None:
    elbv2, elb, quotas, quota_stub = stubbed
    expect_describe(elb, None)
    expect_region(elb, quota_stub, 100000.0)
    elb.add_client_error(
        "modify_capacity_reservation", service_error_code="CapacityUnitsLimitExceeded", http_status_code=400
    )
    with pytest.raises(elbv2.exceptions.CapacityUnitsLimitExceededException):
        mod.run(elbv2, quotas, params(units=100000), False, "eu-west-1")


@pytest.mark.parametrize(("service", "code"), [("elbv2", "Throttling"), ("service-quotas", "TooManyRequestsException")])
def test_throttling_is_retried(mod: ModuleType, stubbed: Clients, service: str, code: str) -> None:
    """Both clients retry with jittered backoff (sleeps patched out)."""
    elbv2, elb, quotas, quota_stub = stubbed
    if service == "elbv2":
        elb.add_client_error("describe_capacity_reservation", service_error_code=code, http_status_code=400)
    expect_describe(elb, None)
    if service == "service-quotas":
        quota_stub.add_client_error("get_service_quota", service_error_code=code, http_status_code=400)
    expect_region(elb, quota_stub, 500.0)
    elb.add_response(
        "modify_capacity_reservation",
        reservation(300, code="pending"),
        {"LoadBalancerArn": ARN, "MinimumLoadBalancerCapacity": {"CapacityUnits": 300}},
    )
    assert mod.run(elbv2, quotas, params(), False, "eu-west-1")["changed"] is True
