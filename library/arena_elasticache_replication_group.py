#!/usr/bin/python
"""Ansible module: ElastiCache (Redis OSS / Valkey) replication group."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_elasticache_replication_group
short_description: Manage an ElastiCache Redis OSS / Valkey replication group (Multi-AZ, failover, encryption)
description:
  - Creates, updates or deletes a cluster-mode-disabled ElastiCache replication group with one cache
    cluster per listed availability zone (the first one is the primary's preferred zone).
  - Exists because no collection module manages replication groups (C(community.aws.elasticache)
    handles single cache clusters only, without Multi-AZ or automatic failover).
  - Idempotent. Mutable settings (description, Multi-AZ, automatic failover, node type, snapshot
    window and retention, maintenance window, security groups, parameter group) are modified in
    place; settings AWS fixes at creation (encryption at rest and in transit, subnet group, port,
    engine) are compared and a difference fails with a message instead of silently replacing the
    group.
  - The AUTH token is sent at creation. With O(auth_token_version) the group carries that version in
    the tag C(arena:auth-token-version); an existing group whose tag differs (or is missing; a group
    made without it, or a token stored after the group was made) is rotated to O(auth_token) with
    ModifyReplicationGroup C(AuthTokenUpdateStrategy=ROTATE), then tagged. ROTATE keeps the previous
    token valid beside the new one, so running clients keep authenticating; removing the old token
    (C(SET)) is an operator step once every client reads the new one. AWS takes the new token only
    on an C(available) group with in-transit encryption
    (U(https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth.html#auth-modifyng-token),
    U(https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyReplicationGroup.html)).
  - An existing group that is not C(available) yet (a run interrupted while AWS created it) is waited
    for (O(wait)) before it is compared, so the endpoint is known when the module returns.
  - A group in status C(deleting) counts as absent.
version_added: 1.0.0
author: arena-infra
options:
  replication_group_id:
    description: Replication group identifier (1-40 characters, lower case).
    type: str
    required: true
  state:
    description: Create/update or delete.
    type: str
    choices: [present, absent]
    default: present
  description:
    description: Free-text description.
    type: str
    default: managed by arena-infra
  engine:
    description: Cache engine.
    type: str
    choices: [redis, valkey]
    default: valkey
  engine_version:
    description: Engine version at creation (upgrades are an operator decision).
    type: str
  node_type:
    description: Cache node type.
    type: str
    default: cache.t4g.small
  port:
    description: Port the nodes listen on.
    type: int
    default: 6379
  availability_zones:
    description: One cache cluster per zone, primary first. Two or more for Multi-AZ.
    type: list
    elements: str
    required: true
  multi_az:
    description: Multi-AZ with automatic promotion of a replica.
    type: bool
    default: true
  automatic_failover:
    description: Automatic failover to a replica.
    type: bool
    default: true
  at_rest_encryption:
    description: Encryption at rest (fixed at creation).
    type: bool
    default: true
  transit_encryption:
    description: TLS in transit (fixed at creation).
    type: bool
    default: true
  kms_key_id:
    description: KMS key for encryption at rest; the AWS managed key when omitted.
    type: str
  auth_token:
    description:
      - AUTH token (16-128 printable characters, not C(/), C(\"), C(@) or C(%)), needs I(transit_encryption).
      - Sent at creation, and to an existing group whose O(auth_token_version) tag differs.
    type: str
  auth_token_version:
    description:
      - Identifies O(auth_token) (platform_cache passes the version of the SSM parameter that stores
        it). Kept in the tag C(arena:auth-token-version); a group whose tag differs is rotated to
        O(auth_token). Omitted, the token is only sent at creation and the tag is left alone.
    type: str
  cache_subnet_group:
    description: Cache subnet group name (fixed at creation).
    type: str
    required: true
  security_group_ids:
    description: VPC security group ids.
    type: list
    elements: str
    default: []
  parameter_group:
    description: Cache parameter group name; the engine default when omitted.
    type: str
  maintenance_window:
    description: Weekly maintenance window, C(ddd:hh24:mi-ddd:hh24:mi) UTC.
    type: str
  snapshot_window:
    description: Daily snapshot window, C(hh24:mi-hh24:mi) UTC.
    type: str
  snapshot_retention_limit:
    description: Days of automatic snapshots kept (0 disables them).
    type: int
    default: 7
  tags:
    description: Tags; exactly these are kept (others are removed).
    type: dict
    default: {}
  apply_immediately:
    description: Apply modifications now rather than in the maintenance window.
    type: bool
    default: true
  wait:
    description:
      - Wait until the group is C(available) (present) or gone (absent).
      - The AWS emulator keeps a deleted group in C(deleting) for ever; do not wait for deletion there.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 1800
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Cache | Replication group over two zones
  arena_elasticache_replication_group:
    replication_group_id: arena-prod-cache
    engine: valkey
    engine_version: "8.0"
    availability_zones: [eu-west-1a, eu-west-1b]
    cache_subnet_group: arena-prod-cache
    security_group_ids: [sg-0123456789abcdef0]
    auth_token: "{{ vault_cache_auth_token }}"
    maintenance_window: tue:03:00-tue:04:00
    snapshot_window: 01:00-02:00
    tags: {Project: arena, Environment: production, ManagedBy: arena-infra}
    endpoint_url: "{{ aws_guard_target.endpoint_url or omit }}"
    region: "{{ aws_guard_target.region }}"
  no_log: true
"""

