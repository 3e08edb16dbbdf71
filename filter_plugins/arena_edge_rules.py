"""Edge rules: what AWS honours at the platform's edge (CloudFront + S3 static content, load balancers).

Pure checks the roles call before any change (``tasks/validate.yml``, and right after the reads a
rule needs). Each raises ``AnsibleFilterError("<filter>: ...")`` naming the variable, the rule and
the AWS documentation page, or returns the checked (normalised) value.

Filters:
    ``arena_edge_cloudfront_certificate_arn(arn)``: an ACM certificate ARN in us-east-1, or ''.
    ``arena_edge_cloudfront_certificate_issued(certificates, arn)``: the certificate read from ACM in
        us-east-1 (``community.aws.acm_certificate_info`` result), refused unless it is ISSUED.
    ``arena_edge_cloudfront_minimum_protocol_version(version, certificate_arn)``: a TLS security
        policy AWS honours with the configured certificate (default certificate: TLSv1 only).
    ``arena_edge_cloudfront_aliases(aliases, certificate_arn)``: lower-case alternate domain names,
        given together with a certificate (and a certificate only with aliases).
    ``arena_edge_cloudfront_aliases_covered(aliases, certificate)``: every alias covered by the
        certificate's domain name or subject alternative names.
    ``arena_edge_bucket_name(prefix, account_id, variable, suffix)``: ``<prefix><suffix>-<account id>``,
        refused when S3 would.
    ``arena_edge_aws_partition(region)``: the ARN partition of a region.
    ``arena_edge_elb_log_delivery_principal(region, accounts)``: the bucket-policy principal that
        delivers ALB access logs in the region.
    ``arena_edge_acm_certificate_for_domain(certificates, domain, statuses)``: the ARN of the ISSUED
        certificate of a domain (latest expiry first).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError

VIEWER_CERTIFICATE_DOC = "https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ViewerCertificate.html"
CERTIFICATE_REQUIREMENTS_DOC = (
    "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html"
)
ALTERNATE_DOMAIN_NAMES_DOC = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/CNAMEs.html"
BUCKET_NAMING_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html"
ELB_ACCESS_LOGS_DOC = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html"
ACM_LIST_CERTIFICATES_DOC = "https://docs.aws.amazon.com/acm/latest/APIReference/API_ListCertificates.html"

# CloudFront takes ACM certificates from US East (N. Virginia) only.
CLOUDFRONT_ACM_REGION = "us-east-1"
# With CloudFrontDefaultCertificate=true AWS sets the security policy to TLSv1 "regardless of the
# value that you set" (ViewerCertificate.MinimumProtocolVersion).
DEFAULT_CERTIFICATE_POLICY = "TLSv1"
# The security policies of the API (botocore's cloudfront model) and those the platform accepts with
# its own certificate (sni-only): TLS 1.2 or newer.
CLOUDFRONT_POLICIES = (
    "SSLv3",
    "TLSv1",
    "TLSv1_2016",
    "TLSv1.1_2016",
    "TLSv1.2_2018",
    "TLSv1.2_2019",
    "TLSv1.2_2021",
    "TLSv1.2_2025",
    "TLSv1.3_2025",
)
PLATFORM_POLICIES = ("TLSv1.2_2021", "TLSv1.2_2025", "TLSv1.3_2025")
ELB_LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"

ACM_ARN_RE = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):acm:([a-z0-9-]+):(\d{12}):certificate/[A-Za-z0-9-]+$")
REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
ACCOUNT_RE = re.compile(r"^\d{12}$")
LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
BUCKET_MAX = 63
BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def _names(value: Any, filter_name: str, variable: str) -> list[str]:
    if not isinstance(value, Sequence) or isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise AnsibleFilterError(f"{filter_name}: {variable} must be a list of domain names, got {value!r}")
    return list(value)


def cloudfront_certificate_arn(arn: Any, variable: str = "platform_static_certificate_arn") -> str:
    """``arn`` when it is an ACM certificate ARN in us-east-1; '' (the default certificate) stays ''."""
    name = "arena_edge_cloudfront_certificate_arn"
    if arn in ("", None):
        return ""
    match = ACM_ARN_RE.match(arn) if isinstance(arn, str) else None
    if match is None:
        raise AnsibleFilterError(
            f"{name}: {variable} {arn!r} is not an ACM certificate ARN "
            f"(arn:aws:acm:{CLOUDFRONT_ACM_REGION}:<account>:certificate/<id>): CloudFront viewers' HTTPS "
            f"uses an ACM certificate requested or imported in {CLOUDFRONT_ACM_REGION}, "
            f"see {CERTIFICATE_REQUIREMENTS_DOC}"
        )
    if match.group(2) != CLOUDFRONT_ACM_REGION:
        raise AnsibleFilterError(
            f"{name}: {variable} {arn!r} is in {match.group(2)}: CloudFront uses ACM certificates from "
            f"{CLOUDFRONT_ACM_REGION} (US East, N. Virginia) only; request or import it there, "
            f"see {CERTIFICATE_REQUIREMENTS_DOC}"
        )
    return arn


def cloudfront_certificate_issued(
    certificates: Any, arn: str, variable: str = "platform_static_certificate_arn"
) -> dict[str, Any]:
    """The certificate ``arn`` among ``certificates`` (read from ACM in us-east-1), refused unless ISSUED."""
    name = "arena_edge_cloudfront_certificate_issued"
    if not isinstance(certificates, Sequence) or isinstance(certificates, str):
        raise AnsibleFilterError(
            f"{name}: certificates must be the list acm_certificate_info returns, got {certificates!r}"
        )
    found = [c for c in certificates if isinstance(c, Mapping) and c.get("certificate_arn") == arn]
    if not found:
        raise AnsibleFilterError(
            f"{name}: {variable} {arn!r} is not a certificate in ACM in {CLOUDFRONT_ACM_REGION} of the target "
            f"account: CloudFront needs an ISSUED ACM certificate from {CLOUDFRONT_ACM_REGION}, "
            f"see {CERTIFICATE_REQUIREMENTS_DOC}"
        )
    status = found[0].get("status", "")
    if status != "ISSUED":
        raise AnsibleFilterError(
            f"{name}: {variable} {arn!r} is {status or 'of unknown status'}, not ISSUED: CloudFront attaches only a "
            f"valid (issued) certificate that covers the alternate domain names; finish its validation "
            f"first, see {ALTERNATE_DOMAIN_NAMES_DOC}"
        )
    return dict(found[0])


def cloudfront_minimum_protocol_version(
    version: Any,
    certificate_arn: str,
    variable: str = "platform_static_minimum_protocol_version",
    certificate_variable: str = "platform_static_certificate_arn",
    aliases_variable: str = "platform_static_aliases",
) -> str:
    """``version`` when AWS honours it with the configured certificate (none: the default one)."""
    name = "arena_edge_cloudfront_minimum_protocol_version"
    if version not in CLOUDFRONT_POLICIES:
        raise AnsibleFilterError(
            f"{name}: {variable} {version!r} is not a CloudFront security policy "
            f"({', '.join(CLOUDFRONT_POLICIES)}), see {VIEWER_CERTIFICATE_DOC}"
        )
    if not certificate_arn:
        if version != DEFAULT_CERTIFICATE_POLICY:
            raise AnsibleFilterError(
                f"{name}: {variable} {version!r} is not honoured with the CloudFront default certificate "
                f"({certificate_variable} is empty): AWS sets {DEFAULT_CERTIFICATE_POLICY} whatever is requested. "
                f"Use {DEFAULT_CERTIFICATE_POLICY}, or set {certificate_variable} (an ISSUED ACM certificate in "
                f"{CLOUDFRONT_ACM_REGION}) and {aliases_variable} for {' / '.join(PLATFORM_POLICIES)}, "
                f"see {VIEWER_CERTIFICATE_DOC}"
            )
        return version
    if version not in PLATFORM_POLICIES:
        raise AnsibleFilterError(
            f"{name}: {variable} {version!r} is below the platform minimum for viewers of "
            f"{aliases_variable} (certificate {certificate_variable}, sni-only): use "
            f"{', '.join(PLATFORM_POLICIES)}, see {VIEWER_CERTIFICATE_DOC}"
        )
    return version


def _valid_alias(alias: str) -> bool:
    labels = alias.split(".")
    if labels[0] == "*":
        labels = labels[1:]
    return len(labels) >= 2 and len(alias) <= 253 and all(LABEL_RE.match(label) for label in labels)


def cloudfront_aliases(
    aliases: Any,
    certificate_arn: str,
    variable: str = "platform_static_aliases",
    certificate_variable: str = "platform_static_certificate_arn",
) -> list[str]:
    """Sorted alternate domain names, refused unless lower-case domain names given with a certificate."""
    name = "arena_edge_cloudfront_aliases"
    names = _names(aliases, name, variable)
    bad = [a for a in names if not _valid_alias(a)]
    if bad:
        raise AnsibleFilterError(
            f"{name}: {variable} must be lower-case domain names (a leading '*.' wildcard allowed), got {bad}: "
            f"CloudFront alternate domain names must be lower-case, see {ALTERNATE_DOMAIN_NAMES_DOC}"
        )
    twice = sorted({a for a in names if names.count(a) > 1})
    if twice:
        raise AnsibleFilterError(f"{name}: {variable} lists {twice} more than once")
    if names and not certificate_arn:
        raise AnsibleFilterError(
            f"{name}: {variable} {names} needs {certificate_variable}: CloudFront adds an alternate domain name "
            f"only with a trusted certificate that covers it (the default *.cloudfront.net certificate covers "
            f"none), see {ALTERNATE_DOMAIN_NAMES_DOC}"
        )
    if certificate_arn and not names:
        raise AnsibleFilterError(
            f"{name}: {certificate_variable} is set but {variable} is empty: CloudFront presents the certificate "
            f"and its security policy only on alternate domain names (viewers of the *.cloudfront.net name get "
            f"the default certificate and {DEFAULT_CERTIFICATE_POLICY}), see {VIEWER_CERTIFICATE_DOC}"
        )
    return sorted(names)


def _covers(certificate_name: str, alias: str) -> bool:
    certificate_name, alias = certificate_name.lower(), alias.lower()
    if certificate_name == alias:
        return True
    # A certificate wildcard covers exactly one label: *.example.com covers www.example.com, not
    # a.b.example.com nor example.com (an alias wildcard needs the same wildcard on the certificate).
    if certificate_name.startswith("*.") and not alias.startswith("*."):
        head, _, rest = alias.partition(".")
        return bool(head) and rest == certificate_name[2:]
    return False


def cloudfront_aliases_covered(aliases: Any, certificate: Any, variable: str = "platform_static_aliases") -> list[str]:
    """``aliases`` when the certificate's domain name or subject alternative names cover each one."""
    name = "arena_edge_cloudfront_aliases_covered"
    names = _names(aliases, name, variable)
    if not isinstance(certificate, Mapping):
        raise AnsibleFilterError(
            f"{name}: certificate must be one acm_certificate_info certificate, got {certificate!r}"
        )
    covered_by = [certificate.get("domain_name", ""), *(certificate.get("subject_alternative_names") or [])]
    covered_by = sorted({n for n in covered_by if n})
    uncovered = [a for a in names if not any(_covers(c, a) for c in covered_by)]
    if uncovered:
        raise AnsibleFilterError(
            f"{name}: {variable} {uncovered} not covered by certificate {certificate.get('certificate_arn', '')!r} "
            f"(its names: {covered_by}): CloudFront refuses an alternate domain name that the certificate's "
            f"subject alternative names do not cover, see {ALTERNATE_DOMAIN_NAMES_DOC}"
        )
    return sorted(names)


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# S3 general purpose bucket naming rules (BUCKET_NAMING_DOC), plus the platform's: no dots (a dotted
# name breaks the bucket's virtual-hosted HTTPS name) and no '--' (S3 reserves xn--, --ol-s3 ...).
BUCKET_RULES: tuple[tuple[Any, str], ...] = (
    (lambda b: 3 <= len(b) <= BUCKET_MAX, f"bucket names are 3 to {BUCKET_MAX} characters long"),
    (
        lambda b: re.fullmatch(r"[a-z0-9-]+", b) is not None,
        "bucket names here are lower-case letters, digits and hyphens only (S3 also allows dots, the platform "
        "does not: a dotted name breaks the virtual-hosted HTTPS name of the bucket)",
    ),
    (lambda b: b[0].isalnum() and b[-1].isalnum(), "bucket names begin and end with a letter or digit"),
    (
        lambda b: "--" not in b,
        "the platform refuses '--' in bucket names (S3 reserves xn--, --ol-s3, --x-s3, --table-s3)",
    ),
    (
        lambda b: not b.startswith(BUCKET_RESERVED_PREFIXES) and not b.endswith(BUCKET_RESERVED_SUFFIXES),
        f"S3 reserves the prefixes {', '.join(BUCKET_RESERVED_PREFIXES)} "
        f"and the suffixes {', '.join(BUCKET_RESERVED_SUFFIXES)}",
    ),
    (lambda b: not _is_ip_address(b), "bucket names must not be formatted as an IP address"),
)


