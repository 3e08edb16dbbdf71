"""The environment's run lock (roles/platform_lock, library/arena_lock.py) against the AWS emulator.

Two runs on one environment: the second refuses at once naming the holder (playbooks/teardown.yml,
before any change), or waits and proceeds when the holder gives the lock back; a lock whose lease
ended or whose process on this host is gone is taken over; a live one only with
platform_lock_break; check mode never writes; and two runs taking over one expired lock at the same
time cannot both win (the module's takeover, interleaved step by step).
Run: scripts/with-emulator.sh scripts/pytest.sh tests/integration/platform/test_lock.py
"""

from __future__ import annotations

import getpass
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from arena_testlib import LAB_INVENTORY, REPO_ROOT, base_env, kill_tree, run

LOCK = "/arena/local/lock"
# A run that takes the lock, waits until the file {go} exists, then gives the lock back.
HOLDER = """
- name: Lock
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: aws_guard
    - role: platform_lock
      platform_lock_purpose: test holder
- name: Hold
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Wait for the go file
      ansible.builtin.wait_for:
        path: "{go}"
        timeout: 120
- name: Unlock
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: aws_guard
    - role: platform_lock
      platform_lock_state: absent
"""


def load_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("arena_lock_under_test", REPO_ROOT / "library" / "arena_lock.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class Retrying:
    """A boto3 SSM client that takes the module's aws_retry=True (the emulator needs no retries)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.exceptions = client.exceptions

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            assert kwargs.pop("aws_retry") is True
            return method(**kwargs)

        return call


@pytest.fixture(scope="module")
def ssm() -> Any:
    # Only the lock parameter is touched (no_lock below): no reset of what other suites keep there.
    assert os.environ.get("AWS_URL", "").startswith("http://127.0.0.1:"), "run through scripts/with-emulator.sh"
    return boto3.client("ssm")


@pytest.fixture(autouse=True)
def no_lock(ssm: Any) -> Iterator[None]:
    ssm.delete_parameters(Names=[LOCK])
    yield
    ssm.delete_parameters(Names=[LOCK])


def stored(ssm: Any) -> dict[str, Any]:
    try:
        return json.loads(ssm.get_parameter(Name=LOCK)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return {}


def foreign_lock(ssm: Any, expires_in: int) -> dict[str, Any]:
    """A lock of a run on another host, its lease ending `expires_in` seconds from now."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + expires_in))
    lock = {
        "holder": "ops@other-host pid 4242",
        "host": "other-host",
        "pid": 4242,
        "token": "f" * 32,
        "purpose": "playbooks/platform.yml",
        "acquired": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60)),
        "expires": stamp,
    }
    ssm.put_parameter(Name=LOCK, Value=json.dumps(lock), Type="String", Overwrite=True)
    return lock


