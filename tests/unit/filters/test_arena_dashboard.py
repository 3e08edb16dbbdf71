"""arena_dashboard_body: every tier of the view (a new one too) gets its graphs, the services their
graphs when built, the kick-offs within the horizon (and only those) are vertical annotations, the
alarm widget gets ARNs, bad input is refused naming the key, and the body keeps within what
PutDashboard accepts:

- Dashboard body structure
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html):
  "an array of between 0 and 500 widget objects"; width 1-24 on the 24-column grid, height 1-1000;
  an alarm status widget "can have 1-100" alarm ARNs.
- CloudWatch service quotas, Dashboards
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html): up to 500
  metrics per widget and 2500 per dashboard.
- No size of DashboardBody is documented; the filter holds it to its own bound (MAX_BODY_BYTES).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from arena_loader import filter_plugin
from arena_testlib import REPO_ROOT

dash = filter_plugin("arena_dashboard")
NOW = "2027-03-20T12:00:00Z"
OPTIONS = {"now": NOW, "horizon_days": 14, "period_seconds": 60}
TIER_TITLES = ("requests per minute", "5xx per minute", "response time p99 (s)", "capacity", "targets", "memory")


def tier(name: str, lb: str = "app/arena-staging-public/50dc6c495c0c9188") -> dict[str, str]:
    return {
        "load_balancer": lb,
        "target_group": f"targetgroup/arena-staging-{name}/73e2d6bc24d8a067",
        "group": f"arena-staging-{name}",
    }


def make_view(**overrides: Any) -> dict[str, Any]:
    view = {
        "environment": "staging",
        "region": "eu-west-1",
        "name_prefix": "arena-staging",
        "tiers": {
            "web": tier("web"),
            "api": tier("api"),
            "admin": tier("admin", "app/arena-staging-admin/9b1a2c3d4e5f6a7b"),
        },
        "cache": {
            "replication_group": "arena-staging-cache",
            "nodes": ["arena-staging-cache-001", "arena-staging-cache-002"],
        },
        "cdn": {"distribution_id": "E2QWRUHEXAMPLE"},
        "email": {"configuration_set": "arena-staging"},
        "nat_gateways": ["nat-0123", "nat-0456"],
        "metrics_namespace": "Arena/Instances",
        "alarms": ["arena-staging-web-target-5xx", "arena-staging-web-unhealthy-hosts"],
        "account": "123456789012",
        "partition": "aws",
    }
    view.update(overrides)
    return view


EVENTS = [
    {"name": "Last week's final", "kind": "basketball", "start_utc": "2027-03-13T19:45:00Z", "past": True},
    {"name": "Earlier today", "kind": "basketball", "start_utc": "2027-03-20T11:59:00Z"},
    {"name": "Tonight", "kind": "basketball", "start_utc": "2027-03-20T19:45:00Z"},
    {"name": "Concert", "kind": "concert", "start_utc": "2027-03-27T20:30:00Z"},
    {"name": "At the horizon", "kind": "concert", "start_utc": "2027-04-03T12:00:00Z"},
    {"name": "Beyond it", "kind": "concert", "start_utc": "2027-04-03T12:01:00Z"},
]


def body(view: Any = None, events: Any = EVENTS, options: Any = OPTIONS) -> dict[str, Any]:
    return dash.arena_dashboard_body(make_view() if view is None else view, events, options)


def graphs(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [w for w in result["widgets"] if w["type"] == "metric"]


def titled(result: dict[str, Any], start: str) -> list[dict[str, Any]]:
    return [w for w in graphs(result) if w["properties"]["title"].startswith(start)]


def dimensions(metric: list[Any]) -> dict[str, str]:
    """A ``metrics`` entry's dimensions: namespace, name, then name/value pairs, then its options."""
    pairs = metric[2:-1]
    return dict(zip(pairs[::2], pairs[1::2], strict=True))


