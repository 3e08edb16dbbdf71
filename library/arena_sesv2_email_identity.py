#!/usr/bin/python
"""Ansible module: SES v2 domain identity with Easy DKIM and a custom MAIL FROM domain."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_sesv2_email_identity
short_description: Manage an SES v2 domain identity with DKIM signing, MAIL FROM domain and default configuration set
description:
  - Creates, updates or deletes an SES domain identity through the SES v2 API, with Easy DKIM
    (key length chosen at creation), DKIM signing on or off, an optional custom MAIL FROM domain and
    a default configuration set.
  - Exists because C(community.aws.ses_identity) uses the SES v1 API and manages neither DKIM nor the
    MAIL FROM domain.
  - Returns the DKIM tokens, from which the three C(<token>._domainkey) CNAME records are made.
  - Tags are set at creation only.
version_added: 1.0.0
author: arena-infra
options:
  identity:
    description: The domain.
    type: str
    required: true
  dkim_signing:
    description: Sign outgoing mail with DKIM.
    type: bool
    default: true
  dkim_key_length:
    description: Easy DKIM key length at creation.
    type: str
    choices: [RSA_1024_BIT, RSA_2048_BIT]
    default: RSA_2048_BIT
  mail_from_domain:
    description: Custom MAIL FROM domain (a subdomain of I(identity)); none when omitted.
    type: str
  behavior_on_mx_failure:
    description: What SES does when the MAIL FROM domain's MX record is missing.
    type: str
    choices: [USE_DEFAULT_VALUE, REJECT_MESSAGE]
    default: USE_DEFAULT_VALUE
  configuration_set:
    description: Default configuration set of the identity.
    type: str
  tags:
    description: Tags set at creation.
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
- name: Email | Domain identity with DKIM
  arena_sesv2_email_identity:
    identity: mail.arena.example
    mail_from_domain: bounce.mail.arena.example
    configuration_set: arena-prod
    endpoint_url: "{{ aws_guard_target.endpoint_url or omit }}"
    region: "{{ aws_guard_target.region }}"
"""

RETURN = r"""
identity:
  description: Identity state (snake_case GetEmailIdentity); empty when absent.
  returned: always
  type: dict
dkim_tokens:
  description: DKIM tokens; publish C(<token>._domainkey.<domain>) CNAME C(<token>.dkim.amazonses.com).
  returned: always
  type: list
  elements: str
"""

from typing import Any

from ansible.module_utils.arena_diff import record, with_diff
from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from botocore.exceptions import BotoCoreError, ClientError

# Every call passes aws_retry=True and retries SES v2's throttling errors: TooManyRequestsException
# (in AWSRetry's own list) and ThrottlingException (not in it), both documented for SES v2;
# https://docs.aws.amazon.com/ses/latest/APIReference-V2/CommonErrors.html
THROTTLING = ["ThrottlingException"]
RETRY = AWSRetry.jittered_backoff(catch_extra_error_codes=THROTTLING)
# The writes, and the reads right after them, also retry NotFoundException: SES is eventually
# consistent ("Changes that I make are not immediately visible ... no more than a few minutes"), and
# the role creates the configuration set in the task before this one, so CreateEmailIdentity or
# PutEmailIdentityConfigurationSetAttributes naming it, and a read of the identity just created, can
# answer NotFoundException for a while. The existence check uses RETRY: there it is the answer.
# https://docs.aws.amazon.com/ses/latest/dg/troubleshoot-general.html
RETRY_NEW = AWSRetry.jittered_backoff(catch_extra_error_codes=[*THROTTLING, "NotFoundException"])


def describe(client: Any, identity: str) -> dict[str, Any] | None:
    try:
        got = client.get_email_identity(EmailIdentity=identity, aws_retry=True)
    except is_boto3_error_code("NotFoundException"):
        return None
    got.pop("ResponseMetadata", None)
    return got


