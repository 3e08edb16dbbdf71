#!/usr/bin/python
# Copyright: arena-infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ensure several EC2 instance roles, each with its inline policy and instance profile, in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_iam_instance_roles
short_description: Ensure EC2 instance roles with inline policies and instance profiles in one call
description:
  - For each role, creates it or brings in line its trust policy, description, tags (added or
    updated, others kept), exactly the listed managed policies, the listed inline policies (other
    inline policies are kept), and an instance profile of the same name that contains the role.
  - One module run replaces, per role, one C(amazon.aws.iam_role) run (with C(create_instance_profile))
    and one C(amazon.aws.iam_policy) run per inline policy.
  - I(state=absent) removes each role from its instance profile, deletes the profile, detaches the
    managed policies, deletes the inline policies, then the role.
  - Policy documents are compared as data (key order and the API's URL encoding do not matter).
  - Check mode reports what would change and calls nothing that writes.
  - Not in the C(group/aws) module-defaults group; pass I(region) and I(endpoint_url) explicitly.
options:
  roles:
    description: The roles.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Role name, also the instance profile's name.
        type: str
        required: true
      description:
        description: Role description.
        type: str
        default: ""
      assume_role_policy:
        description: Trust policy document. Required when I(state=present).
        type: dict
      inline_policies:
        description: Inline policy documents by policy name.
        type: dict
        default: {}
      managed_policies:
        description: ARNs of the managed policies attached to the role, exactly.
        type: list
        elements: str
        default: []
      tags:
        description: Tags to add or update on the role (tags not listed are kept).
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
author:
  - arena-infra
"""

EXAMPLES = r"""
- name: Access | Instance role and profile of the web tier
  arena_iam_instance_roles:
    roles:
      - name: arena-local-web-instance
        description: Instances of the web tier
        assume_role_policy:
          Version: "2012-10-17"
          Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]
        inline_policies:
          least-privilege: "{{ lookup('ansible.builtin.template', 'instance_policy.json.j2') | from_json }}"
        tags: {Project: arena, Tier: web}
    region: eu-west-1
    endpoint_url: http://127.0.0.1:5000
"""

RETURN = r"""
roles:
  description: Role ARN and instance profile ARN per role name (empty strings for a role check mode would create).
  returned: always
  type: dict
  sample: {arena-local-web-instance: {arn: "arn:aws:iam::123456789012:role/arena-local-web-instance",
           instance_profile_arn: "arn:aws:iam::123456789012:instance-profile/arena-local-web-instance"}}
changes:
  description: What changed (or would change) per role name.
  returned: always
  type: dict
"""

import contextlib
import json
from typing import Any
from urllib.parse import unquote

with contextlib.suppress(ImportError):  # a missing botocore is reported by AnsibleAWSModule
    import botocore

from ansible.module_utils.arena_diff import record, with_diff
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# Every call passes aws_retry=True and retries, besides AWSRetry's throttling codes, ConcurrentModification:
# "multiple requests to change this object were submitted simultaneously. Wait a few minutes and submit
# your request again" (CreateRole, TagRole, CreateInstanceProfile, DeleteRole);
# https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
RETRY = AWSRetry.jittered_backoff(catch_extra_error_codes=["ConcurrentModification"])
# Calls on a role or instance profile this run has just created also retry NoSuchEntity: IAM is
# eventually consistent ("changes that I make are not always immediately visible"), so attaching a
# policy to a new role or adding it to a new profile can fail with NoSuchEntity for a while.
# amazon.aws.iam_role retries NoSuchEntity after CreateRole the same way. Existence checks use RETRY:
# there NoSuchEntity is the answer, not a delay.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency
RETRY_NEW = AWSRetry.jittered_backoff(catch_extra_error_codes=["ConcurrentModification", "NoSuchEntity"])


def as_document(value: Any) -> Any:
    """A policy document as data: the API may return it as (URL-encoded) JSON text or parsed."""
    if isinstance(value, str):
        text = value.strip()
        return json.loads(text if text.startswith("{") else unquote(text))
    return value


def canonical(value: Any) -> Any:
    """Comparable form: dict key order is irrelevant, a one-element list equals its element (IAM)."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        items = [canonical(v) for v in value]
        if len(items) == 1:
            return items[0]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


def same_document(a: Any, b: Any) -> bool:
    return canonical(as_document(a)) == canonical(as_document(b))


def missing_tags(want: dict[str, Any], have: list[dict[str, str]]) -> dict[str, str]:
    current = {t["Key"]: t["Value"] for t in have or []}
    return {str(k): str(v) for k, v in sorted(want.items()) if current.get(str(k)) != str(v)}


def is_missing(err: Exception) -> bool:
    return getattr(err, "response", {}).get("Error", {}).get("Code") == "NoSuchEntity"


def get_or_none(client: Any, operation: str, **kwargs: Any) -> Any:
    """The answer of a Get call, None when IAM says NoSuchEntity."""
    try:
        return getattr(client, operation)(aws_retry=True, **kwargs)
    except botocore.exceptions.ClientError as err:
        if is_missing(err):
            return None
        raise


