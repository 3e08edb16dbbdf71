"""Effects of the hardening role (after base) on the scenario's host, with every component on: its
profile (hardening_profile) and sshd settings from its host_vars in molecule.yml. What differs
between the profiles (data only) is checked on each tier's image by the gate
(tests/lab/test_tier_images.py::test_the_tier_hardening_profile_holds_on_the_instance)."""

from __future__ import annotations

import os
import pathlib
import subprocess

import jinja2
import pytest
import yaml

ROLE = pathlib.Path(__file__).resolve().parents[3]
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
PROFILES = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["__hardening_profiles"]
# The profiles' ports are tiers.yml's (vars/main.yml reads them with a lookup): rendered from it.
TIERS = yaml.safe_load((ROLE.parents[1] / "tiers.yml").read_text())
# The scenario's hosts and their host_vars, as molecule wrote them into its inventory.
_HOST_VARS = pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "inventory" / "host_vars"
HOSTS = {path.name: yaml.safe_load(path.read_text()) or {} for path in sorted(_HOST_VARS.iterdir())}
SSH_PORT = 22422  # published on 127.0.0.1 by the scenario's host (sshd enabled)
CAP_NET_ADMIN = 12  # bit in /proc/<pid>/status CapEff
# Straight to the container with `podman exec` (testinfra's podman backend), not one ad-hoc ansible
# run per command: the same checks, several times faster.
testinfra_hosts = [f"podman://{name}" for name in HOSTS]


@pytest.fixture
def profile(host) -> str:
    """The host's hardening_profile (host_vars), which selects its expected values."""
    return HOSTS[host.backend.name]["hardening_profile"]


def _unit(host, unit: str, prop: str) -> str:
    return host.check_output(f"systemctl show {unit} -p {prop} --value")


def test_system_running_without_failed_units(host):
    assert host.run("systemctl is-system-running").stdout.strip() == "running"
    assert host.check_output("systemctl list-units --state=failed --no-legend --plain") == ""


def test_sysctl_file_and_live_values(host):
    conf = host.file(DEFAULTS["hardening_sysctl_file"])
    assert conf.mode == 0o644
    lines = set(conf.content_string.splitlines())
    for key, value in DEFAULTS["hardening_sysctl_settings"].items():
        assert f"{key} = {value}" in lines
    if host.run("test -w /proc/sys/kernel/sysrq").rc == 0:
        for key, value in DEFAULTS["hardening_sysctl_settings"].items():
            assert host.check_output(f"sysctl -n {key}").strip() == str(value), key
    else:
        # Read-only /proc/sys (container): systemd-sysctl is skipped by its own condition, not failed.
        assert _unit(host, "systemd-sysctl.service", "ConditionResult") == "no"
        assert _unit(host, "systemd-sysctl.service", "Result") == "success"


def test_modules_blacklisted(host):
    content = host.file("/etc/modprobe.d/arena-hardening.conf").content_string
    for module in ("usb-storage", "cramfs", "dccp", "sctp", "firewire-core"):
        assert f"install {module} /bin/true" in content


def test_new_account_gets_password_ageing_umask_and_timeout(host, profile):
    umask = PROFILES[profile]["umask"]
    host.run_expect([0], "useradd -m -s /bin/bash hardtest")
    try:
        chage = host.check_output("chage -l hardtest")
        assert "Maximum number of days between password change\t\t: 365" in chage
        assert "Minimum number of days between password change\t\t: 1" in chage
        assert host.check_output("su - hardtest -c umask").strip() == f"0{umask}"
        assert host.check_output("su - hardtest -c 'echo $TMOUT'").strip() == str(PROFILES[profile]["tmout"])
        assert host.run("su - hardtest -c 'TMOUT=0'").rc != 0  # readonly
    finally:
        host.run("userdel -r hardtest")


def test_pam_stack(host, profile):
    auth = host.file("/etc/pam.d/common-auth").content_string
    assert "pam_faillock.so preauth" in auth and "pam_faillock.so authfail" in auth
    password = host.file("/etc/pam.d/common-password").content_string
    assert "pam_pwquality.so" in password and "pam_pwhistory.so" in password
    faillock = host.file("/etc/security/faillock.conf").content_string
    assert f"deny = {PROFILES[profile]['faillock_deny']}" in faillock
    assert "minlen = 14" in host.file("/etc/security/pwquality.conf").content_string
    assert host.run("faillock --user root").rc == 0


def test_core_dumps_off(host):
    assert "*\thard\tcore\t0" in host.file("/etc/security/limits.d/60-arena-coredump.conf").content_string
    assert "Storage=none" in host.file("/etc/systemd/coredump.conf").content_string


