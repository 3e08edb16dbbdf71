"""arena_events: calendar validation, DST-correct conversion to UTC, exact error messages."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError


def event(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "Arena Basket vs Valencia",
        "kind": "basketball",
        "start": "2027-03-28T12:30",
        "timezone": "Europe/Madrid",
        "duration_minutes": 120,
        "peak_viewers": 30000,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize(
    ("overrides", "start_utc", "end_utc", "minutes"),
    [
        # CET (+01:00) the day before the spring-forward change, CEST (+02:00) on the day itself.
        ({"start": "2027-03-27T12:30"}, "2027-03-27T11:30:00Z", "2027-03-27T13:30:00Z", 120),
        ({"start": "2027-03-28T12:30"}, "2027-03-28T10:30:00Z", "2027-03-28T12:30:00Z", 120),
        # Across the change: 01:30 CET + 120 min elapsed = 04:30 CEST (the wall clock jumps an hour).
        ({"start": "2027-03-28T01:30"}, "2027-03-28T00:30:00Z", "2027-03-28T02:30:00Z", 120),
        # Same night written with an end: 01:30 CET -> 03:30 CEST is one real hour.
        (
            {"start": "2027-03-28T01:30", "end": "2027-03-28T03:30", "duration_minutes": None},
            "2027-03-28T00:30:00Z",
            "2027-03-28T01:30:00Z",
            60,
        ),
        # Autumn: 01:30 CEST -> 03:30 CET is three real hours.
        (
            {"start": "2026-10-25T01:30", "end": "2026-10-25T03:30", "duration_minutes": None},
            "2026-10-24T23:30:00Z",
            "2026-10-25T02:30:00Z",
            180,
        ),
        ({"start": "2027-03-28T12:30", "timezone": "UTC"}, "2027-03-28T12:30:00Z", "2027-03-28T14:30:00Z", 120),
        (
            {"start": "2027-03-14T19:30", "timezone": "America/New_York"},
            "2027-03-14T23:30:00Z",
            "2027-03-15T01:30:00Z",
            120,
        ),
    ],
)
def test_times_convert_to_utc_across_dst(
    calendar: ModuleType, overrides: dict[str, Any], start_utc: str, end_utc: str, minutes: int
) -> None:
    [result] = calendar.arena_events([event(**overrides)])
    assert (result["start_utc"], result["end_utc"], result["duration_minutes"]) == (start_utc, end_utc, minutes)


def test_result_is_sorted_and_normalised(calendar: ModuleType) -> None:
    late = event(name=" Late ", start="2027-03-28T20:00")
    early = event(name="Early", start="2027-03-28T10:00", kind=" concert ")
    assert calendar.arena_events([late, early]) == [
        {
            "name": "Early",
            "kind": "concert",
            "timezone": "Europe/Madrid",
            "local_start": "2027-03-28T10:00",
            "start_utc": "2027-03-28T08:00:00Z",
            "end_utc": "2027-03-28T10:00:00Z",
            "duration_minutes": 120,
            "peak_viewers": 30000,
            "past": False,
        },
        {
            "name": "Late",
            "kind": "basketball",
            "timezone": "Europe/Madrid",
            "local_start": "2027-03-28T20:00",
            "start_utc": "2027-03-28T18:00:00Z",
            "end_utc": "2027-03-28T20:00:00Z",
            "duration_minutes": 120,
            "peak_viewers": 30000,
            "past": False,
        },
    ]


def test_empty_calendar_is_valid(calendar: ModuleType) -> None:
    assert calendar.arena_events(None) == []
    assert calendar.arena_events([]) == []


def test_same_name_at_other_times_is_not_a_duplicate(calendar: ModuleType) -> None:
    first = event(start="2027-03-28T12:30")
    second = event(start="2027-03-28T14:30")  # starts exactly when the first ends
    assert len(calendar.arena_events([first, second])) == 2


def test_zero_audience_is_valid(calendar: ModuleType) -> None:
    assert calendar.arena_events([event(peak_viewers=0)])[0]["peak_viewers"] == 0


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ("not a list", "arena_events: events must be a list of mappings, got 'not a list'"),
        (["game"], "arena_events: event #1 must be a mapping, got 'game'"),
        ([event(start=None)], "arena_events: event 'Arena Basket vs Valencia' is missing start"),
        ([event(name=None, kind=None)], "arena_events: event #1 is missing name, kind"),
        (
            [event(peak_viewer=100)],
            "arena_events: event 'Arena Basket vs Valencia' has unknown keys ['peak_viewer']",
        ),
        ([event(name="  ")], "arena_events: event #1: name must be a non-empty string, got '  '"),
        (
            [event(timezone="Europe/Madird")],
            "arena_events: event 'Arena Basket vs Valencia': unknown time zone 'Europe/Madird'",
        ),
        (
            [event(timezone=1)],
            "arena_events: event 'Arena Basket vs Valencia': timezone must be an IANA zone name, got 1",
        ),
        (
            [event(start="28/03/2027 12:30")],
            "arena_events: event 'Arena Basket vs Valencia': start '28/03/2027 12:30' is not a local time"
            " like 2027-03-28T20:45",
        ),
        (
            [event(start="2027-03-28T12:30+02:00")],
            "arena_events: event 'Arena Basket vs Valencia': start '2027-03-28T12:30+02:00' carries a UTC"
            " offset; write local time and set timezone",
        ),
        (
            [event(start="2027-03-28T02:30")],
            "arena_events: event 'Arena Basket vs Valencia': start 2027-03-28T02:30 does not exist in"
            " Europe/Madrid (DST change)",
        ),
        (
            [event(start="2026-10-25T02:30")],
            "arena_events: event 'Arena Basket vs Valencia': start 2026-10-25T02:30 is ambiguous in"
            " Europe/Madrid (DST change); move it out of the repeated hour",
        ),
        (
            [event(end="2027-03-28T14:30")],
            "arena_events: event 'Arena Basket vs Valencia' needs exactly one of duration_minutes or end",
        ),
        (
            [event(duration_minutes=None)],
            "arena_events: event 'Arena Basket vs Valencia' needs exactly one of duration_minutes or end",
        ),
        (
            [event(duration_minutes=0)],
            "arena_events: event 'Arena Basket vs Valencia': duration_minutes must be a positive integer, got 0",
        ),
        (
            [event(duration_minutes=None, end="2027-03-28T11:00")],
            "arena_events: event 'Arena Basket vs Valencia': end 2027-03-28T11:00 is not after start"
            " 2027-03-28T12:30 (Europe/Madrid)",
        ),
        (
            [event(peak_viewers=-5)],
            "arena_events: event 'Arena Basket vs Valencia': peak_viewers must be a non-negative integer, got -5",
        ),
        (
            [event(peak_viewers=True)],
            "arena_events: event 'Arena Basket vs Valencia': peak_viewers must be a non-negative integer, got True",
        ),
        (
            [event(), event(name="arena basket vs valencia", start="2027-03-28T13:00")],
            "arena_events: event 'arena basket vs valencia' is listed twice with overlapping times:"
            " 2027-03-28T10:30:00Z..2027-03-28T12:30:00Z and 2027-03-28T11:00:00Z..2027-03-28T13:00:00Z",
        ),
    ],
)
def test_bad_calendar_is_rejected_with_exact_message(calendar: ModuleType, events: Any, message: str) -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        calendar.arena_events(events)
    assert caught.value.message == message


def test_filter_module_exposes_arena_events(calendar: ModuleType) -> None:
    assert calendar.FilterModule().filters() == {"arena_events": calendar.arena_events}
