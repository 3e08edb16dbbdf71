"""Event calendar filters: validate and normalise ``arena_events`` (events.yml).

An event is a mapping::

    name: "Arena Basket vs Valencia"   # unique per time slot
    kind: basketball                   # free text: basketball, concert, ...
    start: "2027-03-28T12:30"          # local wall-clock time, no UTC offset
    timezone: Europe/Madrid            # IANA zone the start (and end) are written in
    duration_minutes: 120              # either duration_minutes ...
    end: "2027-03-28T14:30"            # ... or end (local time, same zone), not both
    peak_viewers: 42000                # expected peak concurrent viewers, >= 0
    past: true                         # optional: the event is over and kept for the record (skipped)

``past: true`` marks an event the calendar keeps after it is over. The schedule skips a marked event;
planned "as of now" (``arena_scaling_schedule(..., now=...)``) it refuses an unmarked event whose
window is over (a mistyped year) and a marked one that is not over (a mark that would drop it).

Local times are converted with ``zoneinfo``: a start inside the spring-forward gap does not exist
and one inside the repeated autumn hour is ambiguous; both are rejected rather than guessed.
``duration_minutes`` is elapsed time, so an event that spans a DST change keeps its real length.

Filters:
    ``arena_events``: the validated calendar, sorted by start, as mappings with UTC times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ansible.errors import AnsibleFilterError

REQUIRED_KEYS = ("name", "kind", "start", "timezone", "peak_viewers")
OPTIONAL_KEYS = ("duration_minutes", "end", "past")
UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class Event:
    """One validated calendar entry; ``start``/``end`` are aware UTC datetimes."""

    name: str
    kind: str
    timezone: str
    local_start: str
    start: datetime
    end: datetime
    peak_viewers: int
    past: bool = False

    @property
    def duration_minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


def utc_text(moment: datetime) -> str:
    """ISO 8601 UTC text with a ``Z`` suffix, seconds precision."""
    return moment.astimezone(UTC).strftime(UTC_FORMAT)


def _label(raw: dict[str, Any], index: int) -> str:
    name = raw.get("name")
    return f"event '{name}'" if isinstance(name, str) and name.strip() else f"event #{index + 1}"


def _zone(value: Any, label: str, fname: str) -> ZoneInfo:
    if not isinstance(value, str) or not value.strip():
        raise AnsibleFilterError(f"{fname}: {label}: timezone must be an IANA zone name, got {value!r}")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise AnsibleFilterError(f"{fname}: {label}: unknown time zone {value!r}") from None


def _naive_local(value: Any, key: str, label: str, fname: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise AnsibleFilterError(
                f"{fname}: {label}: {key} {value!r} is not a local time like 2027-03-28T20:45"
            ) from None
    else:
        raise AnsibleFilterError(f"{fname}: {label}: {key} {value!r} is not a local time like 2027-03-28T20:45")
    if moment.tzinfo is not None:
        raise AnsibleFilterError(
            f"{fname}: {label}: {key} {value!r} carries a UTC offset; write local time and set timezone"
        )
    return moment


def local_to_utc(moment: datetime, zone: ZoneInfo, key: str, label: str, fname: str) -> datetime:
    """Convert a naive local time to UTC; reject times that DST makes missing or ambiguous."""
    early = moment.replace(tzinfo=zone, fold=0)
    late = moment.replace(tzinfo=zone, fold=1)
    text = moment.isoformat(timespec="minutes")
    if early.utcoffset() != late.utcoffset():
        # fold only matters inside a transition: the gap (no such wall time) or the repeated hour.
        round_trip = early.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        if round_trip != moment:
            raise AnsibleFilterError(f"{fname}: {label}: {key} {text} does not exist in {zone.key} (DST change)")
        raise AnsibleFilterError(
            f"{fname}: {label}: {key} {text} is ambiguous in {zone.key} (DST change); move it out of the repeated hour"
        )
    return early.astimezone(UTC)


def _count(value: Any, key: str, label: str, fname: str, *, positive: bool) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool) and (value > 0 if positive else value >= 0)
    if not ok:
        kind = "a positive" if positive else "a non-negative"
        raise AnsibleFilterError(f"{fname}: {label}: {key} must be {kind} integer, got {value!r}")
    return int(value)


def parse_event(raw: Any, index: int, fname: str) -> Event:
    """Validate one raw calendar entry."""
    if not isinstance(raw, dict):
        raise AnsibleFilterError(f"{fname}: event #{index + 1} must be a mapping, got {raw!r}")
    label = _label(raw, index)
    missing = [key for key in REQUIRED_KEYS if key not in raw]
    if missing:
        raise AnsibleFilterError(f"{fname}: {label} is missing {', '.join(missing)}")
    unknown = sorted(str(key) for key in raw if key not in REQUIRED_KEYS + OPTIONAL_KEYS)
    if unknown:
        raise AnsibleFilterError(f"{fname}: {label} has unknown keys {unknown}")
    for key in ("name", "kind"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise AnsibleFilterError(f"{fname}: {label}: {key} must be a non-empty string, got {raw[key]!r}")
    zone = _zone(raw["timezone"], label, fname)
    local_start = _naive_local(raw["start"], "start", label, fname)
    start = local_to_utc(local_start, zone, "start", label, fname)
    has_duration, has_end = "duration_minutes" in raw, "end" in raw
    if has_duration == has_end:
        raise AnsibleFilterError(f"{fname}: {label} needs exactly one of duration_minutes or end")
    if has_duration:
        end = start + timedelta(
            minutes=_count(raw["duration_minutes"], "duration_minutes", label, fname, positive=True)
        )
    else:
        end = local_to_utc(_naive_local(raw["end"], "end", label, fname), zone, "end", label, fname)
        if end <= start:
            raise AnsibleFilterError(
                f"{fname}: {label}: end {raw['end']} is not after start {raw['start']} ({zone.key})"
            )
    viewers = _count(raw["peak_viewers"], "peak_viewers", label, fname, positive=False)
    past = raw.get("past", False)
    if not isinstance(past, bool):
        raise AnsibleFilterError(f"{fname}: {label}: past must be true or false, got {past!r}")
    return Event(
        name=raw["name"].strip(),
        kind=raw["kind"].strip(),
        timezone=zone.key,
        local_start=local_start.isoformat(timespec="minutes"),
        start=start,
        end=end,
        peak_viewers=viewers,
        past=past,
    )


def validate_events(raw: Any, fname: str = "arena_events") -> list[Event]:
    """Validate a whole calendar; sorted by (start, name). Overlapping same-name entries are duplicates."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise AnsibleFilterError(f"{fname}: events must be a list of mappings, got {raw!r}")
    events = sorted(
        (parse_event(item, index, fname) for index, item in enumerate(raw)), key=lambda e: (e.start, e.name)
    )
    by_name: dict[str, list[Event]] = {}
    for event in events:
        for other in by_name.get(event.name.casefold(), []):
            if event.start < other.end:
                raise AnsibleFilterError(
                    f"{fname}: event '{event.name}' is listed twice with overlapping times: "
                    f"{utc_text(other.start)}..{utc_text(other.end)} and {utc_text(event.start)}..{utc_text(event.end)}"
                )
        by_name.setdefault(event.name.casefold(), []).append(event)
    return events


def event_dict(event: Event) -> dict[str, Any]:
    """Plain mapping of a validated event (what the ``arena_events`` filter returns)."""
    return {
        "name": event.name,
        "kind": event.kind,
        "timezone": event.timezone,
        "local_start": event.local_start,
        "start_utc": utc_text(event.start),
        "end_utc": utc_text(event.end),
        "duration_minutes": event.duration_minutes,
        "peak_viewers": event.peak_viewers,
        "past": event.past,
    }


def arena_events(raw: Any) -> list[dict[str, Any]]:
    """Filter: validated, sorted calendar with UTC start/end (raises AnsibleFilterError on bad input)."""
    return [event_dict(event) for event in validate_events(raw, "arena_events")]


class FilterModule:
    """Event calendar filters."""

    def filters(self) -> dict[str, Any]:
        return {"arena_events": arena_events}
