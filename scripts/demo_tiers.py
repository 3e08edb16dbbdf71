#!/usr/bin/env python3
"""`make demo`: what the three tiers answer, each booted from its baked image (scripts/demo.sh).

Prints each tier's systemd state, health and boot-to-healthy time, a page fetched through the web
tier, the API counting in its Redis (password read from SSM at first boot), the admin allow-list and
login at work (the login also from SSM), and the mail relay each mail-sending tier runs. Exits
non-zero when any of that does not hold.

Usage: demo_tiers.py LAUNCHED.json...
  LAUNCHED: what scripts/lab/launch.py up --json wrote (per instance: tier, instance_id, container,
  image, ami_id, launch_template, base_url, boot_seconds); the admin login's password is
  $GATE_ADMIN_PASSWORD (user "gate", scripts/image_gate.py seed).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

# The address a request through the load balancer claims for a client not on the admin allow-list
# (TEST-NET-3); the image trusts X-Forwarded-For from the lab VPC, where the ALB's nodes live.
OUTSIDE_CLIENT = "203.0.113.9"
# Each instance serves TLS with its own self-signed certificate (the ALB does not verify it either).
_TLS = ssl.create_default_context()
_TLS.check_hostname = False
_TLS.verify_mode = ssl.CERT_NONE


def on_node(container: str, script: str) -> str:
    return subprocess.run(
        ["podman", "exec", container, "bash", "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()


def call(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, dict, str]:
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=5, context=_TLS) as resp:
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read().decode(errors="replace")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("launched", nargs="+", help="JSON files of scripts/lab/launch.py up --json")
    tiers = {node["tier"]: node for path in parser.parse_args().launched for node in json.loads(Path(path).read_text())}
    problems: list[str] = []
    lines: list[str] = []

    for tier, node in tiers.items():
        state = on_node(node["container"], "systemctl is-system-running || true")
        status, _, body = call(node["base_url"] + "healthz")
        template = f"{node['launch_template']}:{node['launch_template_version']}"
        lines.append(
            f"{tier + ' tier':<17} {node['instance_id']} of {template}, "
            f"{node['ami_id']} = {node['image']}: systemd {state}, healthy {node['boot_seconds']:.2f} s after boot, "
            f"GET /healthz -> {status} {body.strip()[:30]}"
        )
        if (state, status) != ("running", 200):
            problems.append(f"{tier}: systemd {state}, /healthz {status}")

    status, headers, body = call(tiers["web"]["base_url"])
    title = re.search(r"<title>(.*?)</title>", body, re.S)
    lines.append(
        f"{'Page via web':<17} GET / -> {status}, title '{title.group(1).strip() if title else '?'}', "
        f"{len(body)} bytes, HSTS '{headers.get('strict-transport-security', '-')}'"
    )
    if status != 200:
        problems.append(f"web: GET / answered {status}")

    hits = [json.loads(call(tiers["api"]["base_url"] + "v1/hits", "POST")[2]).get("hits") for _ in range(2)]
    lines.append(f"{'API + Redis':<17} POST /v1/hits twice -> hits {hits[0]} then {hits[1]} (password from SSM)")
    if not (isinstance(hits[0], int) and hits[1] == hits[0] + 1):
        problems.append(f"api: hits {hits}")

    admin = tiers["admin"]["base_url"]
    token = base64.b64encode(f"gate:{os.environ['GATE_ADMIN_PASSWORD']}".encode()).decode()
    login = {"Authorization": f"Basic {token}"}
    outside = call(admin, headers={**login, "X-Forwarded-For": OUTSIDE_CLIENT})[0]
    anonymous = call(admin)[0]
    inside = call(admin, headers=login)[0]
    lines.append(
        f"{'Admin (TLS)':<17} client {OUTSIDE_CLIENT} via the LB -> {outside}; allow-listed without login -> "
        f"{anonymous}; with the login from SSM -> {inside}"
    )
    if (outside, anonymous, inside) != (403, 401, 200):
        problems.append(f"admin: outside {outside}, anonymous {anonymous}, login {inside}")

    for tier in ("api", "admin"):
        container = tiers[tier]["container"]
        relay = on_node(
            container,
            "systemctl is-active postfix; postconf -h relayhost smtp_tls_security_level inet_interfaces; "
            "test -s /etc/arena/runtime/mail.env && echo credentials-from-ssm",
        ).split()
        lines.append(f"{'Mail relay (' + tier + ')':<17} {' '.join(relay)}")
        if relay[:1] != ["active"] or "credentials-from-ssm" not in relay:
            problems.append(f"{tier}: mail relay {relay}")
    lines.append(f"{'':<17} (delivery over TLS + AUTH to an SES stand-in: roles/mail_relay's scenario)")

    print("\n".join(lines))
    if problems:
        print("demo: the tiers are not as expected: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
