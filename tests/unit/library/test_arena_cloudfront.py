"""arena_cloudfront_oac and arena_cloudfront_distribution against botocore's real CloudFront model
(Stubber). The emulator drops OriginAccessControlId from distribution responses, so idempotence of
the distribution (second run unchanged) is proven here, with responses that carry the OAC as AWS does.

The viewer certificate is pinned to what AWS honours (issue 13, defect 6): with the default
*.cloudfront.net certificate "CloudFront automatically sets the security policy to TLSv1 regardless of
the value that you set" (https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ViewerCertificate.html),
so the module asks for TLSv1 there and refuses anything else; an ACM certificate must come from
us-east-1 (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html)
and is served sni-only on the aliases it covers
(https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/CNAMEs.html). The client is the
one AnsibleAWSModule hands out with retry_decorator=AWSRetry.jittered_backoff(): every call takes
aws_retry=True, and throttled calls are retried.
"""

from __future__ import annotations

import ast
import copy
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from arena_loader import library_module
from botocore.stub import ANY, Stubber

ROOT = Path(__file__).resolve().parents[3]


oac = library_module("arena_cloudfront_oac")
dist = library_module("arena_cloudfront_distribution")
OAC_CONFIG = {
    "Name": "arena-static",
    "Description": "d",
    "SigningProtocol": "sigv4",
    "SigningBehavior": "always",
    "OriginAccessControlOriginType": "s3",
}


CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8091-a2b3c4d5e6f7"
VIEWER_DOC = "https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ViewerCertificate.html"
REQ_DOC = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html"
CNAME_DOC = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/CNAMEs.html"


@pytest.fixture
def stub(stub_client: Any) -> tuple[Any, Stubber]:
    # As AnsibleAWSModule.client(..., retry_decorator=AWSRetry.jittered_backoff()) hands it out.
    return stub_client("cloudfront", AWSRetry.jittered_backoff(), region="us-east-1")


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
        "acm_certificate_arn": "",
        "aliases": [],
        "minimum_protocol_version": None,
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
    # What AWS returns for the default certificate: TLSv1 (whatever was asked), vip, cloudfront.
    config["ViewerCertificate"] = {
        "CloudFrontDefaultCertificate": True,
        "SSLSupportMethod": "vip",
        "MinimumProtocolVersion": "TLSv1",
        "CertificateSource": "cloudfront",
    }
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


def expect_find(stubber: Stubber, config: dict[str, Any] | None, throttled: bool = False) -> None:
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
        if throttled:
            stubber.add_client_error("get_distribution_config", service_error_code="Throttling", http_status_code=400)
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
    # The default certificate: TLSv1 is what AWS sets, so that is what is asked for.
    assert expected_config["ViewerCertificate"] == {
        "CloudFrontDefaultCertificate": True,
        "MinimumProtocolVersion": "TLSv1",
    }
    assert expected_config["Aliases"] == {"Quantity": 0}
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
            {
                "ViewerCertificate": {
                    "ACMCertificateArn": CERT,
                    "SSLSupportMethod": "sni-only",
                    "MinimumProtocolVersion": "TLSv1.2_2021",
                }
            },
            "ViewerCertificate",
        ),
        ({"Logging": {"Enabled": False, "IncludeCookies": False, "Bucket": "", "Prefix": ""}}, "Logging"),
    ],
    ids=["price-class", "certificate-dropped", "logging"],
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


# --- Defect 6: the viewer certificate as AWS honours it -------------------------------------------


def test_default_certificate_asks_for_tlsv1_only() -> None:
    """API_ViewerCertificate: with CloudFrontDefaultCertificate=true AWS sets TLSv1 regardless of the
    value requested; the module requests exactly that, so what it asserts is what AWS stores."""
    assert dist.managed_config(dist_params())["ViewerCertificate"] == {
        "CloudFrontDefaultCertificate": True,
        "MinimumProtocolVersion": "TLSv1",
    }


def test_second_run_unchanged_with_awss_default_certificate_response(stub) -> None:
    """AWS answers TLSv1 (plus vip and CertificateSource) for the default certificate: no update loop."""
    client, stubber = stub
    expect_find(stubber, live_config())
    stubber.add_response("get_distribution", {"Distribution": DIST, "ETag": "ET1"}, {"Id": "E1DIST"})
    assert dist.ensure_present(client, dist_params(), check_mode=False)[::2] == (False, [])


