"""Platform services against the emulator: playbooks/platform_services.yml run alone (the
services-only entry point, platform core's ids as extra variables) creates them once; the security
posture is read back with boto3, the static site is published with changed-paths-only invalidation,
and a bad certificate is refused in the validation play before any change.

The services' no-op re-run and their teardown are proven once, where the services run as part of
the platform (playbooks/platform.yml imports platform_services.yml, playbooks/teardown.yml imports it
with platform_services_state=absent), with the same assertions, in
tests/ee/test_ee_platform.py: its no-op re-run (only the CloudFront gap task
changes) and its final teardown (no cache, subnet group, bucket, distribution, OAC, SES identity,
configuration set, topic, SMTP user or parameter of the services left). A second
create/re-run/teardown cycle here would prove nothing more.

Needs the emulator: run through scripts/with-emulator.sh. The test creates what platform core
would (VPC, two private subnets in two zones, the cache security group) itself, and what an operator
provides for static content: an ISSUED ACM certificate in us-east-1 for the alias (imported).

Static content as AWS honours it (issue 13): the distribution serves its alias with the ACM
certificate (us-east-1 only: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html),
sni-only and TLSv1.2_2021 (https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ViewerCertificate.html);
bucket names carry the account id (global namespace:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html); a certificate that is
not ISSUED or does not cover the alias is refused before anything changes
(https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/CNAMEs.html).
"""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from arena_testlib import LAB_INVENTORY, base_env, cache_core_inputs, reset_emulator, run, self_signed
from botocore.exceptions import ClientError
from services_refusals import refused_cases

INVENTORY = ["-i", LAB_INVENTORY]
PLAYBOOK = ["ansible-playbook", *INVENTORY, "playbooks/platform_services.yml"]
ENV = "local"
CACHE = "arena-local-cache"
ACCOUNT = "123456789012"  # the emulator's account
# Bucket names are global: <platform_static_name>-<account id>, <name>-logs-<account id>.
BUCKET = f"arena-local-static-{ACCOUNT}"
LOGS_BUCKET = f"arena-local-static-logs-{ACCOUNT}"
ALIAS = "static.arena-local.test"
DOMAIN = "mail.arena.test"
CONFIG_SET = "arena-local-mail"

pytestmark = pytest.mark.skipif(
    not os.environ.get("AWS_URL", "").startswith("http://127.0.0.1:"),
    reason="needs the emulator: run through scripts/with-emulator.sh",
)


def recap(output: str) -> dict[str, int]:
    match = re.search(r"localhost\s+:\s+(.*)", output)
    assert match, output[-3000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}


def play(*extra: str) -> str:
    result = run([*PLAYBOOK, "-e", f"@{CORE_VARS}", "-e", f"@{STATIC_VARS}", *extra], base_env(), timeout=600)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-6000:]
    return out


def client(name: str) -> Any:
    return boto3.client(name, region_name=os.environ["AWS_REGION"], endpoint_url=os.environ["AWS_URL"])


CORE_VARS = Path(os.environ.get("ARENA_LAB_DIR", "/tmp")) / "services-core-vars.json"
STATIC_VARS = Path(os.environ.get("ARENA_LAB_DIR", "/tmp")) / "services-static-vars.json"


def us_east_1(name: str) -> Any:
    """CloudFront takes ACM certificates from us-east-1 only: the operator's certificate lives there."""
    return boto3.client(name, region_name="us-east-1", endpoint_url=os.environ["AWS_URL"])


@pytest.fixture(scope="module")
def core() -> dict[str, Any]:
    """VPC, two private subnets in two zones and the cache security group, as platform core makes them."""
    # A fresh emulator even when another suite ran before in the same one (with-emulator.sh runs
    # one emulator per command): the platform suite's teardown leaves emulator-gap leftovers.
    reset_emulator()
    values = cache_core_inputs(40)
    CORE_VARS.write_text(json.dumps(values))
    # Imported certificates are ISSUED at once (a requested one stays PENDING_VALIDATION).
    cert, key = self_signed(ALIAS)
    arn = us_east_1("acm").import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
    STATIC_VARS.write_text(json.dumps({"platform_static_certificate_arn": arn, "platform_static_aliases": [ALIAS]}))
    return {**values, "certificate_arn": arn}


@pytest.fixture(scope="module")
def first_run(core: dict[str, Any]) -> str:
    return play()


