#!/usr/bin/python
"""Ansible module: a run lock of one environment, held as an SSM parameter with a lease (issue 14)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_lock
short_description: Take or give back an environment's run lock (an SSM parameter with a lease)
description:
  - Keeps two platform runs on one environment from interleaving. The lock is one SSM parameter
    (C(/arena/<env>/lock), named by roles/platform_lock) whose value is JSON naming the holder
    (C(user@host pid N), the ansible-playbook process), its purpose, when it was taken and when its
    lease ends.
  - No maintained module does this; C(community.aws.ssm_parameter) always overwrites, so it cannot
    create only-if-absent, and it does not report the version a write made, which the takeover needs.
  - Taking a free lock is atomic; PutParameter with C(Overwrite=false) fails with
    C(ParameterAlreadyExists) when the parameter exists
    (U(https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html)).
  - A lock whose lease has ended, or whose holder ran on this host in a process that is gone (a run
    that failed or was killed never reaches its release), is taken over (the holder's pid and its
    start time are recorded, so a pid the kernel has given to another process since counts as gone);
    O(force=true) takes over a live one. SSM has no conditional overwrite, so a takeover writes with
    C(Overwrite=true) and wins only if the version PutParameter returns is the one after the version
    it read (nobody wrote in between) and a read-back still shows its own token. Two runs taking over
    the same lock at once therefore cannot both win; at worst both lose, and the lock then names the
    last writer until that run's process is gone (same host), its lease ends, or it is broken. A run
    that holds the lock longer than its lease can be taken over, so the lease must exceed the
    longest run.
  - With O(state=absent) the parameter is deleted only while it still carries O(token) (release only
    if still the holder); O(force=true) deletes it whoever holds it (breaking a lock).
  - Check mode reads only; it fails as a real run would when someone else holds the lock, and
    otherwise reports the change it would make.
version_added: 1.0.0
author: arena-infra
options:
  name:
    description: The lock's SSM parameter name, for example C(/arena/staging/lock).
    type: str
    required: true
  state:
    description: V(present) takes the lock (or refuses), V(absent) gives it back.
    type: str
    choices: [present, absent]
    default: present
  token:
    description:
      - This run's token. With O(state=present), omitted, a new one is made and returned; given,
        a lock that carries it is already held (a playbook imported by another that holds it).
        Required with O(state=absent) unless O(force=true).
    type: str
  purpose:
    description: What the run does (shown to the run that is refused), e.g. C(playbooks/teardown.yml).
    type: str
    default: ""
  lease_seconds:
    description: How long the lock holds without its holder; after that another run takes it over.
    type: int
    default: 7200
  wait_seconds:
    description: How long to wait for a held lock before refusing; V(0) refuses at once.
    type: int
    default: 0
  poll_seconds:
    description: Seconds between reads while waiting.
    type: int
    default: 10
  force:
    description: Take over (V(present)) or delete (V(absent)) the lock whoever holds it.
    type: bool
    default: false
  tags:
    description: Tags of the parameter, set when it is created.
    type: dict
    default: {}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Acquire | Take the environment's lock
  arena_lock:
    name: /arena/staging/lock
    purpose: playbooks/teardown.yml
    lease_seconds: 7200
    wait_seconds: 0
    region: eu-west-1
  register: lock

- name: Release | Give the lock back (only if this run still holds it)
  arena_lock:
    name: /arena/staging/lock
    state: absent
    token: "{{ lock.token }}"
    region: eu-west-1
"""

RETURN = r"""
token:
  description: This run's token (give it back to release the lock).
  returned: always
  type: str
lock:
  description: The lock's value after the run (empty when there is none).
  returned: always
  type: dict
  sample:
    holder: ops@bastion pid 4242
    host: bastion
    pid: 4242
    pid_start: 81234567
    purpose: playbooks/teardown.yml
    acquired: "2027-01-15T19:00:00Z"
    expires: "2027-01-15T21:00:00Z"
taken_over:
  description: The lock this run took over and why (empty when none was).
  returned: always
  type: dict
waited:
  description: Seconds spent waiting for the lock.
  returned: always
  type: int
"""

import contextlib
import datetime
import getpass
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    import botocore

from ansible.module_utils.arena_diff import with_diff
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# Every call passes aws_retry=True and retries, besides AWSRetry's throttling codes, Parameter
# Store's ThrottlingException and TooManyUpdates (concurrent updates of one parameter), both
# documented errors of PutParameter
# (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html).
RETRY = AWSRetry.jittered_backoff(catch_extra_error_codes=["ThrottlingException", "TooManyUpdates"])
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class LockError(Exception):
    """Bad input, or the lock is held: the message is what the module reports."""


