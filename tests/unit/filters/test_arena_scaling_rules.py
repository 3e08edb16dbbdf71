"""arena_scaling_rules: targets, grace period and warm-up derived from the capacity model, and the
refusals that playbooks/platform.yml applies before any AWS call (issue 13, defects 4 and 7).

AWS pages the rules follow:
- TargetTrackingConfiguration: a count metric's target is "the optimal average request or message
  count per instance during any one-minute interval"
  https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TargetTrackingConfiguration.html
- RequestCountPerTarget (statistic Sum = the average per target, 60-second intervals)
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
- Set the health check grace period
  https://docs.aws.amazon.com/autoscaling/ec2/userguide/health-check-grace-period.html
- Set the default instance warmup
  https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-default-instance-warmup.html
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from arena_testlib import REPO_ROOT, capacity_model

# As inventories/*/capacity.yml: health checks 10 s x 2 (the target groups' healthy threshold).
MODEL: dict[str, Any] = capacity_model(healthy_threshold=2)
GRACE_DOC = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/health-check-grace-period.html"
WARMUP_DOC = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-default-instance-warmup.html"
TARGET_DOC = "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TargetTrackingConfiguration.html"
BUDGET = "boot_to_healthy_seconds (240 s) plus the target group's health checks (20 s) = 260 s"
ENVIRONMENTS = ("local", "staging", "production")


def model_with(**web: Any) -> dict[str, Any]:
    """MODEL with the web tier's keys replaced."""
    return capacity_model(healthy_threshold=2, changes={f"tiers.web.{key}": value for key, value in web.items()})


def tiers(**scaling: Any) -> dict[str, Any]:
    """platform_autoscaling_tiers with the web tier's scaling block (api/admin as the role defaults)."""
    return {
        "web": {"scaling": {"metric": "requests_per_target", **scaling}},
        "api": {"scaling": {"metric": "cpu", "target": 50}},
        "admin": {"scaling": {"metric": "cpu", "target": 60}},
    }


def env_model(env: str) -> dict[str, Any]:
    path = REPO_ROOT / "inventories" / env / "group_vars" / "all" / "capacity.yml"
    return yaml.safe_load(path.read_text())["arena_capacity_model"]


# --- the web target: requests per target per minute -------------------------------------------


@pytest.mark.parametrize(
    ("capacity", "headroom", "expected"),
    [
        (6000, 0.3, 4200.0),  # the shipped web model
        (6000, 0, 6000.0),
        (5000, 0.33, 3350.0),
        (7000, 0.15, 5950.0),
    ],
)
def test_target_is_per_minute_capacity_times_one_minus_headroom(
    scaling_rules: ModuleType, capacity: int, headroom: float, expected: float
) -> None:
    """AWS compares an ALBRequestCountPerTarget target with the requests per target in one minute
    (TARGET_DOC); the model's capacity is per minute too, so no unit conversion happens."""
    model = model_with(headroom=headroom)
    model["instance_types"]["c6i.large"] = capacity
    assert scaling_rules.arena_target_tracking(model, "web") == expected


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_environment_derives_4200_for_web_not_200(scaling_rules: ModuleType, env: str) -> None:
    """Defect 4: the groups tracked 200 requests per target per minute, 21x below what the capacity
    model plans per instance; web scaled out about 20x too early and sat at max_size every event."""
    target = scaling_rules.arena_target_tracking(env_model(env), "web")
    assert target == 4200.0
    assert target / 200 == 21


def test_scaling_targets_derive_a_target_left_out_and_pass_cpu_targets(scaling_rules: ModuleType) -> None:
    assert scaling_rules.arena_scaling_targets(tiers(), MODEL) == {"admin": 60.0, "api": 50.0, "web": 4200.0}


@pytest.mark.parametrize("override", [3780, 4000, 4200, 4620, "4500"])
def test_scaling_targets_keep_an_override_within_the_tolerance(scaling_rules: ModuleType, override: Any) -> None:
    assert scaling_rules.arena_scaling_targets(tiers(target=override), MODEL)["web"] == float(override)


