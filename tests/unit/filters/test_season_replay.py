"""Season replay (simulation/replay.py): the building blocks, and the shipped season meets its goals.

The web tier's metric is modelled as AWS defines it (issue 13): ALBRequestCountPerTarget is the requests
of one minute per healthy target, and target tracking compares it with a target in requests per target
per minute (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TargetTrackingConfiguration.html,
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html);
an instance still unhealthy when its grace period ends is replaced
(https://docs.aws.amazon.com/autoscaling/ec2/userguide/health-check-grace-period.html).
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import yaml
from ansible.errors import AnsibleFilterError
from arena_loader import load_source

ROOT = Path(__file__).resolve().parents[3]
PRODUCTION = ROOT / "inventories" / "production" / "group_vars" / "all"
ROLE_DEFAULTS = ROOT / "roles" / "platform_autoscaling" / "defaults" / "main.yml"


@pytest.fixture(scope="module")
def replay() -> ModuleType:
    return load_source("simulation/replay.py", "arena_season_replay")


@pytest.fixture(scope="module")
def model_raw(replay: ModuleType) -> dict[str, Any]:
    return replay.read_yaml(PRODUCTION / "capacity.yml", "arena_capacity_model")


@pytest.fixture(scope="module")
def deployed(replay: ModuleType, model_raw: dict[str, Any]) -> Any:
    """What playbooks/platform.yml applies in production (as `make simulate-season` reads it)."""
    return replay.deployed_scaling(
        model_raw, replay.read_yaml(PRODUCTION / "platform.yml"), replay.read_yaml(ROLE_DEFAULTS)
    )


@pytest.fixture(scope="module")
def season(replay: ModuleType, model_raw: dict[str, Any], deployed: Any) -> dict[str, Any]:
    return replay.replay(
        replay.read_yaml(ROOT / "simulation" / "season.yml", "arena_events"),
        model_raw,
        replay.read_yaml(ROOT / "simulation" / "load_model.yml"),
        deployed,
    )


def test_fleet_launches_become_in_service_after_the_ready_time(replay: ModuleType) -> None:
    fleet = replay.Fleet(ready=5, in_service=2, max_size=10, floor=2)
    fleet.set_desired(6, minute=100)
    assert (fleet.in_service, fleet.desired) == (2, 6)
    fleet.promote(104)
    assert fleet.in_service == 2
    fleet.promote(105)
    assert (fleet.in_service, fleet.desired) == (6, 6)


def test_fleet_cancels_pending_launches_first_and_keeps_floor_and_max(replay: ModuleType) -> None:
    fleet = replay.Fleet(ready=5, in_service=4, max_size=10, floor=2)
    fleet.set_desired(8, minute=0)
    fleet.set_desired(3, minute=1)  # 4 pending cancelled, then 1 in service removed
    assert (fleet.in_service, fleet.pending, fleet.desired) == (3, [], 3)
    fleet.set_desired(0, minute=2)
    assert fleet.desired == 2
    fleet.set_desired(50, minute=3)
    assert fleet.desired == 10


@pytest.mark.parametrize(
    ("series", "need", "margin"),
    [
        ([2, 2, 9, 9, 9, 9, 9], 9, 4),  # kick-off at index 6: ready since index 2
        ([2, 2, 2, 2, 2, 2, 2, 5, 9, 9], 9, -2),  # ready 2 minutes after kick-off
        ([2, 2, 2, 2, 2, 2, 2, 2, 2, 2], 9, -4),  # never ready inside the event: late by its length
    ],
)
def test_readiness_margin(replay: ModuleType, series: list[int], need: int, margin: int) -> None:
    assert replay.readiness_margin(np.array(series), need, kick=6, end=10) == margin


def test_viewer_series_ramps_holds_and_decays(replay: ModuleType, calendar: ModuleType) -> None:
    load = replay.LoadModel.from_dict(replay.read_yaml(ROOT / "simulation" / "load_model.yml"))
    [event] = calendar.validate_events(
        [
            {
                "name": "G",
                "kind": "basketball",
                "start": "2027-01-01T02:00",
                "timezone": "UTC",
                "duration_minutes": 60,
                "peak_viewers": 30000,
            }
        ]
    )
    viewers = replay.viewer_series([event], load, datetime(2027, 1, 1, tzinfo=UTC), 240)
    assert viewers[0] == load.baseline_viewers  # before the ramp
    assert viewers[120 - 15] == 30000 * 0.25  # half-way through a 30-minute quadratic ramp
    assert viewers[120] == viewers[179] == 30000
    assert viewers[180 + 5] == pytest.approx(30000 * (1 - 5 / 15))
    assert viewers[200] == load.baseline_viewers


def test_shipped_season_is_season_like(season: dict[str, Any], replay: ModuleType) -> None:
    events = season["events"]
    kinds = Counter(e.kind for e in events)
    assert 38 <= kinds["basketball"] <= 45 and kinds["concert"] >= 3
    assert replay.dst_changes(events) == 1
    local = [datetime.fromisoformat(e.local_start) for e in events]
    assert any(d.weekday() < 5 and d.hour >= 20 for d in local), "weekday evening games"
    days = Counter(d.date() for d in local if d.weekday() >= 5)
    assert any(count >= 2 for count in days.values()), "weekend double-headers"
    assert sum("Playoffs" in e.name for e in events) >= 5


def test_season_goals(season: dict[str, Any], replay: ModuleType) -> None:
    prices = replay.read_yaml(ROOT / "simulation" / "prices.yml")
    s = replay.summary(season, prices)
    assert s["covered"] == s["events"] == len(season["events"])
    assert s["latest"] >= replay.READY_GOAL_MINUTES
    assert s["ratio_fixed"] <= 0.5
    # reactive lag is modelled: target tracking alone is late for the events the plan covers
    assert s["reactive_covered"] < s["events"]
    assert s["totals"]["planned"]["mixed"] < s["totals"]["planned"]["on_demand"]


def test_season_data_has_the_calendar_schema(calendar: ModuleType) -> None:
    data = yaml.safe_load((ROOT / "simulation" / "season.yml").read_text())
    assert list(data) == ["arena_events"]
    assert len(calendar.arena_events(data["arena_events"])) == len(data["arena_events"])


def test_report_goes_to_stdout_without_writing(
    replay: ModuleType,
    season: dict[str, Any],
    model_raw: dict[str, Any],
    deployed: Any,
    *,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """main() replays the shipped season under what production deploys: exactly the `season`
    fixture's inputs, so its result stands in for a second replay of the same season."""
    inputs: list[tuple[Any, ...]] = []

    def same_replay(*args: Any) -> dict[str, Any]:
        inputs.append(args)
        return season

    monkeypatch.setattr(replay, "replay", same_replay)
    assert replay.main(["--no-write"]) == 0
    assert inputs == [
        (
            replay.read_yaml(ROOT / "simulation" / "season.yml", "arena_events"),
            model_raw,
            replay.read_yaml(ROOT / "simulation" / "load_model.yml"),
            deployed,
        )
    ]
    out = capsys.readouterr().out
    assert "| Events with capacity InService >= 5 min before kick-off | 45/45 |" in out
    assert out.count("\n| 20") == 45  # one row per event


