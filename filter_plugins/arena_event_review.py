"""Event review filters: what a finished event drew against its forecast, the history of those reviews,
and the forecasts of the next events of the same kind adjusted by it (issue 19, docs/live-events.md).

A review record (``arena_event_history`` in inventories/<env>/group_vars/all/event_history.yml, per
event kind a list, written by playbooks/event_review.yml)::

    event: Arena Basket vs Real Madrid
    start: "2027-01-12T19:45:00Z"       # UTC kick-off: with the name, the event's identity
    forecast_viewers: 38000             # the calendar's peak_viewers
    observed_viewers: 45600             # max over tiers of peak requests per minute / requests per viewer
    ratio: 1.2                          # observed / forecast (null for a zero forecast)
    reviewed_at: "2027-01-13T09:00:00Z"
    period_seconds: 60                  # optional: the metrics' period
    tiers: {web: {...}, api: {...}}     # optional: per tier peak requests per minute, viewers, ratio

The learning rule (``arena_forecast_adjust``), per event kind, over the last ``REVIEWS`` (5) reviews
with a ratio, by start:

- no review: the forecast as it is;
- the highest ratio >= 1: the forecast times that ratio, at most ``MAX_FACTOR`` (2): an audience above
  forecast once in the last five is planned for again, and one broken review (a load test, bots)
  cannot plan more than twice the forecast;
- every ratio < 1: the forecast times the highest of them only when at least ``AGREE`` (3) reviews say
  so, never below ``MIN_FACTOR`` (0.7, the production headroom: at 0.7 the planned capacity still
  carries the original forecast at 100 % utilisation); with fewer, the forecast as it is.

An upward adjustment is held to the largest audience every tier's ``max_size`` carries (never below
the forecast): learning never turns a plan that fits into a refused one; the report says so.

Filters:
    ``arena_event_review_window(events, model, name[, start, now])``: the event to review and its window.
    ``arena_event_review(metrics, window, model)``: the review record (without ``reviewed_at``).
    ``arena_event_history_record(history, kind, record, reviewed_at[, keep])``: the history with it.
    ``arena_forecast_adjust(events, history, model)``: the calendar with adjusted ``peak_viewers``.
    ``arena_forecast_adjustments(events, history, model)``: what was adjusted and why (for the plan).
"""

from __future__ import annotations

import copy
import math
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

REVIEWS = 5
AGREE = 3
MAX_FACTOR = 2.0
MIN_FACTOR = 0.7
RECORD_KEYS = ("event", "start", "forecast_viewers", "observed_viewers", "ratio", "reviewed_at")
RECORD_OPTIONAL = ("period_seconds", "tiers")


