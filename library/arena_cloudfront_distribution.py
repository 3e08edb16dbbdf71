#!/usr/bin/python
"""Ansible module: CloudFront distribution for a private S3 origin behind Origin Access Control."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_cloudfront_distribution
short_description: Manage a CloudFront distribution serving a private S3 bucket through OAC
description:
  - Creates, updates or deletes a distribution with one S3 origin reached through an Origin Access
    Control, HTTPS-only viewers, a minimum TLS policy, compression, managed or custom cache
    policies (one for fingerprinted asset paths), a price class and standard logging.
  - Exists because C(community.aws.cloudfront_distribution) cannot attach an Origin Access Control
    to an origin (it only knows the legacy Origin Access Identity).
  - The distribution is found by I(caller_reference). It is idempotent, the managed part of the live
    configuration is compared with the requested one and the distribution is updated only on a
    difference. The AWS emulator drops C(OriginAccessControlId) from its responses, so there every
    run sees a difference and updates (documented exception; the unit tests cover idempotence).
  - I(state=absent) disables the distribution, waits for it to deploy (I(wait)), then deletes it.
version_added: 1.0.0
author: arena-infra
options:
  caller_reference:
    description: Unique reference that identifies the distribution (never changes).
    type: str
    required: true
  comment:
    description: Comment.
    type: str
    default: managed by arena-infra
  origin_domain_name:
    description: Regional domain name of the S3 bucket, C(<bucket>.s3.<region>.amazonaws.com).
    type: str
  origin_access_control_id:
    description: Id of the Origin Access Control (see M(arena_cloudfront_oac)).
    type: str
  default_root_object:
    description: Object returned for C(/).
    type: str
    default: index.html
  viewer_protocol_policy:
    description: Viewer protocol policy of every behaviour.
    type: str
    choices: [redirect-to-https, https-only]
    default: redirect-to-https
  minimum_protocol_version:
    description: Minimum TLS security policy for viewers.
    type: str
    choices: [TLSv1.2_2018, TLSv1.2_2019, TLSv1.2_2021, TLSv1.3_2025]
    default: TLSv1.2_2021
  compress:
    description: Compress objects (gzip, brotli).
    type: bool
    default: true
  default_cache_policy_id:
    description: Cache policy of the default behaviour (AWS managed C(CachingOptimized) by default).
    type: str
    default: 658327ea-f89d-4fab-a63d-7e88639e58f6
  fingerprinted_path_patterns:
    description: Path patterns of content-hashed assets, cached with I(fingerprinted_cache_policy_id).
    type: list
    elements: str
    default: []
  fingerprinted_cache_policy_id:
    description: Cache policy of the fingerprinted paths (long TTL).
    type: str
    default: 658327ea-f89d-4fab-a63d-7e88639e58f6
  price_class:
    description: Edge locations used (cost).
    type: str
    choices: [PriceClass_100, PriceClass_200, PriceClass_All]
    default: PriceClass_100
  http_version:
    description: Highest HTTP version offered to viewers.
    type: str
    choices: [http1.1, http2, http3, http2and3]
    default: http2and3
  ipv6:
    description: IPv6 enabled.
    type: bool
    default: true
  logging_bucket:
    description: Bucket domain name for standard logs (C(<bucket>.s3.amazonaws.com)); no logging when empty.
    type: str
    default: ""
  logging_prefix:
    description: Prefix of the log objects.
    type: str
    default: cloudfront/
  tags:
    description: Tags set at creation.
    type: dict
    default: {}
  state:
    description: Create/update or delete.
    type: str
    choices: [present, absent]
    default: present
  wait:
    description: Wait for the distribution to be deployed after a change (always before a delete).
    type: bool
    default: false
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
- name: Static | Distribution in front of the private bucket
  arena_cloudfront_distribution:
    caller_reference: arena-prod-static
    origin_domain_name: arena-prod-static.s3.eu-west-1.amazonaws.com
    origin_access_control_id: "{{ static_oac.origin_access_control.id }}"
    fingerprinted_path_patterns: [/assets/*]
    price_class: PriceClass_100
    logging_bucket: arena-prod-logs.s3.amazonaws.com
    endpoint_url: "{{ aws_guard_target.endpoint_url or omit }}"
    region: "{{ aws_guard_target.region }}"
"""

