#!/usr/bin/python3
"""SMTP sink standing in for Amazon SES in the mail_relay scenario (test only).

Port 587: STARTTLS (test CA certificate) and AUTH PLAIN/LOGIN, both required; accepts only the
test credentials. Port 2525: clear text, no STARTTLS, accepts everything (a relay that falls back
to clear text would deliver here). Each accepted message is stored as JSON under
/var/lib/smtp-sink/<port>/ with the TLS version and the authenticated login.
"""

import json
import signal
import ssl
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = b"ses-smtp-user", b"ses-smtp-password"
STORE = Path("/var/lib/smtp-sink")


class Store:
    def __init__(self, port: int) -> None:
        self.dir = STORE / str(port)
        self.dir.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope):
        # session.ssl: the TLS transport's extra info after STARTTLS, None in clear text.
        cipher = (session.ssl or {}).get("cipher")
        # The authenticator hands the checked LoginPassword back as the session's auth_data.
        auth = session.auth_data if session.authenticated else None
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": cipher[1] if cipher else None,
            "login": login,
            "data": envelope.content.decode("utf-8", "replace"),
        }
        (self.dir / f"{time.time_ns()}.json").write_text(json.dumps(record))
        return "250 2.0.0 stored"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (USER, PASSWORD)
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain("/etc/smtp-sink/sink.pem", "/etc/smtp-sink/sink.key")
secure = Controller(
    Store(587),
    hostname="0.0.0.0",
    port=587,
    tls_context=context,
    require_starttls=True,
    auth_required=True,
    auth_require_tls=True,
    authenticator=authenticator,
)
plain = Controller(Store(2525), hostname="0.0.0.0", port=2525, auth_required=False, auth_require_tls=False)
secure.start()
plain.start()
signal.sigwait({signal.SIGTERM, signal.SIGINT})
secure.stop()
plain.stop()
