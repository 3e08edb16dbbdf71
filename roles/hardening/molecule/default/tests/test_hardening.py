"""Effects of the hardening role (after base) on the scenario's host, with every component on: its
profile (hardening_profile) and sshd settings from its host_vars in molecule.yml. What differs
between the profiles (data only) is checked on each tier's image by the gate
(tests/lab/test_tier_images.py::test_the_tier_hardening_profile_holds_on_the_instance)."""

from __future__ import annotations

import base64
import os
import pathlib
import re
import shlex
import subprocess

import jinja2
import pytest
import yaml
from arena_nodelib import cis_logfile_problems

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
# Passes pwquality (14+ characters, 4 classes, no dictionary word, no runs).
PASSWORD = "Xy7#kq9%Lm2@pZ4w"
OTHER_PASSWORD = "Qw8&zx5^Vb3!nM6t"
# The PAM client of the tests: pam_start/pam_authenticate/pam_acct_mgmt of libpam.so.0, as pamtester
# calls them (pamtester is not in the lab's package image and apt is offline in the scenario). The
# password comes from $ARENA_PAM_PASSWORD (empty when unset); libpam's fail delay is switched off so
# that a refused attempt does not sleep 2-3 s.
PAMCHECK = """
import ctypes, ctypes.util, os, sys
pam = ctypes.CDLL("libpam.so.0")
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.calloc.restype = ctypes.c_void_p
libc.strdup.restype = ctypes.c_void_p
libc.strdup.argtypes = [ctypes.c_char_p]
pam.pam_strerror.restype = ctypes.c_char_p
class Msg(ctypes.Structure):
    _fields_ = [("style", ctypes.c_int), ("msg", ctypes.c_char_p)]
class Resp(ctypes.Structure):
    _fields_ = [("resp", ctypes.c_void_p), ("retcode", ctypes.c_int)]
CONV = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.POINTER(Msg)),
                        ctypes.POINTER(ctypes.POINTER(Resp)), ctypes.c_void_p)
class Conv(ctypes.Structure):
    _fields_ = [("conv", CONV), ("appdata", ctypes.c_void_p)]
password = os.environ.get("ARENA_PAM_PASSWORD", "").encode()
def conv(count, messages, responses, _):
    out = ctypes.cast(libc.calloc(count, ctypes.sizeof(Resp)), ctypes.POINTER(Resp))
    for i in range(count):
        if messages[i].contents.style in (1, 2):  # PAM_PROMPT_ECHO_OFF, PAM_PROMPT_ECHO_ON
            out[i].resp = libc.strdup(password)
    responses[0] = out
    return 0
conversation = Conv(CONV(conv), None)
handle = ctypes.c_void_p()
pam.pam_start.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(Conv), ctypes.POINTER(ctypes.c_void_p)]
assert pam.pam_start(sys.argv[1].encode(), sys.argv[2].encode(), ctypes.byref(conversation), ctypes.byref(handle)) == 0
no_delay = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p)(lambda *_: None)
pam.pam_set_item(handle, 10, no_delay)  # PAM_FAIL_DELAY
for step in sys.argv[3:]:
    rc = {"authenticate": pam.pam_authenticate, "acct_mgmt": pam.pam_acct_mgmt}[step](handle, 0)
    print(step, pam.pam_strerror(handle, rc).decode())
    if rc:
        sys.exit(1)
"""
PAMCHECK_PATH = "/run/arena-pamcheck.py"


@pytest.fixture
def profile(host) -> str:
    """The host's hardening_profile (host_vars), which selects its expected values."""
    return HOSTS[host.backend.name]["hardening_profile"]


def _unit(host, unit: str, prop: str) -> str:
    return host.check_output(f"systemctl show {unit} -p {prop} --value")


@pytest.fixture
def pam(host):
    """pam(service, user, *steps, password=...) -> the PAM client's result (rc 0: every step passed)."""
    encoded = base64.b64encode(PAMCHECK.encode()).decode()
    host.check_output(f"echo {encoded} | base64 -d > {PAMCHECK_PATH}")

    def run(service: str, user: str, *steps: str, password: str = ""):
        return host.run(
            f"ARENA_PAM_PASSWORD={shlex.quote(password)} python3 {PAMCHECK_PATH} {service} {user} {' '.join(steps)}"
        )

    return run


@pytest.fixture
def make_user(host):
    """make_user(name, password or None for an empty one): a throw-away login user, removed afterwards."""
    made: list[str] = []

    def make(name: str, password: str | None) -> str:
        host.run(f"userdel -r {name}")
        host.check_output(f"useradd -m -s /bin/bash {name}")
        made.append(name)
        if password is None:
            host.check_output(f"passwd -d {name}")
        else:
            # chpasswd through PAM: pwquality, pwhistory and pam_unix's yescrypt, as passwd(1) would.
            host.check_output(f"echo {shlex.quote(f'{name}:{password}')} | chpasswd")
        return name

    yield make
    for name in made:
        host.run(f"faillock --user {name} --reset")
        host.run(f"userdel -r {name}")


