"""SES filters: derive the SMTP password of an IAM user from its secret access key.

Amazon SES SMTP credentials are an IAM access key id (the user name) and a password derived from
the secret access key with AWS's documented algorithm (SES Developer Guide, "Obtaining Amazon SES
SMTP credentials", https://docs.aws.amazon.com/ses/latest/dg/smtp-credentials.html): a SigV4
signing-key chain over the fixed date ``11111111``, the region, ``ses`` and ``aws4_request``,
an HMAC-SHA256 of ``SendRawEmail`` with that key, the version byte ``0x04`` in front, base64.
The password is region specific: it only authenticates against ``email-smtp.<region>.amazonaws.com``.

Filters:
    ``arena_ses_smtp_password(secret_access_key, region)``: the SMTP password.
    ``arena_ses_smtp_endpoint(region)``: the SMTP endpoint host name of the region.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any

from ansible.errors import AnsibleFilterError

SMTP_DATE = "11111111"
SMTP_SERVICE = "ses"
SMTP_TERMINAL = "aws4_request"
SMTP_MESSAGE = "SendRawEmail"
SMTP_VERSION = 0x04
REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
SECRET_RE = re.compile(r"^[A-Za-z0-9/+=]{16,128}$")


def _sign(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def _check_region(name: str, region: Any) -> str:
    if not isinstance(region, str) or not REGION_RE.match(region):
        raise AnsibleFilterError(f"{name}: region must look like 'eu-west-1', got {region!r}")
    return region


def smtp_password(secret_access_key: Any, region: Any) -> str:
    """SES SMTP password (version 4) for ``secret_access_key`` in ``region``."""
    name = "arena_ses_smtp_password"
    if not isinstance(secret_access_key, str) or not SECRET_RE.match(secret_access_key):
        # The key itself is never echoed: only its type and length.
        length = len(secret_access_key) if isinstance(secret_access_key, str) else "n/a"
        raise AnsibleFilterError(
            f"{name}: secret_access_key must be an IAM secret access key "
            f"(16-128 base64 characters), got a {type(secret_access_key).__name__} of length {length}"
        )
    _check_region(name, region)
    signature = _sign(("AWS4" + secret_access_key).encode("utf-8"), SMTP_DATE)
    for part in (region, SMTP_SERVICE, SMTP_TERMINAL, SMTP_MESSAGE):
        signature = _sign(signature, part)
    return base64.b64encode(bytes([SMTP_VERSION]) + signature).decode("ascii")


def smtp_endpoint(region: Any) -> str:
    """SES SMTP interface host name of ``region``."""
    return f"email-smtp.{_check_region('arena_ses_smtp_endpoint', region)}.amazonaws.com"


class FilterModule:
    """SES filters."""

    def filters(self) -> dict[str, Any]:
        return {"arena_ses_smtp_password": smtp_password, "arena_ses_smtp_endpoint": smtp_endpoint}