RETURN = r"""
replication_group:
  description: The group as described by DescribeReplicationGroups (snake_case keys); empty when absent.
  returned: always
  type: dict
primary_endpoint:
  description: Address and port of the primary (write) endpoint.
  returned: when present
  type: dict
  sample: {address: master.arena.abc.euw1.cache.amazonaws.com, port: 6379}
"""

import time
from typing import Any

from ansible.module_utils.arena_diff import record, with_diff
from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from botocore.exceptions import BotoCoreError, ClientError

GONE_STATES = ("deleting",)
# Statuses that become available by themselves; DeleteReplicationGroup needs an available group
# (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DeleteReplicationGroup.html).
BUSY_STATES = ("creating", "modifying", "snapshotting")
# Every call passes aws_retry=True: AWSRetry's throttling codes. ReplicationGroupNotFoundFault and
# CacheClusterNotFound are not retried: they are how the module learns that the group (or the
# emulator's member cluster) is absent, and ElastiCache documents no eventual-consistency error for them.
RETRY = AWSRetry.jittered_backoff()
# Settings AWS fixes at creation: (parameter, response key).
IMMUTABLE = (
    ("at_rest_encryption", "AtRestEncryptionEnabled"),
    ("transit_encryption", "TransitEncryptionEnabled"),
)
# The tag that records which version of the AUTH token the group holds (AWS never returns the token).
AUTH_TOKEN_TAG = "arena:auth-token-version"


def describe(client: Any, group_id: str) -> dict[str, Any] | None:
    """The group, or None when it does not exist or is being deleted."""
    try:
        groups = client.describe_replication_groups(ReplicationGroupId=group_id, aws_retry=True)["ReplicationGroups"]
    except is_boto3_error_code("ReplicationGroupNotFoundFault"):
        return None
    if not groups or groups[0].get("Status") in GONE_STATES:
        return None
    return groups[0]


