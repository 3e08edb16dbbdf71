#!/usr/bin/python
"""Ansible module: the warm pool of an Auto Scaling group."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_warm_pool
short_description: Create, resize or delete the warm pool of an Auto Scaling group
description:
  - A warm pool keeps pre-initialised instances (booted once, then stopped or hibernated) next to an
    Auto Scaling group. Scaling out from the pool skips most of the boot, which shortens the lead
    time an event needs. No collection module manages warm pools.
  - Idempotent; supports check mode. A pool that AWS is still deleting (status V(PendingDelete))
    counts as absent.
options:
  autoscaling_group_name:
    description: Name of the Auto Scaling group.
    type: str
    required: true
  state:
    description: V(present) creates or updates the pool, V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  min_size:
    description: Instances the pool keeps at least.
    type: int
    default: 0
  max_group_prepared_capacity:
    description:
      - Group instances plus pool instances at most. Omit it (or V(-1)) to let the group's max size decide.
    type: int
    default: -1
  pool_state:
    description: State of the pooled instances.
    type: str
    choices: [Stopped, Running, Hibernated]
    default: Stopped
  reuse_on_scale_in:
    description: Return instances to the pool on scale-in instead of terminating them.
    type: bool
    default: false
  force_delete:
    description: With O(state=absent), delete the pool without waiting for its instances to terminate.
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Keep six stopped, pre-initialised web instances ready for the season
  arena_warm_pool:
    autoscaling_group_name: arena-production-web
    min_size: 6
    pool_state: Stopped
    reuse_on_scale_in: true
    region: eu-west-1
"""

RETURN = r"""
warm_pool:
  description: The pool configuration after the run (empty when absent).
  returned: always
  type: dict
  sample:
    min_size: 6
    max_group_prepared_capacity: -1
    pool_state: Stopped
    reuse_on_scale_in: true
"""

import contextlib
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    import botocore

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

UNLIMITED = -1


class WarmPoolError(Exception):
    """Bad input; the message is what the module reports."""


def current_pool(client: Any, group: str) -> dict[str, Any]:
    """The pool in module terms, {} when there is none (or it is being deleted)."""
    config = client.describe_warm_pool(AutoScalingGroupName=group).get("WarmPoolConfiguration")
    if not config or config.get("Status") == "PendingDelete":
        return {}
    return {
        "min_size": config.get("MinSize", 0),
        "max_group_prepared_capacity": config.get("MaxGroupPreparedCapacity", UNLIMITED),
        "pool_state": config.get("PoolState", "Stopped"),
        "reuse_on_scale_in": config.get("InstanceReusePolicy", {}).get("ReuseOnScaleIn", False),
    }


def wanted_pool(params: dict[str, Any]) -> dict[str, Any]:
    if params["min_size"] < 0:
        raise WarmPoolError(f"min_size must be >= 0, got {params['min_size']}")
    cap = params["max_group_prepared_capacity"]
    if cap < UNLIMITED:
        raise WarmPoolError(f"max_group_prepared_capacity must be >= 0 or -1 (unlimited), got {cap}")
    if cap != UNLIMITED and cap < params["min_size"]:
        raise WarmPoolError(f"max_group_prepared_capacity {cap} is below min_size {params['min_size']}")
    return {key: params[key] for key in ("min_size", "max_group_prepared_capacity", "pool_state", "reuse_on_scale_in")}


def put_request(group: str, pool: dict[str, Any]) -> dict[str, Any]:
    return {
        "AutoScalingGroupName": group,
        "MaxGroupPreparedCapacity": pool["max_group_prepared_capacity"],
        "MinSize": pool["min_size"],
        "PoolState": pool["pool_state"],
        "InstanceReusePolicy": {"ReuseOnScaleIn": pool["reuse_on_scale_in"]},
    }


def run(client: Any, params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """The whole module without AnsibleModule: returns the result, raises WarmPoolError."""
    group = params["autoscaling_group_name"]
    current = current_pool(client, group)
    if params["state"] == "absent":
        if not current:
            return {"changed": False, "warm_pool": {}}
        if not check_mode:
            client.delete_warm_pool(AutoScalingGroupName=group, ForceDelete=params["force_delete"])
        return {"changed": True, "warm_pool": {}}
    wanted = wanted_pool(params)
    if current == wanted:
        return {"changed": False, "warm_pool": current}
    if not check_mode:
        client.put_warm_pool(**put_request(group, wanted))
    return {"changed": True, "warm_pool": wanted}


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "autoscaling_group_name": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "min_size": {"type": "int", "default": 0},
            "max_group_prepared_capacity": {"type": "int", "default": UNLIMITED},
            "pool_state": {"type": "str", "choices": ["Stopped", "Running", "Hibernated"], "default": "Stopped"},
            "reuse_on_scale_in": {"type": "bool", "default": False},
            "force_delete": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    client = module.client("autoscaling", retry_decorator=AWSRetry.jittered_backoff())
    try:
        result = run(client, module.params, module.check_mode)
    except WarmPoolError as error:
        module.fail_json(msg=f"arena_warm_pool: {error}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(
            error, msg=f"arena_warm_pool: AWS call failed for {module.params['autoscaling_group_name']}"
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
