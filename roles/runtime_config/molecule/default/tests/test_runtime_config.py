"""runtime_config in a container against the emulator's SSM (the host's loopback, 10.0.2.2 inside)."""

from __future__ import annotations

import subprocess
import time

import pytest
from arena_testinfra import unit_journal

# One `podman exec` per check instead of one ansible run (the platform name from molecule.yml).
testinfra_hosts = ["podman://runtime-config-default"]


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


UNIT = "arena-runtime-config.service"
TOKEN = 'tok"en $with spaces\\and\\backslash'


def printenv(host, env_file: str, name: str) -> str:
    """Read a variable the way a service does: through systemd's EnvironmentFile= parser."""
    cmd = host.run(f"systemd-run --quiet --wait --pipe -p EnvironmentFile={env_file} /usr/bin/printenv {name}")
    assert cmd.rc == 0, cmd.stderr
    return cmd.stdout.rstrip("\n")


def test_unit_ran_at_start_and_orders_before_the_tier_services(host) -> None:
    unit = host.service("arena-runtime-config")
    assert unit.is_enabled
    props = host.run(f"systemctl show {UNIT} -p ActiveState -p Result -p Before -p WantedBy").stdout
    assert "ActiveState=active" in props and "Result=success" in props
    assert "nginx.service" in props and "arena-api.service" in props
    assert "multi-user.target" in props


def test_api_env_file_is_root_only_and_parses_as_systemd_environment(host) -> None:
    env = host.file("/etc/arena/runtime/api.env")
    assert env.user == "root" and env.group == "root" and env.mode == 0o600
    assert printenv(host, env.path, "REDIS_HOST") == "cache.molecule.internal"
    assert printenv(host, env.path, "REDIS_PORT") == "6380"
    assert printenv(host, env.path, "REDIS_TLS") == "true"
    assert printenv(host, env.path, "REDIS_AUTH_TOKEN") == TOKEN  # SecureString, quoted correctly


def test_admin_env_file_is_readable_by_its_group_only(host) -> None:
    env = host.file("/etc/arena/runtime/admin.env")
    assert env.user == "root" and env.group == "nogroup" and env.mode == 0o640
    assert printenv(host, env.path, "ADMIN_HTPASSWD") == "editor:$2y$05$0123456789abcdefghijkuVWXYZ"
    denied = host.run("setpriv --reuid=nobody --regid=nogroup --clear-groups cat /etc/arena/runtime/api.env")
    assert denied.rc != 0 and "Permission denied" in denied.stderr
    assert host.file("/run/arena/runtime-config.ready").content_string.splitlines() == ["api admin"]


@pytest.fixture
def broken_source(host):
    """Point the source at an environment with no parameters; restore and re-run afterwards."""
    source = "/etc/arena/runtime/source.conf"
    assert host.run(f"cp -p {source} /root/source.conf.good").rc == 0
    assert host.run(f"sed -i 's/^ENVIRONMENT=.*/ENVIRONMENT=nothing-here/' {source}").rc == 0
    yield
    assert host.run(f"cp -p /root/source.conf.good {source}").rc == 0
    assert host.run(f"systemctl restart {UNIT}").rc == 0
    assert host.file("/etc/arena/runtime/api.env").exists


def test_missing_configuration_fails_the_unit_after_bounded_retries(host, broken_source) -> None:
    restart = host.run(f"systemctl restart {UNIT}")
    assert restart.rc != 0
    assert host.run(f"systemctl is-failed {UNIT}").stdout.strip() == "failed"
    message = "/arena/nothing-here/api/: missing required parameters for keys REDIS_AUTH_TOKEN, REDIS_HOST"
    attempts = [f"attempt {n}/3 failed: {message}" for n in (1, 3)]
    journal = unit_journal(host, UNIT, *attempts, args="--since '-2min'")
    assert all(attempt in journal for attempt in attempts), journal
    # Nothing stale left behind: services and health checks see no configuration.
    assert not host.file("/etc/arena/runtime/api.env").exists
    assert not host.file("/etc/arena/runtime/admin.env").exists
    assert not host.file("/run/arena/runtime-config.ready").exists


def test_runs_again_at_every_boot(host) -> None:
    """Reboot the container: /run is a fresh tmpfs, so the ready marker exists only if the unit ran
    at boot; the env files are rewritten from SSM (a stale value left in one is replaced: its mtime
    alone, in whole seconds, could not tell a rewrite in the same second)."""
    stale = host.run("sed -i 's/^REDIS_HOST=.*/REDIS_HOST=stale.before.reboot/' /etc/arena/runtime/api.env")
    assert stale.rc == 0, stale.stderr
    assert printenv(host, "/etc/arena/runtime/api.env", "REDIS_HOST") == "stale.before.reboot"
    restart = subprocess.run(
        ["podman", "restart", "-t", "10", "runtime-config-default"], check=False, capture_output=True, text=True
    )
    assert restart.returncode == 0, restart.stderr
    state = booted_state(host)
    assert state == "running", host.run("systemctl --failed --no-pager").stdout
    assert host.file("/run/arena/runtime-config.ready").content_string.splitlines() == ["api admin"]
    assert printenv(host, "/etc/arena/runtime/api.env", "REDIS_HOST") == "cache.molecule.internal"