@pytest.mark.parametrize(
    ("path", "user", "group", "mode"),
    [
        ("/etc/passwd", "root", "root", 0o644),
        ("/etc/shadow", "root", "shadow", 0o640),
        ("/etc/gshadow", "root", "shadow", 0o640),
        ("/etc/group", "root", "root", 0o644),
        ("/etc/cron.allow", "root", "root", 0o600),
        ("/etc/at.allow", "root", "root", 0o600),
    ],
)
def test_permissions(host, path, user, group, mode):
    f = host.file(path)
    assert (f.user, f.group, f.mode) == (user, group, mode)


def test_suid_set_equals_allow_list(host):
    found = set(host.check_output("find / -xdev -type f -perm /6000 2>/dev/null || true").split())
    present = {p for p in DEFAULTS["hardening_suid_allowlist"] if host.file(p).exists}
    assert found == present
    # Stripped bits survive upgrades: dpkg knows the new mode.
    assert "/usr/bin/chfn" in host.check_output("dpkg-statoverride --list")


def test_cron_at_allow_only(host):
    assert host.file("/etc/cron.allow").content_string.splitlines() == ["root"]
    assert not host.file("/etc/cron.deny").exists
    assert not host.file("/etc/at.deny").exists


def test_banners_without_os_details(host):
    for path in ("/etc/issue", "/etc/issue.net", "/etc/motd"):
        content = host.file(path).content_string
        assert "Authorised access only" in content
        assert "Debian" not in content and "\\r" not in content


def test_sudo_defaults(host):
    assert host.run("visudo -c").rc == 0
    content = host.file("/etc/sudoers.d/00-arena-hardening").content_string
    assert "Defaults use_pty" in content and 'Defaults logfile="/var/log/sudo.log"' in content
    assert host.file("/etc/sudoers.d/00-arena-hardening").mode == 0o440


def test_journald_persistent(host):
    merged = host.check_output("systemd-analyze cat-config systemd/journald.conf")
    assert "Storage=persistent" in merged and "Compress=yes" in merged
    assert host.file("/var/log/journal").is_directory


def test_auditd_rules_and_clean_skip(host):
    rules = host.file("/etc/audit/rules.d/50-arena-cis.rules")
    assert rules.mode == 0o640
    content = rules.content_string
    for line in (
        "-w /etc/sudoers -p wa -k scope",
        "-w /etc/shadow -p wa -k identity",
        "-a always,exit -F arch=b64 -S sethostname,setdomainname -k system-locale",
        "-a always,exit -F path=/usr/bin/sudo -F perm=x -F auid>=1000 -F auid!=unset -k privileged",
    ):
        assert line in content
    # Not an image bake: rules stay changeable.
    assert not host.file("/etc/audit/rules.d/99-arena-finalize.rules").exists
    assert _unit(host, "auditd.service", "UnitFileState") == "enabled"
    # In a container the kernel's audit subsystem is not ours: skipped by condition, not failed.
    assert _unit(host, "auditd.service", "ConditionResult") == "no"
    assert _unit(host, "auditd.service", "ActiveState") == "inactive"


def test_process_accounting_file_and_clean_skip(host):
    assert _unit(host, "acct.service", "UnitFileState") == "enabled"
    # accton(8) needs CAP_SYS_PACCT over the host's kernel: in a container skipped, not failed.
    assert _unit(host, "acct.service", "ConditionResult") == "no"
    assert _unit(host, "acct.service", "Result") == "success"
    # At boot systemd-tmpfiles makes the accounting file (an image's /var/log is emptied): delete
    # it and let the boot-time rule recreate it with its owner and mode.
    host.run("rm -f /var/log/account/pacct")
    assert host.run("systemd-tmpfiles --create /etc/tmpfiles.d/arena-acct.conf").rc == 0
    pacct = host.file("/var/log/account/pacct")
    assert pacct.is_file
    assert (pacct.user, pacct.group, pacct.mode) == ("root", "adm", 0o640)
    assert host.exists("lastcomm")


def test_aide_configured_and_daily_check_skipped_without_baseline(host):
    assert host.run("aide --config-check --config /etc/aide/aide.conf").rc == 0
    assert "Checksums = sha512" in host.check_output("grep -E '^Checksums' /etc/aide/aide.conf")
    assert _unit(host, "dailyaidecheck.timer", "UnitFileState") == "enabled"
    # Only a baked image has a baseline (tasks/aide_baseline.yml): elsewhere the check is skipped.
    assert not host.file("/var/lib/aide/aide.db").exists
    host.run("systemctl start dailyaidecheck.service")
    assert _unit(host, "dailyaidecheck.service", "ConditionResult") == "no"
    assert _unit(host, "dailyaidecheck.service", "Result") == "success"