def planned_calls(current: dict[str, Any], params: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The SES v2 calls that bring an existing identity to the requested state."""
    calls: list[tuple[str, dict[str, Any]]] = []
    identity = params["identity"]
    if bool(current.get("DkimAttributes", {}).get("SigningEnabled")) != params["dkim_signing"]:
        calls.append(
            (
                "put_email_identity_dkim_attributes",
                {"EmailIdentity": identity, "SigningEnabled": params["dkim_signing"]},
            )
        )
    mail_from = current.get("MailFromAttributes") or {}
    wanted_from = params.get("mail_from_domain") or ""
    if mail_from.get("MailFromDomain", "") != wanted_from or (
        wanted_from and mail_from.get("BehaviorOnMxFailure") != params["behavior_on_mx_failure"]
    ):
        request: dict[str, Any] = {"EmailIdentity": identity}
        if wanted_from:
            request.update(MailFromDomain=wanted_from, BehaviorOnMxFailure=params["behavior_on_mx_failure"])
        calls.append(("put_email_identity_mail_from_attributes", request))
    wanted_set = params.get("configuration_set") or ""
    if (current.get("ConfigurationSetName") or "") != wanted_set:
        request = {"EmailIdentity": identity}
        if wanted_set:
            request["ConfigurationSetName"] = wanted_set
        calls.append(("put_email_identity_configuration_set_attributes", request))
    return calls


def identity_view(current: dict[str, Any]) -> dict[str, Any]:
    """What --diff shows of an identity ({} for none): the settings this module manages."""
    if not current:
        return {}
    mail_from = current.get("MailFromAttributes") or {}
    return {
        "dkim_signing": bool(current.get("DkimAttributes", {}).get("SigningEnabled")),
        "mail_from_domain": mail_from.get("MailFromDomain", ""),
        "behavior_on_mx_failure": mail_from.get("BehaviorOnMxFailure", ""),
        "configuration_set": current.get("ConfigurationSetName") or "",
    }


def wanted_view(params: dict[str, Any]) -> dict[str, Any]:
    wanted_from = params.get("mail_from_domain") or ""
    return {
        "dkim_signing": params["dkim_signing"],
        "mail_from_domain": wanted_from,
        "behavior_on_mx_failure": params["behavior_on_mx_failure"] if wanted_from else "",
        "configuration_set": params.get("configuration_set") or "",
    }


def ensure_present(
    client: Any, fresh: Any, params: dict[str, Any], check_mode: bool, shown: dict[str, Any] | None = None
) -> tuple[bool, dict[str, Any]]:
    """`client` checks whether the identity exists; `fresh` (RETRY_NEW) writes and reads back.
    `shown` (optional) gets the identity's settings before and after."""
    identity = params["identity"]
    current = describe(client, identity)
    changed = False
    if current is None:
        record(shown, {}, wanted_view(params))
        if check_mode:
            return True, {}
        request: dict[str, Any] = {
            "EmailIdentity": identity,
            "DkimSigningAttributes": {"NextSigningKeyLength": params["dkim_key_length"]},
            "Tags": [{"Key": k, "Value": str(v)} for k, v in sorted(params["tags"].items())],
        }
        if params.get("configuration_set"):
            request["ConfigurationSetName"] = params["configuration_set"]
        fresh.create_email_identity(aws_retry=True, **request)
        changed = True
        current = describe(fresh, identity) or {}
    calls = planned_calls(current, params)
    if calls:
        if not changed:  # an identity created above is shown as created
            record(shown, identity_view(current), wanted_view(params))
        changed = True
        if check_mode:
            return changed, current
        for method, request in calls:
            getattr(fresh, method)(aws_retry=True, **request)
        current = describe(fresh, identity) or current
    return changed, current


def ensure_absent(client: Any, params: dict[str, Any], check_mode: bool, shown: dict[str, Any] | None = None) -> bool:
    current = describe(client, params["identity"])
    if current is None:
        return False
    record(shown, {"identity": params["identity"], **identity_view(current)}, {})
    if not check_mode:
        client.delete_email_identity(EmailIdentity=params["identity"], aws_retry=True)
    return True


def main() -> None:
    argument_spec = {
        "identity": {"type": "str", "required": True},
        "dkim_signing": {"type": "bool", "default": True},
        "dkim_key_length": {"type": "str", "choices": ["RSA_1024_BIT", "RSA_2048_BIT"], "default": "RSA_2048_BIT"},
        "mail_from_domain": {"type": "str"},
        "behavior_on_mx_failure": {
            "type": "str",
            "choices": ["USE_DEFAULT_VALUE", "REJECT_MESSAGE"],
            "default": "USE_DEFAULT_VALUE",
        },
        "configuration_set": {"type": "str"},
        "tags": {"type": "dict", "default": {}},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    if params.get("mail_from_domain") and not params["mail_from_domain"].endswith("." + params["identity"]):
        module.fail_json(msg=f"mail_from_domain must be a subdomain of {params['identity']}")
    client = module.client("sesv2", retry_decorator=RETRY)
    shown: dict[str, Any] = {}
    try:
        if params["state"] == "absent":
            absent = {
                "changed": ensure_absent(client, params, module.check_mode, shown),
                "identity": {},
                "dkim_tokens": [],
            }
            module.exit_json(**with_diff(module, absent, shown.get("before"), shown.get("after")))
        fresh = module.client("sesv2", retry_decorator=RETRY_NEW)
        changed, current = ensure_present(client, fresh, params, module.check_mode, shown)
    except (ClientError, BotoCoreError) as err:
        module.fail_json_aws(err, msg=f"SES v2 call failed for {params['identity']}")
    result = {
        "changed": changed,
        "identity": camel_dict_to_snake_dict(current, ignore_list=["Tags", "Policies"]),
        "dkim_tokens": current.get("DkimAttributes", {}).get("Tokens", []),
    }
    module.exit_json(**with_diff(module, result, shown.get("before"), shown.get("after")))


if __name__ == "__main__":
    main()
