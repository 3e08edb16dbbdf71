"""roles/admin: bad TLS and fail2ban inputs fail in the validation task with the exact message, and
nothing changes."""

from __future__ import annotations

import pytest

# The import is what collects this test here, under this file's name for it, on this file's CASES (F401: ruff
# sees no use).
from role_input_tests import test_bad_input_fails_in_validation as test_bad_tls_or_fail2ban_input_fails_in_validation  # noqa: F401

ROLE = "admin"
GOOD: dict = {}
TLS_TASK = "Validate | TLS certificate, key and ciphers"
F2B_TASK = "Validate | fail2ban thresholds"
CIPHERS = (
    "['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', "
    "'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305']"
)


def tls_message(cert: str, key: str, ciphers: str) -> str:
    return (
        "admin_tls_certificate and admin_tls_certificate_key must be absolute paths without spaces or ';', "
        f"admin_tls_ciphers a non-empty list of OpenSSL cipher names (got certificate='{cert}', key='{key}', "
        f"ciphers={ciphers})."
    )


SNAKEOIL = ("/etc/ssl/certs/ssl-cert-snakeoil.pem", "/etc/ssl/private/ssl-cert-snakeoil.key")


CASES = [
    pytest.param(
        {"admin_tls_certificate": "certs/admin.pem"},
        TLS_TASK,
        tls_message("certs/admin.pem", SNAKEOIL[1], CIPHERS),
        id="relative-certificate",
    ),
    pytest.param(
        {"admin_tls_certificate_key": "/etc/ssl/private/a key;"},
        TLS_TASK,
        tls_message(SNAKEOIL[0], "/etc/ssl/private/a key;", CIPHERS),
        id="key-path-with-space-and-semicolon",
    ),
    pytest.param(
        {"admin_tls_ciphers": []},
        TLS_TASK,
        tls_message(*SNAKEOIL, "[]"),
        id="no-ciphers",
    ),
    pytest.param(
        {"admin_tls_ciphers": ["ECDHE-RSA-AES128-GCM-SHA256; ssl_protocols TLSv1"]},
        TLS_TASK,
        tls_message(*SNAKEOIL, "['ECDHE-RSA-AES128-GCM-SHA256; ssl_protocols TLSv1']"),
        id="cipher-injecting-a-directive",
    ),
    pytest.param(
        {"admin_fail2ban_maxretry": 0},
        F2B_TASK,
        "admin_fail2ban_maxretry, admin_fail2ban_findtime and admin_fail2ban_bantime must be at least 1 "
        "(got maxretry=0, findtime=600, bantime=3600).",
        id="maxretry-zero",
    ),
    pytest.param(
        {"admin_fail2ban_bantime": -1},
        F2B_TASK,
        "admin_fail2ban_maxretry, admin_fail2ban_findtime and admin_fail2ban_bantime must be at least 1 "
        "(got maxretry=5, findtime=600, bantime=-1).",
        id="negative-bantime",
    ),
]
