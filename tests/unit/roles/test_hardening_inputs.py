"""Bad input for roles/hardening: ansible-playbook --check on localhost with bad variables fails in
the validation task with the exact message, and no task before it changed anything."""

from __future__ import annotations

import pytest
from arena_testlib import RoleCases

# The import is what collects these tests here, on this file's CASES and WRONG_TYPE (F401: ruff sees no use).
from role_input_tests import test_bad_input_fails_in_validation, test_wrong_type_is_caught_by_the_argument_spec  # noqa: F401

ROLE = "hardening"
GOOD: dict = {"hardening_profile": "web"}
SPEC_TASK = "Validating arguments against arg spec 'main' - CIS Debian 12 hardening with web, api and admin profiles"
SSHD_OK: dict = {
    "hardening_profile": "admin",
    "hardening_sshd_enabled": True,
    "hardening_sshd_allow_groups": ["arena-ssh"],
    "hardening_sshd_users": [{"name": "ops", "authorized_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDummy ops"]}],
    "hardening_sshd_allowed_cidrs": ["10.1.0.0/16"],
}


CASES = [
    pytest.param(
        {"hardening_ssh_enabled": True},
        "Validate | Profile and component toggles",
        "unknown component toggle(s) hardening_ssh_enabled; known components: packages, sysctl, modules, "
        "logindefs, pam, shell, coredump, permissions, suid, auditd, acct, aide, journald, logfiles, mounts, cron, "
        "banners, "
        "sudo, "
        "firewall, sshd",
        id="unknown-component-toggle",
    ),
    pytest.param(
        {"hardening_login_pass_min_days": -1},
        "Validate | Password ageing, timeouts, sizes and ports",
        "hardening_login_pass_min_days must be >= 0, got -1",
        id="negative-password-age",
    ),
    pytest.param(
        {"hardening_login_pass_min_days": 30, "hardening_login_pass_max_days": 7},
        "Validate | Password ageing, timeouts, sizes and ports",
        "hardening_login_pass_min_days (30) must not exceed hardening_login_pass_max_days (7)",
        id="min-age-above-max-age",
    ),
    pytest.param(
        {"hardening_mounts_tmp_size": "150%"},
        "Validate | Password ageing, timeouts, sizes and ports",
        "hardening_mounts_tmp_size must be a share of memory such as 25% (1-100) or a size such as 512M, got 150%",
        id="tmp-size-above-memory",
    ),
    pytest.param(
        {"hardening_mounts_tmp_size": "1 GB"},
        "Validate | Password ageing, timeouts, sizes and ports",
        "hardening_mounts_tmp_size must be a share of memory such as 25% (1-100) or a size such as 512M, got 1 GB",
        id="tmp-size-not-a-size",
    ),
    pytest.param(
        {"hardening_login_inactive_days": 60},
        "Validate | Password ageing, timeouts, sizes and ports",
        "hardening_login_inactive_days must be 0-45 (CIS 5.4.1.5), got 60",
        id="inactive-days-above-cis-limit",
    ),
    pytest.param(
        {"hardening_login_inactive_days": -1},
        "Validate | Password ageing, timeouts, sizes and ports",
        "hardening_login_inactive_days must be 0-45 (CIS 5.4.1.5), got -1",
        id="inactive-days-negative",
    ),
    pytest.param(
        {"hardening_login_yescrypt_cost_factor": 12},
        "Validate | Password ageing, timeouts, sizes and ports",
        "hardening_login_yescrypt_cost_factor must be 1-11, got 12",
        id="yescrypt-cost-out-of-range",
    ),
    pytest.param(
        {"hardening_login_encrypt_method": "MD5"},
        SPEC_TASK,
        "value of hardening_login_encrypt_method must be one of: YESCRYPT, SHA512, got: MD5",
        id="encrypt-method-not-a-choice",
    ),
    pytest.param(
        {"hardening_pam_su_group": "Su Group"},
        "Validate | su group and log file modes",
        "hardening_pam_su_group must be a group name (lower case letters, digits, _ and -), got Su Group",
        id="su-group-not-a-group-name",
    ),
    pytest.param(
        {"hardening_logfiles": [{"path": "/var/log/dpkg.log", "mode": 416, "owner": "root", "group": "adm"}]},
        "Validate | su group and log file modes",
        'hardening_logfiles: every entry needs a path under /var/log/, a quoted octal mode such as "0640", owner and '
        "group; bad: /var/log/dpkg.log",
        id="logfile-mode-unquoted",
    ),
    pytest.param(
        {"hardening_logfiles": [{"path": "/etc/passwd", "mode": "0640", "owner": "root", "group": "adm"}]},
        "Validate | su group and log file modes",
        'hardening_logfiles: every entry needs a path under /var/log/, a quoted octal mode such as "0640", owner and '
        "group; bad: /etc/passwd",
        id="logfile-outside-var-log",
    ),
    pytest.param(
        {"hardening_umask": "0x27"},
        "Validate | Password ageing, timeouts, sizes and ports",
        "hardening_umask must be an octal umask such as 027, got 0x27",
        id="umask-not-octal",
    ),
    pytest.param(
        {
            "hardening_firewall_rules": [
                {"name": "http", "proto": "tcp", "ports": [80, 70000], "sources": ["10.0.0.0/8"]}
            ]
        },
        "Validate | Password ageing, timeouts, sizes and ports",
        "hardening_firewall_rules / hardening_sshd_port: ports must be 1-65535, got 70000",
        id="port-out-of-range",
    ),
    pytest.param(
        {"hardening_firewall_rules": [{"name": "http", "proto": "tcp", "ports": [80], "sources": ["10.0.0.300/8"]}]},
        "Validate | Firewall rules and source CIDRs",
        "hardening_firewall_rules[0].sources[0] '10.0.0.300/8' is not an IPv4 or IPv6 CIDR ('10.0.0.300/8' does "
        "not appear to be an IPv4 or IPv6 network)",
        id="malformed-cidr",
    ),
    pytest.param(
        {"hardening_firewall_icmp_sources": ["10.0.0.1/8"]},
        "Validate | Firewall rules and source CIDRs",
        "hardening_firewall_icmp_sources[0] '10.0.0.1/8' has host bits set: the network is 10.0.0.0/8 (write that, "
        "or the single address with /32)",
        id="cidr-with-host-bits",
    ),
    pytest.param(
        {"hardening_firewall_rules": [{"name": "dns", "proto": "icmp", "ports": [53], "sources": ["10.0.0.0/8"]}]},
        "Validate | Firewall rules and source CIDRs",
        "hardening_firewall_rules: every rule needs name, proto (tcp or udp), ports and sources; bad: dns",
        id="rule-with-bad-proto",
    ),
    pytest.param(
        {**SSHD_OK, "hardening_sshd_users": [{"name": "ops", "authorized_keys": []}]},
        "Validate | sshd cannot lock anyone out",
        "hardening_sshd_users without authorized_keys: ops",
        id="sshd-user-without-keys",
    ),
    pytest.param(
        {**SSHD_OK, "hardening_sshd_users": []},
        "Validate | sshd cannot lock anyone out",
        "hardening_sshd_enabled is true but hardening_sshd_users is empty: nobody has an authorised key",
        id="sshd-without-users",
    ),
    pytest.param(
        {**SSHD_OK, "hardening_sshd_allow_groups": []},
        "Validate | sshd cannot lock anyone out",
        "hardening_sshd_enabled is true but hardening_sshd_allow_groups is empty: nobody could log in",
        id="sshd-without-group",
    ),
    pytest.param(
        {**SSHD_OK, "hardening_sshd_allowed_cidrs": []},
        "Validate | sshd cannot lock anyone out",
        "hardening_sshd_enabled and hardening_firewall_enabled are true but hardening_sshd_allowed_cidrs is empty: "
        "the firewall would block sshd",
        id="sshd-behind-closed-firewall",
    ),
]
SPEC_CASES: list[dict] = [{"hardening_profile": "db"}]
WRONG_TYPE = (
    {"hardening_login_pass_max_days": "forever"},
    "argument 'hardening_login_pass_max_days' is of type str and we were unable to convert to int",
)


def test_unknown_profile_is_caught_by_the_argument_spec(cases_run: RoleCases) -> None:
    failed_task, failed_message, stats = cases_run.failure({"hardening_profile": "db"})
    assert failed_task == f"{ROLE} : {SPEC_TASK}"
    assert "value of hardening_profile must be one of: web, api, admin, got: db" in failed_message
    assert stats["changed"] == 0