def create_request(params: dict[str, Any]) -> dict[str, Any]:
    req: dict[str, Any] = {
        "ReplicationGroupId": params["replication_group_id"],
        "ReplicationGroupDescription": params["description"],
        "Engine": params["engine"],
        "CacheNodeType": params["node_type"],
        "Port": params["port"],
        "NumCacheClusters": len(params["availability_zones"]),
        "PreferredCacheClusterAZs": params["availability_zones"],
        "MultiAZEnabled": params["multi_az"],
        "AutomaticFailoverEnabled": params["automatic_failover"],
        "AtRestEncryptionEnabled": params["at_rest_encryption"],
        "TransitEncryptionEnabled": params["transit_encryption"],
        "CacheSubnetGroupName": params["cache_subnet_group"],
        "SecurityGroupIds": params["security_group_ids"],
        "SnapshotRetentionLimit": params["snapshot_retention_limit"],
        "Tags": [{"Key": k, "Value": str(v)} for k, v in sorted(wanted_tags(params, {}).items())],
    }
    optional = {
        "EngineVersion": params.get("engine_version"),
        "KmsKeyId": params.get("kms_key_id"),
        "AuthToken": params.get("auth_token"),
        "CacheParameterGroupName": params.get("parameter_group"),
        "PreferredMaintenanceWindow": params.get("maintenance_window"),
        "SnapshotWindow": params.get("snapshot_window"),
    }
    req.update({k: v for k, v in optional.items() if v})
    return req


def immutable_differences(current: dict[str, Any], params: dict[str, Any]) -> list[str]:
    diffs = [
        f"{param} is {current.get(key)} on the existing group, requested {params[param]}"
        for param, key in IMMUTABLE
        if bool(current.get(key)) != bool(params[param])
    ]
    if params.get("auth_token") and not current.get("AuthTokenEnabled"):
        diffs.append("auth_token is requested but the existing group has AUTH disabled")
    return diffs


def member_details(client: Any, current: dict[str, Any]) -> dict[str, Any]:
    """Settings DescribeReplicationGroups does not return, read from the primary's cache cluster.

    Empty when the cluster cannot be read (the emulator returns no member clusters): those settings
    are then not compared.
    """
    members = current.get("MemberClusters") or []
    if not members:
        return {}
    try:
        clusters = client.describe_cache_clusters(CacheClusterId=members[0], aws_retry=True)["CacheClusters"]
    except is_boto3_error_code("CacheClusterNotFound"):
        return {}
    return clusters[0] if clusters else {}


def modify_request(
    client: Any, current: dict[str, Any], params: dict[str, Any], seen: dict[str, Any] | None = None
) -> dict[str, Any]:
    """ModifyReplicationGroup arguments for every mutable difference (empty: nothing to do).
    `seen` (optional) gets the member cluster's settings as read (for --diff)."""
    mod: dict[str, Any] = {}
    enabled = {"enabled": True, "enabling": True}
    if current.get("Description") != params["description"]:
        mod["ReplicationGroupDescription"] = params["description"]
    if (current.get("MultiAZ") in enabled) != params["multi_az"]:
        mod["MultiAZEnabled"] = params["multi_az"]
    if (current.get("AutomaticFailover") in enabled) != params["automatic_failover"]:
        mod["AutomaticFailoverEnabled"] = params["automatic_failover"]
    if current.get("CacheNodeType") != params["node_type"]:
        mod["CacheNodeType"] = params["node_type"]
    if current.get("SnapshotRetentionLimit") != params["snapshot_retention_limit"]:
        mod["SnapshotRetentionLimit"] = params["snapshot_retention_limit"]
    if params.get("snapshot_window") and current.get("SnapshotWindow") != params["snapshot_window"]:
        mod["SnapshotWindow"] = params["snapshot_window"]
    member = member_details(client, current)
    if seen is not None:
        seen["member"] = member
    if member:
        window = params.get("maintenance_window")
        if window and member.get("PreferredMaintenanceWindow") != window:
            mod["PreferredMaintenanceWindow"] = window
        groups = sorted(g["SecurityGroupId"] for g in member.get("SecurityGroups", []))
        if groups != sorted(params["security_group_ids"]):
            mod["SecurityGroupIds"] = params["security_group_ids"]
        pgroup = (member.get("CacheParameterGroup") or {}).get("CacheParameterGroupName")
        if params.get("parameter_group") and pgroup != params["parameter_group"]:
            mod["CacheParameterGroupName"] = params["parameter_group"]
    if mod:
        mod["ReplicationGroupId"] = params["replication_group_id"]
        mod["ApplyImmediately"] = params["apply_immediately"]
    return mod


