"""Event-day dashboard filter: the platform of an environment and its event calendar -> the
DashboardBody of a CloudWatch dashboard (issue 18).

``view`` is what roles/platform_monitoring knows of the platform: library/arena_monitoring_view.py's
answer with ``environment``, ``metrics_namespace`` and ``alarms`` added (a service that is not built is
null, or an empty list)::

    environment: local                      # the environment's name
    region: eu-west-1                       # the platform's region (metric widgets read it)
    name_prefix: arena-local
    metrics_namespace: Arena/Instances      # the instance agent's memory and disk metrics
    account: "123456789012"                 # with partition: the ARNs of alarms given by name
    partition: aws                          # (optional: derived from the region)
    tiers:                                  # every tier gets the same widgets, in this order
      web: {load_balancer: app/arena-local-public/50dc6c495c0c9188,       # dimension LoadBalancer
            target_group: targetgroup/arena-local-web/73e2d6bc24d8a067,    # dimension TargetGroup
            group: arena-local-web}                                         # AutoScalingGroupName
    cache: {replication_group: arena-local-cache, nodes: [arena-local-cache-001, ...],   # or null
            replicas: [arena-local-cache-002]}    # optional: the nodes with a ReplicationLag
    cdn: {distribution_id: E2QWRUHEXAMPLE}                                               # or null
    email: {configuration_set: arena-local}                                              # or null
    nat_gateways: [nat-0123]                                                    # or [] or null
    alarms: [arena-local-web-target-5xx, ...]   # names in the view's region, or ARNs; or a mapping
                                                # region -> names (CloudFront's are in us-east-1)

``events`` is ``arena_events``' output (filter_plugins/arena_calendar.py: name, start_utc ...);
``options``: ``now`` (UTC text, null = the current time), ``horizon_days`` (14), ``period_seconds`` (60).

The body, top to bottom on the 24-column grid: a header (what this is, the kick-offs ahead) beside
the alarm status widget; per tier a header row and six graphs (requests, 5xx of the targets and of the
load balancer, TargetResponseTime p99, capacity of the Auto Scaling group against its floor, healthy
and unhealthy targets, the instances' memory and disk); then the services: the cache per node, SES
reputation (account level), CloudFront's 5xx rate (its metrics live in us-east-1), NAT port
allocation errors. Every kick-off (event start, UTC) from ``now`` to ``now + horizon_days`` is a
vertical annotation on every graph, labelled with the event's name.

Dimensions are listed in one order everywhere (TargetGroup before LoadBalancer, as the platform's
release alarms list them): CloudWatch matches them in any order, and the lab's emulator (moto 5.2)
only in the order they were written.

PutDashboard refuses a body outside what the body structure allows (DOC_BODY) and the dashboard
quotas (DOC_QUOTAS); ``body_problems`` checks those here, so a bad view fails the play before any
call, naming the limit.

Filters:
    ``arena_dashboard_body(view, events, options)``: the DashboardBody as a mapping.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from ansible.errors import AnsibleFilterError

FNAME = "arena_dashboard_body"
DOC_BODY = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html"
DOC_QUOTAS = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html"
DOC_ALB_METRICS = (
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html"
)

# DOC_BODY: "an array of between 0 and 500 widget objects"; a widget is 1-24 columns wide on the
# 24-column grid and 1-1000 rows high; an alarm status widget lists 1-100 alarm ARNs.
GRID_WIDTH = 24
MAX_WIDGETS = 500
MAX_HEIGHT = 1000
MAX_ALARMS_PER_WIDGET = 100
# DOC_QUOTAS (Dashboards): up to 500 metrics per widget, 2500 per dashboard across its widgets.
MAX_METRICS_PER_WIDGET = 500
MAX_METRICS_PER_DASHBOARD = 2500
# No size of DashboardBody is documented (PutDashboard, the body structure or the quotas page). This
# is the filter's own bound, not AWS's: over ten times this dashboard for three tiers (19 kB), so a
# runaway input (thousands of nodes or alarms) is refused here, by name, rather than by AWS.
MAX_BODY_BYTES = 256 * 1024

# The dashboard's default time range; the graphs follow each widget's period ("inherit").
DASHBOARD_START = "-PT6H"
# The CloudWatch agent's metric names in metrics_namespace (aggregated per AutoScalingGroupName).
AGENT_MEMORY, AGENT_DISK = "mem_used_percent", "disk_used_percent"
# CloudFront publishes its metrics in us-east-1 with the dimension Region=Global.
CLOUDFRONT_REGION = "us-east-1"

VIEW_KEYS = ("environment", "region", "name_prefix", "tiers", "metrics_namespace")
VIEW_OPTIONAL = ("cache", "cdn", "email", "nat_gateways", "alarms", "account", "partition")
TIER_KEYS = ("load_balancer", "target_group", "group")
OPTION_DEFAULTS: dict[str, Any] = {"now": None, "horizon_days": 14, "period_seconds": 60}
UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
TIER = re.compile(r"^[a-z][a-z0-9_-]*$")
LOAD_BALANCER = re.compile(r"^app/[A-Za-z0-9-]+/[0-9a-f]+$")
TARGET_GROUP = re.compile(r"^targetgroup/[A-Za-z0-9-]+/[0-9a-f]+$")
ACCOUNT = re.compile(r"^\d{12}$")
ALARM_ARN = re.compile(r"^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:.+$")


def _fail(message: str) -> AnsibleFilterError:
    return AnsibleFilterError(f"{FNAME}: {message}")


def _text(value: Any, where: str, pattern: re.Pattern[str] | None = None, what: str = "a non-empty string") -> str:
    if not isinstance(value, str) or not value.strip() or (pattern is not None and not pattern.match(value)):
        raise _fail(f"{where} must be {what}, got {value!r}")
    return value


def _texts(value: Any, where: str, pattern: re.Pattern[str] | None = None, what: str = "strings") -> list[str]:
    if not isinstance(value, list) or not value:
        raise _fail(f"{where} must be a non-empty list of {what}, got {value!r}")
    items = [_text(item, f"{where}[{index}]", pattern, what) for index, item in enumerate(value)]
    if len(set(items)) != len(items):
        raise _fail(f"{where} lists an item twice: {items}")
    return items


def _mapping(value: Any, where: str, keys: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(f"{where} must be a mapping, got {value!r}")
    missing = [key for key in keys if key not in value]
    if missing:
        raise _fail(f"{where} is missing {', '.join(missing)}")
    unknown = sorted(str(key) for key in value if key not in keys + optional)
    if unknown:
        raise _fail(f"{where} has unknown keys {unknown}")
    return value


def check_view(view: Any) -> dict[str, Any]:
    """The validated view (the same mapping); AnsibleFilterError names the key and what is wrong."""
    _mapping(view, "view", VIEW_KEYS, VIEW_OPTIONAL)
    _text(view["environment"], "view.environment", NAME, "a name like staging")
    _text(view["region"], "view.region", REGION, "an AWS region like eu-west-1")
    _text(view["name_prefix"], "view.name_prefix", NAME, "a name prefix like arena-staging")
    _text(view["metrics_namespace"], "view.metrics_namespace")
    tiers = view["tiers"]
    # empty: a check-mode run on an environment whose tiers are not built yet (arena_monitoring_view)
    if not isinstance(tiers, dict):
        raise _fail(f"view.tiers must be a mapping of tier name to its resources, got {tiers!r}")
    for name, tier in tiers.items():
        _text(name, "a tier name in view.tiers", TIER, "a lower-case tier name like web")
        where = f"view.tiers.{name}"
        _mapping(tier, where, TIER_KEYS)
        _text(
            tier["load_balancer"],
            f"{where}.load_balancer",
            LOAD_BALANCER,
            f"the load balancer's dimension app/<name>/<id> (the end of its ARN, {DOC_ALB_METRICS})",
        )
        _text(
            tier["target_group"],
            f"{where}.target_group",
            TARGET_GROUP,
            "the target group's dimension targetgroup/<name>/<id> (the end of its ARN)",
        )
        _text(tier["group"], f"{where}.group", NAME, "the Auto Scaling group's name")
    if view.get("cache") is not None:
        cache = _mapping(view["cache"], "view.cache", ("replication_group", "nodes"), ("replicas",))
        _text(cache["replication_group"], "view.cache.replication_group", NAME, "the replication group's id")
        nodes = _texts(cache["nodes"], "view.cache.nodes", NAME, "cache cluster ids (CacheClusterId)")
        replicas = cache.get("replicas") or []
        if not isinstance(replicas, list) or not set(replicas) <= set(nodes):
            raise _fail(f"view.cache.replicas must be a list of some of view.cache.nodes {nodes}, got {replicas!r}")
    if view.get("cdn") is not None:
        _text(_mapping(view["cdn"], "view.cdn", ("distribution_id",))["distribution_id"], "view.cdn.distribution_id")
    if view.get("email") is not None:
        email = _mapping(view["email"], "view.email", ("configuration_set",))
        _text(email["configuration_set"], "view.email.configuration_set")
    if view.get("nat_gateways"):
        _texts(view["nat_gateways"], "view.nat_gateways", re.compile(r"^nat-[0-9a-f]+$"), "NAT gateway ids (nat-...)")
    if view.get("account") is not None:
        _text(view["account"], "view.account", ACCOUNT, "a 12-digit AWS account id (as a string)")
    if view.get("partition") is not None:
        _text(view["partition"], "view.partition", re.compile(r"^aws(-[a-z]+)*$"), "an AWS partition like aws")
    alarm_arns(view)  # refuses what cannot be made into alarm ARNs
    return view


def _utc(value: Any, where: str) -> datetime:
    moment = None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            moment = None
    if moment is None or moment.tzinfo is None or moment.utcoffset() != timedelta(0):
        raise _fail(f"{where} must be UTC text like 2027-03-28T19:45:00Z, got {value!r}")
    return moment.astimezone(UTC)


def check_options(options: Any) -> dict[str, Any]:
    """Options with their defaults; ``now`` as an aware UTC datetime."""
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise _fail(f"options must be a mapping (now, horizon_days, period_seconds), got {options!r}")
    unknown = sorted(str(key) for key in options if key not in OPTION_DEFAULTS)
    if unknown:
        raise _fail(f"options has unknown keys {unknown}")
    merged = {**OPTION_DEFAULTS, **{key: value for key, value in options.items() if value is not None}}
    merged["now"] = datetime.now(UTC) if merged["now"] is None else _utc(merged["now"], "options.now")
    horizon = merged["horizon_days"]
    if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon < 1:
        raise _fail(f"options.horizon_days must be a positive integer, got {horizon!r}")
    period = merged["period_seconds"]
    # A graph's period: 1, 5, 10, 30 (high-resolution metrics) or a multiple of 60 seconds.
    valid = isinstance(period, int) and not isinstance(period, bool) and period > 0
    if not valid or not (period in (1, 5, 10, 30) or period % 60 == 0):
        raise _fail(f"options.period_seconds must be 1, 5, 10, 30 or a positive multiple of 60, got {period!r}")
    return merged


def kickoffs(events: Any, now: datetime, horizon_days: int) -> list[tuple[datetime, str]]:
    """(start, name) of every event that starts within [now, now + horizon], by start."""
    if events is None:
        return []
    if not isinstance(events, list):
        raise _fail(f"events must be the list arena_events returns, got {events!r}")
    end = now + timedelta(days=horizon_days)
    found = []
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise _fail(f"events[{index}] must be a mapping (an arena_events entry), got {event!r}")
        where = f"events[{index}]"
        for key in ("name", "start_utc"):
            if key not in event:
                raise _fail(f"{where} is missing {key} (pass the calendar through arena_events first)")
        name = _text(event["name"], f"{where}.name")
        start = _utc(event["start_utc"], f"{where}.start_utc ({name})")
        if not event.get("past", False) and now <= start <= end:
            found.append((start, name))
    return sorted(found)


# ---- widgets ---------------------------------------------------------------------------------


def _partition(view: dict[str, Any]) -> str:
    region = view["region"]
    if view.get("partition"):
        return str(view["partition"])
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


def alarm_arns(view: dict[str, Any]) -> list[str]:
    """The ARNs of ``view.alarms`` (the alarm status widget takes ARNs, DOC_BODY): names are made ARNs
    in the view's region, or in the region a mapping lists them under; ARNs are kept."""
    alarms = view.get("alarms") or []
    if isinstance(alarms, dict):
        regional = [
            (_text(region, "a region in view.alarms", REGION, "an AWS region"), names, f"view.alarms.{region}")
            for region, names in alarms.items()
        ]
    elif isinstance(alarms, list):
        regional = [(view["region"], alarms, "view.alarms")]
    else:
        raise _fail(f"view.alarms must be a list of alarm names or ARNs, or a mapping region -> names, got {alarms!r}")
    out: list[str] = []
    for region, names, where in regional:
        for index, alarm in enumerate(names or []):
            _text(alarm, f"{where}[{index}]", None, "an alarm name or ARN")
            if alarm.startswith("arn:"):
                if not ALARM_ARN.match(alarm):
                    raise _fail(f"{where}[{index}] is not a CloudWatch alarm ARN: {alarm!r}")
                out.append(alarm)
                continue
            if view.get("account") is None:
                raise _fail(
                    f"view.account is required with alarm names ({alarm!r}): the alarm status widget takes alarm"
                    f" ARNs ({DOC_BODY})"
                )
            out.append(f"arn:{_partition(view)}:cloudwatch:{region}:{view['account']}:alarm:{alarm}")
    if len(set(out)) != len(out):
        raise _fail(f"view.alarms lists an alarm twice: {sorted(a for a in set(out) if out.count(a) > 1)}")
    return out


