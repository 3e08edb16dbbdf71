"""Event-day alarms: every CloudWatch alarm of an environment, derived from the platform and its models.

One source of what is watched, at which threshold, and which alarms a release canary uses:
``roles/platform_monitoring`` writes what ``arena_monitoring_alarms`` returns, ``playbooks/rollout.yml``
names ``arena_release_alarm_names`` in each tier's instance refresh, and the unit tests hold every tier
and every platform service to having alarms (tests/unit/filters/test_monitoring_alarms.py).

The view (``arena_monitoring_view`` module, read from the platform):
    ``{"name_prefix", "region", "tiers": {tier: {"load_balancer", "target_group", "group"}},
    "cache": {"replication_group", "nodes", "replicas"} | None, "cdn": {"distribution_id"} | None,
    "email": {...} | None, "nat_gateways": [ids]}``; dimension values as CloudWatch wants them
    (``app/<lb>/<id>``, ``targetgroup/<tg>/<id>``).

What is watched (AWS's metric pages: DOC_ALB_METRICS, DOC_ASG_METRICS, DOC_CACHE_METRICS,
DOC_CDN_METRICS, DOC_SES_METRICS, DOC_NAT_METRICS):
    per tier    the share of the targets' answers that are 5xx and the unhealthy hosts (both the release
                canary's), the targets' p99 response time, requests per target above the share of an
                instance's measured capacity (tiers of the capacity model), in-service instances below
                the group's minimum (the scheduled floor) for longer than the boot budget;
    per load balancer   its own 5xx share (ELB_5XX: no target answered), rejected connections;
    cache       per node engine CPU, memory, evictions, connections; replication lag per replica;
    cdn         CloudFront's 5xx error rate (us-east-1 only: CloudFront publishes its metrics there);
    email       SES reputation bounce and complaint rates, below the rates at which AWS reviews an
                account (DOC_SES_REVIEW: 5 % bounces, 0.1 % complaints);
    network     NAT gateway port allocation errors.
The composite ``<prefix>-event-at-risk`` is in alarm when any of the regional alarms that mean viewers
are being failed now is (PutCompositeAlarm: rule at most 10240 characters; DOC_COMPOSITE).

Filters (each raises ``AnsibleFilterError("<filter>: ...")`` naming the variable and the rule):
    ``arena_monitoring_alarms(view, thresholds, model, topics)``: {"regional": [PutMetricAlarm
    requests], "us_east_1": [...], "composite": PutCompositeAlarm request or None}.
    ``arena_release_alarm_names(tiers, prefix)``: {tier: [the canary's alarm names]}.
    ``arena_check_monitoring_thresholds(thresholds, variable)``: the thresholds, or a refusal.
"""

from __future__ import annotations

import math
import runpy
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

_PLUGIN_LOADER = Path(__file__).resolve().parent.parent / "module_utils" / "arena_plugin_loader.py"
load_sibling = runpy.run_path(str(_PLUGIN_LOADER))["load_filter_file"]
capacity_lib = load_sibling("arena_capacity")

DOC_ALB_METRICS = (
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html"
)
DOC_ASG_METRICS = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-metrics.html"
DOC_CACHE_METRICS = "https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/CacheMetrics.Redis.html"
DOC_CDN_METRICS = (
    "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/programming-cloudwatch-metrics.html"
)
DOC_SES_METRICS = "https://docs.aws.amazon.com/ses/latest/dg/reputationdashboard-cloudwatch-alarm.html"
DOC_SES_REVIEW = "https://docs.aws.amazon.com/ses/latest/dg/faqs-enforcement.html"
DOC_NAT_METRICS = "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway-cloudwatch.html"
DOC_COMPOSITE = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutCompositeAlarm.html"

