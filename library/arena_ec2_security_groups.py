#!/usr/bin/python
# Copyright: arena-infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ensure a set of VPC security groups that reference each other, in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_ec2_security_groups
short_description: Ensure several VPC security groups and their ingress rules in one call
description:
  - Creates the groups that are missing, adds missing or changed tags (other tags are kept), and
    makes each group's ingress rules exactly the requested ones (missing rules are authorised,
    extra rules revoked, changed rule descriptions updated). Egress rules are left alone.
  - A rule's source is a CIDR or another group, named by its group name in the same VPC (a group of
    this call or an existing one), so groups can reference each other whatever their order.
  - One module run replaces one C(amazon.aws.ec2_security_group) run per group. That module also
    sleeps at least 3 seconds after creating each group and describes each group several times;
    this one describes all groups once, creates with the tags in the same call and compares in memory.
  - I(state=absent) deletes the named groups in reverse list order (a group is deleted after the
    groups listed after it, which may reference it); rules of the named groups that reference
    each other are revoked first.
  - Check mode reports what would change and calls nothing that writes.
  - Not in the C(group/aws) module-defaults group; pass I(region) and I(endpoint_url) explicitly.
options:
  vpc_id:
    description: VPC of the groups.
    type: str
    required: true
  groups:
    description: The groups, in creation order.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Group name (unique in the VPC).
        type: str
        required: true
      description:
        description: Group description (set at creation; AWS cannot change it later).
        type: str
        required: true
      tags:
        description: Tags to add or update (tags not listed are kept).
        type: dict
        default: {}
      rules:
        description: The ingress rules, exactly.
        type: list
        elements: dict
        default: []
        suboptions:
          proto:
            description: IP protocol (C(tcp), C(udp), C(icmp)); C(-1) (all) is refused.
            type: str
            default: tcp
          ports:
            description: Ports; each is one rule.
            type: list
            elements: int
            required: true
          cidr_ip:
            description: IPv4 source range (exclusive with I(group_name)).
            type: str
          group_name:
            description: Source security group, by name, in the same VPC (exclusive with I(cidr_ip)).
            type: str
          rule_desc:
            description: Rule description.
            type: str
            default: ""
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
- name: Groups | Public load balancer and the web tier behind it
  arena_ec2_security_groups:
    vpc_id: "{{ platform_network_vpc_id }}"
    groups:
      - name: arena-local-public-alb
        description: Public load balancer
        tags: {Project: arena, Tier: web}
        rules:
          - {ports: [80, 443], cidr_ip: 0.0.0.0/0, rule_desc: HTTP/HTTPS from the internet}
      - name: arena-local-web
        description: Web instances
        tags: {Project: arena, Tier: web}
        rules:
          - {ports: [80], group_name: arena-local-public-alb, rule_desc: from the public load balancer}
    region: eu-west-1
    endpoint_url: http://127.0.0.1:5000
"""

RETURN = r"""
groups:
  description: Group id per group name (in check mode, C(check-mode-new) for a group that would be created).
  returned: always
  type: dict
  sample: {arena-local-web: sg-0123456789abcdef0}
changes:
  description:
    - What changed (or would change) per group name, under C(created), C(tags), C(authorized),
      C(revoked), C(descriptions) and C(deleted).
  returned: always
  type: dict
"""

import contextlib
from typing import Any

with contextlib.suppress(ImportError):  # a missing botocore is reported by AnsibleAWSModule
    import botocore

from ansible.module_utils.arena_diff import record, with_diff
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# (protocol, from port, to port, "cidr" | "group", CIDR or group id)
RuleKey = tuple[str, int, int, str, str]
CHECK_MODE_ID = "check-mode-new"
# Every call passes aws_retry=True: AWSRetry's codes (RequestLimitExceeded is EC2's throttling error),
# and InvalidGroup.NotFound, which EC2 documents as an eventual-consistency error: a command that uses
# the id CreateSecurityGroup just returned (here: authorising rules on a new group, or on a group whose
# rule names the new group as its source) may fail with it for a while. The groups are found with
# DescribeSecurityGroups filters (no error when missing), so that code never means "absent" here.
# https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html
RETRY = AWSRetry.jittered_backoff(catch_extra_error_codes=["InvalidGroup.NotFound"])


class InputError(ValueError):
    """Bad module input, reported with the module's name."""


def wanted_rules(group: dict[str, Any], ids: dict[str, str]) -> dict[RuleKey, str]:
    """The requested ingress rules of one group, keyed like current_rules(), valued by description."""
    out: dict[RuleKey, str] = {}
    for rule in group.get("rules") or []:
        proto = str(rule.get("proto") or "tcp")
        if proto in ("-1", "all"):
            raise InputError(f"group {group['name']}: protocol {proto} (every protocol) is refused")
        has_cidr, has_group = bool(rule.get("cidr_ip")), bool(rule.get("group_name"))
        if has_cidr == has_group:
            raise InputError(f"group {group['name']}: each rule needs exactly one of cidr_ip and group_name: {rule}")
        if has_group and rule["group_name"] not in ids:
            raise InputError(f"group {group['name']}: source group {rule['group_name']} not found in the VPC")
        kind, source = ("cidr", rule["cidr_ip"]) if has_cidr else ("group", ids[rule["group_name"]])
        for port in rule["ports"]:
            out[(proto, int(port), int(port), kind, source)] = rule.get("rule_desc") or ""
    return out


