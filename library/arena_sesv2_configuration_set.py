#!/usr/bin/python
"""Ansible module: SES configuration set with event destinations."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_sesv2_configuration_set
short_description: Manage an SES configuration set (TLS, reputation, suppression) and its event destinations
description:
  - Creates, updates or deletes a configuration set through the SES v2 API (required TLS, reputation
    metrics, account-level suppression reasons, tags at creation) and keeps exactly the listed event
    destinations (SNS topics for bounces, complaints, ...).
  - Exists because no collection module manages SES configuration sets.
  - Event destinations are managed through the SES v1 API. A configuration set is one resource in
    both APIs (v1 calls see a v2-created set), SNS destinations behave the same, and v1 is the only
    event-destination API the AWS emulator implements, so the module is tested end to end there.
version_added: 1.0.0
author: arena-infra
options:
  name:
    description: Configuration set name.
    type: str
    required: true
  tls_policy:
    description: C(REQUIRE) refuses delivery to receivers without TLS.
    type: str
    choices: [REQUIRE, OPTIONAL]
    default: REQUIRE
  reputation_metrics:
    description: Publish bounce and complaint reputation metrics to CloudWatch.
    type: bool
    default: true
  suppressed_reasons:
    description: Add addresses to the suppression list on these events.
    type: list
    elements: str
    choices: [BOUNCE, COMPLAINT]
    default: [BOUNCE, COMPLAINT]
  event_destinations:
    description: Event destinations; exactly these are kept.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Destination name.
        type: str
        required: true
      enabled:
        description: Publish events.
        type: bool
        default: true
      sns_topic_arn:
        description: SNS topic that receives the events.
        type: str
        required: true
      matching_event_types:
        description: SES v2 event types (C(BOUNCE), C(COMPLAINT), C(REJECT), C(DELIVERY), ...).
        type: list
        elements: str
        required: true
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
- name: Email | Configuration set that reports bounces and complaints
  arena_sesv2_configuration_set:
    name: arena-prod
    event_destinations:
      - name: bounces-complaints
        sns_topic_arn: "{{ email_topic.sns_arn }}"
        matching_event_types: [BOUNCE, COMPLAINT]
    endpoint_url: "{{ aws_guard_target.endpoint_url or omit }}"
    region: "{{ aws_guard_target.region }}"
"""

RETURN = r"""
configuration_set:
  description: Name, options and event destinations now in place; empty when absent.
  returned: always
  type: dict
"""

from typing import Any

from ansible.module_utils.arena_diff import record, with_diff
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from botocore.exceptions import BotoCoreError, ClientError

# Every call passes aws_retry=True. SES v2 retries its throttling errors: TooManyRequestsException (in
# AWSRetry's own list) and ThrottlingException (not in it), both documented for SES v2
# (https://docs.aws.amazon.com/ses/latest/APIReference-V2/CommonErrors.html); NotFoundException is
# not retried, it is how the module learns that the set is absent. SES v1 throttles with "Throttling".
RETRY = AWSRetry.jittered_backoff(catch_extra_error_codes=["ThrottlingException"])
# SES v1 (event destinations) is only called for a set that SES v2 has just found or created, so there
# ConfigurationSetDoesNotExist means "not visible yet": SES documents a delay after creating or
# modifying a configuration set. https://docs.aws.amazon.com/ses/latest/dg/troubleshoot-general.html
RETRY_V1 = AWSRetry.jittered_backoff(catch_extra_error_codes=["ConfigurationSetDoesNotExist"])

# SES v2 event type -> SES v1 event type.
EVENT_TYPES = {
    "SEND": "send",
    "REJECT": "reject",
    "BOUNCE": "bounce",
    "COMPLAINT": "complaint",
    "DELIVERY": "delivery",
    "OPEN": "open",
    "CLICK": "click",
    "RENDERING_FAILURE": "renderingFailure",
    "DELIVERY_DELAY": "deliveryDelay",
    "SUBSCRIPTION": "subscription",
}