def test_doc_markers_are_required(replay: ModuleType, tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("no markers\n")
    with pytest.raises(SystemExit, match="season-report markers not found"):
        replay.write_doc(doc, "report\n")
    doc.write_text(f"head\n{replay.MARK_START}\nold\n{replay.MARK_END}\ntail\n")
    replay.write_doc(doc, "new\n")
    assert doc.read_text() == f"head\n{replay.MARK_START}\nnew\n{replay.MARK_END}\ntail\n"


def test_step_up_keeps_what_target_tracking_added_above_the_new_floor(replay: ModuleType, calendar: ModuleType) -> None:
    """Double-header whose first game draws three times its forecast: the second game's step-up runs
    while the first is still on. It sets MinSize only, so the group keeps the capacity target tracking
    added for the first game; a step-up that also set DesiredCapacity (the old plan) cut it to the floor."""
    load = replay.LoadModel.from_dict(replay.read_yaml(ROOT / "simulation" / "load_model.yml"))
    model = replay.capacity_lib.parse_model(
        replay.read_yaml(
            ROOT / "inventories" / "production" / "group_vars" / "all" / "capacity.yml", "arena_capacity_model"
        )
    )

    def games(first_viewers: int) -> list[Any]:
        raw = [("Game 1", "2027-02-13T18:00", 90, first_viewers), ("Game 2", "2027-02-13T19:50", 120, 40000)]
        return calendar.validate_events(
            [
                {
                    "name": n,
                    "kind": "basketball",
                    "start": s,
                    "timezone": "UTC",
                    "duration_minutes": d,
                    "peak_viewers": v,
                }
                for n, s, d, v in raw
            ]
        )

    forecast, actual = games(20000), games(60000)
    origin = datetime(2027, 2, 13, tzinfo=UTC)
    web = next(t for t in model.tiers if t.name == "web")
    requests = replay.viewer_series(actual, load, origin, 1440) * web.requests_per_viewer_per_minute
    actions = [a for a in replay.schedule_lib.build_schedule(forecast, model) if a.tier == "web"]
    # 18:00 - 1460 s -> 17:35 floor 8; game 2: 19:50 - 1460 s -> 19:25 floor 15 (game 1 on until 19:30)
    assert [(a.start.strftime("%H:%M"), a.size, a.desired_capacity) for a in actions] == [
        ("17:35", 8, None),
        ("19:25", 15, None),
        ("22:20", 2, 2),
    ]
    ready = math.ceil(model.ready_seconds / 60)
    step_up, game_1_end = 19 * 60 + 25, 19 * 60 + 30
    need = replay.capacity_lib.instances_needed(60000, web)
    assert need == 22

    planned = replay.run_tier(
        web, requests, load, ready, {replay.minute_of(a.start, origin): (a.size, a.desired_capacity) for a in actions}
    )
    assert planned.in_service[step_up - 1] >= need  # target tracking had scaled game 1 up
    assert planned.in_service[step_up:game_1_end].min() >= need

    forced = {replay.minute_of(a.start, origin): (a.size, a.size) for a in actions}
    old = replay.run_tier(web, requests, load, ready, forced)
    assert old.in_service[step_up] == 15


def test_replay_uses_the_settings_production_deploys(deployed: Any) -> None:
    """The web target is production's (derived from the capacity model: 4200 requests per target per
    minute, not 200); grace period and warm-up are the boot budget, 240 s boot + 20 s health checks."""
    assert deployed.targets == {"web": 4200.0, "api": 8400.0}
    assert (deployed.grace, deployed.warmup) == (260, 260)
    assert deployed.notes["web"] == "ALBRequestCountPerTarget 4200 requests per target per minute (derived)"


def test_replay_refuses_what_the_playbook_refuses(replay: ModuleType, model_raw: dict[str, Any]) -> None:
    """The production web block before issue 13 (target 200) is refused with the playbook's rule."""
    before = {"platform_autoscaling_tiers": {"web": {"scaling": {"metric": "requests_per_target", "target": 200}}}}
    with pytest.raises(AnsibleFilterError, match=r"target is 200 requests per target per minute, more than 10 %"):
        replay.deployed_scaling(model_raw, before)
    with pytest.raises(AnsibleFilterError, match=r"grace_period is 120 s, below the boot budget"):
        replay.deployed_scaling(model_raw, {"platform_autoscaling_health_check_grace_period": 120})


@pytest.mark.parametrize(
    ("viewers", "target", "held"),
    [
        (1500, 200.0, 12),  # baseline: 2250 requests per minute / 200 -> 12 instances between events
        (1500, 4200.0, 2),  # the model's baseline (min_size)
        (40000, 200.0, 40),  # 60000 per minute / 200 = 300 -> max_size: web sat at max every event
        (40000, 4200.0, 15),  # the plan's 15 instances for 40000 viewers
    ],
)
def test_web_metric_is_requests_per_target_per_minute(
    replay: ModuleType, model_raw: dict[str, Any], viewers: int, target: float, held: int
) -> None:
    """Steady load for two hours: target tracking settles where requests per target per minute meets
    the target (defect 4: the old 200 put web at 12 instances between events and at 40 during them)."""
    load = replay.LoadModel.from_dict(replay.read_yaml(ROOT / "simulation" / "load_model.yml"))
    web = replay.capacity_lib.parse_model(model_raw).tier("web", "test")
    requests = np.full(120, viewers * web.requests_per_viewer_per_minute)
    timeline = replay.run_tier(web, requests, load, 5, {}, target=target)
    assert timeline.in_service[-1] == held


def test_launches_whose_grace_period_ends_before_they_are_healthy_never_serve(replay: ModuleType) -> None:
    """Defect 7: 120 s of grace for a 260 s launch-to-healthy: EC2 Auto Scaling replaces each new
    instance while it boots, and its replacement too; they are billed and never InService."""
    assert replay.launch_ready(260, 260) == 5
    assert replay.launch_ready(260, 120) is None
    fleet = replay.Fleet(ready=replay.launch_ready(260, 120), in_service=2, max_size=10, floor=2)
    fleet.set_desired(6, minute=0)
    fleet.promote(10_000)
    assert (fleet.in_service, fleet.desired) == (2, 6)


def test_the_season_with_the_target_before_issue_13_costs_three_times_more(
    replay: ModuleType, model_raw: dict[str, Any], season: dict[str, Any]
) -> None:
    """The same season with web tracking 200 requests per target per minute: web holds 12 instances
    between events and max_size (40) through every event; the plan's readiness does not change."""
    before = replay.replay(
        replay.read_yaml(ROOT / "simulation" / "season.yml", "arena_events"),
        model_raw,
        replay.read_yaml(ROOT / "simulation" / "load_model.yml"),
        replay.deployed_scaling(model_raw, web_target=200),
    )
    prices = replay.read_yaml(ROOT / "simulation" / "prices.yml")
    after_hours = replay.summary(season, prices)["totals"]["planned"]["hours"]
    before_summary = replay.summary(before, prices)
    assert before_summary["totals"]["planned"]["hours"] > 3 * after_hours
    assert before_summary["covered"] == len(before["events"])
    web = before["tiers"]["web"]["planned"].in_service
    for event in before["events"]:
        kick, end = replay.minute_of(event.start, before["origin"]), replay.minute_of(event.end, before["origin"])
        assert web[kick:end].min() == 40, event.name
