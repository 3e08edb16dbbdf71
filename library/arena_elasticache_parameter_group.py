#!/usr/bin/python
"""Ansible module: ElastiCache cache parameter group for any engine family."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_elasticache_parameter_group
short_description: Manage an ElastiCache cache parameter group of any family (redis7, valkey8, ...)
description:
  - Creates, updates or deletes a cache parameter group and keeps exactly the listed parameters
    user-set (parameters set earlier and no longer listed are reset to the engine default).
  - Exists because C(community.aws.elasticache_parameter_group) only accepts families up to
    C(redis6.x), so the current Redis OSS 7 and Valkey families cannot be managed with it.
  - The AWS emulator used in tests has no parameter groups; this module is tested with botocore's
    Stubber against the real API model.
version_added: 1.0.0
author: arena-infra
options:
  name:
    description: Parameter group name.
    type: str
    required: true
  family:
    description: Parameter group family, for example C(valkey8) or C(redis7).
    type: str
    required: true
  description:
    description: Description (set at creation).
    type: str
    default: managed by arena-infra
  parameters:
    description: Parameter name to value; values are compared as strings.
    type: dict
    default: {}
  state:
    description: Create/update or delete.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Cache | Parameter group for Valkey 8
  arena_elasticache_parameter_group:
    name: arena-prod-valkey8
    family: valkey8
    parameters:
      maxmemory-policy: allkeys-lru
      timeout: "300"
    endpoint_url: "{{ aws_guard_target.endpoint_url or omit }}"
    region: "{{ aws_guard_target.region }}"
"""

RETURN = r"""
parameter_group:
  description: Name and family of the group; empty when absent.
  returned: always
  type: dict
  sample: {name: arena-prod-valkey8, family: valkey8}
"""

from typing import Any

from ansible.module_utils.arena_diff import record, with_diff
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from botocore.exceptions import BotoCoreError, ClientError

# ModifyCacheParameterGroup accepts at most 20 parameters per call.
BATCH = 20
# Every call passes aws_retry=True: AWSRetry's throttling codes. CacheParameterGroupNotFound is not
# retried: it is how the module learns that the group is absent, and ElastiCache documents no
# eventual-consistency error for parameter groups.
RETRY = AWSRetry.jittered_backoff()


def describe(client: Any, name: str) -> dict[str, Any] | None:
    try:
        groups = client.describe_cache_parameter_groups(CacheParameterGroupName=name, aws_retry=True)[
            "CacheParameterGroups"
        ]
    except is_boto3_error_code("CacheParameterGroupNotFound"):
        return None
    return groups[0] if groups else None


@AWSRetry.jittered_backoff()
def user_parameters(client: Any, name: str) -> dict[str, str]:
    """The group's user-set parameters, every page (the whole listing is retried when throttled)."""
    paginator = client.get_paginator("describe_cache_parameters")
    listing = paginator.paginate(CacheParameterGroupName=name, Source="user").build_full_result()
    return {p["ParameterName"]: p.get("ParameterValue", "") for p in listing.get("Parameters", [])}


def ensure_present(client: Any, params: dict[str, Any], check_mode: bool, shown: dict[str, Any] | None = None) -> bool:
    """Create the group and set its parameters; `shown` (optional) gets them before and after."""
    name = params["name"]
    wanted = {k: str(v) for k, v in params["parameters"].items()}
    current = describe(client, name)
    if current is not None and current["CacheParameterGroupFamily"] != params["family"]:
        raise ValueError(
            f"parameter group {name} has family {current['CacheParameterGroupFamily']}, requested "
            f"{params['family']}: a family cannot change, use a new group name"
        )
    have = {} if current is None else user_parameters(client, name)
    to_set = {k: v for k, v in wanted.items() if have.get(k) != v}
    to_reset = sorted(k for k in have if k not in wanted)
    changed = current is None or bool(to_set) or bool(to_reset)
    if changed:
        before = {} if current is None else {"family": params["family"], "parameters": have}
        record(shown, before, {"family": params["family"], "parameters": wanted})
    if check_mode or not changed:
        return changed
    if current is None:
        client.create_cache_parameter_group(
            CacheParameterGroupName=name,
            CacheParameterGroupFamily=params["family"],
            Description=params["description"],
            aws_retry=True,
        )
    items = sorted(to_set.items())
    for start in range(0, len(items), BATCH):
        client.modify_cache_parameter_group(
            CacheParameterGroupName=name,
            ParameterNameValues=[{"ParameterName": k, "ParameterValue": v} for k, v in items[start : start + BATCH]],
            aws_retry=True,
        )
    for start in range(0, len(to_reset), BATCH):
        client.reset_cache_parameter_group(
            CacheParameterGroupName=name,
            ResetAllParameters=False,
            ParameterNameValues=[{"ParameterName": k} for k in to_reset[start : start + BATCH]],
            aws_retry=True,
        )
    return True


def ensure_absent(client: Any, params: dict[str, Any], check_mode: bool, shown: dict[str, Any] | None = None) -> bool:
    current = describe(client, params["name"])
    if current is None:
        return False
    record(shown, {"name": params["name"], "family": current["CacheParameterGroupFamily"]}, {})
    if not check_mode:
        client.delete_cache_parameter_group(CacheParameterGroupName=params["name"], aws_retry=True)
    return True


def main() -> None:
    argument_spec = {
        "name": {"type": "str", "required": True},
        "family": {"type": "str", "required": True},
        "description": {"type": "str", "default": "managed by arena-infra"},
        "parameters": {"type": "dict", "default": {}},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    client = module.client("elasticache", retry_decorator=RETRY)
    shown: dict[str, Any] = {}
    try:
        if params["state"] == "absent":
            absent = {"changed": ensure_absent(client, params, module.check_mode, shown), "parameter_group": {}}
            module.exit_json(**with_diff(module, absent, shown.get("before"), shown.get("after")))
        changed = ensure_present(client, params, module.check_mode, shown)
    except ValueError as err:
        module.fail_json(msg=str(err))
    except (ClientError, BotoCoreError) as err:
        module.fail_json_aws(err, msg=f"ElastiCache parameter group call failed for {params['name']}")
    result = {"changed": changed, "parameter_group": {"name": params["name"], "family": params["family"]}}
    module.exit_json(**with_diff(module, result, shown.get("before"), shown.get("after")))


if __name__ == "__main__":
    main()
