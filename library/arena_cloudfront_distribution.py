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
  - Viewer certificate as AWS honours it. Without I(acm_certificate_arn) the distribution uses the
    default C(*.cloudfront.net) certificate, for which AWS sets the security policy to C(TLSv1)
    whatever is requested (API_ViewerCertificate), so only C(TLSv1) is accepted then. With it (an
    ACM certificate in us-east-1) the distribution serves I(aliases) with C(sni-only) and
    I(minimum_protocol_version); aliases need the certificate and the certificate needs aliases.
  - Every call goes through a client made with C(AWSRetry.jittered_backoff) (throttling and
    transient errors are retried).
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
  acm_certificate_arn:
    description:
      - ARN of an ISSUED ACM certificate in us-east-1 that covers every one of I(aliases). Empty means
        the default C(*.cloudfront.net) certificate (and no aliases).
    type: str
    default: ""
  aliases:
    description: Alternate domain names (lower case), served with I(acm_certificate_arn).
    type: list
    elements: str
    default: []
  minimum_protocol_version:
    description:
      - Minimum TLS security policy for viewers of the aliases.
      - Default C(TLSv1.2_2021) with I(acm_certificate_arn); without it C(TLSv1), the only value AWS
        honours with the default certificate (any other is refused).
    type: str
    choices: [TLSv1, TLSv1_2016, TLSv1.1_2016, TLSv1.2_2018, TLSv1.2_2019, TLSv1.2_2021, TLSv1.2_2025, TLSv1.3_2025]
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
    acm_certificate_arn: arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8091-a2b3c4d5e6f7
    aliases: [static.arena.example]
    minimum_protocol_version: TLSv1.2_2021
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

import re
from typing import Any

from ansible.module_utils.arena_diff import record, with_diff
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from botocore.exceptions import BotoCoreError, ClientError

ORIGIN_ID = "s3-static"
VIEWER_CERTIFICATE_DOC = "https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ViewerCertificate.html"
CERTIFICATE_REQUIREMENTS_DOC = (
    "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html"
)
ALTERNATE_DOMAIN_NAMES_DOC = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/CNAMEs.html"
DEFAULT_CERTIFICATE_POLICY = "TLSv1"
CERTIFICATE_POLICY = "TLSv1.2_2021"
US_EAST_1_ACM_ARN = re.compile(r"^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate/[A-Za-z0-9-]+$")
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


def minimum_protocol_version(params: dict[str, Any]) -> str:
    """The security policy to request: the given one, else TLSv1.2_2021 with a certificate, TLSv1 without."""
    if params.get("minimum_protocol_version"):
        return params["minimum_protocol_version"]
    return CERTIFICATE_POLICY if params.get("acm_certificate_arn") else DEFAULT_CERTIFICATE_POLICY


def check_params(params: dict[str, Any]) -> str | None:
    """Why AWS would refuse or ignore the viewer settings (None when it honours them)."""
    arn, aliases = params.get("acm_certificate_arn") or "", params.get("aliases") or []
    version = minimum_protocol_version(params)
    problems = [
        (
            not arn and version != DEFAULT_CERTIFICATE_POLICY,
            f"minimum_protocol_version {version!r} is not honoured with the CloudFront default certificate "
            f"(acm_certificate_arn is empty): AWS sets {DEFAULT_CERTIFICATE_POLICY} whatever is requested, "
            f"see {VIEWER_CERTIFICATE_DOC}",
        ),
        (
            not arn and bool(aliases),
            f"aliases {aliases} need acm_certificate_arn: CloudFront adds an alternate domain name only with "
            f"a certificate that covers it, see {ALTERNATE_DOMAIN_NAMES_DOC}",
        ),
        (
            bool(arn) and not US_EAST_1_ACM_ARN.match(arn),
            f"acm_certificate_arn {arn!r} is not an ACM certificate in us-east-1: CloudFront uses ACM "
            f"certificates from us-east-1 only, see {CERTIFICATE_REQUIREMENTS_DOC}",
        ),
        (
            bool(arn) and not aliases,
            f"acm_certificate_arn is set but aliases is empty: CloudFront presents the certificate only on "
            f"alternate domain names, see {VIEWER_CERTIFICATE_DOC}",
        ),
        (
            any(a != a.lower() for a in aliases),
            f"aliases must be lower case, got {[a for a in aliases if a != a.lower()]}, "
            f"see {ALTERNATE_DOMAIN_NAMES_DOC}",
        ),
    ]
    return next((message for refused, message in problems if refused), None)


def viewer_certificate(params: dict[str, Any]) -> dict[str, Any]:
    """ViewerCertificate as AWS stores it: the default certificate with TLSv1, or ACM + sni-only."""
    if not params.get("acm_certificate_arn"):
        return {"CloudFrontDefaultCertificate": True, "MinimumProtocolVersion": DEFAULT_CERTIFICATE_POLICY}
    return {
        "CloudFrontDefaultCertificate": False,
        "ACMCertificateArn": params["acm_certificate_arn"],
        "SSLSupportMethod": "sni-only",
        "MinimumProtocolVersion": minimum_protocol_version(params),
    }


