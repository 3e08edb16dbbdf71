"""Bad input to playbooks/platform_services.yml is refused before any API call.

Runs in --check with the AWS endpoint pointed at a closed loopback port (and every proxy dead): a
single API call would fail the run with a connection error instead of the expected message, so the
refusal provably happens first. No emulator is needed; it lives here because the platform_* roles
have no scenario-free unit folder of their own yet.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from arena_testlib import base_env, run

CORE = {
    "platform_cache_vpc_id": "vpc-0a1b2c3d",
    "platform_cache_subnet_ids": ["subnet-0a", "subnet-0b"],
    "platform_cache_security_group_ids": ["sg-0a"],
}
DEAD = {"AWS_URL": "http://127.0.0.1:9", "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_REGION": "eu-west-1"}


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


CASES = [
    (
        {"platform_cache_availability_zones": ["a"]},
        "local",
        "platform_cache_availability_zones must list two distinct zones or more (got ['a']) with "
        "platform_cache_multi_az and platform_cache_automatic_failover true (got True / True): a single-AZ "
        "cache loses the api tier's sessions with one zone.",
    ),
    (
        {"platform_cache_multi_az": False},
        "local",
        "platform_cache_availability_zones must list two distinct zones or more (got ['a', 'b']) with "
        "platform_cache_multi_az and platform_cache_automatic_failover true (got False / True): a single-AZ "
        "cache loses the api tier's sessions with one zone.",
    ),
    (
        {"platform_cache_at_rest_encryption": False},
        "production",
        "platform_cache_at_rest_encryption and platform_cache_transit_encryption must both be true in "
        "production (platform_cache_require_encryption is true); got False / True.",
    ),
    (
        {"platform_cache_snapshot_window": "20:00-21:00"},
        "local",
        "platform_cache_snapshot_window '20:00-21:00' must match hh24:mi-hh24:mi and lie outside the event "
        "hours 15:00-24:00 UTC (platform_cache_event_hours_utc).",
    ),
    (
        {"platform_static_public_access": True},
        "local",
        "platform_static_public_access is true: the site bucket stays private (all public access blocked); "
        "viewers read through CloudFront with Origin Access Control only.",
    ),
    (
        {"platform_static_minimum_protocol_version": "TLSv1.1_2016"},
        "local",
        "platform_static_minimum_protocol_version 'TLSv1.1_2016' is below the platform minimum: use "
        "TLSv1.2_2021 or TLSv1.3_2025.",
    ),
    (
        {"platform_email_domain": "mail_arena.test"},
        "local",
        "platform_email_domain 'mail_arena.test' is not a valid domain name (lower-case labels of letters, "
        "digits and inner hyphens, a letter-only top-level domain), or platform_email_mail_from_subdomain "
        "'bounce' does not make one with it.",
    ),
]


@pytest.mark.parametrize(
    ("extra", "env", "message"),
    CASES,
    ids=[
        "single-az",
        "multi-az-off",
        "encryption-off-production",
        "snapshot-in-event-hours",
        "public-bucket",
        "tls-below-1.2",
        "invalid-domain",
    ],
)
def test_bad_input_refused(tmp_path: Path, extra: dict, env: str, message: str) -> None:
    out = refuse(tmp_path, extra, inventory=f"inventories/{env}")
    assert message in out, out[-3000:]


def test_platform_core_inputs_required(tmp_path: Path) -> None:
    out = refuse(tmp_path, {}, core={})
    assert (
        "platform_cache_vpc_id (''), platform_cache_subnet_ids (two private subnets or more, got 0) and "
        "platform_cache_security_group_ids (got 0) come from platform core and are required."
    ) in out
