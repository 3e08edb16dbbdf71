"""mail_relay over SMTP: a mail sent with sendmail on the node arrives at the SES stand-in over TLS,
authenticated, with the sender rewritten; clear text or an unverifiable peer is never used."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import testinfra
from arena_testinfra import unit_journal

# podman exec directly (not one ansible run per command): the same checks, an order of magnitude faster.
testinfra_hosts = ["podman://mail-relay-default"]

ENV_FILE = "/etc/arena/runtime/mail.env"
UNIT = "arena-mail-relay-credentials.service"


@pytest.fixture(scope="module")
def sink():
    return testinfra.get_host("podman://mail-relay-sink")


def send(host, tag: str) -> None:
    message = f"From: App <app@localhost>\nTo: ops@example.net\nSubject: {tag}\n\nsent by the test {tag}\n"
    cmd = host.run(f"printf '%s' '{message}' | /usr/sbin/sendmail -f app@localhost ops@example.net")
    assert cmd.rc == 0, cmd.stderr


def stored(sink, port: int, tag: str) -> list[dict]:
    # One JSON document per line (json.dumps escapes the message's own line breaks).
    out = sink.run(f'for f in /var/lib/smtp-sink/{port}/*.json; do [ -f "$f" ] && cat "$f" && echo; done; true')
    records = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    return [r for r in records if tag in r["data"]]


def wait_for(sink, port: int, tag: str, seconds: int = 40) -> list[dict]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = stored(sink, port, tag)
        if found:
            return found
        time.sleep(2)
    return []


def queue_reason(host, tag: str, seconds: int = 40) -> str:
    """The deferral reason of the queued mail with this tag ('' if it left the queue)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        queue = host.run("postqueue -j").stdout
        for line in queue.splitlines():
            item = json.loads(line)
            body = host.run(f"postcat -bq {item['queue_id']}").stdout
            reasons = [r.get("delay_reason", "") for r in item["recipients"]]
            if tag in body and any(reasons):
                return " ".join(reasons)
        time.sleep(2)
    return ""


def test_postfix_listens_on_loopback_only(host) -> None:
    assert host.socket("tcp://127.0.0.1:25").is_listening
    assert not host.socket("tcp://0.0.0.0:25").is_listening
    assert host.run("postconf -h inet_interfaces").stdout.strip() == "loopback-only"


def test_mail_arrives_over_tls_authenticated_with_rewritten_sender(host, sink) -> None:
    tag = f"tls-{uuid.uuid4()}"
    send(host, tag)
    records = wait_for(sink, 587, tag)
    assert len(records) == 1, host.run("postqueue -p").stdout
    record = records[0]
    assert record["tls"] in ("TLSv1.2", "TLSv1.3")
    assert record["login"] == "ses-smtp-user"
    assert record["mail_from"] == "no-reply@arena.test"
    assert record["rcpt_tos"] == ["ops@example.net"]
    assert "From: App <no-reply@arena.test>" in record["data"]
    assert not stored(sink, 2525, tag)


def restart(host):
    """Re-run the boot unit. These tests restart it more than systemd's default start limit
    (5 starts in 10 s) allows, so clear the counter first, as an operator re-running it would."""
    return host.run(f"systemctl reset-failed {UNIT}; systemctl restart {UNIT}")


@pytest.fixture
def runtime_env(host):
    """Change the runtime configuration for one test; restore it and re-run the boot unit after."""
    assert host.run(f"cp -p {ENV_FILE} /root/mail.env.good").rc == 0

    def change(expression: str) -> None:
        assert host.run(f"sed -i '{expression}' {ENV_FILE}").rc == 0
        assert restart(host).rc == 0

    yield change
    assert host.run(f"cp -p /root/mail.env.good {ENV_FILE}").rc == 0
    assert restart(host).rc == 0
    assert host.run("postsuper -d ALL").rc == 0


def test_relay_without_starttls_gets_nothing(host, sink, runtime_env) -> None:
    runtime_env("s/^SMTP_PORT=.*/SMTP_PORT=2525/")
    tag = f"clear-{uuid.uuid4()}"
    send(host, tag)
    reason = queue_reason(host, tag)
    assert "TLS is required, but was not offered by host mail-relay-sink" in reason
    assert not stored(sink, 2525, tag)
    assert not stored(sink, 587, tag)


def test_relay_with_an_unverifiable_name_gets_nothing(host, sink, runtime_env) -> None:
    """The sink's certificate names mail-relay-sink; reached by its IP address it cannot be verified."""
    address = host.run("getent hosts mail-relay-sink").stdout.split()[0]  # the sink's IP, by DNS
    runtime_env(f"s/^SMTP_HOST=.*/SMTP_HOST={address}/")
    tag = f"noverify-{uuid.uuid4()}"
    send(host, tag)
    reason = queue_reason(host, tag)
    assert "Server certificate not verified" in reason
    assert not stored(sink, 587, tag)


def test_missing_credentials_fail_the_boot_unit_and_empty_the_tables(host, runtime_env) -> None:
    assert host.run(f"sed -i '/^SMTP_PASSWORD=/d' {ENV_FILE}").rc == 0
    assert restart(host).rc != 0
    message = "SMTP_USERNAME or SMTP_PASSWORD missing from the runtime configuration"
    assert message in unit_journal(host, UNIT, message)
    assert host.file("/etc/postfix/runtime/sasl_passwd").size == 0
    tables = host.file("/etc/postfix/runtime/sasl_passwd")
    assert tables.user == "root" and tables.mode == 0o600