def _per(period: int) -> str:
    return "minute" if period == 60 else f"{period} s"


def _graph(
    title: str,
    metrics: list[list[Any]],
    region: str,
    period: int,
    annotations: list[dict[str, str]],
    *,
    label: str = "",
    maximum: float | None = None,
) -> dict[str, Any]:
    """A time-series metric widget's properties (type metric)."""
    left: dict[str, Any] = {"min": 0, "showUnits": False}
    if label:
        left["label"] = label
    if maximum is not None:
        left["max"] = maximum
    properties: dict[str, Any] = {
        "title": title,
        "view": "timeSeries",
        "stacked": False,
        "region": region,
        "period": period,
        "metrics": metrics,
        "yAxis": {"left": left},
    }
    if annotations:
        properties["annotations"] = {"vertical": annotations}
    return {"type": "metric", "properties": properties}


def _metric(namespace: str, name: str, dims: list[tuple[str, str]], stat: str, label: str) -> list[Any]:
    """One entry of a metric widget's ``metrics``: namespace, name, dimension pairs, then its options."""
    return [namespace, name, *[part for pair in dims for part in pair], {"stat": stat, "label": label}]


def tier_widgets(
    name: str, tier: dict[str, str], view: dict[str, Any], period: int, notes: list[dict[str, str]]
) -> list[dict[str, Any]]:
    """The six graphs of one tier."""
    region, alb = view["region"], "AWS/ApplicationELB"
    target = [("TargetGroup", tier["target_group"]), ("LoadBalancer", tier["load_balancer"])]
    lb_only = [("LoadBalancer", tier["load_balancer"])]
    group = [("AutoScalingGroupName", tier["group"])]
    lb_name = tier["load_balancer"].split("/")[1]
    return [
        _graph(
            f"{name}: requests per {_per(period)}",
            [_metric(alb, "RequestCount", target, "Sum", "requests")],
            region,
            period,
            notes,
        ),
        _graph(
            f"{name}: 5xx per {_per(period)}",
            [
                _metric(alb, "HTTPCode_Target_5XX_Count", target, "Sum", "targets' 5xx"),
                _metric(alb, "HTTPCode_ELB_5XX_Count", lb_only, "Sum", f"load balancer's 5xx ({lb_name}, all tiers)"),
            ],
            region,
            period,
            notes,
        ),
        _graph(
            f"{name}: response time p99 (s)",
            [_metric(alb, "TargetResponseTime", target, "p99", "p99")],
            region,
            period,
            notes,
            label="seconds",
        ),
        _graph(
            f"{name}: capacity ({tier['group']})",
            [
                _metric("AWS/AutoScaling", "GroupInServiceInstances", group, "Average", "in service"),
                _metric("AWS/AutoScaling", "GroupDesiredCapacity", group, "Average", "desired"),
                _metric("AWS/AutoScaling", "GroupMinSize", group, "Average", "floor (MinSize)"),
            ],
            region,
            period,
            notes,
            label="instances",
        ),
        _graph(
            f"{name}: targets",
            [
                _metric(alb, "HealthyHostCount", target, "Minimum", "healthy"),
                _metric(alb, "UnHealthyHostCount", target, "Maximum", "unhealthy"),
            ],
            region,
            period,
            notes,
            label="targets",
        ),
        _graph(
            f"{name}: instances' memory and disk (%)",
            [
                _metric(view["metrics_namespace"], AGENT_MEMORY, group, "Maximum", "memory used, busiest instance"),
                _metric(view["metrics_namespace"], AGENT_DISK, group, "Maximum", "disk used, fullest instance"),
            ],
            region,
            period,
            notes,
            label="%",
            maximum=100,
        ),
    ]


