"""filter_plugins/arena_edge_rules.py: what AWS honours at the edge, with exact refusal messages.

Each rule cites its AWS documentation page (the same URL is in the refusal message):
- CloudFront ViewerCertificate: with CloudFrontDefaultCertificate=true "CloudFront automatically sets
  the security policy to TLSv1 regardless of the value that you set"; sni-only needs TLSv1 or later
  https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ViewerCertificate.html
- ACM certificates for CloudFront come from us-east-1 only
  https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html
- alternate domain names: lower case, covered by a valid certificate's SANs (a wildcard covers one label)
  https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/CNAMEs.html
- S3 bucket names: 3-63 characters, global namespace, reserved prefixes/suffixes
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
- ALB access logs: Regions available before August 2022 use the Region's ELB account, newer ones
  the service principal logdelivery.elasticloadbalancing.amazonaws.com
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html
- ACM ListCertificates CertificateStatuses
  https://docs.aws.amazon.com/acm/latest/APIReference/API_ListCertificates.html
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import yaml
from ansible.errors import AnsibleFilterError
from arena_loader import filter_plugin

ROOT = Path(__file__).resolve().parents[3]


edge = filter_plugin("arena_edge_rules")
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8091-a2b3c4d5e6f7"
VIEWER_DOC = "https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ViewerCertificate.html"
REQ_DOC = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html"
CNAME_DOC = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/CNAMEs.html"
BUCKET_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html"
ACM_DOC = "https://docs.aws.amazon.com/acm/latest/APIReference/API_ListCertificates.html"


def refused(func: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(AnsibleFilterError) as err:
        func(*args, **kwargs)
    return str(err.value.message)


def test_filter_module_exposes_every_rule() -> None:
    assert sorted(edge.FilterModule().filters()) == [
        "arena_edge_acm_certificate_for_domain",
        "arena_edge_aws_partition",
        "arena_edge_bucket_name",
        "arena_edge_cloudfront_aliases",
        "arena_edge_cloudfront_aliases_covered",
        "arena_edge_cloudfront_certificate_arn",
        "arena_edge_cloudfront_certificate_issued",
        "arena_edge_cloudfront_minimum_protocol_version",
        "arena_edge_elb_log_delivery_principal",
    ]


# --- Defect 6: the default certificate ignores the requested TLS policy (AWS sets TLSv1) -------------


@pytest.mark.parametrize("version", ["TLSv1.2_2021", "TLSv1.3_2025", "TLSv1.2_2018", "TLSv1.1_2016"])
def test_default_certificate_honours_only_tlsv1(version: str) -> None:
    """API_ViewerCertificate: with the default certificate AWS sets TLSv1 whatever is requested."""
    assert refused(edge.cloudfront_minimum_protocol_version, version, "") == (
        f"arena_edge_cloudfront_minimum_protocol_version: platform_static_minimum_protocol_version '{version}' is "
        "not honoured with the CloudFront default certificate (platform_static_certificate_arn is empty): AWS sets "
        "TLSv1 whatever is requested. Use TLSv1, or set platform_static_certificate_arn (an ISSUED ACM certificate "
        "in us-east-1) and platform_static_aliases for TLSv1.2_2021 / TLSv1.2_2025 / TLSv1.3_2025, "
        f"see {VIEWER_DOC}"
    )


def test_default_certificate_with_tlsv1_is_what_aws_stores() -> None:
    assert edge.cloudfront_minimum_protocol_version("TLSv1", "") == "TLSv1"


@pytest.mark.parametrize("version", ["TLSv1.2_2021", "TLSv1.2_2025", "TLSv1.3_2025"])
def test_certificate_honours_the_platform_policies(version: str) -> None:
    assert edge.cloudfront_minimum_protocol_version(version, CERT) == version


@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_2016", "TLSv1.1_2016", "TLSv1.2_2019", "SSLv3"])
def test_certificate_below_the_platform_minimum_refused(version: str) -> None:
    assert refused(edge.cloudfront_minimum_protocol_version, version, CERT) == (
        f"arena_edge_cloudfront_minimum_protocol_version: platform_static_minimum_protocol_version '{version}' is "
        "below the platform minimum for viewers of platform_static_aliases (certificate "
        "platform_static_certificate_arn, sni-only): use TLSv1.2_2021, TLSv1.2_2025, TLSv1.3_2025, "
        f"see {VIEWER_DOC}"
    )


def test_unknown_policy_refused() -> None:
    assert refused(edge.cloudfront_minimum_protocol_version, "TLSv1.2", CERT) == (
        "arena_edge_cloudfront_minimum_protocol_version: platform_static_minimum_protocol_version 'TLSv1.2' is not a "
        "CloudFront security policy (SSLv3, TLSv1, TLSv1_2016, TLSv1.1_2016, TLSv1.2_2018, TLSv1.2_2019, "
        f"TLSv1.2_2021, TLSv1.2_2025, TLSv1.3_2025), see {VIEWER_DOC}"
    )


def test_policies_are_botocores() -> None:
    """The policy list is the API's (botocore's cloudfront model), so no value AWS rejects is accepted."""
    model = botocore.session.get_session().get_service_model("cloudfront")
    assert sorted(edge.CLOUDFRONT_POLICIES) == sorted(model.shape_for("MinimumProtocolVersion").enum)


# --- The certificate: an ACM ARN in us-east-1, ISSUED, covering every alias --------------------------


def test_certificate_arn_in_us_east_1_accepted_and_empty_kept() -> None:
    assert edge.cloudfront_certificate_arn(CERT) == CERT
    assert edge.cloudfront_certificate_arn("") == ""


def test_certificate_outside_us_east_1_refused() -> None:
    """cnames-and-https-requirements: CloudFront takes ACM certificates from us-east-1 only."""
    arn = CERT.replace("us-east-1", "eu-west-1")
    assert refused(edge.cloudfront_certificate_arn, arn) == (
        f"arena_edge_cloudfront_certificate_arn: platform_static_certificate_arn '{arn}' is in eu-west-1: CloudFront "
        "uses ACM certificates from us-east-1 (US East, N. Virginia) only; request or import it there, "
        f"see {REQ_DOC}"
    )


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::123456789012:server-certificate/static",
        "0f1e2d3c-4b5a-6978-8091-a2b3c4d5e6f7",
        "arn:aws:acm:us-east-1:1234:certificate/x",
    ],
)
def test_non_acm_certificate_refused(arn: str) -> None:
    assert refused(edge.cloudfront_certificate_arn, arn) == (
        f"arena_edge_cloudfront_certificate_arn: platform_static_certificate_arn '{arn}' is not an ACM certificate "
        "ARN (arn:aws:acm:us-east-1:<account>:certificate/<id>): CloudFront viewers' HTTPS uses an ACM certificate "
        f"requested or imported in us-east-1, see {REQ_DOC}"
    )


def acm(status: str = "ISSUED", domain: str = "static.arena.example", sans: list[str] | None = None) -> dict:
    """One certificate as community.aws.acm_certificate_info returns it (snake_case DescribeCertificate)."""
    return {
        "certificate_arn": CERT,
        "domain_name": domain,
        "subject_alternative_names": sans if sans is not None else [domain],
        "status": status,
    }


def test_issued_certificate_returned() -> None:
    assert edge.cloudfront_certificate_issued([acm()], CERT) == acm()


@pytest.mark.parametrize("status", ["PENDING_VALIDATION", "EXPIRED", "REVOKED", "INACTIVE", "FAILED"])
def test_certificate_not_issued_refused(status: str) -> None:
    """CNAMEs: an alternate domain name needs a valid certificate; ACM's status must be ISSUED."""
    assert refused(edge.cloudfront_certificate_issued, [acm(status)], CERT) == (
        f"arena_edge_cloudfront_certificate_issued: platform_static_certificate_arn '{CERT}' is {status}, not "
        "ISSUED: CloudFront attaches only a valid (issued) certificate that covers the alternate domain names; "
        f"finish its validation first, see {CNAME_DOC}"
    )