def ssm_value(name: str) -> dict[str, Any]:
    return client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]


def test_first_run_succeeds(first_run: str) -> None:
    assert recap(first_run)["failed"] == 0
    assert recap(first_run)["changed"] > 0


def test_cache_is_multi_az_with_failover_and_encryption(first_run: str) -> None:
    group = client("elasticache").describe_replication_groups(ReplicationGroupId=CACHE)["ReplicationGroups"][0]
    assert group["MultiAZ"] == "enabled"
    assert group["AutomaticFailover"] == "enabled"
    assert group["AtRestEncryptionEnabled"] is True
    assert group["TransitEncryptionEnabled"] is True
    assert group["AuthTokenEnabled"] is True
    assert group["SnapshotWindow"] == "01:00-02:00"
    subnet_group = client("elasticache").describe_cache_subnet_groups(CacheSubnetGroupName=CACHE)["CacheSubnetGroups"][
        0
    ]
    assert len(subnet_group["Subnets"]) == 2


def test_cache_endpoint_and_token_published_for_first_boot(first_run: str) -> None:
    group = client("elasticache").describe_replication_groups(ReplicationGroupId=CACHE)["ReplicationGroups"][0]
    endpoint = group["NodeGroups"][0]["PrimaryEndpoint"]
    assert ssm_value(f"/arena/{ENV}/api/redis_host")["Value"] == endpoint["Address"]
    assert ssm_value(f"/arena/{ENV}/api/redis_port")["Value"] == str(endpoint["Port"])
    assert ssm_value(f"/arena/{ENV}/api/redis_tls")["Value"] == "true"
    token = ssm_value(f"/arena/{ENV}/api/redis_auth_token")
    assert token["Type"] == "SecureString"
    assert re.fullmatch(r"[A-Za-z0-9]{64}", token["Value"])
    assert token["Value"] not in first_run  # never logged


def test_bucket_is_private_and_tls_only(first_run: str) -> None:
    s3 = client("s3")
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    assert (
        s3.get_bucket_ownership_controls(Bucket=BUCKET)["OwnershipControls"]["Rules"][0]["ObjectOwnership"]
        == "BucketOwnerEnforced"
    )
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    rules = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert rules[0]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    deny = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny[0]["Principal"] == "*"
    allow = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    dist_id = ssm_value(f"/arena/{ENV}/web/static_distribution_id")["Value"]
    assert allow == [
        {
            "Sid": "AllowCloudFrontReadThroughOAC",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
            "Condition": {
                "StringEquals": {"AWS:SourceArn": f"arn:aws:cloudfront::123456789012:distribution/{dist_id}"}
            },
        }
    ]


