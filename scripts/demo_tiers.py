#!/usr/bin/env python3
"""`make demo`: what the three tier containers answer (molecule/{web,api,admin}, converged by
scripts/demo.sh). Prints each tier's health as the load balancer would see it (from the host,
through the node's nftables firewall), a page fetched through the web tier, the API counting in
its Redis, the admin allow-list at work, and a mail from the api tier delivered to the SES stand-in
over TLS with authentication. Exits non-zero when any of that does not hold.

Usage: demo_tiers.py [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import re
import subprocess
import sys
import time
import uuid

# Node and side container of each tier (names from molecule/<tier>/molecule.yml).
TIERS = {"web": ("tier-web", None), "api": ("tier-api", "tier-api-side"), "admin": ("tier-admin", "tier-admin-side")}
# roles/admin's scenario fixture (bcrypt hash in molecule/admin/molecule.yml): not a secret.
ADMIN_LOGIN = ("editor", "molecule-editor-pw")


def podman(*args: str) -> str:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=True).stdout.strip()


def on_node(node: str, script: str) -> str:
    return podman("exec", node, "bash", "-c", script)


def address(node: str) -> str:
    return podman("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", node).split()[0]


def get(host: str, path: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, dict, str]:
    conn = http.client.HTTPConnection(host, 80, timeout=5)
    try:
        conn.request(method, path, body=b"" if method == "POST" else None, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode(errors="replace")
    finally:
        conn.close()


def mail_through_api(timeout: float) -> dict:
    node, sink = TIERS["api"]
    tag = f"demo-{uuid.uuid4()}"
    message = f"From: Arena <app@localhost>\\nTo: ops@example.net\\nSubject: {tag}\\n\\nsent by make demo\\n"
    on_node(node, f"printf '{message}' | /usr/sbin/sendmail -f app@localhost ops@example.net")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = on_node(sink, 'for f in /var/lib/smtp-sink/*/*.json; do [ -f "$f" ] && cat "$f" && echo; done; true')
        for line in filter(str.strip, out.splitlines()):
            record = json.loads(line)
            if tag in record["data"]:
                return record
        time.sleep(1)  # postfix delivers asynchronously from its queue; bounded by the deadline
    raise SystemExit(f"demo: the mail {tag} did not reach {sink} within {timeout:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for the mail")
    args = parser.parse_args()
    problems: list[str] = []
    lines: list[str] = []

    for tier, (node, _) in TIERS.items():
        ip = address(node)
        state = on_node(node, "systemctl is-system-running || true")
        status, _, body = get(ip, "/healthz")
        lines.append(f"{tier + ' tier':<17} {node} {ip}: systemd {state}, GET /healthz -> {status} {body.strip()[:40]}")
        if (state, status) != ("running", 200):
            problems.append(f"{tier}: systemd {state}, /healthz {status}")

    web = address(TIERS["web"][0])
    status, headers, body = get(web, "/")
    title = re.search(r"<title>(.*?)</title>", body, re.S)
    lines.append(
        f"{'Page via web':<17} GET / -> {status}, title '{title.group(1).strip() if title else '?'}', "
        f"{len(body)} bytes, HSTS '{headers.get('strict-transport-security', '-')}'"
    )
    if status != 200:
        problems.append(f"web: GET / answered {status}")

    api = address(TIERS["api"][0])
    hits = [json.loads(get(api, "/v1/hits", "POST")[2]).get("hits") for _ in range(2)]
    lines.append(f"{'API + Redis':<17} POST /v1/hits twice -> hits {hits[0]} then {hits[1]} (Redis over TLS + AUTH)")
    if not (isinstance(hits[0], int) and hits[1] == hits[0] + 1):
        problems.append(f"api: hits {hits}")

    admin_node = TIERS["admin"][0]
    outside = get(address(admin_node), "/")[0]
    token = base64.b64encode(":".join(ADMIN_LOGIN).encode()).decode()
    inside = on_node(
        admin_node,
        'python3 -c \'import urllib.request as u; r=u.Request("http://127.0.0.1/", '
        f'headers={{"Authorization": "Basic {token}"}}); print(u.urlopen(r, timeout=5).status)\'',
    )
    lines.append(
        f"{'Admin allow-list':<17} from the host (not listed) -> {outside}; from loopback with the login -> {inside}"
    )
    if (outside, inside) != (403, "200"):
        problems.append(f"admin: outside {outside}, inside {inside}")

    record = mail_through_api(args.timeout)
    lines.append(
        f"{'Mail via SES stub':<17} api tier sendmail -> {TIERS['api'][1]}:587, {record['tls']}, "
        f"AUTH as {record['login']}, envelope from {record['mail_from']}"
    )

    print("\n".join(lines))
    if problems:
        print("demo: the tiers are not as expected: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
