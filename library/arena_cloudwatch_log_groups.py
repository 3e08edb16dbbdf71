#!/usr/bin/python
# Copyright: arena-infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A set of CloudWatch Logs groups with their retention, idempotent, with retries."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_cloudwatch_log_groups
short_description: Create, update or delete a set of CloudWatch Logs groups with their retention
description:
  - One module run for every log group of an environment (C(amazon.aws.cloudwatchlogs_log_group) takes
    one group a run). A group is created when missing (CreateLogGroup, with I(tags)), and its retention
    set when it differs (PutRetentionPolicy); a second run changes nothing.
  - "Refused before any call, naming the group, as the API refuses it: a name of 1-512 characters
    among letters, digits and C(. - _ / #)
    (U(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html)),
    and a retention that is one of the values PutRetentionPolicy accepts
    (U(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html))."
  - Every call is retried on throttling (CloudWatch Logs answers C(ThrottlingException)).
  - With I(state=absent), the groups named are deleted, with their events (DeleteLogGroup); missing
    ones are fine.
  - Not in the C(group/aws) module-defaults group; pass I(region) and I(endpoint_url) explicitly.
options:
  state:
    description: present or absent.
    type: str
    choices: [present, absent]
    default: present
  groups:
    description: The log groups.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Log group name.
        type: str
        required: true
      retention_days:
        description: Days the events are kept (PutRetentionPolicy's values). Required when present.
        type: int
  tags:
    description: Tags of a new group.
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
- name: The web tier's logs
  arena_cloudwatch_log_groups:
    groups:
      - {name: /arena/staging/web/journal, retention_days: 30}
      - {name: /arena/staging/web/nginx-access, retention_days: 14}
    tags: {Project: arena, Environment: staging}
    region: eu-west-1
"""

RETURN = r"""
created:
  description: Groups created (in check mode, that would be).
  returned: state is present
  type: list
retention_set:
  description: Groups whose retention was set (in check mode, that would be).
  returned: state is present
  type: list
deleted:
  description: Groups deleted (in check mode, that would be).
  returned: state is absent
  type: list
"""

import contextlib
import re
from typing import Any

with contextlib.suppress(ImportError):  # a missing botocore is reported by AnsibleAWSModule
    import botocore

from ansible.module_utils.arena_diff import with_diff
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

RETRY = AWSRetry.jittered_backoff(catch_extra_error_codes=["ThrottlingException"])
NAME = re.compile(r"^[.\-_/#A-Za-z0-9]{1,512}$")
# PutRetentionPolicy's retentionInDays values (API reference).
RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


class GroupError(ValueError):
    """A group the API would refuse; the message names it."""


def problems(groups: list[dict[str, Any]], state: str) -> list[str]:
    out = []
    names = [g["name"] for g in groups]
    if len(set(names)) != len(names):
        out.append(f"group names {names} must be unique")
    for group in groups:
        if not NAME.match(group["name"] or ""):
            out.append(f"{group['name']!r}: a log group name is 1-512 characters of . - _ / # letters and digits")
        if state == "present" and group.get("retention_days") not in RETENTION_DAYS:
            out.append(
                f"{group['name']}: retention_days {group.get('retention_days')!r} is not one of {list(RETENTION_DAYS)}"
            )
    return out


def existing(client, names: list[str]) -> dict[str, dict[str, Any]]:
    """The groups of `names` that exist, by name: one listing under their common prefix (page by
    page, each call retried)."""
    if not names:
        return {}
    prefix = names[0]  # the longest string prefix of every name (the API's prefix is a string's)
    for name in names[1:]:
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    wanted = set(names)
    found: dict[str, dict[str, Any]] = {}
    token: dict[str, str] = {}
    while True:
        page = client.describe_log_groups(**({"logGroupNamePrefix": prefix} if prefix else {}), aws_retry=True, **token)
        found.update({g["logGroupName"]: g for g in page.get("logGroups", []) if g["logGroupName"] in wanted})
        if not page.get("nextToken"):
            return found
        token = {"nextToken": page["nextToken"]}


def run(client, params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    groups = params["groups"]
    found = problems(groups, params["state"])
    if found:
        raise GroupError("arena_cloudwatch_log_groups: " + "; ".join(found))
    have = existing(client, [g["name"] for g in groups])
    if params["state"] == "absent":
        gone = [g["name"] for g in groups if g["name"] in have]
        for name in gone if not check_mode else []:
            client.delete_log_group(logGroupName=name, aws_retry=True)
        return {"changed": bool(gone), "deleted": gone, "before": {n: True for n in gone}, "after": {}}
    created, retention, before, after = [], [], {}, {}
    tags = {k: str(v) for k, v in params["tags"].items()}
    for group in groups:
        name, days = group["name"], group["retention_days"]
        current = have.get(name)
        if current is None:
            created.append(name)
            if not check_mode:
                client.create_log_group(logGroupName=name, **({"tags": tags} if tags else {}), aws_retry=True)
        if current is None or current.get("retentionInDays") != days:
            retention.append(name)
            before[name] = None if current is None else {"retention_days": current.get("retentionInDays")}
            after[name] = {"retention_days": days}
            if not check_mode:
                client.put_retention_policy(logGroupName=name, retentionInDays=days, aws_retry=True)
    return {
        "changed": bool(created or retention),
        "created": created,
        "retention_set": retention,
        "before": before,
        "after": after,
    }


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "groups": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "name": {"type": "str", "required": True},
                    "retention_days": {"type": "int"},
                },
            },
            "tags": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    client = module.client("logs", retry_decorator=RETRY)
    try:
        result = run(client, module.params, module.check_mode)
    except GroupError as e:
        module.fail_json(msg=str(e))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="arena_cloudwatch_log_groups: cannot manage the log groups")
    before, after = result.pop("before"), result.pop("after")
    module.exit_json(**with_diff(module, result, before, after))


if __name__ == "__main__":
    main()