def current_rules(permissions: list[dict[str, Any]]) -> dict[RuleKey, str]:
    """A group's IpPermissions flattened to one key per source, valued by description."""
    out: dict[RuleKey, str] = {}
    for perm in permissions:
        proto = str(perm["IpProtocol"])
        low, high = int(perm.get("FromPort", -1)), int(perm.get("ToPort", -1))
        for rng in perm.get("IpRanges", []):
            out[(proto, low, high, "cidr", rng["CidrIp"])] = rng.get("Description", "")
        for rng in perm.get("Ipv6Ranges", []):
            out[(proto, low, high, "cidr6", rng["CidrIpv6"])] = rng.get("Description", "")
        for pair in perm.get("UserIdGroupPairs", []):
            out[(proto, low, high, "group", pair["GroupId"])] = pair.get("Description", "")
        for prefix in perm.get("PrefixListIds", []):
            out[(proto, low, high, "prefix", prefix["PrefixListId"])] = prefix.get("Description", "")
    return out


def permissions(rules: dict[RuleKey, str]) -> list[dict[str, Any]]:
    """Rule keys back to the API's IpPermissions shape (one permission per key, sorted)."""
    source_field = {
        "cidr": ("IpRanges", "CidrIp"),
        "cidr6": ("Ipv6Ranges", "CidrIpv6"),
        "group": ("UserIdGroupPairs", "GroupId"),
        "prefix": ("PrefixListIds", "PrefixListId"),
    }
    out = []
    for (proto, low, high, kind, source), desc in sorted(rules.items()):
        field, key = source_field[kind]
        entry = {key: source, **({"Description": desc} if desc else {})}
        out.append({"IpProtocol": proto, "FromPort": low, "ToPort": high, field: [entry]})
    return out


def plan_rules(want: dict[RuleKey, str], have: dict[RuleKey, str]) -> dict[str, dict[RuleKey, str]]:
    """Rules to authorise, revoke and re-describe to turn ``have`` into ``want``."""
    return {
        "authorized": {k: v for k, v in want.items() if k not in have},
        "revoked": {k: v for k, v in have.items() if k not in want},
        "descriptions": {k: v for k, v in want.items() if k in have and have[k] != v},
    }


def tag_changes(want: dict[str, Any], have: list[dict[str, str]]) -> dict[str, str]:
    """Tags to add or update (a tag that is not wanted is kept)."""
    current = {t["Key"]: t["Value"] for t in have or []}
    return {str(k): str(v) for k, v in sorted(want.items()) if current.get(str(k)) != str(v)}


def describe(client: Any, vpc_id: str, names: list[str]) -> dict[str, dict[str, Any]]:
    filters = [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": sorted(set(names))}]
    found = client.describe_security_groups(Filters=filters, aws_retry=True)["SecurityGroups"]
    return {g["GroupName"]: g for g in found}


def source_names(groups: list[dict[str, Any]]) -> list[str]:
    return [r["group_name"] for g in groups for r in g.get("rules") or [] if r.get("group_name")]


def group_view(tags: dict[str, str], rules: dict[RuleKey, str]) -> dict[str, Any]:
    """What --diff shows of a group: its tags and every ingress rule, one line each."""
    lines = [
        f"{p} {low}-{high} from {kind} {src}" + (f" ({desc})" if desc else "")
        for (p, low, high, kind, src), desc in sorted(rules.items())
    ]
    return {"tags": dict(sorted(tags.items())), "ingress": lines}


def ensure_present(
    client: Any, params: dict[str, Any], check: bool, shown: dict[str, Any] | None = None
) -> tuple[dict[str, str], dict[str, Any]]:
    """Create and bring in line the groups; `shown` (optional) gets each changed group before and after."""
    vpc_id, groups = params["vpc_id"], params["groups"]
    existing = describe(client, vpc_id, [g["name"] for g in groups] + source_names(groups))
    ids = {name: g["GroupId"] for name, g in existing.items()}
    changes: dict[str, Any] = {}
    for group in groups:
        if group["name"] in existing:
            continue
        changes[group["name"]] = {"created": True}
        if check:
            ids[group["name"]] = CHECK_MODE_ID
            continue
        tags = [{"Key": str(k), "Value": str(v)} for k, v in sorted((group.get("tags") or {}).items())]
        created = client.create_security_group(
            GroupName=group["name"],
            Description=group["description"],
            VpcId=vpc_id,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}] if tags else [],
            aws_retry=True,
        )
        ids[group["name"]] = created["GroupId"]
    for group in groups:
        name, group_id = group["name"], ids[group["name"]]
        # A group created above got its tags in the same call and has no ingress rules yet.
        created_tags = [{"Key": str(k), "Value": str(v)} for k, v in (group.get("tags") or {}).items()]
        have = existing.get(name, {"IpPermissions": [], "Tags": created_tags})
        change = changes.setdefault(name, {})
        tags = tag_changes(group.get("tags") or {}, have.get("Tags", []))
        want_rules, have_rules = wanted_rules(group, ids), current_rules(have.get("IpPermissions", []))
        plan = plan_rules(want_rules, have_rules)
        if tags:
            change["tags"] = tags
        change.update({k: [list(key) for key in v] for k, v in plan.items() if v})
        if change:
            have_tags = {t["Key"]: t["Value"] for t in have.get("Tags", [])}
            before = group_view(have_tags, have_rules) if name in existing else {}
            record(shown, before, group_view({**have_tags, **tags}, want_rules), key=name)
        if check:
            continue
        if tags:
            client.create_tags(
                Resources=[group_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()], aws_retry=True
            )
        if plan["revoked"]:
            client.revoke_security_group_ingress(
                GroupId=group_id, IpPermissions=permissions(plan["revoked"]), aws_retry=True
            )
        if plan["authorized"]:
            client.authorize_security_group_ingress(
                GroupId=group_id, IpPermissions=permissions(plan["authorized"]), aws_retry=True
            )
        if plan["descriptions"]:
            client.update_security_group_rule_descriptions_ingress(
                GroupId=group_id, IpPermissions=permissions(plan["descriptions"]), aws_retry=True
            )
    return {g["name"]: ids[g["name"]] for g in groups}, {k: v for k, v in changes.items() if v}


