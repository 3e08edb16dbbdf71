#!/usr/bin/python
"""Ansible module: SES v2 sending authorisation policy of an identity."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_sesv2_identity_policy
short_description: Manage an SES sending authorisation policy through the SES v2 API
description:
  - Creates, updates or deletes one named sending authorisation policy on an SES identity.
  - Exists because C(community.aws.ses_identity_policy) uses the SES v1 API (whose identity
    policies the AWS emulator does not implement, so it cannot be tested here) and this project
    manages identities through SES v2.
  - Policies are compared as parsed JSON, so formatting and key order do not cause changes.
version_added: 1.0.0
author: arena-infra
options:
  identity:
    description: The identity (domain or address).
    type: str
    required: true
  policy_name:
    description: Policy name.
    type: str
    required: true
  policy:
    description: The policy document (a dict or a JSON string).
    type: json
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
- name: Email | Let the relay role send as the domain
  arena_sesv2_identity_policy:
    identity: mail.arena.example
    policy_name: arena-relay
    policy: "{{ lookup('ansible.builtin.template', 'sending-policy.json.j2') }}"
    endpoint_url: "{{ aws_guard_target.endpoint_url or omit }}"
    region: "{{ aws_guard_target.region }}"
"""

RETURN = r"""
policy:
  description: The policy document now in place (parsed); empty when absent.
  returned: always
  type: dict
"""

import json
from typing import Any

from ansible.module_utils.arena_diff import record, with_diff
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from botocore.exceptions import BotoCoreError, ClientError

# Every call passes aws_retry=True and retries SES v2's throttling errors, TooManyRequestsException (in
# AWSRetry's own list) and ThrottlingException (not in it)
# (https://docs.aws.amazon.com/ses/latest/APIReference-V2/CommonErrors.html; the policy operations
# allow one request per second:
# https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_CreateEmailIdentityPolicy.html), and
# NotFoundException: the identity is created by the task before this one and SES is eventually
# consistent (https://docs.aws.amazon.com/ses/latest/dg/troubleshoot-general.html). Here that code
# never means "no policy" (GetEmailIdentityPolicies answers an empty map), only "identity not (yet)
# visible"; for an identity that really does not exist, the run fails after the back-off instead of at once.
RETRY = AWSRetry.jittered_backoff(catch_extra_error_codes=["ThrottlingException", "NotFoundException"])


def current_policy(client: Any, identity: str, name: str) -> dict[str, Any] | None:
    policies = client.get_email_identity_policies(EmailIdentity=identity, aws_retry=True).get("Policies", {})
    return json.loads(policies[name]) if name in policies else None


def ensure(
    client: Any, params: dict[str, Any], check_mode: bool, shown: dict[str, Any] | None = None
) -> tuple[bool, dict[str, Any]]:
    """Bring the policy to the requested state; `shown` (optional) gets the policy before and after."""
    identity, name = params["identity"], params["policy_name"]
    have = current_policy(client, identity, name)
    if params["state"] == "absent":
        if have is None:
            return False, {}
        record(shown, {"policy": have}, {})
        if not check_mode:
            client.delete_email_identity_policy(EmailIdentity=identity, PolicyName=name, aws_retry=True)
        return True, {}
    want = json.loads(params["policy"]) if isinstance(params["policy"], str) else params["policy"]
    if have == want:
        return False, want
    record(shown, {} if have is None else {"policy": have}, {"policy": want})
    if not check_mode:
        operation = "create_email_identity_policy" if have is None else "update_email_identity_policy"
        getattr(client, operation)(
            EmailIdentity=identity, PolicyName=name, Policy=json.dumps(want, sort_keys=True), aws_retry=True
        )
    return True, want


def main() -> None:
    argument_spec = {
        "identity": {"type": "str", "required": True},
        "policy_name": {"type": "str", "required": True},
        "policy": {"type": "json"},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    }
    module = AnsibleAWSModule(
        argument_spec=argument_spec, supports_check_mode=True, required_if=[("state", "present", ["policy"])]
    )
    client = module.client("sesv2", retry_decorator=RETRY)
    shown: dict[str, Any] = {}
    try:
        changed, policy = ensure(client, module.params, module.check_mode, shown)
    except (ClientError, BotoCoreError) as err:
        module.fail_json_aws(err, msg=f"SES v2 policy call failed for {module.params['identity']}")
    module.exit_json(
        **with_diff(module, {"changed": changed, "policy": policy}, shown.get("before"), shown.get("after"))
    )


if __name__ == "__main__":
    main()