def _failures(host, user: str) -> int:
    """Failure records pam_faillock keeps for the user (lines of `faillock --user` that start with a date)."""
    return len(re.findall(r"^\d{4}-\d\d-\d\d ", host.check_output(f"faillock --user {user}"), re.MULTILINE))


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
        # CIS 5.4.1.5: useradd's INACTIVE lands in the new account's shadow entry (field 7).
        shadow = host.check_output("getent shadow hardtest").split(":")
        assert shadow[6] == str(DEFAULTS["hardening_login_inactive_days"])
        assert host.check_output("su - hardtest -c umask").strip() == f"0{umask}"
        assert host.check_output("su - hardtest -c 'echo $TMOUT'").strip() == str(PROFILES[profile]["tmout"])
        assert host.run("su - hardtest -c 'TMOUT=0'").rc != 0  # readonly
    finally:
        host.run("userdel -r hardtest")


def test_interactive_non_login_shell_gets_the_umask(host, profile, make_user):
    """CIS 5.4.3.3: an interactive non-login bash reads /etc/bash.bashrc only (not /etc/profile.d)."""
    user = make_user("h17-umask", None)
    expected = f"0{PROFILES[profile]['umask']}"
    assert host.check_output(f"runuser -u {user} -- bash -ic umask 2>/dev/null").strip() == expected
    assert host.check_output(f"runuser -l {user} -c umask").strip() == expected  # login shell


def test_password_hashes_are_yescrypt(host, make_user):
    """CIS 5.4.1.4 and 5.3.3.4.3: PAM's password change (pam_unix yescrypt) and the shadow tools' own
    hashing (login.defs ENCRYPT_METHOD, here through chgpasswd, which has no PAM) both write $y$."""
    user = make_user("h17-hash", PASSWORD)
    assert host.check_output(f"getent shadow {user}").split(":")[1].startswith("$y$")
    host.check_output(f"echo {shlex.quote(f'{user}:{PASSWORD}')} | chgpasswd")
    assert host.check_output(f"getent gshadow {user}").split(":")[1].startswith("$y$")
    defs = host.file("/etc/login.defs").content_string
    assert re.search(r"^ENCRYPT_METHOD\s+YESCRYPT$", defs, re.MULTILINE)
    assert re.search(r"^YESCRYPT_COST_FACTOR\s+5$", defs, re.MULTILINE)


def test_pam_stack(host, profile):
    auth = host.file("/etc/pam.d/common-auth").content_string
    assert "pam_faillock.so preauth" in auth and "pam_faillock.so authfail" in auth
    assert re.search(
        r"^account\s+required\s+pam_faillock\.so", host.file("/etc/pam.d/common-account").content_string, re.M
    )
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
    assert host.file("/etc/at.allow").content_string.splitlines() == ["root"]
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


def test_journald_is_the_one_logging_system(host):
    """CIS 6.1.1.1, 6.1.1.3, 6.1.1.4, 6.1.2.1.4, 6.1.2.2-6.1.2.4: the effective (merged) journald.conf,
    each key set by exactly one drop-in (roles/base: storage and limits; hardening: forwarding),
    journald running, no second logging system and no journal receiver installed."""
    merged = host.check_output("systemd-analyze cat-config systemd/journald.conf")
    setters: dict[str, list[str]] = {}
    effective: dict[str, str] = {}
    source = ""
    for line in merged.splitlines():
        if line.startswith("# /"):
            source = line[2:]
        elif re.match(r"^[A-Za-z]+=", line):
            key, value = line.split("=", 1)
            setters.setdefault(key, []).append(source)
            effective[key] = value
    assert {key: files for key, files in setters.items() if len(files) > 1} == {}
    assert effective["Storage"] == "persistent" and effective["Compress"] == "yes"
    assert effective["ForwardToSyslog"] == "no"
    for key in ("SystemMaxUse", "SystemKeepFree", "RuntimeMaxUse", "RuntimeKeepFree", "MaxFileSec"):
        assert effective.get(key), key
    assert host.file("/var/log/journal").is_directory
    assert host.service("systemd-journald").is_running
    for package in ("rsyslog", "syslog-ng-core", "syslog-ng", "systemd-journal-remote"):
        assert not host.package(package).is_installed, package


