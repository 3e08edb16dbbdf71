"""Every environment ships a calendar and a capacity model that the filters accept."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
ENVIRONMENTS = sorted(p.name for p in (ROOT / "inventories").iterdir() if (p / "group_vars").is_dir())


def load(env: str, name: str, key: str) -> Any:
    data = yaml.safe_load((ROOT / "inventories" / env / "group_vars" / "all" / name).read_text())
    assert set(data) == {key}, f"{env}/{name} should define only {key}"
    return data[key]


def test_every_environment_is_checked() -> None:
    assert {"local", "staging", "production"} <= set(ENVIRONMENTS)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_calendar_plans_and_returns_to_baseline(env: str, schedule: ModuleType, capacity: ModuleType) -> None:
    events = load(env, "events.yml", "arena_events")
    model = load(env, "capacity.yml", "arena_capacity_model")
    plan = schedule.arena_scaling_schedule(events, model)
    parsed = capacity.parse_model(model)
    assert plan, f"{env}: the calendar should need at least one scale-out"
    for tier in parsed.tiers:
        last = [a for a in plan if a["tier"] == tier.name][-1]
        assert (last["kind"], last["desired_capacity"]) == ("baseline", tier.min_size)


def test_environments_scale_the_same_tiers() -> None:
    tiers = {env: sorted(load(env, "capacity.yml", "arena_capacity_model")["tiers"]) for env in ENVIRONMENTS}
    assert len({tuple(t) for t in tiers.values()}) == 1, tiers
