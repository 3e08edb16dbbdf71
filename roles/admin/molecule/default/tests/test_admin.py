"""admin over HTTP: allow-list (403), basic auth with the bcrypt line from the runtime config (401),
WebDAV content management (201/204/200), /healthz tied to the boot step."""

from __future__ import annotations

import subprocess
import time

import pytest

# One `podman exec` per check instead of one ansible run (the platform name from molecule.yml).
testinfra_hosts = ["podman://admin-default"]


def booted_state(host) -> str:
    """systemd's state after a restart; right after it, exec may come before systemd answers on
    its bus (empty output), so ask again for up to a minute."""
    state = ""
    for _ in range(60):
        state = host.run("systemctl is-system-running --wait").stdout.strip()
        if state:
            break
        time.sleep(1)
    return state


GOOD = "editor:molecule-editor-pw"
BAD = "editor:not-the-password"


def curl(host, url: str, *args: str) -> tuple[int, str]:
    """Status and body of one request made from inside the container (one remote call)."""
    cmd = host.run("curl -s -w '\\n%{http_code}' --max-time 5 " + " ".join(args) + f" '{url}'")
    assert cmd.rc == 0, cmd.stderr
    body, _, status = cmd.stdout.rpartition("\n")
    return int(status), body


@pytest.fixture(scope="module")
def eth0(host) -> str:
    address = host.interface("eth0").addresses[0]
    assert not address.startswith("127.")
    return address


def test_nginx_listens_and_hides_its_version(host) -> None:
    assert host.socket("tcp://0.0.0.0:80").is_listening
    headers = host.run("curl -s -D - -o /dev/null http://127.0.0.1/healthz").stdout
    assert "Server: nginx\r\n" in headers


def test_allowed_source_with_credentials_gets_in(host) -> None:
    status, body = curl(host, "http://127.0.0.1/", "-u", GOOD)
    assert status == 200
    assert "Index of /" in body


def test_wrong_or_missing_credentials_get_401(host) -> None:
    assert curl(host, "http://127.0.0.1/", "-u", BAD)[0] == 401
    assert curl(host, "http://127.0.0.1/")[0] == 401


def test_source_outside_the_allow_list_gets_403_even_with_credentials(host, eth0: str) -> None:
    assert curl(host, f"http://{eth0}/", "-u", GOOD)[0] == 403
    assert curl(host, f"http://{eth0}/")[0] == 403


def test_content_is_managed_over_webdav(host) -> None:
    url = "http://127.0.0.1/news/2026/final.html"
    assert curl(host, url, "-u", GOOD, "-X", "PUT", "--data-binary", "'<h1>Final tonight</h1>'")[0] == 201
    assert curl(host, url, "-u", GOOD) == (200, "<h1>Final tonight</h1>")
    assert host.file("/srv/arena-admin/content/news/2026/final.html").user == "www-data"
    assert curl(host, url, "-u", BAD, "-X", "DELETE")[0] == 401
    assert curl(host, url, "-u", GOOD, "-X", "DELETE")[0] == 204
    assert curl(host, url, "-u", GOOD)[0] == 404


def test_healthz_follows_the_runtime_credentials(host) -> None:
    assert curl(host, "http://127.0.0.1/healthz") == (200, "ok\n")
    # Without a usable runtime configuration the boot step fails and removes the file.
    assert host.run("mv /etc/arena/runtime/admin.env /root/admin.env").rc == 0
    try:
        failed = host.run("systemctl restart arena-admin-credentials.service")
        assert failed.rc != 0
        journal = host.run("journalctl -u arena-admin-credentials.service -n 5 --no-pager -o cat").stdout
        assert "ADMIN_HTPASSWD is missing from the runtime configuration" in journal
        assert curl(host, "http://127.0.0.1/healthz")[0] == 503
        assert curl(host, "http://127.0.0.1/", "-u", GOOD)[0] != 200
    finally:
        assert host.run("mv /root/admin.env /etc/arena/runtime/admin.env").rc == 0
        assert host.run("systemctl restart arena-admin-credentials.service").rc == 0
    assert curl(host, "http://127.0.0.1/healthz") == (200, "ok\n")
    assert curl(host, "http://127.0.0.1/", "-u", GOOD)[0] == 200


def test_basic_auth_file_is_readable_by_nginx_only(host) -> None:
    htpasswd = host.file("/run/arena-admin/htpasswd")
    assert htpasswd.user == "root" and htpasswd.group == "www-data" and htpasswd.mode == 0o640


def test_audit_rules_cover_present_privileged_commands(host) -> None:
    rules = host.file("/etc/audit/rules.d/50-arena-admin.rules").content_string
    assert "-a always,exit -F path=/usr/bin/su -F perm=x -F auid>=1000 -F auid!=unset -k arena-admin-priv" in rules
    assert "-w /etc/nginx -p wa -k arena-admin-config" in rules
    # Only programs present on the host get a rule (auditctl would refuse the whole file).
    for path in ("/usr/bin/sudo", "/usr/sbin/visudo", "/usr/bin/passwd"):
        assert (f"-F path={path} " in rules) == host.file(path).exists, path


def test_credentials_are_rewritten_at_every_boot(host) -> None:
    """Reboot: /run is a fresh tmpfs, so access works again only if the boot unit ran before use."""
    restart = subprocess.run(
        ["podman", "restart", "-t", "10", "admin-default"], check=False, capture_output=True, text=True
    )
    assert restart.returncode == 0, restart.stderr
    state = booted_state(host)
    assert state == "running", host.run("systemctl --failed --no-pager").stdout
    order = host.run("systemctl show -p Before arena-admin-credentials.service").stdout
    assert "nginx.service" in order
    assert curl(host, "http://127.0.0.1/healthz") == (200, "ok\n")
    assert curl(host, "http://127.0.0.1/", "-u", GOOD)[0] == 200
