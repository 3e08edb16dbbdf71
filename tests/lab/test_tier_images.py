"""What a whole tier image does once launched from the platform, checked by the image gate
(scripts/gate.sh) on the instances it launched: the composition of base, hardening and the tier's
roles, first boot from the emulator's SSM and the platform's launch path, which no role scenario
has. (Each role's own behaviour is proved by its scenario in roles/<role>/molecule/.)

- the first-boot unit is enabled, succeeded and runs before the tier's services;
- the load balancer's path: the target group's health check reaches the instance through its
  loaded firewall (input policy drop);
- the tier's hardening profile (roles/hardening/vars/main.yml, data only) in effect: the loaded
  firewall accepts new connections on exactly the profile's ports and sources (tiers.yml), a login
  shell gets the profile's umask and read-only TMOUT, faillock its deny count, and no sshd;
- a tier without mail runs no MTA; a tier with mail relays to the SES endpoint its runtime
  configuration names, with the SMTP login from SSM, and starts TLS before anything else;
- the API counts in Redis with the token first boot read from SSM;
- admin behind the load balancer: TLS 1.2 and 1.3 only, 401 without the login, 200 with the login
  from SSM, 403 for a client outside the allow-list even with the login.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from arena_contracts import image_side, image_variables, render
from arena_nodelib import cis_logfile_problems
from lab_instances import call, on_node, tier_file

TIERS = ["web", "api", "admin"]
MAIL_TIERS = [t for t in TIERS if "mail_relay" in tier_file(t)["bake_roles"]]
NO_MAIL_TIERS = [t for t in TIERS if t not in MAIL_TIERS]
# The address a request through the load balancer claims for a client outside the admin allow-list
# (TEST-NET-3); the image trusts X-Forwarded-For from the lab VPC, where the ALB's nodes live.
OUTSIDE_CLIENT = "203.0.113.9"
# The host's loopback as an instance sees it (scripts/lab/launch.py, slirp4netns).
HOST_FROM_INSTANCE = "10.0.2.2"
ADMIN_USER = "gate"  # scripts/image_gate.py ADMIN_USER
NEW_ACCEPT = re.compile(r"ip6? saddr (\S+) tcp dport (\{ [^}]+ \}|\S+) ct state new accept")


def node(instances: dict[str, dict[str, Any]], tier: str) -> dict[str, Any]:
    if tier not in instances:
        pytest.skip(f"the gate launched no {tier} instance")
    return instances[tier]


@pytest.mark.parametrize("tier", TIERS)
def test_first_boot_unit_ran_before_the_tier_services(instances, tier: str) -> None:
    container = node(instances, tier)["container"]
    shown = on_node(container, "systemctl show arena-runtime-config.service -p UnitFileState -p Before -p Result")
    props = dict(line.split("=", 1) for line in shown.stdout.splitlines())
    assert (props["UnitFileState"], props["Result"]) == ("enabled", "success")
    assert set(tier_file(tier)["runtime_config_before_units"]) <= set(props["Before"].split())


@pytest.mark.parametrize("tier", TIERS)
def test_the_agent_ships_to_the_log_groups_the_platform_made(instances, tier: str) -> None:
    """roles/cloudwatch_agent on the launched instance, with the settings its first boot read from the
    platform's SSM (roles/platform_monitoring wrote them): the boot unit skipped by its condition (the lab
    image has no agent, an AMI has), and the configuration its program renders from those settings ships
    the journal and nginx's logs to exactly the tier's log groups the platform made, with the retention
    set there; the program the unit runs, as it runs it."""
    import boto3  # noqa: PLC0415 -- only in the gate's lab

    container = node(instances, tier)["container"]
    unit = "arena-cloudwatch-agent-config.service"
    shown = on_node(container, f"systemctl show {unit} -p UnitFileState -p ConditionResult -p Result").stdout
    assert dict(line.split("=", 1) for line in shown.splitlines()) == {
        "UnitFileState": "enabled",
        "ConditionResult": "no",
        "Result": "success",
    }
    argv = on_node(container, f"systemctl show {unit} -p ExecStart --value").stdout
    command = re.search(r"argv\[\]=(\S+ \S+ .*?--output \S+ .*?) ;", argv)
    assert command, argv
    rendered = "/run/arena-lab-agent.json"
    program = re.sub(r"--output \S+", f"--output {rendered}", command.group(1))
    on_node(container, f"{program} && test -s {rendered}")
    config = json.loads(on_node(container, f"cat {rendered}; rm -f {rendered}").stdout)
    collected = config["logs"]["logs_collected"]
    shipped = {e["log_group_name"] for e in collected["journald"]["collect_list"]}
    shipped |= {e["log_group_name"] for e in collected["files"]["collect_list"]}
    logs = boto3.client("logs", endpoint_url=os.environ["AWS_URL"], region_name=os.environ["AWS_REGION"])
    environment = os.environ.get("ARENA_GATE_ENVIRONMENT", "local")
    made = logs.describe_log_groups(logGroupNamePrefix=f"/arena/{environment}/{tier}/")["logGroups"]
    assert shipped == {g["logGroupName"] for g in made}
    assert all(g.get("retentionInDays") for g in made)


@pytest.mark.parametrize("tier", TIERS)
def test_the_load_balancer_path_passes_the_loaded_firewall(instances, tier: str) -> None:
    instance = node(instances, tier)
    chain = on_node(instance["container"], "nft list chain inet arena_filter input").stdout
    assert chain.count("policy drop;") == 1, chain
    # The target group's own check (protocol, port, path) from outside the instance's namespace.
    assert call(instance["health_url"])[0] == 200


def accepted_new_connections(chain: str) -> set[tuple[str, str]]:
    """(source, port) pairs the input chain accepts new TCP connections from; any other rule that
    names a destination port fails the parse, so nothing opens a port unseen."""
    pairs = set()
    for line in (raw.strip() for raw in chain.splitlines()):
        if "dport" not in line:
            continue
        match = NEW_ACCEPT.fullmatch(line)
        assert match, f"a port rule that is not a profile rule: {line}"
        pairs |= {(match[1], port) for port in match[2].strip("{} ").split(", ")}
    return pairs


@pytest.mark.parametrize("tier", TIERS)
def test_the_tier_hardening_profile_holds_on_the_instance(instances, tier: str) -> None:
    """What the hardening profiles set differently, in effect on the tier's instance (the role's
    scenario converges one profile with every component on; roles/hardening/molecule/default)."""
    container = node(instances, tier)["container"]
    # What the tier's bake set: the image side of the contract (tests/arena_contracts.py), rendered
    # from the hardening role's defaults and vars (the profile of the tier's name) and the tier file.
    variables = image_variables(tier)
    umask, tmout, deny, sshd = (
        render(f"{{{{ hardening_{name} }}}}", variables)
        for name in ("umask", "shell_tmout", "pam_faillock_deny", "sshd_enabled")
    )
    rules = image_side(tier).firewall_rules
    expected = {(source, str(port)) for rule in rules for source in rule["sources"] for port in rule["ports"]}
    chain = on_node(container, "nft list chain inet arena_filter input").stdout
    assert accepted_new_connections(chain) == expected, chain
    # A login shell of an existing account (no account is made: Lynis runs beside these tests).
    shell = on_node(container, "su - -s /bin/bash nobody -c 'umask; echo $TMOUT'")
    assert shell.stdout.split() == [f"0{umask}", str(tmout)], shell.stdout
    readonly = on_node(container, "su - -s /bin/bash nobody -c 'TMOUT=0'", check=False)
    assert readonly.returncode != 0 and "TMOUT: readonly variable" in readonly.stderr, readonly.stderr
    faillock = on_node(container, "grep -E '^deny' /etc/security/faillock.conf").stdout
    assert faillock.split() == ["deny", "=", str(deny)]
    status = on_node(container, "dpkg-query -W -f='${Status}' openssh-server 2>/dev/null; true").stdout
    assert ("install ok installed" in status) == sshd, status


@pytest.mark.parametrize("tier", TIERS)
def test_tmp_is_mounted_noexec_on_the_instance(instances, tier: str) -> None:
    """CIS 1.1.2.1.2-1.1.2.1.4 as the instance runs: /tmp mounted as the image's tmp.mount says
    (nodev, nosuid, noexec; the lab mounts it so, systemd skips the unit in a container), and a
    program written there cannot run."""
    container = node(instances, tier)["container"]
    options = on_node(container, "findmnt -n -o OPTIONS /tmp").stdout.strip().split(",")
    assert {"nodev", "nosuid", "noexec"} <= set(options), options
    script = (
        'f=$(mktemp /tmp/gate.XXXXXX) && printf \'#!/bin/sh\\n\' > "$f" && chmod 0755 "$f" && "$f"; '
        'rc=$?; rm -f "$f"; exit $rc'
    )
    assert on_node(container, script, check=False).returncode == 126


@pytest.mark.parametrize("tier", TIERS)
def test_log_files_within_cis_masks_on_the_instance(instances, tier: str) -> None:
    """CIS 6.1.4.1 on the whole tier as it boots (the tier roles' own logs included, e.g. nginx's),
    after the boot-time tmpfiles rules of roles/hardening (logfiles). The gate's Lynis, which runs
    beside these tests and is no part of the image, is left out."""
    container = node(instances, tier)["container"]
    assert cis_logfile_problems(lambda script: on_node(container, script).stdout, ignore=r"^/var/log/lynis") == []


@pytest.mark.parametrize("tier", NO_MAIL_TIERS)
def test_no_mta_on_a_tier_without_mail(instances, tier: str) -> None:
    container = node(instances, tier)["container"]
    status = on_node(container, "dpkg-query -W -f='${Status}' postfix exim4-base 2>/dev/null; true").stdout
    assert "install ok installed" not in status
    listening = on_node(container, "ss -Hltn").stdout
    assert not [line for line in listening.splitlines() if line.split()[3].endswith(":25")], listening


class SesStandIn:
    """An SMTP endpoint on the host's loopback that offers STARTTLS and records what a client sends:
    it refuses to start TLS (454), so a relay that insists on TLS must quit without a MAIL, AUTH or
    message in clear text."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sessions: list[list[str]] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            commands: list[str] = []
            self.sessions.append(commands)
            with conn, conn.makefile("rwb") as stream:
                stream.write(b"220 ses-stand-in ESMTP\r\n")
                stream.flush()
                for raw in stream:
                    line = raw.decode(errors="replace").strip()
                    commands.append(line.split(" ", 1)[0].upper())
                    verb = commands[-1]
                    if verb in ("EHLO", "HELO"):
                        stream.write(b"250-ses-stand-in\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n")
                    elif verb == "STARTTLS":
                        stream.write(b"454 4.7.0 TLS not available now\r\n")
                    elif verb == "QUIT":
                        stream.write(b"221 bye\r\n")
                        stream.flush()
                        break
                    else:
                        stream.write(b"530 5.7.0 Must issue a STARTTLS command first\r\n")
                    stream.flush()

    def close(self) -> None:
        self.server.close()


