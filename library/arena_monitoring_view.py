#!/usr/bin/python
# Copyright: arena-infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an environment's monitoring watches, read from the platform: one read-only module run."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_monitoring_view
short_description: Read the CloudWatch dimensions of an environment's platform
description:
  - Read-only. Returns the view the alarms and the dashboard are generated from
    (C(filter_plugins/arena_monitoring.py), C(filter_plugins/arena_dashboard.py)), that is per tier the
    C(LoadBalancer) and C(TargetGroup) dimension values of its target group
    (U(https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeTargetGroups.html))
    and its Auto Scaling group, the cache's member clusters, primary and replicas
    (U(https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DescribeReplicationGroups.html)),
    the CloudFront distribution whose comment is I(distribution_comment), the SES configuration set,
    the environment's NAT gateways (by the C(Project) and C(Environment) tags), and the account and
    partition (GetCallerIdentity) the topics' ARNs are made from.
  - A service that is not there is C(null) in the view (a platform built without it, or not yet); a
    tier whose target group or group is missing fails, naming it (the alarms of a tier need both).
  - One module run instead of one per service, as the view is read on every run of the platform.
  - Every call is retried on throttling. Not in the C(group/aws) module-defaults group; pass
    I(region) and I(endpoint_url) explicitly.
options:
  name_prefix:
    description:
      - Prefix of the platform's names (C(<project>-<environment>)); the target group and Auto Scaling
        group of tier C(web) are C(<name_prefix>-web).
    type: str
    required: true
  tiers:
    description: Tier names.
    type: list
    elements: str
    required: true
  require_tiers:
    description:
      - Fail when a tier's target group or group is missing. V(false) leaves such a tier out of the view
        (a check-mode run on an environment not built yet plans no alarm for it).
    type: bool
    default: true
  cache_replication_group:
    description: Replication group id of the cache; empty for none.
    type: str
    default: ""
  distribution_comment:
    description: Comment of the static content's CloudFront distribution; empty for none.
    type: str
    default: ""
  configuration_set:
    description: SES configuration set of the platform's mail; empty for none.
    type: str
    default: ""
  tags:
    description: Tags the environment's NAT gateways carry (C(Project), C(Environment)); empty for none.
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
- name: Read the platform's dimensions
  arena_monitoring_view:
    name_prefix: arena-staging
    tiers: [web, api, admin]
    cache_replication_group: arena-staging-cache
    distribution_comment: arena-staging-static
    configuration_set: arena-staging-mail
    tags: {Project: arena, Environment: staging}
    region: eu-west-1
  register: view
"""

RETURN = r"""
view:
  description: The view (see the filter plugins named above).
  returned: always
  type: dict