def test_tmp_and_dev_shm_get_nodev_nosuid_noexec_from_the_next_boot(host):
    """CIS 1.1.2.1.1-1.1.2.1.4 and 1.1.2.2.1-1.1.2.2.4: tmp.mount (a tmpfs of its own) is enabled for
    the next boot with nodev, nosuid, noexec, and is a valid unit; here it is skipped by its
    container condition (podman mounts /tmp), with no failed unit. /dev/shm's fstab entry adds
    noexec (applied by systemd-remount-fs at boot); apt unpacks its templates outside /tmp."""
    unit = dict(
        line.split("=", 1)
        for line in host.check_output("systemctl show tmp.mount -p UnitFileState -p FragmentPath").splitlines()
    )
    assert unit == {"UnitFileState": "enabled", "FragmentPath": "/etc/systemd/system/tmp.mount"}
    options = host.check_output("sed -n 's/^Options=//p' /etc/systemd/system/tmp.mount").split(",")
    assert {"nodev", "nosuid", "noexec", "mode=1777"} <= set(options), options
    verify = host.run("systemd-analyze verify --man=no /etc/systemd/system/tmp.mount")
    assert verify.rc == 0, verify.stderr
    assert host.run("systemctl is-failed tmp.mount").stdout.strip() != "failed"
    shm = host.check_output("findmnt --fstab -n -o FSTYPE,OPTIONS /dev/shm").split()
    assert shm[0] == "tmpfs" and {"nodev", "nosuid", "noexec"} <= set(shm[1].split(",")), shm
    temp_dir = host.check_output("apt-config dump APT::ExtractTemplates::TempDir")
    assert temp_dir == 'APT::ExtractTemplates::TempDir "/var/tmp";'


def test_no_cron_or_at_daemon(host):
    """Jobs are systemd timers: no cron or at daemon (a later install is still held by the allow files)."""
    for package in ("cron", "cronie", "anacron", "systemd-cron", "bcron", "at"):
        assert not host.package(package).is_installed, package
    assert host.file("/etc/cron.allow").is_file and host.file("/etc/at.allow").is_file


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
    """The baseline as tasks/aide_baseline.yml builds it (straight into aide.db, no aide.db.new beside
    it), a clean check of it after the daily timers' work, then a changed file reported. The host is
    left as it was (no baseline, the banner untouched) whatever fails, so verify can run again."""
    daily = "systemd-tmpfiles-clean.service dpkg-db-backup.service"
    try:
        # The container's root is overlayfs: the first write below /var/backups copies the directory up,
        # which changes /var's ctime and /var/backups' link count (an instance's ext4 root does neither).
        # dpkg-db-backup (daily, at 00:00) did that in the middle of a check that ran over midnight (clone
        # 75, 2026-12-07): its first run goes before the baseline.
        host.check_output("systemctl start dpkg-db-backup.service")
        init = host.run("aide --init --config /etc/aide/aide.conf -B 'database_out=file:/var/lib/aide/aide.db'")
        assert init.rc == 0, init.stderr
        assert not host.file("/var/lib/aide/aide.db.new").exists
        # What a day's timers do between two checks is no change: systemd-tmpfiles-clean.service (its
        # start makes /run/systemd/temporary-credentials, which failed the clean check in CI) and
        # dpkg-db-backup.service (the dpkg database's daily backup into /var/backups).
        host.check_output(f"systemctl start {daily}")
        clean = host.run("aide --check --config /etc/aide/aide.conf")
        assert clean.rc == 0, clean.stdout.partition("Detailed information")[0]
        host.check_output("cp -p /etc/issue.net /etc/issue.net.arena-test && echo tampered >> /etc/issue.net")
        # The whole baseline and a clean check of it above; the tampered file is found within /etc (a
        # third scan of the whole filesystem would cost about 6 CPU-seconds more).
        check = host.run("aide --check --limit '^/etc/' --config /etc/aide/aide.conf")
        # aide's exit code is a bit mask of added (1), removed (2) and changed (4) entries.
        assert check.rc & 4, check.stdout
        assert "/etc/issue.net" in check.stdout
    finally:
        host.run(
            "rm -f /var/lib/aide/aide.db; "
            "if [ -e /etc/issue.net.arena-test ]; then mv /etc/issue.net.arena-test /etc/issue.net; fi"
        )


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


def test_no_nullok_in_the_pam_stack_and_yescrypt_kept(host):
    """CIS 5.3.3.4.1, 5.3.3.4.3: the generated stack has no nullok; pam_unix's password line hashes with yescrypt."""
    common = ("auth", "account", "password", "session", "session-noninteractive")
    for name in common:
        assert not re.search(r"\bnullok\b", host.file(f"/etc/pam.d/common-{name}").content_string), name
    password = host.file("/etc/pam.d/common-password").content_string
    assert re.search(r"^password\s.*pam_unix\.so\b.*\byescrypt\b", password, re.MULTILINE)


