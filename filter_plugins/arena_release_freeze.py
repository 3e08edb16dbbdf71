"""Release freeze filter: the calendar events that forbid a publish or a rollout at a given moment.

An event of the calendar (``arena_events``, events.yml) freezes releases over the event-scaling
plan's window of that event, widened by ``window_minutes`` ahead of it::

    frozen_from  = start - lead time - window_minutes   (rounded down to the minute)
    frozen_until = end + tail                           (rounded up to the minute)

and an event freezes at ``now`` when ``frozen_from <= now < frozen_until``. The lead time (the ramp:
``arena_lead_time``, how long before kick-off the scale-out starts so that the capacity is
InService in time) and the tail (``tail_minutes``, capacity held after the end) come from the
capacity model (``arena_capacity_model``, capacity.yml). The times are the ones
``arena_scaling_schedule`` plans: the same parsers (filter_plugins/arena_calendar.py,
arena_capacity.py) and the same minute rounding (filter_plugins/arena_schedule.py), so with
``window_minutes=0`` an event freezes exactly while the plan calls it late or running
(``arena_schedule.status``): from its scale-out until its return to the baseline.

Every event freezes, also one whose audience needs no capacity above the baselines: the freeze
protects the event, not the scaling.

``past: true`` events are skipped, as in the scaling plan. A mark on an event that is not over at
``now`` (``end + tail`` still to come) is refused, as the plan refuses it: skipping it would let a
release through while the event may be on. An unmarked event that is over is not refused here (it
freezes nothing; ``arena_scaling_schedule`` is the calendar's check and refuses it there).

Filters:
    ``arena_release_freeze(events, model, now=None, window_minutes=None)``: the freezing events at
    ``now``, each ``{name, start, end, frozen_from, frozen_until}`` (UTC text like
    2027-01-12T19:45:00Z), sorted by ``frozen_from`` then name; empty when releases may run.
"""

from __future__ import annotations

import runpy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

# The other filter files, by the repository's one plugin loader (Ansible puts neither directory on sys.path).
_PLUGIN_LOADER = Path(__file__).resolve().parent.parent / "module_utils" / "arena_plugin_loader.py"
load_sibling = runpy.run_path(str(_PLUGIN_LOADER))["load_filter_file"]

calendar_lib = load_sibling("arena_calendar")
capacity_lib = load_sibling("arena_capacity")
schedule_lib = load_sibling("arena_schedule")
FNAME = "arena_release_freeze"


def parse_now(value: Any) -> datetime:
    """``now`` as an aware UTC datetime: None or empty text is the clock; otherwise an aware datetime
    or ISO 8601 text with a UTC offset or ``Z`` (a time without one is refused: it names no instant)."""
    if value is None or value == "":
        return datetime.now(UTC)
    moment = None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            moment = None
    if moment is None or moment.tzinfo is None or moment.utcoffset() is None:
        raise AnsibleFilterError(
            f"{FNAME}: now must be an ISO 8601 time with a UTC offset or Z, like 2027-01-12T19:25:00Z, got {value!r}"
        )
    return moment.astimezone(UTC)


def parse_window(value: Any) -> int:
    """``window_minutes``: a non-negative integer (no bool, no text: the task file converts -e text)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise AnsibleFilterError(f"{FNAME}: window_minutes must be a non-negative integer (minutes), got {value!r}")
    return int(value)


def frozen_window(event: Any, model: Any, window_minutes: int) -> tuple[datetime, datetime]:
    """[frozen_from, frozen_until) of a validated event: the scaling plan's window of the event
    (scale-out at start - lead time, floored; return to the baseline at end + tail, ceiled),
    ``window_minutes`` earlier at its start."""
    scale_out = schedule_lib.floor_minute(event.start - timedelta(seconds=model.lead_time_seconds))
    baseline = schedule_lib.ceil_minute(event.end + timedelta(seconds=model.tail_seconds))
    return scale_out - timedelta(minutes=window_minutes), baseline


def check_marks(events: list[Any], model: Any, now: datetime) -> None:
    """Refuse a ``past: true`` mark on an event that is not over at ``now`` (the plan's rule)."""
    for event in events:
        if event.past and schedule_lib.status(event, model, now) != schedule_lib.PAST:
            raise AnsibleFilterError(
                f"{FNAME}: event '{event.name}' ({event.local_start} {event.timezone}, "
                f"{calendar_lib.utc_text(event.start)}..{calendar_lib.utc_text(event.end)}) is marked past: true "
                f"but is not over at {calendar_lib.utc_text(now)} (end + {model.tail_seconds // 60} min tail): "
                f"remove the mark, or releases would not be frozen for it."
            )


def freezing_events(events: list[Any], model: Any, now: datetime, window_minutes: int) -> list[dict[str, str]]:
    """The unmarked events whose frozen window holds ``now``, sorted by (frozen_from, name)."""
    found = []
    for event in events:
        if event.past:
            continue
        frozen_from, frozen_until = frozen_window(event, model, window_minutes)
        if frozen_from <= now < frozen_until:
            found.append((frozen_from, event.name, event, frozen_until))
    found.sort(key=lambda item: (item[0], item[1]))
    return [
        {
            "name": event.name,
            "start": calendar_lib.utc_text(event.start),
            "end": calendar_lib.utc_text(event.end),
            "frozen_from": calendar_lib.utc_text(frozen_from),
            "frozen_until": calendar_lib.utc_text(frozen_until),
        }
        for frozen_from, _name, event, frozen_until in found
    ]


def arena_release_freeze(events: Any, model: Any, now: Any = None, window_minutes: Any = None) -> list[dict[str, str]]:
    """Filter: the calendar events that freeze releases at ``now``.

    Args:
        events: the raw calendar (``arena_events``: a list of event mappings, or None for none),
            validated as ``arena_events`` validates it.
        model: the capacity model (``arena_capacity_model``): its lead time and ``tail_minutes``.
        now: the moment to check: None or '' for the clock, else an aware datetime or ISO 8601 text
            with a UTC offset or ``Z`` (``2027-01-12T19:25:00Z``, ``2027-01-12T20:25:00+01:00``).
        window_minutes: required; how many minutes before an event's scale-out (start - lead
            time) releases freeze already: a non-negative integer.

    Returns:
        One ``{name, start, end, frozen_from, frozen_until}`` per freezing event (UTC text,
        ``frozen_until`` excluded from the freeze), sorted by ``frozen_from`` then name; ``past:
        true`` events are skipped. Empty: releases may run.

    Raises:
        AnsibleFilterError: a bad ``window_minutes`` or ``now`` (named), a calendar or model that
        ``arena_events`` / ``arena_capacity`` refuse, or a ``past: true`` mark on an event that is
        not over at ``now``.
    """
    window = parse_window(window_minutes)
    moment = parse_now(now)
    parsed_model = capacity_lib.parse_model(model, FNAME)
    parsed_events = calendar_lib.validate_events(events, FNAME)
    check_marks(parsed_events, parsed_model, moment)
    return freezing_events(parsed_events, parsed_model, moment, window)


class FilterModule:
    """Release freeze filter."""

    def filters(self) -> dict[str, Any]:
        return {"arena_release_freeze": arena_release_freeze}
