"""arena_monitoring: every tier and platform service has its alarms, thresholds derived from the capacity
model, and what CloudWatch would refuse is refused (issue 18).

AWS pages the alarms follow:
- PutMetricAlarm / PutCompositeAlarm (name, period, rule limits)
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutCompositeAlarm.html
- CloudFront publishes its metrics in us-east-1 only
  https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/programming-cloudwatch-metrics.html
- SES reviews an account at 5 % bounces and 0.1 % complaints
  https://docs.aws.amazon.com/ses/latest/dg/faqs-enforcement.html
"""

from __future__ import annotations

import copy
import math
import re
from types import ModuleType
from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from arena_loader import filter_plugin, library_module
from arena_testlib import REPO_ROOT

DEFAULTS = yaml.safe_load((REPO_ROOT / "roles/platform_monitoring/defaults/main.yml").read_text())
THRESHOLDS: dict[str, Any] = DEFAULTS["platform_monitoring_thresholds"]
TIERS = list(yaml.safe_load((REPO_ROOT / "tiers.yml").read_text())["arena_tiers"])
MODEL = yaml.safe_load((REPO_ROOT / "inventories/local/group_vars/all/capacity.yml").read_text())[
    "arena_capacity_model"
]
SERVICES_PLAYBOOK = yaml.safe_load((REPO_ROOT / "playbooks/platform_services.yml").read_text())
TOPICS = {
    "regional": "arn:aws:sns:eu-west-1:123456789012:arena-staging-alerts",
    "us_east_1": "arn:aws:sns:us-east-1:123456789012:arena-staging-alerts",
}


@pytest.fixture(scope="module")
def mon() -> ModuleType:
    return filter_plugin("arena_monitoring")


@pytest.fixture(scope="module")
def put_rules() -> ModuleType:
    """library/arena_cloudwatch_metric_alarms.py: what PutMetricAlarm refuses, as the module checks it."""
    return library_module("arena_cloudwatch_metric_alarms")


def tier_ids(tier: str) -> dict[str, str]:
    lb = "app/arena-staging-public/1" if tier == "web" else f"app/arena-staging-{tier}/2"
    return {
        "load_balancer": lb,
        "target_group": f"targetgroup/arena-staging-{tier}/3",
        "group": f"arena-staging-{tier}",
    }


def view(tiers: list[str] = TIERS, **overrides: Any) -> dict[str, Any]:
    """The platform as arena_monitoring_view reads it: every tier of tiers.yml, every service built."""
    base = {
        "name_prefix": "arena-staging",
        "region": "eu-west-1",
        "tiers": {t: tier_ids(t) for t in tiers},
        "cache": {
            "replication_group": "arena-staging-cache",
            "nodes": ["arena-staging-cache-001", "arena-staging-cache-002"],
            "replicas": ["arena-staging-cache-002"],
        },
        "cdn": {"distribution_id": "E2QWRUHEXAMPLE"},
        "email": {"configuration_set": "arena-staging-mail"},
        "nat_gateways": ["nat-0a", "nat-0b"],
    }
    return {**base, **overrides}


def alarms_of(mon: ModuleType, v: dict[str, Any], thresholds: dict[str, Any] = THRESHOLDS) -> dict[str, Any]:
    return mon.arena_monitoring_alarms(v, thresholds, MODEL, TOPICS)


def names(result: dict[str, Any]) -> set[str]:
    return {a["AlarmName"] for a in result["regional"] + result["us_east_1"]}


def test_every_tier_and_service_has_alarms(mon: ModuleType) -> None:
    """A new tier in tiers.yml, or a new service role in playbooks/platform_services.yml without an
    entry in SERVICE_VIEW_KEYS (what of the view watches it), fails here."""
    result = alarms_of(mon, view())
    got = names(result)
    for tier in TIERS:
        assert {
            f"arena-staging-{tier}-{k}" for k in ("target-5xx", "unhealthy-hosts", "latency-p99", "capacity-shortfall")
        } <= got
    services = SERVICES_PLAYBOOK[0]["vars"]["platform_services_roles"]
    assert sorted(mon.SERVICE_VIEW_KEYS) == sorted(services), "a platform service without alarms"
    watched = {
        "cache": {"arena-staging-cache-001-memory", "arena-staging-cache-002-replication-lag"},
        "cdn": {"arena-staging-cdn-5xx"},
        "email": {"arena-staging-mail-bounce-rate", "arena-staging-mail-complaint-rate"},
    }
    for role in services:
        assert watched[mon.SERVICE_VIEW_KEYS[role]] <= got, role
    assert {"arena-staging-nat-0a-port-allocation", "arena-staging-nat-0b-port-allocation"} <= got
    # Per load balancer, once, though two tiers may share one.
    assert {"arena-staging-lb-public-elb-5xx", "arena-staging-lb-api-rejected-connections"} <= got


def test_a_new_tier_gets_its_alarms_once_it_has_a_latency_target(mon: ModuleType) -> None:
    with pytest.raises(
        AnsibleFilterError, match=r"platform_monitoring_thresholds.latency_p99_seconds has no value for tier 'stream'"
    ):
        alarms_of(mon, view([*TIERS, "stream"]))
    thresholds = copy.deepcopy(THRESHOLDS)
    thresholds["latency_p99_seconds"]["stream"] = 0.8
    got = names(alarms_of(mon, view([*TIERS, "stream"]), thresholds))
    assert {
        f"arena-staging-stream-{k}" for k in ("target-5xx", "unhealthy-hosts", "latency-p99", "capacity-shortfall")
    } <= got