def playbook(path: str | Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run(["ansible-playbook", "-i", LAB_INVENTORY, str(path), *extra], base_env(), timeout=300)


def said(result: subprocess.CompletedProcess[str]) -> str:
    """The run's output with whitespace runs made one space (the YAML callback folds long messages)."""
    return " ".join(result.stdout.split())


def lock_play(tmp_path: Path, name: str = "lock.yml") -> Path:
    """Take and give back the lock, nothing else."""
    path = tmp_path / name
    path.write_text(HOLDER.format(go=tmp_path / "go"))
    (tmp_path / "go").touch()
    return path


class Holder:
    """A holder run in the background, stopped at its wait for the go file."""

    def __init__(self, tmp_path: Path, ssm: Any) -> None:
        self.go = tmp_path / "holder-go"
        play = tmp_path / "holder.yml"
        play.write_text(HOLDER.format(go=self.go))
        self.proc = subprocess.Popen(
            ["ansible-playbook", "-i", LAB_INVENTORY, str(play)],
            cwd=REPO_ROOT,
            env=base_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while not stored(ssm):
            assert self.proc.poll() is None, self.proc.communicate()[0][-3000:]
            assert time.monotonic() < deadline, "the holder did not take the lock"
            time.sleep(0.2)
        self.lock = stored(ssm)

    def release(self) -> str:
        self.go.touch()
        out, _ = self.proc.communicate(timeout=120)
        assert self.proc.returncode == 0, out[-3000:]
        return out

    def kill(self) -> None:
        """SIGKILL the run and every process under it (Mitogen's multiplexer included)."""
        kill_tree(self.proc.pid)
        self.proc.communicate(timeout=60)


def test_a_second_run_refuses_naming_the_holder_and_a_waiting_one_proceeds_after_release(
    ssm: Any, tmp_path: Path
) -> None:
    """One holder for both: a second run refuses at once; a run that waits proceeds once the holder
    gives the lock back (not by taking it over: the holder's process is gone by then too)."""
    holder = Holder(tmp_path, ssm)
    assert holder.lock["holder"] == f"{getpass.getuser()}@{socket.gethostname()} pid {holder.proc.pid}"
    assert holder.lock["purpose"] == "test holder"
    second = playbook("playbooks/teardown.yml")
    assert second.returncode != 0
    assert f"{LOCK} is held by {holder.lock['holder']} (test holder)" in said(second), second.stdout[-3000:]
    assert "-e platform_lock_break=true" in said(second)
    # Refused in its first play, before any role that changes something ran.
    assert not re.search(r"TASK \[platform_(?!lock)", second.stdout), second.stdout[-3000:]
    assert stored(ssm) == holder.lock
    waiter = subprocess.Popen(
        [
            "ansible-playbook",
            "-i",
            LAB_INVENTORY,
            str(lock_play(tmp_path)),
            "-e",
            "platform_lock_wait=120",
            "-e",
            "platform_lock_poll_seconds=1",
        ],
        cwd=REPO_ROOT,
        env=base_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(3)
    assert waiter.poll() is None, "the second run did not wait"
    holder.release()
    out, _ = waiter.communicate(timeout=120)
    assert waiter.returncode == 0, out[-3000:]
    assert f"Took over {LOCK}" not in " ".join(out.split()), out[-3000:]
    assert stored(ssm) == {}


def test_the_lock_of_a_killed_run_on_this_host_is_taken_over(ssm: Any, tmp_path: Path) -> None:
    holder = Holder(tmp_path, ssm)
    holder.kill()
    assert stored(ssm) == holder.lock  # a killed run never reaches its release
    after = playbook(lock_play(tmp_path))
    assert after.returncode == 0, after.stdout[-3000:]
    assert f"Took over {LOCK} from {holder.lock['holder']}: its process {holder.proc.pid} on this host is gone" in (
        said(after)
    )
    assert stored(ssm) == {}


def test_an_expired_lease_is_taken_over(ssm: Any, tmp_path: Path) -> None:
    foreign_lock(ssm, expires_in=-1)
    after = playbook(lock_play(tmp_path))
    assert after.returncode == 0, after.stdout[-3000:]
    assert f"Took over {LOCK} from ops@other-host pid 4242: its lease ended at" in said(after)
    assert stored(ssm) == {}


def test_a_live_lock_of_another_host_is_refused_unless_broken(ssm: Any, tmp_path: Path) -> None:
    lock = foreign_lock(ssm, expires_in=3600)
    refused = playbook(lock_play(tmp_path))
    assert refused.returncode != 0
    assert f"{LOCK} is held by ops@other-host pid 4242 (playbooks/platform.yml)" in said(refused)
    assert stored(ssm) == lock
    broken = playbook(lock_play(tmp_path), "-e", "platform_lock_break=true")
    assert broken.returncode == 0, broken.stdout[-3000:]
    assert f"Took over {LOCK} from ops@other-host pid 4242: broken (force)" in said(broken)
    assert stored(ssm) == {}


def test_check_mode_reads_only(ssm: Any, tmp_path: Path) -> None:
    checked = playbook(lock_play(tmp_path), "--check")
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert stored(ssm) == {}
    lock = foreign_lock(ssm, expires_in=3600)
    refused = playbook(lock_play(tmp_path), "--check")
    assert refused.returncode != 0
    assert "is held by ops@other-host pid 4242" in said(refused)
    assert stored(ssm) == lock


def takeover_params(token: str) -> dict[str, Any]:
    return {
        "name": LOCK,
        "token": token,
        "purpose": token,
        "lease_seconds": 60,
        "wait_seconds": 0,
        "poll_seconds": 1,
        "force": False,
        "tags": {},
    }


class Interleaved(Retrying):
    """A client that runs `before()` just before its first overwrite and `after()` just after it
    (another run's steps, slotted between this run's read, write and read-back)."""

    def __init__(self, client: Any, before: Any = None, after: Any = None) -> None:
        super().__init__(client)
        self._hooks = [before, after]

    def __getattr__(self, name: str) -> Any:
        call = super().__getattr__(name)
        if name != "put_parameter":
            return call

        def put(**kwargs: Any) -> Any:
            before, after = self._hooks if kwargs.get("Overwrite") else (None, None)
            if before or after:
                self._hooks = [None, None]
            if before:
                before()
            answer = call(**kwargs)
            if after:
                after()
            return answer

        return put


def test_two_runs_taking_over_one_expired_lock_at_once_cannot_both_win(ssm: Any) -> None:
    """Order 1: A reads the expired lock; B's whole takeover runs between A's read and A's write (B
    wins: its write is the version after the one it read); A's write is not, so A loses and says so.
    Order 2: both read, A writes, B writes, A reads back: B's version is not the one after, and A
    reads back B's value: both lose, neither runs."""
    arena_lock = load_module()
    foreign_lock(ssm, expires_in=-1)
    won: dict[str, Any] = {}

    def b_takes_over() -> None:
        won["b"] = arena_lock.acquire(Retrying(ssm), takeover_params("b" * 32), check=False)

    with pytest.raises(arena_lock.LockError, match="another run took over the same lock at the same time"):
        arena_lock.acquire(Interleaved(ssm, before=b_takes_over), takeover_params("a" * 32), check=False)
    assert won["b"]["taken_over"]["holder"] == "ops@other-host pid 4242"

    foreign_lock(ssm, expires_in=-1)
    b_read, b_go, b_done = threading.Event(), threading.Event(), threading.Event()
    errors: dict[str, Exception] = {}

    def b_run() -> None:
        def wait_for_go() -> None:
            b_read.set()
            assert b_go.wait(30)

        try:
            arena_lock.acquire(Interleaved(ssm, before=wait_for_go), takeover_params("d" * 32), check=False)
        except arena_lock.LockError as error:
            errors["b"] = error
        finally:
            b_read.set()
            b_done.set()

    thread = threading.Thread(target=b_run)
    thread.start()
    assert b_read.wait(30)

    def b_writes() -> None:
        b_go.set()
        assert b_done.wait(30)

    with pytest.raises(arena_lock.LockError, match="another run took over the same lock at the same time"):
        arena_lock.acquire(Interleaved(ssm, after=b_writes), takeover_params("c" * 32), check=False)
    thread.join(30)
    assert "another run took over the same lock at the same time" in str(errors.get("b"))