def _utc(value: Any, where: str, fname: str) -> datetime:
    try:
        return datetime.strptime(str(value), calendar_lib.UTC_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise AnsibleFilterError(f"{fname}: {where} must be UTC like 2027-01-12T19:45:00Z, got {value!r}") from None


# ---- the event and its window -------------------------------------------------------------------


def arena_event_review_window(events: Any, model: Any, name: Any, start: Any = "", now: Any = "") -> dict[str, Any]:
    """Filter: the calendar event `name` (the entry starting `start`, local or UTC, when the name
    repeats), refused unless it is over at `now` (end + tail), with its review window: kick-off minus
    the lead time (the plan's ramp; cut at the end of an event that ended inside it) to the end."""
    fname = "arena_event_review_window"
    calendar = calendar_lib.validate_events(events, "arena_events")
    parsed = capacity_lib.parse_model(model, "arena_capacity")
    wanted = str(name or "").strip()
    if not wanted:
        raise AnsibleFilterError(f"{fname}: the event name is empty")
    matches = [e for e in calendar if e.name == wanted]
    if not matches:
        known = sorted({e.name for e in calendar})
        raise AnsibleFilterError(f"{fname}: no event {wanted!r} in the calendar (its events: {known})")
    starts = [f"{e.local_start} {e.timezone}" for e in matches]
    if start:
        wanted_start = str(start).strip()
        matches = [e for e in matches if wanted_start in (e.local_start, calendar_lib.utc_text(e.start))]
        if not matches:
            raise AnsibleFilterError(
                f"{fname}: event {wanted!r} has no entry starting {start!r} (its entries: {starts})"
            )
    if len(matches) > 1:
        raise AnsibleFilterError(
            f"{fname}: event {wanted!r} is in the calendar {len(matches)} times ({starts}): name the one to review"
            " by its start"
        )
    event = matches[0]
    moment = _utc(now, "now", fname) if now else datetime.now(UTC).replace(microsecond=0)
    over_at = event.end + timedelta(seconds=parsed.tail_seconds)
    if moment < over_at:
        raise AnsibleFilterError(
            f"{fname}: event {wanted!r} ({schedule_lib.event_when(event)}) is not over at"
            f" {calendar_lib.utc_text(moment)}: it is over at {calendar_lib.utc_text(over_at)}"
            f" (end + {parsed.tail_seconds // 60} min tail); review it after that"
        )
    window_start = event.start - timedelta(seconds=parsed.lead_time_seconds)
    # An event that ended inside the ramp (the first game of a double-header) is not this one's audience.
    earlier_ends = [e.end for e in calendar if e is not event and window_start < e.end <= event.start]
    window_start = max([window_start, *earlier_ends])
    return {
        **calendar_lib.event_dict(event),
        "window_start": calendar_lib.utc_text(schedule_lib.floor_minute(window_start)),
        "window_end": calendar_lib.utc_text(schedule_lib.ceil_minute(event.end)),
        "over_at": calendar_lib.utc_text(over_at),
    }


# ---- the review ---------------------------------------------------------------------------------


def _ceil(value: float) -> int:
    # round() strips float noise so that an exact figure does not become one more.
    return math.ceil(round(value, 6))


def arena_event_review(metrics: Any, window: Any, model: Any) -> dict[str, Any]:
    """Filter: the review record of the event in `window` from `metrics` (arena_event_metrics' result).

    Per tier of the model: peak requests per minute (RequestCount Sum of the busiest period, per
    minute), viewers = that / requests_per_viewer_per_minute, ratio = viewers / forecast. The event's
    observed viewers and ratio are the maximum over the tiers: one peak_viewers sizes every tier, so
    the tier that drew the most is the one the next plan must carry."""
    fname = "arena_event_review"
    parsed = capacity_lib.parse_model(model, "arena_capacity")
    if not isinstance(metrics, dict) or not isinstance(metrics.get("tiers"), dict):
        raise AnsibleFilterError(f"{fname}: metrics must be arena_event_metrics' result, got {metrics!r}")
    if not isinstance(window, dict) or "name" not in window:
        raise AnsibleFilterError(f"{fname}: window must be arena_event_review_window's result, got {window!r}")
    name, forecast = window["name"], int(window["peak_viewers"])
    period = int(metrics.get("period") or 60)
    span = f"{metrics.get('start_time', window['window_start'])}..{metrics.get('end_time', window['window_end'])}"
    tiers: dict[str, dict[str, Any]] = {}
    for tier in parsed.tiers:
        read = metrics["tiers"].get(tier.name)
        if not isinstance(read, dict):
            raise AnsibleFilterError(
                f"{fname}: event {name!r}: no metrics were read for tier {tier.name} (read: {sorted(metrics['tiers'])})"
            )
        values = [float(p["value"]) for p in read.get("request_count") or []]
        if not values:
            raise AnsibleFilterError(
                f"{fname}: event {name!r}: no RequestCount datapoints for tier {tier.name} (TargetGroup"
                f" {read.get('target_group')}) in {span}: nothing to compare with the forecast. Was the platform"
                " serving the event in that window (the right entry, the right environment)?"
            )
        connections = [float(p["value"]) for p in read.get("active_connection_count") or []]
        peak_rpm = max(values) * 60 / period
        viewers = _ceil(peak_rpm / tier.requests_per_viewer_per_minute)
        tiers[tier.name] = {
            "peak_requests_per_minute": round(peak_rpm, 1),
            "viewers": viewers,
            "ratio": round(viewers / forecast, 3) if forecast else None,
            "peak_active_connections": round(max(connections), 1) if connections else None,
        }
    observed = max(t["viewers"] for t in tiers.values())
    return {
        "event": name,
        "start": window["start_utc"],
        "forecast_viewers": forecast,
        "observed_viewers": observed,
        "ratio": round(observed / forecast, 3) if forecast else None,
        "period_seconds": period,
        "tiers": tiers,
    }


# ---- the history --------------------------------------------------------------------------------


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def validate_history(raw: Any, fname: str) -> dict[str, list[dict[str, Any]]]:
    """arena_event_history checked: per kind a list of records (module docstring); sorted by start."""
    if raw is None or raw == {}:
        return {}
    if not isinstance(raw, dict):
        raise AnsibleFilterError(
            f"{fname}: arena_event_history must be a mapping of event kind to records, got {raw!r}"
        )
    out: dict[str, list[dict[str, Any]]] = {}
    for kind, records in raw.items():
        if not isinstance(kind, str) or not kind.strip() or not isinstance(records, list):
            raise AnsibleFilterError(f"{fname}: arena_event_history.{kind} must be a list of review records")
        for index, record in enumerate(records):
            where = f"arena_event_history.{kind}[{index}]"
            if not isinstance(record, dict):
                raise AnsibleFilterError(f"{fname}: {where} must be a mapping, got {record!r}")
            missing = [key for key in RECORD_KEYS if key not in record]
            unknown = sorted(str(key) for key in record if key not in RECORD_KEYS + RECORD_OPTIONAL)
            if missing or unknown:
                raise AnsibleFilterError(f"{fname}: {where} is missing {missing} / has unknown keys {unknown}")
            _utc(record["start"], f"{where}.start", fname)
            _utc(record["reviewed_at"], f"{where}.reviewed_at", fname)
            for key in ("forecast_viewers", "observed_viewers"):
                if not _number(record[key]) or not isinstance(record[key], int):
                    raise AnsibleFilterError(
                        f"{fname}: {where}.{key} must be a non-negative integer, got {record[key]!r}"
                    )
            if record["ratio"] is not None and not _number(record["ratio"]):
                raise AnsibleFilterError(
                    f"{fname}: {where}.ratio must be a number >= 0 or null, got {record['ratio']!r}"
                )
        out[kind] = sorted(records, key=lambda r: (r["start"], r["event"]))
    return out


def arena_event_history_record(
    history: Any, kind: Any, record: Any, reviewed_at: Any, keep: Any = 20
) -> dict[str, list[dict[str, Any]]]:
    """Filter: the history with `record` (arena_event_review's) under `kind`, reviewed at `reviewed_at`.

    The event's earlier record (same name and start, under any kind) is replaced; when the review
    found the same figures, the earlier record stays as it was (its reviewed_at too), so a re-run writes
    nothing. Per kind the last `keep` records by start are kept."""
    fname = "arena_event_history_record"
    current = validate_history(history, fname)
    if not isinstance(record, dict) or not {"event", "start"} <= set(record):
        raise AnsibleFilterError(f"{fname}: record must be arena_event_review's result, got {record!r}")
    if not isinstance(kind, str) or not kind.strip():
        raise AnsibleFilterError(f"{fname}: kind must be the event's kind, got {kind!r}")
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < REVIEWS:
        raise AnsibleFilterError(
            f"{fname}: keep must be an integer >= {REVIEWS} (the reviews the rule reads), got {keep!r}"
        )
    new = {**copy.deepcopy(record), "reviewed_at": calendar_lib.utc_text(_utc(reviewed_at, "reviewed_at", fname))}
    same = (record["event"], record["start"])
    earlier = [r for rs in current.values() for r in rs if (r["event"], r["start"]) == same]
    if (
        earlier
        and {k: v for k, v in earlier[0].items() if k != "reviewed_at"}
        == {k: v for k, v in new.items() if k != "reviewed_at"}
        and earlier[0] in current.get(kind, [])
    ):
        return current
    out = {k: [r for r in rs if (r["event"], r["start"]) != same] for k, rs in current.items()}
    out[kind] = sorted([*out.get(kind, []), new], key=lambda r: (r["start"], r["event"]))[-keep:]
    return {k: rs for k, rs in sorted(out.items()) if rs}


# ---- learning -----------------------------------------------------------------------------------


def factor(records: list[dict[str, Any]], kind: str = "") -> tuple[float, int, str]:
    """(factor, reviews read, why) of one kind's records (sorted by start) under the module docstring's rule."""
    ratios = [float(r["ratio"]) for r in records if r["ratio"] is not None][-REVIEWS:]
    last = f"the last {len(ratios)} {kind} review(s)".replace("  ", " ")
    if not ratios:
        return 1.0, 0, "x1: no review with a ratio"
    highest = max(ratios)
    if highest >= 1:
        bound = f", bounded to x{MAX_FACTOR:g}" if highest > MAX_FACTOR else ""
        return min(highest, MAX_FACTOR), len(ratios), f"x{min(highest, MAX_FACTOR):g}: highest ratio of {last}{bound}"
    if len(ratios) >= AGREE:
        bound = f", bounded to x{MIN_FACTOR:g}" if highest < MIN_FACTOR else ""
        multiple = max(highest, MIN_FACTOR)
        return multiple, len(ratios), f"x{multiple:g}: {last} all below the forecast, the highest of them{bound}"
    return 1.0, len(ratios), f"x1: {last} below the forecast; lowering it needs {AGREE}"


def _carried(parsed: Any) -> int:
    """The largest audience every tier carries within its max_size."""
    most = []
    for tier in parsed.tiers:
        viewers = math.floor(
            round(tier.max_size * tier.planned_rpm_per_instance / tier.requests_per_viewer_per_minute, 6)
        )
        while viewers > 0 and capacity_lib.instances_needed(viewers, tier) > tier.max_size:
            viewers -= 1
        most.append(viewers)
    return min(most)


def adjustments(events: Any, history: Any, model: Any, fname: str) -> list[dict[str, Any]]:
    """Per calendar entry (in calendar order) of a kind with reviews and not marked past: the adjustment.

    A calendar or model the plan would refuse is left to the plan (no adjustment, no message here)."""
    reviewed = validate_history(history, fname)
    try:
        calendar_lib.validate_events(events, fname)
        parsed = capacity_lib.parse_model(model, fname)
    except AnsibleFilterError:
        return []
    carried = _carried(parsed)
    rows = []
    for index, raw in enumerate(events or []):
        kind = raw["kind"].strip()
        if raw.get("past") is True or not reviewed.get(kind):
            continue
        multiple, count, rule = factor(reviewed[kind], kind)
        forecast = int(raw["peak_viewers"])
        adjusted = _ceil(forecast * multiple)
        capped = multiple > 1 and adjusted > max(carried, forecast)
        if capped:
            adjusted = max(carried, forecast)
        note = f"event '{raw['name'].strip()}' ({kind}): peak_viewers {forecast} planned as {adjusted} ({rule})"
        if capped:
            note += f"; held to {adjusted}, the most every tier's max_size carries: raise max_size to plan more"
        rows.append(
            {
                "index": index,
                "event": raw["name"].strip(),
                "kind": kind,
                "forecast_viewers": forecast,
                "planned_viewers": adjusted,
                "factor": round(multiple, 3),
                "reviews": count,
                "capped": capped,
                "note": note,
            }
        )
    return rows


def arena_forecast_adjust(events: Any, history: Any, model: Any) -> Any:
    """Filter: the calendar as it is, but each upcoming event's peak_viewers adjusted by the reviews of
    its kind (module docstring). The calendar schema admits no other key, so the original forecast is
    kept in the calendar file and shown by arena_forecast_adjustments."""
    rows = adjustments(events, history, model, "arena_forecast_adjust")
    if not rows:
        return events
    out = copy.deepcopy(events)
    for row in rows:
        out[row["index"]]["peak_viewers"] = row["planned_viewers"]
    return out


def arena_forecast_adjustments(events: Any, history: Any, model: Any) -> list[dict[str, Any]]:
    """Filter: one row per adjusted calendar entry (event, kind, forecast_viewers, planned_viewers,
    factor, reviews, capped, note)."""
    return [
        {k: v for k, v in row.items() if k != "index"}
        for row in adjustments(events, history, model, "arena_forecast_adjust")
    ]


class FilterModule:
    """Event review filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "arena_event_review_window": arena_event_review_window,
            "arena_event_review": arena_event_review,
            "arena_event_history_record": arena_event_history_record,
            "arena_forecast_adjust": arena_forecast_adjust,
            "arena_forecast_adjustments": arena_forecast_adjustments,
        }
