"""arena_cloudfront_oac and arena_cloudfront_distribution against botocore's real CloudFront model
(Stubber). The emulator drops OriginAccessControlId from distribution responses, so idempotence of
the distribution (second run unchanged) is proven here, with responses that carry the OAC as AWS does.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

ROOT = Path(__file__).resolve().parents[3]


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_arena_lib_{name}", ROOT / "library" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


oac = load("arena_cloudfront_oac")
dist = load("arena_cloudfront_distribution")
OAC_CONFIG = {
    "Name": "arena-static",
    "Description": "d",
    "SigningProtocol": "sigv4",
    "SigningBehavior": "always",
    "OriginAccessControlOriginType": "s3",
}


@pytest.fixture
def stub():
    client = boto3.client("cloudfront", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def oac_params(**over: Any) -> dict[str, Any]:
    base = {
        "name": "arena-static",
        "description": "d",
        "origin_type": "s3",
        "signing_behavior": "always",
        "state": "present",
    }
    base.update(over)
    return base


def expect_oac_list(stubber: Stubber, items: list[dict[str, Any]]) -> None:
    stubber.add_response(
        "list_origin_access_controls",
        {
            "OriginAccessControlList": {
                "Marker": "",
                "MaxItems": 100,
                "IsTruncated": False,
                "Quantity": len(items),
                "Items": items,
            }
        },
        {},
    )


def test_oac_created(stub) -> None:
    client, stubber = stub
    expect_oac_list(stubber, [])
    stubber.add_response(
        "create_origin_access_control",
        {"OriginAccessControl": {"Id": "E1OAC", "OriginAccessControlConfig": OAC_CONFIG}, "ETag": "E1"},
        {"OriginAccessControlConfig": OAC_CONFIG},
    )
    changed, result = oac.ensure_present(client, oac_params(), check_mode=False)
    assert changed
    assert result["id"] == "E1OAC"
    assert result["signing_behavior"] == "always"


def test_oac_unchanged(stub) -> None:
    client, stubber = stub
    expect_oac_list(stubber, [{"Id": "E1OAC", **OAC_CONFIG}])
    assert oac.ensure_present(client, oac_params(), check_mode=False) == (False, oac.result("E1OAC", OAC_CONFIG))


def test_oac_updated_on_drift(stub) -> None:
    client, stubber = stub
    expect_oac_list(stubber, [{"Id": "E1OAC", **OAC_CONFIG, "SigningBehavior": "never"}])
    stubber.add_response(
        "get_origin_access_control",
        {"OriginAccessControl": {"Id": "E1OAC", "OriginAccessControlConfig": OAC_CONFIG}, "ETag": "E1"},
        {"Id": "E1OAC"},
    )
    stubber.add_response(
        "update_origin_access_control",
        {"OriginAccessControl": {"Id": "E1OAC", "OriginAccessControlConfig": OAC_CONFIG}, "ETag": "E2"},
        {"Id": "E1OAC", "IfMatch": "E1", "OriginAccessControlConfig": OAC_CONFIG},
    )
    assert oac.ensure_present(client, oac_params(), check_mode=False)[0]


def test_oac_check_mode_and_absent(stub) -> None:
    client, stubber = stub
    expect_oac_list(stubber, [])
    assert oac.ensure_present(client, oac_params(), check_mode=True)[0]
    expect_oac_list(stubber, [{"Id": "E1OAC", **OAC_CONFIG}])
    stubber.add_response(
        "get_origin_access_control",
        {"OriginAccessControl": {"Id": "E1OAC", "OriginAccessControlConfig": OAC_CONFIG}, "ETag": "E1"},
        {"Id": "E1OAC"},
    )
    stubber.add_response("delete_origin_access_control", {}, {"Id": "E1OAC", "IfMatch": "E1"})
    assert oac.ensure_absent(client, oac_params(state="absent"), check_mode=False)
    expect_oac_list(stubber, [])
    assert not oac.ensure_absent(client, oac_params(state="absent"), check_mode=False)


def dist_params(**over: Any) -> dict[str, Any]:
    base = {
        "caller_reference": "arena-static",
        "comment": "arena static",
        "origin_domain_name": "arena-static.s3.eu-west-1.amazonaws.com",
        "origin_access_control_id": "E1OAC",
        "default_root_object": "index.html",
        "viewer_protocol_policy": "redirect-to-https",
        "minimum_protocol_version": "TLSv1.2_2021",
        "compress": True,
        "default_cache_policy_id": "658327ea-f89d-4fab-a63d-7e88639e58f6",
        "fingerprinted_path_patterns": ["/assets/*"],
        "fingerprinted_cache_policy_id": "658327ea-f89d-4fab-a63d-7e88639e58f6",
        "price_class": "PriceClass_100",
        "http_version": "http2and3",
        "ipv6": True,
        "logging_bucket": "arena-logs.s3.amazonaws.com",
        "logging_prefix": "cloudfront/",
        "tags": {"Project": "arena"},
        "state": "present",
        "wait": False,
        "wait_timeout": 60,
    }
    base.update(over)
    return base


def live_config(**over: Any) -> dict[str, Any]:
    """What AWS returns: the module's config plus defaults the module does not manage."""
    config = {"CallerReference": "arena-static", **copy.deepcopy(dist.managed_config(dist_params()))}
    config["Origins"]["Items"][0].update(OriginPath="", ConnectionAttempts=3, ConnectionTimeout=10)
    config["DefaultCacheBehavior"]["AllowedMethods"]["Items"] = ["HEAD", "GET"]  # AWS reorders
    config["Restrictions"] = {"GeoRestriction": {"RestrictionType": "none", "Quantity": 0}}
    config["Aliases"] = {"Quantity": 0}
    config.update(over)
    return config


