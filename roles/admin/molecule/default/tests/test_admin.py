"""admin over HTTPS (TLS 1.2/1.3 only, nothing on port 80): allow-list (403), basic auth with the
bcrypt line from the runtime config (401), WebDAV content management (201/204/200), /healthz tied to
the boot step and not logged, fail2ban banning a brute-forcing client at nginx (403)."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml
from arena_testinfra import file_holding, unit_journal

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


BASE = "https://127.0.0.1"
BANNED = "192.0.2.10"  # in the allow-list; reaches nginx through loopback (a trusted proxy) with X-Forwarded-For
JAIL = "nginx-http-auth"
# Where nginx logs requests: the nginx-access log of tiers.yml, the file the CloudWatch agent ships.
TIERS = yaml.safe_load((Path(__file__).resolve().parents[5] / "tiers.yml").read_text())
ACCESS_LOG = TIERS["arena_observability"]["logs"]["nginx-access"]["path"]


def curl(host, url: str, *args: str) -> tuple[int, str]:
    """Status and body of one request made from inside the container (one remote call). -k: the
    certificate is the machine's self-signed snakeoil pair (the load balancer does not verify it)."""
    cmd = host.run("curl -k -s -w '\\n%{http_code}' --max-time 5 " + " ".join(args) + f" '{url}'")
    assert cmd.rc == 0, cmd.stderr
    body, _, status = cmd.stdout.rpartition("\n")
    return int(status), body


@pytest.fixture(scope="module")
def eth0(host) -> str:
    address = host.interface("eth0").addresses[0]
    assert not address.startswith("127.")
    return address


def test_nginx_listens_on_443_only_and_hides_its_version(host) -> None:
    assert host.socket("tcp://0.0.0.0:443").is_listening
    assert [s for s in host.socket.get_listening_sockets() if s.startswith("tcp://") and s.endswith(":80")] == []
    assert curl(host, "http://127.0.0.1:443/healthz")[0] == 400  # plain HTTP on the TLS port
    headers = host.run(f"curl -k -s -D - -o /dev/null {BASE}/healthz").stdout
    assert "Server: nginx\r\n" in headers


def s_client(host, *args: str):
    return host.run("openssl s_client -connect 127.0.0.1:443 -brief " + " ".join(args) + " </dev/null")


@pytest.mark.parametrize("version", ["tls1_2", "tls1_3"])
def test_tls_1_2_and_1_3_are_accepted(host, version: str) -> None:
    handshake = s_client(host, f"-{version}")
    assert handshake.rc == 0, handshake.stderr
    assert f"Protocol version: {version.replace('tls', 'TLSv').replace('_', '.')}" in handshake.stderr


def test_tls_1_1_is_refused_by_the_server(host) -> None:
    # SECLEVEL=0 lets this client offer TLS 1.1 at all; the refusal must be the server's alert.
    handshake = s_client(host, "-tls1_1", "-cipher", "'DEFAULT:@SECLEVEL=0'")
    assert handshake.rc != 0
    assert "alert protocol version" in handshake.stdout + handshake.stderr


