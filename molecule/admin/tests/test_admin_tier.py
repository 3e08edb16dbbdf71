"""The admin tier end to end on one node, over HTTPS on 443 (TLS 1.2/1.3 only, nothing on port 80):
an allow-listed source gets in with the credentials from the runtime configuration, a wrong or
missing password gets 401, a source outside the allow-list 403 even with the password; fail2ban
guards the login; sshd as the hardening admin profile says; the audit rules for privileged
commands. Shared checks (systemd, first-boot unit, mail over TLS + AUTH, load balancer path, Lynis)
are in molecule/resources/tests."""

from __future__ import annotations

import pathlib

import pytest
import yaml
from arena_nodelib import basic_auth, http_answers

testinfra_hosts = ["podman://tier-admin"]

REPO = pathlib.Path(__file__).resolve().parents[3]
PROFILE = yaml.safe_load((REPO / "roles" / "hardening" / "vars" / "main.yml").read_text())["__hardening_profiles"][
    "admin"
]

GOOD = "editor:molecule-editor-pw"  # roles/admin's scenario fixture (bcrypt line in molecule.yml)
BAD = "editor:not-the-password"

PORT = yaml.safe_load((REPO / "roles" / "admin" / "defaults" / "main.yml").read_text())["admin_listen_port"]


@pytest.fixture(scope="module")
def statuses(host):
    own = host.check_output("hostname -I").split()[0]
    assert not own.startswith("127.")
    requests = [
        ["allowed_good", "GET", f"https://127.0.0.1:{PORT}/", basic_auth(GOOD)],
        ["allowed_bad", "GET", f"https://127.0.0.1:{PORT}/", basic_auth(BAD)],
        ["allowed_none", "GET", f"https://127.0.0.1:{PORT}/"],
        ["outside_good", "GET", f"https://{own}:{PORT}/", basic_auth(GOOD)],
        ["outside_none", "GET", f"https://{own}:{PORT}/"],
    ]
    return {name: answer["status"] for name, answer in http_answers(host, requests).items()}


def test_allowed_source_with_credentials_gets_in(statuses):
    assert statuses["allowed_good"] == 200


def test_wrong_or_missing_credentials_get_401(statuses):
    assert (statuses["allowed_bad"], statuses["allowed_none"]) == (401, 401)


def test_source_outside_the_allow_list_gets_403(statuses):
    assert (statuses["outside_good"], statuses["outside_none"]) == (403, 403)


def test_tls_only_on_443_and_nothing_on_80(host):
    assert PORT == 443
    listening = host.socket.get_listening_sockets()
    assert "tcp://0.0.0.0:443" in listening
    assert [s for s in listening if s.startswith("tcp://") and s.endswith(":80")] == []


@pytest.mark.parametrize(("version", "accepted"), [("tls1_1", False), ("tls1_2", True), ("tls1_3", True)])
def test_tls_versions(host, version, accepted):
    # SECLEVEL=0 lets the client offer TLS 1.1 at all: a refusal is then the server's alert.
    handshake = host.run(
        f"openssl s_client -connect 127.0.0.1:{PORT} -brief -{version} -cipher 'DEFAULT:@SECLEVEL=0' </dev/null"
    )
    if accepted:
        assert handshake.rc == 0, handshake.stderr
        assert f"Protocol version: {version.replace('tls', 'TLSv').replace('_', '.')}" in handshake.stderr
    else:
        assert handshake.rc != 0
        assert "alert protocol version" in handshake.stdout + handshake.stderr


def test_fail2ban_guards_the_login(host):
    assert host.service("fail2ban").is_running
    status = host.check_output("fail2ban-client status nginx-http-auth")
    assert "/var/log/nginx/error.log" in status
    assert host.file("/etc/fail2ban/jail.local").exists


def test_credentials_come_from_the_runtime_config(host):
    line = host.check_output("sed -n 's/^ADMIN_HTPASSWD=//p' /etc/arena/runtime/admin.env").strip()
    htpasswd = host.file("/run/arena-admin/htpasswd")
    assert htpasswd.content_string.strip() == line
    assert (htpasswd.user, htpasswd.group, htpasswd.mode) == ("root", "www-data", 0o640)


def test_sshd_as_the_admin_profile_says(host):
    if PROFILE["sshd_enabled"]:
        assert host.service("ssh").is_running
        assert "passwordauthentication no" in host.check_output("sshd -T").splitlines()
    else:
        assert not host.package("openssh-server").is_installed
        assert not host.socket("tcp://0.0.0.0:22").is_listening


def test_audit_rules_for_privileged_commands(host):
    rules = host.file("/etc/audit/rules.d/50-arena-admin.rules").content_string
    assert "-F path=/usr/bin/su -F perm=x -F auid>=1000 -F auid!=unset -k arena-admin-priv" in rules
    assert host.package("auditd").is_installed
