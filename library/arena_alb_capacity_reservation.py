#!/usr/bin/python
"""Ansible module: the LCU capacity reservation of an Application Load Balancer."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_alb_capacity_reservation
short_description: Reserve (or release) load balancer capacity units ahead of a large event
description:
  - Sets the minimum capacity of an Application Load Balancer in load balancer capacity units (LCU)
    with the ELBv2 ModifyCapacityReservation API, so the load balancer is scaled before the audience
    arrives instead of after. No collection module manages it; the AWS emulator does not implement it
    (tested with botocore's Stubber against the real API model).
  - V(absent) resets (cancels) the reservation.
  - Before ModifyCapacityReservation the module reads the reservation and refuses, in check mode too,
    what AWS refuses
    (U(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/request-capacity-unit-reservation.html)),
    namely a change while the previous request is not yet provisioned or failed (a zone C(pending) or
    C(rebalancing)), and a decrease (a reset counts as one) when C(DecreaseRequestsRemaining) is 0 (AWS
    allows two decreases a day).
  - On an increase it also reads the Region's quota C(Reserved Application Load Balancer Capacity Units
    (LCU) per Region) from Service Quotas (service code C(elasticloadbalancing), quota code
    C(L-8A66D0E6); GetServiceQuota, or GetAWSDefaultServiceQuota while no value has been applied; AWS's
    default is 0,
    U(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html#lcu-quotas))
    and the reservations of the Region's other Application Load Balancers, and refuses a reservation that
    would exceed the quota, naming the value ops must request.
  - Idempotent; supports check mode. Every call goes through amazon.aws's retrying client (jittered
    backoff on throttling).
options:
  load_balancer_arn:
    description: ARN of the Application Load Balancer.
    type: str
    required: true
  state:
    description: V(present) sets O(capacity_units), V(absent) resets the reservation.
    type: str
    choices: [present, absent]
    default: present
  capacity_units:
    description: Minimum capacity in LCU. Required with O(state=present).
    type: int
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Reserve capacity on the web load balancer before the final
  arena_alb_capacity_reservation:
    load_balancer_arn: "{{ web_alb_arn }}"
    capacity_units: 300
    region: eu-west-1

- name: Release it after the event
  arena_alb_capacity_reservation:
    load_balancer_arn: "{{ web_alb_arn }}"
    state: absent
    region: eu-west-1
"""

RETURN = r"""
capacity_reservation:
  description: The reservation after the run (predicted in check mode).
  returned: always
  type: dict
  contains:
    capacity_units:
      description: Reserved LCU, null when there is no reservation.
      type: int
    decrease_requests_remaining:
      description: Decreases AWS still allows.
      type: int
    states:
      description: Per availability zone, the state of the reservation.
      type: list
      elements: dict
constraints:
  description: What AWS's rules for this change depend on (also returned with a refusal).
  returned: when the reservation could be read
  type: dict
  contains:
    load_balancer_arn:
      description: O(load_balancer_arn).
      type: str
    current_capacity_units:
      description: Reserved LCU now, null without a reservation.
      type: int
    requested_capacity_units:
      description: O(capacity_units), null for a reset.
      type: int
    decrease_requests_remaining:
      description: Decreases AWS still allows today.
      type: int
    zone_states:
      description: Per availability zone, the reservation's state (pending, provisioned, rebalancing, failed).
      type: list
      elements: dict
    region_quota:
      description:
        - On an increase, the Region's reserved-LCU quota (service_code, quota_code, quota_name, region,
          value, value_source) and reserved_elsewhere, the LCU reserved by the Region's other Application
          Load Balancers (ARN to LCU); null otherwise.
      type: dict
"""

import contextlib
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    import botocore

from ansible.module_utils.arena_diff import with_diff
from ansible.module_utils.arena_service_quotas import read_quota
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

LCU_QUOTA_SERVICE = "elasticloadbalancing"
LCU_QUOTA_CODE = "L-8A66D0E6"
LCU_QUOTA_NAME = "Reserved Application Load Balancer Capacity Units (LCU) per Region"
DOC_LCU_QUOTAS = (
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html#lcu-quotas"
)
DOC_LCU_REQUEST = (
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/request-capacity-unit-reservation.html"
)
SETTLED_STATES = ("provisioned", "failed")
PAGE = 400  # DescribeLoadBalancers PageSize maximum
RETRY = AWSRetry.jittered_backoff(retries=10, delay=3, max_delay=60)