CACHE_METRICS = (
    # (metric, statistic, title)
    ("EngineCPUUtilization", "Maximum", "engine CPU (%)"),
    ("DatabaseMemoryUsagePercentage", "Maximum", "memory used (%)"),
    ("Evictions", "Sum", "evictions"),
    ("CurrConnections", "Maximum", "connections"),
    ("ReplicationLag", "Maximum", "replication lag (s), replicas"),
)


def service_widgets(view: dict[str, Any], period: int, notes: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Cache per node, mail (account level), CDN, NAT: only the services the view has."""
    region = view["region"]
    out = []
    cache = view.get("cache")
    if cache:
        for metric, stat, title in CACHE_METRICS:
            # ReplicationLag: "This metric is only applicable for a node running as a read replica."
            replicas = cache["nodes"] if cache.get("replicas") is None else cache["replicas"]
            nodes = replicas if metric == "ReplicationLag" else cache["nodes"]
            lines = [_metric("AWS/ElastiCache", metric, [("CacheClusterId", n)], stat, n) for n in nodes]
            if lines:
                out.append(_graph(f"cache {cache['replication_group']}: {title}", lines, region, period, notes))
    if view.get("email"):
        out.append(
            _graph(
                "mail: reputation (account), ratio",
                [
                    _metric("AWS/SES", "Reputation.BounceRate", [], "Maximum", "bounce rate"),
                    _metric("AWS/SES", "Reputation.ComplaintRate", [], "Maximum", "complaint rate"),
                ],
                region,
                period,
                notes,
            )
        )
    if view.get("cdn"):
        dims = [("DistributionId", view["cdn"]["distribution_id"]), ("Region", "Global")]
        out.append(
            _graph(
                f"CDN {view['cdn']['distribution_id']}: 5xx error rate (%)",
                [_metric("AWS/CloudFront", "5xxErrorRate", dims, "Average", "5xx error rate")],
                CLOUDFRONT_REGION,
                period,
                notes,
                label="%",
            )
        )
    if view.get("nat_gateways"):
        lines = [
            _metric("AWS/NATGateway", "ErrorPortAllocation", [("NatGatewayId", g)], "Sum", g)
            for g in view["nat_gateways"]
        ]
        out.append(_graph(f"NAT: port allocation errors per {_per(period)}", lines, region, period, notes))
    return out


def _text_widget(markdown: str) -> dict[str, Any]:
    return {"type": "text", "properties": {"markdown": markdown}}


def header(view: dict[str, Any], ahead: list[tuple[datetime, str]], horizon_days: int) -> dict[str, Any]:
    listed = "; ".join(f"{start.strftime('%Y-%m-%d %H:%M')} {name}" for start, name in ahead) or "none"
    return _text_widget(
        f"# {view['name_prefix']}: event day\n"
        f"Environment **{view['environment']}**, region {view['region']}. Generated from the platform and the"
        " event calendar (filter_plugins/arena_dashboard.py, roles/platform_monitoring) on every platform run:"
        " edits made here are overwritten.\n\n"
        f"Kick-offs in the next {horizon_days} days (UTC, dashed lines on the graphs): {listed}"
    )


def _at(widget: dict[str, Any], x: int, y: int, width: int, height: int) -> dict[str, Any]:
    """The widget at (x, y), ``width`` columns by ``height`` rows (keys in the console's order)."""
    return {"type": widget["type"], "x": x, "y": y, "width": width, "height": height, **widget}


def _place(rows: list[tuple[list[dict[str, Any]], int, int]], y: int) -> tuple[list[dict[str, Any]], int]:
    """Lay rows of widgets out left to right, top to bottom, from row ``y``: each row is (widgets, width,
    height), wrapped onto the next row at the grid's edge. Returns the widgets and the next free row."""
    placed: list[dict[str, Any]] = []
    for widgets, width, height in rows:
        x = 0
        for widget in widgets:
            if x + width > GRID_WIDTH:
                x, y = 0, y + height
            placed.append(_at(widget, x, y, width, height))
            x += width
        y += height
    return placed, y


def build_body(view: dict[str, Any], ahead: list[tuple[datetime, str]], options: dict[str, Any]) -> dict[str, Any]:
    period = options["period_seconds"]
    notes = [{"label": name, "value": start.strftime(UTC_FORMAT)} for start, name in ahead]
    arns = alarm_arns(view)
    chunks = [arns[i : i + MAX_ALARMS_PER_WIDGET] for i in range(0, len(arns), MAX_ALARMS_PER_WIDGET)]
    alarms = [
        {
            "type": "alarm",
            "properties": {
                "title": f"alarms of {view['name_prefix']}" + (f" ({n + 1}/{len(chunks)})" if len(chunks) > 1 else ""),
                "alarms": chunk,
                "sortBy": "stateUpdatedTimestamp",
            },
        }
        for n, chunk in enumerate(chunks)
    ]
    top = header(view, ahead, options["horizon_days"])
    # The header beside the first alarm widget (about four alarm tiles to a row of it), or alone.
    height = max(4, min(12, 2 + math.ceil(len(chunks[0]) / 4))) if chunks else 4
    widgets = [_at(top, 0, 0, 8 if alarms else GRID_WIDTH, height)]
    if alarms:
        widgets.append(_at(alarms[0], 8, 0, GRID_WIDTH - 8, height))
    rows: list[tuple[list[dict[str, Any]], int, int]] = []
    for name, tier in view["tiers"].items():
        title = f"## {name}: group {tier['group']}, load balancer {tier['load_balancer'].split('/')[1]}"
        rows.append(([_text_widget(title)], GRID_WIDTH, 1))
        rows.append((tier_widgets(name, tier, view, period, notes), 8, 6))
    services = service_widgets(view, period, notes)
    if services:
        rows.append(([_text_widget("## services: cache, mail, CDN, NAT")], GRID_WIDTH, 1))
        rows.append((services, 6, 6))
    rows.extend(([extra], GRID_WIDTH, height) for extra in alarms[1:])
    placed, _ = _place(rows, height)
    return {"start": DASHBOARD_START, "periodOverride": "inherit", "widgets": widgets + placed}


# ---- limits ----------------------------------------------------------------------------------


def body_problems(body: Any) -> list[str]:
    """What PutDashboard would refuse in ``body`` (DOC_BODY, DOC_QUOTAS), and the filter's own size bound."""
    if not isinstance(body, dict) or not isinstance(body.get("widgets"), list):
        return ["the body must be a mapping with a widgets list"]
    widgets = body["widgets"]
    out = []
    if len(widgets) > MAX_WIDGETS:
        out.append(f"{len(widgets)} widgets, over the {MAX_WIDGETS} a dashboard can have")
    cells: dict[tuple[int, int], int] = {}
    total = 0
    for index, widget in enumerate(widgets):
        x, y = widget.get("x", 0), widget.get("y", 0)
        width, height = widget.get("width", 6), widget.get("height", 6)
        where = f"widget {index} ({widget.get('properties', {}).get('title', widget.get('type'))})"
        if not 1 <= width <= GRID_WIDTH or x < 0 or x + width > GRID_WIDTH:
            out.append(f"{where}: x {x} + width {width} is outside the {GRID_WIDTH}-column grid")
        if not 1 <= height <= MAX_HEIGHT or y < 0:
            out.append(f"{where}: height {height} (1-{MAX_HEIGHT}) or y {y} (>= 0) out of range")
        for cell in ((cx, cy) for cx in range(x, x + width) for cy in range(y, y + height)):
            if cell in cells:
                out.append(f"{where} overlaps widget {cells[cell]}")
                break
            cells[cell] = index
        properties = widget.get("properties", {})
        if widget.get("type") == "metric":
            count = len(properties.get("metrics", []))
            total += count
            if count > MAX_METRICS_PER_WIDGET:
                out.append(f"{where}: {count} metrics, over the {MAX_METRICS_PER_WIDGET} a widget can have")
        if widget.get("type") == "alarm" and not 1 <= len(properties.get("alarms", [])) <= MAX_ALARMS_PER_WIDGET:
            out.append(f"{where}: {len(properties.get('alarms', []))} alarms, not 1-{MAX_ALARMS_PER_WIDGET}")
    if total > MAX_METRICS_PER_DASHBOARD:
        out.append(f"{total} metrics, over the {MAX_METRICS_PER_DASHBOARD} a dashboard can have")
    size = len(json.dumps(body, separators=(",", ":")).encode())
    if size > MAX_BODY_BYTES:
        out.append(f"the body is {size} bytes, over this filter's bound of {MAX_BODY_BYTES}")
    return out


def arena_dashboard_body(view: Any, events: Any = None, options: Any = None) -> dict[str, Any]:
    """Filter: the event-day DashboardBody (a mapping) of ``view`` with the kick-offs of ``events``."""
    checked = check_view(view)
    opts = check_options(options)
    ahead = kickoffs(events, opts["now"], opts["horizon_days"])
    body = build_body(checked, ahead, opts)
    problems = body_problems(body)
    if problems:
        raise _fail(f"PutDashboard would refuse the body ({DOC_BODY}, {DOC_QUOTAS}): " + "; ".join(problems))
    return body


class FilterModule:
    """Event-day dashboard filter."""

    def filters(self) -> dict[str, Any]:
        return {"arena_dashboard_body": arena_dashboard_body}
