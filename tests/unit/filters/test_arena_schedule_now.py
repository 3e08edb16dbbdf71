"""arena_scaling_schedule planned as of now (issue 14): late, running and past events.

Before issue 14 an event applied inside its lead time got only its return to the baseline (its
scale-out time had passed, and the module skips past start times), a running event likewise, and an
event in the past was dropped without a word. Now, with a fixed ``now`` (deterministic):
- late (start - lead <= now < start) and running (start <= now < end + tail): an ``immediate`` action
  carries the floor at now (applied by raising MinSize at once: AWS refuses a scheduled action in the
  past, https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutScheduledUpdateGroupAction.html),
  and the return to the baseline stays at end + tail;
- past (end + tail <= now): refused unless marked ``past: true``; a marked one is skipped, and a mark
  on an event that is not over is refused;
- property: from ``now`` on, the floor the as-of-now plan gives (immediate floor, then its actions)
  equals the full plan's at every moment.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from arena_testlib import capacity_model
from hypothesis import given, settings
from hypothesis import strategies as st

MODEL: dict[str, Any] = capacity_model()  # lead 240 + 10 x 3 + 1200 = 1470 s, tail 30 min; baseline 2
# Tuesday 20:45 CET = 19:45Z, 120 min: scale-out 19:20Z (19:20:30 floored), back to baseline 22:15Z.
GAME = {
    "name": "Arena Basket vs Real Madrid",
    "kind": "basketball",
    "start": "2027-01-12T20:45",
    "timezone": "Europe/Madrid",
    "duration_minutes": 120,
    "peak_viewers": 40000,  # web 15, api 20
}
BASELINE = [
    {
        "name": f"arena-event-{tier}-20270112T2215Z",
        "tier": tier,
        "start_time": "2027-01-12T22:15:00Z",
        "min_size": 2,
        "desired_capacity": 2,
        "max_size": max_size,
        "events": [],
        "kind": "baseline",
    }
    for tier, max_size in (("api", 48), ("web", 40))
]
WHEN = "2027-01-12T20:45 Europe/Madrid, 2027-01-12T19:45:00Z..2027-01-12T21:45:00Z"


def immediate(now: str, events: list[str] | None = None) -> list[dict[str, Any]]:
    return [
        {
            "name": f"arena-event-{tier}-now",
            "tier": tier,
            "start_time": now,
            "min_size": size,
            "desired_capacity": None,  # MinSize only: never lowers what target tracking holds
            "max_size": max_size,
            "events": events or [GAME["name"]],
            "kind": "immediate",
        }
        for tier, size, max_size in (("api", 20, 48), ("web", 15, 40))
    ]


def test_upcoming_event_is_planned_as_without_now(schedule: ModuleType) -> None:
    now = "2027-01-12T19:19:59Z"  # one second before the scale-out
    assert schedule.arena_scaling_schedule([GAME], MODEL, "arena-event", now) == schedule.arena_scaling_schedule(
        [GAME], MODEL
    )
    assert schedule.arena_event_timing([GAME], MODEL, now) == []


@pytest.mark.parametrize(
    "now",
    ["2027-01-12T19:20:00Z", "2027-01-12T19:30:00Z", "2027-01-12T19:44:59Z"],
    ids=["at-the-scale-out", "inside-the-lead-time", "a-second-before-kick-off"],
)
def test_late_event_gets_an_immediate_step_up_and_keeps_its_return_to_baseline(schedule: ModuleType, now: str) -> None:
    assert schedule.arena_scaling_schedule([GAME], MODEL, "arena-event", now) == immediate(now) + BASELINE


def test_late_event_is_named_in_a_warning(schedule: ModuleType) -> None:
    [timing] = schedule.arena_event_timing([GAME], MODEL, "2027-01-12T19:30:00Z")
    assert timing == {
        "name": GAME["name"],
        "status": "late",
        "start_utc": "2027-01-12T19:45:00Z",
        "end_utc": "2027-01-12T21:45:00Z",
        "note": (
            f"event 'Arena Basket vs Real Madrid' ({WHEN}) is inside its lead time: its scale-out was due at"
            " 2027-01-12T19:20:00Z, now is 2027-01-12T19:30:00Z. Its floor (api 20, web 15) is raised now"
            " (UpdateAutoScalingGroup MinSize) instead of by a scheduled action; instances launched now serve from"
            " about 2027-01-12T19:34:30Z, before kick-off. Back to the baseline at 2027-01-12T22:15:00Z."
        ),
    }
    [later] = schedule.arena_event_timing([GAME], MODEL, "2027-01-12T19:41:00Z")
    assert "serve from about 2027-01-12T19:45:30Z, after kick-off." in later["note"]


@pytest.mark.parametrize(
    ("now", "running"),
    [
        ("2027-01-12T19:45:00Z", "is running"),
        ("2027-01-12T21:44:00Z", "is running"),
        ("2027-01-12T21:45:00Z", "has ended and is in its tail"),
        ("2027-01-12T22:14:59Z", "has ended and is in its tail"),
    ],
    ids=["kick-off", "last-minute", "end", "tail"],
)
def test_running_event_keeps_its_floor_until_end_plus_tail(schedule: ModuleType, now: str, running: str) -> None:
    assert schedule.arena_scaling_schedule([GAME], MODEL, "arena-event", now) == immediate(now) + BASELINE
    [timing] = schedule.arena_event_timing([GAME], MODEL, now)
    assert timing["status"] == "running"
    assert timing["note"] == (
        f"event 'Arena Basket vs Real Madrid' ({WHEN}) {running} at {now}: its floor (api 20, web 15) is raised"
        " now (UpdateAutoScalingGroup MinSize) and held until 2027-01-12T22:15:00Z (end + tail), then back to the"
        " baseline."
    )


@pytest.mark.parametrize("now", ["2027-01-12T22:15:00Z", "2028-01-12T22:15:00Z"], ids=["tail-over", "a-year-on"])
def test_past_event_is_refused_naming_it_and_its_dates(schedule: ModuleType, now: str) -> None:
    with pytest.raises(AnsibleFilterError) as refused:
        schedule.arena_scaling_schedule([GAME], MODEL, "arena-event", now)
    assert str(refused.value) == (
        f"arena_scaling_schedule: event 'Arena Basket vs Real Madrid' ({WHEN}) is over: it ended before now {now}"
        " (end + 30 min tail). A mistyped date? Fix it, or mark the event past: true to keep it in the calendar"
        " (it is then skipped)."
    )


def test_marked_past_event_is_skipped_with_a_note(schedule: ModuleType) -> None:
    now = "2027-02-01T00:00:00Z"
    upcoming = GAME | {"name": "Next", "start": "2027-02-02T20:45"}
    plan = schedule.arena_scaling_schedule([GAME | {"past": True}, upcoming], MODEL, "arena-event", now)
    assert plan == schedule.arena_scaling_schedule([upcoming], MODEL)
    assert schedule.arena_event_timing([GAME | {"past": True}, upcoming], MODEL, now) == [
        {
            "name": GAME["name"],
            "status": "past",
            "start_utc": "2027-01-12T19:45:00Z",
            "end_utc": "2027-01-12T21:45:00Z",
            "note": f"event 'Arena Basket vs Real Madrid' ({WHEN}) is marked past: true and over: skipped.",
        }
    ]


@pytest.mark.parametrize("now", ["2027-01-01T00:00:00Z", "2027-01-12T22:14:00Z"], ids=["upcoming", "in-its-tail"])
def test_a_past_mark_on_an_event_that_is_not_over_is_refused(schedule: ModuleType, now: str) -> None:
    with pytest.raises(AnsibleFilterError) as refused:
        schedule.arena_scaling_schedule([GAME | {"past": True}], MODEL, "arena-event", now)
    assert str(refused.value) == (
        f"arena_scaling_schedule: event 'Arena Basket vs Real Madrid' ({WHEN}) is marked past: true but is not over"
        f" at {now} (end + 30 min tail): remove the mark, or it would be dropped."
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"past": "yes"},
            "arena_scaling_schedule: event 'Arena Basket vs Real Madrid': past must be true or false, got 'yes'",
        ),
    ],
)
def test_bad_past_mark_is_refused(schedule: ModuleType, raw: dict[str, Any], message: str) -> None:
    with pytest.raises(AnsibleFilterError) as refused:
        schedule.arena_scaling_schedule([GAME | raw], MODEL)
    assert str(refused.value) == message


@pytest.mark.parametrize("now", ["2027-01-12 19:30", "2027-01-12T19:30:00+01:00", 5])
def test_malformed_now_is_refused(schedule: ModuleType, now: Any) -> None:
    with pytest.raises(AnsibleFilterError) as refused:
        schedule.arena_scaling_schedule([GAME], MODEL, "arena-event", now)
    assert str(refused.value) == f"arena_scaling_schedule: now must be UTC like 2027-01-12T19:25:00Z, got {now!r}"


def test_double_header_running_first_game_holds_its_floor_and_the_second_still_steps_up(
    schedule: ModuleType,
) -> None:
    # Game 1 18:00-19:55 CET (17:00-18:55Z, 10000 viewers: web 4, api 5), game 2 20:45 CET (19:45Z, 40000).
    first = GAME | {"name": "Game 1", "start": "2027-01-12T18:00", "duration_minutes": 115, "peak_viewers": 10000}
    now = "2027-01-12T17:30:00Z"
    plan = schedule.arena_scaling_schedule([first, GAME], MODEL, "arena-event", now)
    assert [(a["kind"], a["tier"], a["start_time"], a["min_size"], a["desired_capacity"]) for a in plan] == [
        ("immediate", "api", now, 5, None),
        ("immediate", "web", now, 4, None),
        ("event", "api", "2027-01-12T19:20:00Z", 20, None),
        ("event", "web", "2027-01-12T19:20:00Z", 15, None),
        ("baseline", "api", "2027-01-12T22:15:00Z", 2, 2),
        ("baseline", "web", "2027-01-12T22:15:00Z", 2, 2),
    ]


def test_plan_table_shows_local_and_utc_times(schedule: ModuleType, calendar: ModuleType) -> None:
    now = "2027-01-12T19:30:00Z"
    plan = schedule.arena_scaling_schedule([GAME], MODEL, "arena-event", now)
    assert schedule.arena_scaling_plan_table(plan, calendar.arena_events([GAME])) == [
        "tier   local time                               UTC                   min  max desired  kind       events",
        "api    2027-01-12 20:30 CET (Europe/Madrid)     2027-01-12T19:30:00Z   20   48       -  immediate  "
        "Arena Basket vs Real Madrid",
        "web    2027-01-12 20:30 CET (Europe/Madrid)     2027-01-12T19:30:00Z   15   40       -  immediate  "
        "Arena Basket vs Real Madrid",
        "api    2027-01-12 23:15 CET (Europe/Madrid)     2027-01-12T22:15:00Z    2   48       2  baseline   -",
        "web    2027-01-12 23:15 CET (Europe/Madrid)     2027-01-12T22:15:00Z    2   40       2  baseline   -",
    ]


# --- property: the as-of-now plan gives the full plan's floor from now on ---------------------------

START = datetime(2027, 1, 12, 16, 0, tzinfo=UTC)


def level_at(actions: list[dict[str, Any]], tier: str, moment: str, start: int) -> int:
    """The floor of ``tier`` at ``moment`` after the actions (text times of one length) from ``start``."""
    level = start
    for action in actions:
        if action["tier"] == tier and action["start_time"] <= moment:
            level = action["min_size"]
    return level


@settings(max_examples=200)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=8 * 60), min_size=1, max_size=4),
    viewers=st.lists(st.integers(min_value=0, max_value=60000), min_size=4, max_size=4),
    now_minute=st.integers(min_value=0, max_value=12 * 60),
    now_second=st.integers(min_value=0, max_value=59),
)
def test_property_as_of_now_plan_holds_the_full_plans_floor_from_now_on(
    schedule: ModuleType, offsets: list[int], viewers: list[int], now_minute: int, now_second: int
) -> None:
    events = [
        GAME
        | {
            "name": f"E{index}",
            "start": (START + timedelta(minutes=offset)).strftime("%Y-%m-%dT%H:%M"),
            "timezone": "UTC",
            "duration_minutes": 90,
            "peak_viewers": viewers[index],
        }
        for index, offset in enumerate(offsets)
    ]
    now = START + timedelta(minutes=now_minute - 60, seconds=now_second)
    now_text = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    full = schedule.arena_scaling_schedule(events, MODEL)
    last_end = max(START + timedelta(minutes=o + 90 + 30) for o in offsets)
    if last_end <= now:  # every event is over: refused unless marked, covered by the tests above
        return
    over = [e for e, o in zip(events, offsets, strict=True) if START + timedelta(minutes=o + 90 + 30) <= now]
    marked = [e | {"past": True} if e in over else e for e in events]
    as_of_now = schedule.arena_scaling_schedule(marked, MODEL, "arena-event", now_text)
    without_over = schedule.arena_scaling_schedule([e for e in events if e not in over], MODEL)
    assert all(
        (a["kind"] == "immediate" and a["start_time"] == now_text) or a["start_time"] > now_text for a in as_of_now
    )
    assert all(a["desired_capacity"] is None for a in as_of_now if a["kind"] == "immediate")
    for tier, baseline in (("api", 2), ("web", 2)):
        # The events that are over ended before now and hold nothing from now on: the full plan and
        # the plan without them agree from now on.
        for minute in range(0, 14 * 60, 5):
            moment = (START + timedelta(minutes=minute - 60)).strftime("%Y-%m-%dT%H:%M:%SZ")
            if moment < now_text:
                continue
            want = level_at(full, tier, moment, baseline)
            assert level_at(without_over, tier, moment, baseline) == want
            assert level_at(as_of_now, tier, moment, baseline) == want, (tier, moment, as_of_now)
