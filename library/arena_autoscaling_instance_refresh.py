#!/usr/bin/python
# Copyright: arena-infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start an instance refresh of an Auto Scaling group unless one is already running."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_autoscaling_instance_refresh
short_description: Start an Auto Scaling instance refresh with rollback preferences
description:
  - Starts a rolling instance refresh of a group, so its instances are replaced by ones built from
    the launch template's current version (and so the image the SSM parameter names now).
  - Idempotent in the sense that matters for a rollout. When a refresh of the group is already
    pending or in progress, none is started and that refresh is returned (changed=false).
  - Preferences include C(AutoRollback), which C(amazon.aws.autoscaling_instance_refresh) does not offer.
  - Not in the C(group/aws) module-defaults group; pass I(region) and I(endpoint_url) explicitly.
options:
  name:
    description: Name of the Auto Scaling group.
    type: str
    required: true
  min_healthy_percentage:
    description: Share of the group that must stay healthy during the refresh.
    type: int
    default: 90
  instance_warmup:
    description: Seconds a new instance needs before it counts as healthy capacity.
    type: int
  skip_matching:
    description: Leave instances that already match the desired configuration alone.
    type: bool
    default: true
  auto_rollback:
    description: Roll back to the previous configuration when the refresh fails.
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
- name: Roll the web tier onto the new image
  arena_autoscaling_instance_refresh:
    name: arena-staging-web
    min_healthy_percentage: 90
    skip_matching: true
    auto_rollback: true
    region: eu-west-1
"""

RETURN = r"""
instance_refresh_id:
  description: Id of the refresh started, or of the one already running.
  returned: success, unless in check mode with no refresh running
  type: str
status:
  description: Status of that refresh (Pending when just started).
  returned: always
  type: str
preferences:
  description: The preferences sent to StartInstanceRefresh.
  returned: always
  type: dict
"""

import contextlib
from typing import Any

with contextlib.suppress(ImportError):  # a missing botocore is reported by AnsibleAWSModule
    import botocore

from ansible.module_utils.arena_diff import with_diff
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

ACTIVE_STATES = frozenset({"Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"})
# Every call passes aws_retry=True: AWSRetry's throttling codes ("Throttling" is what Auto Scaling
# answers above its API rate). The refresh is started on a group that exists already (a missing group
# is an input error, reported at once), so no not-found code is retried.
RETRY = AWSRetry.jittered_backoff()


def preferences(params: dict[str, Any]) -> dict[str, Any]:
    """Preferences of StartInstanceRefresh from the module parameters."""
    prefs: dict[str, Any] = {
        "MinHealthyPercentage": params["min_healthy_percentage"],
        "SkipMatching": params["skip_matching"],
        "AutoRollback": params["auto_rollback"],
    }
    if params.get("instance_warmup") is not None:
        prefs["InstanceWarmup"] = params["instance_warmup"]
    return prefs


def active_refresh(refreshes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The refresh that is still running, if any."""
    return next((r for r in refreshes if r.get("Status") in ACTIVE_STATES), None)


def run(client, params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """Start a refresh unless one runs; returns the module result."""
    if not 0 <= params["min_healthy_percentage"] <= 100:
        raise ValueError(
            f"arena_autoscaling_instance_refresh: min_healthy_percentage {params['min_healthy_percentage']} "
            "is outside 0-100"
        )
    name = params["name"]
    prefs = preferences(params)
    groups = client.describe_auto_scaling_groups(AutoScalingGroupNames=[name], aws_retry=True)["AutoScalingGroups"]
    if not groups:
        raise LookupError(f"arena_autoscaling_instance_refresh: Auto Scaling group '{name}' not found")
    refreshes = client.describe_instance_refreshes(AutoScalingGroupName=name, aws_retry=True)["InstanceRefreshes"]
    running = active_refresh(refreshes)
    if running:
        return {
            "changed": False,
            "instance_refresh_id": running["InstanceRefreshId"],
            "status": running["Status"],
            "preferences": prefs,
        }
    if check_mode:
        return {"changed": True, "status": "WouldStart", "preferences": prefs}
    started = client.start_instance_refresh(
        AutoScalingGroupName=name, Strategy="Rolling", Preferences=prefs, aws_retry=True
    )
    return {
        "changed": True,
        "instance_refresh_id": started["InstanceRefreshId"],
        "status": "Pending",
        "preferences": prefs,
    }


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "min_healthy_percentage": {"type": "int", "default": 90},
            "instance_warmup": {"type": "int"},
            "skip_matching": {"type": "bool", "default": True},
            "auto_rollback": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    client = module.client("autoscaling", retry_decorator=RETRY)
    try:
        result = run(client, module.params, module.check_mode)
    except (ValueError, LookupError) as e:
        module.fail_json(msg=str(e))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"arena_autoscaling_instance_refresh: cannot refresh '{module.params['name']}'")
    # A refresh is started only when none runs: before, no refresh; after, the one started.
    after = {"instance_refresh": {"status": result["status"], "preferences": result["preferences"]}}
    module.exit_json(**with_diff(module, result, {"instance_refresh": None}, after))


if __name__ == "__main__":
    main()
