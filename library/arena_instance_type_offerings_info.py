#!/usr/bin/python
# Copyright: arena-infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Say which instance types EC2 does not offer in the given zones (DescribeInstanceTypeOfferings, or a cached copy)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_instance_type_offerings_info
short_description: Check that EC2 offers instance types in the given availability zones (or the region)
description:
  - Reads EC2 DescribeInstanceTypeOfferings
    (U(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceTypeOfferings.html)) with
    I(LocationType) C(availability-zone) and a C(location) filter when I(zones) are given (each must be an
    Availability Zone of the current Region), else C(region), an C(instance-type) filter with the types
    asked, and MaxResults 1000 (the API allows 5-1000), following NextToken to the last page.
  - Returns, per instance type, the zones (or the region) where it is not offered. A type that does not
    exist at all is offered nowhere, so it is reported too.
  - When the API cannot be reached (no endpoint connection, no credentials) and I(cache_path) is set, the
    same answer comes from the cached list in that file, with a warning and I(source=cache).
  - With I(refresh_cache=true) the module reads every offering of every zone of the region (LocationType
    C(availability-zone), no filter) and writes them to I(cache_path), one line per zone (changed when the
    file's content differs; check mode writes nothing). I(instance_types) and I(zones) are then ignored.
  - Read-only towards AWS. No amazon.aws or community.aws module reads instance type offerings (the
    collections only describe instances and their types' attributes), hence this one.
  - Not in the C(group/aws) module-defaults group; pass I(region) and I(endpoint_url) explicitly.
options:
  instance_types:
    description: Instance types to check.
    type: list
    elements: str
    default: []
  zones:
    description: Availability Zone names (C(eu-west-1a)); empty checks the region.
    type: list
    elements: str
    default: []
  cache_path:
    description:
      - JSON file of the cached offerings of every zone of the region
        (C({region, location_type, offerings}), offerings a list of instance types per zone).
    type: path
  refresh_cache:
    description: Read every offering of every zone of the region and write I(cache_path).
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - arena-infra
"""

EXAMPLES = r"""
- name: Preflight | Read the offerings of the Auto Scaling groups' instance types
  arena_instance_type_offerings_info:
    instance_types: [c6i.large, c6a.large]
    zones: [eu-west-1a, eu-west-1b]
    cache_path: "{{ role_path }}/files/instance_type_offerings/eu-west-1.json"
    region: eu-west-1
  register: offerings

- name: Preflight | Refuse a type not offered in every zone
  ansible.builtin.assert:
    that: offerings.missing | length == 0
    fail_msg: "{{ offerings.missing }}"

# Refresh the cache of a region (documented in roles/platform_autoscaling/README.md):
#   ansible localhost -m arena_instance_type_offerings_info -a "region=eu-west-1 refresh_cache=true
#     cache_path=roles/platform_autoscaling/files/instance_type_offerings/eu-west-1.json"
"""

RETURN = r"""
missing:
  description: Instance type -> the zones (or the region) where EC2 does not offer it; empty when all are offered.
  returned: always
  type: dict
  sample: {c6i.hyper: [eu-west-1a, eu-west-1b]}
locations:
  description: The zones (or the region) checked.
  returned: always
  type: list
  elements: str
source:
  description: C(api) (DescribeInstanceTypeOfferings) or C(cache) (I(cache_path), the API could not be reached).
  returned: always
  type: str
"""

import contextlib
import json
import os
from typing import Any

with contextlib.suppress(ImportError):  # a missing botocore is reported by AnsibleAWSModule
    import botocore

from ansible.module_utils.arena_diff import record, with_diff
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# The API's largest page (MaxResults 5-1000).
PAGE = 1000


def location_type(zones: list[str]) -> str:
    return "availability-zone" if zones else "region"


def read_offerings(ec2: Any, region: str, zones: list[str], instance_types: list[str]) -> dict[str, list[str]]:
    """Location -> the instance types offered there (of ``instance_types``, or all when empty).

    No zones and no types (the cache refresh): every zone of the region, LocationType availability-zone.
    """
    every_zone = not zones and not instance_types
    filters = [] if every_zone else [{"Name": "location", "Values": sorted(zones) if zones else [region]}]
    if instance_types:
        filters.append({"Name": "instance-type", "Values": sorted(set(instance_types))})
    offered: dict[str, set[str]] = {location: set() for location in (zones or ([] if every_zone else [region]))}
    request: dict[str, Any] = {
        "LocationType": "availability-zone" if every_zone else location_type(zones),
        "MaxResults": PAGE,
        **({"Filters": filters} if filters else {}),
    }
    while True:
        page = ec2.describe_instance_type_offerings(**request, aws_retry=True)
        for offering in page.get("InstanceTypeOfferings", []):
            offered.setdefault(offering["Location"], set()).add(offering["InstanceType"])
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    return {location: sorted(types) for location, types in sorted(offered.items())}


def read_cache(path: str, region: str, zones: list[str]) -> dict[str, list[str]]:
    """The cached offerings of every zone of the region; for a region check, the region offers what
    any of its zones offers."""
    with open(path, encoding="utf-8") as handle:
        cache = json.load(handle)
    if cache.get("region") != region or cache.get("location_type") != "availability-zone":
        raise ValueError(
            f"{path} holds {cache.get('location_type')!r} offerings of {cache.get('region')!r}, not the "
            f"availability-zone offerings of {region}"
        )
    offerings = cache.get("offerings") or {}
    if not zones:
        return {region: sorted({t for types in offerings.values() for t in types})}
    unknown = [z for z in zones if z not in offerings]
    if unknown:
        raise ValueError(f"{path} has no offerings for {unknown} (known: {sorted(offerings)})")
    return offerings


def missing(offerings: dict[str, list[str]], locations: list[str], instance_types: list[str]) -> dict[str, list[str]]:
    """Instance type -> the locations that do not offer it (types in the order asked, without repeats)."""
    out: dict[str, list[str]] = {}
    for instance_type in dict.fromkeys(instance_types):
        absent = [loc for loc in locations if instance_type not in set(offerings.get(loc, []))]
        if absent:
            out[instance_type] = absent
    return out


def write_cache(
    path: str, region: str, offerings: dict[str, list[str]], check_mode: bool, shown: dict[str, Any] | None = None
) -> bool:
    """Every zone's offerings as one JSON line per zone (diffable, small); True when the file changes.
    `shown` (optional) gets the file's text before ("" when there is none) and after."""
    lines = [f" {json.dumps(zone)}: {json.dumps(types)}" for zone, types in sorted(offerings.items())]
    text = (
        f'{{"region": {json.dumps(region)}, "location_type": "availability-zone", "offerings": {{\n'
        + ",\n".join(lines)
        + "\n}}\n"
    )
    before = ""
    with contextlib.suppress(FileNotFoundError), open(path, encoding="utf-8") as handle:
        before = handle.read()
        if before == text:
            return False
    record(shown, before, text)
    if not check_mode:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    return True


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "instance_types": {"type": "list", "elements": "str", "default": []},
            "zones": {"type": "list", "elements": "str", "default": []},
            "cache_path": {"type": "path"},
            "refresh_cache": {"type": "bool", "default": False},
        },
        required_if=[("refresh_cache", True, ("cache_path",))],
        supports_check_mode=True,
    )
    params, region = module.params, module.region
    zones, types, cache_path = params["zones"], params["instance_types"], params["cache_path"]
    ec2 = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    if params["refresh_cache"]:
        try:
            offerings = read_offerings(ec2, region, [], [])
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
            module.fail_json_aws(err, msg="arena_instance_type_offerings_info: cannot read the offerings to cache")
        shown: dict[str, Any] = {}
        changed = write_cache(cache_path, region, offerings, module.check_mode, shown)
        result = {"changed": changed, "missing": {}, "locations": sorted(offerings), "source": "api"}
        module.exit_json(**with_diff(module, result, shown.get("before"), shown.get("after")))
    source = "api"
    try:
        offerings = read_offerings(ec2, region, zones, types)
    except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.NoCredentialsError) as err:
        # Offline: the committed list answers instead, and says so.
        if not cache_path:
            module.fail_json_aws(err, msg="arena_instance_type_offerings_info: EC2 unreachable and no cache_path")
        try:
            offerings = read_cache(cache_path, region, zones)
        except (OSError, ValueError) as cache_err:
            module.fail_json(msg=f"arena_instance_type_offerings_info: EC2 unreachable ({err}) and {cache_err}")
        module.warn(f"EC2 unreachable ({err}): instance type offerings read from {cache_path}")
        source = "cache"
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
        module.fail_json_aws(err, msg="arena_instance_type_offerings_info: cannot read the instance type offerings")
    module.exit_json(
        changed=False, missing=missing(offerings, zones or [region], types), locations=zones or [region], source=source
    )


if __name__ == "__main__":
    main()