def describe(v2: Any, name: str) -> dict[str, Any] | None:
    try:
        got = v2.get_configuration_set(ConfigurationSetName=name, aws_retry=True)
    except is_boto3_error_code("NotFoundException"):
        return None
    got.pop("ResponseMetadata", None)
    return got


def v1_destination(dest: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(dest["matching_event_types"]) - set(EVENT_TYPES))
    if unknown:
        raise ValueError(f"event_destinations[{dest['name']}]: unknown event types {unknown}")
    return {
        "Name": dest["name"],
        "Enabled": dest.get("enabled", True),
        "MatchingEventTypes": sorted(EVENT_TYPES[t] for t in dest["matching_event_types"]),
        "SNSDestination": {"TopicARN": dest["sns_topic_arn"]},
    }


def current_destinations(v1: Any, name: str) -> dict[str, dict[str, Any]]:
    got = v1.describe_configuration_set(
        ConfigurationSetName=name, ConfigurationSetAttributeNames=["eventDestinations"], aws_retry=True
    )
    return {
        d["Name"]: {
            "Name": d["Name"],
            "Enabled": d.get("Enabled", False),
            "MatchingEventTypes": sorted(d.get("MatchingEventTypes", [])),
            "SNSDestination": {"TopicARN": (d.get("SNSDestination") or {}).get("TopicARN", "")},
        }
        for d in got.get("EventDestinations", [])
    }


