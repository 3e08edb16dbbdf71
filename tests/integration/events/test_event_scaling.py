"""playbooks/event_scaling.yml against the emulator, through inventories/local.

The platform's Auto Scaling groups are created by events_fixtures.py with the names and tags of
roles/platform_autoscaling (checked by tests/unit/roles/test_event_scaling_platform_names.py). A
small calendar in three zones is applied; the scheduled actions (UTC times, sizes) and warm pools
are compared with values worked out by hand, then re-apply (no change), --check, removal of one
event, and state=absent are checked, with actions the playbook does not own left alone.
Run: ARENA_LAB_DIR=/tmp/lab-x scripts/with-emulator.sh scripts/pytest.sh tests/integration/events
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from arena_testlib import base_env, run

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

# The lab's capacity model (inventories/local capacity.yml when this was written), spelled out so
# that the hand-worked values below rest on the test's own data; max_size is the fixture groups'.
MODEL: dict[str, Any] = {
    "boot_to_healthy_seconds": 240,
    "health_check": {"interval_seconds": 10, "healthy_threshold": 3},
    "safety_margin_seconds": 1200,
    "tail_minutes": 30,
    "instance_types": {"c6i.large": 6000, "c6i.xlarge": 12000},
    "tiers": {
        "web": {
            "instance_type": "c6i.large",
            "requests_per_viewer_per_minute": 1.5,
            "headroom": 0.3,
            "min_size": 1,
            "max_size": 6,
        },
        "api": {
            "instance_type": "c6i.xlarge",
            "requests_per_viewer_per_minute": 4,
            "headroom": 0.3,
            "min_size": 1,
            "max_size": 6,
        },
    },
}

# Worked out by hand from MODEL: lead time 240 + 10 x 3 + 1200 = 1470 s
# (24.5 min, start rounded down to the minute), tail 30 min; web = ceil(viewers x 1.5 / (6000 x 0.7)),
# api = ceil(viewers x 4 / (12000 x 0.7)); baseline 1, max 6.
# (name suffix, start UTC, web size, api size)
MADRID_ACTIONS = [("20310114T1920Z", "2031-01-14T19:20:00Z", 2, 3), ("20310114T2215Z", "2031-01-14T22:15:00Z", 1, 1)]
SYDNEY_ACTIONS = [("20310301T0735Z", "2031-03-01T07:35:00Z", 3, 4), ("20310301T1000Z", "2031-03-01T10:00:00Z", 1, 1)]
NEW_YORK_ACTIONS = [("20310710T2305Z", "2031-07-10T23:05:00Z", 5, 6), ("20310711T0230Z", "2031-07-11T02:30:00Z", 1, 1)]

Actions = dict[str, tuple[str, int | None, int | None, int | None]]


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
        ["ansible-playbook", "-i", "inventories/local", PLAYBOOK, "-e", f"@{varfile}", *options],
        base_env({"ANSIBLE_INVENTORY_UNPARSED_WARNING": "False"}),
    )
    output = result.stdout + result.stderr
    recap = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", output)
    assert recap, output[-4000:]
    assert (result.returncode, recap.group(2)) == (0, "0"), output[-4000:]
    return int(recap.group(1)), output


def scheduled(endpoint: str, group: str) -> Actions:
    autoscaling = boto3.client("autoscaling", endpoint_url=endpoint)
    actions = autoscaling.describe_scheduled_actions(AutoScalingGroupName=group)["ScheduledUpdateGroupActions"]
    return {
        a["ScheduledActionName"]: (
            a["StartTime"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if a.get("StartTime") else "",
            a.get("MinSize"),
            a.get("DesiredCapacity"),
            a.get("MaxSize"),
        )
        for a in actions
    }


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


def test_apply_rerun_check_remove_event_and_absent(tmp_path: Path, endpoint: str, groups: list[str]) -> None:
    assert groups == ["arena-local-web", "arena-local-api", "arena-local-admin"]
    autoscaling = boto3.client("autoscaling", endpoint_url=endpoint)
    # Actions this playbook does not own: a recurring one, a one-off outside the prefix, and one on
    # the admin group (not in the capacity model).
    autoscaling.put_scheduled_update_group_action(
        AutoScalingGroupName="arena-local-web", ScheduledActionName="nightly-floor", Recurrence="0 3 * * *", MinSize=2
    )
    autoscaling.put_scheduled_update_group_action(
        AutoScalingGroupName="arena-local-api",
        ScheduledActionName="ops-manual-api-20310114",
        StartTime="2031-01-14T18:00:00Z",
        MinSize=4,
    )
    autoscaling.put_scheduled_update_group_action(
        AutoScalingGroupName="arena-local-admin",
        ScheduledActionName="arena-event-admin-manual",
        MinSize=1,
        StartTime="2031-01-14T18:00:00Z",
    )
    others = {group: scheduled(endpoint, group) for group in groups}
    assert all(len(actions) == 1 for actions in others.values())
    # An owned step-up as the plan wrote it before step-ups dropped DesiredCapacity: the apply must
    # replace it with one that has none (the module deletes it first: AWS would keep the old value).
    autoscaling.put_scheduled_update_group_action(
        AutoScalingGroupName="arena-local-web",
        ScheduledActionName="arena-event-web-20310114T1920Z",
        StartTime="2031-01-14T19:20:00Z",
        MinSize=2,
        DesiredCapacity=2,
        MaxSize=6,
    )
    old_style = scheduled(endpoint, "arena-local-web")["arena-event-web-20310114T1920Z"]
    assert old_style == ("2031-01-14T19:20:00Z", 2, 2, 6)

    calendar = [MADRID, SYDNEY, NEW_YORK]
    changed, output = play(tmp_path, calendar, "--check")
    assert changed == 2, output
    assert {group: scheduled(endpoint, group) for group in groups} == others | {
        "arena-local-web": others["arena-local-web"] | {"arena-event-web-20310114T1920Z": old_style}
    }
    assert warm_pool(endpoint, "arena-local-web") is None

    changed, output = play(tmp_path, calendar)
    assert changed == 2, output  # the scheduled-actions task and the warm-pool task (each loops over web, api)
    all_rows = MADRID_ACTIONS + SYDNEY_ACTIONS + NEW_YORK_ACTIONS
    assert scheduled(endpoint, "arena-local-web") == others["arena-local-web"] | expected("web", all_rows)
    assert scheduled(endpoint, "arena-local-api") == others["arena-local-api"] | expected("api", all_rows)
    assert scheduled(endpoint, "arena-local-admin") == others["arena-local-admin"]
    for group in ("arena-local-web", "arena-local-api"):
        assert_step_ups_without_desired_capacity(endpoint, group, events=3)
    # Prepared capacity = the largest upcoming floor.
    assert warm_pool(endpoint, "arena-local-web") == pool(5)
    assert warm_pool(endpoint, "arena-local-api") == pool(6)
    assert warm_pool(endpoint, "arena-local-admin") is None

    changed, output = play(tmp_path, calendar)
    assert changed == 0, output

    fewer = [MADRID, NEW_YORK]
    changed, output = play(tmp_path, fewer, "--check")
    assert changed == 1, output
    assert scheduled(endpoint, "arena-local-web") == others["arena-local-web"] | expected("web", all_rows)

    changed, output = play(tmp_path, fewer)
    assert changed == 1, output  # the scheduled actions of web and api; the pools keep their size
    kept = MADRID_ACTIONS + NEW_YORK_ACTIONS
    assert scheduled(endpoint, "arena-local-web") == others["arena-local-web"] | expected("web", kept)
    assert scheduled(endpoint, "arena-local-api") == others["arena-local-api"] | expected("api", kept)
    assert scheduled(endpoint, "arena-local-admin") == others["arena-local-admin"]
    assert warm_pool(endpoint, "arena-local-web") == pool(5)

    # Time moves on past the New York concert's scale-out: only the scale-in is still to come, so
    # the pools shrink to the baseline; past actions already in AWS are left to AWS.
    changed, output = play(tmp_path, fewer, event_scaling_now="2031-07-11T00:00:00Z")
    assert changed == 1, output  # the warm pools only
    assert warm_pool(endpoint, "arena-local-web") == pool(1)
    assert scheduled(endpoint, "arena-local-api") == others["arena-local-api"] | expected("api", kept)

    changed, output = play(tmp_path, fewer, event_scaling_state="absent")
    assert changed == 2, output
    for group in groups:
        assert scheduled(endpoint, group) == others[group]
        assert warm_pool(endpoint, group) is None
    changed, output = play(tmp_path, fewer, event_scaling_state="absent")
    assert changed == 0, output


def test_a_group_that_disagrees_with_the_model_is_refused_untouched(
    tmp_path: Path, endpoint: str, groups: list[str]
) -> None:
    before = {group: scheduled(endpoint, group) for group in groups}
    varfile = tmp_path / "vars.json"
    model = copy.deepcopy(MODEL)
    model["tiers"]["web"]["max_size"] = 5
    varfile.write_text(json.dumps({"arena_events": [MADRID], "event_scaling_now": NOW, "arena_capacity_model": model}))
    result = run(
        ["ansible-playbook", "-i", "inventories/local", PLAYBOOK, "-e", f"@{varfile}"],
        base_env({"ANSIBLE_INVENTORY_UNPARSED_WARNING": "False"}),
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert (
        "No Auto Scaling group arena-local-web tagged {'Project': 'arena', 'Environment': 'local', "
        "'ManagedBy': 'arena-infra', 'Tier': 'web'} with max_size 5" in " ".join(output.split())
    ), output[-3000:]
    assert {group: scheduled(endpoint, group) for group in groups} == before


@pytest.mark.parametrize("event", [MADRID, SYDNEY, NEW_YORK], ids=["madrid", "sydney", "new-york"])
def test_hand_worked_kick_offs_match_zoneinfo(event: dict[str, Any]) -> None:
    """The hand-worked UTC times above rest on these offsets (a typo there would go unnoticed)."""
    start = datetime.fromisoformat(event["start"]).replace(tzinfo=ZoneInfo(event["timezone"])).astimezone(UTC)
    lead = start - timedelta(seconds=1470)
    rows = {"IT game Madrid": MADRID_ACTIONS, "IT game Sydney": SYDNEY_ACTIONS}.get(event["name"], NEW_YORK_ACTIONS)
    assert lead.replace(second=0).strftime("%Y-%m-%dT%H:%M:%SZ") == rows[0][1]
