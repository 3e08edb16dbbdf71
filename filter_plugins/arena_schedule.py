"""Scaling schedule filter: event calendar + capacity model -> one-off scheduled actions (UTC).

For every tier and event the plan holds ``instances(peak_viewers)`` from ``start - lead time``
(rounded down to the minute) to ``end + tail`` (rounded up to the minute). Where windows of several
events overlap, the larger capacity wins (maximum, not sum: one arena hosts one event at a time, so
overlaps are the lead/tail windows of back-to-back events). Between windows the tier sits at its
baseline ``min_size``. The result is the list of changes of that step function, sorted by time then
tier: no two actions share a (time, tier), consecutive actions of a tier differ in size, and the
last action of every tier returns it to the baseline.

Each action sets ``min_size`` to the planned floor and ``max_size`` to the tier maximum: target
tracking still scales above the floor during an event. ``desired_capacity`` is set (to the floor)
only by the action that returns a tier to its baseline, after ``end + tail`` of every event of the
window: that is the planned, fast scale-in. Every other action (a step up, or a step down to a level
an event still holds) has ``desired_capacity: null`` and sets MinSize/MaxSize only: EC2 Auto Scaling
raises a desired capacity below the new MinSize to it and leaves a higher one (target tracking's,
for an audience above forecast) alone, so such an action never lowers capacity mid-event
(docs/live-events.md, "Scheduled floor and target tracking together").

An event whose need exceeds a tier's ``max_size`` is an error (the plan would not cover it), not a
silent clamp.

Filters:
    ``arena_scaling_schedule(events, model, name_prefix='arena-event')``
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from ansible.errors import AnsibleFilterError


def load_sibling(stem: str) -> ModuleType:
    """Import another file of this filter_plugins directory (Ansible does not put it on sys.path)."""
    name = f"_arena_filters_{stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{stem}.py"))
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load filter_plugins/{stem}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


calendar_lib = load_sibling("arena_calendar")
capacity_lib = load_sibling("arena_capacity")
FNAME = "arena_scaling_schedule"


@dataclass(frozen=True)
class Window:
    """A tier must hold ``size`` instances during [start, end)."""

    start: datetime
    end: datetime
    size: int
    event: str


@dataclass(frozen=True)
class Action:
    """One scheduled change of a tier's floor."""

    tier: str
    start: datetime
    size: int
    max_size: int
    events: tuple[str, ...]

    @property
    def returns_to_baseline(self) -> bool:
        """No event holds the new level: every window has ended (a level above the baseline always
        names the events that hold it, see tier_actions)."""
        return not self.events

    @property
    def desired_capacity(self) -> int | None:
        """DesiredCapacity the action sets: the baseline on the return to it, otherwise none (the
        group keeps max(its desired capacity, the new MinSize))."""
        return self.size if self.returns_to_baseline else None


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def ceil_minute(moment: datetime) -> datetime:
    down = floor_minute(moment)
    return down if down == moment else down + timedelta(minutes=1)


def windows_for(events: list[Any], tier: Any, model: Any) -> list[Window]:
    """Hold windows of one tier; raises when an event needs more than the tier's max_size."""
    lead = timedelta(seconds=model.lead_time_seconds)
    tail = timedelta(seconds=model.tail_seconds)
    windows = []
    for event in events:
        need = capacity_lib.instances_needed(event.peak_viewers, tier)
        if need > tier.max_size:
            raise AnsibleFilterError(
                f"{FNAME}: event '{event.name}' needs {need} {tier.name} instances "
                f"for {event.peak_viewers} viewers, above max_size {tier.max_size}"
            )
        if need > tier.min_size:
            windows.append(Window(floor_minute(event.start - lead), ceil_minute(event.end + tail), need, event.name))
    return windows


def tier_actions(windows: list[Window], tier: Any) -> list[Action]:
    """Changes of max(baseline, sizes of active windows) over time."""
    breakpoints = sorted({w.start for w in windows} | {w.end for w in windows})
    actions: list[Action] = []
    level = tier.min_size
    for moment in breakpoints:
        active = [w for w in windows if w.start <= moment < w.end]
        new_level = max([tier.min_size, *(w.size for w in active)])
        if new_level != level:
            names = tuple(sorted({w.event for w in active if w.size == new_level}))
            actions.append(Action(tier.name, moment, new_level, tier.max_size, names))
            level = new_level
    return actions


def build_schedule(events: list[Any], model: Any) -> list[Action]:
    """All tiers' actions, sorted by (time, tier)."""
    actions = [a for tier in model.tiers for a in tier_actions(windows_for(events, tier, model), tier)]
    return sorted(actions, key=lambda a: (a.start, a.tier))


def action_dict(action: Action, prefix: str) -> dict[str, Any]:
    stamp = action.start.astimezone(UTC).strftime("%Y%m%dT%H%MZ")
    return {
        "name": f"{prefix}-{action.tier}-{stamp}",
        "tier": action.tier,
        "start_time": calendar_lib.utc_text(action.start),
        "min_size": action.size,
        "desired_capacity": action.desired_capacity,
        "max_size": action.max_size,
        "events": list(action.events),
        "kind": "baseline" if action.returns_to_baseline else "event",
    }


def arena_scaling_schedule(events: Any, model: Any, name_prefix: str = "arena-event") -> list[dict[str, Any]]:
    """Filter: ordered one-off scheduled actions (UTC) for the calendar under the capacity model."""
    if not isinstance(name_prefix, str) or not name_prefix.strip():
        raise AnsibleFilterError(f"{FNAME}: name_prefix must be a non-empty string, got {name_prefix!r}")
    parsed_model = capacity_lib.parse_model(model, FNAME)
    parsed_events = calendar_lib.validate_events(events, FNAME)
    return [action_dict(action, name_prefix) for action in build_schedule(parsed_events, parsed_model)]


class FilterModule:
    """Scaling schedule filter."""

    def filters(self) -> dict[str, Any]:
        return {"arena_scaling_schedule": arena_scaling_schedule}