@pytest.mark.parametrize("name", ["web", "api", "admin"])
def test_every_tier_gets_its_six_graphs_on_its_own_resources(name: str) -> None:
    view = make_view()
    mine = titled(body(view), f"{name}: ")
    assert [w["properties"]["title"] for w in mine] == [
        f"{name}: requests per minute",
        f"{name}: 5xx per minute",
        f"{name}: response time p99 (s)",
        f"{name}: capacity (arena-staging-{name})",
        f"{name}: targets",
        f"{name}: instances' memory and disk (%)",
    ]
    resources = set(view["tiers"][name].values())
    for widget in mine:
        for metric in widget["properties"]["metrics"]:
            assert set(dimensions(metric).values()) <= resources, metric
    metrics = {(m[0], m[1], m[-1]["stat"]) for w in mine for m in w["properties"]["metrics"]}
    assert metrics == {
        ("AWS/ApplicationELB", "RequestCount", "Sum"),
        ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum"),
        ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum"),
        ("AWS/ApplicationELB", "TargetResponseTime", "p99"),
        ("AWS/AutoScaling", "GroupInServiceInstances", "Average"),
        ("AWS/AutoScaling", "GroupDesiredCapacity", "Average"),
        ("AWS/AutoScaling", "GroupMinSize", "Average"),
        ("AWS/ApplicationELB", "HealthyHostCount", "Minimum"),
        ("AWS/ApplicationELB", "UnHealthyHostCount", "Maximum"),
        ("Arena/Instances", "mem_used_percent", "Maximum"),
        ("Arena/Instances", "disk_used_percent", "Maximum"),
    }


def test_dimensions_come_in_one_order_target_group_first() -> None:
    """As the platform's release alarms list them (the emulator matches dimensions only in order)."""
    requests = titled(body(), "web: requests")[0]["properties"]["metrics"][0]
    assert requests[2:6] == ["TargetGroup", tier("web")["target_group"], "LoadBalancer", tier("web")["load_balancer"]]


def test_a_new_tier_in_the_view_gets_the_same_graphs() -> None:
    view = make_view(tiers={**make_view()["tiers"], "worker": tier("worker")})
    result = body(view)
    assert len(titled(result, "worker: ")) == 6
    assert any(
        w["type"] == "text" and "## worker: group arena-staging-worker" in w["properties"]["markdown"]
        for w in result["widgets"]
    )


def test_services_get_their_graphs_and_cloudfront_reads_us_east_1() -> None:
    result = body()
    cache = titled(result, "cache arena-staging-cache: ")
    assert [m[1] for w in cache for m in w["properties"]["metrics"][:1]] == [
        "EngineCPUUtilization",
        "DatabaseMemoryUsagePercentage",
        "Evictions",
        "CurrConnections",
        "ReplicationLag",
    ]
    assert all(
        [dimensions(m) for m in w["properties"]["metrics"]]
        == [
            {"CacheClusterId": "arena-staging-cache-001"},
            {"CacheClusterId": "arena-staging-cache-002"},
        ]
        for w in cache
    )
    mail = titled(result, "mail")[0]["properties"]
    assert [[*m[:2], dimensions(m)] for m in mail["metrics"]] == [
        ["AWS/SES", "Reputation.BounceRate", {}],
        ["AWS/SES", "Reputation.ComplaintRate", {}],
    ]
    cdn = titled(result, "CDN")[0]["properties"]
    assert cdn["region"] == "us-east-1"
    assert dimensions(cdn["metrics"][0]) == {"DistributionId": "E2QWRUHEXAMPLE", "Region": "Global"}
    assert cdn["metrics"][0][:2] == ["AWS/CloudFront", "5xxErrorRate"]
    nat = titled(result, "NAT")[0]["properties"]["metrics"]
    assert [(m[1], dimensions(m)) for m in nat] == [
        ("ErrorPortAllocation", {"NatGatewayId": "nat-0123"}),
        ("ErrorPortAllocation", {"NatGatewayId": "nat-0456"}),
    ]
    assert {w["properties"]["region"] for w in graphs(result) if w is not titled(result, "CDN")[0]} == {"eu-west-1"}


def test_services_not_built_get_no_graphs() -> None:
    result = body(make_view(cache=None, cdn=None, email=None, nat_gateways=None))
    assert [w for w in graphs(result) if not w["properties"]["title"].startswith(("web", "api", "admin"))] == []
    assert not any("## services" in w["properties"].get("markdown", "") for w in result["widgets"])


def test_only_kickoffs_within_the_horizon_are_annotated_on_every_graph() -> None:
    result = body()
    expected = [
        {"label": "Tonight", "value": "2027-03-20T19:45:00Z"},
        {"label": "Concert", "value": "2027-03-27T20:30:00Z"},
        {"label": "At the horizon", "value": "2027-04-03T12:00:00Z"},
    ]
    assert all(w["properties"]["annotations"] == {"vertical": expected} for w in graphs(result))
    assert (
        "2027-03-20 19:45 Tonight; 2027-03-27 20:30 Concert; 2027-04-03 12:00 At the horizon"
        in (result["widgets"][0]["properties"]["markdown"])
    )


