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
again: it is billed and never serves. Every instance launches cold (no warm pool: AWS refuses warm
pools on groups with a mixed instances policy, which every platform group has).

Reports per event when the planned capacity is InService versus kick-off, the coverage at peak and
the share of requests served; per season instance-hours and an estimated cost. Writes Markdown to
stdout and into docs/live-events.md (between the season-report markers) and a PNG chart.

Run: ``make simulate-season`` (or ``python simulation/replay.py --help``).
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
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
    """Per-minute series of one tier under one strategy."""

    in_service: np.ndarray
    billed: np.ndarray

    @property
    def instance_hours(self) -> float:
        return float(self.billed.sum()) / 60.0


@dataclass
class Fleet:
    """An ASG in minutes: instances launched now are InService ``ready`` minutes later (never when
    ``ready`` is None: replaced at the end of every grace period, see launch_ready)."""

    ready: int | None
    in_service: int
    max_size: int
    floor: int
    pending: list[tuple[float, int]] = field(default_factory=list)

    @property
    def desired(self) -> int:
        return self.in_service + sum(count for _, count in self.pending)

    def promote(self, minute: int) -> None:
        arrived = sum(count for at, count in self.pending if at <= minute)
        self.pending = [(at, count) for at, count in self.pending if at > minute]
        self.in_service += arrived

    def set_desired(self, wanted: int, minute: int) -> None:
        wanted = max(self.floor, min(self.max_size, wanted))
        current = self.desired
        if wanted > current:
            self.pending.append((math.inf if self.ready is None else minute + self.ready, wanted - current))
            return
        surplus = current - wanted
        while surplus and self.pending:  # cancel the newest launches first
            at, count = self.pending.pop()
            keep = max(0, count - surplus)
            surplus -= count - keep
            if keep:
                self.pending.append((at, keep))
        self.in_service -= surplus


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


def run_tier(
    tier: Any,
    requests: np.ndarray,
    load: LoadModel,
    ready: int | None,
    actions: dict[int, tuple[int, int | None]],
    *,
    target: float | None = None,
) -> Timeline:
    """Target tracking with optional scheduled actions (minute -> (MinSize, DesiredCapacity or None)).

    ``target``: requests per target per minute (default: the plan's, capacity x (1 - headroom)). The
    metric is ALBRequestCountPerTarget as AWS defines it: the requests of a minute divided by the
    targets InService (healthy) in that minute, seen ``metric_delay`` minutes later. Instances still
    booting count toward the desired capacity (the warm-up covers the boot budget), never toward the
    metric's divisor."""
    target = rules_lib.per_minute_target(tier) if target is None else target
    fleet = Fleet(ready=ready, in_service=tier.min_size, max_size=tier.max_size, floor=tier.min_size)
    in_service = np.zeros(len(requests), dtype=int)
    billed = np.zeros(len(requests), dtype=int)
    high = low = 0
    for minute in range(len(requests)):
        fleet.promote(minute)
        if minute in actions:
            floor, desired = actions[minute]
            fleet.floor = floor
            # EC2 Auto Scaling: without a DesiredCapacity the new MinSize raises a lower desired
            # capacity to it and leaves a higher one alone; with one, the group goes to it.
            fleet.set_desired(max(fleet.desired, floor) if desired is None else desired, minute)
        seen = max(0, minute - load.metric_delay)
        observed = requests[seen]
        healthy = fleet.in_service if seen == minute else in_service[seen]
        per_target = observed / max(healthy, 1)  # RequestCountPerTarget of that minute
        high = high + 1 if per_target > target else 0
        low = low + 1 if per_target < target * load.in_ratio else 0
        wanted = math.ceil(observed / target)
        if high >= load.out_points and wanted > fleet.desired:
            fleet.set_desired(wanted, minute)
        if low >= load.in_points and wanted < fleet.desired:
            fleet.set_desired(wanted, minute)
            low = 0
        in_service[minute] = fleet.in_service
        billed[minute] = fleet.desired
    return Timeline(in_service=in_service, billed=billed)


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


def render(sim: dict[str, Any], prices: dict[str, Any], chart_name: str) -> str:
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


def chart(sim: dict[str, Any], path: Path) -> None:
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

    summary_hours = {
        name: sum(d[name].instance_hours for d in sim["tiers"].values()) for name in ("planned", "reactive", "fixed")
    }
    bottom.barh(list(summary_hours), list(summary_hours.values()), color=["tab:green", "tab:red", "tab:grey"])
    for y, value in enumerate(summary_hours.values()):
        bottom.text(value, y, f" {value:.0f}", va="center", fontsize=9)
    bottom.set_xlabel("instance-hours over the season (web + api)")
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
        " implies --no-write)",
    )
    parser.add_argument(
        "--grace-period", type=int, help="what-if: health check grace period in seconds (implies --no-write)"
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
    sim = replay(read_yaml(args.season, "arena_events"), model_raw, read_yaml(args.load_model), scaling)
    prices = read_yaml(args.prices)
    report = render(sim, prices, args.chart.name)
    sys.stdout.write(report)
    if not args.no_write and args.web_target is None and args.grace_period is None:
        chart(sim, args.chart)
        write_doc(args.doc, report)
        sys.stdout.write(f"\nwrote {args.chart.relative_to(ROOT)} and {args.doc.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