DIST = {
    "Id": "E1DIST",
    "ARN": "arn:aws:cloudfront::123456789012:distribution/E1DIST",
    "Status": "Deployed",
    "LastModifiedTime": "2026-01-01T00:00:00Z",
    "InProgressInvalidationBatches": 0,
    "DomainName": "d111111abcdef8.cloudfront.net",
    "DistributionConfig": live_config(),
}


def expect_find(stubber: Stubber, config: dict[str, Any] | None) -> None:
    items = [] if config is None else [{"Id": "E1DIST"}]
    summary = {"Marker": "", "MaxItems": 100, "IsTruncated": False, "Quantity": len(items)}
    if items:
        summary["Items"] = [
            {
                "Id": "E1DIST",
                "ARN": DIST["ARN"],
                "Status": "Deployed",
                "LastModifiedTime": "2026-01-01T00:00:00Z",
                "DomainName": DIST["DomainName"],
                "Aliases": {"Quantity": 0},
                "Origins": config["Origins"],
                "DefaultCacheBehavior": config["DefaultCacheBehavior"],
                "CacheBehaviors": config["CacheBehaviors"],
                "CustomErrorResponses": {"Quantity": 0},
                "Comment": "",
                "PriceClass": "PriceClass_100",
                "Enabled": True,
                "ViewerCertificate": config["ViewerCertificate"],
                "Restrictions": config["Restrictions"],
                "WebACLId": "",
                "HttpVersion": "http2and3",
                "IsIPV6Enabled": True,
                "Staging": False,
            }
        ]
    stubber.add_response("list_distributions", {"DistributionList": summary}, {})
    if config is not None:
        stubber.add_response("get_distribution_config", {"DistributionConfig": config, "ETag": "ET1"}, {"Id": "E1DIST"})


