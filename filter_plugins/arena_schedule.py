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

Planned as of ``now`` (UTC text like 2027-01-12T19:25:00Z; the role always passes it), an event is
    upcoming  now < start - lead time: its actions are scheduled as above;
    late      start - lead time <= now < start: its scale-out time has passed;
    running   start <= now < end + tail: started, or ended and still in its tail;
    past      end + tail <= now: nothing of its window is left.
Only actions after ``now`` are returned (AWS refuses a scheduled action in the past, and one that
has run is AWS's), and for every tier whose floor at ``now`` is above its baseline (a late or running
event) an ``immediate`` action comes first: ``start_time`` = now, ``min_size`` = that floor,
``desired_capacity: null``. It is applied at once by raising the group's MinSize
(UpdateAutoScalingGroup, which raises a lower desired capacity to it and never lowers one), not by a
scheduled action: "If you try to schedule your action in the past, Amazon EC2 Auto Scaling returns
an error message" (DOC_PUT_SCHEDULED), and one a minute ahead would depend on the controller's clock.
The return to the baseline stays at end + tail. An unmarked past event is refused (a mistyped year
would otherwise be dropped silently), as is a ``past: true`` event that is not over; marked past
events are skipped. The ``end + tail`` bound, not ``end``: until then the event still holds its floor
and its return to the baseline is still to come, so an event that ended minutes ago is planned, not
refused (and never dropped with its scale-in).

Filters:
    ``arena_scaling_schedule(events, model, name_prefix='arena-event', now=None)``
    ``arena_event_timing(events, model, now)``: the late, running and skipped (marked past) events,
    each with a message for the play's warning.
    ``arena_scaling_plan_table(plan, calendar)``: the plan as text lines, local and UTC times.
"""

from __future__ import annotations

import runpy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

# The other filter files, by the repository's one plugin loader (Ansible puts neither directory on sys.path).
_PLUGIN_LOADER = Path(__file__).resolve().parent.parent / "module_utils" / "arena_plugin_loader.py"
load_sibling = runpy.run_path(str(_PLUGIN_LOADER))["load_filter_file"]

calendar_lib = load_sibling("arena_calendar")
capacity_lib = load_sibling("arena_capacity")
FNAME = "arena_scaling_schedule"
DOC_PUT_SCHEDULED = "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutScheduledUpdateGroupAction.html"
DOC_UPDATE_GROUP = "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_UpdateAutoScalingGroup.html"
UPCOMING, LATE, RUNNING, PAST = "upcoming", "late", "running", "past"


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
    immediate: bool = False

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


def build_schedule(events: list[Any], model: Any, now: datetime | None = None) -> list[Action]:
    """All tiers' actions, sorted by (time, tier); marked past events are left out.

    With ``now``: the immediate floor of every tier whose floor at ``now`` is above its baseline,
    then the actions after ``now`` only."""
    planned = [event for event in events if not event.past]
    actions = []
    for tier in model.tiers:
        windows = windows_for(planned, tier, model)
        actions.extend(tier_actions(windows, tier))
        if now is not None:
            active = [w for w in windows if w.start <= now < w.end]
            level = max([tier.min_size, *(w.size for w in active)])
            if level > tier.min_size:
                names = tuple(sorted({w.event for w in active if w.size == level}))
                actions.append(Action(tier.name, now, level, tier.max_size, names, immediate=True))
    if now is not None:
        actions = [a for a in actions if a.immediate or a.start > now]
    return sorted(actions, key=lambda a: (a.start, not a.immediate, a.tier))


def action_dict(action: Action, prefix: str) -> dict[str, Any]:
    stamp = "now" if action.immediate else action.start.astimezone(UTC).strftime("%Y%m%dT%H%MZ")
    kind = "immediate" if action.immediate else "baseline" if action.returns_to_baseline else "event"
    return {
        "name": f"{prefix}-{action.tier}-{stamp}",
        "tier": action.tier,
        "start_time": calendar_lib.utc_text(action.start),
        "min_size": action.size,
        "desired_capacity": action.desired_capacity,
        "max_size": action.max_size,
        "events": list(action.events),
        "kind": kind,
    }


def parse_now(value: Any, fname: str) -> datetime | None:
    """``now`` as an aware UTC datetime; None or empty text: not planned as of a moment."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.endswith("Z"):
        try:
            return datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)
        except ValueError:
            pass
    raise AnsibleFilterError(f"{fname}: now must be UTC like 2027-01-12T19:25:00Z, got {value!r}")


