"""Helpers shared by the molecule testinfra suites (roles/*/molecule/*/tests and molecule/*/tests).

Importable there too: molecule runs pytest with the repository as rootdir, and pytest.ini adds tests/.
"""

from __future__ import annotations

import json
from typing import Any

# Runs on the node (python3 only, no curl). argv[1]: JSON list of [name, method, url]. Prints
# name -> {status, headers (lower-case names), body (parsed JSON, or the text when not JSON)}.
HTTP_PROBE = r"""
import json, sys, urllib.error, urllib.request
out = {}
for name, method, url in json.loads(sys.argv[1]):
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        resp = urllib.request.urlopen(req, timeout=10)
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


def http_answers(host: Any, requests: list[list[str]]) -> dict[str, dict[str, Any]]:
    """All HTTP exchanges in one probe on the node: every testinfra call is a round trip."""
    return json.loads(host.check_output("python3 -c %s %s", HTTP_PROBE, json.dumps(requests)))
