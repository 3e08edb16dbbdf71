"""scripts/dashboard.py (the renderer of `make dashboard`) and scripts/dashboard_sample.py against moto
in process: a small event-day body from the filter, sample metrics of a replayed hour written into the
emulator in the body's dimension order, GetMetricData per widget (CloudFront's in us-east-1), the
alarm table from DescribeAlarms, and a PNG of the grid's size."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from arena_loader import REPO_ROOT, filter_plugin, load_source
from PIL import Image

render: ModuleType = load_source(REPO_ROOT / "scripts" / "dashboard.py", "arena_dashboard_render")
sample: ModuleType = render.sample
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
VIEW = {
    "environment": "local",
    "region": "eu-west-1",
    "name_prefix": "arena-local",
    "metrics_namespace": "Arena/Instances",
    "account": "123456789012",
    "tiers": {
        "web": {
            "load_balancer": "app/arena-local-public/50dc6c495c0c9188",
            "target_group": "targetgroup/arena-local-web/73e2d6bc24d8a067",
            "group": "arena-local-web",
        }
    },
    "cdn": {"distribution_id": "E2QWRUHEXAMPLE"},
    "alarms": ["arena-local-web-target-5xx", "arena-local-web-gone"],
}


@pytest.fixture
def lab() -> Any:
    """moto in process, with one of the two alarms of VIEW."""
    from moto import mock_aws  # noqa: PLC0415 -- only these tests run moto in process

    with mock_aws():
        clients = {r: boto3.client("cloudwatch", region_name=r) for r in ("eu-west-1", "us-east-1")}
        clients["eu-west-1"].put_metric_alarm(
            AlarmName="arena-local-web-target-5xx",
            Namespace="AWS/ApplicationELB",
            MetricName="HTTPCode_Target_5XX_Count",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=3,
            Threshold=5,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        yield clients


def replayed_hour() -> Any:
    """The last hour, the local calendar's first event kicked off 20 minutes before its end."""
    return sample.replay_event(NOW, hours=1, kickoff_before_end=timedelta(minutes=20))


def event_body(replay: Any) -> dict[str, Any]:
    kickoff = {"name": "Replayed", "start_utc": replay.event.start.strftime("%Y-%m-%dT%H:%M:%SZ")}
    now = replay.start.strftime("%Y-%m-%dT%H:%M:%SZ")
    return filter_plugin("arena_dashboard").arena_dashboard_body(VIEW, [kickoff], {"now": now})


def test_renders_the_grid_into_a_png_of_its_size(lab: dict[str, Any], tmp_path: Path) -> None:
    replay = replayed_hour()
    body = event_body(replay)
    written, unknown = sample.put_sample(lab, body, VIEW, replay, {})
    assert unknown == []
    assert written == replay.minutes * 12  # 11 metrics of the tier, CloudFront's rate
    out = tmp_path / "dashboard.png"
    size = render.render(
        body, lab.__getitem__, replay.start, replay.at(replay.minutes), out, percentiles_as="Maximum", footer="test"
    )
    rows = max(w["y"] + w["height"] for w in body["widgets"])
    assert size == (24 * render.COLUMN_PX, (rows + render.FOOTER_ROWS) * render.ROW_PX) == render.pixel_size(body)
    with Image.open(out) as png:
        assert png.size == size


def test_every_graph_gets_its_metrics_back_in_its_own_region(lab: dict[str, Any]) -> None:
    """The sample writes each metric with the body's dimension order (the emulator matches no other),
    CloudFront's in us-east-1; p99 is asked as Maximum (the emulator has no percentiles)."""
    replay = replayed_hour()
    body = event_body(replay)
    sample.put_sample(lab, body, VIEW, replay, {})
    start, end = replay.start, replay.at(replay.minutes)
    for widget in (w for w in body["widgets"] if w["type"] == "metric"):
        properties = widget["properties"]
        series = render.fetch(lab[properties["region"]], properties, start, end, "Maximum")
        assert [len(s.values) for s in series] == [replay.minutes] * len(series), properties["title"]
    requests = next(w for w in body["widgets"] if w["properties"].get("title") == "web: requests per minute")
    [line] = render.fetch(lab["eu-west-1"], requests["properties"], start, end, "Maximum")
    assert line.values == list(replay.tiers["web"].requests)


def test_the_alarm_table_reads_describe_alarms_and_shows_a_missing_one(lab: dict[str, Any]) -> None:
    sample.settle_alarms(lab["eu-west-1"], ["arena-local-web-target-5xx"], "sample replay")
    arns = [f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{n}" for n in VIEW["alarms"]]
    rows = render.alarm_rows(lab.__getitem__, arns)
    assert [(r.name, r.state, r.reason) for r in rows] == [
        ("arena-local-web-target-5xx", "OK", "sample replay"),
        ("arena-local-web-gone", "MISSING", "no such alarm"),
    ]


def test_metric_entries_with_the_consoles_shorthand_and_expressions() -> None:
    properties = {
        "period": 60,
        "stat": "Sum",
        "metrics": [
            ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", "app/a/1", {"label": "a"}],
            [".", "HTTPCode_ELB_5XX_Count", ".", "."],
            ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", "app/a/1", {"stat": "p99", "period": 300}],
            [{"expression": "m0 / 60", "label": "per second"}],
        ],
    }
    queries, labels, skipped = render.metric_queries(properties, "Maximum")
    assert labels == ["a", "HTTPCode_ELB_5XX_Count", "TargetResponseTime"]
    assert skipped == ["per second"]
    assert queries[1]["MetricStat"] == {
        "Metric": {
            "Namespace": "AWS/ApplicationELB",
            "MetricName": "HTTPCode_ELB_5XX_Count",
            "Dimensions": [{"Name": "LoadBalancer", "Value": "app/a/1"}],
        },
        "Period": 60,
        "Stat": "Sum",
    }
    assert (queries[2]["MetricStat"]["Stat"], queries[2]["MetricStat"]["Period"]) == ("Maximum", 300)
    assert render.metric_queries(properties, None)[0][2]["MetricStat"]["Stat"] == "p99"


def test_the_replay_follows_the_capacity_model_and_the_schedule() -> None:
    """Requests are viewers x requests per viewer; the floor steps up before kick-off to the model's
    instances for the event and back to the baseline after its tail."""
    replay = sample.replay_event(NOW, hours=4)
    web, kick = replay.tiers["web"], replay.kickoff_minute
    assert web.requests[0] == 1500 * 1.5  # the load model's baseline viewers
    assert web.requests[kick + 10] == 12000 * 1.5  # the event's peak viewers
    assert (web.floor[0], web.floor[kick], web.floor[-1]) == (2, 5, 2)  # ceil(18000 / 4200) = 5
    step_up = int((web.floor > 2).argmax())
    assert kick - 25 <= step_up < kick - 20  # lead time 1460 s before kick-off
    assert (web.in_service[kick : kick + 120] >= 5).all()


@pytest.mark.parametrize("url", [None, "", "https://monitoring.eu-west-1.amazonaws.com", "http://10.0.0.1:5000"])
def test_sample_data_never_goes_anywhere_but_the_loopback_emulator(url: str | None) -> None:
    with pytest.raises(SystemExit, match="AWS_URL must point at the local emulator"):
        sample.require_emulator(url)