@pytest.fixture(scope="module")
def ses(instances) -> Any:
    """The stand-in, named by the mail tier's runtime configuration in the emulator's SSM (SMTP_HOST,
    SMTP_PORT beside the gate's SMTP login), as the platform names SES's endpoint."""
    import boto3  # noqa: PLC0415 -- only in the gate's lab

    if not any(t in instances for t in MAIL_TIERS):
        pytest.skip("the gate launched no tier that sends mail")
    stand_in = SesStandIn()
    prefix = json.loads(
        on_node(
            instances[next(t for t in MAIL_TIERS if t in instances)]["container"], "cat /etc/arena/runtime-config.json"
        ).stdout
    )["prefix"]
    ssm = boto3.client("ssm", endpoint_url=os.environ["AWS_URL"], region_name=os.environ["AWS_REGION"])
    environment = os.environ.get("ARENA_GATE_ENVIRONMENT", "local")
    for key, value in (("SMTP_HOST", HOST_FROM_INSTANCE), ("SMTP_PORT", str(stand_in.port))):
        ssm.put_parameter(Name=f"{prefix}/{environment}/mail/{key}", Value=value, Type="SecureString", Overwrite=True)
    yield stand_in
    stand_in.close()


@pytest.mark.parametrize("tier", MAIL_TIERS)
def test_mail_goes_to_the_ses_endpoint_from_ssm_with_tls_first(instances, ses: SesStandIn, tier: str) -> None:
    container = node(instances, tier)["container"]
    # First boot's units again, as at the next boot, with the endpoint now in SSM.
    on_node(container, "systemctl restart arena-runtime-config.service arena-mail-relay-credentials.service")
    nexthop = f"[{HOST_FROM_INSTANCE}]:{ses.port}"
    assert on_node(container, "cat /etc/postfix/runtime/transport").stdout.strip() == f"* smtp:{nexthop}"
    # The login from SSM (scripts/image_gate.py: user gate-smtp-user), for that next hop; not printed.
    # A fixed-string prefix match: the next hop's brackets and dots are not a pattern.
    login = on_node(
        container,
        f"awk -v p='{nexthop} gate-smtp-user:' 'index($0, p) == 1' /etc/postfix/runtime/sasl_passwd | wc -l",
        check=False,
    )
    assert login.stdout.strip() == "1"
    before = len(ses.sessions)
    tag = f"gate-{tier}-{uuid.uuid4()}"
    on_node(
        container,
        f"printf 'Subject: {tag}\\n\\nfrom the gate\\n' | /usr/sbin/sendmail -f app@localhost ops@example.net",
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any("QUIT" in s for s in ses.sessions[before:]):
        on_node(container, "postqueue -f", check=False)  # retry now, not after postfix's backoff
        time.sleep(2)  # the relay delivers asynchronously; polled, bounded by the deadline
    sessions = ses.sessions[before:]
    queue = on_node(container, "postqueue -p", check=False).stdout
    assert sessions, f"the relay never reached {nexthop} through the firewall; queue:\n{queue}"
    for commands in sessions:
        assert commands[:2] in (["EHLO", "STARTTLS"], ["EHLO", "QUIT"]), commands
        assert not {"AUTH", "MAIL", "RCPT", "DATA"} & set(commands), f"sent in clear text: {commands}"
    assert "TLS" in queue, queue  # deferred for want of TLS, not dropped


def test_the_api_counts_in_redis_with_the_token_from_ssm(instances) -> None:
    base = node(instances, "api")["base_url"]
    hits = [json.loads(call(base + "v1/hits", method="POST")[1])["hits"] for _ in range(2)]
    assert hits[1] == hits[0] + 1


@pytest.fixture(scope="module")
def admin(instances) -> dict[str, Any]:
    return node(instances, "admin")


def login(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{ADMIN_USER}:{password}".encode()).decode()}


def test_admin_login_from_ssm(admin) -> None:
    good = login(os.environ["GATE_ADMIN_PASSWORD"])
    statuses = (call(admin["base_url"])[0], call(admin["base_url"], login("not-the-password"))[0])
    assert (*statuses, call(admin["base_url"], good)[0]) == (401, 401, 200)


def test_admin_refuses_a_forwarded_client_outside_the_allow_list(admin) -> None:
    """Through the load balancer (a trusted proxy in the VPC) for a client outside the allow-list:
    403, even with the login."""
    good = login(os.environ["GATE_ADMIN_PASSWORD"])
    assert call(admin["base_url"], {**good, "X-Forwarded-For": OUTSIDE_CLIENT})[0] == 403
    assert call(admin["base_url"], {"X-Forwarded-For": OUTSIDE_CLIENT})[0] == 403


@pytest.mark.parametrize(("version", "accepted"), [("tls1_1", False), ("tls1_2", True), ("tls1_3", True)])
def test_admin_speaks_tls_1_2_and_1_3_only(admin, version: str, accepted: bool) -> None:
    port = admin["base_url"].rsplit(":", 1)[1].strip("/")
    # SECLEVEL=0 lets the client offer TLS 1.1 at all: a refusal is then the server's.
    handshake = subprocess.run(
        [
            "openssl",
            "s_client",
            "-connect",
            f"127.0.0.1:{port}",
            "-brief",
            f"-{version}",
            "-cipher",
            "DEFAULT:@SECLEVEL=0",
        ],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if accepted:
        assert handshake.returncode == 0, handshake.stderr
        assert f"Protocol version: {version.replace('tls', 'TLSv').replace('_', '.')}" in handshake.stderr
    else:
        assert handshake.returncode != 0
        assert "alert protocol version" in handshake.stdout + handshake.stderr


def committed_file(image: str, path: str) -> bytes | None:
    """A file of the image's committed layer (None when absent), read from a created, never started
    container: a running instance's /etc/hostname and /etc/resolv.conf are podman's bind mounts."""
    created = subprocess.run(["podman", "create", image], capture_output=True, text=True, check=True, timeout=120)
    container = created.stdout.strip()
    try:
        root = subprocess.run(["podman", "mount", container], capture_output=True, text=True, check=True, timeout=60)
        try:
            target = Path(root.stdout.strip()) / path.lstrip("/")
            if not (target.exists() or target.is_symlink()):
                return None
            return b"<directory>" if target.is_dir() else target.read_bytes()
        finally:
            subprocess.run(["podman", "umount", container], capture_output=True, check=False, timeout=60)
    finally:
        subprocess.run(["podman", "rm", "-f", container], capture_output=True, check=False, timeout=60)


@pytest.mark.parametrize("tier", TIERS)
def test_the_image_carries_no_build_machine_leftovers(instances, tier: str) -> None:
    """The committed image (what every instance starts from), not the instance: no static hostname,
    no build resolver, no Packer mount point, no second copy of the AIDE baseline."""
    image = node(instances, tier)["image"]
    assert committed_file(image, "/etc/hostname") == b""
    assert b"nameserver" not in (committed_file(image, "/etc/resolv.conf") or b"")
    assert committed_file(image, "/packer-files") is None
    assert committed_file(image, "/var/lib/aide/aide.db.new") is None
    assert committed_file(image, "/var/lib/aide/aide.db") is not None