def _bucket_problem(bucket: str) -> str | None:
    return next((message for ok, message in BUCKET_RULES if not ok(bucket)), None)


def bucket_name(prefix: Any, account_id: Any, variable: str = "bucket prefix", suffix: str = "") -> str:
    """``<prefix><suffix>-<account id>``: bucket names are global, the account id keeps ours unique."""
    name = "arena_edge_bucket_name"
    account = str(account_id) if isinstance(account_id, (str, int)) else ""
    if not ACCOUNT_RE.match(account):
        raise AnsibleFilterError(f"{name}: the AWS account id must be 12 digits, got {account_id!r}")
    if not isinstance(prefix, str) or not prefix:
        raise AnsibleFilterError(f"{name}: {variable} must be a non-empty string, got {prefix!r}")
    bucket = f"{prefix}{suffix}-{account}"
    problem = _bucket_problem(bucket)
    if problem:
        longest = BUCKET_MAX - len(suffix) - len(account) - 1
        raise AnsibleFilterError(
            f"{name}: {variable} {prefix!r} makes the bucket name {bucket!r} ({len(bucket)} characters), which "
            f"is refused: {problem}. Bucket names are global, so the 12-digit account id is appended "
            f"({variable} may have at most {longest} characters here), see {BUCKET_NAMING_DOC}"
        )
    return bucket


