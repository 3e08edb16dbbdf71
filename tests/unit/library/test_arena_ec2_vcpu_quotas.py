"""arena_ec2_vcpu_quotas against botocore's Stubber (real ec2 and service-quotas API models).

The emulator answers DescribeInstanceTypes and DescribeInstances but implements no EC2 quota
(GetServiceQuota: NoSuchResourceException for every ec2 code, GetAWSDefaultServiceQuota: HTTP 500
"not implemented"), so the exact requests are pinned here. What AWS documents and these tests guard:
- vCPU quotas per instance class, on-demand "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z)
  instances" (Service Quotas ec2 L-1216C47A; the AWS CLI's get-aws-default-service-quota example,
  https://docs.aws.amazon.com/cli/latest/userguide/cli_service-quotas_code_examples.html) and Spot "All
  Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests" (L-34B43A08, default 5,
  https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-spot-limits.html);
  https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html.
- GetServiceQuota answers NoSuchResourceException while no value is applied; GetAWSDefaultServiceQuota
  then gives the default.
Every call goes through the module's own retrying client and must pass aws_retry=True (RequireRetry).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from botocore.stub import Stubber

Clients = tuple[Any, Stubber, Any, Stubber]
RUNNING = {"Filters": [{"Name": "instance-state-name", "Values": ["pending", "running"]}], "MaxResults": 1000}
ON_DEMAND = ("L-1216C47A", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances")
SPOT = ("L-34B43A08", "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests")
VCPUS = {"c6i.large": 2, "c6a.large": 2, "c6i.xlarge": 4, "m6i.4xlarge": 16, "g5.xlarge": 4, "t3.small": 2}


@pytest.fixture
def stubbed(mod: ModuleType, stub_client: Any, retry_sleeps: list[float]) -> Clients:
    return (*stub_client("ec2", mod.RETRY, strict=True), *stub_client("service-quotas", mod.RETRY, strict=True))


def instance(itype: str, group: str | None = None, spot: bool = False, index: int = 0) -> dict[str, Any]:
    found: dict[str, Any] = {"InstanceId": f"i-{index:017x}", "InstanceType": itype}
    if group:
        found["Tags"] = [{"Key": "aws:autoscaling:groupName", "Value": group}, {"Key": "Tier", "Value": "web"}]
    if spot:
        found["InstanceLifecycle"] = "spot"
    return found


def expect_instances(ec2: Stubber, pages: list[list[dict[str, Any]]]) -> None:
    for number, page in enumerate(pages):
        request = RUNNING | ({"NextToken": f"t{number}"} if number else {})
        response: dict[str, Any] = {"Reservations": [{"ReservationId": f"r-{number}", "Instances": page}]}
        if number + 1 < len(pages):
            response["NextToken"] = f"t{number + 1}"
        ec2.add_response("describe_instances", response, request)


def expect_types(ec2: Stubber, types: list[str], vcpus: dict[str, int] | None = None) -> None:
    known = vcpus or VCPUS
    ec2.add_response(
        "describe_instance_types",
        {"InstanceTypes": [{"InstanceType": t, "VCpuInfo": {"DefaultVCpus": known[t]}} for t in types]},
        {"InstanceTypes": types},
    )


def expect_quota(quotas: Stubber, code: str, value: float | None, default: float = 5.0) -> None:
    request = {"ServiceCode": "ec2", "QuotaCode": code}
    if value is None:
        quotas.add_client_error(
            "get_service_quota",
            service_error_code="NoSuchResourceException",
            http_status_code=400,
            expected_params=request,
        )
        quotas.add_response(
            "get_aws_default_service_quota", {"Quota": request | {"Value": default, "Adjustable": True}}, request
        )
    else:
        quotas.add_response("get_service_quota", {"Quota": request | {"Value": value, "Adjustable": True}}, request)


def params(types: list[str], groups: tuple[str, ...] = ("arena-production-web",), read: bool = True) -> dict[str, Any]:
    return {"instance_types": types, "autoscaling_group_names": list(groups), "read_quotas": read}


def quota(code_name: tuple[str, str], value: float | None, source: str) -> dict[str, Any]:
    code, name = code_name
    return {"service_code": "ec2", "quota_code": code, "quota_name": name, "value": value, "value_source": source}


def test_reads_vcpus_usage_and_both_standard_quotas(mod: ModuleType, stubbed: Clients) -> None:
    """The groups' own instances are apart; others are summed per class and market (a GPU instance
    counts against another class; Spot by InstanceLifecycle). Every page of instances is read."""
    ec2, ec2_stub, quotas, quota_stub = stubbed
    expect_instances(
        ec2_stub,
        [
            [
                instance("c6i.large", "arena-production-web", index=1),
                instance("c6i.large", "arena-production-web", True, 2),
            ],
            [instance("m6i.4xlarge", "billing-workers", index=3), instance("t3.small", index=4)],
            [instance("c6i.large", None, True, 5), instance("g5.xlarge", index=6)],
        ],
    )
    expect_types(ec2_stub, ["c6a.large", "c6i.large", "g5.xlarge", "m6i.4xlarge", "t3.small"])
    expect_quota(quota_stub, "L-1216C47A", 256.0)
    expect_quota(quota_stub, "L-34B43A08", None)
    result = mod.run(ec2, quotas, params(["c6i.large", "c6a.large", "c6i.large"]), "eu-west-1")
    assert result == {
        "changed": False,
        "constraints": {
            "region": "eu-west-1",
            "instance_types": {
                "c6a.large": {"vcpus": 2, "quota_class": "standard"},
                "c6i.large": {"vcpus": 2, "quota_class": "standard"},
                "g5.xlarge": {"vcpus": 4, "quota_class": "G and VT"},
                "m6i.4xlarge": {"vcpus": 16, "quota_class": "standard"},
                "t3.small": {"vcpus": 2, "quota_class": "standard"},
            },
            "quotas": {
                "standard": {
                    "on_demand": quota(ON_DEMAND, 256.0, "applied"),
                    "spot": quota(SPOT, 5.0, "AWS default"),
                }
            },
            "running_elsewhere": {"standard": {"on_demand": 18, "spot": 2}, "G and VT": {"on_demand": 4, "spot": 0}},
            "running_in_groups": {"standard": {"on_demand": 2, "spot": 2}},
        },
    }


def test_without_quota_reads_no_service_quotas_call_is_made(mod: ModuleType, stubbed: Clients) -> None:
    """read_quotas false (the emulator): nothing is queued on Service Quotas, so any call would fail."""
    ec2, ec2_stub, quotas, _ = stubbed
    expect_instances(ec2_stub, [[]])
    expect_types(ec2_stub, ["c6i.xlarge"])
    result = mod.run(ec2, quotas, params(["c6i.xlarge"], read=False), "eu-west-1")
    assert result["constraints"]["quotas"] == {
        "standard": {"on_demand": quota(ON_DEMAND, None, "not read"), "spot": quota(SPOT, None, "not read")}
    }
    assert result["constraints"]["running_elsewhere"] == {}


def test_a_type_of_another_class_gets_no_quota(mod: ModuleType, stubbed: Clients) -> None:
    """Only the standard class's quotas are read; a G type is returned with its class for the rule to refuse."""
    ec2, ec2_stub, quotas, _ = stubbed
    expect_instances(ec2_stub, [[]])
    expect_types(ec2_stub, ["g5.xlarge"])
    result = mod.run(ec2, quotas, params(["g5.xlarge"]), "eu-west-1")
    assert result["constraints"]["quotas"] == {}
    assert result["constraints"]["instance_types"] == {"g5.xlarge": {"vcpus": 4, "quota_class": "G and VT"}}