def wanted_tags(params: dict[str, Any], have: dict[str, str]) -> dict[str, str]:
    """The requested tags plus the AUTH token version tag (kept as it is when no version is given)."""
    wanted = {k: str(v) for k, v in params["tags"].items()}
    if params.get("auth_token_version"):
        wanted[AUTH_TOKEN_TAG] = str(params["auth_token_version"])
    elif AUTH_TOKEN_TAG in have:
        wanted[AUTH_TOKEN_TAG] = have[AUTH_TOKEN_TAG]
    return wanted


def read_tags(client: Any, arn: str) -> dict[str, str]:
    listed = client.list_tags_for_resource(ResourceName=arn, aws_retry=True).get("TagList", [])
    return {t["Key"]: t["Value"] for t in listed}


def needs_rotation(have: dict[str, str], params: dict[str, Any]) -> bool:
    """The group does not hold the token version requested (tag missing or different)."""
    version = params.get("auth_token_version")
    return bool(version and params.get("auth_token") and have.get(AUTH_TOKEN_TAG) != str(version))


def rotate_request(params: dict[str, Any]) -> dict[str, Any]:
    """ModifyReplicationGroup arguments that add the token beside the current one (ROTATE)."""
    return {
        "ReplicationGroupId": params["replication_group_id"],
        "AuthToken": params["auth_token"],
        "AuthTokenUpdateStrategy": "ROTATE",
        "ApplyImmediately": True,
    }


def sync_tags(client: Any, arn: str, have: dict[str, str], wanted: dict[str, str], check_mode: bool) -> bool:
    add = {k: v for k, v in wanted.items() if have.get(k) != v}
    remove = [k for k in have if k not in wanted]
    if (add or remove) and not check_mode:
        if add:
            client.add_tags_to_resource(
                ResourceName=arn, Tags=[{"Key": k, "Value": v} for k, v in sorted(add.items())], aws_retry=True
            )
        if remove:
            client.remove_tags_from_resource(ResourceName=arn, TagKeys=sorted(remove), aws_retry=True)
    return bool(add or remove)


def wait_for(client: Any, group_id: str, gone: bool, timeout: int, sleep: float = 15.0) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            groups = client.describe_replication_groups(ReplicationGroupId=group_id, aws_retry=True)[
                "ReplicationGroups"
            ]
        except is_boto3_error_code("ReplicationGroupNotFoundFault"):
            groups = []
        status = groups[0]["Status"] if groups else None
        if (gone and status is None) or (not gone and status == "available"):
            return groups[0] if groups else None
        if time.monotonic() > deadline:
            raise TimeoutError(f"replication group {group_id} still {status} after {timeout} s")
        time.sleep(sleep)


# ModifyReplicationGroup argument -> where DescribeReplicationGroups (or, "member", the primary's
# cache cluster) holds the current value: what --diff shows before.
CURRENT_OF = {
    "ReplicationGroupDescription": ("group", "Description"),
    "MultiAZEnabled": ("group", "MultiAZ"),
    "AutomaticFailoverEnabled": ("group", "AutomaticFailover"),
    "CacheNodeType": ("group", "CacheNodeType"),
    "SnapshotRetentionLimit": ("group", "SnapshotRetentionLimit"),
    "SnapshotWindow": ("group", "SnapshotWindow"),
    "PreferredMaintenanceWindow": ("member", "PreferredMaintenanceWindow"),
    "SecurityGroupIds": ("member", "SecurityGroups"),
    "CacheParameterGroupName": ("member", "CacheParameterGroup"),
}