def ensure_absent(
    client: Any, params: dict[str, Any], check: bool, shown: dict[str, Any] | None = None
) -> dict[str, Any]:
    existing = describe(client, params["vpc_id"], [g["name"] for g in params["groups"]])
    ours = {g["GroupId"] for g in existing.values()}
    changes: dict[str, Any] = {}
    # Rules between the groups being deleted would block the deletion of the referenced group.
    for name, group in existing.items():
        inner = {k: v for k, v in current_rules(group.get("IpPermissions", [])).items() if k[4] in ours}
        if inner:
            changes[name] = {"revoked": [list(k) for k in inner]}
            if not check:
                client.revoke_security_group_ingress(
                    GroupId=group["GroupId"], IpPermissions=permissions(inner), aws_retry=True
                )
    for group in reversed(params["groups"]):
        if group["name"] not in existing:
            continue
        changes.setdefault(group["name"], {})["deleted"] = True
        tags = {t["Key"]: t["Value"] for t in existing[group["name"]].get("Tags", [])}
        before = group_view(tags, current_rules(existing[group["name"]].get("IpPermissions", [])))
        record(shown, before, {}, key=group["name"])
        if not check:
            client.delete_security_group(GroupId=existing[group["name"]]["GroupId"], aws_retry=True)
    return changes


def main() -> None:
    rule_spec = {
        "proto": {"type": "str", "default": "tcp"},
        "ports": {"type": "list", "elements": "int", "required": True},
        "cidr_ip": {"type": "str"},
        "group_name": {"type": "str"},
        "rule_desc": {"type": "str", "default": ""},
    }
    group_spec = {
        "name": {"type": "str", "required": True},
        "description": {"type": "str", "required": True},
        "tags": {"type": "dict", "default": {}},
        "rules": {"type": "list", "elements": "dict", "default": [], "options": rule_spec},
    }
    module = AnsibleAWSModule(
        argument_spec={
            "vpc_id": {"type": "str", "required": True},
            "groups": {"type": "list", "elements": "dict", "required": True, "options": group_spec},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        supports_check_mode=True,
    )
    names = [g["name"] for g in module.params["groups"]]
    if len(set(names)) != len(names):
        module.fail_json(msg=f"arena_ec2_security_groups: a group name is listed twice: {names}")
    client = module.client("ec2", retry_decorator=RETRY)
    shown: dict[str, Any] = {}
    try:
        if module.params["state"] == "absent":
            changes = ensure_absent(client, module.params, module.check_mode, shown)
            result = {"changed": bool(changes), "groups": {}, "changes": changes}
            module.exit_json(**with_diff(module, result, shown.get("before"), shown.get("after")))
        ids, changes = ensure_present(client, module.params, module.check_mode, shown)
    except InputError as err:
        module.fail_json(msg=f"arena_ec2_security_groups: {err}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
        module.fail_json_aws(
            err, msg=f"arena_ec2_security_groups: cannot manage the groups in {module.params['vpc_id']}"
        )
    result = {"changed": bool(changes), "groups": ids, "changes": changes}
    module.exit_json(**with_diff(module, result, shown.get("before"), shown.get("after")))


if __name__ == "__main__":
    main()
