"""Season replay: run a season calendar through the event-scaling plan and a simple load model.

Three ways to run each scaled tier over the season, minute by minute:
- planned:  the arena_scaling_schedule floor (one-off scheduled actions) with target tracking on top;
            an action sets MinSize; one without a desired capacity (a step-up) leaves the group at
            max(its desired capacity, the new floor), the return to the baseline sets desired = floor;
- reactive: target tracking alone on the baseline (no schedule);
- fixed:    a fleet sized for the season's peak, running the whole time.

Target tracking is modelled on the metric as AWS defines it: the web tier's ALBRequestCountPerTarget
is the requests of one minute divided by the healthy targets of that minute (statistic Sum, one-minute
periods), compared with the policy's target in requests per target per minute. The targets, the
health check grace period and the warm-up are the ones playbooks/platform.yml deploys (production's
platform_autoscaling_tiers, derived from the capacity model by filter_plugins/arena_scaling_rules.py).
An instance whose grace period ends before it is healthy is replaced by EC2 Auto Scaling, again and
again: it is billed and never serves. The platform groups' instances launch cold (AWS refuses warm
pools on groups with a mixed instances policy, which every platform group has); only the surge group
of option (a) below has a warm pool.

Surge design options (issue 19, ``surge_design`` in load_model.yml): per tier (a) an on-demand surge
group with a Stopped warm pool beside the spot group, (b) the deployed plan, (c) (b) handing each floor
to target tracking at the event's end, (d) (c) with a shorter safety margin; each replayed with the
forecast audiences, every audience twice the forecast, and every event announced 30 minutes ahead;
checked against what AWS refuses (a warm pool on a group with Spot), ranked (every goal met, then the
lowest cost within the replay's precision), with a what-if of MaxSize and the targets when the
surprise goal is missed. Quiet stretches (nothing launching, constant load) are filled in one step:
the whole report takes about 2 s.

Reports per event when the planned capacity is InService versus kick-off, the coverage at peak and
the share of requests served; per season instance-hours and an estimated cost. Writes Markdown to
stdout and into docs/live-events.md (between the season-report markers) and a PNG chart.

Run: ``make simulate-season`` (or ``python simulation/replay.py --help``).
"""

from __future__ import annotations

import argparse
import bisect
import importlib.util
import itertools
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
MARK_START = "<!-- season-report:start (written by `make simulate-season`) -->"
MARK_END = "<!-- season-report:end -->"
READY_GOAL_MINUTES = 5
MARGIN_CAP = 180


def load_filter(stem: str) -> ModuleType:
    """The repo's filter plugin, registered under the name arena_schedule uses for its siblings."""
    name = f"_arena_filters_{stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "filter_plugins" / f"{stem}.py")
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load filter_plugins/{stem}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


calendar_lib = load_filter("arena_calendar")
capacity_lib = load_filter("arena_capacity")
schedule_lib = load_filter("arena_schedule")
rules_lib = load_filter("arena_scaling_rules")
FNAME = "simulate-season"
TIERS_VARIABLE = "platform_autoscaling_tiers"


@dataclass(frozen=True)
class Scaling:
    """What the platform's groups and policies are set to.

    ``targets``: per tier, the target-tracking target in requests per target per minute; ``grace``:
    HealthCheckGracePeriod (s); ``warmup``: the policies' instance warm-up (s); ``notes``: per tier,
    how the target was obtained (for the report)."""

    targets: dict[str, float]
    grace: int
    warmup: int
    notes: dict[str, str]


def deployed_scaling(
    model_raw: Any,
    platform_raw: dict[str, Any] | None = None,
    defaults_raw: dict[str, Any] | None = None,
    *,
    web_target: float | None = None,
    grace: int | None = None,
) -> Scaling:
    """The scaling settings playbooks/platform.yml applies for this model and platform configuration.

    ``platform_raw`` is an environment's platform.yml, ``defaults_raw`` the role defaults (for the
    tiers when the environment does not set them). The requests-per-target targets and a grace period
    or warm-up set there go through the same rules as the playbook (arena_scaling_rules), so a value the
    playbook refuses is refused here too. ``web_target`` and ``grace`` are what-if overrides that bypass
    the rules (e.g. the values before issue 13: 200 and 120)."""
    platform_raw, defaults_raw = platform_raw or {}, defaults_raw or {}
    model = capacity_lib.parse_model(model_raw, FNAME)
    tiers = platform_raw.get("platform_autoscaling_tiers") or defaults_raw.get("platform_autoscaling_tiers") or {}
    targets: dict[str, float] = {}
    notes: dict[str, str] = {}
    for tier in model.tiers:
        scaling = (tiers.get(tier.name) or {}).get("scaling") or {"metric": "requests_per_target"}
        if scaling.get("metric") == "requests_per_target":
            targets[tier.name] = rules_lib.requests_target(tier.name, scaling, model, TIERS_VARIABLE, FNAME)
            how = "derived" if scaling.get("target") is None else "set"
            notes[tier.name] = f"ALBRequestCountPerTarget {targets[tier.name]:g} requests per target per minute ({how})"
        else:
            # CPU: modelled as utilisation of the request capacity at the plan's (1 - headroom).
            targets[tier.name] = rules_lib.per_minute_target(tier)
            notes[tier.name] = (
                f"CPU target {scaling.get('target')} %, modelled as {100 * (1 - tier.headroom):g} % of the request"
                f" capacity ({targets[tier.name]:g} per instance per minute)"
            )
    if web_target is not None:
        targets["web"] = float(web_target)
        notes["web"] = f"ALBRequestCountPerTarget {web_target:g} requests per target per minute (what-if)"
    configured = platform_raw.get("platform_autoscaling_health_check_grace_period")
    if grace is None:
        grace = (
            rules_lib.arena_check_grace_period(configured, model_raw) if configured is not None else model.ready_seconds
        )
    warmup = platform_raw.get("platform_autoscaling_instance_warmup")
    warmup = rules_lib.arena_check_instance_warmup(warmup, model_raw) if warmup is not None else model.ready_seconds
    return Scaling(targets=targets, grace=int(grace), warmup=int(warmup), notes=notes)


def launch_ready(ready_seconds: int, grace: int) -> int | None:
    """Minutes from launch to InService behind the load balancer, or None when the grace period ends
    first: EC2 Auto Scaling then replaces the still-unhealthy instance, and its replacement likewise
    (https://docs.aws.amazon.com/autoscaling/ec2/userguide/health-check-grace-period.html)."""
    return math.ceil(ready_seconds / 60) if grace >= ready_seconds else None


@dataclass(frozen=True)
class LoadModel:
    baseline_viewers: int
    ramp: dict[str, tuple[int, float]]
    decay_minutes: int
    metric_delay: int
    out_points: int
    in_points: int
    in_ratio: float
    padding_days: int

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> LoadModel:
        reactive = raw["reactive"]
        return cls(
            baseline_viewers=int(raw["baseline_viewers"]),
            ramp={kind: (int(v["minutes"]), float(v["shape"])) for kind, v in raw["ramp"].items()},
            decay_minutes=int(raw["decay_minutes"]),
            metric_delay=int(reactive["metric_delay_minutes"]),
            out_points=int(reactive["scale_out_datapoints"]),
            in_points=int(reactive["scale_in_datapoints"]),
            in_ratio=float(reactive["scale_in_ratio"]),
            padding_days=int(raw["padding_days"]),
        )


@dataclass
class Timeline:
    """Per-minute series of one tier under one strategy: instances InService, instances running
    (billed per instance-hour: InService, starting, initialising into a warm pool) and instances
    stopped in a warm pool (EBS only); ``groups`` has the running series of each group by name."""

    in_service: np.ndarray
    billed: np.ndarray
    stopped: np.ndarray | None = None
    groups: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def instance_hours(self) -> float:
        return float(self.billed.sum()) / 60.0

    @property
    def stopped_hours(self) -> float:
        return 0.0 if self.stopped is None else float(self.stopped.sum()) / 60.0


