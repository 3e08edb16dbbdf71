#!/usr/bin/python
# Copyright: arena-infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Set attributes of an Elastic Load Balancing v2 load balancer, idempotently."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_elbv2_lb_attributes
short_description: Set attributes of an application or network load balancer
description:
  - Reads the load balancer's attributes and modifies only the keys whose value differs.
  - A key the endpoint does not report counts as different and is set; the AWS emulator omits
    C(access_logs.s3.enabled) until it is set, which makes C(amazon.aws.elb_application_lb) crash
    with a KeyError when given access-log options.
  - Not in the C(group/aws) module-defaults group; pass I(region) and I(endpoint_url) explicitly.
options:
  name:
    description: Name of the load balancer.
    type: str
    required: true
  attributes:
    description: Attribute keys (as the API names them, for example C(deletion_protection.enabled)) and values.
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
"""

RETURN = r"""
load_balancer_arn:
  description: ARN of the load balancer.
  returned: always
  type: str
attributes:
  description: All attributes after the change (in check mode, as they would be).
  returned: always
  type: dict
changes:
  description: The keys that were (or in check mode would be) set, with their new values.
  returned: always
  type: dict
"""

import contextlib
from typing import Any

with contextlib.suppress(ImportError):  # a missing botocore is reported by AnsibleAWSModule
    import botocore

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


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


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "attributes": {"type": "dict", "required": True},
        },
        supports_check_mode=True,
    )
    client = module.client("elbv2", retry_decorator=AWSRetry.jittered_backoff())
    name = module.params["name"]
    try:
        lbs = client.describe_load_balancers(Names=[name], aws_retry=True)["LoadBalancers"]
    except client.exceptions.LoadBalancerNotFoundException:
        module.fail_json(msg=f"arena_elbv2_lb_attributes: load balancer '{name}' not found")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"arena_elbv2_lb_attributes: cannot describe load balancer '{name}'")
    arn = lbs[0]["LoadBalancerArn"]
    try:
        raw = client.describe_load_balancer_attributes(LoadBalancerArn=arn, aws_retry=True)["Attributes"]
        current = {a["Key"]: a["Value"] for a in raw}
        changes = attribute_changes(current, module.params["attributes"])
        if changes and not module.check_mode:
            raw = client.modify_load_balancer_attributes(
                LoadBalancerArn=arn,
                Attributes=[{"Key": k, "Value": v} for k, v in changes.items()],
                aws_retry=True,
            )["Attributes"]
            current = {a["Key"]: a["Value"] for a in raw}
        elif changes:
            current = {**current, **changes}
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"arena_elbv2_lb_attributes: cannot set attributes of '{name}'")
    module.exit_json(changed=bool(changes), load_balancer_arn=arn, attributes=current, changes=changes)


if __name__ == "__main__":
    main()