def read_role(client: Any, role: dict[str, Any]) -> dict[str, Any]:
    """Tags, attached managed policies and the requested inline policies of an existing role."""
    name = role["name"]
    tags = client.list_role_tags(RoleName=name, aws_retry=True)["Tags"]
    attached = client.list_attached_role_policies(RoleName=name, aws_retry=True)["AttachedPolicies"]
    inline = {}
    for policy in role.get("inline_policies") or {}:
        got = get_or_none(client, "get_role_policy", RoleName=name, PolicyName=policy)
        if got is not None:
            inline[policy] = got["PolicyDocument"]
    return {"tags": tags, "attached": [p["PolicyArn"] for p in attached], "inline": inline}


def sync_settings(client: Any, role: dict[str, Any], found: dict[str, Any], check: bool) -> dict[str, Any]:
    """Trust policy and description of an existing role."""
    name, change = role["name"], {}
    trust, description = role["assume_role_policy"], role.get("description") or ""
    if not same_document(found["Role"]["AssumeRolePolicyDocument"], trust):
        change["trust_policy"] = True
        if not check:
            client.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust), aws_retry=True)
    if (found["Role"].get("Description") or "") != description:
        change["description"] = description
        if not check:
            client.update_role_description(RoleName=name, Description=description, aws_retry=True)
    return change


def sync_tags_and_policies(client: Any, role: dict[str, Any], have: dict[str, Any], check: bool) -> dict[str, Any]:
    """Missing tags, exactly the managed policies, the inline policies that differ."""
    name, change = role["name"], {}
    add_tags = missing_tags(role.get("tags") or {}, have["tags"])
    if add_tags:
        change["tags"] = add_tags
        if not check:
            client.tag_role(RoleName=name, Tags=[{"Key": k, "Value": v} for k, v in add_tags.items()], aws_retry=True)
    want_managed = set(role.get("managed_policies") or [])
    attach, detach = sorted(want_managed - set(have["attached"])), sorted(set(have["attached"]) - want_managed)
    for key, arns, call in (("attached", attach, "attach_role_policy"), ("detached", detach, "detach_role_policy")):
        if arns:
            change[key] = arns
        for arn in [] if check else arns:
            getattr(client, call)(RoleName=name, PolicyArn=arn, aws_retry=True)
    for policy, document in sorted((role.get("inline_policies") or {}).items()):
        if policy in have["inline"] and same_document(have["inline"][policy], document):
            continue
        change.setdefault("inline_policies", []).append(policy)
        if not check:
            client.put_role_policy(
                RoleName=name, PolicyName=policy, PolicyDocument=json.dumps(document), aws_retry=True
            )
    return change


def sync_profile(client: Any, fresh: Any, name: str, role_created: bool, check: bool) -> tuple[str, dict[str, Any]]:
    """The instance profile of the same name, containing the role. Returns its ARN.

    `fresh` (retrying NoSuchEntity) adds the role when the role or the profile was just created."""
    change: dict[str, Any] = {}
    profile = get_or_none(client, "get_instance_profile", InstanceProfileName=name)
    if profile is None:
        change["instance_profile"] = "created"
        if check:
            return "", change
        profile = client.create_instance_profile(InstanceProfileName=name, aws_retry=True)
    if name not in [r["RoleName"] for r in profile["InstanceProfile"].get("Roles", [])]:
        change["instance_profile_role"] = "added"
        if not check:
            adder = fresh if role_created or change.get("instance_profile") else client
            adder.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name, aws_retry=True)
    return profile["InstanceProfile"]["Arn"], change


def role_view(
    role: dict[str, Any], tags: dict[str, str], managed: list[str], inline: dict[str, Any], profile: str
) -> dict:
    """What --diff shows of a role: the settings this module manages."""
    return {
        "trust_policy": role.get("AssumeRolePolicyDocument"),
        "description": role.get("Description") or "",
        "tags": dict(sorted(tags.items())),
        "managed_policies": sorted(managed),
        "inline_policies": dict(sorted(inline.items())),
        "instance_profile": profile,
    }


def show_role(
    shown: dict[str, Any] | None, role: dict[str, Any], found: dict[str, Any] | None, have: dict, change: dict
) -> None:
    """Note one changed role before (`found`, `have`: as read) and after (as requested)."""
    if shown is None or not change:
        return
    tags = {t["Key"]: t["Value"] for t in have["tags"]}
    if change.get("instance_profile") == "created":
        profile = "absent"
    else:
        profile = "without the role" if change.get("instance_profile_role") else "with the role"
    before = {} if found is None else role_view(found["Role"], tags, have["attached"], have["inline"], profile)
    wanted = {"AssumeRolePolicyDocument": role["assume_role_policy"], "Description": role.get("description")}
    after = role_view(
        wanted,
        {**tags, **{str(k): str(v) for k, v in (role.get("tags") or {}).items()}},
        role.get("managed_policies") or [],
        {**have["inline"], **(role.get("inline_policies") or {})},
        "with the role",
    )
    record(shown, before, after, key=role["name"])


