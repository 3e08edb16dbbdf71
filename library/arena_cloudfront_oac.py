#!/usr/bin/python
"""Ansible module: CloudFront Origin Access Control."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_cloudfront_oac
short_description: Manage a CloudFront Origin Access Control (OAC)
description:
  - Creates, updates or deletes an Origin Access Control, found by its name.
  - Exists because no collection module manages OACs (C(community.aws) only has the legacy
    Origin Access Identity module, which AWS no longer recommends).
  - Every call goes through a client made with C(AWSRetry.jittered_backoff) (throttling and
    transient errors are retried).
version_added: 1.0.0
author: arena-infra
options:
  name:
    description: OAC name (unique in the account).
    type: str
    required: true
  description:
    description: Description.
    type: str
    default: managed by arena-infra
  origin_type:
    description: Origin type.
    type: str
    choices: [s3, mediastore, lambda, mediapackagev2]
    default: s3
  signing_behavior:
    description: When CloudFront signs origin requests.
    type: str
    choices: [always, never, no-override]
    default: always
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
- name: Static | Origin Access Control for the site bucket
  arena_cloudfront_oac:
    name: arena-prod-static
    endpoint_url: "{{ aws_guard_target.endpoint_url or omit }}"
    region: "{{ aws_guard_target.region }}"
  register: static_oac
"""

RETURN = r"""
origin_access_control:
  description: Id and configuration of the OAC; empty when absent.
  returned: always
  type: dict
  sample: {id: E2QWRUHAPOMQZL, name: arena-prod-static, signing_behavior: always}
"""

from typing import Any

from ansible.module_utils.arena_diff import record, with_diff
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from botocore.exceptions import BotoCoreError, ClientError


@AWSRetry.jittered_backoff()
def list_origin_access_controls(client: Any) -> list[dict[str, Any]]:
    """Every OAC summary (the whole paginated listing, retried as one on throttling)."""
    result = client.get_paginator("list_origin_access_controls").paginate().build_full_result()
    return result.get("OriginAccessControlList", {}).get("Items", [])


def find(client: Any, name: str) -> dict[str, Any] | None:
    return next((item for item in list_origin_access_controls(client) if item["Name"] == name), None)


def desired(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "Name": params["name"],
        "Description": params["description"],
        "SigningProtocol": "sigv4",
        "SigningBehavior": params["signing_behavior"],
        "OriginAccessControlOriginType": params["origin_type"],
    }


def result(oac_id: str, config: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": oac_id,
        "name": config["Name"],
        "description": config.get("Description", ""),
        "signing_protocol": config["SigningProtocol"],
        "signing_behavior": config["SigningBehavior"],
        "origin_type": config["OriginAccessControlOriginType"],
    }


def ensure_present(
    client: Any, params: dict[str, Any], check_mode: bool, shown: dict[str, Any] | None = None
) -> tuple[bool, dict[str, Any]]:
    """Create or update the OAC; `shown` (optional) gets its configuration before and after."""
    want = desired(params)
    current = find(client, params["name"])
    if current is None:
        record(shown, {}, want)
        if check_mode:
            return True, result("", want)
        created = client.create_origin_access_control(OriginAccessControlConfig=want, aws_retry=True)[
            "OriginAccessControl"
        ]
        return True, result(created["Id"], want)
    have = {k: current.get(k, "") for k in want}
    if have == want:
        return False, result(current["Id"], want)
    record(shown, have, want)
    if not check_mode:
        etag = client.get_origin_access_control(Id=current["Id"], aws_retry=True)["ETag"]
        client.update_origin_access_control(
            Id=current["Id"], IfMatch=etag, OriginAccessControlConfig=want, aws_retry=True
        )
    return True, result(current["Id"], want)


def ensure_absent(client: Any, params: dict[str, Any], check_mode: bool, shown: dict[str, Any] | None = None) -> bool:
    current = find(client, params["name"])
    if current is None:
        return False
    record(shown, {k: current.get(k, "") for k in desired(params)}, {})
    if not check_mode:
        etag = client.get_origin_access_control(Id=current["Id"], aws_retry=True)["ETag"]
        client.delete_origin_access_control(Id=current["Id"], IfMatch=etag, aws_retry=True)
    return True


def main() -> None:
    argument_spec = {
        "name": {"type": "str", "required": True},
        "description": {"type": "str", "default": "managed by arena-infra"},
        "origin_type": {"type": "str", "choices": ["s3", "mediastore", "lambda", "mediapackagev2"], "default": "s3"},
        "signing_behavior": {"type": "str", "choices": ["always", "never", "no-override"], "default": "always"},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    client = module.client("cloudfront", retry_decorator=AWSRetry.jittered_backoff())
    shown: dict[str, Any] = {}
    try:
        if module.params["state"] == "absent":
            changed = ensure_absent(client, module.params, module.check_mode, shown)
            result = {"changed": changed, "origin_access_control": {}}
            module.exit_json(**with_diff(module, result, shown.get("before"), shown.get("after")))
        changed, oac = ensure_present(client, module.params, module.check_mode, shown)
    except (ClientError, BotoCoreError) as err:
        module.fail_json_aws(err, msg=f"CloudFront OAC call failed for {module.params['name']}")
    result = {"changed": changed, "origin_access_control": oac}
    module.exit_json(**with_diff(module, result, shown.get("before"), shown.get("after")))


if __name__ == "__main__":
    main()