def option_calls(current: dict[str, Any], params: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    name = params["name"]
    calls: list[tuple[str, dict[str, Any]]] = []
    if (current.get("DeliveryOptions") or {}).get("TlsPolicy", "OPTIONAL") != params["tls_policy"]:
        calls.append(
            (
                "put_configuration_set_delivery_options",
                {"ConfigurationSetName": name, "TlsPolicy": params["tls_policy"]},
            )
        )
    if bool((current.get("ReputationOptions") or {}).get("ReputationMetricsEnabled")) != params["reputation_metrics"]:
        calls.append(
            (
                "put_configuration_set_reputation_options",
                {"ConfigurationSetName": name, "ReputationMetricsEnabled": params["reputation_metrics"]},
            )
        )
    have_reasons = sorted((current.get("SuppressionOptions") or {}).get("SuppressedReasons", []))
    if have_reasons != sorted(params["suppressed_reasons"]):
        calls.append(
            (
                "put_configuration_set_suppression_options",
                {"ConfigurationSetName": name, "SuppressedReasons": sorted(params["suppressed_reasons"])},
            )
        )
    return calls


def destination_calls(have: dict[str, dict[str, Any]], params: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    name = params["name"]
    want = {d["name"]: v1_destination(d) for d in params["event_destinations"]}
    calls: list[tuple[str, dict[str, Any]]] = []
    for dest_name, dest in sorted(want.items()):
        if dest_name not in have:
            calls.append(
                ("create_configuration_set_event_destination", {"ConfigurationSetName": name, "EventDestination": dest})
            )
        elif have[dest_name] != dest:
            calls.append(
                ("update_configuration_set_event_destination", {"ConfigurationSetName": name, "EventDestination": dest})
            )
    calls.extend(
        ("delete_configuration_set_event_destination", {"ConfigurationSetName": name, "EventDestinationName": n})
        for n in sorted(set(have) - set(want))
    )
    return calls


def options_view(options: dict[str, Any], destinations: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What --diff shows of a configuration set: its options (the API's shape) and destinations."""
    return {
        "tls_policy": (options.get("DeliveryOptions") or {}).get("TlsPolicy", "OPTIONAL"),
        "reputation_metrics": bool((options.get("ReputationOptions") or {}).get("ReputationMetricsEnabled")),
        "suppressed_reasons": sorted((options.get("SuppressionOptions") or {}).get("SuppressedReasons", [])),
        "event_destinations": destinations,
    }


def ensure_present(
    v2: Any, v1: Any, params: dict[str, Any], check_mode: bool, shown: dict[str, Any] | None = None
) -> tuple[bool, dict[str, Any]]:
    """Create or update the set; `shown` (optional) gets it before and after."""
    name = params["name"]
    current = describe(v2, name)
    v2_calls: list[tuple[str, dict[str, Any]]] = []
    wanted = options_view(
        {
            "DeliveryOptions": {"TlsPolicy": params["tls_policy"]},
            "ReputationOptions": {"ReputationMetricsEnabled": params["reputation_metrics"]},
            "SuppressionOptions": {"SuppressedReasons": params["suppressed_reasons"]},
        },
        {d["name"]: v1_destination(d) for d in params["event_destinations"]},
    )
    if current is None:
        record(shown, {}, wanted)
        if check_mode:
            return True, {}
        v2.create_configuration_set(
            ConfigurationSetName=name,
            DeliveryOptions={"TlsPolicy": params["tls_policy"]},
            ReputationOptions={"ReputationMetricsEnabled": params["reputation_metrics"]},
            SuppressionOptions={"SuppressedReasons": sorted(params["suppressed_reasons"])},
            Tags=[{"Key": k, "Value": str(v)} for k, v in sorted(params["tags"].items())],
            aws_retry=True,
        )
        have: dict[str, dict[str, Any]] = {}
        created = True
    else:
        v2_calls = option_calls(current, params)
        have = current_destinations(v1, name)
        created = False
    v1_calls = destination_calls(have, params)
    changed = created or bool(v2_calls) or bool(v1_calls)
    if changed and not created:
        record(shown, options_view(current or {}, have), wanted)
    elif created:
        record(shown, {}, wanted)
    if not check_mode:
        for method, request in v2_calls:
            getattr(v2, method)(aws_retry=True, **request)
        for method, request in v1_calls:
            getattr(v1, method)(aws_retry=True, **request)
    result = {
        "name": name,
        "tls_policy": params["tls_policy"],
        "reputation_metrics": params["reputation_metrics"],
        "suppressed_reasons": sorted(params["suppressed_reasons"]),
        "event_destinations": sorted(d["name"] for d in params["event_destinations"]),
    }
    return changed, result


def ensure_absent(v2: Any, params: dict[str, Any], check_mode: bool, shown: dict[str, Any] | None = None) -> bool:
    current = describe(v2, params["name"])
    if current is None:
        return False
    record(shown, {"name": params["name"], **options_view(current, {})}, {})
    if not check_mode:
        v2.delete_configuration_set(ConfigurationSetName=params["name"], aws_retry=True)
    return True


def main() -> None:
    argument_spec = {
        "name": {"type": "str", "required": True},
        "tls_policy": {"type": "str", "choices": ["REQUIRE", "OPTIONAL"], "default": "REQUIRE"},
        "reputation_metrics": {"type": "bool", "default": True},
        "suppressed_reasons": {
            "type": "list",
            "elements": "str",
            "choices": ["BOUNCE", "COMPLAINT"],
            "default": ["BOUNCE", "COMPLAINT"],
        },
        "event_destinations": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "name": {"type": "str", "required": True},
                "enabled": {"type": "bool", "default": True},
                "sns_topic_arn": {"type": "str", "required": True},
                "matching_event_types": {"type": "list", "elements": "str", "required": True},
            },
        },
        "tags": {"type": "dict", "default": {}},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    v2 = module.client("sesv2", retry_decorator=RETRY)
    shown: dict[str, Any] = {}
    try:
        if module.params["state"] == "absent":
            changed = ensure_absent(v2, module.params, module.check_mode, shown)
            absent = {"changed": changed, "configuration_set": {}}
            module.exit_json(**with_diff(module, absent, shown.get("before"), shown.get("after")))
        v1 = module.client("ses", retry_decorator=RETRY_V1)
        changed, result = ensure_present(v2, v1, module.params, module.check_mode, shown)
    except ValueError as err:
        module.fail_json(msg=str(err))
    except (ClientError, BotoCoreError) as err:
        module.fail_json_aws(err, msg=f"SES configuration set call failed for {module.params['name']}")
    final = {"changed": changed, "configuration_set": result}
    module.exit_json(**with_diff(module, final, shown.get("before"), shown.get("after")))


if __name__ == "__main__":
    main()
