"""arena_release_freeze (issue 16): the calendar events that freeze a publish or a rollout at now.

An event freezes from start - lead time - window (floored to the minute) until end + tail (ceiled),
the end excluded; ``past: true`` events are skipped, a mark on an event that is not over is refused.
Examples at each boundary, exact messages for bad input, and properties: an event is frozen exactly
on [frozen_from, frozen_until); with no window that is the scaling plan's late-or-running span
(arena_schedule.status), so the freeze and the plan cannot disagree about an event's window; a wider
window freezes a superset.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from arena_loader import filter_plugin
from arena_testlib import capacity_model
from hypothesis import given
from hypothesis import strategies as st

MODEL: dict[str, Any] = capacity_model()  # lead 240 + 10 x 3 + 1200 = 1470 s (24.5 min), tail 30 min
WINDOW = 60
# Tuesday 20:45 CET = 19:45Z, 120 min. Frozen from 19:45 - 24:30 - 60:00 = 18:20:30, floored to 18:20:00
# (the plan's scale-out 19:20:00, an hour earlier), until 21:45 + 30 = 22:15:00 (the plan's return to
# the baseline).
GAME = {
    "name": "Arena Basket vs Real Madrid",
    "kind": "basketball",
    "start": "2027-01-12T20:45",
    "timezone": "Europe/Madrid",
    "duration_minutes": 120,
    "peak_viewers": 40000,
}
FROZEN = {
    "name": "Arena Basket vs Real Madrid",
    "start": "2027-01-12T19:45:00Z",
    "end": "2027-01-12T21:45:00Z",
    "frozen_from": "2027-01-12T18:20:00Z",
    "frozen_until": "2027-01-12T22:15:00Z",
}
WHEN = "2027-01-12T20:45 Europe/Madrid, 2027-01-12T19:45:00Z..2027-01-12T21:45:00Z"


@pytest.fixture(scope="session")
def freeze() -> ModuleType:
    return filter_plugin("arena_release_freeze")


@pytest.mark.parametrize(
    ("now", "frozen"),
    [
        ("2027-01-12T18:19:59Z", False),
        ("2027-01-12T18:20:00Z", True),
        ("2027-01-12T19:20:00Z", True),  # the plan's scale-out
        ("2027-01-12T19:45:00Z", True),  # kick-off
        ("2027-01-12T21:44:59Z", True),
        ("2027-01-12T21:45:00Z", True),  # end: in the tail
        ("2027-01-12T22:14:59Z", True),
        ("2027-01-12T22:15:00Z", False),  # frozen_until is excluded
        ("2027-01-12T22:15:01Z", False),
    ],
    ids=[
        "just-before-frozen-from",
        "at-frozen-from",
        "at-the-scale-out",
        "kick-off",
        "during",
        "at-the-end",
        "end-of-the-tail",
        "at-frozen-until",
        "just-after",
    ],
)
def test_an_event_freezes_from_its_window_before_the_ramp_until_its_tail_ends(
    freeze: ModuleType, now: str, frozen: bool
) -> None:
    assert freeze.arena_release_freeze([GAME], MODEL, now, WINDOW) == ([FROZEN] if frozen else [])


@pytest.mark.parametrize(
    "now",
    ["2027-01-12T19:20:00+01:00", "2027-01-12T13:20:00-05:00", "2027-01-12T18:20:00+00:00", "2027-01-12T18:20Z"],
    ids=["cet", "est", "plus-zero", "no-seconds"],
)
def test_now_with_any_utc_offset_is_the_same_instant(freeze: ModuleType, now: str) -> None:
    assert freeze.arena_release_freeze([GAME], MODEL, now, WINDOW) == [FROZEN]
    a_second_earlier = datetime.fromisoformat(now) - timedelta(seconds=1)
    assert freeze.arena_release_freeze([GAME], MODEL, a_second_earlier, WINDOW) == []


def test_no_window_freezes_from_the_scale_out(freeze: ModuleType) -> None:
    assert freeze.arena_release_freeze([GAME], MODEL, "2027-01-12T19:19:59Z", 0) == []
    assert freeze.arena_release_freeze([GAME], MODEL, "2027-01-12T19:20:00Z", 0) == [
        FROZEN | {"frozen_from": "2027-01-12T19:20:00Z"}
    ]


def test_an_event_that_needs_no_extra_capacity_still_freezes(freeze: ModuleType) -> None:
    small = GAME | {"peak_viewers": 0}
    assert freeze.arena_release_freeze([small], MODEL, "2027-01-12T20:00:00Z", WINDOW) == [FROZEN]


def test_the_clock_is_the_default_now(freeze: ModuleType) -> None:
    # An event that started a minute ago, in UTC, is frozen now; one a year ahead is not.
    started = (datetime.now(UTC) - timedelta(minutes=1)).replace(tzinfo=None).isoformat(timespec="minutes")
    running = GAME | {"name": "Running", "start": started, "timezone": "UTC"}
    ahead = GAME | {"name": "Ahead", "start": "2099-01-12T20:45"}
    assert [e["name"] for e in freeze.arena_release_freeze([running, ahead], MODEL, window_minutes=0)] == ["Running"]
    assert [e["name"] for e in freeze.arena_release_freeze([running, ahead], MODEL, "", 0)] == ["Running"]


def test_past_events_are_skipped(freeze: ModuleType) -> None:
    over = GAME | {"name": "Last week", "start": "2027-01-05T20:45", "past": True}
    assert freeze.arena_release_freeze([over, GAME], MODEL, "2027-01-12T20:00:00Z", WINDOW) == [FROZEN]
    assert freeze.arena_release_freeze([over], MODEL, "2027-01-12T20:00:00Z", WINDOW) == []


def test_an_unmarked_event_that_is_over_freezes_nothing(freeze: ModuleType) -> None:
    # Not refused here: arena_scaling_schedule is the calendar's check and refuses it there.
    assert freeze.arena_release_freeze([GAME], MODEL, "2027-02-01T00:00:00Z", WINDOW) == []


@pytest.mark.parametrize("now", ["2027-01-01T00:00:00Z", "2027-01-12T22:14:00Z"], ids=["upcoming", "in-its-tail"])
def test_a_past_mark_on_an_event_that_is_not_over_is_refused(freeze: ModuleType, now: str) -> None:
    with pytest.raises(AnsibleFilterError) as refused:
        freeze.arena_release_freeze([GAME | {"past": True}], MODEL, now, WINDOW)
    assert str(refused.value) == (
        f"arena_release_freeze: event 'Arena Basket vs Real Madrid' ({WHEN}) is marked past: true but is not over"
        f" at {now} (end + 30 min tail): remove the mark, or releases would not be frozen for it."
    )


def test_several_events_are_listed_by_frozen_from(freeze: ModuleType) -> None:
    # Double header: game 1 18:00-19:55 CET (17:00-18:55Z); the late game's window opens at 18:20Z,
    # inside game 1. A concert in London (UTC in winter) at 21:00 opens at 19:35:30, floored 19:35Z.
    first = GAME | {"name": "Game 1", "start": "2027-01-12T18:00", "duration_minutes": 115}
    concert = GAME | {"name": "Concert", "kind": "concert", "start": "2027-01-12T21:00", "timezone": "Europe/London"}
    later = GAME | {"name": "Next week", "start": "2027-01-19T20:45"}
    calendar = [concert, later, GAME, first]
    assert freeze.arena_release_freeze(calendar, MODEL, "2027-01-12T18:30:00Z", WINDOW) == [
        {
            "name": "Game 1",
            "start": "2027-01-12T17:00:00Z",
            "end": "2027-01-12T18:55:00Z",
            "frozen_from": "2027-01-12T15:35:00Z",
            "frozen_until": "2027-01-12T19:25:00Z",
        },
        FROZEN,
    ]
    assert [e["name"] for e in freeze.arena_release_freeze(calendar, MODEL, "2027-01-12T20:00:00Z", WINDOW)] == [
        "Arena Basket vs Real Madrid",
        "Concert",
    ]
    assert freeze.arena_release_freeze(calendar, MODEL, "2027-01-15T12:00:00Z", WINDOW) == []


def test_same_frozen_from_is_ordered_by_name(freeze: ModuleType) -> None:
    other = GAME | {"name": "A concert next door", "kind": "concert"}
    names = [e["name"] for e in freeze.arena_release_freeze([GAME, other], MODEL, "2027-01-12T19:00:00Z", WINDOW)]
    assert names == ["A concert next door", "Arena Basket vs Real Madrid"]


@pytest.mark.parametrize("events", [None, []], ids=["none", "empty"])
def test_no_calendar_freezes_nothing(freeze: ModuleType, events: Any) -> None:
    assert freeze.arena_release_freeze(events, MODEL, "2027-01-12T20:00:00Z", WINDOW) == []


@pytest.mark.parametrize("window", [-1, 1.5, "60", True, None], ids=["negative", "float", "text", "bool", "missing"])
def test_bad_window_is_refused_naming_it(freeze: ModuleType, window: Any) -> None:
    with pytest.raises(AnsibleFilterError) as refused:
        freeze.arena_release_freeze([GAME], MODEL, "2027-01-12T20:00:00Z", window)
    assert str(refused.value) == (
        f"arena_release_freeze: window_minutes must be a non-negative integer (minutes), got {window!r}"
    )


@pytest.mark.parametrize(
    "now",
    ["2027-01-12 19:30", "2027-01-12T19:30:00", "tomorrow", "2027-13-01T00:00:00Z", 5, datetime(2027, 1, 12, 19, 30)],
    ids=["no-offset-space", "no-offset", "words", "bad-month", "number", "naive-datetime"],
)
def test_bad_now_is_refused_naming_it(freeze: ModuleType, now: Any) -> None:
    with pytest.raises(AnsibleFilterError) as refused:
        freeze.arena_release_freeze([GAME], MODEL, now, WINDOW)
    assert str(refused.value) == (
        "arena_release_freeze: now must be an ISO 8601 time with a UTC offset or Z, like 2027-01-12T19:25:00Z,"
        f" got {now!r}"
    )


@pytest.mark.parametrize(
    ("events", "model", "message"),
    [
        (
            [GAME | {"timezone": "Europe/Madird"}],
            MODEL,
            "arena_release_freeze: event 'Arena Basket vs Real Madrid': unknown time zone 'Europe/Madird'",
        ),
        ({"name": "x"}, MODEL, "arena_release_freeze: events must be a list of mappings, got {'name': 'x'}"),
        (
            [GAME],
            capacity_model(changes={"tail_minutes": None}),
            "arena_release_freeze: capacity model is missing tail_minutes",
        ),
    ],
    ids=["calendar", "not-a-list", "model"],
)
def test_bad_calendar_or_model_is_refused_with_the_parsers_message(
    freeze: ModuleType, events: Any, model: Any, message: str
) -> None:
    with pytest.raises(AnsibleFilterError) as refused:
        freeze.arena_release_freeze(events, model, "2027-01-12T20:00:00Z", WINDOW)
    assert str(refused.value) == message


# Properties: one event in a two-week span (its start on a minute or, written with seconds, between
# two, so that both roundings matter), any duration, model ramp and tail, and window; now is any
# second around it, or a second near one of its edges (where an off-by-one shows).
BASE = datetime(2027, 3, 20, tzinfo=UTC)


@st.composite
def cases(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], int, datetime]:
    start = BASE + timedelta(
        minutes=draw(st.integers(min_value=0, max_value=14 * 24 * 60)),
        seconds=draw(st.sampled_from((0, 0, 1, 30, 59))),
    )
    duration = draw(st.integers(min_value=1, max_value=300))
    event = GAME | {
        "start": start.replace(tzinfo=None).isoformat(timespec="seconds"),
        "timezone": "UTC",
        "duration_minutes": duration,
    }
    boot = draw(st.integers(min_value=1, max_value=900))
    margin = draw(st.integers(min_value=0, max_value=1800))
    tail = draw(st.integers(min_value=0, max_value=90))
    model = capacity_model(
        changes={"boot_to_healthy_seconds": boot, "safety_margin_seconds": margin, "tail_minutes": tail}
    )
    window = draw(st.integers(min_value=0, max_value=24 * 60))
    lead = boot + 10 * 3 + margin  # capacity_model(): health checks 10 s x 3
    end = start + timedelta(minutes=duration)
    edges = (start - timedelta(seconds=lead, minutes=window), start, end, end + timedelta(minutes=tail))
    near_an_edge = st.tuples(st.sampled_from(edges), st.integers(min_value=-90, max_value=90)).map(
        lambda pick: pick[0] + timedelta(seconds=pick[1])
    )
    anywhere = st.integers(min_value=-2 * 24 * 3600, max_value=2 * 24 * 3600).map(
        lambda s: start + timedelta(seconds=s)
    )
    return event, model, window, draw(st.one_of(near_an_edge, anywhere))


@given(case=cases())
def test_property_an_event_is_frozen_exactly_on_its_window(freeze: ModuleType, case: tuple[Any, ...]) -> None:
    event, model, window, now = case
    parsed = freeze.capacity_lib.parse_model(model)
    [validated] = freeze.calendar_lib.validate_events([event])
    frozen_from = (validated.start - timedelta(seconds=parsed.lead_time_seconds + 60 * window)).replace(second=0)
    end_tail = validated.end + timedelta(seconds=parsed.tail_seconds)
    frozen_until = end_tail if end_tail.second == 0 else end_tail.replace(second=0) + timedelta(minutes=1)
    result = freeze.arena_release_freeze([event], model, now, window)
    if frozen_from <= now < frozen_until:
        assert result == [
            {
                "name": event["name"],
                "start": freeze.calendar_lib.utc_text(validated.start),
                "end": freeze.calendar_lib.utc_text(validated.end),
                "frozen_from": freeze.calendar_lib.utc_text(frozen_from),
                "frozen_until": freeze.calendar_lib.utc_text(frozen_until),
            }
        ]
    else:
        assert result == []


@given(case=cases())
def test_property_with_no_window_the_freeze_is_the_plans_late_or_running_span(
    freeze: ModuleType, case: tuple[Any, ...]
) -> None:
    event, model, _window, now = case
    schedule = freeze.schedule_lib
    [validated] = freeze.calendar_lib.validate_events([event])
    state = schedule.status(validated, freeze.capacity_lib.parse_model(model), now)
    frozen = freeze.arena_release_freeze([event], model, now, 0) != []
    assert frozen == (state in (schedule.LATE, schedule.RUNNING))


@given(case=cases(), wider=st.integers(min_value=0, max_value=600))
def test_property_a_wider_window_freezes_at_least_as_much(
    freeze: ModuleType, case: tuple[Any, ...], wider: int
) -> None:
    event, model, window, now = case
    if freeze.arena_release_freeze([event], model, now, window):
        assert freeze.arena_release_freeze([event], model, now, window + wider)
