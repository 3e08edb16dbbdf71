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
  - With O(state=present) the module first reads the group, and refuses before calling PutWarmPool
    (in check mode too) when AWS would refuse the call or the pool could not work. PutWarmPool
    "cannot be called on an Auto Scaling group that has a mixed instances policy or a launch template
    or launch configuration that requests Spot Instances"
    (U(https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutWarmPool.html),
    U(https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html#warm-pools-limitations));
    the AWS emulator accepts it. A group without a lifecycle hook for
    C(autoscaling:EC2_INSTANCE_LAUNCHING) is refused too, because AWS stops instances as they enter the pool
    without waiting for their user data
    (U(https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html)).
  - Every call goes through amazon.aws's retrying client (jittered backoff on throttling and
    C(ResourceContention)).
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

- name: Would AWS accept a warm pool on this group? (reads only; the answer is in constraints)
  arena_warm_pool:
    autoscaling_group_name: arena-production-web
    region: eu-west-1
  check_mode: true
  register: pool_check
  failed_when: pool_check.constraints is not defined
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
constraints:
  description:
    - What AWS's rules for PutWarmPool depend on, read from the group (also returned with a refusal).
  returned: with state=present, when the group could be read
  type: dict
  contains:
    autoscaling_group_name:
      description: The group.
      type: str
    mixed_instances_policy:
      description: Whether the group has a mixed instances policy.
      type: bool
    spot_request:
      description: What requests Spot Instances (launch template version or launch configuration), or null.
      type: str
    launch_lifecycle_hooks:
      description: Names of the group's lifecycle hooks for autoscaling:EC2_INSTANCE_LAUNCHING.
      type: list
      elements: str
"""

import contextlib
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    import botocore

from ansible.module_utils.arena_diff import diff_field, diff_if_asked
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

UNLIMITED = -1
LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
WARM_POOL_REFUSAL = (
    "PutWarmPool 'cannot be called on an Auto Scaling group that has a mixed instances policy or a launch"
    " template or launch configuration that requests Spot Instances'"
)
DOC_PUT_WARM_POOL = "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutWarmPool.html"
DOC_WARM_POOL_LIMITS = (
    "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html#warm-pools-limitations"
)
DOC_WARM_POOL_HOOKS = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html"
# Throttling is retried by default; ResourceContention ("You already have a pending update to an
# Amazon EC2 Auto Scaling resource") is a documented PutWarmPool error worth waiting out too.
RETRY = AWSRetry.jittered_backoff(retries=10, delay=3, max_delay=60, catch_extra_error_codes=["ResourceContention"])


class WarmPoolError(Exception):
    """Bad input or a refused pool; the message is what the module reports."""

    def __init__(self, message: str, constraints: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.constraints = constraints


def current_pool(client: Any, group: str) -> dict[str, Any]:
    """The pool in module terms, {} when there is none (or it is being deleted)."""
    config = client.describe_warm_pool(AutoScalingGroupName=group, aws_retry=True).get("WarmPoolConfiguration")
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


def template_spot(ec2: Any, spec: dict[str, Any]) -> str | None:
    """What in the group's launch template version requests Spot Instances, or None."""
    if spec.get("LaunchTemplateId"):
        ident = {"LaunchTemplateId": spec["LaunchTemplateId"]}
    else:
        ident = {"LaunchTemplateName": spec["LaunchTemplateName"]}
    version = spec.get("Version") or "$Default"  # a group without a version uses the default one
    found = ec2.describe_launch_template_versions(Versions=[version], aws_retry=True, **ident)["LaunchTemplateVersions"]
    if not found:
        raise WarmPoolError(f"launch template {spec} has no version {version}")
    data = found[0].get("LaunchTemplateData", {})
    if data.get("InstanceMarketOptions", {}).get("MarketType") == "spot":
        name = found[0].get("LaunchTemplateName") or spec.get("LaunchTemplateName") or spec.get("LaunchTemplateId")
        return f"launch template {name} version {found[0].get('VersionNumber')}: InstanceMarketOptions.MarketType spot"
    return None


def configuration_spot(client: Any, name: str) -> str | None:
    configs = client.describe_launch_configurations(LaunchConfigurationNames=[name], aws_retry=True)
    for config in configs["LaunchConfigurations"]:
        if config.get("SpotPrice"):
            return f"launch configuration {name}: SpotPrice {config['SpotPrice']}"
    return None


def group_constraints(client: Any, ec2: Any, group: str) -> dict[str, Any]:
    """Reads only: what AWS's rules for PutWarmPool depend on."""
    groups = client.describe_auto_scaling_groups(AutoScalingGroupNames=[group], aws_retry=True)["AutoScalingGroups"]
    if not groups:
        raise WarmPoolError(f"no Auto Scaling group named {group!r}")
    described = groups[0]
    mixed = described.get("MixedInstancesPolicy") is not None
    spot = None
    if not mixed and described.get("LaunchTemplate"):
        spot = template_spot(ec2, described["LaunchTemplate"])
    elif not mixed and described.get("LaunchConfigurationName"):
        spot = configuration_spot(client, described["LaunchConfigurationName"])
    hooks = client.describe_lifecycle_hooks(AutoScalingGroupName=group, aws_retry=True)["LifecycleHooks"]
    return {
        "autoscaling_group_name": group,
        "mixed_instances_policy": mixed,
        "spot_request": spot,
        "launch_lifecycle_hooks": sorted(
            h["LifecycleHookName"] for h in hooks if h["LifecycleTransition"] == LAUNCHING
        ),
    }


def refusals(constraints: dict[str, Any]) -> list[str]:
    group = constraints["autoscaling_group_name"]
    found = []
    if constraints["mixed_instances_policy"]:
        found.append(
            f"{group} has a mixed instances policy: {WARM_POOL_REFUSAL} ({DOC_PUT_WARM_POOL}; {DOC_WARM_POOL_LIMITS})"
        )
    if constraints["spot_request"]:
        found.append(
            f"{group} requests Spot Instances ({constraints['spot_request']}): {WARM_POOL_REFUSAL}"
            f" ({DOC_PUT_WARM_POOL}; {DOC_WARM_POOL_LIMITS})"
        )
    if not constraints["launch_lifecycle_hooks"]:
        found.append(
            f"{group} has no lifecycle hook for {LAUNCHING}: a warm pool needs one, AWS stops instances as they"
            f" enter the pool without waiting for their user data ({DOC_WARM_POOL_HOOKS})"
        )
    return found


def run(client: Any, ec2: Any, params: dict[str, Any], check_mode: bool, show_diff: bool = False) -> dict[str, Any]:
    """The whole module without AnsibleModule: returns the result (with `diff`, the pool before and
    after, when `show_diff`), raises WarmPoolError.

    ``client`` is the autoscaling client, ``ec2`` the EC2 client (launch templates); both retrying
    (amazon.aws's wrapper: every call passes aws_retry=True).
    """
    group = params["autoscaling_group_name"]
    if params["state"] == "absent":
        current = current_pool(client, group)
        if not current:
            return {"changed": False, "warm_pool": {}}
        if not check_mode:
            client.delete_warm_pool(AutoScalingGroupName=group, ForceDelete=params["force_delete"], aws_retry=True)
        return {"changed": True, "warm_pool": {}, **diff_field(show_diff, current, {})}
    wanted = wanted_pool(params)  # bad input fails before any call
    current = current_pool(client, group)
    constraints = group_constraints(client, ec2, group)
    if current == wanted:
        return {"changed": False, "warm_pool": current, "constraints": constraints}
    problems = refusals(constraints)
    if problems:
        raise WarmPoolError("; ".join(problems), constraints)
    if not check_mode:
        client.put_warm_pool(
            AutoScalingGroupName=group,
            MaxGroupPreparedCapacity=wanted["max_group_prepared_capacity"],
            MinSize=wanted["min_size"],
            PoolState=wanted["pool_state"],
            InstanceReusePolicy={"ReuseOnScaleIn": wanted["reuse_on_scale_in"]},
            aws_retry=True,
        )
    return {"changed": True, "warm_pool": wanted, "constraints": constraints, **diff_field(show_diff, current, wanted)}


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
    client = module.client("autoscaling", retry_decorator=RETRY)
    ec2 = module.client("ec2", retry_decorator=RETRY)
    try:
        result = run(client, ec2, module.params, module.check_mode, show_diff=module._diff)
    except WarmPoolError as error:
        extra = {"constraints": error.constraints} if error.constraints is not None else {}
        module.fail_json(msg=f"arena_warm_pool: {error}", **extra)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(
            error, msg=f"arena_warm_pool: AWS call failed for {module.params['autoscaling_group_name']}"
        )
    module.exit_json(**diff_if_asked(module, result))


if __name__ == "__main__":
    main()
