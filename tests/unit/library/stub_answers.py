"""AWS answers that several module tests queue on their Stubber (conftest.py holds the Stubber fixtures;
this is a plain module so that module-level case builders, such as test_check_diff's, can use it too:
``from stub_answers import ...``, this directory being on sys.path as for any test file here)."""

from __future__ import annotations

from typing import Any

from botocore.stub import Stubber


def auto_scaling_groups(name: str, **fields: Any) -> dict[str, Any]:
    """A DescribeAutoScalingGroups answer for the one group `name`: the keys the real model requires
    (a group of 2..40 instances in two zones with ELB health checks), `fields` over them."""
    return {
        "AutoScalingGroups": [
            {
                "AutoScalingGroupName": name,
                "MinSize": 2,
                "MaxSize": 40,
                "DesiredCapacity": 2,
                "DefaultCooldown": 300,
                "AvailabilityZones": ["eu-west-1a", "eu-west-1b"],
                "HealthCheckType": "ELB",
                "CreatedTime": "2027-01-01T00:00:00Z",
                **fields,
            }
        ]
    }


def expect_lookup(
    stubber: Stubber, operation: str, params: dict[str, Any], found: dict[str, Any] | None, not_found: str
) -> None:
    """Queue the answer to a lookup of one resource (`operation` with `params`): `found`, or when it is
    None the service's `not_found` error code."""
    if found is None:
        stubber.add_client_error(operation, service_error_code=not_found, expected_params=params)
    else:
        stubber.add_response(operation, found, params)