def test_distribution_is_https_only_with_tls12_and_oac(core: dict[str, Any], first_run: str) -> None:
    """The alias is served with the us-east-1 ACM certificate, sni-only, TLSv1.2_2021 (what AWS honours
    with a certificate; the default certificate would get TLSv1 whatever was asked)."""
    cloudfront = client("cloudfront")
    dist_id = ssm_value(f"/arena/{ENV}/web/static_distribution_id")["Value"]
    config = cloudfront.get_distribution_config(Id=dist_id)["DistributionConfig"]
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert [b["ViewerProtocolPolicy"] for b in config["CacheBehaviors"]["Items"]] == ["redirect-to-https"]
    viewer = config["ViewerCertificate"]
    assert (viewer["CloudFrontDefaultCertificate"], viewer["ACMCertificateArn"], viewer["SSLSupportMethod"]) == (
        False,
        core["certificate_arn"],
        "sni-only",
    )
    assert viewer["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert config["Aliases"] == {"Quantity": 1, "Items": [ALIAS]}
    assert config["DefaultCacheBehavior"]["Compress"] is True
    assert config["PriceClass"] == "PriceClass_100"
    assert config["Logging"]["Enabled"] is True
    assert config["Logging"]["Bucket"] == f"{LOGS_BUCKET}.s3.amazonaws.com"
    assert config["Origins"]["Items"][0]["DomainName"] == f"{BUCKET}.s3.{os.environ['AWS_REGION']}.amazonaws.com"
    # The OAC exists and is the one for the bucket; the emulator drops OriginAccessControlId from the
    # distribution response (gap), so the link itself is asserted in tests/unit/library/test_arena_cloudfront.py.
    oacs = cloudfront.list_origin_access_controls()["OriginAccessControlList"]["Items"]
    assert [(o["Name"], o["SigningBehavior"], o["OriginAccessControlOriginType"]) for o in oacs] == [
        ("arena-local-static", "always", "s3")
    ]
    # Viewers are sent to the alias, where the certificate and its TLS minimum apply.
    assert ssm_value(f"/arena/{ENV}/web/static_domain")["Value"] == ALIAS


def test_dkim_enabled_and_configuration_set_has_its_event_destination(first_run: str) -> None:
    identity = client("sesv2").get_email_identity(EmailIdentity=DOMAIN)
    assert identity["DkimAttributes"]["SigningEnabled"] is True
    assert identity["DkimAttributes"]["NextSigningKeyLength"] == "RSA_2048_BIT"
    assert identity["ConfigurationSetName"] == CONFIG_SET
    cset = client("sesv2").get_configuration_set(ConfigurationSetName=CONFIG_SET)
    assert cset["DeliveryOptions"]["TlsPolicy"] == "REQUIRE"
    dests = client("ses").describe_configuration_set(
        ConfigurationSetName=CONFIG_SET, ConfigurationSetAttributeNames=["eventDestinations"]
    )["EventDestinations"]
    topic = [
        t["TopicArn"]
        for t in client("sns").list_topics()["Topics"]
        if t["TopicArn"].endswith(":arena-local-mail-events")
    ]
    assert [(d["Enabled"], sorted(d["MatchingEventTypes"]), d["SNSDestination"]["TopicARN"]) for d in dests] == [
        (True, ["bounce", "complaint"], topic[0])
    ]
    policies = client("sesv2").get_email_identity_policies(EmailIdentity=DOMAIN)["Policies"]
    statement = json.loads(policies["arena-local-mail-relay"])["Statement"][0]
    assert statement["Principal"] == {"AWS": "arn:aws:iam::123456789012:user/arena-local-mail-smtp"}


def test_smtp_credentials_published_for_the_relay(first_run: str) -> None:
    assert ssm_value(f"/arena/{ENV}/mail/smtp_host")["Value"] == f"email-smtp.{os.environ['AWS_REGION']}.amazonaws.com"
    assert ssm_value(f"/arena/{ENV}/mail/smtp_port")["Value"] == "587"
    user = ssm_value(f"/arena/{ENV}/mail/smtp_username")["Value"]
    keys = client("iam").list_access_keys(UserName="arena-local-mail-smtp")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [user]
    password = ssm_value(f"/arena/{ENV}/mail/smtp_password")
    assert password["Type"] == "SecureString"
    raw = base64.b64decode(password["Value"])
    assert (raw[0], len(raw)) == (0x04, 33)
    assert password["Value"] not in first_run


def test_static_publish_invalidates_changed_paths_only(first_run: str, tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "assets").mkdir(parents=True)
    (site / "index.html").write_text("<html>v1</html>")
    (site / "about.html").write_text("<html>about</html>")
    (site / "assets" / "app.0f1e2d.js").write_text("console.log(1)")
    cloudfront = client("cloudfront")
    dist_id = ssm_value(f"/arena/{ENV}/web/static_distribution_id")["Value"]
    s3 = client("s3")
    # The TLS-only policy is enforced by the emulator: a plain-HTTP upload is refused.
    with pytest.raises(ClientError, match="Forbidden"):
        s3.put_object(Bucket=BUCKET, Key="probe.txt", Body=b"x")
    # The emulator only speaks HTTP, so for the publish step the TLS condition is lifted (the rest
    # of the policy stays); on AWS the publish runs over HTTPS with the full policy.
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    policy["Statement"] = [st for st in policy["Statement"] if st["Sid"] != "DenyInsecureTransport"]
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy))

    def publish() -> list[list[str]]:
        result = run(
            ["ansible-playbook", *INVENTORY, "playbooks/static_publish.yml", "-e", f"platform_static_site_dir={site}"],
            base_env(),
            timeout=300,
        )
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
        items = cloudfront.list_invalidations(DistributionId=dist_id)["InvalidationList"].get("Items", [])
        return [
            sorted(
                cloudfront.get_invalidation(DistributionId=dist_id, Id=i["Id"])["Invalidation"]["InvalidationBatch"][
                    "Paths"
                ]["Items"]
            )
            for i in items
        ]

    first = publish()
    assert first == [["/", "/about.html", "/assets/app.0f1e2d.js", "/index.html"]]
    assert (
        s3.head_object(Bucket=BUCKET, Key="assets/app.0f1e2d.js")["CacheControl"]
        == "public, max-age=31536000, immutable"
    )
    assert s3.head_object(Bucket=BUCKET, Key="index.html")["CacheControl"] == "public, max-age=60"
    (site / "about.html").write_text("<html>about v2</html>")
    second = publish()
    assert len(second) == 2
    assert ["/about.html"] in second  # only the changed page, nothing else