def test_a_requests_per_target_tier_outside_the_model_keeps_its_given_target(scaling_rules: ModuleType) -> None:
    admin = {"admin": {"scaling": {"metric": "requests_per_target", "target": 900}}}
    assert scaling_rules.arena_scaling_targets(admin, MODEL) == {"admin": 900.0}


@pytest.mark.parametrize(
    ("platform_tiers", "model", "message"),
    [
        pytest.param(
            tiers(target=200),
            MODEL,
            "arena_scaling_targets: platform_autoscaling_tiers.web.scaling.target is 200 requests per target per "
            "minute, more than 10 % away from the capacity model's 4200 (6000 requests per minute per c6i.large x "
            "(1 - headroom 0.3)). AWS compares the target with ALBRequestCountPerTarget, the average request count "
            "per target in one minute, and the scheduled floors are planned at 4200: leave scaling.target out to "
            f"derive it, or change the model's headroom. AWS: {TARGET_DOC}",
            id="defect-4-target-200",
        ),
        pytest.param(
            tiers(target=3779),
            MODEL,
            "arena_scaling_targets: platform_autoscaling_tiers.web.scaling.target is 3779 requests per target per "
            "minute, more than 10 % away from the capacity model's 4200 (6000 requests per minute per c6i.large x "
            "(1 - headroom 0.3)). AWS compares the target with ALBRequestCountPerTarget, the average request count "
            "per target in one minute, and the scheduled floors are planned at 4200: leave scaling.target out to "
            f"derive it, or change the model's headroom. AWS: {TARGET_DOC}",
            id="just-below-tolerance",
        ),
        pytest.param(
            tiers(target=6200),
            model_with(headroom=0.05),  # derived 5700: 6200 is within 10 % but above 100 %
            "arena_scaling_targets: platform_autoscaling_tiers.web.scaling.target is 6200 requests per target per "
            "minute, above what one c6i.large serves at 100 % (6000 per minute in the capacity model): target "
            "tracking would let every instance run overloaded. Leave scaling.target out to derive 5700 (6000 "
            f"requests per minute per c6i.large x (1 - headroom 0.05)). AWS: {TARGET_DOC}",
            id="above-full-capacity",
        ),
        pytest.param(
            tiers(target=0),
            MODEL,
            "arena_scaling_targets: platform_autoscaling_tiers.web.scaling.target must be a number > 0, got 0",
            id="zero-target",
        ),
        pytest.param(
            tiers(target="many"),
            MODEL,
            "arena_scaling_targets: platform_autoscaling_tiers.web.scaling.target must be a number > 0, got 'many'",
            id="text-target",
        ),
        pytest.param(
            {"admin": {"scaling": {"metric": "requests_per_target"}}},
            MODEL,
            "arena_scaling_targets: platform_autoscaling_tiers.admin.scaling.target is required: the capacity model "
            "has no tier 'admin' to derive its requests per target per minute from (model tiers: ['api', 'web']).",
            id="nothing-to-derive-from",
        ),
        pytest.param(
            {"api": {"scaling": {"metric": "cpu"}}},
            MODEL,
            "arena_scaling_targets: platform_autoscaling_tiers.api.scaling.target is required for metric cpu.",
            id="cpu-without-target",
        ),
        pytest.param(
            {"web": {"scaling": {"metric": "requests_per_second", "target": 70}}},
            MODEL,
            "arena_scaling_targets: platform_autoscaling_tiers.web.scaling must name a metric (requests_per_target or "
            "cpu), got {'metric': 'requests_per_second', 'target': 70}",
            id="unknown-metric",
        ),
        pytest.param(
            ["web"],
            MODEL,
            "arena_scaling_targets: platform_autoscaling_tiers must be a mapping of tiers, got ['web']",
            id="not-a-mapping",
        ),
    ],
)
def test_scaling_targets_refuse(
    scaling_rules: ModuleType, platform_tiers: Any, model: dict[str, Any], message: str
) -> None:
    with pytest.raises(AnsibleFilterError) as refused:
        scaling_rules.arena_scaling_targets(platform_tiers, model)
    assert refused.value.message == message


