#!/usr/bin/python
# Copyright: arena-infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Set attributes of Elastic Load Balancing v2 load balancers, idempotently."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_elbv2_lb_attributes
short_description: Set attributes of application or network load balancers
description:
  - Reads the load balancer's attributes and modifies only the keys whose value differs.
  - One load balancer (I(name), I(attributes)) or several in one module run (I(load_balancers)),
    which saves a module start-up per load balancer.
  - A key the endpoint does not report counts as different and is set; the AWS emulator omits
    C(access_logs.s3.enabled) until it is set, which makes C(amazon.aws.elb_application_lb) crash
    with a KeyError when given access-log options.
  - Not in the C(group/aws) module-defaults group; pass I(region) and I(endpoint_url) explicitly.
options:
  name:
    description: Name of the load balancer. Required without I(load_balancers).
    type: str
  attributes:
    description:
      - Attribute keys (as the API names them, for example C(deletion_protection.enabled)) and values.
      - Required with I(name).
    type: dict
  load_balancers:
    description: Several load balancers, each with its attributes (exclusive with I(name)).
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the load balancer.
        type: str
        required: true
      attributes:
        description: Attribute keys and values, as for I(attributes).
        type: dict
        required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - arena-infra
"""

EXAMPLES = r"""
- name: Drop invalid header fields and write access logs
  arena_elbv2_lb_attributes:
    name: arena-local-public
    attributes:
      routing.http.drop_invalid_header_fields.enabled: "true"
      access_logs.s3.enabled: "true"
      access_logs.s3.bucket: arena-local-alb-logs-123456789012
    region: eu-west-1
    endpoint_url: http://127.0.0.1:5000

- name: The same for several load balancers in one run
  arena_elbv2_lb_attributes:
    load_balancers:
      - {name: arena-local-public, attributes: {deletion_protection.enabled: "false"}}
      - {name: arena-local-internal, attributes: {deletion_protection.enabled: "false"}}
    region: eu-west-1
    endpoint_url: http://127.0.0.1:5000
"""

RETURN = r"""
load_balancer_arn:
  description: ARN of the load balancer.
  returned: with I(name)
  type: str
attributes:
  description: All attributes after the change (in check mode, as they would be).
  returned: with I(name)
  type: dict
changes:
  description: The keys that were (or in check mode would be) set, with their new values.
  returned: with I(name)
  type: dict
load_balancers:
  description: With I(load_balancers), per name, C(load_balancer_arn), C(attributes) and C(changes) as above.
  returned: with I(load_balancers)
  type: dict
"""

import contextlib
from typing import Any

with contextlib.suppress(ImportError):  # a missing botocore is reported by AnsibleAWSModule
    import botocore

from ansible.module_utils.arena_diff import record, with_diff
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# Every call passes aws_retry=True: AWSRetry's throttling codes ("Throttling" is what Elastic Load
# Balancing answers above its API rate). No not-found code is retried: the load balancer was made by an
# earlier task and read back by it, and ELB documents no eventual-consistency error for
# DescribeLoadBalancers; a missing one is reported at once, by name.
RETRY = AWSRetry.jittered_backoff()


def normalise(value: Any) -> str:
    """Attribute values are strings in the API; booleans are 'true'/'false'."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def attribute_changes(current: dict[str, str], desired: dict[str, Any]) -> dict[str, str]:
    """Keys of desired whose value differs from current (a missing key differs)."""
    return {
        key: normalise(value)
        for key, value in sorted(desired.items())
        if key not in current or current[key] != normalise(value)
    }


class NotFoundError(Exception):
    """The named load balancer does not exist."""


def ensure(
    client: Any, name: str, desired: dict[str, Any], check: bool, shown: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Set the differing attributes of one load balancer; returns its ARN, attributes and changes.
    `shown` (optional) gets the changed keys before (None: not reported) and after, under `name`."""
    try:
        lbs = client.describe_load_balancers(Names=[name], aws_retry=True)["LoadBalancers"]
    except client.exceptions.LoadBalancerNotFoundException as err:
        raise NotFoundError(f"arena_elbv2_lb_attributes: load balancer '{name}' not found") from err
    arn = lbs[0]["LoadBalancerArn"]
    raw = client.describe_load_balancer_attributes(LoadBalancerArn=arn, aws_retry=True)["Attributes"]
    current = {a["Key"]: a["Value"] for a in raw}
    changes = attribute_changes(current, desired)
    if changes:
        record(shown, {k: current.get(k) for k in changes}, changes, key=name)
    if changes and not check:
        raw = client.modify_load_balancer_attributes(
            LoadBalancerArn=arn, Attributes=[{"Key": k, "Value": v} for k, v in changes.items()], aws_retry=True
        )["Attributes"]
        current = {a["Key"]: a["Value"] for a in raw}
    elif changes:
        current = {**current, **changes}
    return {"load_balancer_arn": arn, "attributes": current, "changes": changes}


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "name": {"type": "str"},
            "attributes": {"type": "dict"},
            "load_balancers": {
                "type": "list",
                "elements": "dict",
                "options": {
                    "name": {"type": "str", "required": True},
                    "attributes": {"type": "dict", "required": True},
                },
            },
        },
        required_one_of=[("name", "load_balancers")],
        mutually_exclusive=[("name", "load_balancers"), ("attributes", "load_balancers")],
        required_together=[("name", "attributes")],
        supports_check_mode=True,
    )
    client = module.client("elbv2", retry_decorator=RETRY)
    single = module.params["name"] is not None
    wanted = (
        [{"name": module.params["name"], "attributes": module.params["attributes"]}]
        if single
        else module.params["load_balancers"]
    )
    results: dict[str, Any] = {}
    shown: dict[str, Any] = {}
    try:
        for lb in wanted:
            results[lb["name"]] = ensure(client, lb["name"], lb["attributes"], module.check_mode, shown)
    except NotFoundError as err:
        module.fail_json(msg=str(err))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(
            e, msg=f"arena_elbv2_lb_attributes: cannot set attributes of {[lb['name'] for lb in wanted]}"
        )
    changed = any(r["changes"] for r in results.values())
    before, after = shown.get("before"), shown.get("after")
    if single:
        name = module.params["name"]
        shown_one = (before or {}).get(name), (after or {}).get(name)
        module.exit_json(**with_diff(module, {"changed": changed, **results[name]}, *shown_one))
    module.exit_json(**with_diff(module, {"changed": changed, "load_balancers": results}, before, after))


if __name__ == "__main__":
    main()