def test_every_alarm_is_one_put_metric_alarm_accepts(mon: ModuleType, put_rules: ModuleType) -> None:
    result = alarms_of(mon, view())
    for alarm in result["regional"] + result["us_east_1"]:
        assert put_rules.problems(alarm) == [], alarm["AlarmName"]
        assert alarm["AlarmActions"] == alarm["OKActions"]
    assert put_rules.composite_problems(result["composite"]) == []


def test_thresholds_derive_from_the_capacity_model(mon: ModuleType) -> None:
    by_name = {a["AlarmName"]: a for a in alarms_of(mon, view())["regional"]}
    # Overload: 90 % of an instance's requests per minute at 100 % (c6i.large 6000, c6i.xlarge 12000).
    for tier in ("web", "api"):
        capacity = MODEL["instance_types"][MODEL["tiers"][tier]["instance_type"]]
        assert by_name[f"arena-staging-{tier}-overload"]["Threshold"] == capacity * THRESHOLDS["overload_percent"] / 100
    assert "arena-staging-admin-overload" not in by_name  # admin is not in the capacity model
    # Capacity shortfall: longer than boot to healthy plus the target group's health checks.
    health = MODEL["health_check"]["interval_seconds"] * MODEL["health_check"]["healthy_threshold"]
    minutes = math.ceil((MODEL["boot_to_healthy_seconds"] + health) / 60) + 1
    shortfall = by_name["arena-staging-web-capacity-shortfall"]
    assert (shortfall["EvaluationPeriods"], shortfall["DatapointsToAlarm"]) == (minutes, minutes)
    assert [m["Id"] for m in shortfall["Metrics"]] == ["floor", "inservice", "shortfall"]


def test_cloudfront_alarms_in_us_east_1_with_a_topic_there(mon: ModuleType) -> None:
    result = alarms_of(mon, view())
    (cdn,) = result["us_east_1"]
    assert cdn["AlarmActions"] == [TOPICS["us_east_1"]]
    assert {d["Name"]: d["Value"] for d in cdn["Dimensions"]} == {
        "DistributionId": "E2QWRUHEXAMPLE",
        "Region": "Global",
    }
    home = mon.arena_monitoring_alarms(view(region="us-east-1"), THRESHOLDS, MODEL, {"regional": TOPICS["us_east_1"]})
    assert home["us_east_1"] == [] and "arena-staging-cdn-5xx" in names(home)
    with pytest.raises(AnsibleFilterError, match="need a topic there"):
        mon.arena_monitoring_alarms(view(), THRESHOLDS, MODEL, {"regional": TOPICS["regional"]})


def test_the_composite_names_only_regional_alarms_that_exist(mon: ModuleType) -> None:
    result = alarms_of(mon, view())
    ruled = set(re.findall(r'ALARM\("([^"]+)"\)', result["composite"]["AlarmRule"]))
    regional = {a["AlarmName"] for a in result["regional"]}
    assert ruled <= regional and "arena-staging-web-capacity-shortfall" in ruled
    assert "arena-staging-cdn-5xx" not in ruled  # another region: a composite cannot name it
    assert len(result["composite"]["AlarmRule"]) <= mon.RULE_LIMIT


def test_release_names_are_the_canary_alarms_made(mon: ModuleType) -> None:
    """playbooks/rollout.yml names arena_release_alarm_names in the instance refresh: they must exist."""
    made = names(alarms_of(mon, view()))
    for tier, release in mon.arena_release_alarm_names(TIERS, "arena-staging").items():
        assert release == [f"arena-staging-{tier}-target-5xx", f"arena-staging-{tier}-unhealthy-hosts"]
        assert set(release) <= made


def test_services_not_built_have_no_alarms(mon: ModuleType) -> None:
    got = names(alarms_of(mon, view(cache=None, cdn=None, email=None, nat_gateways=[])))
    assert not any(
        n.startswith(("arena-staging-cache", "arena-staging-cdn", "arena-staging-mail", "arena-staging-nat"))
        for n in got
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"bounce_rate_percent": 5}, r"bounce_rate_percent is 5 %, at or above the 5.0 % at which AWS"),
        ({"complaint_rate_percent": 0.1}, r"complaint_rate_percent is 0.1 %, at or above the 0.1 %"),
        ({"datapoints_to_alarm": 4}, r"datapoints_to_alarm \(4\) is over evaluation_periods \(3\)"),
        ({"target_5xx_percent": 0}, r"target_5xx_percent must be a number in \(0, 100\], got 0"),
        ({"cache_memory_percent": 120}, r"cache_memory_percent must be a number in \(0, 100\], got 120"),
        ({"unhealthy_hosts": 1.5}, r"unhealthy_hosts must be an integer above 0, got 1.5"),
        ({"evaluation_periods": True}, r"evaluation_periods must be an integer"),
        ({"latency_p99_seconds": {"web": 0}}, r"latency_p99_seconds.web must be a number in \(0, 60\]"),
        ({"paging": 1}, r"unknown keys paging"),
    ],
)
def test_thresholds_that_make_no_sense_are_refused_naming_the_key(mon: ModuleType, change: dict, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match="platform_monitoring_thresholds.*" + message):
        mon.arena_check_monitoring_thresholds({**THRESHOLDS, **change})


def test_a_missing_threshold_is_named(mon: ModuleType) -> None:
    thresholds = {k: v for k, v in THRESHOLDS.items() if k != "cache_cpu_percent"}
    with pytest.raises(AnsibleFilterError, match="platform_monitoring_thresholds lacks cache_cpu_percent"):
        mon.arena_check_monitoring_thresholds(thresholds)


def test_a_view_without_a_tiers_dimensions_is_refused(mon: ModuleType) -> None:
    broken = view()
    broken["tiers"]["web"] = {**broken["tiers"]["web"], "target_group": ""}
    with pytest.raises(AnsibleFilterError, match="tier web of the platform view lacks target_group"):
        alarms_of(mon, broken)