def stamp(when: float) -> str:
    return datetime.datetime.fromtimestamp(when, datetime.UTC).strftime(TIME_FORMAT)


def parse_stamp(text: str) -> float:
    return datetime.datetime.strptime(text, TIME_FORMAT).replace(tzinfo=datetime.UTC).timestamp()


def stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name (which may hold spaces): [0] is field 3 (state)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def playbook_pid() -> int:
    """The ansible-playbook process this module runs under: the topmost ancestor whose command line
    names ansible-playbook (the task's worker is a short-lived fork of it); the parent otherwise."""
    found, pid = os.getppid(), os.getppid()
    for _ in range(32):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            parent = int(stat_fields(pid)[1])
        except (OSError, ValueError, IndexError):
            break
        if b"ansible-playbook" in cmdline:
            found = pid
        if parent <= 1:
            break
        pid = parent
    return found


def process_start(pid: int) -> int | None:
    """When `pid` started (clock ticks after boot, /proc/<pid>/stat field 22); None when it is gone.
    A pid is reused once the kernel's counter wraps (pid_max, 32768 by default): a new process with
    the same pid started later."""
    try:
        return int(stat_fields(pid)[19])
    except (OSError, ValueError, IndexError):
        return None


def process_alive(pid: int, started: int | None = None) -> bool:
    """Whether `pid` on this host is still that ansible-playbook process, not a reused pid: its
    command line names ansible-playbook (every forked worker of another run does too) and, when the
    lock recorded it, it started when the holder did."""
    try:
        named = b"ansible-playbook" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return named and (started is None or process_start(pid) == started)


def new_lock(token: str, purpose: str, lease: int, now: float) -> dict[str, Any]:
    host, pid = socket.gethostname(), playbook_pid()
    return {
        "holder": f"{getpass.getuser()}@{host} pid {pid}",
        "host": host,
        "pid": pid,
        "pid_start": process_start(pid),
        "token": token,
        "purpose": purpose,
        "acquired": stamp(now),
        "expires": stamp(now + lease),
    }


def parse(value: str) -> dict[str, Any]:
    """The stored lock; an unreadable value is a lock held by someone unknown, without a lease end."""
    try:
        lock = json.loads(value)
        parse_stamp(lock["expires"])
        return lock if isinstance(lock.get("holder"), str) else {"holder": "unknown", "token": ""}
    except (ValueError, KeyError, TypeError):
        return {"holder": f"unknown (unreadable lock value {value[:80]!r})", "token": ""}


def stale(lock: dict[str, Any], now: float, host: str, alive: Callable[[int, int | None], bool]) -> str:
    """Why a lock no longer protects anyone ("" when it does)."""
    if "expires" in lock and now >= parse_stamp(lock["expires"]):
        return f"its lease ended at {lock['expires']}"
    started = lock.get("pid_start") if isinstance(lock.get("pid_start"), int) else None
    if lock.get("host") == host and isinstance(lock.get("pid"), int) and not alive(lock["pid"], started):
        return f"its process {lock['pid']} on this host is gone"
    return ""


def public(lock: dict[str, Any]) -> dict[str, Any]:
    """The lock as reported (without the token, which is the holder's to release with)."""
    return {k: v for k, v in lock.items() if k != "token"}


def read(client: Any, name: str) -> tuple[dict[str, Any], int]:
    """(lock, version); ({}, 0) when there is none."""
    try:
        stored = client.get_parameter(Name=name, aws_retry=True)["Parameter"]
    except client.exceptions.ParameterNotFound:
        return {}, 0
    return parse(stored["Value"]), stored["Version"]


def refusal(name: str, lock: dict[str, Any]) -> str:
    return (
        f"{name} is held by {lock.get('holder')} ({lock.get('purpose') or 'no purpose given'}) since "
        f"{lock.get('acquired', '?')}, lease until {lock.get('expires', '?')}. Wait for that run, or, if it "
        f"is gone, break the lock: -e platform_lock_break=true (make platform-unlock in the lab)"
    )


