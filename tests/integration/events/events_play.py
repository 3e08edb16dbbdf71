"""Shared by the event-scaling integration tests: the calendar, the lab model, running the playbook
against the emulator and reading the groups back.

Only ever talks to the emulator (the tests' AWS_ENDPOINT_URL on loopback, with inventories/local's group_vars).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
from arena_testlib import LAB_INVENTORY, ScheduledActions, base_env, capacity_model, run
from arena_testlib import scheduled_actions as scheduled

PLAYBOOK = "playbooks/event_scaling.yml"
NOW = "2031-01-01T00:00:00Z"  # fixed clock: every test event is after it

MADRID = {  # 20:45 CET = 19:45Z
    "name": "IT game Madrid",
    "kind": "basketball",
    "start": "2031-01-14T20:45",
    "timezone": "Europe/Madrid",
    "duration_minutes": 120,
    "peak_viewers": 5000,
}
SYDNEY = {  # 19:00 AEDT (UTC+11, daylight saving until April) = 08:00Z
    "name": "IT game Sydney",
    "kind": "basketball",
    "start": "2031-03-01T19:00",
    "timezone": "Australia/Sydney",
    "duration_minutes": 90,
    "peak_viewers": 8000,
}
NEW_YORK = {  # 19:30 EDT (UTC-4) = 23:30Z; ends 22:00 local = 02:00Z the next day
    "name": "IT concert New York",
    "kind": "concert",
    "start": "2031-07-10T19:30",
    "timezone": "America/New_York",
    "end": "2031-07-10T22:00",
    "peak_viewers": 12000,
}

# The test capacity model (arena_testlib.capacity_model: c6i.large web, c6i.xlarge api, headroom 0.3,
# health checks 10 s x 3), with the fixture groups' sizes, so the hand-worked values below rest on
# the test's own data.
MODEL: dict[str, Any] = capacity_model()
for _tier in MODEL["tiers"].values():
    _tier.update(min_size=1, max_size=6)

# Worked out by hand from MODEL: lead time 240 + 10 x 3 + 1200 = 1470 s
# (24.5 min, start rounded down to the minute), tail 30 min; web = ceil(viewers x 1.5 / (6000 x 0.7)),
# api = ceil(viewers x 4 / (12000 x 0.7)); baseline 1, max 6.
# (name suffix, start UTC, web size, api size)
MADRID_ACTIONS = [("20310114T1920Z", "2031-01-14T19:20:00Z", 2, 3), ("20310114T2215Z", "2031-01-14T22:15:00Z", 1, 1)]
SYDNEY_ACTIONS = [("20310301T0735Z", "2031-03-01T07:35:00Z", 3, 4), ("20310301T1000Z", "2031-03-01T10:00:00Z", 1, 1)]
NEW_YORK_ACTIONS = [("20310710T2305Z", "2031-07-10T23:05:00Z", 5, 6), ("20310711T0230Z", "2031-07-11T02:30:00Z", 1, 1)]

Actions = ScheduledActions


def expected(tier: str, rows: list[tuple[str, str, int, int]]) -> Actions:
    """(start, MinSize, DesiredCapacity, MaxSize): a step-up has no DesiredCapacity (it must not lower
    what target tracking holds); the return to the baseline (1) sets it."""
    return {
        f"arena-event-{tier}-{suffix}": (start, size, size if size == 1 else None, 6)
        for suffix, start, web, api in rows
        for size in [web if tier == "web" else api]
    }


def play(tmp_path: Path, calendar: list[dict[str, Any]], *options: str, **extra: Any) -> tuple[int, str]:
    """Run the playbook with `calendar`; returns (changed, output); a failure fails the test."""
    varfile = tmp_path / "vars.json"
    variables = {"arena_events": calendar, "arena_capacity_model": MODEL, "event_scaling_now": NOW, **extra}
    varfile.write_text(json.dumps(variables))
    result = run(
        ["ansible-playbook", "-i", LAB_INVENTORY, PLAYBOOK, "-e", f"@{varfile}", *options],
        base_env({"ANSIBLE_INVENTORY_UNPARSED_WARNING": "False"}),
    )
    output = result.stdout + result.stderr
    recap = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", output)
    assert recap, output[-4000:]
    assert (result.returncode, recap.group(2)) == (0, "0"), output[-4000:]
    return int(recap.group(1)), output


def warm_pool(endpoint: str, group: str) -> dict[str, Any] | None:
    autoscaling = boto3.client("autoscaling", endpoint_url=endpoint)
    return autoscaling.describe_warm_pool(AutoScalingGroupName=group).get("WarmPoolConfiguration")


def pool(prepared: int) -> dict[str, Any]:
    return {
        "MaxGroupPreparedCapacity": prepared,
        "MinSize": 0,
        "PoolState": "Stopped",
        "InstanceReusePolicy": {"ReuseOnScaleIn": True},
    }


def assert_step_ups_without_desired_capacity(endpoint: str, group: str, events: int) -> None:
    """Every step-up (scale-out) carries MinSize and MaxSize only; only the returns to the baseline (1)
    set a DesiredCapacity."""
    owned = {name: sizes for name, sizes in scheduled(endpoint, group).items() if name.startswith("arena-event-")}
    assert len(owned) == 2 * events
    assert sorted(desired for _, _, desired, _ in owned.values() if desired is not None) == [1] * events
    assert all(desired is None for _, size, desired, _ in owned.values() if size > 1)


def play_refused(tmp_path: Path, calendar: list[dict[str, Any]], **extra: Any) -> tuple[str, Any, dict[str, Any]]:
    """Run the playbook expecting a refusal; returns (the failed task's name, its msg, localhost's stats).

    The JSON callback gives the exact message (a list of refusals for the preflight rules)."""
    varfile = tmp_path / "vars.json"
    variables = {"arena_events": calendar, "arena_capacity_model": MODEL, "event_scaling_now": NOW, **extra}
    varfile.write_text(json.dumps(variables))
    result = run(
        ["ansible-playbook", "-i", LAB_INVENTORY, PLAYBOOK, "-e", f"@{varfile}"],
        base_env({"ANSIBLE_INVENTORY_UNPARSED_WARNING": "False", "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json"}),
    )
    assert result.returncode == 2, result.stdout[-4000:] + result.stderr[-2000:]
    report, _ = json.JSONDecoder().raw_decode(result.stdout[result.stdout.index("{") :])
    failed = [
        (task["task"]["name"], task["hosts"]["localhost"])
        for play in report["plays"]
        for task in play["tasks"]
        if task["hosts"].get("localhost", {}).get("failed")
    ]
    assert len(failed) == 1, failed
    name, host = failed[0]
    return name, host.get("msg"), report["stats"]["localhost"]