def status(event: Any, model: Any, now: datetime) -> str:
    """Where ``now`` falls in the event's window (module docstring)."""
    if ceil_minute(event.end + timedelta(seconds=model.tail_seconds)) <= now:
        return PAST
    if event.start <= now:
        return RUNNING
    if floor_minute(event.start - timedelta(seconds=model.lead_time_seconds)) <= now:
        return LATE
    return UPCOMING


def event_when(event: Any) -> str:
    """'<local start> <zone>, <UTC start>..<UTC end>': how messages name an event's time."""
    return (
        f"{event.local_start} {event.timezone}, {calendar_lib.utc_text(event.start)}.."
        f"{calendar_lib.utc_text(event.end)}"
    )


def check_past(events: list[Any], model: Any, now: datetime | None, fname: str) -> None:
    """Refuse an unmarked event that is over and a marked one that is not (only as of ``now``)."""
    if now is None:
        return
    tail = model.tail_seconds // 60
    for event in events:
        over = status(event, model, now) == PAST
        if over and not event.past:
            raise AnsibleFilterError(
                f"{fname}: event '{event.name}' ({event_when(event)}) is over: it ended before now "
                f"{calendar_lib.utc_text(now)} (end + {tail} min tail). A mistyped date? Fix it, or mark the "
                f"event past: true to keep it in the calendar (it is then skipped)."
            )
        if event.past and not over:
            raise AnsibleFilterError(
                f"{fname}: event '{event.name}' ({event_when(event)}) is marked past: true but is not over at "
                f"{calendar_lib.utc_text(now)} (end + {tail} min tail): remove the mark, or it would be dropped."
            )


def arena_scaling_schedule(
    events: Any, model: Any, name_prefix: str = "arena-event", now: Any = None
) -> list[dict[str, Any]]:
    """Filter: ordered one-off scheduled actions (UTC) for the calendar under the capacity model;
    as of ``now`` (UTC text) with the immediate floors of late and running events first."""
    if not isinstance(name_prefix, str) or not name_prefix.strip():
        raise AnsibleFilterError(f"{FNAME}: name_prefix must be a non-empty string, got {name_prefix!r}")
    moment = parse_now(now, FNAME)
    parsed_model = capacity_lib.parse_model(model, FNAME)
    parsed_events = calendar_lib.validate_events(events, FNAME)
    check_past(parsed_events, parsed_model, moment, FNAME)
    return [action_dict(action, name_prefix) for action in build_schedule(parsed_events, parsed_model, moment)]


def _floors(event: Any, model: Any) -> str:
    needs = [
        f"{tier.name} {need}"
        for tier in model.tiers
        for need in [capacity_lib.instances_needed(event.peak_viewers, tier)]
        if need > tier.min_size
    ]
    return ", ".join(needs) if needs else "none above the baselines"