def test_certificate_missing_in_us_east_1_refused() -> None:
    assert refused(edge.cloudfront_certificate_issued, [], CERT) == (
        f"arena_edge_cloudfront_certificate_issued: platform_static_certificate_arn '{CERT}' is not a certificate in "
        "ACM in us-east-1 of the target account: CloudFront needs an ISSUED ACM certificate from us-east-1, "
        f"see {REQ_DOC}"
    )


@pytest.mark.parametrize(
    ("aliases", "names"),
    [
        (["static.arena.example"], ["static.arena.example"]),
        (["cdn.arena.example", "static.arena.example"], ["*.arena.example"]),
        (["*.arena.example"], ["*.arena.example"]),
        (["arena.example", "www.arena.example"], ["arena.example", "*.arena.example"]),
    ],
    ids=["exact", "wildcard-one-label", "wildcard-alias", "apex-and-wildcard"],
)
def test_aliases_covered(aliases: list[str], names: list[str]) -> None:
    cert = acm(domain=names[0], sans=names)
    assert edge.cloudfront_aliases_covered(aliases, cert) == sorted(aliases)


@pytest.mark.parametrize(
    ("aliases", "names", "uncovered"),
    [
        (["static.arena.example", "cdn.arena.example"], ["static.arena.example"], ["cdn.arena.example"]),
        (["a.b.arena.example"], ["*.arena.example"], ["a.b.arena.example"]),
        (["arena.example"], ["*.arena.example"], ["arena.example"]),
        (["*.arena.example"], ["static.arena.example"], ["*.arena.example"]),
    ],
    ids=["other-name", "wildcard-is-one-label", "wildcard-not-apex", "alias-wildcard-needs-cert-wildcard"],
)
def test_aliases_not_covered_refused(aliases: list[str], names: list[str], uncovered: list[str]) -> None:
    """CNAMEs: CloudFront checks the alias against the certificate's subject alternative names."""
    cert = acm(domain=names[0], sans=names)
    assert refused(edge.cloudfront_aliases_covered, aliases, cert) == (
        f"arena_edge_cloudfront_aliases_covered: platform_static_aliases {uncovered} not covered by certificate "
        f"'{CERT}' (its names: {sorted(set(names))}): CloudFront refuses an alternate domain name that the "
        f"certificate's subject alternative names do not cover, see {CNAME_DOC}"
    )