@dataclass
class Fleet:
    """An ASG in minutes: instances launched now are InService ``ready`` minutes later (never when
    ``ready`` is None: replaced at the end of every grace period, see launch_ready).

    With ``prepared_max`` (MaxGroupPreparedCapacity) the group has a warm pool of Stopped instances:
    AWS keeps max(``pool_min``, prepared_max - desired) instances in it, launching new ones into it
    (they run ``ready`` minutes to initialise, then stop); a scale-out takes instances from the pool
    first (InService ``warm_ready`` minutes later) and launches the rest; with ``reuse`` a scale-in
    returns instances to the pool (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html)."""

    ready: int | None
    in_service: int
    max_size: int
    floor: int
    pending: list[tuple[float, int]] = field(default_factory=list)
    warm_ready: int | None = None
    prepared_max: int | None = None
    pool_min: int = 0
    reuse: bool = True
    warm: int = 0
    warming: list[tuple[float, int]] = field(default_factory=list)

    @property
    def desired(self) -> int:
        return self.in_service + sum(count for _, count in self.pending) if self.pending else self.in_service

    @property
    def running(self) -> int:
        """Instances billed per instance-hour: InService, starting, initialising into the pool."""
        return self.desired + sum(count for _, count in self.warming) if self.warming else self.desired

    def promote(self, minute: int) -> None:
        if not self.pending and not self.warming:
            return
        arrived = sum(count for at, count in self.pending if at <= minute)
        self.pending = [(at, count) for at, count in self.pending if at > minute]
        self.in_service += arrived
        if self.warming:
            self.warm += sum(count for at, count in self.warming if at <= minute)
            self.warming = [(at, count) for at, count in self.warming if at > minute]

    def set_desired(self, wanted: int, minute: int) -> None:
        wanted = max(self.floor, min(self.max_size, wanted))
        current = self.desired
        cold_at = math.inf if self.ready is None else minute + self.ready
        if wanted > current:
            from_pool = min(wanted - current, self.warm) if self.prepared_max is not None else 0
            if from_pool:
                self.warm -= from_pool
                self.pending.append((minute + (self.warm_ready or 0), from_pool))
            if wanted - current - from_pool:
                if self.pending and self.pending[-1][0] == cold_at:  # same arrival: one entry
                    self.pending[-1] = (cold_at, self.pending[-1][1] + wanted - current - from_pool)
                else:
                    self.pending.append((cold_at, wanted - current - from_pool))
            self.reconcile_pool(minute)
            return
        surplus = current - wanted
        while surplus and self.pending:  # cancel the newest launches first
            at, count = self.pending.pop()
            keep = max(0, count - surplus)
            surplus -= count - keep
            if keep:
                self.pending.append((at, keep))
        self.in_service -= surplus
        if self.prepared_max is not None and self.reuse:
            self.warm += surplus  # ReuseOnScaleIn: stopped and returned to the pool
        self.reconcile_pool(minute)

    def reconcile_pool(self, minute: int) -> None:
        """Keep the warm pool at max(pool_min, prepared_max - desired) instances."""
        if self.prepared_max is None:
            return
        wanted = max(self.pool_min, self.prepared_max - self.desired)
        have = self.warm + sum(count for _, count in self.warming)
        if have < wanted:
            self.warming.append((math.inf if self.ready is None else minute + self.ready, wanted - have))
        elif have > wanted:
            drop = min(self.warm, have - wanted)
            self.warm -= drop
            extra = have - wanted - drop
            while extra and self.warming:
                at, count = self.warming.pop()
                keep = max(0, count - extra)
                extra -= count - keep
                if keep:
                    self.warming.append((at, keep))


