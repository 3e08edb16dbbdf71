"""scripts/lab/emulator_server.py, the lab's emulator: moto's server with the AWS behaviours that
create -> teardown -> create relies on. Each test fails on plain moto_server (5.2) and pins the answer
the AWS API reference gives; the server is the real entry point that scripts/emulator.sh starts."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from arena_testlib import self_signed
from botocore.exceptions import ClientError
from moto.acm.models import AWSCertificateManagerBackend
from moto.core import DEFAULT_ACCOUNT_ID

ROOT = Path(__file__).resolve().parents[3]
REGION = "eu-west-1"
# How long the server may take to answer its first request (imports included).
STARTUP_SECONDS = 120


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts/lab/emulator_server.py"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # A deadline, not a count of tries: under make test's load the server's imports alone took
        # over 10 s, and a fixed count of quick refusals handed the tests a server not yet listening.
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=5)
                break
            except OSError:
                assert server.poll() is None, "emulator_server.py exited at start"
                if time.monotonic() > deadline:
                    pytest.fail(f"emulator_server.py did not answer on {url} within {STARTUP_SECONDS} s")
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            # As scripts/emulator.sh down does: moto's SIGTERM handler exits through Python's
            # shutdown, which once took over 10 s under make test's load.
            server.kill()
            server.wait(timeout=10)


def client(service: str, url: str):
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    return boto3.client(service, region_name=REGION, endpoint_url=url)


def private_subnets(url: str) -> list[str]:
    ec2 = client("ec2", url)
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    return [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.30.{i}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"][
            "SubnetId"
        ]
        for i, zone in enumerate("ab")
    ]


def error_code(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


def test_cache_subnet_group_is_deleted_refused_in_use_and_unknown(endpoint: str) -> None:
    """API_DeleteCacheSubnetGroup: deleted; CacheSubnetGroupInUse; CacheSubnetGroupNotFoundFault."""
    cache = client("elasticache", endpoint)
    subnets = private_subnets(endpoint)
    cache.create_cache_subnet_group(
        CacheSubnetGroupName="lab-cache", CacheSubnetGroupDescription="lab", SubnetIds=subnets
    )
    cache.create_replication_group(
        ReplicationGroupId="lab-cache",
        ReplicationGroupDescription="lab",
        CacheNodeType="cache.t4g.micro",
        Engine="redis",
        NumCacheClusters=2,
        CacheSubnetGroupName="lab-cache",
    )
    assert error_code(lambda: cache.delete_cache_subnet_group(CacheSubnetGroupName="lab-cache")) == (
        "CacheSubnetGroupInUse"
    )

    # API_DeleteReplicationGroup: the answer shows it deleting; once deleted, it is not found.
    deleting = cache.delete_replication_group(ReplicationGroupId="lab-cache")["ReplicationGroup"]
    assert deleting["Status"] == "deleting"
    assert error_code(lambda: cache.describe_replication_groups(ReplicationGroupId="lab-cache")) == (
        "ReplicationGroupNotFoundFault"
    )

    cache.delete_cache_subnet_group(CacheSubnetGroupName="lab-cache")
    assert error_code(lambda: cache.describe_cache_subnet_groups(CacheSubnetGroupName="lab-cache")) == (
        "CacheSubnetGroupNotFoundFault"
    )
    assert error_code(lambda: cache.delete_cache_subnet_group(CacheSubnetGroupName="lab-cache")) == (
        "CacheSubnetGroupNotFoundFault"
    )
    # A new VPC's subnets: the name is free again (it failed here on plain moto, ModifyCacheSubnetGroup).
    cache.create_cache_subnet_group(
        CacheSubnetGroupName="lab-cache", CacheSubnetGroupDescription="lab", SubnetIds=private_subnets(endpoint)
    )


def test_configuration_set_goes_with_its_event_destinations(endpoint: str) -> None:
    """API_DeleteConfigurationSet: the set and its destinations go; the same set can be made again."""
    ses, sns = client("ses", endpoint), client("sns", endpoint)
    topic = sns.create_topic(Name="lab-mail-events")["TopicArn"]
    destination = {
        "Name": "lab-events",
        "Enabled": True,
        "MatchingEventTypes": ["bounce", "complaint"],
        "SNSDestination": {"TopicARN": topic},
    }
    for _ in range(2):
        ses.create_configuration_set(ConfigurationSet={"Name": "lab-set"})
        ses.create_configuration_set_event_destination(ConfigurationSetName="lab-set", EventDestination=destination)
        client("sesv2", endpoint).delete_configuration_set(ConfigurationSetName="lab-set")


def test_a_user_without_service_specific_credentials_lists_none_and_can_be_deleted(endpoint: str) -> None:
    """API_ListServiceSpecificCredentials: an empty list for a user, NoSuchEntity for an unknown one."""
    iam = client("iam", endpoint)
    iam.create_user(UserName="lab-relay")
    assert iam.list_service_specific_credentials(UserName="lab-relay")["ServiceSpecificCredentials"] == []
    iam.delete_user(UserName="lab-relay")
    assert error_code(lambda: iam.list_service_specific_credentials(UserName="lab-relay")) == "NoSuchEntity"


def test_a_requested_certificate_stays_pending_until_its_validation_times_out() -> None:
    """In-process with the request moved back in time (the server's clock cannot be): plain moto
    issues a requested certificate after 60 s; AWS keeps it pending, then times it out at 72 h."""
    spec = importlib.util.spec_from_file_location("emulator_server_under_test", ROOT / "scripts/lab/emulator_server.py")
    assert spec and spec.loader
    emulator_server = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(emulator_server)  # defines the patches; patch() is not called here

    backend = AWSCertificateManagerBackend(REGION, DEFAULT_ACCOUNT_ID)

    def requested(hours_ago: float):
        bundle = backend.get_certificate(backend.request_certificate("cdn.example.test", None, [], []))
        bundle.created_at -= timedelta(hours=hours_ago)
        return bundle

    plain = requested(0.1)
    plain.check()
    assert plain.status == "ISSUED"  # moto's own behaviour, which the lab replaces
    for hours, status in ((0.1, "PENDING_VALIDATION"), (71.9, "PENDING_VALIDATION"), (72.1, "VALIDATION_TIMED_OUT")):
        bundle = requested(hours)
        emulator_server.check_certificate(bundle)
        assert bundle.status == status, hours
    cert, key = self_signed("cdn.example.test")
    imported = backend.get_certificate(backend.import_certificate(cert, key, chain=None, arn=None, tags=[]))
    emulator_server.check_certificate(imported)
    assert imported.status == "ISSUED"