def test_more_than_100_types_are_asked_100_at_a_time(mod: ModuleType, stubbed: Clients) -> None:
    ec2, ec2_stub, quotas, quota_stub = stubbed
    types = sorted(f"c6i.x{index:03d}" for index in range(101))
    vcpus = dict.fromkeys(types, 2)
    expect_instances(ec2_stub, [[]])
    expect_types(ec2_stub, types[:100], vcpus)
    expect_types(ec2_stub, types[100:], vcpus)
    expect_quota(quota_stub, "L-1216C47A", 64.0)
    expect_quota(quota_stub, "L-34B43A08", 64.0)
    assert len(mod.run(ec2, quotas, params(types), "eu-west-1")["constraints"]["instance_types"]) == 101


def test_an_unknown_type_is_refused_by_name(mod: ModuleType, stubbed: Clients) -> None:
    ec2, ec2_stub, quotas, _ = stubbed
    expect_instances(ec2_stub, [[]])
    ec2_stub.add_response("describe_instance_types", {"InstanceTypes": []}, {"InstanceTypes": ["c6i.large"]})
    with pytest.raises(ValueError, match=r"^DescribeInstanceTypes does not know c6i.large in eu-west-1$"):
        mod.run(ec2, quotas, params(["c6i.large"]), "eu-west-1")