RETURN = r"""
distribution:
  description: Id, ARN, domain name and status of the distribution; empty when absent.
  returned: always
  type: dict
  sample: {id: E1ABCDEF, arn: "arn:aws:cloudfront::123456789012:distribution/E1ABCDEF", domain_name: d1.cloudfront.net}
differences:
  description: Top-level configuration keys that differed and were updated.
  returned: always
  type: list
  elements: str
"""

from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from botocore.exceptions import BotoCoreError, ClientError

ORIGIN_ID = "s3-static"
METHODS = {"Quantity": 2, "Items": ["GET", "HEAD"], "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]}}


def behaviour(params: dict[str, Any], cache_policy_id: str, pattern: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "TargetOriginId": ORIGIN_ID,
        "ViewerProtocolPolicy": params["viewer_protocol_policy"],
        "AllowedMethods": METHODS,
        "Compress": params["compress"],
        "CachePolicyId": cache_policy_id,
    }
    if pattern is not None:
        item = {"PathPattern": pattern, **item}
    return item


def managed_config(params: dict[str, Any]) -> dict[str, Any]:
    """The part of DistributionConfig this module owns, in the API's shape."""
    patterns = params["fingerprinted_path_patterns"]
    logging = bool(params["logging_bucket"])
    return {
        "Comment": params["comment"],
        "Enabled": True,
        "DefaultRootObject": params["default_root_object"],
        "PriceClass": params["price_class"],
        "HttpVersion": params["http_version"],
        "IsIPV6Enabled": params["ipv6"],
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": ORIGIN_ID,
                    "DomainName": params["origin_domain_name"],
                    "OriginAccessControlId": params["origin_access_control_id"],
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                }
            ],
        },
        "DefaultCacheBehavior": behaviour(params, params["default_cache_policy_id"]),
        "CacheBehaviors": {
            "Quantity": len(patterns),
            "Items": [behaviour(params, params["fingerprinted_cache_policy_id"], p) for p in patterns],
        },
        "ViewerCertificate": {
            "CloudFrontDefaultCertificate": True,
            "MinimumProtocolVersion": params["minimum_protocol_version"],
        },
        "Logging": {
            "Enabled": logging,
            "IncludeCookies": False,
            "Bucket": params["logging_bucket"],
            "Prefix": params["logging_prefix"] if logging else "",
        },
    }


def project(want: Any, have: Any) -> Any:
    """``have`` reduced to the keys ``want`` names (lists item by item), to compare like with like."""
    if isinstance(want, dict):
        have = have if isinstance(have, dict) else {}
        return {k: project(v, have.get(k)) for k, v in want.items()}
    if isinstance(want, list):
        have = have if isinstance(have, list) else []
        if want and isinstance(want[0], str):
            return sorted(have) if sorted(have) == sorted(want) else have
        return [project(w, h) for w, h in zip(want, have, strict=False)] + have[len(want) :]
    return have


def differences(want: dict[str, Any], have: dict[str, Any]) -> list[str]:
    projected = project(want, have)
    norm_want = project(want, want)
    return sorted(k for k in want if projected[k] != norm_want[k])


def find(client: Any, caller_reference: str) -> tuple[str, dict[str, Any], str] | None:
    for page in client.get_paginator("list_distributions").paginate():
        for item in page["DistributionList"].get("Items", []):
            got = client.get_distribution_config(Id=item["Id"])
            if got["DistributionConfig"]["CallerReference"] == caller_reference:
                return item["Id"], got["DistributionConfig"], got["ETag"]
    return None


def summary(dist: dict[str, Any]) -> dict[str, Any]:
    return {"id": dist["Id"], "arn": dist["ARN"], "domain_name": dist["DomainName"], "status": dist["Status"]}


