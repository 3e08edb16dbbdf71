"""arena_capacity / arena_lead_time: the audience -> instances model, bounds, lead time, bad input."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from arena_testlib import capacity_model
from hypothesis import given
from hypothesis import strategies as st

MODEL: dict[str, Any] = capacity_model()


def model_with(path: str | tuple[str, ...], value: Any) -> dict[str, Any]:
    """MODEL with one key (dotted, or a tuple when a key has dots) replaced; value None deletes it."""
    return capacity_model(changes={path: value})


@pytest.mark.parametrize(
    ("viewers", "expected"),
    [
        (0, {"api": 2, "web": 2}),
        (1000, {"api": 2, "web": 2}),
        # web: 40000 * 1.5 / (6000 * 0.7) = 14.28 -> 15; api: 40000 * 4 / 8400 = 19.04 -> 20
        (40000, {"api": 20, "web": 15}),
        # exact fit: 4200 planned rpm per web instance = 2800 viewers -> exactly 1 (min 2 still applies)
        (28000, {"api": 14, "web": 10}),
        # clamped at max_size
        (500000, {"api": 48, "web": 40}),
    ],
)
def test_instances_per_tier(capacity: ModuleType, viewers: int, expected: dict[str, int]) -> None:
    assert capacity.arena_capacity(viewers, MODEL) == expected


def test_single_tier(capacity: ModuleType) -> None:
    assert capacity.arena_capacity(40000, MODEL, "web") == 15


def test_lead_time_is_boot_plus_health_checks_plus_margin(capacity: ModuleType) -> None:
    assert capacity.arena_lead_time(MODEL) == 240 + 10 * 3 + 1200


def test_zero_headroom_plans_for_full_utilisation(capacity: ModuleType) -> None:
    model = model_with("tiers.web.headroom", 0)
    assert capacity.arena_capacity(40000, model, "web") == 10


@pytest.mark.parametrize(
    ("viewers", "model", "tier", "message"),
    [
        (-1, MODEL, None, "arena_capacity: viewers must be a non-negative integer, got -1"),
        ("many", MODEL, None, "arena_capacity: viewers must be a non-negative integer, got 'many'"),
        (10, MODEL, "admin", "arena_capacity: unknown tier 'admin'; the model has ['api', 'web']"),
        (10, [], None, "arena_capacity: capacity model must be a mapping, got []"),
        (10, model_with("tail_minutes", None), None, "arena_capacity: capacity model is missing tail_minutes"),
        (
            10,
            model_with("lead_minutes", 5),
            None,
            "arena_capacity: capacity model has unknown keys ['lead_minutes']",
        ),
        (
            10,
            model_with("health_check.healthy_threshold", 0),
            None,
            "arena_capacity: health_check.healthy_threshold must be an integer >= 1, got 0",
        ),
        (
            10,
            model_with("boot_to_healthy_seconds", "4m"),
            None,
            "arena_capacity: boot_to_healthy_seconds must be an integer >= 1, got '4m'",
        ),
        (
            10,
            model_with("safety_margin_seconds", -60),
            None,
            "arena_capacity: safety_margin_seconds must be an integer >= 0, got -60",
        ),
        (
            10,
            model_with("instance_types", {}),
            None,
            "arena_capacity: instance_types must be a non-empty mapping, got {}",
        ),
        (
            10,
            model_with(("instance_types", "c6i.large"), 0),
            None,
            "arena_capacity: instance_types.c6i.large must be a number > 0, got 0",
        ),
        (10, model_with("tiers", {}), None, "arena_capacity: tiers must be a non-empty mapping, got {}"),
        (
            10,
            model_with("tiers.web.instance_type", "t3.nano"),
            None,
            "arena_capacity: tiers.web.instance_type 't3.nano' has no entry in instance_types"
            " ['c6i.large', 'c6i.xlarge']",
        ),
        (
            10,
            model_with("tiers.web.headroom", 1),
            None,
            "arena_capacity: tiers.web.headroom must be a fraction in [0, 1), got 1",
        ),
        (
            10,
            model_with("tiers.api.requests_per_viewer_per_minute", -2),
            None,
            "arena_capacity: tiers.api.requests_per_viewer_per_minute must be a number > 0, got -2",
        ),
        (
            10,
            model_with("tiers.api.max_size", 1),
            None,
            "arena_capacity: tiers.api.max_size 1 is below min_size 2",
        ),
        (10, model_with("tiers.api.min_size", None), None, "arena_capacity: tiers.api is missing min_size"),
    ],
)
def test_bad_input_is_rejected_with_exact_message(
    capacity: ModuleType, viewers: Any, model: Any, tier: str | None, message: str
) -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        capacity.arena_capacity(viewers, model, tier)
    assert caught.value.message == message


def test_lead_time_errors_name_their_filter(capacity: ModuleType) -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        capacity.arena_lead_time(model_with("safety_margin_seconds", None))
    assert caught.value.message == "arena_lead_time: capacity model is missing safety_margin_seconds"


@given(viewers=st.integers(min_value=0, max_value=400_000), more=st.integers(min_value=0, max_value=100_000))
def test_property_bounds_coverage_and_monotonicity(capacity: ModuleType, viewers: int, more: int) -> None:
    model = capacity.parse_model(MODEL)
    for tier in model.tiers:
        planned = capacity.instances_for(viewers, tier)
        assert tier.min_size <= planned <= tier.max_size
        assert capacity.instances_for(viewers + more, tier) >= planned
        need = capacity.instances_needed(viewers, tier)
        load = viewers * tier.requests_per_viewer_per_minute
        # enough instances at the planned utilisation, and not one more than that needs
        assert need * tier.planned_rpm_per_instance >= load - 1e-6
        assert need == 0 or (need - 1) * tier.planned_rpm_per_instance < load
        if need <= tier.max_size:
            assert planned == max(tier.min_size, need)


def test_filter_module_exposes_both_filters(capacity: ModuleType) -> None:
    assert set(capacity.FilterModule().filters()) == {"arena_capacity", "arena_lead_time"}