def test_an_empty_password_cannot_authenticate(host, pam, make_user):
    empty = make_user("h17-empty", None)
    known = make_user("h17-known", PASSWORD)
    refused = pam("login", empty, "authenticate")
    assert refused.rc == 1, refused.stdout
    # The test can pass: a known password authenticates through the same service and client ...
    assert pam("login", known, "authenticate", "acct_mgmt", password=PASSWORD).rc == 0
    # ... and the empty password would, with nullok (a probe service with Debian's own pam_unix nullok line).
    probe = "/etc/pam.d/arena-nullok-probe"
    host.check_output(f"printf 'auth required pam_unix.so nullok\\n' > {probe}")
    try:
        assert pam("arena-nullok-probe", empty, "authenticate").rc == 0
    finally:
        host.check_output(f"rm -f {probe}")


def test_a_libpam_runtime_upgrade_keeps_nullok_out(host, pam, make_user):
    """libpam-runtime's postinst runs `pam-auth-update --package` on every upgrade or reinstall (run here
    as dpkg does, through dpkg-reconfigure): Debian's `unix` profile stays disabled."""
    host.check_output("DEBIAN_FRONTEND=noninteractive dpkg-reconfigure -fnoninteractive libpam-runtime")
    host.check_output("DEBIAN_FRONTEND=noninteractive pam-auth-update --package")
    assert host.run("grep -lw nullok /etc/pam.d/common-auth /etc/pam.d/common-password").rc == 1
    assert re.search(r"\bpam_unix\.so\b", host.file("/etc/pam.d/common-auth").content_string)
    empty = make_user("h17-empty2", None)
    assert pam("login", empty, "authenticate").rc == 1


def test_faillock_counts_in_auth_resets_in_account_and_locks(host, profile, pam, make_user):
    """CIS 5.3.2.2, 5.3.3.1.1: auth records each failure; the account stack's pam_faillock clears the
    record after a good login; deny failures lock the account even for the right password."""
    user = make_user("h17-lock", PASSWORD)
    assert pam("login", user, "authenticate", password="wrong").rc == 1
    assert _failures(host, user) == 1
    assert pam("login", user, "authenticate", "acct_mgmt", password=PASSWORD).rc == 0
    assert _failures(host, user) == 0  # reset by `account required pam_faillock.so`
    deny = PROFILES[profile]["faillock_deny"]
    for _ in range(deny):
        assert pam("login", user, "authenticate", password="wrong").rc == 1
    assert _failures(host, user) == deny
    assert pam("login", user, "authenticate", password=PASSWORD).rc == 1  # locked
    host.check_output(f"faillock --user {user} --reset")
    assert pam("login", user, "authenticate", "acct_mgmt", password=PASSWORD).rc == 0


def test_su_only_for_the_empty_su_group(host, make_user):
    """CIS 5.2.7: pam_wheel in /etc/pam.d/su with an empty group: a user who knows the target's
    password cannot su; once a member, the same command works (the test can pass); root still can."""
    group = DEFAULTS["hardening_pam_su_group"]
    assert host.check_output(f"getent group {group}").split(":")[3] == ""
    caller = make_user("h17-caller", PASSWORD)
    target = make_user("h17-target", OTHER_PASSWORD)
    su = f"echo {shlex.quote(OTHER_PASSWORD)} | runuser -u {caller} -- su {target} -c 'id -un'"
    refused = host.run(su)
    assert refused.rc == 1 and "Permission denied" in refused.stderr, (refused.stdout, refused.stderr)
    host.check_output(f"gpasswd -a {caller} {group}")
    try:
        assert host.check_output(su).strip() == target
    finally:
        host.check_output(f"gpasswd -d {caller} {group}")
    assert host.check_output(f"su {target} -c 'id -un'").strip() == target  # root: pam_rootok


def test_var_log_files_within_cis_masks(host):
    """CIS 6.1.4.1 on the converged host: every log file, whoever created it."""
    assert cis_logfile_problems(host.check_output) == []


def test_log_file_modes_hold_after_recreation_and_apt(host):
    """A deleted dpkg.log is made again by the boot-time tmpfiles rule with the CIS mode; after an apt
    run (which chmods history.log 0644 every time) the apt hook puts the modes back."""
    host.check_output("rm -f /var/log/dpkg.log")
    host.check_output("systemd-tmpfiles --create /etc/tmpfiles.d/arena-logfiles.conf")
    dpkg_log = host.file("/var/log/dpkg.log")
    assert (dpkg_log.user, dpkg_log.group, dpkg_log.mode) == ("root", "adm", 0o640)
    # A real apt + dpkg run from the local cache (the scenario is offline): debsums, installed by the role.
    host.check_output("DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall --no-download debsums")
    history = host.file("/var/log/apt/history.log")
    assert "debsums" in history.content_string
    assert (history.user, history.group, history.mode) == ("root", "adm", 0o640)
    assert cis_logfile_problems(host.check_output) == []
