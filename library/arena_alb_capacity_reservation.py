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
  - V(absent) resets the reservation. AWS limits how often a reservation may be decreased; a decrease
    with no decrease requests left fails with a clear message before calling the API.
  - Idempotent; supports check mode.
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
"""

import contextlib
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    import botocore

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


class ReservationError(Exception):
    """Bad input or an impossible change; the message is what the module reports."""


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


def run(client: Any, params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """The whole module without AnsibleModule: returns the result, raises ReservationError."""
    arn = params["load_balancer_arn"]
    current = summarise(client.describe_capacity_reservation(LoadBalancerArn=arn))
    units = current["capacity_units"]
    if params["state"] == "absent":
        if units is None:
            return {"changed": False, "capacity_reservation": current}
        if check_mode:
            return {"changed": True, "capacity_reservation": {**current, "capacity_units": None}}
        response = client.modify_capacity_reservation(LoadBalancerArn=arn, ResetCapacityReservation=True)
        return {"changed": True, "capacity_reservation": summarise(response)}
    wanted = params["capacity_units"]
    if wanted is None or wanted < 1:
        raise ReservationError(f"capacity_units must be an integer >= 1 with state=present, got {wanted!r}")
    if units == wanted:
        return {"changed": False, "capacity_reservation": current}
    if units is not None and wanted < units and current["decrease_requests_remaining"] == 0:
        raise ReservationError(
            f"cannot lower the reservation of {arn} from {units} to {wanted} LCU: no decrease requests remaining"
        )
    if check_mode:
        return {"changed": True, "capacity_reservation": {**current, "capacity_units": wanted}}
    response = client.modify_capacity_reservation(
        LoadBalancerArn=arn, MinimumLoadBalancerCapacity={"CapacityUnits": wanted}
    )
    return {"changed": True, "capacity_reservation": summarise(response)}


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
    client = module.client("elbv2", retry_decorator=AWSRetry.jittered_backoff())
    try:
        result = run(client, module.params, module.check_mode)
    except ReservationError as error:
        module.fail_json(msg=f"arena_alb_capacity_reservation: {error}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(
            error, msg=f"arena_alb_capacity_reservation: AWS call failed for {module.params['load_balancer_arn']}"
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