def test_aliases_with_certificate_sorted() -> None:
    assert edge.cloudfront_aliases(["www.arena.example", "static.arena.example"], CERT) == [
        "static.arena.example",
        "www.arena.example",
    ]
    assert edge.cloudfront_aliases([], "") == []


def test_aliases_without_certificate_refused() -> None:
    assert refused(edge.cloudfront_aliases, ["static.arena.example"], "") == (
        "arena_edge_cloudfront_aliases: platform_static_aliases ['static.arena.example'] needs "
        "platform_static_certificate_arn: CloudFront adds an alternate domain name only with a trusted certificate "
        f"that covers it (the default *.cloudfront.net certificate covers none), see {CNAME_DOC}"
    )


def test_certificate_without_aliases_refused() -> None:
    assert refused(edge.cloudfront_aliases, [], CERT) == (
        "arena_edge_cloudfront_aliases: platform_static_certificate_arn is set but platform_static_aliases is empty: "
        "CloudFront presents the certificate and its security policy only on alternate domain names (viewers of the "
        f"*.cloudfront.net name get the default certificate and TLSv1), see {VIEWER_DOC}"
    )


@pytest.mark.parametrize("alias", ["Static.Arena.Example", "static_arena.example", "static.*.example", "example."])
def test_alias_not_a_lower_case_domain_refused(alias: str) -> None:
    assert refused(edge.cloudfront_aliases, [alias], CERT) == (
        "arena_edge_cloudfront_aliases: platform_static_aliases must be lower-case domain names (a leading '*.' "
        f"wildcard allowed), got ['{alias}']: CloudFront alternate domain names must be lower-case, see {CNAME_DOC}"
    )