def managed_config(params: dict[str, Any]) -> dict[str, Any]:
    """The part of DistributionConfig this module owns, in the API's shape."""
    patterns = params["fingerprinted_path_patterns"]
    logging = bool(params["logging_bucket"])
    aliases = sorted(params.get("aliases") or [])
    return {
        "Comment": params["comment"],
        "Aliases": {"Quantity": len(aliases), "Items": aliases} if aliases else {"Quantity": 0},
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
        "ViewerCertificate": viewer_certificate(params),
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


@AWSRetry.jittered_backoff()
def list_distribution_ids(client: Any) -> list[str]:
    """Every distribution id (the whole paginated listing, retried as one on throttling)."""
    result = client.get_paginator("list_distributions").paginate().build_full_result()
    return [item["Id"] for item in result.get("DistributionList", {}).get("Items", [])]


def find(client: Any, caller_reference: str) -> tuple[str, dict[str, Any], str] | None:
    for dist_id in list_distribution_ids(client):
        got = client.get_distribution_config(Id=dist_id, aws_retry=True)
        if got["DistributionConfig"]["CallerReference"] == caller_reference:
            return dist_id, got["DistributionConfig"], got["ETag"]
    return None


def summary(dist: dict[str, Any]) -> dict[str, Any]:
    return {"id": dist["Id"], "arn": dist["ARN"], "domain_name": dist["DomainName"], "status": dist["Status"]}


def wait_deployed(client: Any, dist_id: str, timeout: int) -> None:
    client.get_waiter("distribution_deployed").wait(
        Id=dist_id, WaiterConfig={"Delay": 20, "MaxAttempts": max(1, timeout // 20)}
    )


def ensure_present(
    client: Any, params: dict[str, Any], check_mode: bool, shown: dict[str, Any] | None = None
) -> tuple[bool, dict[str, Any], list[str]]:
    """Create or update the distribution; `shown` (optional) gets the differing keys before and after."""
    want = managed_config(params)
    found = find(client, params["caller_reference"])
    if found is None:
        record(shown, {}, want)
        if check_mode:
            return True, {}, sorted(want)
        config = {"CallerReference": params["caller_reference"], **want}
        tags = [{"Key": k, "Value": str(v)} for k, v in sorted(params["tags"].items())]
        dist = client.create_distribution_with_tags(
            DistributionConfigWithTags={"DistributionConfig": config, "Tags": {"Items": tags}}, aws_retry=True
        )["Distribution"]
        if params["wait"]:
            wait_deployed(client, dist["Id"], params["wait_timeout"])
        return True, summary(dist), sorted(want)
    dist_id, have, etag = found
    diff = differences(want, have)
    if not diff:
        return False, summary(client.get_distribution(Id=dist_id, aws_retry=True)["Distribution"]), []
    before, after = project(want, have), project(want, want)
    record(shown, {k: before[k] for k in diff}, {k: after[k] for k in diff})
    if check_mode:
        return True, {"id": dist_id}, diff
    dist = client.update_distribution(Id=dist_id, IfMatch=etag, DistributionConfig={**have, **want}, aws_retry=True)[
        "Distribution"
    ]
    if params["wait"]:
        wait_deployed(client, dist_id, params["wait_timeout"])
    return True, summary(dist), diff


def ensure_absent(client: Any, params: dict[str, Any], check_mode: bool, shown: dict[str, Any] | None = None) -> bool:
    found = find(client, params["caller_reference"])
    if found is None:
        return False
    record(
        shown, {"id": found[0], "CallerReference": params["caller_reference"], "Enabled": found[1].get("Enabled")}, {}
    )
    if check_mode:
        return True
    dist_id, have, etag = found
    if have.get("Enabled"):
        etag = client.update_distribution(
            Id=dist_id, IfMatch=etag, DistributionConfig={**have, "Enabled": False}, aws_retry=True
        )["ETag"]
    # AWS refuses to delete a distribution until the disabled configuration is deployed.
    wait_deployed(client, dist_id, params["wait_timeout"])
    client.delete_distribution(Id=dist_id, IfMatch=etag, aws_retry=True)
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
        "acm_certificate_arn": {"type": "str", "default": ""},
        "aliases": {"type": "list", "elements": "str", "default": []},
        "minimum_protocol_version": {
            "type": "str",
            "choices": [
                "TLSv1",
                "TLSv1_2016",
                "TLSv1.1_2016",
                "TLSv1.2_2018",
                "TLSv1.2_2019",
                "TLSv1.2_2021",
                "TLSv1.2_2025",
                "TLSv1.3_2025",
            ],
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
    client = module.client("cloudfront", retry_decorator=AWSRetry.jittered_backoff())
    if module.params["state"] == "present":
        problem = check_params(module.params)
        if problem:
            module.fail_json(msg=problem)
    shown: dict[str, Any] = {}
    try:
        if module.params["state"] == "absent":
            changed = ensure_absent(client, module.params, module.check_mode, shown)
            absent = {"changed": changed, "distribution": {}, "differences": []}
            module.exit_json(**with_diff(module, absent, shown.get("before"), shown.get("after")))
        changed, dist, diff = ensure_present(client, module.params, module.check_mode, shown)
    except (ClientError, BotoCoreError) as err:
        module.fail_json_aws(err, msg=f"CloudFront call failed for {module.params['caller_reference']}")
    result = {"changed": changed, "distribution": dist, "differences": diff}
    module.exit_json(**with_diff(module, result, shown.get("before"), shown.get("after")))


if __name__ == "__main__":
    main()
