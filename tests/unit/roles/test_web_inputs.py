"""roles/web refuses bad inputs before it changes anything, with messages naming the variable."""

from __future__ import annotations

from typing import Any

import pytest

# The import is what collects this test here, under this file's name for it, on this file's CASES (F401: ruff
# sees no use).
from role_input_tests import test_bad_input_fails_in_validation as test_bad_input_rejected  # noqa: F401

ROLE = "web"
GOOD_SHA = "0" * 64


GOOD: dict[str, Any] = {
    "web_site_version": "1.0.0",
    "web_site_artifact_url": "file:///srv/fixtures/arena-site-1.0.0.tar.gz",
    "web_site_artifact_sha256": GOOD_SHA,
}
SPEC_TASK = "Validating arguments against arg spec 'main' - nginx serving the public site from a versioned artifact"
CHECK_TASK = "validate | Check the inputs"

CASES = [
    pytest.param(
        {"web_site_artifact_sha256": "ABC123"},
        CHECK_TASK,
        "web_site_artifact_sha256 must be 64 lowercase hex digits, got 'ABC123'",
        id="sha256-not-hex",
    ),
    pytest.param(
        {"web_vpc_cidr": "10.0.0.300/16"},
        CHECK_TASK,
        "web_vpc_cidr '10.0.0.300/16' is not an IPv4 or IPv6 CIDR ('10.0.0.300/16' does not appear to be an IPv4 "
        "or IPv6 network)",
        id="cidr-octet",
    ),
    pytest.param(
        {"web_csp": "default-src 'self'; frame-ancestors *"},
        CHECK_TASK,
        "web_csp must not contain frame-ancestors: set it with web_frame_ancestors",
        id="csp-frame-ancestors",
    ),
    pytest.param(
        {"web_worker_connections": 4096, "web_worker_rlimit_nofile": 4096},
        CHECK_TASK,
        "web_worker_rlimit_nofile (4096) must be at least twice web_worker_connections (4096)",
        id="nofile-vs-connections",
    ),
    pytest.param(
        {"web_site_artifact_url": "ftp://example.invalid/site.tar.gz"},
        CHECK_TASK,
        "web_site_artifact_url must be an https://, http:// or file:// URL, got 'ftp://example.invalid/site.tar.gz'",
        id="url-scheme",
    ),
    pytest.param(
        {"web_referrer_policy": "unsafe-url"},
        SPEC_TASK,
        "value of web_referrer_policy must be one of: no-referrer, no-referrer-when-downgrade, origin, "
        "origin-when-cross-origin, same-origin, strict-origin, strict-origin-when-cross-origin, got: unsafe-url",
        id="spec-referrer-policy",
    ),
]
