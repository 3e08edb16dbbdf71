"""Behaviour of roles/base in a systemd container (podman): services, effective settings, packages."""

from pathlib import Path

import pytest
import yaml

SCENARIO = Path(__file__).resolve().parents[1]
DEFAULTS = yaml.safe_load((SCENARIO.parents[1] / "defaults" / "main.yml").read_text())
# Straight to the containers with `podman exec` (testinfra's podman backend) rather than one ad-hoc
# ansible run per command: the same checks, several times faster on this two-core machine.
testinfra_hosts = [
    f"podman://{platform['name']}" for platform in yaml.safe_load((SCENARIO / "molecule.yml").read_text())["platforms"]
]
MINIMAL_PACKAGES = ["ca-certificates", "curl", "iproute2", "less", "procps", "tzdata"]
COMPONENT_PACKAGES = ["chrony", "locales", "unattended-upgrades", "needrestart"]
# The scenario's prepare installs these; the role must purge them.
PREPARED_FORBIDDEN = ["telnet", "ftp", "rsh-client"]


def test_commands_run_inside_the_containers_root(host):
    """The lab enters containers with nsenter (connection_plugins/podman.py, tests/arena_testinfra.py):
    a command's working directory is the container's /, reachable from its root, not the host's."""
    assert host.check_output("/bin/pwd") == "/"
    assert host.check_output("ls") == host.check_output("ls /")
    this_file = Path(__file__).resolve()  # on the host, never in the container
    assert this_file.exists() and not host.file(str(this_file)).exists
    assert host.run(f"cd {this_file.parent}").rc != 0


def test_system_running_without_failed_units(host):
    state = host.run("systemctl is-system-running")
    failed = host.run("systemctl list-units --state=failed --no-legend --plain")
    assert (state.stdout.strip(), failed.stdout.strip()) == ("running", "")


def test_timezone_is_utc(host):
    assert host.check_output("date +%Z") == "UTC"
    assert host.file("/etc/localtime").linked_to == "/usr/share/zoneinfo/Etc/UTC"
    assert host.check_output("python3 -c 'import time; print(time.tzname[0])'") == "UTC"


@pytest.mark.parametrize("lang", ["en_US.UTF-8", "C.UTF-8"])
def test_locale_usable(host, lang):
    out = host.check_output(
        f"LC_ALL={lang} python3 -c "
        "'import locale; locale.setlocale(locale.LC_ALL, \"\"); print(locale.nl_langinfo(locale.CODESET))'"
    )
    assert out == "UTF-8"


def test_system_lang(host):
    assert "en_US.utf8" in host.check_output("locale -a").split()
    assert host.check_output("sh -c '. /etc/default/locale && echo $LANG'") == "en_US.UTF-8"


def test_chronyd_runs_without_clock_control(host):
    chrony = host.service("chrony")
    assert chrony.is_running and chrony.is_enabled
    # Container: -x (no control of the host's clock), so the unit runs instead of being skipped.
    assert "-x" in host.check_output("systemctl show chrony -p ExecStart")
    assert "Disabled control of system clock" in host.check_output("journalctl -u chrony -b --no-pager -o cat")


def test_chrony_uses_amazon_time_sync_offline_in_container(host):
    sources = host.check_output("chronyc -n -c sources").splitlines()
    addresses = [line.split(",")[2] for line in sources]
    assert "169.254.169.123" in addresses
    # Container: every source is offline, no NTP packet leaves the lab.
    activity = host.check_output("chronyc activity")
    assert "0 sources online" in activity
    config = host.check_output("chronyd -p -f /etc/chrony/chrony.conf")
    assert "server 169.254.169.123 prefer iburst minpoll 4 maxpoll 4 offline" in config
    assert "pool 2.debian.pool.ntp.org iburst offline" in config


def test_journal_is_persistent_with_limits(host):
    journal = host.file("/var/log/journal")
    assert journal.is_directory and journal.group == "systemd-journal"
    assert "File path: /var/log/journal/" in host.check_output("journalctl --header")
    config = host.check_output("systemd-analyze cat-config systemd/journald.conf")
    # Every key of CIS Debian 12 6.1.1.3 (rotation), 6.1.2.3 (Compress) and 6.1.2.4 (Storage): base owns them.
    for line in [
        "Storage=persistent",
        "Compress=yes",
        "SystemMaxUse=500M",
        "SystemKeepFree=1G",
        "SystemMaxFileSize=50M",
        "RuntimeMaxUse=64M",
        "RuntimeKeepFree=64M",
        "MaxFileSec=1week",
    ]:
        assert line in config.splitlines()
    # journald reports the effective cap each time it (re)starts; the last report is after the drop-in.
    reports = [
        line
        for line in host.check_output("journalctl -u systemd-journald -b --no-pager -o cat").splitlines()
        if line.startswith("System Journal (/var/log/journal/")
    ]
    assert reports and ", max 500.0M," in reports[-1]


def test_unattended_upgrades_security_only(host):
    dump = host.check_output("apt-config dump Unattended-Upgrade::Origins-Pattern")
    patterns = [
        line.split('"')[1] for line in dump.splitlines() if line.startswith("Unattended-Upgrade::Origins-Pattern::")
    ]
    assert patterns == DEFAULTS["base_unattended_upgrades_origins_patterns"]
    periodic = host.check_output("apt-config dump APT::Periodic")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in periodic
    assert 'APT::Periodic::Update-Package-Lists "1";' in periodic
    # What unattended-upgrade itself will allow (its own parser, ${distro_codename} expanded).
    allowed = host.check_output(
        "python3 -c '"
        "import importlib.machinery, importlib.util, apt_pkg\n"
        'loader = importlib.machinery.SourceFileLoader("uu", "/usr/bin/unattended-upgrade")\n'
        'spec = importlib.util.spec_from_loader("uu", loader)\n'
        "uu = importlib.util.module_from_spec(spec)\n"
        "loader.exec_module(uu)\n"
        "apt_pkg.init_config()\n"
        'print("\\n".join(uu.get_allowed_origins()))\''
    ).splitlines()
    codename = host.system_info.codename
    assert allowed == [
        f"origin=Debian,codename={codename}-security,label=Debian-Security",
        f"origin=Debian,codename={codename},label=Debian-Security",
    ]


def test_needrestart_restarts_automatically_without_prompts(host):
    # needrestart's own way of reading its configuration: the main file, then conf.d in order.
    effective = host.check_output(
        'perl -e \'our %nrconf; do "/etc/needrestart/needrestart.conf";'
        ' do $_ for sort glob "/etc/needrestart/conf.d/*.conf";'
        ' print join " ", map { "$_=$nrconf{$_}" } qw(restart kernelhints ucodehints)\''
    )
    assert effective == f"restart={DEFAULTS['base_unattended_upgrades_needrestart_mode']} kernelhints=0 ucodehints=0"
    # A batch run (what the apt hook does) works without a terminal.
    assert host.run("needrestart -b -r l").rc == 0


@pytest.mark.parametrize("name", MINIMAL_PACKAGES + COMPONENT_PACKAGES)
def test_required_package_installed(host, name):
    assert host.package(name).is_installed


def test_forbidden_packages_purged(host):
    names = sorted(set(DEFAULTS["base_purge_packages"]) | set(PREPARED_FORBIDDEN))
    out = host.run("dpkg-query -W -f '${Package} ${db:Status-Status}\\n' " + " ".join(names))
    # Purged packages are forgotten by dpkg or "not-installed"; "config-files" would mean removed only.
    left = [line for line in out.stdout.splitlines() if not line.endswith(" not-installed")]
    assert left == []
