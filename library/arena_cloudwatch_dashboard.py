#!/usr/bin/python
# Copyright: arena-infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A CloudWatch dashboard, idempotent, with retries (no module of amazon.aws 10 or community.aws 10
manages dashboards)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_cloudwatch_dashboard
short_description: Create, update or delete a CloudWatch dashboard
description:
  - I(body) is the dashboard's C(DashboardBody) as a mapping
    (U(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html)),
    for example the C(arena_dashboard_body) filter's answer. The dashboard is written (PutDashboard) only
    when it is missing or the body GetDashboard answers, parsed as JSON, differs from I(body); key order
    and spacing do not count, so a second run changes nothing.
  - Neither amazon.aws 10 nor community.aws 10 has a dashboard module; this one is built like the
    repository's other AWS modules (AnsibleAWSModule, every call retried on throttling).
  - PutDashboard's C(DashboardValidationMessages) fail the task, each with its C(DataPath), as does an
    C(InvalidParameterInput) refusal; the body is then whatever AWS kept.
  - I(tags) are set when the dashboard is created (PutDashboard ignores tags on an update).
  - With I(state=absent) the dashboard is deleted (DeleteDashboards); one that is already gone is no
    change.
  - Dashboards are global in an account; the client still needs a region.
  - Not in the C(group/aws) module-defaults group; pass I(region) and I(endpoint_url) explicitly.
options:
  state:
    description: present or absent.
    type: str
    choices: [present, absent]
    default: present
  name:
    description: The dashboard's name, 1-255 characters of A-Z, a-z, 0-9, C(-) and C(_).
    type: str
    required: true
  body:
    description: The C(DashboardBody) as a mapping with a C(widgets) list. Required when I(state=present).
    type: dict
  tags:
    description: Tags of a new dashboard.
    type: dict
    default: {}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - arena-infra
"""

EXAMPLES = r"""
- name: The event-day dashboard of the environment
  arena_cloudwatch_dashboard:
    name: arena-staging-event-day
    body: "{{ platform_monitoring_view | arena_dashboard_body(arena_events | arena_events, {'now': none}) }}"
    tags: {Project: arena, Environment: staging, ManagedBy: ansible}
    region: eu-west-1

- name: Remove it
  arena_cloudwatch_dashboard:
    name: arena-staging-event-day
    state: absent
    region: eu-west-1
"""

RETURN = r"""
name:
  description: The dashboard's name.
  returned: always
  type: str
arn:
  description: The dashboard's ARN (when it existed before this run; PutDashboard does not answer it).
  returned: when the dashboard existed
  type: str
validation_messages:
  description: PutDashboard's DashboardValidationMessages (DataPath, Message); the task fails when there are any.
  returned: on failure
  type: list
"""

import contextlib
import json
import re
from typing import Any

with contextlib.suppress(ImportError):  # a missing botocore is reported by AnsibleAWSModule
    import botocore

from ansible.module_utils.arena_diff import with_diff
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

RETRY = AWSRetry.jittered_backoff()
# PutDashboard: "The maximum length is 255, and valid characters are A-Z, a-z, 0-9, "-", and "_"."
DASHBOARD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
NOT_FOUND = "ResourceNotFound"


class DashboardError(ValueError):
    """A request PutDashboard would refuse, or a body it refused; ``messages`` are its validation messages."""

    def __init__(self, message: str, messages: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.messages = messages or []


def canonical(body: Any) -> str:
    """The body as the module sends it: compact JSON with sorted keys (one text for one body)."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def problems(params: dict[str, Any]) -> list[str]:
    """What PutDashboard or DeleteDashboards would refuse in the module's arguments."""
    out = []
    if not DASHBOARD_NAME.match(params["name"] or ""):
        out.append(f"name {params['name']!r} must be 1-255 characters of A-Z, a-z, 0-9, - and _")
    body = params.get("body")
    if params["state"] == "present" and not (isinstance(body, dict) and isinstance(body.get("widgets"), list)):
        out.append("body must be a mapping with a widgets list (the DashboardBody)")
    return out


def read(client, name: str) -> dict[str, Any] | None:
    """GetDashboard's answer with the body parsed (``Body``), or None when there is no such dashboard."""
    try:
        answer = client.get_dashboard(DashboardName=name, aws_retry=True)
    except is_boto3_error_code(NOT_FOUND):
        return None
    return {"Arn": answer.get("DashboardArn"), "Body": json.loads(answer.get("DashboardBody") or "{}")}


def run(client, params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """Converge the dashboard; returns the module result (before/after views for --diff included)."""
    found = problems(params)
    if found:
        raise DashboardError("arena_cloudwatch_dashboard: " + "; ".join(found))
    name = params["name"]
    have = read(client, name)
    result: dict[str, Any] = {"name": name, **({"arn": have["Arn"]} if have and have["Arn"] else {})}
    if params["state"] == "absent":
        if have is None:
            return {**result, "changed": False, "before": {}, "after": {}}
        if not check_mode:
            try:
                client.delete_dashboards(DashboardNames=[name], aws_retry=True)
            except is_boto3_error_code(NOT_FOUND):  # deleted meanwhile: gone all the same
                pass
        return {**result, "changed": True, "before": have["Body"], "after": {}}
    want = json.loads(canonical(params["body"]))  # what a reader gets back: JSON types, no tuples
    if have is not None and have["Body"] == want:
        return {**result, "changed": False, "before": want, "after": want}
    before = have["Body"] if have else {}
    if not check_mode:
        request: dict[str, Any] = {"DashboardName": name, "DashboardBody": canonical(want)}
        if have is None and params["tags"]:
            request["Tags"] = [{"Key": k, "Value": str(v)} for k, v in sorted(params["tags"].items())]
        answer = client.put_dashboard(**request, aws_retry=True)
        messages = answer.get("DashboardValidationMessages") or []
        if messages:
            shown = "; ".join(f"{m.get('DataPath', '?')}: {m.get('Message', '')}" for m in messages)
            raise DashboardError(f"arena_cloudwatch_dashboard: PutDashboard's validation of {name}: {shown}", messages)
    return {**result, "changed": True, "before": before, "after": want}


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "name": {"type": "str", "required": True},
            "body": {"type": "dict"},
            "tags": {"type": "dict", "default": {}},
        },
        required_if=[("state", "present", ["body"])],
        supports_check_mode=True,
    )
    client = module.client("cloudwatch", retry_decorator=RETRY)
    try:
        result = run(client, module.params, module.check_mode)
    except DashboardError as e:
        module.fail_json(msg=str(e), validation_messages=e.messages)
    except is_boto3_error_code("InvalidParameterInput") as e:
        module.fail_json_aws(e, msg=f"arena_cloudwatch_dashboard: PutDashboard refused {module.params['name']}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"arena_cloudwatch_dashboard: cannot manage {module.params['name']}")
    before, after = result.pop("before"), result.pop("after")
    module.exit_json(**with_diff(module, result, before, after))


if __name__ == "__main__":
    main()
