"""arena_ses_smtp_password / arena_ses_smtp_endpoint: AWS's SMTP password algorithm, bad input."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from arena_loader import filter_plugin
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[3]
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS's documented example secret key


ses = filter_plugin("arena_ses")


def botocore_reference(secret: str, region: str) -> str:
    """The same password through botocore's own SigV4 implementation (independent of the filter).

    SigV4Auth.signature(string_to_sign, request) derives the signing key from the request's date,
    the region and the service, then signs string_to_sign: exactly the SMTP algorithm with the date
    fixed to 11111111 and the string to sign "SendRawEmail".
    """
    auth = SigV4Auth(Credentials("AKIDEXAMPLE", secret), "ses", region)
    request = AWSRequest(method="POST", url="https://example.invalid/")
    request.context["timestamp"] = "11111111T000000Z"
    signature = bytes.fromhex(auth.signature("SendRawEmail", request))
    return base64.b64encode(b"\x04" + signature).decode()


@pytest.mark.parametrize("region", ["eu-west-1", "us-east-1", "eu-central-1", "ap-southeast-2"])
def test_password_matches_botocore_sigv4(region: str) -> None:
    assert ses.smtp_password(SECRET, region) == botocore_reference(SECRET, region)


def test_password_shape() -> None:
    raw = base64.b64decode(ses.smtp_password(SECRET, "eu-west-1"))
    assert raw[0] == 0x04
    assert len(raw) == 33  # version byte + SHA-256


def test_password_is_region_specific() -> None:
    assert ses.smtp_password(SECRET, "eu-west-1") != ses.smtp_password(SECRET, "eu-west-2")


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+", min_size=40, max_size=40))
def test_password_property_matches_botocore(secret: str) -> None:
    assert ses.smtp_password(secret, "eu-west-1") == botocore_reference(secret, "eu-west-1")


def test_endpoint() -> None:
    assert ses.smtp_endpoint("eu-west-1") == "email-smtp.eu-west-1.amazonaws.com"


@pytest.mark.parametrize(
    ("secret", "region", "message"),
    [
        (
            "short",
            "eu-west-1",
            "arena_ses_smtp_password: secret_access_key must be an IAM secret access key "
            "(16-128 base64 characters), got a str of length 5",
        ),
        (
            None,
            "eu-west-1",
            "arena_ses_smtp_password: secret_access_key must be an IAM secret access key "
            "(16-128 base64 characters), got a NoneType of length n/a",
        ),
        (SECRET, "Europe", "arena_ses_smtp_password: region must look like 'eu-west-1', got 'Europe'"),
        (SECRET, "", "arena_ses_smtp_password: region must look like 'eu-west-1', got ''"),
    ],
    ids=["short-secret", "no-secret", "bad-region", "empty-region"],
)
def test_bad_input(secret: object, region: object, message: str) -> None:
    with pytest.raises(AnsibleFilterError) as err:
        ses.smtp_password(secret, region)
    assert err.value.message == message
    if isinstance(secret, str):
        assert secret not in str(err.value) or secret == ""


def test_endpoint_bad_region() -> None:
    with pytest.raises(
        AnsibleFilterError, match=r"^arena_ses_smtp_endpoint: region must look like 'eu-west-1', got 3$"
    ):
        ses.smtp_endpoint(3)


def test_filter_module_exports() -> None:
    assert set(ses.FilterModule().filters()) == {"arena_ses_smtp_password", "arena_ses_smtp_endpoint"}