def test_a_bad_model_is_refused_with_the_capacity_models_message(scaling_rules: ModuleType) -> None:
    with pytest.raises(AnsibleFilterError) as refused:
        scaling_rules.arena_target_tracking(model_with(headroom=1), "web")
    assert refused.value.message == "arena_target_tracking: tiers.web.headroom must be a fraction in [0, 1), got 1"


# --- the boot budget: grace period and warm-up -------------------------------------------------


@pytest.mark.parametrize(("threshold", "expected"), [(2, 260), (3, 270), (5, 290)])
def test_grace_period_and_warmup_are_boot_plus_health_checks(
    scaling_rules: ModuleType, threshold: int, expected: int
) -> None:
    """ELB health checks start at registration (InService); the grace period must last until the
    target group reports the instance healthy (GRACE_DOC), the warm-up until it serves (WARMUP_DOC)."""
    model = capacity_model(healthy_threshold=threshold)
    assert scaling_rules.arena_grace_period(model) == expected
    assert scaling_rules.arena_instance_warmup(model) == expected


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_environment_derives_260_s_not_120(scaling_rules: ModuleType, env: str) -> None:
    """Defect 7: the groups had 120 s of grace for a 240 s boot budget."""
    assert scaling_rules.arena_grace_period(env_model(env)) == 260
    assert scaling_rules.arena_instance_warmup(env_model(env)) == 260


@pytest.mark.parametrize("value", [260, 261, 600, "300"])
def test_grace_period_at_or_above_the_budget_passes(scaling_rules: ModuleType, value: Any) -> None:
    assert scaling_rules.arena_check_grace_period(value, MODEL) == int(value)
    assert scaling_rules.arena_check_instance_warmup(value, MODEL) == int(value)


@pytest.mark.parametrize("value", [120, 240, 259, 0])
def test_grace_period_below_the_boot_budget_is_refused(scaling_rules: ModuleType, value: int) -> None:
    """Preflight rule (issue 13): the message names the variable, the rule and GRACE_DOC."""
    with pytest.raises(AnsibleFilterError) as refused:
        scaling_rules.arena_check_grace_period(value, MODEL)
    assert refused.value.message == (
        f"arena_check_grace_period: platform_autoscaling_health_check_grace_period is {value} s, below the boot "
        f"budget: a new instance needs {BUDGET} before the load balancer reports it healthy, and EC2 Auto Scaling "
        "replaces an instance still unhealthy when the grace period ends, so every launch would be terminated "
        f"while it boots. Use at least 260 s (leave it unset: arena_grace_period derives it). AWS: {GRACE_DOC}"
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("platform_autoscaling_instance_warmup", 120),
        ("platform_autoscaling_refresh_preferences.instance_warmup", 259),
    ],
)
def test_warmup_below_the_boot_budget_is_refused(scaling_rules: ModuleType, variable: str, value: int) -> None:
    with pytest.raises(AnsibleFilterError) as refused:
        scaling_rules.arena_check_instance_warmup(value, MODEL, variable)
    assert refused.value.message == (
        f"arena_check_instance_warmup: {variable} is {value} s, shorter than the time a new instance needs to "
        f"serve: {BUDGET}. Until then the load balancer does not route to it, so a shorter warm-up counts it as "
        "serving capacity too early (target tracking scales out again for the same load; an instance refresh "
        "replaces the next instance before this one serves). Use at least 260 s (leave it unset: "
        f"arena_instance_warmup derives it). AWS: {WARMUP_DOC}"
    )


@pytest.mark.parametrize("value", [-1, True, "abc", 1.5, None])
def test_seconds_must_be_a_non_negative_integer(scaling_rules: ModuleType, value: Any) -> None:
    with pytest.raises(AnsibleFilterError) as refused:
        scaling_rules.arena_check_grace_period(value, MODEL)
    assert refused.value.message == (
        "arena_check_grace_period: platform_autoscaling_health_check_grace_period must be an integer number of "
        f"seconds >= 0, got {value!r}"
    )


def test_filters_are_registered(scaling_rules: ModuleType) -> None:
    assert set(scaling_rules.FilterModule().filters()) == {
        "arena_target_tracking",
        "arena_scaling_targets",
        "arena_grace_period",
        "arena_instance_warmup",
        "arena_check_grace_period",
        "arena_check_instance_warmup",
    }