class ReservationError(Exception):
    """Bad input or an impossible change; the message is what the module reports."""

    def __init__(self, message: str, constraints: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.constraints = constraints


def summarise(response: dict[str, Any]) -> dict[str, Any]:
    """API response -> module result (snake_case, without response metadata)."""
    return {
        "capacity_units": response.get("MinimumLoadBalancerCapacity", {}).get("CapacityUnits"),
        "decrease_requests_remaining": response.get("DecreaseRequestsRemaining"),
        "states": [
            {
                "availability_zone": state.get("AvailabilityZone"),
                "state": state.get("State", {}).get("Code"),
                "reason": state.get("State", {}).get("Reason"),
                "effective_capacity_units": state.get("EffectiveCapacityUnits"),
            }
            for state in response.get("CapacityReservationState", [])
        ],
    }


def region_quota(elbv2: Any, quotas: Any, arn: str, region: str) -> dict[str, Any]:
    """Reads only: the Region's reserved-LCU quota and what the Region's other ALBs reserve."""
    # The applied value, or AWS's default while none is applied (module_utils/arena_service_quotas.py).
    value, source = read_quota(quotas, LCU_QUOTA_SERVICE, LCU_QUOTA_CODE)
    elsewhere: dict[str, int] = {}
    request: dict[str, Any] = {"PageSize": PAGE}
    while True:
        page = elbv2.describe_load_balancers(aws_retry=True, **request)
        for balancer in page["LoadBalancers"]:
            other = balancer["LoadBalancerArn"]
            if balancer.get("Type") != "application" or other == arn:
                continue
            reserved = elbv2.describe_capacity_reservation(LoadBalancerArn=other, aws_retry=True)
            units = reserved.get("MinimumLoadBalancerCapacity", {}).get("CapacityUnits")
            if units:
                elsewhere[other] = units
        if not page.get("NextMarker"):
            break
        request["Marker"] = page["NextMarker"]
    return {
        "service_code": LCU_QUOTA_SERVICE,
        "quota_code": LCU_QUOTA_CODE,
        "quota_name": LCU_QUOTA_NAME,
        "region": region,
        "value": value,
        "value_source": source,
        "reserved_elsewhere": elsewhere,
    }


def refusals(constraints: dict[str, Any]) -> list[str]:
    """What AWS would refuse about changing the reservation as ``constraints`` describe it."""
    arn = constraints["load_balancer_arn"]
    units, wanted = constraints["current_capacity_units"], constraints["requested_capacity_units"]
    found = []
    busy = [z for z in constraints["zone_states"] if z["state"] not in SETTLED_STATES]
    if busy:
        states = ", ".join(f"{z['state']} in {z['availability_zone']}" for z in busy)
        found.append(
            f"the reservation of {arn} is {states}: AWS updates a reservation only when the previous request is"
            f" provisioned or failed ({DOC_LCU_REQUEST})"
        )
    increase = (wanted or 0) > (units or 0)
    if not increase and constraints["decrease_requests_remaining"] == 0:
        target = "reset it" if wanted is None else f"lower it to {wanted} LCU"
        found.append(
            f"cannot {target} from {units} LCU on {arn}: no decrease requests remaining today (AWS allows two"
            f" decreases a day: {DOC_LCU_REQUEST})"
        )
    quota = constraints.get("region_quota")
    if increase and quota is not None:
        needed = (wanted or 0) + sum(quota["reserved_elsewhere"].values())
        if needed > quota["value"]:
            found.append(
                f"reserving {wanted} LCU on {arn} needs {needed} LCU of the quota '{LCU_QUOTA_NAME}' in"
                f" {quota['region']}, which is {quota['value']:g} ({quota['value_source']}; {DOC_LCU_QUOTAS}):"
                f" ops must request at least {needed} in Service Quotas ({LCU_QUOTA_SERVICE} {LCU_QUOTA_CODE},"
                f" {quota['region']})"
            )
    return found


def run(elbv2: Any, quotas: Any, params: dict[str, Any], check_mode: bool, region: str) -> dict[str, Any]:
    """The whole module without AnsibleModule: returns the result, raises ReservationError.

    ``elbv2`` and ``quotas`` (service-quotas) are retrying clients (every call passes aws_retry=True).
    """
    arn = params["load_balancer_arn"]
    wanted = params["capacity_units"] if params["state"] == "present" else None
    if params["state"] == "present" and (wanted is None or wanted < 1):
        raise ReservationError(f"capacity_units must be an integer >= 1 with state=present, got {wanted!r}")
    current = summarise(elbv2.describe_capacity_reservation(LoadBalancerArn=arn, aws_retry=True))
    units = current["capacity_units"]
    constraints = {
        "load_balancer_arn": arn,
        "current_capacity_units": units,
        "requested_capacity_units": wanted,
        "decrease_requests_remaining": current["decrease_requests_remaining"],
        "zone_states": [{"availability_zone": s["availability_zone"], "state": s["state"]} for s in current["states"]],
        "region_quota": None,
    }
    if units == wanted:
        return {"changed": False, "capacity_reservation": current, "constraints": constraints}
    if (wanted or 0) > (units or 0):
        constraints["region_quota"] = region_quota(elbv2, quotas, arn, region)
    problems = refusals(constraints)
    if problems:
        raise ReservationError("; ".join(problems), constraints)
    if check_mode:
        return {
            "changed": True,
            "capacity_reservation": {**current, "capacity_units": wanted},
            "constraints": constraints,
        }
    if wanted is None:
        response = elbv2.modify_capacity_reservation(LoadBalancerArn=arn, ResetCapacityReservation=True, aws_retry=True)
    else:
        response = elbv2.modify_capacity_reservation(
            LoadBalancerArn=arn, MinimumLoadBalancerCapacity={"CapacityUnits": wanted}, aws_retry=True
        )
    return {"changed": True, "capacity_reservation": summarise(response), "constraints": constraints}


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "load_balancer_arn": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "capacity_units": {"type": "int"},
        },
        required_if=[("state", "present", ["capacity_units"])],
        supports_check_mode=True,
    )
    elbv2 = module.client("elbv2", retry_decorator=RETRY)
    quotas = module.client("service-quotas", retry_decorator=RETRY)
    try:
        result = run(elbv2, quotas, module.params, module.check_mode, module.region)
    except ReservationError as error:
        extra = {"constraints": error.constraints} if error.constraints is not None else {}
        module.fail_json(msg=f"arena_alb_capacity_reservation: {error}", **extra)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(
            error, msg=f"arena_alb_capacity_reservation: AWS call failed for {module.params['load_balancer_arn']}"
        )
    constraints = result["constraints"]
    module.exit_json(
        **with_diff(
            module,
            result,
            {"capacity_units": constraints["current_capacity_units"]},
            {"capacity_units": constraints["requested_capacity_units"]},
        )
    )


if __name__ == "__main__":
    main()
