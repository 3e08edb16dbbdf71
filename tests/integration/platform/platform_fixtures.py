"""What the platform consumes from outside it, seeded into the emulator.

- /arena/local/images/<tier>: the AMI pipeline publishes these; here a placeholder image of the
  emulator whose root device is /dev/xvda (as the launch templates' root mapping).
- An ACM certificate for arena-local.test, which inventories/local looks up by domain: imported, so
  it is ISSUED at once as the load balancers require (a requested one stays PENDING_VALIDATION).

Used by tests/ee/test_ee_platform.py and by `make platform-up` / `make bench-platform`:
  python tests/integration/platform/platform_fixtures.py seed|clear
Only ever talks to the emulator (AWS_URL on loopback).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import boto3

# tests/ holds arena_testlib (pytest puts it on sys.path; run as a script, this does).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from arena_testlib import self_signed

TIERS = ("web", "api", "admin")
DOMAIN = "arena-local.test"


def require_emulator() -> None:
    url = os.environ.get("AWS_URL", "")
    if not url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise SystemExit(f"platform_fixtures: AWS_URL must point at the local emulator, not {url!r}")


def seed() -> str:
    """Put the image parameters and the certificate; returns the certificate ARN."""
    require_emulator()
    ec2, ssm, acm = boto3.client("ec2"), boto3.client("ssm"), boto3.client("acm")
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    image = next(i["ImageId"] for i in images if i.get("RootDeviceName") == "/dev/xvda")
    for tier in TIERS:
        ssm.put_parameter(
            Name=f"/arena/local/images/{tier}", Value=image, Type="String", DataType="aws:ec2:image", Overwrite=True
        )
    existing = [c for c in acm.list_certificates()["CertificateSummaryList"] if c["DomainName"] == DOMAIN]
    if existing:
        return existing[0]["CertificateArn"]
    cert, key = self_signed(DOMAIN)
    return acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]


def clear() -> None:
    """Remove what seed() put."""
    require_emulator()
    ssm, acm = boto3.client("ssm"), boto3.client("acm")
    for tier in TIERS:
        ssm.delete_parameters(Names=[f"/arena/local/images/{tier}"])
    for cert in acm.list_certificates()["CertificateSummaryList"]:
        if cert["DomainName"] == DOMAIN:
            acm.delete_certificate(CertificateArn=cert["CertificateArn"])


if __name__ == "__main__":
    action = sys.argv[1] if len(sys.argv) > 1 else ""
    if action == "seed":
        print(seed())
    elif action == "clear":
        clear()
    else:
        raise SystemExit("usage: platform_fixtures.py seed|clear")