def test_alias_twice_refused() -> None:
    assert refused(edge.cloudfront_aliases, ["a.arena.example", "a.arena.example"], CERT) == (
        "arena_edge_cloudfront_aliases: platform_static_aliases lists ['a.arena.example'] more than once"
    )


# --- Bucket names are global: <prefix>-<account id>, within S3's rules -------------------------------


def test_bucket_name_gets_the_account_id() -> None:
    assert edge.bucket_name("arena-local-static", "123456789012", "platform_static_name") == (
        "arena-local-static-123456789012"
    )
    assert edge.bucket_name("arena-local-static", 123456789012, "platform_static_name", suffix="-logs") == (
        "arena-local-static-logs-123456789012"
    )


def test_bucket_name_at_63_characters_accepted_and_64_refused() -> None:
    """bucketnamingrules: bucket names are 3 to 63 characters long."""
    assert len(edge.bucket_name("a" * 45, "123456789012", "platform_static_name", suffix="-logs")) == 63
    prefix = "a" * 46
    assert refused(edge.bucket_name, prefix, "123456789012", "platform_static_name", suffix="-logs") == (
        f"arena_edge_bucket_name: platform_static_name '{prefix}' makes the bucket name '{prefix}-logs-123456789012' "
        "(64 characters), which is refused: bucket names are 3 to 63 characters long. Bucket names are global, so "
        "the 12-digit account id is appended (platform_static_name may have at most 45 characters here), "
        f"see {BUCKET_DOC}"
    )


@pytest.mark.parametrize(
    ("prefix", "reason"),
    [
        (
            "Arena-static",
            "bucket names here are lower-case letters, digits and hyphens only (S3 also allows dots, the platform "
            "does not: a dotted name breaks the virtual-hosted HTTPS name of the bucket)",
        ),
        (
            "arena.static",
            "bucket names here are lower-case letters, digits and hyphens only (S3 also allows dots, the platform "
            "does not: a dotted name breaks the virtual-hosted HTTPS name of the bucket)",
        ),
        ("-arena", "bucket names begin and end with a letter or digit"),
        ("arena--static", "the platform refuses '--' in bucket names (S3 reserves xn--, --ol-s3, --x-s3, --table-s3)"),
        (
            "sthree-arena",
            "S3 reserves the prefixes xn--, sthree-, amzn-s3-demo- and the suffixes -s3alias, --ol-s3, .mrap, "
            "--x-s3, --table-s3",
        ),
        (
            "amzn-s3-demo-arena",
            "S3 reserves the prefixes xn--, sthree-, amzn-s3-demo- and the suffixes -s3alias, --ol-s3, .mrap, "
            "--x-s3, --table-s3",
        ),
    ],
    ids=["upper-case", "dot", "leading-hyphen", "double-hyphen", "sthree-prefix", "demo-prefix"],
)
def test_bucket_names_s3_refuses(prefix: str, reason: str) -> None:
    assert refused(edge.bucket_name, prefix, "123456789012", "platform_load_balancers_log_bucket_prefix") == (
        f"arena_edge_bucket_name: platform_load_balancers_log_bucket_prefix '{prefix}' makes the bucket name "
        f"'{prefix}-123456789012' ({len(prefix) + 13} characters), which is refused: {reason}. Bucket names are "
        "global, so the 12-digit account id is appended (platform_load_balancers_log_bucket_prefix may have at most "
        f"50 characters here), see {BUCKET_DOC}"
    )