def test_a_kickoff_at_now_counts_and_a_shorter_horizon_drops_the_later_ones() -> None:
    events = [{"name": "Now", "start_utc": NOW}, *EVENTS]
    result = body(events=events, options={**OPTIONS, "horizon_days": 1})
    assert graphs(result)[0]["properties"]["annotations"]["vertical"] == [
        {"label": "Now", "value": NOW},
        {"label": "Tonight", "value": "2027-03-20T19:45:00Z"},
    ]


def test_no_kickoff_ahead_no_annotations() -> None:
    result = body(events=[])
    assert not any("annotations" in w["properties"] for w in graphs(result))
    assert "(UTC, dashed lines on the graphs): none" in result["widgets"][0]["properties"]["markdown"]


def test_the_calendar_through_arena_events_is_accepted() -> None:
    calendar = filter_plugin("arena_calendar")
    raw = yaml.safe_load((REPO_ROOT / "inventories/local/group_vars/all/events.yml").read_text())["arena_events"]
    events = calendar.arena_events(raw)
    result = body(events=events, options={"now": "2027-01-10T00:00:00Z"})
    labels = [a["label"] for a in graphs(result)[0]["properties"]["annotations"]["vertical"]]
    assert labels == [e["name"] for e in events]


def test_alarm_names_become_arns_and_more_than_100_fill_more_widgets() -> None:
    result = body()
    alarm = [w for w in result["widgets"] if w["type"] == "alarm"]
    assert alarm[0]["properties"]["alarms"] == [
        "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:arena-staging-web-target-5xx",
        "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:arena-staging-web-unhealthy-hosts",
    ]
    names = [f"alarm-{n:03d}" for n in range(150)]
    many = [w for w in body(make_view(alarms=names))["widgets"] if w["type"] == "alarm"]
    assert [len(w["properties"]["alarms"]) for w in many] == [100, 50]
    arn = "arn:aws:cloudwatch:eu-west-1:210987654321:alarm:elsewhere"
    given = [w for w in body(make_view(alarms=[arn], account=None))["widgets"] if w["type"] == "alarm"]
    assert given[0]["properties"]["alarms"] == [arn]


def test_alarms_listed_by_region_get_their_region_in_the_arn() -> None:
    """CloudFront's alarm lives in us-east-1 (its metrics do), the others in the platform's region."""
    view = make_view(alarms={"eu-west-1": ["arena-staging-web-target-5xx"], "us-east-1": ["arena-staging-cdn-5xx"]})
    alarm = next(w for w in body(view)["widgets"] if w["type"] == "alarm")
    assert alarm["properties"]["alarms"] == [
        "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:arena-staging-web-target-5xx",
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:arena-staging-cdn-5xx",
    ]
    china = make_view(region="cn-north-1", partition=None, alarms=["a"])
    assert next(w for w in body(china)["widgets"] if w["type"] == "alarm")["properties"]["alarms"] == [
        "arn:aws-cn:cloudwatch:cn-north-1:123456789012:alarm:a"
    ]


def test_replication_lag_only_for_the_replicas_and_not_at_all_without_one() -> None:
    cache = {"replication_group": "arena-staging-cache", "nodes": ["c-001", "c-002", "c-003"], "replicas": ["c-002"]}
    lag = titled(body(make_view(cache=cache)), "cache arena-staging-cache: replication lag")
    assert [dimensions(m) for m in lag[0]["properties"]["metrics"]] == [{"CacheClusterId": "c-002"}]
    single = {"replication_group": "arena-staging-cache", "nodes": ["c-001"], "replicas": []}
    assert titled(body(make_view(cache=single)), "cache arena-staging-cache: replication lag") == []
    assert len(titled(body(make_view(cache=single)), "cache arena-staging-cache: ")) == 4


def test_the_view_of_an_environment_not_built_yet_gives_a_dashboard() -> None:
    """arena_monitoring_view in check mode on a new environment: no tiers, no services, no NAT."""
    view = make_view(tiers={}, cache=None, cdn=None, email=None, nat_gateways=[], alarms=[])
    result = body(view)
    assert [w["type"] for w in result["widgets"]] == ["text"]
    assert dash.body_problems(result) == []