"""

import contextlib
from typing import Any

with contextlib.suppress(ImportError):  # a missing botocore is reported by AnsibleAWSModule
    import botocore

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

RETRY = AWSRetry.jittered_backoff()


class ViewError(ValueError):
    """A tier the platform should have and has not; the message names it."""


def dimension(arn: str, marker: str) -> str:
    """The CloudWatch dimension value of an ELB ARN: what follows `marker` (``app/<name>/<id>``)."""
    return arn.split(marker, 1)[1]


def tiers_view(elbv2, autoscaling, prefix: str, tiers: list[str], required: bool = True) -> dict[str, dict[str, str]]:
    names = [f"{prefix}-{tier}" for tier in tiers]
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=names, aws_retry=True)
    have_groups = {g["AutoScalingGroupName"] for g in groups.get("AutoScalingGroups", [])}
    out: dict[str, dict[str, str]] = {}
    for tier, name in zip(tiers, names, strict=True):
        try:
            found = elbv2.describe_target_groups(Names=[name], aws_retry=True)["TargetGroups"]
        except is_boto3_error_code("TargetGroupNotFound"):
            found = []
        problem = None
        if not found or not found[0].get("LoadBalancerArns"):
            problem = f"tier {tier}: no target group {name} behind a load balancer (run playbooks/platform.yml)"
        elif name not in have_groups:
            problem = f"tier {tier}: no Auto Scaling group {name} (run playbooks/platform.yml)"
        if problem and required:
            raise ViewError(problem)
        if problem:
            continue
        tg = found[0]
        out[tier] = {
            "load_balancer": dimension(tg["LoadBalancerArns"][0], ":loadbalancer/"),
            "target_group": "targetgroup/" + dimension(tg["TargetGroupArn"], ":targetgroup/"),
            "group": name,
        }
    return out


def cache_view(elasticache, group_id: str) -> dict[str, Any] | None:
    if not group_id:
        return None
    try:
        group = elasticache.describe_replication_groups(ReplicationGroupId=group_id, aws_retry=True)[
            "ReplicationGroups"
        ][0]
    except is_boto3_error_code("ReplicationGroupNotFoundFault"):
        return None
    members = [m for ng in group.get("NodeGroups", []) for m in ng.get("NodeGroupMembers", [])]
    replicas = sorted(m["CacheClusterId"] for m in members if m.get("CurrentRole") == "replica")
    return {"replication_group": group_id, "nodes": sorted(group.get("MemberClusters", [])), "replicas": replicas}


@AWSRetry.jittered_backoff()
def _distributions(cloudfront) -> list[dict[str, Any]]:
    """Every distribution summary (the whole paginated listing, retried as one on throttling)."""
    result = cloudfront.get_paginator("list_distributions").paginate().build_full_result()
    return result.get("DistributionList", {}).get("Items", [])


def cdn_view(cloudfront, comment: str) -> dict[str, str] | None:
    if not comment:
        return None
    ids = sorted(d["Id"] for d in _distributions(cloudfront) if d.get("Comment") == comment)
    if len(ids) > 1:
        raise ViewError(f"distribution comment {comment!r} names {len(ids)} distributions: {ids}")
    return {"distribution_id": ids[0]} if ids else None


def email_view(sesv2, name: str) -> dict[str, str] | None:
    if not name:
        return None
    try:
        sesv2.get_configuration_set(ConfigurationSetName=name, aws_retry=True)
    except is_boto3_error_code("NotFoundException"):
        return None
    return {"configuration_set": name}


def nat_view(ec2, tags: dict[str, Any]) -> list[str]:
    if not tags:
        return []
    filters = [{"Name": f"tag:{k}", "Values": [str(v)]} for k, v in sorted(tags.items())]
    filters.append({"Name": "state", "Values": ["pending", "available"]})
    answer = ec2.describe_nat_gateways(Filters=filters, aws_retry=True)
    return sorted(n["NatGatewayId"] for n in answer.get("NatGateways", []))


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "name_prefix": {"type": "str", "required": True},
            "tiers": {"type": "list", "elements": "str", "required": True},
            "require_tiers": {"type": "bool", "default": True},
            "cache_replication_group": {"type": "str", "default": ""},
            "distribution_comment": {"type": "str", "default": ""},
            "configuration_set": {"type": "str", "default": ""},
            "tags": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    p = module.params
    elbv2 = module.client("elbv2", retry_decorator=RETRY)
    autoscaling = module.client("autoscaling", retry_decorator=RETRY)
    elasticache = module.client("elasticache", retry_decorator=RETRY)
    cloudfront = module.client("cloudfront", retry_decorator=RETRY)
    sesv2 = module.client("sesv2", retry_decorator=RETRY)
    ec2 = module.client("ec2", retry_decorator=RETRY)
    sts = module.client("sts", retry_decorator=RETRY)
    try:
        caller = sts.get_caller_identity(aws_retry=True)
        view = {
            "name_prefix": p["name_prefix"],
            "region": module.region,
            "account": caller["Account"],
            "partition": caller["Arn"].split(":")[1],
            "tiers": tiers_view(elbv2, autoscaling, p["name_prefix"], p["tiers"], p["require_tiers"]),
            "cache": cache_view(elasticache, p["cache_replication_group"]),
            "cdn": cdn_view(cloudfront, p["distribution_comment"]),
            "email": email_view(sesv2, p["configuration_set"]),
            "nat_gateways": nat_view(ec2, p["tags"]),
        }
    except ViewError as e:
        module.fail_json(msg=f"arena_monitoring_view: {e}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="arena_monitoring_view: cannot read the platform")
    module.exit_json(changed=False, view=view)


if __name__ == "__main__":
    main()