VARIABLE = "platform_monitoring_thresholds"
# The release canary's alarms of a tier, by suffix (<prefix>-<tier>-<suffix>).
RELEASE_SUFFIXES = ("target-5xx", "unhealthy-hosts")
# The platform services and what of the view watches each (the roles of playbooks/platform_services.yml,
# and the core's NAT gateways): a new service role without an entry here fails the unit test.
SERVICE_VIEW_KEYS = {"platform_cache": "cache", "platform_static": "cdn", "platform_email": "email"}
# AWS's review thresholds of an SES account (DOC_SES_REVIEW), as fractions: the alarms must fire below.
SES_REVIEW = {"bounce_rate_percent": 5.0, "complaint_rate_percent": 0.1}
# ElastiCache for Redis: maxclients is 65000 and cannot be changed (DOC_CACHE_METRICS, CurrConnections).
CACHE_MAX_CLIENTS = 65000
RULE_LIMIT = 10240
# Threshold keys: (kind, lower bound exclusive, upper bound inclusive or None).
THRESHOLD_RULES: dict[str, tuple[str, float, float | None]] = {
    "evaluation_periods": ("int", 0, 60),
    "datapoints_to_alarm": ("int", 0, 60),
    "target_5xx_percent": ("number", 0, 100),
    "elb_5xx_percent": ("number", 0, 100),
    "min_requests_per_minute": ("int", 0, None),
    "unhealthy_hosts": ("int", 0, None),
    "rejected_connections_per_minute": ("int", 0, None),
    "overload_percent": ("number", 0, 100),
    "cache_cpu_percent": ("number", 0, 100),
    "cache_memory_percent": ("number", 0, 100),
    "cache_evictions_per_minute": ("int", 0, None),
    "cache_connections_percent": ("number", 0, 100),
    "cache_replication_lag_seconds": ("number", 0, None),
    "cdn_5xx_percent": ("number", 0, 100),
    "bounce_rate_percent": ("number", 0, 100),
    "complaint_rate_percent": ("number", 0, 100),
    "nat_port_allocation_errors": ("int", 0, None),
}


def _fail(fname: str, message: str) -> AnsibleFilterError:
    return AnsibleFilterError(f"{fname}: {message}")