def aws_partition(region: Any) -> str:
    """ARN partition of ``region``: aws-cn (China), aws-us-gov (GovCloud) or aws."""
    if not isinstance(region, str) or not REGION_RE.match(region):
        raise AnsibleFilterError(f"arena_edge_aws_partition: region must look like 'eu-west-1', got {region!r}")
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def elb_log_delivery_principal(region: Any, accounts: Any) -> dict[str, str]:
    """Who writes ALB access logs into the bucket of ``region``.

    Regions available before August 2022 deliver as the Elastic Load Balancing account of the region
    (``accounts``, which must list every one of them); regions available since then deliver through
    the service principal logdelivery.elasticloadbalancing.amazonaws.com (ELB_ACCESS_LOGS_DOC).
    """
    name = "arena_edge_elb_log_delivery_principal"
    partition = aws_partition(region)
    if not isinstance(accounts, Mapping):
        raise AnsibleFilterError(
            f"{name}: accounts must map regions to Elastic Load Balancing account ids, got {accounts!r}"
        )
    account = accounts.get(region)
    if account is None:
        return {"Service": ELB_LOG_DELIVERY_SERVICE}
    if not ACCOUNT_RE.match(str(account)):
        raise AnsibleFilterError(
            f"{name}: the Elastic Load Balancing account of {region} must be 12 digits, got {account!r} "
            f"(see {ELB_ACCESS_LOGS_DOC})"
        )
    return {"AWS": f"arn:{partition}:iam::{account}:root"}