def timing_note(event: Any, model: Any, now: datetime, state: str) -> str:
    """What the play says about a late, running or skipped event."""
    hold = calendar_lib.utc_text(ceil_minute(event.end + timedelta(seconds=model.tail_seconds)))
    floors = _floors(event, model)
    if state == PAST:
        return f"event '{event.name}' ({event_when(event)}) is marked past: true and over: skipped."
    if state == LATE:
        scale_out = floor_minute(event.start - timedelta(seconds=model.lead_time_seconds))
        ready = now + timedelta(seconds=model.ready_seconds)
        late = "after" if ready > event.start else "before"
        return (
            f"event '{event.name}' ({event_when(event)}) is inside its lead time: its scale-out was due at "
            f"{calendar_lib.utc_text(scale_out)}, now is {calendar_lib.utc_text(now)}. Its floor ({floors}) is "
            f"raised now (UpdateAutoScalingGroup MinSize) instead of by a scheduled action; instances launched now "
            f"serve from about {calendar_lib.utc_text(ready)}, {late} kick-off. Back to the baseline at {hold}."
        )
    running = "is running" if now < event.end else "has ended and is in its tail"
    return (
        f"event '{event.name}' ({event_when(event)}) {running} at {calendar_lib.utc_text(now)}: its floor ({floors}) "
        f"is raised now (UpdateAutoScalingGroup MinSize) and held until {hold} (end + tail), then back to the "
        f"baseline."
    )


def arena_event_timing(events: Any, model: Any, now: Any) -> list[dict[str, Any]]:
    """Filter: the events that are late, running or skipped as past at ``now``, in calendar order,
    each {name, status, start_utc, end_utc, note}. Refuses what arena_scaling_schedule refuses."""
    fname = "arena_event_timing"
    moment = parse_now(now, fname)
    if moment is None:
        raise AnsibleFilterError(f"{fname}: now is required (UTC like 2027-01-12T19:25:00Z)")
    parsed_model = capacity_lib.parse_model(model, fname)
    parsed_events = calendar_lib.validate_events(events, fname)
    check_past(parsed_events, parsed_model, moment, fname)
    found = []
    for event in parsed_events:
        state = status(event, parsed_model, moment)
        if state != UPCOMING:
            found.append(
                {
                    "name": event.name,
                    "status": state,
                    "start_utc": calendar_lib.utc_text(event.start),
                    "end_utc": calendar_lib.utc_text(event.end),
                    "note": timing_note(event, parsed_model, moment, state),
                }
            )
    return found


def _zone_of(action: dict[str, Any], calendar: list[dict[str, Any]]) -> str:
    """The zone to show an action in: its events' zone; for a return to the baseline, the zone of the
    event that ended last before it; UTC without either."""
    named = [e for e in calendar if e["name"] in action["events"]]
    if named:
        return str(named[0]["timezone"])
    ended = [e for e in calendar if e["end_utc"] <= action["start_time"]]
    return str(max(ended, key=lambda e: e["end_utc"])["timezone"]) if ended else "UTC"


def arena_scaling_plan_table(plan: Any, calendar: Any) -> list[str]:
    """Filter: one line per action of ``plan`` (arena_scaling_schedule output): tier, local time and
    zone, UTC, min/max/desired, kind and events. ``calendar`` is the arena_events output."""
    fname = "arena_scaling_plan_table"
    if not isinstance(plan, list) or not isinstance(calendar, list):
        raise AnsibleFilterError(f"{fname}: expects the plan and the calendar (lists), got {plan!r}, {calendar!r}")
    lines = [f"{'tier':<6} {'local time':<40} {'UTC':<20} {'min':>4} {'max':>4} {'desired':>7}  kind       events"]
    for action in plan:
        zone = _zone_of(action, calendar)
        moment = datetime.fromisoformat(action["start_time"].replace("Z", "+00:00"))
        local = moment.astimezone(calendar_lib.ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")
        desired = "-" if action["desired_capacity"] is None else str(action["desired_capacity"])
        when = f"{local} ({zone})"
        lines.append(
            f"{action['tier']:<6} {when:<40} {action['start_time']:<20} {action['min_size']:>4} "
            f"{action['max_size']:>4} {desired:>7}  {action['kind']:<10} {', '.join(action['events']) or '-'}"
        )
    return lines


class FilterModule:
    """Scaling schedule filter."""

    def filters(self) -> dict[str, Any]:
        return {
            "arena_scaling_schedule": arena_scaling_schedule,
            "arena_event_timing": arena_event_timing,
            "arena_scaling_plan_table": arena_scaling_plan_table,
        }