def minute_of(moment: datetime, origin: datetime) -> int:
    return int((moment - origin).total_seconds() // 60)


def viewer_series(events: Sequence[Any], load: LoadModel, origin: datetime, minutes: int) -> np.ndarray:
    """Platform viewers per minute: max(baseline, sum of the events' audiences)."""
    audience = np.zeros(minutes)
    grid = np.arange(minutes, dtype=float)
    for event in events:
        ramp, shape = load.ramp.get(event.kind, load.ramp["basketball"])
        kick, end = minute_of(event.start, origin), minute_of(event.end, origin)
        curve = np.zeros(minutes)
        rising = (grid >= kick - ramp) & (grid < kick)
        curve[rising] = ((grid[rising] - (kick - ramp)) / ramp) ** shape
        curve[(grid >= kick) & (grid < end)] = 1.0
        falling = (grid >= end) & (grid < end + load.decay_minutes)
        curve[falling] = 1.0 - (grid[falling] - end) / load.decay_minutes
        audience += event.peak_viewers * curve
    return np.maximum(audience, load.baseline_viewers)


@dataclass
class Group:
    """One Auto Scaling group of a tier: its fleet and its scheduled actions (minute -> (MinSize,
    DesiredCapacity or None))."""

    name: str
    fleet: Fleet
    actions: dict[int, tuple[int, int | None]] = field(default_factory=dict)


def run_tier(
    tier: Any,
    requests: np.ndarray,
    load: LoadModel,
    ready: int | None,
    actions: dict[int, tuple[int, int | None]],
    *,
    target: float | None = None,
) -> Timeline:
    """Target tracking with optional scheduled actions (minute -> (MinSize, DesiredCapacity or None))
    on the tier's one group, starting at its baseline. See run_groups."""
    fleet = Fleet(ready=ready, in_service=tier.min_size, max_size=tier.max_size, floor=tier.min_size)
    return run_groups(tier, requests, load, [Group(tier.name, fleet, actions)], target=target)


def run_groups(
    tier: Any,
    requests: np.ndarray,
    load: LoadModel,
    groups: list[Group],
    *,
    target: float | None = None,
    fast: bool = True,
) -> Timeline:
    """Target tracking on every group of a tier, with each group's scheduled actions.

    ``target``: requests per target per minute (default: the plan's, capacity x (1 - headroom)). The
    metric is ALBRequestCountPerTarget as AWS defines it: the requests of a minute divided by the
    targets InService (healthy) in that minute, seen ``metric_delay`` minutes later; the groups share
    the tier's target group, so every group's policy sees the same metric and scales its own
    capacity in proportion (a group at zero capacity stays there). Instances still booting count
    toward the desired capacity (the warm-up covers the boot budget), never toward the metric's
    divisor. Several groups share the tier's ``max_size``: a scale-out of one is capped at what the
    others leave (their MaxSize values are set to add up to it). ``fast=False`` steps through quiet
    stretches minute by minute too (the tests compare both)."""
    run = TierRun(tier, requests, load, groups, rules_lib.per_minute_target(tier) if target is None else target)
    return run.run(fast=fast)


class TierRun:
    """The minute-by-minute state of run_groups: the groups' fleets, their per-minute series and the
    target-tracking alarms' counters (datapoints above the target, below the scale-in ratio)."""

    def __init__(self, tier: Any, requests: np.ndarray, load: LoadModel, groups: list[Group], target: float) -> None:
        self.tier, self.requests, self.load, self.groups, self.target = tier, requests, load, groups, target
        self.size = len(requests)
        self.fleets = [g.fleet for g in groups]
        self.history = [np.zeros(self.size, dtype=int) for _ in groups]
        self.running = [np.zeros(self.size, dtype=int) for _ in groups]
        self.stopped = np.zeros(self.size, dtype=int)
        self.high = self.low = 0
        # where the metric's input changes, and the minutes with scheduled actions (quiet stretches)
        self.boundaries = np.flatnonzero(np.diff(requests) != 0) + 1
        self.action_minutes = sorted({minute for g in groups for minute in g.actions})

    def wanted(self, observed: float, counts: list[int], total: int) -> list[int]:
        """Each group's capacity for the metric: its own InService count scaled by metric / target."""
        if len(self.fleets) == 1:
            return [math.ceil(observed / self.target)]
        return [math.ceil(round(observed * count / total / self.target, 9)) if total else 0 for count in counts]

    def settled(self, seen: int) -> bool:
        """Nothing arriving (launches that never serve, see launch_ready, stay as they are), the pool
        at its size, InService as the metric saw it."""
        return all(
            all(at == math.inf for at, _ in f.pending)
            and all(at == math.inf for at, _ in f.warming)
            and h[seen] == f.in_service
            and (
                f.prepared_max is None
                or f.warm + sum(c for _, c in f.warming) == max(f.pool_min, f.prepared_max - f.desired)
            )
            for f, h in zip(self.fleets, self.history, strict=True)
        )

    def quiet_until(self, minute: int) -> tuple[int, int] | None:
        """(end of a quiet stretch from ``minute``, the scale-in counter after it), or None.

        Quiet: no action, the fleets settled, the metric's input constant and at or below the target,
        and no scale-in due; such a stretch is filled in one step (the same result, much faster)."""
        seen = minute - self.load.metric_delay
        if seen < 0 or self.high or self.low >= self.load.in_points or not self.settled(seen):
            return None
        counts = [f.in_service for f in self.fleets]
        total = sum(counts)
        observed = self.requests[seen]
        per_target = observed / max(total, 1)
        k = bisect.bisect_left(self.action_minutes, minute)
        j = int(np.searchsorted(self.boundaries, seen, side="right"))
        end = min(
            self.size,
            self.action_minutes[k] if k < len(self.action_minutes) else self.size,
            (int(self.boundaries[j]) if j < len(self.boundaries) else self.size) + self.load.metric_delay,
        )
        pairs = list(zip(self.fleets, self.wanted(observed, counts, total), strict=True))
        low = per_target < self.target * self.load.in_ratio
        if per_target > self.target or end - minute < 2 or (low and any(max(f.floor, w) < f.desired for f, w in pairs)):
            return None
        if not low:
            return end, 0
        passed = self.low + end - minute
        return end, passed % self.load.in_points if any(w < f.desired for f, w in pairs) else passed

    def step(self, minute: int) -> None:
        """One minute: scheduled actions, then the target-tracking alarms on the metric."""
        for g in self.groups:
            g.fleet.promote(minute)
            if minute in g.actions:
                floor, desired = g.actions[minute]
                g.fleet.floor = floor
                # EC2 Auto Scaling: without a DesiredCapacity the new MinSize raises a lower desired
                # capacity to it and leaves a higher one alone; with one, the group goes to it.
                g.fleet.set_desired(max(g.fleet.desired, floor) if desired is None else desired, minute)
        load = self.load
        seen = max(0, minute - load.metric_delay)
        observed = self.requests[seen]
        healthy = [f.in_service if seen == minute else h[seen] for f, h in zip(self.fleets, self.history, strict=True)]
        total = sum(healthy)
        per_target = observed / max(total, 1)  # RequestCountPerTarget of that minute
        self.high = self.high + 1 if per_target > self.target else 0
        self.low = self.low + 1 if per_target < self.target * load.in_ratio else 0
        if self.high < load.out_points and self.low < load.in_points:
            return
        scaled_in = False
        for fleet, wanted in zip(self.fleets, self.wanted(observed, healthy, total), strict=True):
            if self.high >= load.out_points:
                room = self.tier.max_size - sum(f.desired for f in self.fleets if f is not fleet)
                if min(wanted, room) > fleet.desired:
                    fleet.set_desired(min(wanted, room), minute)
            if self.low >= load.in_points and wanted < fleet.desired:
                fleet.set_desired(wanted, minute)
                scaled_in = True
        if scaled_in:
            self.low = 0

    def record(self, start: int, end: int) -> None:
        for fleet, h, r in zip(self.fleets, self.history, self.running, strict=True):
            h[start:end] = fleet.in_service
            r[start:end] = fleet.running
            self.stopped[start:end] += fleet.warm

    def run(self, *, fast: bool) -> Timeline:
        for fleet in self.fleets:
            fleet.reconcile_pool(0)
        minute = 0
        while minute < self.size:
            quiet = self.quiet_until(minute) if fast else None
            if quiet is not None:
                end, self.low = quiet
                self.record(minute, end)
                minute = end
                continue
            self.step(minute)
            self.record(minute, minute + 1)
            minute += 1
        return Timeline(
            in_service=np.sum(self.history, axis=0),
            billed=np.sum(self.running, axis=0),
            stopped=self.stopped,
            groups={g.name: r for g, r in zip(self.groups, self.running, strict=True)},
        )


@dataclass(frozen=True)
class EventResult:
    event: Any
    scale_out: datetime | None
    ready_margin: int
    slow_margin: int
    slow_covered_margin: int
    reactive_margin: int
    peak_coverage: float
    served: float
    reactive_served: float


def readiness_margin(in_service: np.ndarray, need: int, kick: int, end: int) -> int:
    """Minutes before kick-off from which InService >= need holds through kick-off (< 0: late by that).

    Looked up to MARGIN_CAP minutes back (an event the baseline covers would otherwise count from the
    previous event)."""
    if need <= in_service[kick]:
        start = kick
        while start > max(0, kick - MARGIN_CAP) and in_service[start - 1] >= need:
            start -= 1
        return kick - start
    later = np.nonzero(in_service[kick:end] >= need)[0]
    return -int(later[0]) if len(later) else -(end - kick)


def served_share(in_service: np.ndarray, requests: np.ndarray, capacity_rpm: float, lo: int, hi: int) -> float:
    """Share of requests in [lo, hi) that capacity at 100 % utilisation could serve."""
    load = requests[lo:hi]
    served = np.minimum(load, in_service[lo:hi] * capacity_rpm)
    return float(served.sum() / load.sum()) if load.sum() else 1.0


def replay(season: Any, model_raw: Any, load_raw: Any, scaling: Scaling | None = None) -> dict[str, Any]:
    """The whole simulation; returns plain data for the report and the chart. ``scaling``: the
    deployed settings (default: all derived from the model, as the role defaults derive them)."""
    load = LoadModel.from_dict(load_raw)
    model = capacity_lib.parse_model(model_raw, FNAME)
    scaling = scaling or deployed_scaling(model_raw)
    events = calendar_lib.validate_events(season, FNAME)
    actions = schedule_lib.build_schedule(events, model)
    origin = (events[0].start - timedelta(days=load.padding_days)).replace(hour=0, minute=0, second=0)
    horizon = minute_of(max(e.end for e in events) + timedelta(days=load.padding_days), origin)
    viewers = viewer_series(events, load, origin, horizon)
    ready = launch_ready(model.ready_seconds, scaling.grace)
    # sensitivity: instances that take twice the boot budget (an AMI that regressed), with the grace
    # period as deployed (derived from the budget: replaced before they are healthy) and with one
    # raised to cover them
    slow_seconds = 2 * model.boot_to_healthy_seconds + model.health_check_seconds
    slow_ready = launch_ready(slow_seconds, scaling.grace)
    slow_ready_covered = launch_ready(slow_seconds, slow_seconds)
    tiers: dict[str, dict[str, Any]] = {}
    for tier in model.tiers:
        requests = viewers * tier.requests_per_viewer_per_minute
        floors = {minute_of(a.start, origin): (a.size, a.desired_capacity) for a in actions if a.tier == tier.name}
        target = scaling.targets[tier.name]
        fixed_size = max([tier.min_size, *(capacity_lib.instances_for(e.peak_viewers, tier) for e in events)])
        tiers[tier.name] = {
            "tier": tier,
            "requests": requests,
            "planned": run_tier(tier, requests, load, ready, floors, target=target),
            "reactive": run_tier(tier, requests, load, ready, {}, target=target),
            "planned_slow": run_tier(tier, requests, load, slow_ready, floors, target=target),
            "planned_slow_covered": run_tier(tier, requests, load, slow_ready_covered, floors, target=target),
            "fixed": Timeline(np.full(horizon, fixed_size), np.full(horizon, fixed_size)),
            "fixed_size": fixed_size,
        }
    results = []
    for event in events:
        kick, end = minute_of(event.start, origin), minute_of(event.end, origin)
        ramp = load.ramp.get(event.kind, load.ramp["basketball"])[0]
        window = (kick - ramp, end + load.decay_minutes)
        margins, slow_margins, slow_covered_margins, reactive_margins = [], [], [], []
        coverage, served, reactive_served = [], [], []
        for data in tiers.values():
            tier, requests = data["tier"], data["requests"]
            need = capacity_lib.instances_needed(event.peak_viewers, tier)
            planned, reactive = data["planned"].in_service, data["reactive"].in_service
            margins.append(readiness_margin(planned, need, kick, end))
            slow_margins.append(readiness_margin(data["planned_slow"].in_service, need, kick, end))
            slow_covered_margins.append(readiness_margin(data["planned_slow_covered"].in_service, need, kick, end))
            reactive_margins.append(readiness_margin(reactive, need, kick, end))
            peak_load = requests[kick:end]
            coverage.append(float(np.min(planned[kick:end] * tier.capacity_rpm / peak_load)))
            served.append(served_share(planned, requests, tier.capacity_rpm, *window))
            reactive_served.append(served_share(reactive, requests, tier.capacity_rpm, *window))
        lead = timedelta(seconds=model.lead_time_seconds + 60)
        outs = [a.start for a in actions if event.name in a.events and event.start - lead <= a.start <= event.start]
        results.append(
            EventResult(
                event=event,
                scale_out=min(outs) if outs else None,
                ready_margin=min(margins),
                slow_margin=min(slow_margins),
                slow_covered_margin=min(slow_covered_margins),
                reactive_margin=min(reactive_margins),
                peak_coverage=min(coverage),
                served=min(served),
                reactive_served=min(reactive_served),
            )
        )
    return {
        "model": model,
        "scaling": scaling,
        "events": events,
        "actions": actions,
        "origin": origin,
        "minutes": horizon,
        "viewers": viewers,
        "tiers": tiers,
        "results": results,
        "load": load,
    }


def cost(tier: Any, timeline: Timeline, prices: dict[str, Any]) -> tuple[float, float]:
    """(all on-demand, with the spot share above the baseline) in the price file's currency."""
    price = prices["instance_types"][tier.instance_type]
    od, spot, share = float(price["on_demand_hourly"]), float(price["spot_hourly"]), prices["spot_share_above_baseline"]
    base_hours = float(np.minimum(timeline.billed, tier.min_size).sum()) / 60.0
    above_hours = timeline.instance_hours - base_hours
    return timeline.instance_hours * od, base_hours * od + above_hours * (share * spot + (1 - share) * od)


def summary(sim: dict[str, Any], prices: dict[str, Any]) -> dict[str, Any]:
    totals: dict[str, dict[str, float]] = {}
    for strategy in ("planned", "reactive", "fixed"):
        hours = od = mixed = 0.0
        for data in sim["tiers"].values():
            timeline = data[strategy]
            hours += timeline.instance_hours
            a, b = cost(data["tier"], timeline, prices)
            od, mixed = od + a, mixed + b
        totals[strategy] = {"hours": hours, "on_demand": od, "mixed": mixed}
    results = sim["results"]
    margins = [r.ready_margin for r in results]
    return {
        "events": len(results),
        "covered": sum(1 for m in margins if m >= READY_GOAL_MINUTES),
        "earliest": max(margins),
        "latest": min(margins),
        "slow_covered": sum(1 for r in results if r.slow_margin >= READY_GOAL_MINUTES),
        "slow_latest": min(r.slow_margin for r in results),
        # readiness_margin is -(event length) when the capacity never arrived during the event
        "slow_never": sum(
            1 for r in results if r.slow_margin == -((r.event.end - r.event.start).total_seconds() // 60)
        ),
        "slow_covered_covered": sum(1 for r in results if r.slow_covered_margin >= READY_GOAL_MINUTES),
        "slow_covered_latest": min(r.slow_covered_margin for r in results),
        "reactive_covered": sum(1 for r in results if r.reactive_margin >= READY_GOAL_MINUTES),
        "min_served": min(r.served for r in results),
        "min_reactive_served": min(r.reactive_served for r in results),
        "totals": totals,
        "ratio_fixed": totals["planned"]["hours"] / totals["fixed"]["hours"],
        "ratio_reactive": totals["planned"]["hours"] / totals["reactive"]["hours"],
    }


# Surge design options (issue 19) ----------------------------------------------------------------

SERVED_GOAL = 0.995  # worst share of requests served in an event window, forecast audiences
SURPRISE_GOAL = 0.99  # the same for the surprise cases
HOURS_RATIO_GOAL = 1.05  # instance-hours of the option / instance-hours of reactive scaling alone
SCHEDULED_ACTIONS_QUOTA = 125  # per Auto Scaling group, cannot be changed
DOC_PUT_WARM_POOL = "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutWarmPool.html"
DOC_WARM_POOLS = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html"
DOC_WARM_POOL_LIFECYCLE = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html"
DOC_QUOTAS = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-quotas.html"
POOL_STATES = ("Stopped", "Running", "Hibernated")
PURCHASES = ("on_demand", "mixed")
CASES = ("forecast", "double", "announced")


@dataclass(frozen=True)
class WarmPoolSpec:
    """PutWarmPool of the surge group; ``max_group_prepared_capacity`` 'largest_floor' or a number."""

    pool_state: str
    max_group_prepared_capacity: str | int
    min_size: int
    reuse_on_scale_in: bool
    launch_lifecycle_hook: bool


@dataclass(frozen=True)
class SurgeOption:
    key: str
    title: str
    surge_group: bool
    surge_purchase: str
    warm_pool: WarmPoolSpec | None
    safety_margin_seconds: int | None
    release_after_end_minutes: int | None
    deployed: bool = False


@dataclass(frozen=True)
class SurgeDesign:
    warm_start_to_healthy_seconds: int
    playbook_run_seconds: int
    audience_factor: float
    announced_minutes_before: int
    target_factors: tuple[float, ...]
    options: tuple[SurgeOption, ...]
    cost_tolerance: float = 0.0

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SurgeDesign:
        """load_model.yml's surge_design; a bad value raises ValueError naming the key."""

        def option(key: str, value: dict[str, Any]) -> SurgeOption:
            where = f"surge_design.options.{key}"
            if value.get("surge_purchase") not in PURCHASES:
                raise ValueError(
                    f"{where}.surge_purchase must be one of {PURCHASES}, got {value.get('surge_purchase')!r}"
                )
            pool = value.get("warm_pool")
            spec = None
            if pool is not None:
                if pool.get("pool_state") not in POOL_STATES:
                    raise ValueError(
                        f"{where}.warm_pool.pool_state must be one of {POOL_STATES}, got {pool.get('pool_state')!r}"
                    )
                prepared = pool.get("max_group_prepared_capacity")
                if prepared != "largest_floor" and not (isinstance(prepared, int) and prepared >= 0):
                    raise ValueError(
                        f"{where}.warm_pool.max_group_prepared_capacity must be largest_floor or an integer >= 0,"
                        f" got {prepared!r}"
                    )
                spec = WarmPoolSpec(
                    pool_state=pool["pool_state"],
                    max_group_prepared_capacity=prepared,
                    min_size=int(pool.get("min_size", 0)),
                    reuse_on_scale_in=bool(pool.get("reuse_on_scale_in", True)),
                    launch_lifecycle_hook=bool(pool.get("launch_lifecycle_hook", False)),
                )
            margin, release = value.get("safety_margin_seconds"), value.get("release_after_end_minutes")
            return SurgeOption(
                key=key,
                title=str(value["title"]),
                surge_group=bool(value["surge_group"]),
                surge_purchase=value["surge_purchase"],
                warm_pool=spec,
                safety_margin_seconds=None if margin is None else int(margin),
                release_after_end_minutes=None if release is None else int(release),
                deployed=bool(value.get("deployed", False)),
            )

        surprise = raw["surprise"]
        return cls(
            warm_start_to_healthy_seconds=int(raw["warm_start_to_healthy_seconds"]),
            playbook_run_seconds=int(raw["playbook_run_seconds"]),
            audience_factor=float(surprise["audience_factor"]),
            announced_minutes_before=int(surprise["announced_minutes_before"]),
            target_factors=tuple(float(f) for f in raw["target_factors"]),
            options=tuple(option(str(k), v) for k, v in raw["options"].items()),
            cost_tolerance=float(raw.get("cost_tolerance", 0.0)),
        )


def replace_option(option: SurgeOption, **changes: Any) -> SurgeOption:
    """The option with some fields changed (what-ifs, tests)."""
    return replace(option, **changes)


def option_lead_seconds(option: SurgeOption, model: Any, design: SurgeDesign) -> int:
    """Scheduled action -> kick-off: launch (warm start from the pool, or cold boot) + health checks
    + the safety margin."""
    boot = design.warm_start_to_healthy_seconds if option.warm_pool is not None else model.boot_to_healthy_seconds
    margin = model.safety_margin_seconds if option.safety_margin_seconds is None else option.safety_margin_seconds
    return boot + model.health_check_seconds + margin


def option_actions(
    events: Sequence[Any], tier: Any, model: Any, option: SurgeOption, design: SurgeDesign, *, announced: bool = False
) -> list[tuple[datetime, int, int | None]]:
    """The tier's floor changes (UTC time, floor of the whole tier, DesiredCapacity or None) under an
    option: held from kick-off - lead time (with ``announced``: not before the announcement + the
    playbook's run) until end + tail (the return to the baseline then sets DesiredCapacity) or, when
    the option releases it earlier, until end + release (MinSize only: the audience may still be there,
    target tracking scales in as it leaves)."""
    lead = timedelta(seconds=option_lead_seconds(option, model, design))
    tail = timedelta(seconds=model.tail_seconds)
    windows, released = [], set()
    for event in events:
        need = capacity_lib.instances_needed(event.peak_viewers, tier)
        if need <= tier.min_size:
            continue
        start = schedule_lib.floor_minute(event.start - lead)
        if announced:
            known = event.start - timedelta(
                minutes=design.announced_minutes_before, seconds=-design.playbook_run_seconds
            )
            start = max(start, schedule_lib.ceil_minute(known))
        end = schedule_lib.ceil_minute(event.end + tail)
        if option.release_after_end_minutes is not None:
            release = schedule_lib.ceil_minute(event.end + timedelta(minutes=option.release_after_end_minutes))
            if release < end:
                end = release
                released.add(end)
        windows.append(schedule_lib.Window(start, end, min(need, tier.max_size), event.name))
    return [
        (a.start, a.size, a.size if a.returns_to_baseline and a.start not in released else None)
        for a in schedule_lib.tier_actions(windows, tier)
    ]


def aws_refusals(option: SurgeOption, actions_per_group: dict[str, int]) -> list[str]:
    """What AWS would refuse in the option's design (empty: every call is one AWS accepts)."""
    refusals = []
    pool = option.warm_pool
    if pool is not None and (not option.surge_group or option.surge_purchase != "on_demand"):
        group = "the surge group" if option.surge_group else "the platform group"
        refusals.append(
            f'PutWarmPool on {group}, which requests Spot Instances (mixed instances policy): "This operation cannot'
            f" be called on an Auto Scaling group that has a mixed instances policy or a launch template or launch"
            f' configuration that requests Spot Instances" ({DOC_PUT_WARM_POOL})'
        )
    if pool is not None and not pool.launch_lifecycle_hook:
        refusals.append(
            "a warm pool without an autoscaling:EC2_INSTANCE_LAUNCHING lifecycle hook: AWS stops instances entering"
            f" the pool without waiting for their boot ({DOC_WARM_POOL_LIFECYCLE})"
        )
    for group, count in sorted(actions_per_group.items()):
        if count > SCHEDULED_ACTIONS_QUOTA:
            refusals.append(
                f"{count} scheduled actions on {group}, above the {SCHEDULED_ACTIONS_QUOTA} per group ({DOC_QUOTAS})"
            )
    return refusals


def option_groups(
    tier: Any,
    option: SurgeOption,
    design: SurgeDesign,
    model: Any,
    *,
    grace: int,
    actions: dict[int, tuple[int, int | None]],
) -> list[Group]:
    """The tier's groups under an option; ``actions`` are the tier's floors (minute -> (floor, desired))."""
    cold = launch_ready(model.ready_seconds, grace)
    if not option.surge_group:
        fleet = Fleet(ready=cold, in_service=tier.min_size, max_size=tier.max_size, floor=tier.min_size)
        return [Group(f"{tier.name}", fleet, actions)]
    base = Fleet(ready=cold, in_service=tier.min_size, max_size=tier.max_size, floor=tier.min_size)
    surge_actions = {
        minute: (floor - tier.min_size, None if desired is None else desired - tier.min_size)
        for minute, (floor, desired) in actions.items()
    }
    surge = Fleet(ready=cold, in_service=0, max_size=tier.max_size - tier.min_size, floor=0)
    pool = option.warm_pool
    if pool is not None:
        largest = max([0, *(floor for floor, _ in surge_actions.values())])
        prepared = (
            largest if pool.max_group_prepared_capacity == "largest_floor" else int(pool.max_group_prepared_capacity)
        )
        surge.prepared_max, surge.pool_min, surge.reuse = prepared, pool.min_size, pool.reuse_on_scale_in
        surge.warm_ready = launch_ready(design.warm_start_to_healthy_seconds + model.health_check_seconds, grace)
    return [Group(f"{tier.name}-base", base), Group(f"{tier.name}-surge", surge, surge_actions)]


def option_cost(tier: Any, option: SurgeOption, timeline: Timeline, prices: dict[str, Any]) -> dict[str, float]:
    """Cost of one tier under an option: all on-demand; with the purchase options (the platform group's
    spot share above its baseline; the surge group all on-demand or the same mix); the warm pool's EBS."""
    price = prices["instance_types"][tier.instance_type]
    od, spot, share = float(price["on_demand_hourly"]), float(price["spot_hourly"]), prices["spot_share_above_baseline"]
    ebs = prices["ebs"]
    ebs_hourly = float(ebs["gb_per_instance"]) * float(ebs["gp3_gb_month"]) / float(ebs["hours_per_month"])
    mix = share * spot + (1 - share) * od
    pool = timeline.stopped_hours * ebs_hourly
    if not option.surge_group:
        all_od, mixed = cost(tier, timeline, prices)
        return {"on_demand": all_od + pool, "mixed": mixed + pool, "ebs": pool}
    base = timeline.groups[f"{tier.name}-base"]
    surge = timeline.groups[f"{tier.name}-surge"]
    base_hours = float(np.minimum(base, tier.min_size).sum()) / 60.0
    above = float(base.sum()) / 60.0 - base_hours
    surge_hours = float(surge.sum()) / 60.0
    surge_cost = surge_hours * (od if option.surge_purchase == "on_demand" else mix)
    return {
        "on_demand": timeline.instance_hours * od + pool,
        "mixed": base_hours * od + above * mix + surge_cost + pool,
        "ebs": pool,
    }


def surprise_events(events: Sequence[Any], factor: float) -> list[Any]:
    """The calendar with every audience times ``factor``."""
    return [replace(e, peak_viewers=round(e.peak_viewers * factor)) for e in events]


def run_case(
    sim: dict[str, Any],
    option: SurgeOption,
    design: SurgeDesign,
    case: str,
    *,
    targets: dict[str, float] | None = None,
    max_sizes: dict[str, int] | None = None,
) -> dict[str, Any]:
    """One option over the season in one case: forecast audiences, every audience times the surprise
    factor (the plan still uses the forecast), or every event announced shortly before kick-off.
    ``targets`` and ``max_sizes`` (per tier) are what-ifs of the deployed targets and MaxSize."""
    model, load, origin, events = sim["model"], sim["load"], sim["origin"], sim["events"]
    targets = targets or sim["scaling"].targets
    viewers = sim["viewers"]
    if case == "double":
        viewers = viewer_series(surprise_events(events, design.audience_factor), load, origin, sim["minutes"])
    timelines, counts = {}, {}
    for tier in with_max_sizes(model.tiers, max_sizes):
        floors = option_actions(events, tier, model, option, design, announced=case == "announced")
        actions = {minute_of(at, origin): (floor, desired) for at, floor, desired in floors}
        groups = option_groups(tier, option, design, model, grace=sim["scaling"].grace, actions=actions)
        counts[groups[-1].name] = len(actions)
        requests = viewers * tier.requests_per_viewer_per_minute
        timelines[tier.name] = (tier, requests, run_groups(tier, requests, load, groups, target=targets[tier.name]))
    margins, served = [], []
    for event in events:
        kick, end = minute_of(event.start, origin), minute_of(event.end, origin)
        ramp = load.ramp.get(event.kind, load.ramp["basketball"])[0]
        window = (kick - ramp, end + load.decay_minutes)
        tier_margins, tier_served = [], []
        for tier, requests, timeline in timelines.values():
            need = capacity_lib.instances_needed(event.peak_viewers, tier)
            tier_margins.append(readiness_margin(timeline.in_service, need, kick, end))
            tier_served.append(served_share(timeline.in_service, requests, tier.capacity_rpm, *window))
        margins.append(min(tier_margins))
        served.append(min(tier_served))
    return {"timelines": timelines, "margins": margins, "served": served, "actions_per_group": counts}


def with_max_sizes(tiers: Sequence[Any], max_sizes: dict[str, int] | None) -> list[Any]:
    """The tiers with the what-if MaxSize values."""
    return [replace(t, max_size=(max_sizes or {}).get(t.name, t.max_size)) for t in tiers]


def reactive_hours(sim: dict[str, Any], targets: dict[str, float], max_sizes: dict[str, int] | None = None) -> float:
    """Instance-hours of target tracking alone (one group, cold launches) under ``targets``."""
    if targets == sim["scaling"].targets and not max_sizes:
        return sum(data["reactive"].instance_hours for data in sim["tiers"].values())
    ready = launch_ready(sim["model"].ready_seconds, sim["scaling"].grace)
    tiers = with_max_sizes([data["tier"] for data in sim["tiers"].values()], max_sizes)
    return sum(
        run_tier(
            tier, sim["tiers"][tier.name]["requests"], sim["load"], ready, {}, target=targets[tier.name]
        ).instance_hours
        for tier in tiers
    )


def same_plan(sim: dict[str, Any], option: SurgeOption, design: SurgeDesign) -> bool:
    """Whether announcing every event shortly before kick-off leaves the option's floors as planned
    (the announcement + the playbook's run come before every scheduled step-up)."""
    model = sim["model"]
    return all(
        option_actions(sim["events"], tier, model, option, design)
        == option_actions(sim["events"], tier, model, option, design, announced=True)
        for tier in model.tiers
    )


def evaluate_option(
    sim: dict[str, Any],
    option: SurgeOption,
    design: SurgeDesign,
    prices: dict[str, Any],
    *,
    targets: dict[str, float] | None = None,
    max_sizes: dict[str, int] | None = None,
    base: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An option's figures: readiness, served share (worst, mean), instance-hours and their ratio to
    reactive scaling alone, cost, what AWS refuses, the surprise cases, and which goals it meets.

    ``base``: the same option's figures under the deployed targets; with ``max_sizes`` only (same
    targets), its runs that never reached a tier's MaxSize are reused (a higher one changes nothing)."""
    targets = targets or sim["scaling"].targets
    runs: dict[str, dict[str, Any]] = {}
    for case in CASES:
        if case == "announced" and same_plan(sim, option, design):
            runs[case] = runs["forecast"]
            continue
        if base is not None and targets == base["targets"]:
            earlier = base["runs"][case]
            if all(t.billed.max() < tier.max_size for tier, _, t in earlier["timelines"].values()):
                runs[case] = earlier
                continue
        runs[case] = run_case(sim, option, design, case, targets=targets, max_sizes=max_sizes)
    forecast = runs["forecast"]
    hours = sum(t.instance_hours for _, _, t in forecast["timelines"].values())
    stopped = sum(t.stopped_hours for _, _, t in forecast["timelines"].values())
    costs = {"on_demand": 0.0, "mixed": 0.0, "ebs": 0.0}
    for tier, _, timeline in forecast["timelines"].values():
        for key, value in option_cost(tier, option, timeline, prices).items():
            costs[key] += value
    figures = {
        "option": option,
        "targets": targets,
        "max_sizes": max_sizes or {},
        "lead_seconds": option_lead_seconds(option, sim["model"], design),
        "events": len(forecast["margins"]),
        "covered": sum(1 for m in forecast["margins"] if m >= READY_GOAL_MINUTES),
        "latest": min(forecast["margins"]),
        "worst_served": min(forecast["served"]),
        "mean_served": float(np.mean(forecast["served"])),
        "hours": hours,
        "stopped_hours": stopped,
        "ratio_reactive": hours / reactive_hours(sim, targets, max_sizes),
        "cost": costs,
        "refusals": aws_refusals(option, forecast["actions_per_group"]),
        "surprise": {
            case: {"worst": min(runs[case]["served"]), "mean": float(np.mean(runs[case]["served"]))}
            for case in CASES[1:]
        },
        "runs": runs,
    }
    figures["goals"] = goals_met(figures)
    return figures


def surprise_max_sizes(sim: dict[str, Any], design: SurgeDesign) -> dict[str, int]:
    """Tiers whose max_size cannot carry the surprise audience of the largest event even at 100 %
    utilisation (no target can fix that), with the MaxSize that can."""
    peak = max(e.peak_viewers for e in sim["events"]) * design.audience_factor
    needed = {}
    for tier in sim["model"].tiers:
        full = math.ceil(round(peak * tier.requests_per_viewer_per_minute / tier.capacity_rpm, 9))
        if full > tier.max_size:
            needed[tier.name] = full
    return needed


def goals_met(figures: dict[str, Any]) -> dict[str, bool]:
    """The issue's goals, each True or False."""
    return {
        "ready": figures["covered"] == figures["events"],
        "hours": figures["ratio_reactive"] <= HOURS_RATIO_GOAL,
        "served": figures["worst_served"] >= SERVED_GOAL,
        "surprise": all(s["worst"] >= SURPRISE_GOAL for s in figures["surprise"].values()),
        "aws": not figures["refusals"],
    }


def rank_options(figures: Sequence[dict[str, Any]], tolerance: float = 0.0) -> list[dict[str, Any]]:
    """The rule: options that meet every goal first. Among them, those that cost at most ``tolerance``
    more than the cheapest (surge_design.cost_tolerance: the replay's precision) are equivalent on cost
    and go by the worst served share of the surprise cases (highest first, to 0.1 %), then the deployed
    design (a change that buys less than the precision is not worth its risk), then cost; the rest of
    the options that meet every goal follow by cost. Among options that miss, fewer missed goals first,
    then cost."""

    def cost(f: dict[str, Any]) -> float:
        return f["cost"]["mixed"]

    def surprise(f: dict[str, Any]) -> float:
        return round(min((s["worst"] for s in f.get("surprise", {}).values()), default=0.0), 3)

    meet = [f for f in figures if all(f["goals"].values())]
    miss = [f for f in figures if not all(f["goals"].values())]
    cheapest = min((cost(f) for f in meet), default=0.0)
    near = [f for f in meet if cost(f) <= cheapest * (1 + tolerance)]
    far = [f for f in meet if cost(f) > cheapest * (1 + tolerance)]
    return [
        *sorted(near, key=lambda f: (-surprise(f), not getattr(f["option"], "deployed", False), cost(f))),
        *sorted(far, key=cost),
        *sorted(miss, key=lambda f: (sum(not v for v in f["goals"].values()), cost(f))),
    ]


def winner(ranked: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    return ranked[0] if ranked and all(ranked[0]["goals"].values()) else None


def surge_study(sim: dict[str, Any], design: SurgeDesign, prices: dict[str, Any]) -> dict[str, Any]:
    """Every option as deployed (the playbook's targets and MaxSize), ranked. When an option AWS
    accepts misses the surprise goal: the same option with every MaxSize raised to what the largest
    surprise audience needs at 100 % utilisation, then with the targets times each factor in turn
    until it meets the goal (the what-if); the what-ifs are ranked by the same rule."""
    figures = [evaluate_option(sim, option, design, prices) for option in design.options]
    max_sizes = surprise_max_sizes(sim, design)
    what_if = []
    for f in figures:
        if f["goals"]["surprise"] or f["refusals"]:
            what_if.append(f | {"factor": 1.0})
            continue
        trial = f
        for factor in (1.0, *design.target_factors):
            targets = {name: round(value * factor, 2) for name, value in sim["scaling"].targets.items()}
            trial = evaluate_option(sim, f["option"], design, prices, targets=targets, max_sizes=max_sizes, base=f) | {
                "factor": factor
            }
            if trial["goals"]["surprise"]:
                break
        what_if.append(trial)
    ranked = rank_options(figures, design.cost_tolerance)
    ranked_what_if = rank_options(what_if, design.cost_tolerance)
    return {
        "design": design,
        "figures": figures,
        "ranked": ranked,
        "winner": winner(ranked),
        "max_sizes": max_sizes,
        "what_if": ranked_what_if,
        "what_if_winner": winner(ranked_what_if),
    }


def dst_changes(events: Sequence[Any]) -> int:
    """UTC-offset changes between consecutive events of the same zone (DST changes the season spans)."""
    changes = 0
    for before, after in itertools.pairwise(events):
        if before.timezone == after.timezone:
            zone = ZoneInfo(before.timezone)
            changes += before.start.astimezone(zone).utcoffset() != after.start.astimezone(zone).utcoffset()
    return changes


def pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def option_row(f: dict[str, Any], rank: int) -> str:
    o, c = f["option"], f["cost"]
    missed = [GOAL_NAMES[k] for k, ok in f["goals"].items() if not ok]
    surprise = " | ".join(
        f"{pct(f['surprise'][case]['worst'])} / {pct(f['surprise'][case]['mean'])}" for case in CASES[1:]
    )
    lead = f["lead_seconds"]
    return (
        f"| {rank} | ({o.key}) {o.title} | {'yes' if not f['refusals'] else 'no: ' + '; '.join(f['refusals'])} "
        f"| {lead // 60} min {lead % 60:02d} s | {f['covered']}/{f['events']} (latest {f['latest']} min) "
        f"| {pct(f['worst_served'])} / {pct(f['mean_served'])} | {f['hours']:.0f} ({f['ratio_reactive']:.3f}) "
        f"| {f['stopped_hours']:.0f} | {c['on_demand']:.0f} | {c['mixed']:.0f} (EBS {c['ebs']:.0f}) | {surprise} "
        f"| {', '.join(missed) if missed else 'none'} |"
    )


GOAL_NAMES = {
    "ready": f"ready >= {READY_GOAL_MINUTES} min",
    "hours": f"<= {HOURS_RATIO_GOAL}x reactive",
    "served": f"served >= {100 * SERVED_GOAL:.1f} %",
    "surprise": f"surprise >= {100 * SURPRISE_GOAL:.0f} %",
    "aws": "AWS accepts",
}


def changes_for(f: dict[str, Any], model: Any) -> list[str]:
    """What the inventories and roles would need for an option (with its what-if inputs)."""
    option, changes = f["option"], []
    for name, size in sorted(f["max_sizes"].items()):
        changes.append(
            f"tiers.{name}.max_size {model.tier(name, FNAME).max_size} -> {size} in capacity.yml and "
            f"platform_autoscaling_tiers.{name}.max_size in platform.yml (event_scaling refuses a difference)"
        )
    if f["factor"] != 1.0:
        changes.append(f"target-tracking targets x{f['factor']:g} (the model's headroom)")
    if option.safety_margin_seconds is not None and option.safety_margin_seconds != model.safety_margin_seconds:
        changes.append(f"safety_margin_seconds {model.safety_margin_seconds} -> {option.safety_margin_seconds}")
    if option.release_after_end_minutes is not None:
        changes.append(
            "arena_scaling_schedule: each event's floor ends at its end"
            + (f" + {option.release_after_end_minutes} min" if option.release_after_end_minutes else "")
            + " and the return to the baseline sets MinSize only (no DesiredCapacity), like a step-down"
        )
    if option.surge_group:
        changes.append(
            "a second, on-demand group per tier (no mixed instances policy) in the tier's target group, with "
            "target tracking, the scheduled actions (floor - baseline) and, for (a), the warm pool and a launch "
            "lifecycle hook"
        )
    return changes


def model_notes(study: dict[str, Any], sim: dict[str, Any]) -> list[str]:
    """How the options are modelled, with the AWS pages the warm pool facts come from."""
    design, model = study["design"], sim["model"]
    pooled = next((o for o in design.options if o.warm_pool is not None), None)
    largest = (
        {
            tier.name: max(
                [
                    0,
                    *(
                        floor - tier.min_size
                        for _, floor, _ in option_actions(sim["events"], tier, model, pooled, design)
                    ),
                ]
            )
            for tier in model.tiers
        }
        if pooled is not None
        else {}
    )
    return [
        "How the options are modelled. (a): per tier the platform's group (spot above its on-demand baseline, cold "
        "launches) keeps the baseline, a second, on-demand group gets the scheduled actions (floor - baseline); both "
        "are in the tier's target group, so both policies see the same ALBRequestCountPerTarget and each scales its "
        "own InService capacity by metric / target (assumed: a group at zero stays there; together never above the "
        "tier's max_size). A warm pool is possible only there: PutWarmPool \"cannot be called on an Auto Scaling "
        "group that has a mixed instances policy or a launch template or launch configuration that requests Spot "
        f'Instances" ([API_PutWarmPool]({DOC_PUT_WARM_POOL}); [warm pool limitations]({DOC_WARM_POOLS}'
        '#warm-pools-limitations)), so the surge group is all on-demand. The pool is Stopped: "you pay only for '
        'the volumes that you use and the Elastic IP addresses attached to the instances" '
        f"([warm pools]({DOC_WARM_POOLS})), priced here as the root volume. Its size is MaxGroupPreparedCapacity "
        f"- desired capacity, with MinSize as a floor ([API_PutWarmPool]({DOC_PUT_WARM_POOL})); "
        "MaxGroupPreparedCapacity is the largest "
        "surge floor of the season ("
        + ", ".join(f"{name} {size}" for name, size in sorted(largest.items()))
        + "), kept all season (launched once: billed while they initialise). A scale-out takes instances from the "
        "pool first (they still start and pass the health checks: the warm start above), launches the rest "
        "cold when the pool is empty, and a scale-in returns them (ReuseOnScaleIn). The launch lifecycle hook is "
        'required: "As soon as an instance finishes launching into the warm pool, Amazon EC2 Auto Scaling stops or '
        'hibernates the instance" without waiting for user data, and instances leaving the pool pause in '
        f"Pending:Wait ([warm pool instance lifecycle]({DOC_WARM_POOL_LIFECYCLE})). (b) is the deployed plan; (c) "
        "hands each floor to target tracking when its event ends (a MinSize-only action), instead of forcing the "
        "group to the baseline at end + tail; (d) is (c) with a shorter safety margin. Costs: instance-hours at the "
        "prices.yml rates (spot share above the platform group's baseline), the pool's EBS on top; the EBS of "
        "running instances is the same in every option and left out.",
        "",
    ]


def render_options(study: dict[str, Any], sim: dict[str, Any], prices: dict[str, Any]) -> list[str]:
    """The "Surge design options" section of the report."""
    design, model, cur = study["design"], sim["model"], prices["currency"]
    ebs = prices["ebs"]
    head = (
        "| Rank | Option | AWS accepts | Lead time | Events with capacity InService >= "
        f"{READY_GOAL_MINUTES} min before kick-off | Served, worst / mean | Instance-hours (/ reactive only) "
        f"| Warm pool: stopped instance-hours | Cost, all on-demand ({cur}) | Cost with purchase options ({cur}) "
        f"| Surprise {design.audience_factor:g}x audience: served worst / mean "
        f"| Surprise announced {design.announced_minutes_before} min ahead: served worst / mean | Goals missed |"
    )
    rule = "|---" * 13 + "|"

    def rows(ranked: list[dict[str, Any]], factor: bool = False) -> list[str]:
        out = []
        for f in sorted(ranked, key=lambda f: f["option"].key):
            row = option_row(f, ranked.index(f) + 1)
            if factor:
                row = row.replace(f"| ({f['option'].key}) ", f"| ({f['option'].key}, x{f['factor']:g}) ", 1)
            out.append(row)
        return out

    largest = max(sim["events"], key=lambda e: e.peak_viewers)
    spot_pool = replace_option(design.options[0], surge_group=False, surge_purchase="mixed")
    lines = [
        "### Surge design options",
        "",
        f"Goals (issue 19): every event with capacity InService >= {READY_GOAL_MINUTES} min before kick-off; "
        f"instance-hours <= {HOURS_RATIO_GOAL}x those of reactive scaling alone; served share >= "
        f"{100 * SERVED_GOAL:.1f} % in every event window with the forecast audiences and >= "
        f"{100 * SURPRISE_GOAL:.0f} % in the surprise cases; every call one AWS accepts. Rule: the options that "
        "meet every goal, then the lowest cost with the purchase options (spot share, warm pool EBS), where "
        f"costs within {100 * design.cost_tolerance:g} % of the cheapest count as equal (the replay's precision) "
        "and go by the surprise cases' worst served share, then the deployed design (b). "
        f"Surprise cases: (i) every event draws {design.audience_factor:g}x its forecast while the plan uses the "
        f"forecast; (ii) every event of the season is announced {design.announced_minutes_before} min before its "
        f"kick-off and planned from then + one run of playbooks/event_scaling.yml ({design.playbook_run_seconds} s,"
        " assumed). Assumed for (a): an instance leaving the Stopped warm pool answers after "
        f"{design.warm_start_to_healthy_seconds} s (+ {model.health_check_seconds} s of health checks); "
        f"a Stopped instance costs its {ebs['gb_per_instance']} GiB gp3 root volume at {ebs['gp3_gb_month']} "
        f"{cur} per GB-month; the surge group is all on-demand.",
        "",
        *model_notes(study, sim),
        "As deployed (targets and MaxSize of playbooks/platform.yml):",
        "",
        head,
        rule,
        *rows(study["ranked"]),
        "",
    ]
    best = study["winner"]
    if best is not None:
        lines.append(f"Winner: ({best['option'].key}) {best['option'].title}, cost {best['cost']['mixed']:.0f} {cur}.")
    else:
        lines.append("No option meets every goal as deployed.")
    if study["max_sizes"]:
        tiers = {t.name: t for t in model.tiers}
        bounds = []
        for name, size in sorted(study["max_sizes"].items()):
            tier = tiers[name]
            need = largest.peak_viewers * design.audience_factor * tier.requests_per_viewer_per_minute
            bounds.append(
                f"{name}: {size} instances at 100 % utilisation for {largest.peak_viewers * design.audience_factor:.0f}"
                f" viewers ({largest.name}), max_size {tier.max_size} carries at most "
                f"{pct(tier.max_size * tier.capacity_rpm / need)} of it"
            )
        lines += [
            "",
            "What MaxSize allows: " + "; ".join(bounds) + ". No target-tracking target can serve more than MaxSize "
            "instances at 100 %. What-if: "
            + ", ".join(f"{name} max_size {size}" for name, size in sorted(study["max_sizes"].items()))
            + ", then (only if still short) the targets times "
            + ", ".join(f"{factor:g}" for factor in design.target_factors)
            + " in turn:",
            "",
            head.replace("| Option |", "| Option (x target factor) |"),
            rule,
        ]
        lines += rows(study["what_if"], factor=True)
        chosen = study["what_if_winner"]
        lines.append("")
        if chosen is not None:
            targets = ", ".join(f"{name} {value:g}" for name, value in sorted(chosen["targets"].items()))
            lines.append(
                f"Winner with that MaxSize: ({chosen['option'].key}) {chosen['option'].title}, cost "
                f"{chosen['cost']['mixed']:.0f} {cur}; targets {targets} per instance per minute "
                f"(x{chosen['factor']:g} the derived ones)."
            )
        else:
            lines.append("No option meets every goal with that MaxSize either.")
    chosen = study["winner"] or study["what_if_winner"]
    if chosen is not None:
        changes = changes_for(chosen | {"factor": chosen.get("factor", 1.0)}, model)
        lines += [
            "",
            f"To deploy ({chosen['option'].key}): "
            + ("; ".join(changes) if changes else "nothing, it is what the playbooks deploy")
            + ".",
        ]
    slowest = max(f["lead_seconds"] for f in study["figures"])
    lines += [
        "",
        f'Option (b) is the plan of the tables above ("planned"). Announced {design.announced_minutes_before} min '
        f"ahead, the playbook has run {design.announced_minutes_before - design.playbook_run_seconds / 60:g} min "
        "before kick-off, before every option's scale-out (lead time at most "
        f"{slowest // 60} min {slowest % 60:02d} s): "
        "the floors are the planned ones, so case (ii) equals the forecast. An announcement matters only when it comes "
        f"less than the lead time + {design.playbook_run_seconds} s before kick-off (the floor is then raised at once, "
        "UpdateAutoScalingGroup MinSize, and serves after the boot).",
        "",
        "A warm pool on the platform's spot group (option (a) without the separate on-demand group) is refused: "
        + "; ".join(aws_refusals(spot_pool, {})),
        "",
    ]
    return lines


def render(sim: dict[str, Any], prices: dict[str, Any], chart_name: str, study: dict[str, Any] | None = None) -> str:
    s = summary(sim, prices)
    model = sim["model"]
    cur = prices["currency"]
    t = s["totals"]
    days = sim["minutes"] / 1440
    lines = [
        f"Season: {s['events']} events over {days:.0f} days "
        f"({sim['events'][0].local_start[:10]} .. {sim['events'][-1].local_start[:10]} local, "
        f"{dst_changes(sim['events'])} DST change(s) inside); "
        f"lead time {model.lead_time_seconds} s = boot-to-healthy {model.boot_to_healthy_seconds} s + health checks "
        f"{model.health_check_seconds} s + safety margin {model.safety_margin_seconds} s; "
        f"{len(sim['actions'])} scheduled actions.",
        "",
        "Target tracking as deployed: "
        + "; ".join(f"{name}: {note}" for name, note in sorted(sim["scaling"].notes.items()))
        + f". Health check grace period {sim['scaling'].grace} s, instance warm-up {sim['scaling'].warmup} s"
        f" (boot budget {model.ready_seconds} s); every instance launches cold (no warm pool).",
        "",
        "| Figure | Planned (schedule + target tracking) | Reactive only | Fixed fleet for the peak |",
        "|---|---|---|---|",
        f"| Events with capacity InService >= {READY_GOAL_MINUTES} min before kick-off "
        f"| {s['covered']}/{s['events']} | {s['reactive_covered']}/{s['events']} | {s['events']}/{s['events']} |",
        f"| Worst share of requests served in an event window | {pct(s['min_served'])} "
        f"| {pct(s['min_reactive_served'])} | 100.0 % |",
        f"| Instance-hours | {t['planned']['hours']:.0f} | {t['reactive']['hours']:.0f} | {t['fixed']['hours']:.0f} |",
        f"| Cost, all on-demand ({cur}) | {t['planned']['on_demand']:.0f} | {t['reactive']['on_demand']:.0f} "
        f"| {t['fixed']['on_demand']:.0f} |",
        f"| Cost, {pct(prices['spot_share_above_baseline'])} spot above baseline ({cur}) "
        f"| {t['planned']['mixed']:.0f} | {t['reactive']['mixed']:.0f} | {t['fixed']['mixed']:.0f} |",
        "",
        f"Readiness margin: earliest {s['earliest']} min, latest {s['latest']} min before kick-off (goal >= "
        f"{READY_GOAL_MINUTES} min). Instance-hours: planned / fixed = {s['ratio_fixed']:.3f} (goal <= 0.5), "
        f"planned / reactive = {s['ratio_reactive']:.3f}. Fixed fleet: "
        + ", ".join(f"{name} {data['fixed_size']}" for name, data in sim["tiers"].items())
        + f" instances. If instances took twice the boot budget ({2 * model.boot_to_healthy_seconds} s) with the"
        f" grace period as deployed ({sim['scaling'].grace} s), EC2 Auto Scaling would replace them before they"
        f" are healthy: capacity InService >= {READY_GOAL_MINUTES} min before kick-off for"
        f" {s['slow_covered']}/{s['events']} events ({s['slow_never']} never had it during the event); with the"
        " grace period raised"
        f" to cover them, {s['slow_covered_covered']}/{s['events']} (latest {s['slow_covered_latest']} min).",
        "",
        *(render_options(study, sim, prices) if study is not None else []),
        f"![Season replay]({chart_name})",
        "",
        "Per event (times UTC; margin = minutes the needed capacity was InService before kick-off, negative = late;"
        " peak coverage = capacity at 100 % utilisation / load, worst minute of the event, worst tier;"
        " served = share of requests in the window from ramp start to decay end):",
        "",
        "| Kick-off (local) | Event | Viewers | Scale-out | Kick-off | Margin | Reactive margin "
        "| Peak coverage | Served | Served (reactive) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sim["results"]:
        ev = r.event
        # no action of its own: the floor of an earlier, larger event (or the baseline) already covers it
        out = r.scale_out.strftime("%m-%d %H:%M") if r.scale_out else "held"
        lines.append(
            f"| {ev.local_start.replace('T', ' ')} | {ev.name} | {ev.peak_viewers} | {out} "
            f"| {ev.start.astimezone(UTC).strftime('%m-%d %H:%M')} | {r.ready_margin} | {r.reactive_margin} "
            f"| {pct(r.peak_coverage)} | {pct(r.served)} | {pct(r.reactive_served)} |"
        )
    return "\n".join(lines) + "\n"


def chart(sim: dict[str, Any], path: Path, study: dict[str, Any] | None = None) -> None:
    import matplotlib  # noqa: PLC0415 - imported late: only the chart needs it, and the backend is set first

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 - after matplotlib.use()

    results = sim["results"]
    fig, (top, middle, bottom) = plt.subplots(3, 1, figsize=(12, 12), gridspec_kw={"height_ratios": [1.2, 1.2, 0.8]})
    index = np.arange(len(results))
    top.bar(index - 0.2, [r.ready_margin for r in results], 0.4, label="planned", color="tab:green")
    top.bar(index + 0.2, [r.reactive_margin for r in results], 0.4, label="reactive only", color="tab:red")
    top.axhline(READY_GOAL_MINUTES, color="black", linestyle="--", linewidth=1, label=f"goal {READY_GOAL_MINUTES} min")
    top.axhline(0, color="grey", linewidth=0.5)
    top.set_xticks(index, [r.event.local_start[5:10] for r in results], rotation=90, fontsize=7)
    top.set_ylabel("capacity InService before kick-off (min)")
    top.set_title("Readiness per event (worst tier)")
    top.set_ylim(min(-10, *(r.reactive_margin - 2 for r in results)), max(30, *(r.ready_margin + 8 for r in results)))
    top.legend(loc="upper right", ncol=3, fontsize=8)

    dst = next(e for e in sim["events"] if e.kind == "concert" and "DST" in e.name)
    lo = minute_of(dst.start - timedelta(hours=3), sim["origin"])
    hi = minute_of(dst.start + timedelta(hours=20), sim["origin"])
    data = sim["tiers"]["web"]
    tier = data["tier"]
    times = [sim["origin"] + timedelta(minutes=m) for m in range(lo, hi)]
    needed = np.ceil(data["requests"][lo:hi] / tier.capacity_rpm)
    middle.plot(times, needed, color="black", label="instances the load needs at 100 %")
    middle.plot(times, data["planned"].in_service[lo:hi], color="tab:green", label="planned: InService")
    middle.plot(times, data["reactive"].in_service[lo:hi], color="tab:red", label="reactive only: InService")
    middle.set_title("web tier around the DST change (27-28 March 2027, UTC): concert across it, Sunday matinee")
    middle.set_ylabel("instances")
    middle.legend(loc="upper right", fontsize=8)

    if study is None:
        summary_hours = {
            name: sum(d[name].instance_hours for d in sim["tiers"].values())
            for name in ("planned", "reactive", "fixed")
        }
        colours = ["tab:green", "tab:red", "tab:grey"]
    else:
        # the surge design options as deployed (forecast audiences), against reactive scaling alone; the
        # fixed fleet (tens of times more) is in the table
        summary_hours = {
            f"({f['option'].key}) cost {f['cost']['mixed']:.0f}, 2x: {pct(f['surprise']['double']['worst'])}": f[
                "hours"
            ]
            for f in sorted(study["what_if"], key=lambda f: f["option"].key)
        }
        summary_hours["reactive only"] = sum(d["reactive"].instance_hours for d in sim["tiers"].values())
        colours = ["tab:green"] * (len(summary_hours) - 1) + ["tab:red"]
    bottom.barh(list(summary_hours), list(summary_hours.values()), color=colours)
    for y, value in enumerate(summary_hours.values()):
        bottom.text(value, y, f" {value:.0f}", va="center", fontsize=9)
    bottom.set_xlabel(
        "instance-hours over the season (web + api)"
        + (
            ""
            if study is None
            else "; options: cost with purchase options, worst served share with every audience 2x"
            + (" (MaxSize " + ", ".join(f"{k} {v}" for k, v in sorted(study["max_sizes"].items())) + ")")
            * bool(study["max_sizes"])
        )
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)


def write_doc(doc: Path, report: str) -> None:
    text = doc.read_text()
    if MARK_START not in text or MARK_END not in text:
        raise SystemExit(f"{doc}: season-report markers not found")
    head, rest = text.split(MARK_START, 1)
    _, tail = rest.split(MARK_END, 1)
    doc.write_text(f"{head}{MARK_START}\n{report}{MARK_END}{tail}")


def read_yaml(path: Path, key: str | None = None) -> Any:
    data = yaml.safe_load(path.read_text())
    return data[key] if key else data


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--season", type=Path, default=ROOT / "simulation" / "season.yml")
    parser.add_argument("--load-model", type=Path, default=ROOT / "simulation" / "load_model.yml")
    parser.add_argument("--prices", type=Path, default=ROOT / "simulation" / "prices.yml")
    parser.add_argument(
        "--capacity", type=Path, default=ROOT / "inventories" / "production" / "group_vars" / "all" / "capacity.yml"
    )
    parser.add_argument(
        "--platform",
        type=Path,
        default=ROOT / "inventories" / "production" / "group_vars" / "all" / "platform.yml",
        help="the environment's platform settings (targets, grace period, warm-up)",
    )
    parser.add_argument(
        "--role-defaults", type=Path, default=ROOT / "roles" / "platform_autoscaling" / "defaults" / "main.yml"
    )
    parser.add_argument(
        "--web-target",
        type=float,
        help="what-if: the web tier's target in requests per target per minute (the playbook's rules are bypassed;"
        " implies --no-write and leaves out the surge design options)",
    )
    parser.add_argument(
        "--grace-period",
        type=int,
        help="what-if: health check grace period in seconds (implies --no-write, leaves out the surge design options)",
    )
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "live-events.md")
    parser.add_argument("--chart", type=Path, default=ROOT / "docs" / "live-events-season.png")
    parser.add_argument("--no-write", action="store_true", help="print the report only")
    args = parser.parse_args(argv)
    model_raw = read_yaml(args.capacity, "arena_capacity_model")
    scaling = deployed_scaling(
        model_raw,
        read_yaml(args.platform),
        read_yaml(args.role_defaults),
        web_target=args.web_target,
        grace=args.grace_period,
    )
    load_raw = read_yaml(args.load_model)
    sim = replay(read_yaml(args.season, "arena_events"), model_raw, load_raw, scaling)
    prices = read_yaml(args.prices)
    what_if = args.web_target is not None or args.grace_period is not None
    # a what-if of the deployed settings prints the three fleets only (the options study is the
    # deployed settings' and searches its own what-ifs)
    study = None if what_if else surge_study(sim, SurgeDesign.from_dict(load_raw["surge_design"]), prices)
    report = render(sim, prices, args.chart.name, study)
    sys.stdout.write(report)
    if not args.no_write and not what_if:
        chart(sim, args.chart, study)
        write_doc(args.doc, report)
        sys.stdout.write(f"\nwrote {args.chart.relative_to(ROOT)} and {args.doc.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
