"""Helpers shared by the molecule testinfra suites (roles/*/molecule/*/tests and molecule/*/tests).

Importable there too: molecule runs pytest with the repository as rootdir, and pytest.ini adds tests/.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

# Runs on the node (python3 only, no curl). argv[1]: JSON list of [name, method, url] or
# [name, method, url, headers]. Prints name -> {status, headers (lower-case names), body (parsed
# JSON, or the text when not JSON)}. https:// URLs are not verified: the admin tier serves its
# per-machine self-signed certificate (its load balancer does not verify it either).
HTTP_PROBE = r"""
import json, ssl, sys, urllib.error, urllib.request
unverified = ssl._create_unverified_context()
out = {}
for name, method, url, *extra in json.loads(sys.argv[1]):
    headers = extra[0] if extra else {}
    req = urllib.request.Request(url, method=method, headers=headers, data=b"" if method == "POST" else None)
    try:
        resp = urllib.request.urlopen(req, timeout=10, context=unverified if url.startswith("https:") else None)
    except urllib.error.HTTPError as err:
        resp = err
    raw = resp.read().decode()
    try:
        body = json.loads(raw or "null")
    except ValueError:
        body = raw
    out[name] = {"status": resp.status, "headers": {k.lower(): v for k, v in resp.headers.items()}, "body": body}
print(json.dumps(out))
"""

# The security headers roles/web sends on every answer (with `always`: errors included), at its defaults.
WEB_SECURITY_HEADERS = {
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "x-frame-options": "DENY",
}


def basic_auth(credentials: str) -> dict[str, str]:
    """The Authorization header of HTTP basic auth for "user:password" (for HTTP_PROBE's headers)."""
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def http_answers(host: Any, requests: list[list[Any]]) -> dict[str, dict[str, Any]]:
    """All HTTP exchanges in one probe on the node: every testinfra call is a round trip."""
    return json.loads(host.check_output("python3 -c %s %s", HTTP_PROBE, json.dumps(requests)))


def cis_logfile_problems(run: Callable[[str], str], ignore: str = r"^$") -> list[str]:
    """CIS Debian 12 6.1.4.1's audit of every file under /var/log: the mode mask, owner and group per
    file class, CIS' system-account exception included. `run` runs a shell command on the node and
    returns its stdout; files whose path matches `ignore` are left out (a test tool's own logs).
    Returns "path mode user:group" for each file that fails."""
    uid_min = int(re.search(r"^UID_MIN\s+(\d+)", run("cat /etc/login.defs"), re.M).group(1))
    groups = {g.split(":")[0]: g.split(":")[3] for g in run("getent group").splitlines()}
    human_gids = {p.split(":")[3] for p in run("getent passwd").splitlines() if int(p.split(":")[2]) >= uid_min}
    problems = []
    listing = run(r"find -L /var/log -type f -printf '%p\t%m\t%u\t%U\t%g\t%G\n'")
    for line in listing.splitlines():
        path, mode, user, uid, group, gid = line.split("\t")
        if re.search(ignore, path):
            continue
        name = path.rsplit("/", 1)[1]
        if re.fullmatch(r"(lastlog|wtmp|btmp)([.-].*)?|README", name):
            mask, users, groups_ok = 0o113, {"root"}, {"root", "utmp"}
        elif re.fullmatch(r".*\.journal~?", name):
            mask, users, groups_ok = 0o137, {"root"}, {"root", "systemd-journal"}
        else:
            mask, users, groups_ok = 0o137, {"root", "syslog"}, {"root", "adm"}
            # CIS' exception: a system account's file, its group without members or human users.
            if int(uid) < uid_min and groups.get(group, "x") == "":
                users = users | {user}
                if gid not in human_gids:
                    groups_ok = groups_ok | {group}
        if int(mode, 8) & mask or user not in users or group not in groups_ok:
            problems.append(f"{path} {mode} {user}:{group}")
    return problems