def cert_params(**over: Any) -> dict[str, Any]:
    return dist_params(acm_certificate_arn=CERT, aliases=["www.arena.example", "static.arena.example"], **over)


def test_certificate_serves_the_aliases_sni_only_with_tls12(stub) -> None:
    """With an ACM certificate in us-east-1: sni-only, the requested policy (TLSv1.2_2021 by default),
    CloudFrontDefaultCertificate false, and the aliases."""
    client, stubber = stub
    expect_find(stubber, None)
    config = {"CallerReference": "arena-static", **dist.managed_config(cert_params())}
    assert config["ViewerCertificate"] == {
        "CloudFrontDefaultCertificate": False,
        "ACMCertificateArn": CERT,
        "SSLSupportMethod": "sni-only",
        "MinimumProtocolVersion": "TLSv1.2_2021",
    }
    assert config["Aliases"] == {"Quantity": 2, "Items": ["static.arena.example", "www.arena.example"]}
    stubber.add_response(
        "create_distribution_with_tags",
        {"Distribution": DIST},
        {
            "DistributionConfigWithTags": {
                "DistributionConfig": config,
                "Tags": {"Items": [{"Key": "Project", "Value": "arena"}]},
            }
        },
    )
    assert dist.ensure_present(client, cert_params(), check_mode=False)[0]


def test_second_run_unchanged_with_awss_certificate_response(stub) -> None:
    """AWS's shape with an ACM certificate: Certificate and CertificateSource added, aliases in its order."""
    client, stubber = stub
    live = live_config(
        ViewerCertificate={
            "CloudFrontDefaultCertificate": False,
            "ACMCertificateArn": CERT,
            "SSLSupportMethod": "sni-only",
            "MinimumProtocolVersion": "TLSv1.2_2021",
            "Certificate": CERT,
            "CertificateSource": "acm",
        },
        Aliases={"Quantity": 2, "Items": ["www.arena.example", "static.arena.example"]},
    )
    expect_find(stubber, live)
    stubber.add_response("get_distribution", {"Distribution": DIST, "ETag": "ET1"}, {"Id": "E1DIST"})
    assert dist.ensure_present(client, cert_params(), check_mode=False)[::2] == (False, [])


def test_adding_the_certificate_updates_certificate_and_aliases(stub) -> None:
    client, stubber = stub
    have = live_config()
    expect_find(stubber, have)
    stubber.add_response(
        "update_distribution",
        {"Distribution": DIST, "ETag": "ET2"},
        {"Id": "E1DIST", "IfMatch": "ET1", "DistributionConfig": {**have, **dist.managed_config(cert_params())}},
    )
    assert dist.ensure_present(client, cert_params(), check_mode=False)[2] == ["Aliases", "ViewerCertificate"]


@pytest.mark.parametrize(
    ("over", "message"),
    [
        (
            {"minimum_protocol_version": "TLSv1.2_2021"},
            "minimum_protocol_version 'TLSv1.2_2021' is not honoured with the CloudFront default certificate "
            f"(acm_certificate_arn is empty): AWS sets TLSv1 whatever is requested, see {VIEWER_DOC}",
        ),
        (
            {"aliases": ["static.arena.example"]},
            "aliases ['static.arena.example'] need acm_certificate_arn: CloudFront adds an alternate domain name "
            f"only with a certificate that covers it, see {CNAME_DOC}",
        ),
        (
            {"acm_certificate_arn": CERT.replace("us-east-1", "eu-west-1"), "aliases": ["static.arena.example"]},
            f"acm_certificate_arn '{CERT.replace('us-east-1', 'eu-west-1')}' is not an ACM certificate in us-east-1: "
            f"CloudFront uses ACM certificates from us-east-1 only, see {REQ_DOC}",
        ),
        (
            {"acm_certificate_arn": CERT},
            "acm_certificate_arn is set but aliases is empty: CloudFront presents the certificate only on alternate "
            f"domain names, see {VIEWER_DOC}",
        ),
        (
            {"acm_certificate_arn": CERT, "aliases": ["Static.arena.example"]},
            f"aliases must be lower case, got ['Static.arena.example'], see {CNAME_DOC}",
        ),
    ],
    ids=["default-cert-tls12", "aliases-without-cert", "cert-outside-us-east-1", "cert-without-aliases", "upper-case"],
)
def test_module_refuses_what_aws_would_not_honour(over: dict[str, Any], message: str) -> None:
    assert dist.check_params(dist_params(**over)) == message