def acm_certificate_for_domain(
    certificates: Any,
    domain: Any,
    statuses: Any = ("ISSUED",),
    variable: str = "platform_load_balancers_certificate_domain",
    arn_variable: str = "platform_load_balancers_certificate_arn",
) -> str:
    """ARN of the certificate of ``domain`` in one of ``statuses`` (latest expiry first)."""
    name = "arena_edge_acm_certificate_for_domain"
    if not isinstance(certificates, Sequence) or isinstance(certificates, str):
        raise AnsibleFilterError(
            f"{name}: certificates must be the list acm_certificate_info returns, got {certificates!r}"
        )
    wanted = tuple(statuses) if isinstance(statuses, Sequence) and not isinstance(statuses, str) else (statuses,)
    mine = [c for c in certificates if isinstance(c, Mapping) and c.get("domain_name") == domain]
    usable = [c for c in mine if c.get("status") in wanted]
    if not usable:
        seen = [f"{c.get('certificate_arn', '?')} {c.get('status', '?')}" for c in mine]
        raise AnsibleFilterError(
            f"{name}: no {' or '.join(wanted)} ACM certificate for {variable} {domain!r} in this region "
            f"(found: {seen or 'none'}): an HTTPS listener needs an issued certificate; finish its validation "
            f"or set {arn_variable}, see {ACM_LIST_CERTIFICATES_DOC}"
        )
    usable.sort(key=lambda c: (str(c.get("not_after", "")), str(c.get("certificate_arn", ""))), reverse=True)
    return str(usable[0]["certificate_arn"])


class FilterModule:
    """Edge rules (CloudFront, S3 bucket names, ALB access logs, ACM)."""

    def filters(self) -> dict[str, Any]:
        return {
            "arena_edge_cloudfront_certificate_arn": cloudfront_certificate_arn,
            "arena_edge_cloudfront_certificate_issued": cloudfront_certificate_issued,
            "arena_edge_cloudfront_minimum_protocol_version": cloudfront_minimum_protocol_version,
            "arena_edge_cloudfront_aliases": cloudfront_aliases,
            "arena_edge_cloudfront_aliases_covered": cloudfront_aliases_covered,
            "arena_edge_bucket_name": bucket_name,
            "arena_edge_aws_partition": aws_partition,
            "arena_edge_elb_log_delivery_principal": elb_log_delivery_principal,
            "arena_edge_acm_certificate_for_domain": acm_certificate_for_domain,
        }