@pytest.mark.parametrize("account", ["", "12345", "abcdefghijkl", None])
def test_bucket_account_id_must_be_12_digits(account: Any) -> None:
    assert refused(edge.bucket_name, "arena", account, "platform_static_name") == (
        f"arena_edge_bucket_name: the AWS account id must be 12 digits, got {account!r}"
    )


# --- ALB access-log delivery: the Region's ELB account before August 2022, else the service ----------

# "Regions available before August 2022" and their Elastic Load Balancing account ids, from
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html
LEGACY_ELB_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-southeast-3": "589379963580",
    "ap-south-1": "718504428378",
    "ap-northeast-3": "383597477331",
    "ap-northeast-2": "600734575887",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-south-1": "635631232127",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-gov-west-1": "048591011584",
    "us-gov-east-1": "190560391635",
    "cn-north-1": "638102146993",
    "cn-northwest-1": "037604701340",
}
# Regions available as of August 2022 or later: the log-delivery service principal.
NEWER_REGIONS = [
    "ap-south-2",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ca-west-1",
    "eu-central-2",
    "eu-south-2",
    "il-central-1",
    "me-central-1",
    "mx-central-1",
]
ROLE_ACCOUNTS = yaml.safe_load((ROOT / "roles/platform_load_balancers/vars/main.yml").read_text())[
    "__platform_load_balancers_elb_accounts"
]


def test_role_account_map_is_exactly_the_documented_one() -> None:
    """Every Region available before August 2022 is in the role's map, with the documented account."""
    assert ROLE_ACCOUNTS == LEGACY_ELB_ACCOUNTS


@pytest.mark.parametrize("region", sorted(LEGACY_ELB_ACCOUNTS))
def test_legacy_regions_deliver_as_the_elb_account(region: str) -> None:
    partition = {"cn": "aws-cn", "us-gov": "aws-us-gov"}.get(region.rsplit("-", 2)[0], "aws")
    assert edge.elb_log_delivery_principal(region, ROLE_ACCOUNTS) == {
        "AWS": f"arn:{partition}:iam::{LEGACY_ELB_ACCOUNTS[region]}:root"
    }


@pytest.mark.parametrize("region", NEWER_REGIONS)
def test_newer_regions_deliver_through_the_service_principal(region: str) -> None:
    assert edge.elb_log_delivery_principal(region, ROLE_ACCOUNTS) == {
        "Service": "logdelivery.elasticloadbalancing.amazonaws.com"
    }


def test_bad_region_and_account_refused() -> None:
    assert refused(edge.elb_log_delivery_principal, "Europe", ROLE_ACCOUNTS) == (
        "arena_edge_aws_partition: region must look like 'eu-west-1', got 'Europe'"
    )
    assert refused(edge.elb_log_delivery_principal, "eu-west-1", {"eu-west-1": "156460"}) == (
        "arena_edge_elb_log_delivery_principal: the Elastic Load Balancing account of eu-west-1 must be 12 digits, "
        "got '156460' (see https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html)"
    )


# --- ACM lookup by domain: ISSUED only ---------------------------------------------------------------


def lb_cert(arn: str, status: str, not_after: str = "2027-01-01T00:00:00+00:00", domain: str = "arena.example") -> dict:
    return {"certificate_arn": arn, "domain_name": domain, "status": status, "not_after": not_after}


def test_issued_certificate_picked_latest_expiry_first() -> None:
    certs = [
        lb_cert("arn:old", "ISSUED", "2026-06-01T00:00:00+00:00"),
        lb_cert("arn:pending", "PENDING_VALIDATION", "2028-01-01T00:00:00+00:00"),
        lb_cert("arn:new", "ISSUED", "2027-06-01T00:00:00+00:00"),
        lb_cert("arn:other", "ISSUED", "2029-01-01T00:00:00+00:00", domain="other.example"),
    ]
    assert edge.acm_certificate_for_domain(certs, "arena.example") == "arn:new"