def test_aide_baseline_then_check_reports_a_changed_file(host):
    init = host.run("aide --init --config /etc/aide/aide.conf")
    assert init.rc == 0, init.stderr
    host.check_output("cp -p /var/lib/aide/aide.db.new /var/lib/aide/aide.db")
    assert host.run("aide --check --config /etc/aide/aide.conf").rc == 0
    host.check_output("echo tampered >> /etc/issue.net")
    # The whole baseline and a clean check of it above; the tampered file is found within /etc (a
    # third scan of the whole filesystem would cost about 6 CPU-seconds more).
    check = host.run("aide --check --limit '^/etc/' --config /etc/aide/aide.conf")
    # aide's exit code is a bit mask of added (1), removed (2) and changed (4) entries.
    assert check.rc & 4, check.stdout
    assert "/etc/issue.net" in check.stdout
    host.check_output("rm -f /var/lib/aide/aide.db /var/lib/aide/aide.db.new")


def test_every_component_on(host):
    """The scenario's premise: sshd enabled and CAP_NET_ADMIN, so every check below has its subject."""
    assert HOSTS[host.backend.name].get("hardening_sshd_enabled")
    cap_eff = host.check_output("sed -n 's/^CapEff:\\s*//p' /proc/1/status")
    assert int(cap_eff, 16) >> CAP_NET_ADMIN & 1


def test_firewall(host, profile):
    assert host.file("/etc/nftables.conf").mode == 0o600
    assert _unit(host, "nftables.service", "UnitFileState") == "enabled"
    assert _unit(host, "nftables.service", "ActiveState") == "active"
    ruleset = host.check_output("nft list chain inet arena_filter input")
    assert "policy drop;" in ruleset
    for rule in PROFILES[profile]["firewall_rules"]:
        for source in rule["sources"]:
            ports = ", ".join(jinja2.Template(str(p)).render(__hardening_tiers=TIERS) for p in rule["ports"])
            expected = f"ip saddr {source} tcp dport {ports} ct state new accept"
            assert expected in ruleset.replace("{ ", "").replace(" }", "")
    # hardening_sshd_allowed_cidrs (molecule.yml) on hardening_sshd_port.
    assert "ip saddr 10.88.0.1 tcp dport 22 ct state new accept" in ruleset


def test_sshd_effective_config(host):
    effective = set(host.check_output("sshd -T").splitlines())
    for line in (
        "permitrootlogin no",
        "passwordauthentication no",
        "kbdinteractiveauthentication no",
        "authenticationmethods publickey",
        "allowgroups arena-ssh",
        "x11forwarding no",
        "allowtcpforwarding no",
        "maxauthtries 3",
        "ciphers " + ",".join(DEFAULTS["hardening_sshd_ciphers"]),
        "kexalgorithms " + ",".join(DEFAULTS["hardening_sshd_kex_algorithms"]),
        "macs " + ",".join(DEFAULTS["hardening_sshd_macs"]),
    ):
        assert line in effective
    assert host.service("ssh").is_running
    assert host.file("/etc/ssh/sshd_config.d/00-arena-hardening.conf").mode == 0o600


def _ssh(*options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "ssh", "-p", str(SSH_PORT),
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "ConnectTimeout=10", *options, "arena-admin@127.0.0.1", "id -nG",
        ],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def test_ssh_key_login_from_host_succeeds():
    key = pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "id_ed25519"
    result = _ssh("-i", str(key), "-o", "IdentitiesOnly=yes")
    assert result.returncode == 0, result.stderr
    assert "arena-ssh" in result.stdout.split()


def test_ssh_password_login_is_refused():
    result = _ssh("-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive")
    assert result.returncode == 255
    assert "Permission denied (publickey)" in result.stderr


def test_fail2ban_guards_sshd_and_bans_with_nftables(host):
    assert host.service("fail2ban").is_running
    status = host.check_output("fail2ban-client status sshd")
    assert "Journal matches:" in status and "_SYSTEMD_UNIT=sshd.service" in status
    # The ban path end to end, on a documentation address (never the host that runs the tests).
    host.check_output("fail2ban-client set sshd banip 192.0.2.77")
    try:
        assert "192.0.2.77" in host.check_output("nft list ruleset")
    finally:
        host.check_output("fail2ban-client set sshd unbanip 192.0.2.77")
    assert "192.0.2.77" not in host.check_output("nft list ruleset")
