"""The admin tier end to end on one node: an allow-listed source gets in with the credentials from
the runtime configuration, a wrong or missing password gets 401, a source outside the allow-list
403 even with the password; sshd as the hardening admin profile says; the audit rules for privileged
commands. Shared checks (systemd, first-boot unit, mail over TLS + AUTH, load balancer path, Lynis)
are in molecule/resources/tests."""

from __future__ import annotations

import json
import pathlib

import pytest
import yaml

testinfra_hosts = ["podman://tier-admin"]

REPO = pathlib.Path(__file__).resolve().parents[3]
PROFILE = yaml.safe_load((REPO / "roles" / "hardening" / "vars" / "main.yml").read_text())["__hardening_profiles"][
    "admin"
]

GOOD = "editor:molecule-editor-pw"  # roles/admin's scenario fixture (bcrypt line in molecule.yml)
BAD = "editor:not-the-password"

# Runs on the node. argv[1]: JSON list of [name, address, credentials or ""]. Prints name -> status.
PROBE = r"""
import base64, http.client, json, sys
out = {}
for name, addr, creds in json.loads(sys.argv[1]):
    headers = {"Authorization": "Basic " + base64.b64encode(creds.encode()).decode()} if creds else {}
    conn = http.client.HTTPConnection(addr, 80, timeout=5)
    conn.request("GET", "/", headers=headers)
    out[name] = conn.getresponse().status
    conn.close()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def statuses(host):
    own = host.check_output("hostname -I").split()[0]
    assert not own.startswith("127.")
    requests = [
        ["allowed_good", "127.0.0.1", GOOD],
        ["allowed_bad", "127.0.0.1", BAD],
        ["allowed_none", "127.0.0.1", ""],
        ["outside_good", own, GOOD],
        ["outside_none", own, ""],
    ]
    return json.loads(host.check_output("python3 -c %s %s", PROBE, json.dumps(requests)))


def test_allowed_source_with_credentials_gets_in(statuses):
    assert statuses["allowed_good"] == 200


def test_wrong_or_missing_credentials_get_401(statuses):
    assert (statuses["allowed_bad"], statuses["allowed_none"]) == (401, 401)


def test_source_outside_the_allow_list_gets_403(statuses):
    assert (statuses["outside_good"], statuses["outside_none"]) == (403, 403)


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