def check_thresholds(raw: Any, variable: str = VARIABLE, fname: str = "arena_check_monitoring_thresholds") -> dict:
    """The thresholds, each a number in its range, cross-field rules held; else a refusal naming it."""
    if not isinstance(raw, dict):
        raise _fail(fname, f"{variable} must be a mapping, got {raw!r}")
    missing = sorted((set(THRESHOLD_RULES) | {"latency_p99_seconds"}) - set(raw))
    if missing:
        raise _fail(fname, f"{variable} lacks {', '.join(missing)}")
    unknown = sorted(set(raw) - set(THRESHOLD_RULES) - {"latency_p99_seconds"})
    if unknown:
        raise _fail(fname, f"{variable} has unknown keys {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for key, (kind, low, high) in THRESHOLD_RULES.items():
        value = raw[key]
        ok_type = isinstance(value, int) if kind == "int" else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok_type or not value > low or (high is not None and value > high):
            bound = f"in ({low:g}, {high:g}]" if high is not None else f"above {low:g}"
            raise _fail(
                fname,
                f"{variable}.{key} must be {'an integer' if kind == 'int' else 'a number'} {bound}, got {value!r}",
            )
        out[key] = value
    if out["datapoints_to_alarm"] > out["evaluation_periods"]:
        raise _fail(
            fname,
            f"{variable}.datapoints_to_alarm ({out['datapoints_to_alarm']}) is over evaluation_periods "
            f"({out['evaluation_periods']}): such an alarm can never fire (PutMetricAlarm refuses it)",
        )
    for key, review in SES_REVIEW.items():
        if out[key] >= review:
            raise _fail(
                fname,
                f"{variable}.{key} is {out[key]} %, at or above the {review} % at which AWS puts the account "
                f"under review ({DOC_SES_REVIEW}): the alarm must fire before that",
            )
    latency = raw["latency_p99_seconds"]
    if not isinstance(latency, dict) or not latency:
        raise _fail(fname, f"{variable}.latency_p99_seconds must map each tier to seconds, got {latency!r}")
    for tier, seconds in latency.items():
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= 60:
            raise _fail(fname, f"{variable}.latency_p99_seconds.{tier} must be a number in (0, 60], got {seconds!r}")
    out["latency_p99_seconds"] = dict(latency)
    return out


def arena_check_monitoring_thresholds(raw: Any, variable: str = VARIABLE) -> dict:
    """Filter: the thresholds when they make sense, else a refusal naming the key."""
    return check_thresholds(raw, variable)


def arena_release_alarm_names(tiers: Any, prefix: str) -> dict[str, list[str]]:
    """Filter: the release canary's alarm names of each tier (the instance refresh's AlarmSpecification)."""
    names = list(tiers.keys()) if isinstance(tiers, dict) else list(tiers)
    return {tier: [f"{prefix}-{tier}-{suffix}" for suffix in RELEASE_SUFFIXES] for tier in names}


def _dims(**pairs: str) -> list[dict[str, str]]:
    return [{"Name": k, "Value": v} for k, v in pairs.items()]


def _metric(namespace: str, name: str, dims: list[dict[str, str]], stat: str, period: int) -> dict[str, Any]:
    return {"Namespace": namespace, "MetricName": name, "Dimensions": dims, "Period": period, **_statistic(stat)}


def _statistic(stat: str) -> dict[str, str]:
    return {"ExtendedStatistic": stat} if stat.startswith("p") else {"Statistic": stat}


def _share(errors: dict[str, Any], requests: dict[str, Any], minimum: int, label: str) -> list[dict[str, Any]]:
    """Metric math: 100 x errors / requests once a minute has `minimum` requests, else 0."""

    def query(qid: str, metric: dict[str, Any]) -> dict[str, Any]:
        return {
            "Id": qid,
            "ReturnData": False,
            "MetricStat": {
                "Period": 60,
                "Stat": "Sum",
                "Metric": {k: metric[k] for k in ("Namespace", "MetricName", "Dimensions")},
            },
        }

    return [
        query("errors", errors),
        query("requests", requests),
        {
            "Id": "share",
            "ReturnData": True,
            "Label": label,
            "Expression": f"IF(requests >= {minimum}, 100 * errors / requests, 0)",
        },
    ]


class _Builder:
    """Collects the alarms of one environment; every alarm goes through `add`."""

    def __init__(self, prefix: str, thresholds: dict[str, Any], topics: dict[str, str], home: str) -> None:
        self.prefix = prefix
        self.home = home
        self.t = thresholds
        self.topics = topics
        self.regional: list[dict[str, Any]] = []
        self.us_east_1: list[dict[str, Any]] = []
        self.at_risk: list[str] = []

    def short(self, name: str) -> str:
        """`name` without the environment's prefix (arena-local-cache-001 -> cache-001)."""
        return name[len(self.prefix) + 1 :] if name.startswith(self.prefix + "-") else name

    def add(self, name: str, description: str, body: dict[str, Any], *, risk: bool = False, **kw: Any) -> None:
        region = kw.pop("region", "regional")
        if region == "us_east_1" and self.home == "us-east-1":  # the platform's own region
            region = "regional"
        topic = self.topics.get(region, "")
        alarm = {
            "AlarmName": f"{self.prefix}-{name}",
            "AlarmDescription": description,
            "ComparisonOperator": kw.pop("operator", "GreaterThanOrEqualToThreshold"),
            "EvaluationPeriods": kw.pop("periods", self.t["evaluation_periods"]),
            "DatapointsToAlarm": kw.pop("datapoints", self.t["datapoints_to_alarm"]),
            "TreatMissingData": "notBreaching",
            "ActionsEnabled": bool(topic),
            "AlarmActions": [topic] if topic else [],
            "OKActions": [topic] if topic else [],
            **body,
        }
        (self.us_east_1 if region == "us_east_1" else self.regional).append(alarm)
        if risk:
            self.at_risk.append(alarm["AlarmName"])


def _share_alarm(b: _Builder, name: str, description: str, spec: tuple[str, list[dict[str, str]], Any, str]) -> None:
    """An alarm on the share of a load balancer's answers that are 5xx: (errors metric, dimensions,
    threshold per cent, label), over RequestCount of the same dimensions, in the event-at-risk rule."""
    errors, dims, percent, label = spec
    alb = "AWS/ApplicationELB"
    share = _share(
        _metric(alb, errors, dims, "Sum", 60),
        _metric(alb, "RequestCount", dims, "Sum", 60),
        b.t["min_requests_per_minute"],
        label,
    )
    b.add(name, description, {"Threshold": float(percent), "Metrics": share}, risk=True)


def _tier_alarms(b: _Builder, tier: str, ids: dict[str, str], model: Any) -> None:
    t = b.t
    dims = _dims(TargetGroup=ids["target_group"], LoadBalancer=ids["load_balancer"])
    alb = "AWS/ApplicationELB"
    _share_alarm(
        b,
        f"{tier}-target-5xx",
        f"Share of the {tier} targets' answers that are 5xx, per cent (release canary; {DOC_ALB_METRICS})",
        ("HTTPCode_Target_5XX_Count", dims, t["target_5xx_percent"], "5xx per cent of requests"),
    )
    b.add(
        f"{tier}-unhealthy-hosts",
        f"Unhealthy {tier} targets (release canary)",
        {"Threshold": float(t["unhealthy_hosts"]), **_metric(alb, "UnHealthyHostCount", dims, "Maximum", 60)},
        risk=True,
    )
    latency = t["latency_p99_seconds"].get(tier)
    if latency is None:
        raise _fail("arena_monitoring_alarms", f"{VARIABLE}.latency_p99_seconds has no value for tier {tier!r}")
    b.add(
        f"{tier}-latency-p99",
        f"p99 of the {tier} targets' response time above {latency} s",
        {"Threshold": float(latency), **_metric(alb, "TargetResponseTime", dims, "p99", 60)},
        risk=True,
    )
    # In service below the group's minimum (the scheduled floor of an event) for longer than a launch
    # takes: boot to healthy plus the health checks, rounded up to minutes, plus one.
    ready = model.ready_seconds if model is not None else 300
    minutes = math.ceil(ready / 60) + 1
    group = _dims(AutoScalingGroupName=ids["group"])
    b.add(
        f"{tier}-capacity-shortfall",
        f"{tier} instances in service below the group's minimum (scheduled floor) for over {minutes} min "
        f"(boot budget {ready} s; group metrics, {DOC_ASG_METRICS})",
        {
            "Threshold": 1.0,
            "Metrics": [
                {
                    "Id": "floor",
                    "ReturnData": False,
                    "MetricStat": {
                        "Period": 60,
                        "Stat": "Minimum",
                        "Metric": {"Namespace": "AWS/AutoScaling", "MetricName": "GroupMinSize", "Dimensions": group},
                    },
                },
                {
                    "Id": "inservice",
                    "ReturnData": False,
                    "MetricStat": {
                        "Period": 60,
                        "Stat": "Minimum",
                        "Metric": {
                            "Namespace": "AWS/AutoScaling",
                            "MetricName": "GroupInServiceInstances",
                            "Dimensions": group,
                        },
                    },
                },
                {"Id": "shortfall", "ReturnData": True, "Label": "instances short", "Expression": "floor - inservice"},
            ],
        },
        risk=True,
        periods=minutes,
        datapoints=minutes,
    )
    scaled = {x.name: x for x in model.tiers} if model is not None else {}
    if tier in scaled:
        ceiling = round(scaled[tier].capacity_rpm * t["overload_percent"] / 100.0, 2)
        b.add(
            f"{tier}-overload",
            f"{tier} requests per target above {t['overload_percent']} % of an instance's capacity "
            f"({scaled[tier].capacity_rpm:g} requests a minute, capacity model)",
            {
                "Threshold": ceiling,
                **_metric(alb, "RequestCountPerTarget", _dims(TargetGroup=ids["target_group"]), "Sum", 60),
            },
        )


def _lb_alarms(b: _Builder, lb: str) -> None:
    t = b.t
    short = b.short(lb.split("/")[1] if lb.count("/") >= 2 else lb)
    dims = _dims(LoadBalancer=lb)
    alb = "AWS/ApplicationELB"
    _share_alarm(
        b,
        f"lb-{short}-elb-5xx",
        f"Share of the {short} load balancer's answers that are its own 5xx (no target answered)",
        ("HTTPCode_ELB_5XX_Count", dims, t["elb_5xx_percent"], "ELB 5xx per cent of requests"),
    )
    b.add(
        f"lb-{short}-rejected-connections",
        f"Connections the {short} load balancer rejected (it reached its maximum)",
        {
            "Threshold": float(t["rejected_connections_per_minute"]),
            **_metric(alb, "RejectedConnectionCount", dims, "Sum", 60),
        },
        risk=True,
    )


def _cache_alarms(b: _Builder, cache: dict[str, Any]) -> None:
    t = b.t
    ns = "AWS/ElastiCache"
    replicas = set(cache.get("replicas") or [])
    for node in cache["nodes"]:
        dims = _dims(CacheClusterId=node)
        short = b.short(node)
        b.add(
            f"{short}-cpu",
            f"Redis engine CPU of {node} above {t['cache_cpu_percent']} % (single-threaded engine)",
            {"Threshold": float(t["cache_cpu_percent"]), **_metric(ns, "EngineCPUUtilization", dims, "Average", 60)},
            risk=True,
        )
        b.add(
            f"{short}-memory",
            f"Memory of {node} above {t['cache_memory_percent']} % of maxmemory",
            {
                "Threshold": float(t["cache_memory_percent"]),
                **_metric(ns, "DatabaseMemoryUsagePercentage", dims, "Maximum", 60),
            },
            risk=True,
        )
        b.add(
            f"{short}-evictions",
            f"{node} evicts keys (memory full)",
            {"Threshold": float(t["cache_evictions_per_minute"]), **_metric(ns, "Evictions", dims, "Sum", 60)},
            risk=True,
        )
        connections = math.floor(CACHE_MAX_CLIENTS * t["cache_connections_percent"] / 100.0)
        b.add(
            f"{short}-connections",
            f"Client connections of {node} above {connections} ({t['cache_connections_percent']} % of "
            f"Redis's {CACHE_MAX_CLIENTS})",
            {"Threshold": float(connections), **_metric(ns, "CurrConnections", dims, "Maximum", 60)},
        )
        if node in replicas:
            b.add(
                f"{short}-replication-lag",
                f"Replica {node} lags the primary by {t['cache_replication_lag_seconds']} s or more",
                {
                    "Threshold": float(t["cache_replication_lag_seconds"]),
                    **_metric(ns, "ReplicationLag", dims, "Maximum", 60),
                },
            )


def _fixed(views: dict[str, Any], b: _Builder) -> None:
    t = b.t
    cdn = views.get("cdn")
    if cdn:
        b.add(
            "cdn-5xx",
            f"CloudFront 5xx error rate of the static content above {t['cdn_5xx_percent']} % ({DOC_CDN_METRICS})",
            {
                "Threshold": float(t["cdn_5xx_percent"]),
                **_metric(
                    "AWS/CloudFront",
                    "5xxErrorRate",
                    _dims(DistributionId=cdn["distribution_id"], Region="Global"),
                    "Average",
                    60,
                ),
            },
            region="us_east_1",
        )
    if views.get("email"):
        # SES publishes the reputation rates about hourly, account-wide (DOC_SES_METRICS).
        for key, metric in (
            ("bounce_rate_percent", "Reputation.BounceRate"),
            ("complaint_rate_percent", "Reputation.ComplaintRate"),
        ):
            kind = key.split("_")[0]
            b.add(
                f"mail-{kind}-rate",
                f"SES {kind} rate at {t[key]} % (AWS reviews the account at {SES_REVIEW[key]} %; {DOC_SES_REVIEW})",
                {"Threshold": t[key] / 100.0, **_metric("AWS/SES", metric, [], "Maximum", 3600)},
                periods=1,
                datapoints=1,
            )
    for nat in views.get("nat_gateways") or []:
        b.add(
            f"{nat}-port-allocation",
            f"NAT gateway {nat} cannot allocate source ports (too many connections to one destination)",
            {
                "Threshold": float(t["nat_port_allocation_errors"]),
                **_metric("AWS/NATGateway", "ErrorPortAllocation", _dims(NatGatewayId=nat), "Sum", 60),
            },
            risk=True,
        )


def _check_view(view: Any, fname: str) -> dict[str, Any]:
    if not isinstance(view, dict):
        raise _fail(fname, f"the platform view must be a mapping, got {view!r}")
    if not view.get("name_prefix"):
        raise _fail(fname, "the platform view lacks name_prefix")
    if not isinstance(view.get("tiers"), dict):
        raise _fail(fname, "the platform view's tiers must be a mapping of tier to its dimensions")
    for tier, ids in view["tiers"].items():
        for key in ("load_balancer", "target_group", "group"):
            if not isinstance(ids, dict) or not ids.get(key):
                raise _fail(fname, f"tier {tier} of the platform view lacks {key} (is the platform built?)")
    cache = view.get("cache")
    if cache and not (isinstance(cache.get("nodes"), list) and cache["nodes"]):
        raise _fail(fname, "the view's cache lacks its nodes")
    if view.get("cdn") and not view["cdn"].get("distribution_id"):
        raise _fail(fname, "the view's cdn lacks distribution_id")
    return view


def arena_monitoring_alarms(view: Any, thresholds: Any, model: Any = None, topics: Any = None) -> dict[str, Any]:
    """Filter: every alarm of the environment (see the module docstring)."""
    fname = "arena_monitoring_alarms"
    view = _check_view(view, fname)
    t = check_thresholds(thresholds, VARIABLE, fname)
    parsed = capacity_lib.parse_model(model, fname) if model else None
    b = _Builder(view["name_prefix"], t, dict(topics or {}), view.get("region", ""))
    for tier in sorted(view["tiers"]):
        _tier_alarms(b, tier, view["tiers"][tier], parsed)
    for lb in sorted({ids["load_balancer"] for ids in view["tiers"].values()}):
        _lb_alarms(b, lb)
    if view.get("cache"):
        _cache_alarms(b, view["cache"])
    _fixed(view, b)
    for alarm in b.regional + b.us_east_1:
        if len(alarm["AlarmName"]) > 255:
            raise _fail(fname, f"alarm name {alarm['AlarmName']!r} is over 255 characters (PutMetricAlarm)")
    composite = None
    if b.at_risk:
        rule = " OR ".join(f'ALARM("{name}")' for name in b.at_risk)
        if len(rule) > RULE_LIMIT:
            raise _fail(fname, f"the event-at-risk rule is {len(rule)} characters, over {RULE_LIMIT} ({DOC_COMPOSITE})")
        topic = b.topics.get("regional", "")
        composite = {
            "AlarmName": f"{b.prefix}-event-at-risk",
            "AlarmDescription": (
                "Viewers are being failed now: any tier's errors, latency, unhealthy hosts or capacity "
                "below its scheduled floor, a load balancer's errors, the cache's pressure or NAT ports "
                "(docs/observability.md)"
            ),
            "AlarmRule": rule,
            "ActionsEnabled": bool(topic),
            "AlarmActions": [topic] if topic else [],
            "OKActions": [topic] if topic else [],
        }
    if b.topics.get("regional") and b.us_east_1 and not b.topics.get("us_east_1"):
        raise _fail(fname, "alarms in us-east-1 (CloudFront) need a topic there: topics.us_east_1 is empty")
    return {"regional": b.regional, "us_east_1": b.us_east_1, "composite": composite}


class FilterModule:
    """arena_monitoring_alarms, arena_release_alarm_names, arena_check_monitoring_thresholds."""

    def filters(self) -> dict[str, Any]:
        return {
            "arena_monitoring_alarms": arena_monitoring_alarms,
            "arena_release_alarm_names": arena_release_alarm_names,
            "arena_check_monitoring_thresholds": arena_check_monitoring_thresholds,
        }