def wait_deployed(client: Any, dist_id: str, timeout: int) -> None:
    client.get_waiter("distribution_deployed").wait(
        Id=dist_id, WaiterConfig={"Delay": 20, "MaxAttempts": max(1, timeout // 20)}
    )


def ensure_present(client: Any, params: dict[str, Any], check_mode: bool) -> tuple[bool, dict[str, Any], list[str]]:
    want = managed_config(params)
    found = find(client, params["caller_reference"])
    if found is None:
        if check_mode:
            return True, {}, sorted(want)
        config = {"CallerReference": params["caller_reference"], **want}
        tags = [{"Key": k, "Value": str(v)} for k, v in sorted(params["tags"].items())]
        dist = client.create_distribution_with_tags(
            DistributionConfigWithTags={"DistributionConfig": config, "Tags": {"Items": tags}}
        )["Distribution"]
        if params["wait"]:
            wait_deployed(client, dist["Id"], params["wait_timeout"])
        return True, summary(dist), sorted(want)
    dist_id, have, etag = found
    diff = differences(want, have)
    if not diff:
        return False, summary(client.get_distribution(Id=dist_id)["Distribution"]), []
    if check_mode:
        return True, {"id": dist_id}, diff
    dist = client.update_distribution(Id=dist_id, IfMatch=etag, DistributionConfig={**have, **want})["Distribution"]
    if params["wait"]:
        wait_deployed(client, dist_id, params["wait_timeout"])
    return True, summary(dist), diff


def ensure_absent(client: Any, params: dict[str, Any], check_mode: bool) -> bool:
    found = find(client, params["caller_reference"])
    if found is None:
        return False
    if check_mode:
        return True
    dist_id, have, etag = found
    if have.get("Enabled"):
        etag = client.update_distribution(Id=dist_id, IfMatch=etag, DistributionConfig={**have, "Enabled": False})[
            "ETag"
        ]
    # AWS refuses to delete a distribution until the disabled configuration is deployed.
    wait_deployed(client, dist_id, params["wait_timeout"])
    client.delete_distribution(Id=dist_id, IfMatch=etag)
    return True


def main() -> None:
    argument_spec = {
        "caller_reference": {"type": "str", "required": True},
        "comment": {"type": "str", "default": "managed by arena-infra"},
        "origin_domain_name": {"type": "str"},
        "origin_access_control_id": {"type": "str"},
        "default_root_object": {"type": "str", "default": "index.html"},
        "viewer_protocol_policy": {
            "type": "str",
            "choices": ["redirect-to-https", "https-only"],
            "default": "redirect-to-https",
        },
        "minimum_protocol_version": {
            "type": "str",
            "choices": ["TLSv1.2_2018", "TLSv1.2_2019", "TLSv1.2_2021", "TLSv1.3_2025"],
            "default": "TLSv1.2_2021",
        },
        "compress": {"type": "bool", "default": True},
        "default_cache_policy_id": {"type": "str", "default": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
        "fingerprinted_path_patterns": {"type": "list", "elements": "str", "default": []},
        "fingerprinted_cache_policy_id": {"type": "str", "default": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
        "price_class": {
            "type": "str",
            "choices": ["PriceClass_100", "PriceClass_200", "PriceClass_All"],
            "default": "PriceClass_100",
        },
        "http_version": {"type": "str", "choices": ["http1.1", "http2", "http3", "http2and3"], "default": "http2and3"},
        "ipv6": {"type": "bool", "default": True},
        "logging_bucket": {"type": "str", "default": ""},
        "logging_prefix": {"type": "str", "default": "cloudfront/"},
        "tags": {"type": "dict", "default": {}},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "wait": {"type": "bool", "default": False},
        "wait_timeout": {"type": "int", "default": 1800},
    }
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("state", "present", ["origin_domain_name", "origin_access_control_id"])],
    )
    client = module.client("cloudfront")
    try:
        if module.params["state"] == "absent":
            module.exit_json(
                changed=ensure_absent(client, module.params, module.check_mode), distribution={}, differences=[]
            )
        changed, dist, diff = ensure_present(client, module.params, module.check_mode)
    except (ClientError, BotoCoreError) as err:
        module.fail_json_aws(err, msg=f"CloudFront call failed for {module.params['caller_reference']}")
    module.exit_json(changed=changed, distribution=dist, differences=diff)


if __name__ == "__main__":
    main()
