"""Helpers shared by the molecule testinfra suites (roles/*/molecule/*/tests and molecule/*/tests).

Importable there too: molecule runs pytest with the repository as rootdir, and pytest.ini adds tests/.
"""

from __future__ import annotations

import base64
import json
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
