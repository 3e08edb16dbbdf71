"""testinfra's `podman://` hosts entered with nsenter, as the lab's Ansible connection enters them.

testinfra's podman backend runs every command (each `host.file`, `host.run`, `host.service` ...) as
one `podman exec`, about 0.2 CPU-s of podman on this machine; a molecule verifier makes a few hundred.
This backend enters the container the way connection_plugins/podman.py does, with its shared
helpers (container_entry, nsenter_argv): the container's namespaces, environment, working
directory and capability bounding set, as root. Where that is not possible (not root, a
`podman://user@name` host, a stopped container, ARENA_PODMAN_EXEC=podman) it is testinfra's own
backend. roles/conftest.py installs it for every role scenario's verifier. eventually() and its
two uses, unit_journal() and file_holding(), read what a service writes in its own time (a unit's
journal, nginx's access log) without racing it.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

import testinfra
import testinfra.backend
import testinfra.host
from arena_loader import load_source
from testinfra.backend import base
from testinfra.backend.podman import PodmanBackend
from testinfra.utils import ansible_runner

_get_ansible_host = ansible_runner.get_ansible_host
_connection = load_source("connection_plugins/podman.py", "arena_podman_connection")


class NsenterPodmanBackend(PodmanBackend):
    """PodmanBackend whose commands enter the container with nsenter (see the module docstring)."""

    def _podman(self, subcommand: list[str]) -> tuple[int, bytes]:
        done = subprocess.run(["podman", *subcommand, self.name], capture_output=True, check=False, timeout=60)
        return done.returncode, done.stdout

    def run(self, command: str, *args: str, **kwargs: Any) -> base.CommandResult:
        if self.user is not None or not _connection.nsenter_usable():
            return super().run(command, *args, **kwargs)
        entry = _connection.container_entry(self.name, self._podman)
        if entry is None:
            return super().run(command, *args, **kwargs)
        cmd = self.get_command(command, *args)
        argv = _connection.nsenter_argv(entry, ["/bin/sh", "-c", cmd])
        out = self.run_local(" ".join(["%s"] * len(argv)), *argv)
        out.command = self.encode(cmd)
        return out


# Connection names of molecule's podman hosts in its inventory.
PODMAN_CONNECTIONS = ("podman", "containers.podman.podman")


def _ansible_host_or_podman(
    config: Any, inventory: dict[str, Any], host: str, *args: Any, **kwargs: Any
) -> testinfra.host.Host | None:
    """testinfra's get_ansible_host, plus molecule's podman hosts as `podman://` hosts.

    testinfra maps an `ansible://` host to its own backend only for ssh, local, docker and lxc
    connections; any other connection makes each command an `ansible -m shell` run (about 0.6
    CPU-s each). A host whose connection is podman (and no other user) is the container of the
    same name (or its ansible_host): it gets the podman backend that install() makes nsenter's.
    """
    hostvars = inventory.get("_meta", {}).get("hostvars", {}).get(host, {})
    if hostvars.get("ansible_connection") in PODMAN_CONNECTIONS and "ansible_user" not in hostvars:
        return testinfra.get_host(f"podman://{hostvars.get('ansible_host', host)}")
    return _get_ansible_host(config, inventory, host, *args, **kwargs)


def install() -> None:
    """Make `podman://` hosts, and molecule's `ansible://` hosts over podman, use NsenterPodmanBackend
    (testinfra looks its backends up by path, and an ansible host's backend up by its connection)."""
    testinfra.backend.BACKENDS["podman"] = f"{__name__}.{NsenterPodmanBackend.__name__}"
    ansible_runner.get_ansible_host = _ansible_host_or_podman


def eventually(read: Callable[[], str], *expected: str, timeout: float = 15.0) -> str:
    """What READ returns once it holds every EXPECTED text, or what it returns after TIMEOUT seconds
    (the caller's assertion then shows it). For state a service writes in its own time after the
    client already has its answer."""
    deadline = time.monotonic() + timeout
    while True:
        text = read()
        if all(item in text for item in expected) or time.monotonic() >= deadline:
            return text
        time.sleep(0.5)  # the writer catches up on its own; polled, bounded by the deadline


def unit_journal(host: Any, unit: str, *expected: str, args: str | None = None, timeout: float = 60.0) -> str:
    """The unit's journal once it holds every EXPECTED text, or as it is after TIMEOUT seconds.

    By default only what the unit's latest run wrote: the unit's lines since it last left the
    inactive or failed state (InactiveExitTimestamp, to the microsecond), so an earlier run's lines
    cannot satisfy a test and systemd's own lines cannot push the run's out of a window; ARGS
    (`journalctl -u UNIT ARGS`) reads something else. Not by the run's InvocationID: journald gives a
    line _SYSTEMD_INVOCATION_ID only from the writer's cgroup, and a process that exited before
    journald accepted its stream (a oneshot failing at once, under load) has none left, so its lines
    carry the unit (from the stream's header) but no invocation ID (seen in a CI run: an empty
    answer after 60 s). A unit's output reaches journald through a stream that journald reads on its
    own time: read right after `systemctl restart` returns, the journal can still lack the last
    lines. Each poll asks journald to write what it has first (`journalctl --sync`). 60 s, not 15:
    in a loaded `make test` (two cores, five stages side by side) a failed unit's lines were once not
    readable after 15 s; a unit that writes them is found at the first poll all the same."""
    if args is None:
        since = f"$(systemctl show --property InactiveExitTimestamp --timestamp=us+utc --value {unit})"
        command = f'journalctl --sync; journalctl -u {unit} --since "{since}" --no-pager -o cat'
    else:
        command = f"journalctl --sync; journalctl -u {unit} {args} --no-pager -o cat"
    return eventually(lambda: host.run(command).stdout, *expected, timeout=timeout)


def file_holding(host: Any, path: str, *expected: str, timeout: float = 15.0) -> str:
    """The file's content once it holds every EXPECTED text, or as it is after TIMEOUT seconds.

    nginx writes a request's access log line in its log phase, after the response went out: a
    client that read the answer can look at the log before the line is there."""
    return eventually(lambda: host.file(path).content_string, *expected, timeout=timeout)