def test_no_alarms_no_alarm_widget() -> None:
    result = body(make_view(alarms=None, account=None))
    assert [w["type"] for w in result["widgets"]].count("alarm") == 0
    assert result["widgets"][0]["width"] == 24


def test_the_body_is_json_and_within_every_limit() -> None:
    result = body()
    assert json.loads(json.dumps(result)) == result
    assert dash.body_problems(result) == []
    assert len(result["widgets"]) == 32
    assert max(w["x"] + w["width"] for w in result["widgets"]) == dash.GRID_WIDTH
    assert len(json.dumps(result, separators=(",", ":"))) < dash.MAX_BODY_BYTES / 10


def test_the_limits_are_the_documented_ones() -> None:
    assert (dash.GRID_WIDTH, dash.MAX_WIDGETS, dash.MAX_HEIGHT, dash.MAX_ALARMS_PER_WIDGET) == (24, 500, 1000, 100)
    assert (dash.MAX_METRICS_PER_WIDGET, dash.MAX_METRICS_PER_DASHBOARD) == (500, 2500)


def widget(**fields: Any) -> dict[str, Any]:
    return {
        "type": "metric",
        "x": 0,
        "y": 0,
        "width": 6,
        "height": 6,
        "properties": {"title": "g", "metrics": []},
        **fields,
    }


@pytest.mark.parametrize(
    ("widgets", "message"),
    [
        ([widget(y=6 * n) for n in range(501)], "501 widgets, over the 500 a dashboard can have"),
        ([widget(x=20, width=6)], "x 20 + width 6 is outside the 24-column grid"),
        ([widget(width=25)], "x 0 + width 25 is outside the 24-column grid"),
        ([widget(height=1001)], "height 1001 (1-1000)"),
        ([widget(), widget(x=3)], "widget 1 (g) overlaps widget 0"),
        ([widget(properties={"title": "g", "metrics": [["N", "M"]] * 501})], "501 metrics, over the 500 a widget"),
        (
            [widget(y=6 * n, properties={"title": "g", "metrics": [["N", "M"]] * 500}) for n in range(6)],
            "3000 metrics, over the 2500 a dashboard can have",
        ),
        ([widget(type="alarm", properties={"alarms": []})], "0 alarms, not 1-100"),
        ([widget(type="alarm", properties={"alarms": ["a"] * 101})], "101 alarms, not 1-100"),
        ([widget(type="text", properties={"markdown": "x" * 300_000})], "over this filter's bound of 262144"),
    ],
)
def test_body_problems_name_each_limit(widgets: list[dict[str, Any]], message: str) -> None:
    assert any(message in problem for problem in dash.body_problems({"widgets": widgets})), dash.body_problems(
        {"widgets": widgets}
    )


def test_a_view_too_big_for_one_dashboard_is_refused_by_name() -> None:
    tiers = {f"t{n}": tier(f"t{n}") for n in range(80)}
    with pytest.raises(AnsibleFilterError, match=r"PutDashboard would refuse the body .*: 571 widgets, over the 500"):
        body(make_view(tiers=tiers))


def without(key: str) -> dict[str, Any]:
    view = make_view()
    del view[key]
    return view


def tier_with(**fields: Any) -> dict[str, Any]:
    return make_view(tiers={"web": {**tier("web"), **fields}})


ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/arena-staging-public/50dc6c495c0c9188"