def test_tls_1_2_without_aead_is_refused(host) -> None:
    handshake = s_client(host, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA256")
    assert handshake.rc != 0
    assert "handshake failure" in handshake.stdout + handshake.stderr


def test_served_certificate_is_the_machines_snakeoil_pair(host) -> None:
    served = host.check_output(
        "openssl s_client -connect 127.0.0.1:443 </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256"
    )
    on_disk = host.check_output("openssl x509 -noout -fingerprint -sha256 -in /etc/ssl/certs/ssl-cert-snakeoil.pem")
    assert served == on_disk
    after = host.check_output("systemctl show -p After -p Wants nginx.service")
    assert after.count("arena-ssl-snakeoil.service") == 2


def test_allowed_source_with_credentials_gets_in(host) -> None:
    status, body = curl(host, f"{BASE}/", "-u", GOOD)
    assert status == 200
    assert "Index of /" in body


def test_wrong_or_missing_credentials_get_401(host) -> None:
    assert curl(host, f"{BASE}/", "-u", BAD)[0] == 401
    assert curl(host, f"{BASE}/")[0] == 401


def test_source_outside_the_allow_list_gets_403_even_with_credentials(host, eth0: str) -> None:
    assert curl(host, f"https://{eth0}/", "-u", GOOD)[0] == 403
    assert curl(host, f"https://{eth0}/")[0] == 403


def _eventually(host, url: str, want: int, *args: str) -> int:
    """The status of `url` once nginx's reload is over and it is `want`, or the last one after about
    15 s. The boot unit reloads nginx by signal, which returns at once: until the old workers have
    left (titled "worker process is shutting down" once they took the signal), a request can still
    meet the old configuration, so the status must hold on three requests in a row as well."""
    status, in_a_row = 0, 0
    for _ in range(30):
        status = curl(host, url, *args)[0]
        in_a_row = in_a_row + 1 if status == want else 0
        leaving = host.run("pgrep -f 'nginx: worker process is shutting down'").rc == 0
        if in_a_row >= 3 and not leaving:
            break
        time.sleep(0.5)  # nginx reloads in the background; polled, bounded by the loop
    return status


def test_allow_list_is_the_runtime_one_and_fails_closed(host) -> None:
    """nginx allows exactly ALLOWED_CIDRS of the runtime configuration (SSM's
    /arena/<env>/admin/allowed_cidrs), read by the boot unit; without it nobody gets in."""
    env_file = "/etc/arena/runtime/admin.env"
    original = host.file(env_file).content_string
    assert "ALLOWED_CIDRS=127.0.0.0/8,192.0.2.0/24" in original
    assert host.file("/run/arena-admin/allow.conf").contains("^allow 127.0.0.0/8;$")

    def runtime_env(allowed: str | None) -> None:
        lines = [line for line in original.splitlines() if not line.startswith("ALLOWED_CIDRS=")]
        if allowed is not None:
            lines.append(f"ALLOWED_CIDRS={allowed}")
        text = "\\n".join(lines) + "\\n"
        assert host.run(f"printf '{text}' > {env_file}").rc == 0

    try:
        # Loopback off the list: the unit's re-run reloads nginx, loopback is refused with credentials.
        runtime_env("192.0.2.0/24")
        assert host.run("systemctl restart arena-admin-credentials.service").rc == 0
        assert _eventually(host, f"{BASE}/", 403, "-u", GOOD) == 403
        # No list at all: the unit fails, and nginx started without it (as at boot) allows nobody.
        runtime_env(None)
        assert host.run("systemctl restart arena-admin-credentials.service").rc != 0
        message = "ALLOWED_CIDRS is missing from the runtime configuration"
        assert message in unit_journal(host, "arena-admin-credentials.service", message)
        assert not host.file("/run/arena-admin/allow.conf").exists
        assert host.run("systemctl restart nginx.service").rc == 0
        assert curl(host, f"{BASE}/", "-u", GOOD)[0] == 403
        assert curl(host, f"{BASE}/healthz") == (503, "unhealthy: no admin allow-list from the runtime configuration\n")
    finally:
        runtime_env("127.0.0.0/8,192.0.2.0/24")
        assert host.run("systemctl restart arena-admin-credentials.service").rc == 0
    assert _eventually(host, f"{BASE}/", 200, "-u", GOOD) == 200


def test_content_is_managed_over_webdav(host) -> None:
    url = f"{BASE}/news/2026/final.html"
    assert curl(host, url, "-u", GOOD, "-X", "PUT", "--data-binary", "'<h1>Final tonight</h1>'")[0] == 201
    assert curl(host, url, "-u", GOOD) == (200, "<h1>Final tonight</h1>")
    assert host.file("/srv/arena-admin/content/news/2026/final.html").user == "www-data"
    assert curl(host, url, "-u", BAD, "-X", "DELETE")[0] == 401
    assert curl(host, url, "-u", GOOD, "-X", "DELETE")[0] == 204
    assert curl(host, url, "-u", GOOD)[0] == 404


def test_healthz_follows_the_runtime_credentials(host) -> None:
    assert curl(host, f"{BASE}/healthz") == (200, "ok\n")
    # Without a usable runtime configuration the boot step fails and removes the file.
    assert host.run("mv /etc/arena/runtime/admin.env /root/admin.env").rc == 0
    try:
        failed = host.run("systemctl restart arena-admin-credentials.service")
        assert failed.rc != 0
        message = "ADMIN_HTPASSWD is missing from the runtime configuration"
        assert message in unit_journal(host, "arena-admin-credentials.service", message)
        assert curl(host, f"{BASE}/healthz")[0] == 503
        assert curl(host, f"{BASE}/", "-u", GOOD)[0] != 200
    finally:
        assert host.run("mv /root/admin.env /etc/arena/runtime/admin.env").rc == 0
        assert host.run("systemctl restart arena-admin-credentials.service").rc == 0
    assert curl(host, f"{BASE}/healthz") == (200, "ok\n")
    assert curl(host, f"{BASE}/", "-u", GOOD)[0] == 200


def test_healthz_is_not_logged_and_other_requests_are(host) -> None:
    marker = f"probe-{uuid.uuid4()}"
    assert curl(host, f"{BASE}/healthz", "-A", f"{marker}-health")[0] == 200
    assert curl(host, f"{BASE}/", "-A", f"{marker}-index")[0] == 401
    log = file_holding(host, ACCESS_LOG, f"{marker}-index")
    assert f"{marker}-index" in log
    assert f"{marker}-health" not in log


def test_fail2ban_bans_a_brute_forcing_client_at_nginx(host) -> None:
    """Behind the load balancer: the client is the X-Forwarded-For address from a trusted proxy
    (loopback here), the ban is nginx's 403 for that address, even with the right password."""
    assert host.service("fail2ban").is_running
    xff = f"-H 'X-Forwarded-For: {BANNED}'"
    assert curl(host, f"{BASE}/", "-u", GOOD, xff)[0] == 200
    try:
        for _ in range(5):  # admin_fail2ban_maxretry
            assert curl(host, f"{BASE}/", "-u", BAD, xff)[0] == 401
        status = 0
        for _ in range(30):  # fail2ban polls the error log each second, then nginx reloads
            status = curl(host, f"{BASE}/", "-u", GOOD, xff)[0]
            if status == 403:
                break
            time.sleep(1)
        assert status == 403
        assert BANNED in host.check_output(f"fail2ban-client status {JAIL}")
        assert host.file("/var/lib/arena-admin/banned.map").contains(BANNED)
        # Other clients are not affected.
        assert curl(host, f"{BASE}/", "-u", GOOD)[0] == 200
        assert curl(host, f"{BASE}/", "-u", GOOD, "-H 'X-Forwarded-For: 192.0.2.11'")[0] == 200
    finally:
        host.run(f"fail2ban-client set {JAIL} unbanip {BANNED}")
    status = 0
    for _ in range(10):  # nginx reload after the unban
        status = curl(host, f"{BASE}/", "-u", GOOD, xff)[0]
        if status == 200:
            break
        time.sleep(1)
    assert status == 200
    assert BANNED not in host.check_output(f"fail2ban-client status {JAIL}")


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
    assert host.service("fail2ban").is_running
    assert curl(host, f"{BASE}/healthz") == (200, "ok\n")
    assert curl(host, f"{BASE}/", "-u", GOOD)[0] == 200