@pytest.mark.parametrize(
    "over",
    [{}, {"minimum_protocol_version": "TLSv1"}, {"acm_certificate_arn": CERT, "aliases": ["static.arena.example"]}],
    ids=["default-cert", "default-cert-explicit-tlsv1", "certificate"],
)
def test_module_accepts_what_aws_honours(over: dict[str, Any]) -> None:
    assert dist.check_params(dist_params(**over)) is None


# --- Retries: every call through the retrying client, with aws_retry=True --------------------------


def test_distribution_calls_retry_throttling(stub, retry_sleeps) -> None:
    client, stubber = stub
    stubber.add_client_error("list_distributions", service_error_code="Throttling", http_status_code=400)
    expect_find(stubber, None)
    stubber.add_client_error("create_distribution_with_tags", service_error_code="Throttling", http_status_code=400)
    stubber.add_response("create_distribution_with_tags", {"Distribution": DIST}, None)
    assert dist.ensure_present(client, dist_params(), check_mode=False)[0]


def test_distribution_lookup_and_update_retry_throttling(stub, retry_sleeps) -> None:
    client, stubber = stub
    expect_find(stubber, live_config(PriceClass="PriceClass_All"), throttled=True)
    stubber.add_client_error("update_distribution", service_error_code="Throttling", http_status_code=400)
    stubber.add_response("update_distribution", {"Distribution": DIST, "ETag": "ET2"}, None)
    assert dist.ensure_present(client, dist_params(), check_mode=False)[2] == ["PriceClass"]


def test_oac_calls_retry_throttling(stub, retry_sleeps) -> None:
    client, stubber = stub
    stubber.add_client_error("list_origin_access_controls", service_error_code="Throttling", http_status_code=400)
    expect_oac_list(stubber, [])
    stubber.add_client_error("create_origin_access_control", service_error_code="Throttling", http_status_code=400)
    stubber.add_response(
        "create_origin_access_control",
        {"OriginAccessControl": {"Id": "E1OAC", "OriginAccessControlConfig": OAC_CONFIG}, "ETag": "E1"},
        {"OriginAccessControlConfig": OAC_CONFIG},
    )
    assert oac.ensure_present(client, oac_params(), check_mode=False)[0]


@pytest.mark.parametrize("name", ["arena_cloudfront_distribution", "arena_cloudfront_oac"])
def test_every_client_call_takes_aws_retry(name: str) -> None:
    """The client comes from module.client(..., retry_decorator=AWSRetry.jittered_backoff(...)) and every
    API call on it passes aws_retry=True (paginators run inside an AWSRetry-decorated function, waiters
    have their own polling)."""
    tree = ast.parse((ROOT / "library" / f"{name}.py").read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
    made = [
        c
        for c in calls
        if c.func.attr == "client" and isinstance(c.func.value, ast.Name) and c.func.value.id == "module"
    ]
    assert len(made) == 1
    assert "retry_decorator" in {k.arg for k in made[0].keywords}
    api = [
        c
        for c in calls
        if isinstance(c.func.value, ast.Name)
        and c.func.value.id == "client"
        and c.func.attr not in {"get_paginator", "get_waiter"}
    ]
    assert api
    assert [c.func.attr for c in api if "aws_retry" not in {k.arg for k in c.keywords}] == []
    decorated = {
        f.name
        for f in ast.walk(tree)
        if isinstance(f, ast.FunctionDef) and any("jittered_backoff" in ast.unparse(d) for d in f.decorator_list)
    }
    paginating = {
        f.name for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and "get_paginator" in ast.unparse(f)
    }
    assert paginating and paginating <= decorated