def try_acquire(client: Any, params: dict[str, Any], mine: dict[str, Any], check: bool) -> dict[str, Any]:
    """One attempt: {"acquired": bool, "changed": bool, "lock": ..., "before": ..., "taken_over": ...}."""
    name, now = params["name"], time.time()
    current, version = read(client, name)
    value = json.dumps(mine, sort_keys=True)
    if not current:
        if not check:
            try:
                tags = [{"Key": k, "Value": v} for k, v in params["tags"].items()]
                client.put_parameter(
                    Name=name,
                    Value=value,
                    Type="String",
                    Overwrite=False,
                    Description="Run lock of the environment (roles/platform_lock)",
                    **({"Tags": tags} if tags else {}),
                    aws_retry=True,
                )
            except client.exceptions.ParameterAlreadyExists:
                current, version = read(client, name)  # taken a moment ago: report its holder
                return {"acquired": False, "lock": current}
        return {"acquired": True, "changed": True, "lock": mine, "before": {}, "taken_over": {}}
    if current.get("token") == mine["token"]:
        return {"acquired": True, "changed": False, "lock": current, "before": current, "taken_over": {}}
    reason = stale(current, now, socket.gethostname(), process_alive) or ("broken (force)" if params["force"] else "")
    if not reason:
        return {"acquired": False, "lock": current}
    taken = {**public(current), "reason": reason}
    if check:
        return {"acquired": True, "changed": True, "lock": mine, "before": current, "taken_over": taken}
    written = client.put_parameter(Name=name, Value=value, Type="String", Overwrite=True, aws_retry=True)["Version"]
    after, _ = read(client, name)
    if written != version + 1 or after.get("token") != mine["token"]:
        raise LockError(
            f"{name}: another run took over the same lock at the same time ({reason}); it now names "
            f"{after.get('holder', 'nobody')}. Run again; if that run is gone, break the lock: "
            "-e platform_lock_break=true"
        )
    return {"acquired": True, "changed": True, "lock": mine, "before": current, "taken_over": taken}


def acquire(
    client: Any, params: dict[str, Any], check: bool, sleep: Callable[[float], None] = time.sleep
) -> dict[str, Any]:
    for key in ("lease_seconds", "poll_seconds"):
        if params[key] < 1:
            raise LockError(f"{key} must be >= 1, got {params[key]}")
    if params["wait_seconds"] < 0:
        raise LockError(f"wait_seconds must be >= 0, got {params['wait_seconds']}")
    token = params["token"] or uuid.uuid4().hex
    started = time.monotonic()
    while True:
        mine = new_lock(token, params["purpose"], params["lease_seconds"], time.time())
        outcome = try_acquire(client, params, mine, check)
        waited = int(time.monotonic() - started)
        if outcome["acquired"]:
            return {
                "changed": outcome["changed"],
                "token": token,
                "lock": public(outcome["lock"]),
                "taken_over": outcome["taken_over"],
                "waited": waited,
                "before": public(outcome["before"]),
            }
        remaining = params["wait_seconds"] - (time.monotonic() - started)
        if remaining <= 0:
            suffix = f" (waited {waited} s)" if params["wait_seconds"] else ""
            raise LockError(refusal(params["name"], outcome["lock"]) + suffix)
        sleep(min(params["poll_seconds"], remaining))


def release(client: Any, params: dict[str, Any], check: bool) -> dict[str, Any]:
    if not params["token"] and not params["force"]:
        raise LockError("token is required with state=absent (or force=true to break the lock)")
    current, _ = read(client, params["name"])
    result = {"changed": False, "token": params["token"] or "", "lock": {}, "taken_over": {}, "waited": 0}
    if not current:
        return {**result, "before": {}}
    if current.get("token") != params["token"] and not params["force"]:
        # Someone broke or took over the lock during this run: theirs now, not ours to delete.
        return {**result, "lock": public(current), "before": public(current), "warning": f"held by {current['holder']}"}
    if not check:
        with contextlib.suppress(client.exceptions.ParameterNotFound):  # gone meanwhile: released
            client.delete_parameter(Name=params["name"], aws_retry=True)
    return {**result, "changed": True, "before": public(current)}


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "token": {"type": "str", "no_log": False},
            "purpose": {"type": "str", "default": ""},
            "lease_seconds": {"type": "int", "default": 7200},
            "wait_seconds": {"type": "int", "default": 0},
            "poll_seconds": {"type": "int", "default": 10},
            "force": {"type": "bool", "default": False},
            "tags": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    client = module.client("ssm", retry_decorator=RETRY)
    try:
        if module.params["state"] == "present":
            result = acquire(client, module.params, module.check_mode)
        else:
            result = release(client, module.params, module.check_mode)
    except LockError as error:
        module.fail_json(msg=f"arena_lock: {error}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg=f"arena_lock: AWS call failed for {module.params['name']}")
    before = result.pop("before")
    warning = result.pop("warning", "")
    if warning:
        module.warn(f"arena_lock: {module.params['name']} not released: {warning}")
    module.exit_json(**with_diff(module, result, before, result["lock"]))


if __name__ == "__main__":
    main()
