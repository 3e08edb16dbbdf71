"""Bad input for roles/mail_relay: ansible-playbook --check on localhost with bad variables fails in the
validation task with the exact message, and no task before it changed anything."""

from __future__ import annotations

import pytest
from arena_testlib import RoleCases

# The import is what collects this test here, on this file's CASES (F401: ruff sees no use).
from role_input_tests import test_bad_input_fails_in_validation  # noqa: F401

ROLE = "mail_relay"
GOOD: dict = {"mail_relay_domain": "arena.example"}
SPEC_TASK = "Validating arguments against arg spec 'main' - Postfix null client relaying to Amazon SES"


DOMAIN_TASK = "Validate | Platform domain and sender address"


CASES = [
    pytest.param(
        {"mail_relay_domain": ""},
        DOMAIN_TASK,
        "mail_relay_domain must be a lower-case DNS domain (got '') and mail_relay_sender_address an "
        "address in it (got 'no-reply@').",
        id="no-domain",
    ),
    pytest.param(
        {"mail_relay_sender_address": "alerts@other.example"},
        DOMAIN_TASK,
        "mail_relay_domain must be a lower-case DNS domain (got 'arena.example') and "
        "mail_relay_sender_address an address in it (got 'alerts@other.example').",
        id="sender-outside-domain",
    ),
    pytest.param(
        {"mail_relay_relayhost": "email-smtp.eu-west-1.amazonaws.com:587"},
        "Validate | Relay host is a bracketed host and port",
        "mail_relay_relayhost must look like [email-smtp.<region>.amazonaws.com]:587 "
        "(got 'email-smtp.eu-west-1.amazonaws.com:587').",
        id="relayhost-without-brackets",
    ),
    pytest.param(
        {"mail_relay_tls_ca_file": "ca.pem"},
        "Validate | TLS is required and verified",
        "mail_relay_tls_security_level must be secure or verify (clear text or unverified TLS is not allowed; "
        "got 'secure') and mail_relay_tls_ca_file an absolute path (got 'ca.pem').",
        id="relative-ca-file",
    ),
]
SPEC_CASES: list[dict] = [{"mail_relay_tls_security_level": "may"}]


def test_clear_text_is_refused_by_the_argument_spec(cases_run: RoleCases) -> None:
    failed_task, failed_message, stats = cases_run.failure({"mail_relay_tls_security_level": "may"})
    assert failed_task == f"{ROLE} : {SPEC_TASK}"
    assert "value of mail_relay_tls_security_level must be one of: secure, verify, got: may" in failed_message
    assert stats["changed"] == 0