def modify_diff(current: dict[str, Any], member: dict[str, Any], mod: dict[str, Any]) -> tuple[dict, dict]:
    """(before, after) of the settings a ModifyReplicationGroup request changes."""
    source = {"group": current, "member": member}
    changed = {k: v for k, v in mod.items() if k in CURRENT_OF}
    before = {k: source[CURRENT_OF[k][0]].get(CURRENT_OF[k][1]) for k in changed}
    if "SecurityGroupIds" in before:
        before["SecurityGroupIds"] = sorted(g["SecurityGroupId"] for g in before["SecurityGroupIds"] or [])
    if "CacheParameterGroupName" in before:
        before["CacheParameterGroupName"] = (before["CacheParameterGroupName"] or {}).get("CacheParameterGroupName")
    return before, changed


def tags_diff(have: dict[str, str], params: dict[str, Any]) -> tuple[dict, dict]:
    """(before, after) of the tags and, when it rotates, the AUTH token (masked by arena_diff)."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if wanted_tags(params, have) != have:
        before["tags"], after["tags"] = have, wanted_tags(params, have)
    if needs_rotation(have, params):
        before["auth_token_version"] = have.get(AUTH_TOKEN_TAG)
        after.update(auth_token_version=str(params["auth_token_version"]), auth_token=params["auth_token"])
    return before, after


def created_view(params: dict[str, Any]) -> dict[str, Any]:
    """What --diff shows of a group this run creates (the AUTH token masked by arena_diff)."""
    keys = ("description", "engine", "engine_version", "node_type", "port", "availability_zones", "multi_az")
    more = ("automatic_failover", "at_rest_encryption", "transit_encryption", "auth_token", "cache_subnet_group")
    return {k: params.get(k) for k in keys + more + ("security_group_ids", "parameter_group", "tags")}


def ensure_present(
    client: Any, params: dict[str, Any], check_mode: bool, shown: dict[str, Any] | None = None
) -> tuple[bool, dict[str, Any]]:
    """Create or bring in line the group; `shown` (optional) gets what changes before and after."""
    current = describe(client, params["replication_group_id"])
    if current is None:
        record(shown, {}, created_view(params))
        if check_mode:
            return True, {}
        current = client.create_replication_group(aws_retry=True, **create_request(params))["ReplicationGroup"]
        if params["wait"]:
            current = wait_for(client, params["replication_group_id"], False, params["wait_timeout"]) or current
        return True, current
    if params["wait"] and not check_mode and current.get("Status") != "available":
        # A run interrupted during creation (or a modification): compare and publish the group once AWS is done.
        current = wait_for(client, params["replication_group_id"], False, params["wait_timeout"]) or current
    diffs = immutable_differences(current, params)
    if diffs:
        raise ValueError("cannot change settings fixed at creation (replace the group): " + "; ".join(diffs))
    changed = False
    seen: dict[str, Any] = {}
    mod = modify_request(client, current, params, seen)
    before, after = modify_diff(current, seen.get("member") or {}, mod)
    if mod:
        changed = True
        if not check_mode:
            current = client.modify_replication_group(aws_retry=True, **mod)["ReplicationGroup"]
            if params["wait"]:
                current = wait_for(client, params["replication_group_id"], False, params["wait_timeout"]) or current
    if current.get("ARN"):
        have = read_tags(client, current["ARN"])
        tags_before, tags_after = tags_diff(have, params)
        before, after = before | tags_before, after | tags_after
        if needs_rotation(have, params):
            changed = True
            if not check_mode:
                # AWS takes a new token only on an available group.
                wait_for(client, params["replication_group_id"], False, params["wait_timeout"])
                current = client.modify_replication_group(aws_retry=True, **rotate_request(params))["ReplicationGroup"]
                if params["wait"]:
                    current = wait_for(client, params["replication_group_id"], False, params["wait_timeout"]) or current
        # Tagged only after the rotation: an interruption in between rotates again on the next run.
        changed = sync_tags(client, current["ARN"], have, wanted_tags(params, have), check_mode) or changed
    record(shown, before, after)  # shown only when changed (arena_diff)
    return changed, current


def ensure_absent(client: Any, params: dict[str, Any], check_mode: bool, shown: dict[str, Any] | None = None) -> bool:
    current = describe(client, params["replication_group_id"])
    if current is None:
        return False
    record(shown, {"replication_group_id": params["replication_group_id"], "status": current.get("Status")}, {})
    if not check_mode:
        if current.get("Status") in BUSY_STATES:
            # AWS refuses to delete a group that is not available (InvalidReplicationGroupState): one a
            # run left creating (interrupted during the wait) is deleted once AWS has made it.
            wait_for(client, params["replication_group_id"], False, params["wait_timeout"])
        client.delete_replication_group(ReplicationGroupId=params["replication_group_id"], aws_retry=True)
        if params["wait"]:
            wait_for(client, params["replication_group_id"], True, params["wait_timeout"])
    return True


def primary_endpoint(group: dict[str, Any]) -> dict[str, Any]:
    for node_group in group.get("NodeGroups") or []:
        endpoint = node_group.get("PrimaryEndpoint")
        if endpoint:
            return {"address": endpoint["Address"], "port": endpoint["Port"]}
    return {}


def main() -> None:
    argument_spec = {
        "replication_group_id": {"type": "str", "required": True},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "description": {"type": "str", "default": "managed by arena-infra"},
        "engine": {"type": "str", "choices": ["redis", "valkey"], "default": "valkey"},
        "engine_version": {"type": "str"},
        "node_type": {"type": "str", "default": "cache.t4g.small"},
        "port": {"type": "int", "default": 6379},
        "availability_zones": {"type": "list", "elements": "str", "required": True},
        "multi_az": {"type": "bool", "default": True},
        "automatic_failover": {"type": "bool", "default": True},
        "at_rest_encryption": {"type": "bool", "default": True},
        "transit_encryption": {"type": "bool", "default": True},
        "kms_key_id": {"type": "str"},
        "auth_token": {"type": "str", "no_log": True},
        "auth_token_version": {"type": "str"},
        "cache_subnet_group": {"type": "str", "required": True},
        "security_group_ids": {"type": "list", "elements": "str", "default": []},
        "parameter_group": {"type": "str"},
        "maintenance_window": {"type": "str"},
        "snapshot_window": {"type": "str"},
        "snapshot_retention_limit": {"type": "int", "default": 7},
        "tags": {"type": "dict", "default": {}},
        "apply_immediately": {"type": "bool", "default": True},
        "wait": {"type": "bool", "default": True},
        "wait_timeout": {"type": "int", "default": 1800},
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    if params["state"] == "present":
        if params["multi_az"] and len(params["availability_zones"]) < 2:
            module.fail_json(msg="multi_az needs two or more availability_zones")
        if params["auth_token"] and not params["transit_encryption"]:
            module.fail_json(msg="auth_token needs transit_encryption")
        if params["auth_token_version"] and not params["auth_token"]:
            module.fail_json(msg="auth_token_version needs auth_token")
    client = module.client("elasticache", retry_decorator=RETRY)
    shown: dict[str, Any] = {}
    try:
        if params["state"] == "absent":
            absent = {"changed": ensure_absent(client, params, module.check_mode, shown), "replication_group": {}}
            module.exit_json(**with_diff(module, absent, shown.get("before"), shown.get("after")))
        changed, group = ensure_present(client, params, module.check_mode, shown)
    except (ValueError, TimeoutError) as err:
        module.fail_json(msg=str(err))
    except (ClientError, BotoCoreError) as err:
        module.fail_json_aws(err, msg=f"ElastiCache call failed for {params['replication_group_id']}")
    result = {
        "changed": changed,
        "replication_group": camel_dict_to_snake_dict(group, ignore_list=["Tags"]),
        "primary_endpoint": primary_endpoint(group),
    }
    module.exit_json(**with_diff(module, result, shown.get("before"), shown.get("after")))


if __name__ == "__main__":
    main()
