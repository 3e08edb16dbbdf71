"""Sample metrics of a replayed event, for `make dashboard` (scripts/dashboard.py) in the lab's emulator.

The emulator runs no instances, load balancers or caches, so nothing publishes the metrics the
event-day dashboard shows. This writes them (PutMetricData, one datapoint per minute and metric) for
the last few hours, as if the first event of the local calendar had kicked off inside that window:

- derived from the season replay (simulation/replay.py) with the local capacity model
  (inventories/local/group_vars/all/capacity.yml) and load model (simulation/load_model.yml): the
  audience (ramp before kick-off, held through the event, decline after it), the requests of each
  tier (viewers x requests_per_viewer_per_minute), the scheduled floor (arena_scaling_schedule's
  actions) and the group's desired and in-service capacity under target tracking (replay.run_tier);
- illustrative, marked as such below (no model of them exists): response time from utilisation, a
  brief 5xx blip on web after kick-off, the instances' memory and disk, the cache's figures, SES reputation,
  CloudFront's error rate. A tier outside the capacity model (admin) has a flat load at its floor.

Which metrics to write is read from the dashboard body itself (every metric of every graph), with
each metric's dimensions in the body's order: the emulator (moto 5.2) matches dimensions only in the
order they were written. Refuses any endpoint that is not the loopback emulator: sample data must
never reach a real account.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
LOCAL_VARS = ROOT / "inventories" / "local" / "group_vars" / "all"
PUT_BATCH = 1000  # PutMetricData: up to 1000 metrics per request
DESCRIBE_BATCH = 100  # DescribeAlarms: up to 100 names per request

# Illustrative figures (no model of them exists; see the module docstring).
P99_AT_IDLE = 0.08  # s: TargetResponseTime p99 of an idle tier, growing as 1 / (1 - utilisation)
UTILISATION_CAP = 0.95
BLIP_MINUTES = (2, 5)  # the 5xx blip: from 2 to 5 minutes after kick-off
BLIP_TARGET_SHARE = 0.015  # share of the requests the targets answer 5xx during the blip
BLIP_ELB_SHARE = 0.002  # share the load balancer answers 5xx itself
FLAT_REQUESTS = 60.0  # requests per minute of a tier outside the capacity model (admin)
CONNECTIONS_PER_INSTANCE = 20  # cache connections of each api instance (its pool)


def require_emulator(endpoint: str | None) -> str:
    """The endpoint, when it is the loopback emulator; refuses anything else."""
    if not endpoint or not endpoint.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise SystemExit(f"dashboard: AWS_URL must point at the local emulator (scripts/emulator.sh), not {endpoint!r}")
    return endpoint


def load_replay() -> ModuleType:
    """simulation/replay.py as a module (it loads the calendar, capacity and schedule filters)."""
    name = "_arena_season_replay"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "simulation" / "replay.py")
        if spec is None or spec.loader is None:
            raise ImportError("cannot load simulation/replay.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def read_yaml(path: Path, key: str | None = None) -> Any:
    data = yaml.safe_load(path.read_text())
    return data[key] if key else data


@dataclass
class TierRun:
    """One tier over the window, per minute."""

    requests: np.ndarray
    in_service: np.ndarray
    desired: np.ndarray
    floor: np.ndarray
    capacity_rpm: float

    @property
    def utilisation(self) -> np.ndarray:
        return np.clip(self.requests / (np.maximum(self.in_service, 1) * self.capacity_rpm), 0, UTILISATION_CAP)


@dataclass
class Replay:
    """The replayed event and every modelled tier over [start, start + minutes)."""

    event: Any  # arena_calendar.Event, moved into the window
    start: datetime
    minutes: int
    tiers: dict[str, TierRun]

    @property
    def kickoff_minute(self) -> int:
        return int((self.event.start - self.start).total_seconds() // 60)

    def at(self, minute: int) -> datetime:
        return self.start + timedelta(minutes=minute)


def replay_event(end: datetime, hours: float = 4.0, kickoff_before_end: timedelta | None = None) -> Replay:
    """The first event of the local calendar replayed so that the window [end - hours, end) shows the
    baseline, the scheduled step-up, the ramp, the event, the decline and the return to the baseline."""
    replay = load_replay()
    model_raw = read_yaml(LOCAL_VARS / "capacity.yml", "arena_capacity_model")
    model = replay.capacity_lib.parse_model(model_raw, "make dashboard")
    load = replay.LoadModel.from_dict(read_yaml(ROOT / "simulation" / "load_model.yml"))
    scaling = replay.deployed_scaling(
        model_raw,
        read_yaml(LOCAL_VARS / "platform.yml"),
        read_yaml(ROOT / "roles" / "platform_autoscaling" / "defaults" / "main.yml"),
    )
    first = replay.calendar_lib.validate_events(read_yaml(LOCAL_VARS / "events.yml", "arena_events"), "make dashboard")[
        0
    ]
    end = end.astimezone(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(minutes=round(hours * 60))
    length = first.end - first.start
    # Kick-off placed so that the event, its decline, its tail and the return to the baseline end inside.
    tail = timedelta(seconds=model.tail_seconds) + timedelta(minutes=load.decay_minutes)
    kickoff = end - (kickoff_before_end or length + tail + timedelta(minutes=10))
    event = dataclasses.replace(first, start=kickoff, end=kickoff + length, past=False)
    minutes = int((end - start).total_seconds() // 60)
    viewers = replay.viewer_series([event], load, start, minutes)
    actions = replay.schedule_lib.build_schedule([event], model)
    ready = replay.launch_ready(model.ready_seconds, scaling.grace)
    tiers: dict[str, TierRun] = {}
    for tier in model.tiers:
        requests = viewers * tier.requests_per_viewer_per_minute
        steps = {replay.minute_of(a.start, start): (a.size, a.desired_capacity) for a in actions if a.tier == tier.name}
        run = replay.run_tier(tier, requests, load, ready, steps, target=scaling.targets[tier.name])
        floor = np.full(minutes, tier.min_size)
        for minute, (size, _desired) in sorted(steps.items()):
            floor[max(minute, 0) :] = size
        tiers[tier.name] = TierRun(requests, run.in_service, run.billed, floor, tier.capacity_rpm)
    return Replay(event=event, start=start, minutes=minutes, tiers=tiers)


def flat_tier(replay: Replay, size: int) -> TierRun:
    """A tier the capacity model does not plan (admin): a flat illustrative load at its floor."""
    flat = np.full(replay.minutes, size)
    return TierRun(np.full(replay.minutes, FLAT_REQUESTS), flat, flat, flat, capacity_rpm=6000.0)


# ---- which metrics, and their values -------------------------------------------------------------

MetricKey = tuple[str, str, str, tuple[tuple[str, str], ...]]  # region, namespace, name, dimensions


def parse_metric(entry: list[Any], previous: list[Any] | None) -> tuple[list[Any], dict[str, Any]]:
    """A widget's ``metrics`` entry as (namespace, name, dim name, value, ...) and its options;
    ``"."`` repeats the previous entry's item at that place (the console's shorthand)."""
    has_options = bool(entry) and isinstance(entry[-1], dict)
    options: dict[str, Any] = entry[-1] if has_options else {}
    parts = list(entry[:-1] if has_options else entry)
    if previous is not None:
        parts = [previous[i] if part == "." and i < len(previous) else part for i, part in enumerate(parts)]
    return parts, options


def body_metrics(body: dict[str, Any], default_region: str) -> Iterator[MetricKey]:
    """Every metric of every metric widget of the body (expressions left out), once each."""
    seen: set[MetricKey] = set()
    for widget in body.get("widgets", []):
        if widget.get("type") != "metric":
            continue
        properties = widget.get("properties", {})
        previous: list[Any] | None = None
        for entry in properties.get("metrics", []):
            parts, options = parse_metric(entry, previous)
            previous = parts
            if "expression" in options or len(parts) < 2:
                continue
            region = options.get("region") or properties.get("region") or default_region
            key = (region, parts[0], parts[1], tuple(zip(parts[2::2], parts[3::2], strict=False)))
            if key not in seen:
                seen.add(key)
                yield key


def tier_of(view: dict[str, Any]) -> dict[str, str]:
    """Dimension value -> tier: target groups and Auto Scaling groups of the view."""
    out = {}
    for name, tier in view.get("tiers", {}).items():
        out[tier["target_group"]] = name
        out[tier["group"]] = name
    return out


def blip(replay: Replay) -> np.ndarray:
    """1 during the minutes of the 5xx blip, else 0."""
    mask = np.zeros(replay.minutes)
    first, last = (replay.kickoff_minute + m for m in BLIP_MINUTES)
    mask[max(first, 0) : max(last, 0)] = 1
    return mask


def values(key: MetricKey, view: dict[str, Any], runs: dict[str, TierRun], replay: Replay) -> np.ndarray | None:
    """The metric's value per minute, or None for a metric this sample does not know.

    The blip: on the first tier of the capacity model (web), one target fails its health checks from
    2 to 5 minutes after kick-off and part of its answers are 5xx (a few from the load balancer)."""
    _region, namespace, name, dims = key
    d = dict(dims)
    blip_tier = "web" if "web" in replay.tiers else next(iter(replay.tiers))
    spike = blip(replay)
    none = np.zeros(replay.minutes)
    if namespace == "AWS/ApplicationELB" and name == "HTTPCode_ELB_5XX_Count":
        hit = view["tiers"].get(blip_tier, {}).get("load_balancer") == d.get("LoadBalancer")
        return np.round(runs[blip_tier].requests * BLIP_ELB_SHARE * spike) if hit else none
    tier = tier_of(view).get(d.get("TargetGroup") or d.get("AutoScalingGroupName") or "")
    if tier is not None:
        run, hit = runs[tier], spike if tier == blip_tier else none
        per_metric = {
            "RequestCount": run.requests,
            "HTTPCode_Target_5XX_Count": np.round(run.requests * BLIP_TARGET_SHARE * hit),
            "TargetResponseTime": P99_AT_IDLE / (1 - run.utilisation) * (1 + 2 * hit),
            "HealthyHostCount": run.in_service - hit,
            "UnHealthyHostCount": hit,
            "GroupInServiceInstances": run.in_service,
            "GroupDesiredCapacity": run.desired,
            "GroupMinSize": run.floor,
            "mem_used_percent": 30 + 45 * run.utilisation,
            "disk_used_percent": 20 + 0.01 * np.arange(replay.minutes),
        }
        return per_metric.get(name)
    api = runs.get("api") or runs[blip_tier]  # the cache serves the api tier
    replica = 0.5 if d.get("CacheClusterId") in ((view.get("cache") or {}).get("replicas") or []) else 1.0
    services = {
        ("AWS/ElastiCache", "EngineCPUUtilization"): (3 + 40 * api.utilisation) * replica,
        ("AWS/ElastiCache", "DatabaseMemoryUsagePercentage"): 28 + 12 * api.requests / api.requests.max(),
        ("AWS/ElastiCache", "Evictions"): none,
        ("AWS/ElastiCache", "CurrConnections"): api.in_service * CONNECTIONS_PER_INSTANCE * replica,
        ("AWS/ElastiCache", "ReplicationLag"): 0.01 + 0.05 * api.utilisation,
        ("AWS/SES", "Reputation.BounceRate"): np.full(replay.minutes, 0.008),
        ("AWS/SES", "Reputation.ComplaintRate"): np.full(replay.minutes, 0.0003),
        ("AWS/CloudFront", "5xxErrorRate"): np.full(replay.minutes, 0.02),
        ("AWS/NATGateway", "ErrorPortAllocation"): none,
    }
    return services.get((namespace, name))


def put_sample(
    clients: dict[str, Any], body: dict[str, Any], view: dict[str, Any], replay: Replay, floors: dict[str, int]
) -> tuple[int, list[str]]:
    """PutMetricData of every metric of ``body`` the sample knows; ``clients`` by region (CloudFront's
    metrics go to us-east-1). ``floors``: MinSize of the tiers outside the capacity model. Returns the
    datapoints written and the metrics left without data."""
    runs = dict(replay.tiers)
    for tier in view.get("tiers", {}):
        runs.setdefault(tier, flat_tier(replay, floors.get(tier, 1)))
    batches: dict[tuple[str, str], list[dict[str, Any]]] = {}
    unknown = []
    for key in body_metrics(body, view["region"]):
        series = values(key, view, runs, replay)
        if series is None:
            unknown.append(f"{key[1]} {key[2]}")
            continue
        region, namespace, name, dims = key
        dimensions = [{"Name": n, "Value": v} for n, v in dims]
        batches.setdefault((region, namespace), []).extend(
            {"MetricName": name, "Dimensions": dimensions, "Timestamp": replay.at(minute), "Value": float(value)}
            for minute, value in enumerate(series)
            if math.isfinite(value)
        )
    written = 0
    for (region, namespace), data in sorted(batches.items()):
        for first in range(0, len(data), PUT_BATCH):
            clients[region].put_metric_data(Namespace=namespace, MetricData=data[first : first + PUT_BATCH])
        written += len(data)
    return written, unknown


def settle_alarms(client: Any, names: list[str], reason: str) -> int:
    """The emulator evaluates no alarm: set each of ``names`` (metric alarms) to OK, as CloudWatch would
    after the replay (the blip is over); returns how many."""
    count = 0
    for first in range(0, len(names), DESCRIBE_BATCH):
        answer = client.describe_alarms(AlarmNames=names[first : first + DESCRIBE_BATCH], AlarmTypes=["MetricAlarm"])
        for alarm in answer.get("MetricAlarms", []):
            client.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue="OK", StateReason=reason)
            count += 1
    return count


# ---- the view of the lab's platform (until roles/platform_monitoring makes the dashboard) --------


def discover_view(
    clients: dict[str, Any], prefix: str, environment: str, region: str, namespace: str
) -> dict[str, Any]:
    """The dashboard filter's view of the platform in the emulator, read by the platform's names
    (<prefix>-<tier> target groups and groups, <prefix>-cache, <prefix>-static, <prefix>-mail) and
    its NAT gateways' Project/Environment tags."""
    elbv2, autoscaling = clients["elbv2"], clients["autoscaling"]
    tiers_order = list(read_yaml(ROOT / "tiers.yml", "arena_tiers"))
    groups = {g["AutoScalingGroupName"]: g for g in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]}
    tiers: dict[str, dict[str, str]] = {}
    for tg in sorted(elbv2.describe_target_groups()["TargetGroups"], key=lambda t: t["TargetGroupName"]):
        name = tg["TargetGroupName"]
        if not name.startswith(f"{prefix}-") or name not in groups or not tg.get("LoadBalancerArns"):
            continue
        tiers[name[len(prefix) + 1 :]] = {
            "load_balancer": tg["LoadBalancerArns"][0].split(":loadbalancer/", 1)[1],
            "target_group": "targetgroup/" + tg["TargetGroupArn"].split(":targetgroup/", 1)[1],
            "group": name,
        }
    ordered = dict(sorted(tiers.items(), key=lambda kv: tiers_order.index(kv[0]) if kv[0] in tiers_order else 99))
    cache = None
    found = clients["elasticache"].describe_replication_groups()["ReplicationGroups"]
    for group in (g for g in found if g["ReplicationGroupId"] == f"{prefix}-cache"):
        members = [m for ng in group.get("NodeGroups", []) for m in ng.get("NodeGroupMembers", [])]
        replicas = sorted(m["CacheClusterId"] for m in members if m.get("CurrentRole") == "replica")
        cache = {
            "replication_group": group["ReplicationGroupId"],
            "nodes": sorted(group["MemberClusters"]),
            "replicas": replicas,
        }
    items = clients["cloudfront"].list_distributions().get("DistributionList", {}).get("Items", [])
    cdn = next(({"distribution_id": d["Id"]} for d in items if d.get("Comment") == f"{prefix}-static"), None)
    sets = clients["sesv2"].list_configuration_sets().get("ConfigurationSets", [])
    email = {"configuration_set": f"{prefix}-mail"} if f"{prefix}-mail" in sets else None
    project = prefix[: -len(environment) - 1]
    filters = [
        {"Name": "tag:Project", "Values": [project]},
        {"Name": "tag:Environment", "Values": [environment]},
        {"Name": "state", "Values": ["pending", "available"]},
    ]
    nat = sorted(n["NatGatewayId"] for n in clients["ec2"].describe_nat_gateways(Filters=filters)["NatGateways"])
    alarms = {
        name: sorted(
            a["AlarmName"]
            for a in clients[f"cloudwatch:{name}"].describe_alarms(AlarmNamePrefix=f"{prefix}-")["MetricAlarms"]
        )
        for name in dict.fromkeys([region, "us-east-1"])
    }
    return {
        "environment": environment,
        "region": region,
        "name_prefix": prefix,
        "metrics_namespace": namespace,
        "account": clients["sts"].get_caller_identity()["Account"],
        "tiers": ordered,
        "cache": cache,
        "cdn": cdn,
        "email": email,
        "nat_gateways": nat,
        "alarms": {r: names for r, names in alarms.items() if names},
    }


def endpoint() -> str:
    return require_emulator(os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_URL"))