@pytest.fixture(scope="module")
def certificate_refusals(core: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The three certificate cases, refused in one --check run of the services' validation play
    (services_refusals.refused_cases; that a refusal there stops the playbook before its services
    play is proven in test_services_inputs.py). A requested certificate stays PENDING_VALIDATION in
    the lab's emulator, as on AWS until it is validated (scripts/lab/emulator_server.py)."""
    pending = us_east_1("acm").request_certificate(DomainName=ALIAS)["CertificateArn"]
    cert, key = self_signed(ALIAS)
    elsewhere = client("acm").import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
    claimed = elsewhere.replace(f":{os.environ['AWS_REGION']}:", ":us-east-1:")
    good = {
        "platform_cache_vpc_id": core["platform_cache_vpc_id"],
        "platform_cache_subnet_ids": core["platform_cache_subnet_ids"],
        "platform_cache_security_group_ids": core["platform_cache_security_group_ids"],
        "platform_static_certificate_arn": core["certificate_arn"],
        "platform_static_aliases": [ALIAS],
    }
    cases = [
        ("pending", {**good, "platform_static_certificate_arn": pending}),
        ("alias-not-covered", {**good, "platform_static_aliases": [ALIAS, "cdn.arena-local.test"]}),
        ("not-in-us-east-1", {**good, "platform_static_certificate_arn": claimed}),
    ]
    try:
        refused = refused_cases(tmp_path_factory.mktemp("refusals"), cases, base_env(), INVENTORY[1])
    finally:
        us_east_1("acm").delete_certificate(CertificateArn=pending)
        client("acm").delete_certificate(CertificateArn=elsewhere)
    return {"refused": refused, "pending": pending, "claimed": claimed}


def test_pending_certificate_refused_before_any_change(certificate_refusals: dict[str, Any]) -> None:
    """A certificate still PENDING_VALIDATION (requested, not validated) cannot serve an alias
    (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/CNAMEs.html)."""
    arn = certificate_refusals["pending"]
    assert (
        f"arena_edge_cloudfront_certificate_issued: platform_static_certificate_arn '{arn}' is PENDING_VALIDATION, "
        "not ISSUED: CloudFront attaches only a valid (issued) certificate that covers the alternate domain names; "
        "finish its validation first, see https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/CNAMEs.html"
    ) in certificate_refusals["refused"]["pending"][1]


def test_alias_not_covered_by_the_certificate_refused_before_any_change(
    core: dict[str, Any], certificate_refusals: dict[str, Any]
) -> None:
    """CloudFront checks each alias against the certificate's subject alternative names (CNAMEs page)."""
    assert (
        "arena_edge_cloudfront_aliases_covered: platform_static_aliases ['cdn.arena-local.test'] not covered by "
        f"certificate '{core['certificate_arn']}' (its names: ['{ALIAS}']): CloudFront refuses an alternate domain "
        "name that the certificate's subject alternative names do not cover, see "
        "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/CNAMEs.html"
    ) in certificate_refusals["refused"]["alias-not-covered"][1]


def test_certificate_missing_in_us_east_1_refused_before_any_change(certificate_refusals: dict[str, Any]) -> None:
    """The certificate is looked up in us-east-1 (the only region CloudFront takes it from): one that
    exists only in the platform's region is not found there."""
    claimed = certificate_refusals["claimed"]
    assert (
        f"arena_edge_cloudfront_certificate_issued: platform_static_certificate_arn '{claimed}' is not a certificate "
        "in ACM in us-east-1 of the target account: CloudFront needs an ISSUED ACM certificate from us-east-1, see "
        "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html"
    ) in certificate_refusals["refused"]["not-in-us-east-1"][1]
