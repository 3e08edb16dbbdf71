"""Bad input to playbooks/platform_services.yml is refused before any API call.

Runs in --check with the AWS endpoint pointed at a loopback port that accepts connections and closes
them at once (and every proxy dead): aws_guard's TCP probe finds something listening, but a single
API call would fail the run with a connection error instead of the expected message, so the refusal
provably happens first. No emulator is needed; it lives here because the platform_* roles
have no scenario-free unit folder of their own yet.

Two cases run the playbook itself, one per inventory (local, production): the run fails in its
validation play, changes nothing, and the services play never starts. The other local cases share
one ansible-playbook run (ten fewer start-ups, services_refusals.refused_cases: the playbook's own
validation play once per case), each refused by exactly one task with the exact message.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from arena_testlib import base_env, run
from services_refusals import refused_cases

CORE = {
    "platform_cache_vpc_id": "vpc-0a1b2c3d",
    "platform_cache_subnet_ids": ["subnet-0a", "subnet-0b"],
    "platform_cache_security_group_ids": ["sg-0a"],
}
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8091-a2b3c4d5e6f7"
VIEWER_DOC = "https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ViewerCertificate.html"


@pytest.fixture(scope="module")
def mute_endpoint() -> Iterator[str]:
    """A loopback port that accepts every connection and closes it unanswered: not an AWS endpoint."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)

    def drop() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed at teardown
                return
            conn.close()

    threading.Thread(target=drop, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


@pytest.fixture(autouse=True)
def _dead_aws(mute_endpoint: str) -> None:
    DEAD.update(AWS_URL=mute_endpoint, AWS_ENDPOINT_URL=mute_endpoint)


DEAD = {"AWS_REGION": "eu-west-1"}  # plus the mute endpoint (_dead_aws)


def refuse(tmp_path: Path, extra: dict, inventory: str = "inventories/local", core: dict | None = None) -> str:
    core_file = tmp_path / "core.json"
    core_file.write_text(json.dumps(CORE if core is None else core))
    extra_file = tmp_path / "extra.json"
    extra_file.write_text(json.dumps(extra))
    cmd = ["ansible-playbook", "playbooks/platform_services.yml", "--check", "-i", inventory]
    cmd += ["-e", f"@{core_file}", "-e", f"@{extra_file}"]
    result = run(cmd, base_env(DEAD, keep_aws=False), timeout=180)
    out = result.stdout + result.stderr
    assert result.returncode == 2, out[-3000:]
    recap = re.search(r"localhost\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=(\d+)", out)
    assert recap, out[-3000:]
    assert recap.groups() == ("0", "1"), out[-3000:]
    # The failure is in the validation play: the services play never started.
    assert "PLAY [Platform services]" not in out
    return " ".join(out.split())


# (id, extra variables, the whole refusal message); local inventory.
CASES = [
    (
        "single-az",
        {"platform_cache_availability_zones": ["a"]},
        "platform_cache_availability_zones must list two distinct zones or more (got ['a']) with "
        "platform_cache_multi_az and platform_cache_automatic_failover true (got True / True): a single-AZ "
        "cache loses the api tier's sessions with one zone.",
    ),
    (
        "multi-az-off",
        {"platform_cache_multi_az": False},
        "platform_cache_availability_zones must list two distinct zones or more (got ['a', 'b']) with "
        "platform_cache_multi_az and platform_cache_automatic_failover true (got False / True): a single-AZ "
        "cache loses the api tier's sessions with one zone.",
    ),
    (
        "snapshot-in-event-hours",
        {"platform_cache_snapshot_window": "20:00-21:00"},
        "platform_cache_snapshot_window '20:00-21:00' must match hh24:mi-hh24:mi and lie outside the event "
        "hours 15:00-24:00 UTC (platform_cache_event_hours_utc).",
    ),
    (
        "public-bucket",
        {"platform_static_public_access": True},
        "platform_static_public_access is true: the site bucket stays private (all public access blocked); "
        "viewers read through CloudFront with Origin Access Control only.",
    ),
    # CloudFront with the default certificate: AWS sets TLSv1 whatever is requested (issue 13, defect 6;
    # https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ViewerCertificate.html).
    (
        "default-certificate-tls12",
        {"platform_static_minimum_protocol_version": "TLSv1.2_2021"},
        "arena_edge_cloudfront_minimum_protocol_version: platform_static_minimum_protocol_version 'TLSv1.2_2021' is "
        "not honoured with the CloudFront default certificate (platform_static_certificate_arn is empty): AWS sets "
        "TLSv1 whatever is requested. Use TLSv1, or set platform_static_certificate_arn (an ISSUED ACM certificate "
        "in us-east-1) and platform_static_aliases for TLSv1.2_2021 / TLSv1.2_2025 / TLSv1.3_2025, "
        f"see {VIEWER_DOC}",
    ),
    (
        "certificate-tls-below-1.2",
        {
            "platform_static_certificate_arn": CERT,
            "platform_static_aliases": ["static.arena.test"],
            "platform_static_minimum_protocol_version": "TLSv1.1_2016",
        },
        "arena_edge_cloudfront_minimum_protocol_version: platform_static_minimum_protocol_version 'TLSv1.1_2016' is "
        "below the platform minimum for viewers of platform_static_aliases (certificate "
        "platform_static_certificate_arn, sni-only): use TLSv1.2_2021, TLSv1.2_2025, TLSv1.3_2025, "
        f"see {VIEWER_DOC}",
    ),
    # ACM certificates for CloudFront come from us-east-1 only
    # (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html).
    (
        "certificate-outside-us-east-1",
        {
            "platform_static_certificate_arn": CERT.replace("us-east-1", "eu-west-1"),
            "platform_static_aliases": ["s.a.test"],
        },
        "arena_edge_cloudfront_certificate_arn: platform_static_certificate_arn "
        f"'{CERT.replace('us-east-1', 'eu-west-1')}' "
        "is in eu-west-1: CloudFront uses ACM certificates from us-east-1 (US East, N. Virginia) only; request or "
        "import it there, see "
        "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html",
    ),
    # Aliases need a certificate that covers them
    # (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/CNAMEs.html).
    (
        "aliases-without-certificate",
        {"platform_static_aliases": ["static.arena.test"]},
        "arena_edge_cloudfront_aliases: platform_static_aliases ['static.arena.test'] needs "
        "platform_static_certificate_arn: CloudFront adds an alternate domain name only with a trusted certificate "
        "that covers it (the default *.cloudfront.net certificate covers none), see "
        "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/CNAMEs.html",
    ),
    # Bucket names are global (account id appended) and at most 63 characters
    # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
    (
        "bucket-name-too-long",
        {"platform_static_name": "a" * 46},
        f"arena_edge_bucket_name: platform_static_name '{'a' * 46}' makes the bucket name "
        f"'{'a' * 46}-logs-000000000000' (64 characters), which is refused: bucket names are 3 to 63 characters long. "
        "Bucket names are global, so the 12-digit account id is appended (platform_static_name may have at most 45 "
        "characters here), see https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
    ),
    (
        "invalid-domain",
        {"platform_email_domain": "mail_arena.test"},
        "platform_email_domain 'mail_arena.test' is not a valid domain name (lower-case labels of letters, "
        "digits and inner hyphens, a letter-only top-level domain), or platform_email_mail_from_subdomain "
        "'bounce' does not make one with it.",
    ),
]
# The one case of the production inventory (its group_vars require encryption).
PRODUCTION_CASE = (
    "encryption-off-production",
    {"platform_cache_at_rest_encryption": False},
    "platform_cache_at_rest_encryption and platform_cache_transit_encryption must both be true in "
    "production (platform_cache_require_encryption is true); got False / True.",
)


@pytest.fixture(scope="module")
def refusals(tmp_path_factory: pytest.TempPathFactory, mute_endpoint: str) -> dict[str, tuple[str, str]]:
    """Every local case in one --check run: case id -> (failed task, its message)."""
    env = base_env({**DEAD, "AWS_URL": mute_endpoint, "AWS_ENDPOINT_URL": mute_endpoint}, keep_aws=False)
    # The lab inventory's group_vars without its dynamic source (it would only list instances).
    cases = [(case, {**CORE, **extra}) for case, extra, _ in CASES]
    return refused_cases(tmp_path_factory.mktemp("refusals"), cases, env, "inventories/local/containers.yml")


@pytest.mark.parametrize(("case", "message"), [(c, m) for c, _, m in CASES], ids=[c for c, _, _ in CASES])
def test_bad_input_refused(refusals: dict[str, tuple[str, str]], case: str, message: str) -> None:
    task, said = refusals[case]
    assert message in said, (task, said)


def test_bad_input_refused_in_production(tmp_path: Path) -> None:
    """The production inventory's own rules (encryption required), through the playbook itself."""
    _, extra, message = PRODUCTION_CASE
    out = refuse(tmp_path, extra, inventory="inventories/production")
    assert message in out, out[-3000:]


def test_platform_core_inputs_required(tmp_path: Path) -> None:
    out = refuse(tmp_path, {}, core={})
    assert (
        "platform_cache_vpc_id (''), platform_cache_subnet_ids (two private subnets or more, got 0) and "
        "platform_cache_security_group_ids (got 0) come from platform core and are required."
    ) in out
