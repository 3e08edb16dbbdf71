"""library/arena_lock.py: whether the run that holds a lock on this host is still running.

A lock names its holder's pid and when that process started. The kernel gives a pid again once its
counter wraps (pid_max: 32768 here), and every forked worker of any other ansible-playbook run
carries the same command line, so a lock whose holder was killed could look held by a live run
(a teardown after a killed create was refused that way in a clean-clone `make test`). The taking
over itself, end to end, is tests/integration/platform/test_lock.py."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from arena_loader import load_source

arena_lock = load_source("library/arena_lock.py")
NOW = 1_800_000_000.0
LEASE_AHEAD = "2027-01-15T21:00:00Z"


def named_ansible_playbook() -> subprocess.Popen[bytes]:
    """A live process whose command line names ansible-playbook, as every worker of a run does
    (returned once it has exec'd: until then its command line is this process's)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "ansible-playbook"])
    deadline = time.monotonic() + 10
    while b"ansible-playbook" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
        assert time.monotonic() < deadline, "the child never exec'd"
        time.sleep(0.01)
    return proc


def test_the_holder_still_running_holds_the_lock() -> None:
    proc = named_ansible_playbook()
    try:
        lock = {"host": "h", "pid": proc.pid, "pid_start": arena_lock.process_start(proc.pid), "expires": LEASE_AHEAD}
        assert arena_lock.stale(lock, NOW, "h", arena_lock.process_alive) == ""
    finally:
        proc.kill()
        proc.wait()


def test_a_pid_given_to_another_process_since_is_gone() -> None:
    proc = named_ansible_playbook()
    try:
        started = arena_lock.process_start(proc.pid)
        assert started is not None
        reused = {"host": "h", "pid": proc.pid, "pid_start": started - 1, "expires": LEASE_AHEAD}
        assert (
            arena_lock.stale(reused, NOW, "h", arena_lock.process_alive)
            == f"its process {proc.pid} on this host is gone"
        )
    finally:
        proc.kill()
        proc.wait()


def test_a_dead_holder_is_gone_and_another_hosts_holder_is_not_judged() -> None:
    proc = named_ansible_playbook()
    started = arena_lock.process_start(proc.pid)
    proc.kill()
    proc.wait()
    dead = {"host": "h", "pid": proc.pid, "pid_start": started, "expires": LEASE_AHEAD}
    assert arena_lock.stale(dead, NOW, "h", arena_lock.process_alive) == f"its process {proc.pid} on this host is gone"
    assert arena_lock.stale(dead, NOW, "another-host", arena_lock.process_alive) == ""


def test_a_lock_without_a_start_time_keeps_the_command_line_check() -> None:
    """Locks written before pid_start was recorded: a live ansible-playbook pid still holds them."""
    proc = named_ansible_playbook()
    try:
        lock = {"host": "h", "pid": proc.pid, "expires": LEASE_AHEAD}
        assert arena_lock.stale(lock, NOW, "h", arena_lock.process_alive) == ""
    finally:
        proc.kill()
        proc.wait()
