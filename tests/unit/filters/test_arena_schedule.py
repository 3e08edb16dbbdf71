"""arena_scaling_schedule: examples, exact errors, and hypothesis properties of the plan.

Properties (for any calendar and model):
- coverage: every tier holds at least the event's need from start - lead time to end + tail, so the
  capacity InService at kick-off (launched by kick-off - boot - health checks) is >= the need;
- merge by maximum: the floor at any moment is max(baseline, needs of the windows active then);
- no contradiction: actions sorted by (time, tier), one per (time, tier), minute-aligned, and
  consecutive actions of a tier change its size;
- never lowers capacity mid-event: no step-up carries a desired capacity (it sets MinSize only, so
  capacity target tracking added above the new floor stays), and the only actions that do set one
  return a tier to its baseline at a moment outside every event's window;
- the schedule ends at every tier's baseline; the order of the calendar does not matter.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from ansible.errors import AnsibleFilterError
from arena_testlib import capacity_model
from hypothesis import assume, given, settings
from hypothesis import strategies as st

MODEL: dict[str, Any] = capacity_model()


def game(name: str, start: str, viewers: int, minutes: int = 120, zone: str = "Europe/Madrid") -> dict[str, Any]:
    return {
        "name": name,
        "kind": "basketball",
        "start": start,
        "timezone": zone,
        "duration_minutes": minutes,
        "peak_viewers": viewers,
    }


def brief(actions: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    return [(a["start_time"], a["tier"], a["min_size"]) for a in actions]


def test_single_event_scales_out_at_lead_time_and_back_after_tail(schedule: ModuleType) -> None:
    # Tuesday 20:45 CET = 19:45Z; lead 240 + 30 + 1200 s = 24.5 min -> 19:20:30, floored to 19:20.
    # End 21:45Z + 30 min tail = 22:15Z.
    actions = schedule.arena_scaling_schedule([game("Arena Basket vs Real Madrid", "2027-01-12T20:45", 40000)], MODEL)
    assert brief(actions) == [
        ("2027-01-12T19:20:00Z", "api", 20),
        ("2027-01-12T19:20:00Z", "web", 15),
        ("2027-01-12T22:15:00Z", "api", 2),
        ("2027-01-12T22:15:00Z", "web", 2),
    ]
    assert actions[1] == {
        "name": "arena-event-web-20270112T1920Z",
        "tier": "web",
        "start_time": "2027-01-12T19:20:00Z",
        "min_size": 15,
        "desired_capacity": None,  # a step-up: MinSize only, target tracking's extra capacity stays
        "max_size": 40,
        "events": ["Arena Basket vs Real Madrid"],
        "kind": "event",
    }
    assert actions[3] == {
        "name": "arena-event-web-20270112T2215Z",
        "tier": "web",
        "start_time": "2027-01-12T22:15:00Z",
        "min_size": 2,
        "desired_capacity": 2,  # back to the baseline: the planned scale-in
        "max_size": 40,
        "events": [],
        "kind": "baseline",
    }


def test_kick_off_on_the_dst_change_day_uses_summer_time(schedule: ModuleType) -> None:
    # Sunday 28 March 2027 12:30 CEST = 10:30Z (the day before it would be 11:30Z).
    actions = schedule.arena_scaling_schedule([game("Sunday matinee", "2027-03-28T12:30", 28000)], MODEL)
    assert brief(actions) == [
        ("2027-03-28T10:05:00Z", "api", 14),
        ("2027-03-28T10:05:00Z", "web", 10),
        ("2027-03-28T13:00:00Z", "api", 2),
        ("2027-03-28T13:00:00Z", "web", 2),
    ]


def test_back_to_back_events_merge_by_maximum_without_a_dip(schedule: ModuleType) -> None:
    # Double header: 18:00 and 20:00 CET. The first window ends 18:30Z + 30 min tail = 19:00Z, the
    # second starts 19:00Z - 24.5 min = 18:35Z: they overlap, so the floor steps up with no dip.
    events = [game("Early game", "2027-01-16T18:00", 34000, 90), game("Late game", "2027-01-16T20:00", 40000)]
    assert brief(schedule.arena_scaling_schedule(events, MODEL)) == [
        ("2027-01-16T16:35:00Z", "api", 17),
        ("2027-01-16T16:35:00Z", "web", 13),
        ("2027-01-16T18:35:00Z", "api", 20),
        ("2027-01-16T18:35:00Z", "web", 15),
        ("2027-01-16T21:30:00Z", "api", 2),
        ("2027-01-16T21:30:00Z", "web", 2),
    ]


def test_smaller_event_inside_a_bigger_one_changes_nothing(schedule: ModuleType) -> None:
    big = game("Final", "2027-05-30T20:00", 40000, 180)
    small = game("Half-time show", "2027-05-30T21:00", 10000, 20)
    assert schedule.arena_scaling_schedule([big, small], MODEL) == schedule.arena_scaling_schedule([big], MODEL)


def test_second_larger_event_raises_then_lowers_the_floor(schedule: ModuleType) -> None:
    # Overlapping events take the maximum, not the sum: 40000 -> 15 web, 70000 -> 25 web.
    events = [game("Game", "2027-05-30T20:00", 40000, 180), game("Ceremony", "2027-05-30T21:00", 70000, 30)]
    plan = schedule.arena_scaling_schedule(events, MODEL)
    web = [(a["start_time"], a["min_size"], a["desired_capacity"], a["kind"]) for a in plan[1::2]]
    assert web == [
        ("2027-05-30T17:35:00Z", 15, None, "event"),
        ("2027-05-30T18:35:00Z", 25, None, "event"),
        # down to the game's floor while the game is on: MinSize only, target tracking scales in
        ("2027-05-30T20:00:00Z", 15, None, "event"),
        ("2027-05-30T21:30:00Z", 2, 2, "baseline"),
    ]


def test_event_at_or_below_baseline_makes_no_actions(schedule: ModuleType) -> None:
    assert schedule.arena_scaling_schedule([game("Tiny", "2027-01-12T20:45", 4000)], MODEL) == []
    assert schedule.arena_scaling_schedule([], MODEL) == []


def test_name_prefix(schedule: ModuleType) -> None:
    [first, *_] = schedule.arena_scaling_schedule([game("G", "2027-01-12T20:45", 40000)], MODEL, "evt")
    assert first["name"] == "evt-api-20270112T1920Z"


@pytest.mark.parametrize(
    ("events", "model", "prefix", "message"),
    [
        (
            [game("Final", "2027-06-01T20:00", 120000)],
            MODEL,
            "arena-event",
            "arena_scaling_schedule: event 'Final' needs 58 api instances for 120000 viewers, above max_size 48",
        ),
        (
            [game("Final", "2027-06-01T20:00", -1)],
            MODEL,
            "arena-event",
            "arena_scaling_schedule: event 'Final': peak_viewers must be a non-negative integer, got -1",
        ),
        (
            [game("Final", "2027-06-01T20:00", 1, zone="Mars/Olympus")],
            MODEL,
            "arena-event",
            "arena_scaling_schedule: event 'Final': unknown time zone 'Mars/Olympus'",
        ),
        (
            [game("Final", "2027-06-01T20:00", 1)],
            {},
            "arena-event",
            "arena_scaling_schedule: capacity model is missing boot_to_healthy_seconds, health_check,"
            " safety_margin_seconds, tail_minutes, instance_types, tiers",
        ),
        ([], MODEL, "", "arena_scaling_schedule: name_prefix must be a non-empty string, got ''"),
    ],
)
def test_bad_input_is_rejected_with_exact_message(
    schedule: ModuleType, events: Any, model: Any, prefix: Any, message: str
) -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        schedule.arena_scaling_schedule(events, model, prefix)
    assert caught.value.message == message


# --- properties ---------------------------------------------------------------------------------

ZONES = ("Europe/Madrid", "Europe/London", "UTC", "America/New_York")
# Two windows that contain DST changes: spring 2027 (Europe: 28 March) and autumn 2026 (Europe: 25
# October, America: 1 November).
BASES = (datetime(2027, 3, 26, tzinfo=UTC), datetime(2026, 10, 23, tzinfo=UTC))


@st.composite
def calendars(draw: st.DrawFn) -> list[dict[str, Any]]:
    base = draw(st.sampled_from(BASES))
    events = []
    for index in range(draw(st.integers(min_value=0, max_value=7))):
        zone = ZoneInfo(draw(st.sampled_from(ZONES)))
        instant = base + timedelta(minutes=draw(st.integers(min_value=0, max_value=10 * 24 * 60)))
        local = instant.astimezone(zone)
        # a wall-clock time in the repeated autumn hour is rejected by design (tested elsewhere)
        assume(local.replace(fold=0).utcoffset() == local.replace(fold=1).utcoffset())
        events.append(
            {
                "name": f"Event {index}",
                "kind": draw(st.sampled_from(("basketball", "concert"))),
                "start": local.replace(tzinfo=None).isoformat(timespec="minutes"),
                "timezone": zone.key,
                "duration_minutes": draw(st.integers(min_value=1, max_value=300)),
                "peak_viewers": draw(st.integers(min_value=0, max_value=100_000)),
            }
        )
    return events


@st.composite
def models(draw: st.DrawFn) -> dict[str, Any]:
    model = capacity_model()
    model["boot_to_healthy_seconds"] = draw(st.integers(min_value=1, max_value=900))
    model["health_check"]["interval_seconds"] = draw(st.integers(min_value=5, max_value=30))
    model["safety_margin_seconds"] = draw(st.integers(min_value=0, max_value=1800))
    model["tail_minutes"] = draw(st.integers(min_value=0, max_value=90))
    for tier in model["tiers"].values():
        tier["min_size"] = draw(st.integers(min_value=0, max_value=6))
        tier["max_size"] = 200
        tier["headroom"] = draw(st.sampled_from((0.0, 0.2, 0.3, 0.5)))
    return model


def floor_at(actions: list[dict[str, Any]], tier: str, moment: datetime, baseline: int) -> int:
    """The tier's scheduled floor in force at ``moment`` (baseline before its first action)."""
    level = baseline
    for action in actions:
        if action["tier"] == tier and parse_utc(action["start_time"]) <= moment:
            level = action["min_size"]
    return level