def ensure_role(
    client: Any, fresh: Any, role: dict[str, Any], check: bool, shown: dict[str, Any] | None = None
) -> tuple[dict[str, str], dict[str, Any]]:
    """Create or bring in line one role and its profile. `client` reads and changes what exists;
    `fresh` (RETRY_NEW) changes a role or profile created in this run. `shown` (optional) gets the
    role before and after."""
    name, change = role["name"], {}
    found = get_or_none(client, "get_role", RoleName=name)
    if found is None:
        change["created"] = True
        if check:
            show_role(shown, role, None, {"tags": [], "attached": [], "inline": {}}, change)
            return {"arn": "", "instance_profile_arn": ""}, change
        tags = [{"Key": str(k), "Value": str(v)} for k, v in sorted((role.get("tags") or {}).items())]
        found = client.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(role["assume_role_policy"]),
            Description=role.get("description") or "",
            Tags=tags,
            aws_retry=True,
        )
        have: dict[str, Any] = {"tags": tags, "attached": [], "inline": {}}
    else:
        have = read_role(client, role)
        change.update(sync_settings(client, role, found, check))
    created = bool(change.get("created"))
    change.update(sync_tags_and_policies(fresh if created else client, role, have, check))
    profile_arn, profile_change = sync_profile(client, fresh, name, created, check)
    change.update(profile_change)
    show_role(shown, role, None if created else found, have, change)
    return {"arn": found["Role"]["Arn"], "instance_profile_arn": profile_arn}, change


def remove_role(client: Any, name: str, check: bool) -> dict[str, Any]:
    if get_or_none(client, "get_role", RoleName=name) is None:
        profile = get_or_none(client, "get_instance_profile", InstanceProfileName=name)
        if profile is None:
            return {}
        if not check:
            client.delete_instance_profile(InstanceProfileName=name, aws_retry=True)
        return {"deleted_instance_profile": True}
    if check:
        return {"deleted": True}
    profile = get_or_none(client, "get_instance_profile", InstanceProfileName=name)
    if profile is not None:
        for member in profile["InstanceProfile"].get("Roles", []):
            client.remove_role_from_instance_profile(
                InstanceProfileName=name, RoleName=member["RoleName"], aws_retry=True
            )
        client.delete_instance_profile(InstanceProfileName=name, aws_retry=True)
    for attached in client.list_attached_role_policies(RoleName=name, aws_retry=True)["AttachedPolicies"]:
        client.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"], aws_retry=True)
    for policy in client.list_role_policies(RoleName=name, aws_retry=True)["PolicyNames"]:
        client.delete_role_policy(RoleName=name, PolicyName=policy, aws_retry=True)
    client.delete_role(RoleName=name, aws_retry=True)
    return {"deleted": True}


def main() -> None:
    role_spec = {
        "name": {"type": "str", "required": True},
        "description": {"type": "str", "default": ""},
        "assume_role_policy": {"type": "dict"},
        "inline_policies": {"type": "dict", "default": {}},
        "managed_policies": {"type": "list", "elements": "str", "default": []},
        "tags": {"type": "dict", "default": {}},
    }
    module = AnsibleAWSModule(
        argument_spec={
            "roles": {"type": "list", "elements": "dict", "required": True, "options": role_spec},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        supports_check_mode=True,
    )
    roles = module.params["roles"]
    names = [r["name"] for r in roles]
    if len(set(names)) != len(names):
        module.fail_json(msg=f"arena_iam_instance_roles: a role name is listed twice: {names}")
    present = module.params["state"] == "present"
    if present and any(not r.get("assume_role_policy") for r in roles):
        missing = [r["name"] for r in roles if not r.get("assume_role_policy")]
        module.fail_json(msg=f"arena_iam_instance_roles: assume_role_policy is required when present: {missing}")
    client = module.client("iam", retry_decorator=RETRY)
    fresh = module.client("iam", retry_decorator=RETRY_NEW)
    result: dict[str, Any] = {}
    changes: dict[str, Any] = {}
    shown: dict[str, Any] = {}
    try:
        for role in roles:
            if present:
                result[role["name"]], change = ensure_role(client, fresh, role, module.check_mode, shown)
            else:
                change = remove_role(client, role["name"], module.check_mode)
                if change:  # the role and its instance profile, or a profile left without its role
                    gone = {"role": role["name"]} if change.get("deleted") else {"instance_profile": role["name"]}
                    record(shown, gone, {}, key=role["name"])
            if change:
                changes[role["name"]] = change
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
        module.fail_json_aws(err, msg=f"arena_iam_instance_roles: cannot manage the roles {names}")
    final = {"changed": bool(changes), "roles": result, "changes": changes}
    module.exit_json(**with_diff(module, final, shown.get("before"), shown.get("after")))


if __name__ == "__main__":
    main()
