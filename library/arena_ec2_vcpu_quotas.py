#!/usr/bin/python
# Copyright: arena-infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only: EC2 vCPU quotas of the instance classes the platform groups launch, and what runs."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_ec2_vcpu_quotas
short_description: Read the EC2 vCPU quotas an event plan needs, the instance types' vCPUs and what already runs
description:
  - Reads only; changes nothing (changed is always false, check mode included). The live-event preflight
    (roles/event_scaling, tasks/lookup.yml) compares the plan's vCPUs at every event with what it returns
    (filter C(arena_event_vcpu_quotas)).
  - EC2 limits running instances by vCPUs per instance class, separately for on-demand and Spot
    (U(https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html),
    U(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-spot-limits.html)). The class of an instance
    type is its family's letters - A, C, D, H, I, M, R, T, Z are C(standard); DL, F, G and VT, HPC, Inf, Mac,
    P, Trn, U (high memory) and X are other classes. Only the standard class's quotas are read, Service Quotas
    C(ec2) C(L-1216C47A) ("Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances") and
    C(L-34B43A08) ("All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests"). A type of another class
    is returned with its class and no quota, so the preflight refuses it by name.
  - A quota's value comes from GetServiceQuota, or GetAWSDefaultServiceQuota while no value has been applied to
    the account (NoSuchResourceException).
  - The vCPUs of every type (the ones asked and the ones running) come from DescribeInstanceTypes
    (C(VCpuInfo.DefaultVCpus)), never from a table. What the account already runs is read with DescribeInstances
    (pending and running instances, every page), per class and market (C(InstanceLifecycle) C(spot) or
    on-demand), the instances of the groups in O(autoscaling_group_names) (tag C(aws:autoscaling:groupName))
    apart from the others, whose vCPUs the plan adds to its own. Open Spot requests not yet fulfilled also count
    against the Spot quota and are not read.
  - No amazon.aws or community.aws module reads Service Quotas or sums vCPUs per quota class, hence this one.
    Every call goes through amazon.aws's retrying client (jittered backoff on throttling).