def parse_utc(text: str) -> datetime:
    assert text.endswith("Z")
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@settings(max_examples=150)
@given(events=calendars(), model=models())
def test_property_plan_covers_every_kick_off_and_returns_to_baseline(
    schedule: ModuleType, capacity: ModuleType, calendar: ModuleType, events: list[dict[str, Any]], model: Any
) -> None:
    actions = schedule.arena_scaling_schedule(events, model)
    parsed = capacity.parse_model(model)
    validated = calendar.validate_events(events)
    lead = timedelta(seconds=parsed.lead_time_seconds)
    ready = timedelta(seconds=parsed.ready_seconds)
    tail = timedelta(seconds=parsed.tail_seconds)

    # ordered, unique per (time, tier), minute-aligned, UTC, no redundant action
    keys = [(parse_utc(a["start_time"]), a["tier"]) for a in actions]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    assert all(moment.second == 0 for moment, _ in keys)
    assert len({a["name"] for a in actions}) == len(actions)
    for tier in parsed.tiers:
        tier_plan = [a for a in actions if a["tier"] == tier.name]
        sizes = [a["min_size"] for a in tier_plan]
        assert all(a != b for a, b in zip([tier.min_size, *sizes], sizes, strict=False))
        # no step-up carries a desired capacity (it could be below what target tracking holds);
        # a desired capacity is set exactly on the returns to the baseline, and equals it
        for before, action in zip([tier.min_size, *sizes], tier_plan, strict=False):
            if action["min_size"] > before:
                assert action["desired_capacity"] is None, action
            baseline = action["min_size"] == tier.min_size
            assert action["kind"] == ("baseline" if baseline else "event")
            assert action["desired_capacity"] == (tier.min_size if baseline else None), action
        # returns to the baseline after the last event
        assert not sizes or sizes[-1] == tier.min_size
        assert all(a["max_size"] == tier.max_size for a in actions if a["tier"] == tier.name)

    boundaries = set()
    for event in validated:
        for tier in parsed.tiers:
            need = capacity.instances_needed(event.peak_viewers, tier)
            # InService at kick-off = launched no later than kick-off - boot - health checks
            assert floor_at(actions, tier.name, event.start - ready, tier.min_size) >= need
            # held for the whole window [start - lead, end + tail), at its start and every change inside
            inside = [m for m, t in keys if t == tier.name and event.start - lead <= m < event.end + tail]
            for moment in [event.start - lead, *inside]:
                assert floor_at(actions, tier.name, moment, tier.min_size) >= need
        boundaries |= {event.start - lead, event.end + tail}

    # an action that sets a desired capacity runs outside every window of an event above the baseline
    # (the audience has gone, tail included): it cannot cut capacity an event's load still needs
    for action in actions:
        if action["desired_capacity"] is not None:
            moment = parse_utc(action["start_time"])
            tier = next(t for t in parsed.tiers if t.name == action["tier"])
            for event in validated:
                if capacity.instances_needed(event.peak_viewers, tier) > tier.min_size:
                    window = (schedule.floor_minute(event.start - lead), schedule.ceil_minute(event.end + tail))
                    assert not window[0] <= moment < window[1], (action, event)

    # merge by maximum: the step function equals the oracle just before and at every boundary
    for tier in parsed.tiers:
        windows = [
            (
                schedule.floor_minute(e.start - lead),
                schedule.ceil_minute(e.end + tail),
                capacity.instances_needed(e.peak_viewers, tier),
            )
            for e in validated
        ]
        probes = {schedule.floor_minute(b) for b in boundaries} | {schedule.ceil_minute(b) for b in boundaries}
        for probe in probes | {p - timedelta(minutes=1) for p in probes}:
            expected = max([tier.min_size, *(size for start, end, size in windows if start <= probe < end)])
            assert floor_at(actions, tier.name, probe, tier.min_size) == expected

    # the calendar's order does not matter
    shuffled = list(events)
    random.Random(len(events)).shuffle(shuffled)
    assert schedule.arena_scaling_schedule(shuffled, model) == actions


def test_filter_module_exposes_the_schedule(schedule: ModuleType) -> None:
    assert schedule.FilterModule().filters() == {
        "arena_scaling_schedule": schedule.arena_scaling_schedule,
        "arena_event_timing": schedule.arena_event_timing,
        "arena_scaling_plan_table": schedule.arena_scaling_plan_table,
    }