@pytest.mark.parametrize(
    ("instance_type", "expected"),
    [
        *((t, "standard") for t in ("a1.large", "c6i.large", "d3.xlarge", "h1.2xlarge", "i4i.large", "im4gn.large")),
        *((t, "standard") for t in ("is4gen.large", "m6a.large", "r6i.large", "t3.small", "z1d.large", "C6I.LARGE")),
        ("dl1.24xlarge", "DL"),
        ("f1.2xlarge", "F"),
        ("g5.xlarge", "G and VT"),
        ("vt1.3xlarge", "G and VT"),
        ("hpc7g.16xlarge", "HPC"),
        ("inf2.xlarge", "Inf"),
        ("mac2.metal", "Mac"),
        ("p4d.24xlarge", "P"),
        ("trn1.2xlarge", "Trn"),
        ("u-6tb1.metal", "high memory"),
        ("x2idn.16xlarge", "X"),
        ("q9.large", "unknown"),
    ],
)
def test_instance_families_map_to_the_documented_classes(mod: ModuleType, instance_type: str, expected: str) -> None:
    assert mod.quota_class(instance_type) == expected


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        ("describe_instances", "RequestLimitExceeded"),
        ("describe_instance_types", "RequestLimitExceeded"),
        ("get_service_quota", "TooManyRequestsException"),
    ],
)
def test_throttling_is_retried(
    mod: ModuleType, stubbed: Clients, retry_sleeps: list[float], operation: str, code: str
) -> None:
    ec2, ec2_stub, quotas, quota_stub = stubbed
    stub = quota_stub if operation == "get_service_quota" else ec2_stub
    if operation == "describe_instances":
        stub.add_client_error(operation, service_error_code=code, http_status_code=400)
    expect_instances(ec2_stub, [[]])
    if operation == "describe_instance_types":
        stub.add_client_error(operation, service_error_code=code, http_status_code=400)
    expect_types(ec2_stub, ["c6i.large"])
    if operation == "get_service_quota":
        stub.add_client_error(operation, service_error_code=code, http_status_code=400)
    expect_quota(quota_stub, "L-1216C47A", 64.0)
    expect_quota(quota_stub, "L-34B43A08", 64.0)
    assert mod.run(ec2, quotas, params(["c6i.large"]), "eu-west-1")["changed"] is False
    assert len(retry_sleeps) == 1


def test_main_reads_in_check_mode_and_changes_nothing(mod: ModuleType, run_module: Any, stub_client: Any) -> None:
    """Through main(): check mode reads the same, returns changed false; no write API exists here."""
    ec2, ec2_stub = stub_client("ec2")
    quotas, quota_stub = stub_client("service-quotas")
    expect_instances(ec2_stub, [[instance("c6i.large", index=1)]])
    expect_types(ec2_stub, ["c6i.large"])
    expect_quota(quota_stub, "L-1216C47A", 64.0)
    expect_quota(quota_stub, "L-34B43A08", 64.0)
    result = run_module(
        mod,
        {"instance_types": ["c6i.large"], "region": "eu-west-1", "_ansible_check_mode": True},
        {"ec2": ec2, "service-quotas": quotas},
    )
    assert result["changed"] is False, result
    assert result["constraints"]["running_elsewhere"] == {"standard": {"on_demand": 2, "spot": 0}}