@pytest.mark.parametrize(
    ("view", "events", "options", "message"),
    [
        ("nope", [], OPTIONS, "view must be a mapping, got 'nope'"),
        (without("region"), [], OPTIONS, "view is missing region"),
        (make_view(colour="blue"), [], OPTIONS, "view has unknown keys ['colour']"),
        (make_view(region="Ireland"), [], OPTIONS, "view.region must be an AWS region like eu-west-1, got 'Ireland'"),
        (
            make_view(tiers=[]),
            [],
            OPTIONS,
            "view.tiers must be a mapping of tier name to its resources, got []",
        ),
        (
            make_view(tiers={"Web": tier("web")}),
            [],
            OPTIONS,
            "a tier name in view.tiers must be a lower-case tier name",
        ),
        (tier_with(group=None), [], OPTIONS, "view.tiers.web.group must be the Auto Scaling group's name, got None"),
        (
            tier_with(load_balancer=ARN),
            [],
            OPTIONS,
            f"view.tiers.web.load_balancer must be the load balancer's dimension app/<name>/<id> (the end of its ARN,"
            f" {dash.DOC_ALB_METRICS}), got '{ARN}'",
        ),
        (
            tier_with(target_group="arena-staging-web"),
            [],
            OPTIONS,
            "view.tiers.web.target_group must be the target group's dimension targetgroup/<name>/<id>",
        ),
        (
            make_view(tiers={"web": {"group": "g"}}),
            [],
            OPTIONS,
            "view.tiers.web is missing load_balancer, target_group",
        ),
        (
            make_view(cache={"replication_group": "c", "nodes": []}),
            [],
            OPTIONS,
            "view.cache.nodes must be a non-empty list of cache cluster ids (CacheClusterId), got []",
        ),
        (make_view(cdn={"id": "E1"}), [], OPTIONS, "view.cdn is missing distribution_id"),
        (
            make_view(nat_gateways=["igw-1"]),
            [],
            OPTIONS,
            "view.nat_gateways[0] must be NAT gateway ids (nat-...), got 'igw-1'",
        ),
        (
            make_view(account=123456789012),
            [],
            OPTIONS,
            "view.account must be a 12-digit AWS account id (as a string)",
        ),
        (make_view(partition="amazon"), [], OPTIONS, "view.partition must be an AWS partition like aws, got 'amazon'"),
        (
            make_view(account=None),
            [],
            OPTIONS,
            "view.account is required with alarm names ('arena-staging-web-target-5xx'): the alarm status widget"
            " takes alarm ARNs",
        ),
        (
            make_view(alarms=["a", "a"]),
            [],
            OPTIONS,
            "view.alarms lists an alarm twice: ['arn:aws:cloudwatch:eu-west-1:123456789012:alarm:a']",
        ),
        (
            make_view(alarms=["arn:aws:sns:eu-west-1:1:x"]),
            [],
            OPTIONS,
            "view.alarms[0] is not a CloudWatch alarm ARN: 'arn:aws:sns:eu-west-1:1:x'",
        ),
        (
            make_view(alarms={"Ireland": ["a"]}),
            [],
            OPTIONS,
            "a region in view.alarms must be an AWS region, got 'Ireland'",
        ),
        (make_view(alarms="a"), [], OPTIONS, "view.alarms must be a list of alarm names or ARNs, or a mapping"),
        (
            make_view(cache={"replication_group": "c", "nodes": ["c-001"], "replicas": ["c-002"]}),
            [],
            OPTIONS,
            "view.cache.replicas must be a list of some of view.cache.nodes ['c-001'], got ['c-002']",
        ),
        (make_view(), "Tonight", OPTIONS, "events must be the list arena_events returns, got 'Tonight'"),
        (
            make_view(),
            [{"name": "G", "start": "2027-03-20T20:45"}],
            OPTIONS,
            "events[0] is missing start_utc (pass the calendar through arena_events first)",
        ),
        (
            make_view(),
            [{"name": "G", "start_utc": "2027-03-20T20:45"}],
            OPTIONS,
            "events[0].start_utc (G) must be UTC text like 2027-03-28T19:45:00Z, got '2027-03-20T20:45'",
        ),
        (make_view(), [], {**OPTIONS, "horizon": 3}, "options has unknown keys ['horizon']"),
        (
            make_view(),
            [],
            {"now": "2027-03-20T12:00:00+01:00"},
            "options.now must be UTC text like 2027-03-28T19:45:00Z",
        ),
        (make_view(), [], {"horizon_days": 0}, "options.horizon_days must be a positive integer, got 0"),
        (
            make_view(),
            [],
            {"period_seconds": 45},
            "options.period_seconds must be 1, 5, 10, 30 or a positive multiple of 60, got 45",
        ),
        (
            make_view(),
            [],
            {"period_seconds": 0},
            "options.period_seconds must be 1, 5, 10, 30 or a positive multiple of 60, got 0",
        ),
        (make_view(), [], "now", "options must be a mapping (now, horizon_days, period_seconds), got 'now'"),
    ],
)
def test_bad_input_is_refused_naming_the_key(view: Any, events: Any, options: Any, message: str) -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        dash.arena_dashboard_body(view, events, options)
    assert str(caught.value).startswith(f"arena_dashboard_body: {message}"), str(caught.value)


def test_the_view_is_not_changed() -> None:
    view = make_view()
    kept = copy.deepcopy(view)
    body(view)
    assert view == kept