def test_pending_certificate_refused() -> None:
    """ListCertificates CertificateStatuses: a listener needs an ISSUED certificate."""
    assert refused(edge.acm_certificate_for_domain, [lb_cert("arn:p", "PENDING_VALIDATION")], "arena.example") == (
        "arena_edge_acm_certificate_for_domain: no ISSUED ACM certificate for "
        "platform_load_balancers_certificate_domain 'arena.example' in this region "
        "(found: ['arn:p PENDING_VALIDATION']): an HTTPS listener needs an issued "
        f"certificate; finish its validation or set platform_load_balancers_certificate_arn, see {ACM_DOC}"
    )


def test_emulator_statuses_accept_pending() -> None:
    certs = [lb_cert("arn:p", "PENDING_VALIDATION")]
    assert edge.acm_certificate_for_domain(certs, "arena.example", ["ISSUED", "PENDING_VALIDATION"]) == "arn:p"


# --- Through Ansible: the roles' templates and lookups use these rules ------------------------------

PLAYBOOK = """\
---
- name: Render what the load balancer role derives
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files:
    - {root}/roles/platform_load_balancers/vars/main.yml
  vars:
    edge_template: {root}/roles/platform_load_balancers/templates/log_bucket_policy.json.j2
    platform_load_balancers_log_prefix: alb
    __platform_load_balancers_log_bucket: arena-x-alb-logs-123456789012
    __platform_load_balancers_account_id: "123456789012"
  tasks:
    - name: Render the access-log bucket policy and the certificate statuses per target
      ansible.builtin.set_fact:
        edge_out: >-
          {{{{ edge_out | default({{}}) | combine({{item.region ~ '/' ~ item.mode: {{
                'policy': lookup('ansible.builtin.template', edge_template)
                          | from_json,
                'statuses': __platform_load_balancers_certificate_statuses}}}}) }}}}
      vars:
        aws_guard_target: {{region: "{{{{ item.region }}}}", mode: "{{{{ item.mode }}}}"}}
      loop:
        - {{region: ap-south-1, mode: real}}
        - {{region: eu-south-2, mode: real}}
        - {{region: us-gov-west-1, mode: real}}
        - {{region: eu-west-1, mode: emulator}}

    - name: Write them
      ansible.builtin.copy:
        content: "{{{{ edge_out | to_nice_json }}}}"
        dest: "{{{{ edge_test_out }}}}"
        mode: "0644"
"""


def test_role_renders_the_documented_principal_and_issued_only(tmp_path: Path) -> None:
    """The role's template and its ACM lookup statuses, rendered by Ansible with the repo's filters:
    ap-south-1 (before August 2022, missing from the old map) delivers as its ELB account, eu-south-2
    through the service principal, GovCloud ARNs carry their partition; against AWS the certificate
    lookup asks for ISSUED only (ListCertificates CertificateStatuses), the emulator also for pending."""
    playbook = tmp_path / "render.yml"
    playbook.write_text(PLAYBOOK.format(root=ROOT))
    out = tmp_path / "out.json"
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    cmd = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", str(playbook)]
    cmd += ["-e", f"edge_test_out={out}", "-e", f"ansible_python_interpreter={sys.executable}"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    got = json.loads(out.read_text())

    def delivery(key: str) -> dict:
        return got[key]["policy"]["Statement"][0]

    assert delivery("ap-south-1/real")["Principal"] == {"AWS": "arn:aws:iam::718504428378:root"}
    assert delivery("eu-south-2/real")["Principal"] == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
    assert delivery("us-gov-west-1/real")["Principal"] == {"AWS": "arn:aws-us-gov:iam::048591011584:root"}
    assert delivery("us-gov-west-1/real")["Resource"] == (
        "arn:aws-us-gov:s3:::arena-x-alb-logs-123456789012/alb/*/AWSLogs/123456789012/*"
    )
    assert got["ap-south-1/real"]["statuses"] == ["ISSUED"]
    assert got["eu-west-1/emulator"]["statuses"] == ["ISSUED"]