options:
  instance_types:
    description: Instance types the planned groups can launch (their mixed instances policies' overrides).
    type: list
    elements: str
    required: true
  autoscaling_group_names:
    description: Groups whose instances the plan counts itself (excluded from the instances running elsewhere).
    type: list
    elements: str
    default: []
  read_quotas:
    description:
      - Read the quotas from Service Quotas. V(false) returns them with value null (the AWS emulator implements
        no EC2 quota; the role passes false there only), the rest is read as usual.
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - arena-infra
"""

EXAMPLES = r"""
- name: Lookup | vCPU quotas and usage for the platform groups' instance types
  arena_ec2_vcpu_quotas:
    instance_types: [c6i.large, c6a.large, m6i.large, m6a.large, c6i.xlarge]
    autoscaling_group_names: [arena-production-web, arena-production-api]
    region: eu-west-1
  register: vcpu_quotas
"""

RETURN = r"""
constraints:
  description: What the vCPU quota rule needs.
  returned: success
  type: dict
  contains:
    region:
      description: The Region the quotas apply to.
      type: str
    instance_types:
      description: Per instance type (asked or running), its vCPUs (DefaultVCpus) and quota class.
      type: dict
      sample: {"c6i.large": {"vcpus": 2, "quota_class": "standard"}}
    quotas:
      description:
        - Per quota class of the types asked that this module reads (standard), per market (on_demand, spot)
          the quota's service_code, quota_code, quota_name, value (null when not read) and value_source
          (applied, AWS default or not read).
      type: dict
    running_elsewhere:
      description: vCPUs of pending and running instances outside the groups, per class and market.
      type: dict
      sample: {"standard": {"on_demand": 8, "spot": 0}}
    running_in_groups:
      description: vCPUs of pending and running instances of the groups, per class and market.
      type: dict
"""

import contextlib
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    import botocore

from ansible.module_utils.arena_service_quotas import read_quota
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

DOC_ON_DEMAND_QUOTAS = "https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html"
DOC_SPOT_QUOTAS = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-spot-limits.html"
SERVICE_CODE = "ec2"
# The quota classes read: class -> market -> (quota code, quota name).
QUOTAS = {
    "standard": {
        "on_demand": ("L-1216C47A", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances"),
        "spot": ("L-34B43A08", "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests"),
    }
}
# Instance family -> quota class, by the letters the quota names list. Longer prefixes first: dl1 is DL,
# not D; inf2 is Inf, not I; trn1 is Trn, not T; hpc7g is HPC, not H; mac2 is Mac, not M; u-6tb1 is U.
PREFIX_CLASSES = (
    ("u-", "high memory"),
    ("dl", "DL"),
    ("hpc", "HPC"),
    ("inf", "Inf"),
    ("mac", "Mac"),
    ("trn", "Trn"),
    ("vt", "G and VT"),
)
LETTER_CLASSES = {
    **dict.fromkeys("acdhimrtz", "standard"),
    "f": "F",
    "g": "G and VT",
    "p": "P",
    "x": "X",
}
TYPES_PER_CALL = 100  # DescribeInstanceTypes: up to 100 instance types per request
INSTANCES_PAGE = 1000  # DescribeInstances MaxResults maximum
GROUP_TAG = "aws:autoscaling:groupName"
RETRY = AWSRetry.jittered_backoff(retries=10, delay=3, max_delay=60)


def quota_class(instance_type: str) -> str:
    """The vCPU quota class of an instance type ('standard', 'G and VT' ...; 'unknown' otherwise)."""
    family = instance_type.split(".", 1)[0].lower()
    for prefix, name in PREFIX_CLASSES:
        if family.startswith(prefix):
            return name
    return LETTER_CLASSES.get(family[:1], "unknown")


def running_instances(ec2: Any) -> list[dict[str, Any]]:
    """Pending and running instances of the Region, every page: type, market and Auto Scaling group."""
    request: dict[str, Any] = {
        "Filters": [{"Name": "instance-state-name", "Values": ["pending", "running"]}],
        "MaxResults": INSTANCES_PAGE,
    }
    found = []
    while True:
        page = ec2.describe_instances(aws_retry=True, **request)
        for reservation in page.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                tags = {t.get("Key"): t.get("Value") for t in instance.get("Tags", [])}
                found.append(
                    {
                        "instance_type": instance["InstanceType"],
                        "market": "spot" if instance.get("InstanceLifecycle") == "spot" else "on_demand",
                        "group": tags.get(GROUP_TAG),
                    }
                )
        if not page.get("NextToken"):
            return found
        request["NextToken"] = page["NextToken"]


def default_vcpus(ec2: Any, instance_types: list[str]) -> dict[str, int]:
    """DefaultVCpus of each type (DescribeInstanceTypes, up to 100 types a request, every page)."""
    vcpus: dict[str, int] = {}
    for start in range(0, len(instance_types), TYPES_PER_CALL):
        request: dict[str, Any] = {"InstanceTypes": instance_types[start : start + TYPES_PER_CALL]}
        while True:
            page = ec2.describe_instance_types(aws_retry=True, **request)
            for info in page.get("InstanceTypes", []):
                vcpus[info["InstanceType"]] = info["VCpuInfo"]["DefaultVCpus"]
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
    return vcpus


def run(ec2: Any, quotas: Any, params: dict[str, Any], region: str) -> dict[str, Any]:
    """The whole module without AnsibleModule; ``ec2`` and ``quotas`` are retrying clients."""
    asked = sorted(set(params["instance_types"]))
    if not asked:
        raise ValueError("instance_types must name at least one instance type")
    groups = set(params["autoscaling_group_names"])
    instances = running_instances(ec2)
    types = sorted(set(asked) | {i["instance_type"] for i in instances})
    vcpus = default_vcpus(ec2, types)
    unknown = [t for t in asked if t not in vcpus]
    if unknown:
        raise ValueError(f"DescribeInstanceTypes does not know {', '.join(unknown)} in {region}")
    elsewhere: dict[str, dict[str, int]] = {}
    in_groups: dict[str, dict[str, int]] = {}
    for instance in instances:
        qclass = quota_class(instance["instance_type"])
        counted = in_groups if instance["group"] in groups else elsewhere
        per_market = counted.setdefault(qclass, {"on_demand": 0, "spot": 0})
        per_market[instance["market"]] += vcpus.get(instance["instance_type"], 0)
    classes = sorted({quota_class(t) for t in asked} & set(QUOTAS))
    read: dict[str, dict[str, Any]] = {}
    for qclass in classes:
        read[qclass] = {}
        for market, (code, name) in QUOTAS[qclass].items():
            value, source = read_quota(quotas, SERVICE_CODE, code) if params["read_quotas"] else (None, "not read")
            read[qclass][market] = {
                "service_code": SERVICE_CODE,
                "quota_code": code,
                "quota_name": name,
                "value": value,
                "value_source": source,
            }
    return {
        "changed": False,
        "constraints": {
            "region": region,
            "instance_types": {t: {"vcpus": vcpus[t], "quota_class": quota_class(t)} for t in types if t in vcpus},
            "quotas": read,
            "running_elsewhere": elsewhere,
            "running_in_groups": in_groups,
        },
    }


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "instance_types": {"type": "list", "elements": "str", "required": True},
            "autoscaling_group_names": {"type": "list", "elements": "str", "default": []},
            "read_quotas": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    ec2 = module.client("ec2", retry_decorator=RETRY)
    quotas = module.client("service-quotas", retry_decorator=RETRY)
    try:
        result = run(ec2, quotas, module.params, module.region)
    except ValueError as error:
        module.fail_json(msg=f"arena_ec2_vcpu_quotas: {error}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="arena_ec2_vcpu_quotas: AWS call failed")
    module.exit_json(changed=False, constraints=result["constraints"])


if __name__ == "__main__":
    main()