def test_distribution_created_with_oac_and_https(stub) -> None:
    client, stubber = stub
    expect_find(stubber, None)
    expected_config = {"CallerReference": "arena-static", **dist.managed_config(dist_params())}
    stubber.add_response(
        "create_distribution_with_tags",
        {"Distribution": DIST},
        {
            "DistributionConfigWithTags": {
                "DistributionConfig": expected_config,
                "Tags": {"Items": [{"Key": "Project", "Value": "arena"}]},
            }
        },
    )
    changed, result, _ = dist.ensure_present(client, dist_params(), check_mode=False)
    assert changed
    assert result["domain_name"] == "d111111abcdef8.cloudfront.net"
    origin = expected_config["Origins"]["Items"][0]
    assert origin["OriginAccessControlId"] == "E1OAC"
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy OAI
    assert expected_config["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert expected_config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert expected_config["CacheBehaviors"]["Items"][0]["PathPattern"] == "/assets/*"


def test_distribution_second_run_unchanged_when_aws_returns_the_oac(stub) -> None:
    client, stubber = stub
    expect_find(stubber, live_config())
    stubber.add_response("get_distribution", {"Distribution": DIST, "ETag": "ET1"}, {"Id": "E1DIST"})
    changed, result, diff = dist.ensure_present(client, dist_params(), check_mode=False)
    assert (changed, diff) == (False, [])
    assert result["id"] == "E1DIST"


def test_emulator_response_without_oac_is_seen_as_a_difference() -> None:
    """The documented emulator gap: without OriginAccessControlId in the response, Origins differ."""
    config = live_config()
    del config["Origins"]["Items"][0]["OriginAccessControlId"]
    assert dist.differences(dist.managed_config(dist_params()), config) == ["Origins"]


@pytest.mark.parametrize(
    ("over", "key"),
    [
        ({"PriceClass": "PriceClass_All"}, "PriceClass"),
        (
            {"ViewerCertificate": {"CloudFrontDefaultCertificate": True, "MinimumProtocolVersion": "TLSv1"}},
            "ViewerCertificate",
        ),
        ({"Logging": {"Enabled": False, "IncludeCookies": False, "Bucket": "", "Prefix": ""}}, "Logging"),
    ],
    ids=["price-class", "tls-minimum", "logging"],
)
def test_distribution_updated_on_drift_keeping_unmanaged_settings(stub, over: dict[str, Any], key: str) -> None:
    client, stubber = stub
    have = live_config(**over)
    expect_find(stubber, have)
    want = {**have, **dist.managed_config(dist_params())}
    assert want["Restrictions"] == have["Restrictions"]  # settings the module does not own are kept
    stubber.add_response(
        "update_distribution",
        {"Distribution": DIST, "ETag": "ET2"},
        {"Id": "E1DIST", "IfMatch": "ET1", "DistributionConfig": want},
    )
    changed, _, diff = dist.ensure_present(client, dist_params(), check_mode=False)
    assert changed
    assert diff == [key]


def test_distribution_check_mode_does_not_update(stub) -> None:
    client, stubber = stub
    expect_find(stubber, live_config(PriceClass="PriceClass_All"))
    assert dist.ensure_present(client, dist_params(), check_mode=True) == (True, {"id": "E1DIST"}, ["PriceClass"])


def test_distribution_absent_disables_waits_then_deletes(stub) -> None:
    client, stubber = stub
    expect_find(stubber, live_config())
    stubber.add_response(
        "update_distribution",
        {"Distribution": DIST, "ETag": "ET2"},
        {"Id": "E1DIST", "IfMatch": "ET1", "DistributionConfig": live_config(Enabled=False)},
    )
    stubber.add_response("get_distribution", {"Distribution": DIST, "ETag": "ET2"}, {"Id": ANY})
    stubber.add_response("delete_distribution", {}, {"Id": "E1DIST", "IfMatch": "ET2"})
    assert dist.ensure_absent(client, dist_params(state="absent"), check_mode=False)


def test_distribution_absent_when_missing(stub) -> None:
    client, stubber = stub
    expect_find(stubber, None)
    assert not dist.ensure_absent(client, dist_params(state="absent"), check_mode=False)
