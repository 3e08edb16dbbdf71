"""Fixtures of the platform suites (test_platform.py, test_platform_failures.py): each module gets
the emulator to itself, reset before and after it, with what the platform consumes from elsewhere
seeded, and its own create."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import platform_fixtures
import pytest
from arena_testlib import reset_emulator
from platform_lab import PREFIX, TIMINGS, playbook


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, Any]]:
    # A fresh emulator even when another suite ran before in the same one (each pytest-xdist worker
    # keeps its emulator for every file it runs): the services suite leaves emulator-gap leftovers
    # behind, and leftovers() takes every Elastic IP and instance in it for the platform's.
    reset_emulator()
    # What the platform consumes from elsewhere: tier image parameters and a certificate.
    platform_fixtures.seed()
    names = (
        "ec2",
        "elbv2",
        "autoscaling",
        "iam",
        "s3",
        "ssm",
        "acm",
        "elasticache",
        "cloudfront",
        "sesv2",
        "sns",
        "cloudwatch",
    )
    yield {n: boto3.client(n) for n in names}
    print(f"\nplatform timings (s): {json.dumps(TIMINGS)}")
    TIMINGS.clear()
    # Whatever the module left (a built platform, the seeds): the next file on this worker starts
    # from nothing (the dynamic inventory tests count the instances tagged Environment=local).
    reset_emulator()


@pytest.fixture(scope="module")
def created(aws: dict[str, Any]) -> str:
    """The module's create (test_platform_failures.py: after its teardowns, in the same emulator)."""
    return playbook("platform.yml", "create")


@pytest.fixture(scope="module")
def vpc(aws: dict[str, Any], created: str) -> dict[str, Any]:
    vpcs = aws["ec2"].describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{PREFIX}-vpc"]}])["Vpcs"]
    assert len(vpcs) == 1
    return vpcs[0]
