"""Scaling rules: the target-tracking targets, grace period and warm-up that AWS really applies.

All three come from one source, the live-event capacity model (``arena_capacity_model`` in
``inventories/<env>/group_vars/all/capacity.yml``, parsed by ``arena_capacity.parse_model``), so the
scheduled floors, the target-tracking policies and the Auto Scaling groups cannot disagree.

Target of ``ALBRequestCountPerTarget``
    EC2 Auto Scaling compares it with the load balancer's ``RequestCountPerTarget`` (statistic Sum,
    which ELB defines as the average per target) over one-minute periods: "specify the target
    utilization as the optimal average request or message count per instance during any one-minute
    interval" (TargetTrackingConfiguration, DOC_TARGET_TRACKING; DOC_ALB_METRICS). The model's
    capacity is in requests per minute per instance too, so the target is
    ``instance_types[instance_type] x (1 - headroom)``: the utilisation the schedule's floors are
    planned at (4200 for a c6i.large at 6000 and headroom 0.3).

Boot budget: grace period and instance warm-up
    A new instance answers after ``boot_to_healthy_seconds`` (from launch) and the target group then
    needs ``interval_seconds x healthy_threshold`` of passing checks before it routes to it. ELB health
    checks start at registration, when the instance enters InService; once ``HealthCheckGracePeriod``
    has passed, an instance the target group still reports unhealthy is replaced (DOC_GRACE). So the
    grace period must cover boot + health checks, or every launch is terminated while it boots. The
    warm-up (EstimatedInstanceWarmup of the policy, InstanceWarmup of an instance refresh) is how long
    after InService an instance does not yet count as serving capacity (DOC_WARMUP): until the target
    group routes to it, RequestCountPerTarget is still divided among the old targets, so a shorter
    warm-up makes target tracking scale out again for load the new instance is about to take, and an
    instance refresh move on before the replacement serves. Both derive to boot + health checks.

Filters (each raises ``AnsibleFilterError("<filter>: ...")`` naming the variable, the rule and the
AWS page):
    ``arena_target_tracking(model, tier)``: per-minute target of the tier (float).
    ``arena_scaling_targets(tiers, model)``: {tier: target} for ``platform_autoscaling_tiers``; a
    ``requests_per_target`` tier of the model without ``scaling.target`` gets the derived value, an
    override must stay within TARGET_TOLERANCE of it and at or below 100 % of the instance's capacity.
    ``arena_grace_period(model)`` / ``arena_instance_warmup(model)``: the derived seconds (int).
    ``arena_check_grace_period(value, model[, variable])`` / ``arena_check_instance_warmup(value,
    model[, variable])``: the value, or a refusal when it is below boot + health checks.
"""

from __future__ import annotations

import math
import runpy
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

# The other filter files, by the repository's one plugin loader (Ansible puts neither directory on sys.path).
_PLUGIN_LOADER = Path(__file__).resolve().parent.parent / "module_utils" / "arena_plugin_loader.py"
load_sibling = runpy.run_path(str(_PLUGIN_LOADER))["load_filter_file"]

capacity_lib = load_sibling("arena_capacity")

DOC_TARGET_TRACKING = "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TargetTrackingConfiguration.html"
DOC_ALB_METRICS = (
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html"
)
DOC_GRACE = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/health-check-grace-period.html"
DOC_WARMUP = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-default-instance-warmup.html"

# An override of a derived requests-per-target target may differ from it by at most this share.
# Below the derived target, target tracking holds up to 1 / (1 - 0.1) = 11 % more instances than the
# schedule planned at the forecast audience; beyond that the plan and the policy disagree about the
# utilisation, and the model's headroom (which moves the floors too) is the thing to change.
TARGET_TOLERANCE = 0.10
METRICS = ("requests_per_target", "cpu")
GRACE_VARIABLE = "platform_autoscaling_health_check_grace_period"
WARMUP_VARIABLE = "platform_autoscaling_instance_warmup"
TIERS_VARIABLE = "platform_autoscaling_tiers"


def per_minute_target(tier: Any) -> float:
    """Requests per target per minute at the planned utilisation (2 decimals: no float noise)."""
    return round(tier.capacity_rpm * (1.0 - tier.headroom), 2)


def _seconds(value: Any, variable: str, fname: str) -> int:
    """An integer number of seconds >= 0 (a string of digits, as ``-e name=300`` gives, is accepted)."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise AnsibleFilterError(f"{fname}: {variable} must be an integer number of seconds >= 0, got {value!r}")
    return int(value)


def _boot_budget(model: Any) -> str:
    """How the model's time to serve is made up, for messages."""
    return (
        f"boot_to_healthy_seconds ({model.boot_to_healthy_seconds} s) plus the target group's health checks "
        f"({model.health_check_seconds} s) = {model.ready_seconds} s"
    )


def arena_target_tracking(model: Any, tier: str) -> float:
    """Filter: ALBRequestCountPerTarget target of ``tier`` in requests per target per minute."""
    fname = "arena_target_tracking"
    return per_minute_target(capacity_lib.parse_model(model, fname).tier(tier, fname))


def arena_grace_period(model: Any) -> int:
    """Filter: HealthCheckGracePeriod in seconds, boot + health checks of the capacity model."""
    return capacity_lib.parse_model(model, "arena_grace_period").ready_seconds


def arena_instance_warmup(model: Any) -> int:
    """Filter: instance warm-up in seconds, boot + health checks of the capacity model."""
    return capacity_lib.parse_model(model, "arena_instance_warmup").ready_seconds


def arena_check_grace_period(value: Any, model: Any, variable: str = GRACE_VARIABLE) -> int:
    """Filter: ``value`` when it covers the boot budget, else a refusal naming ``variable``."""
    fname = "arena_check_grace_period"
    seconds = _seconds(value, variable, fname)
    parsed = capacity_lib.parse_model(model, fname)
    if seconds < parsed.ready_seconds:
        raise AnsibleFilterError(
            f"{fname}: {variable} is {seconds} s, below the boot budget: a new instance needs "
            f"{_boot_budget(parsed)} before the load balancer reports it healthy, and EC2 Auto Scaling "
            f"replaces an instance still unhealthy when the grace period ends, so every launch would be "
            f"terminated while it boots. Use at least {parsed.ready_seconds} s (leave it unset: "
            f"arena_grace_period derives it). AWS: {DOC_GRACE}"
        )
    return seconds


def arena_check_instance_warmup(value: Any, model: Any, variable: str = WARMUP_VARIABLE) -> int:
    """Filter: ``value`` when it covers the boot budget, else a refusal naming ``variable``."""
    fname = "arena_check_instance_warmup"
    seconds = _seconds(value, variable, fname)
    parsed = capacity_lib.parse_model(model, fname)
    if seconds < parsed.ready_seconds:
        raise AnsibleFilterError(
            f"{fname}: {variable} is {seconds} s, shorter than the time a new instance needs to serve: "
            f"{_boot_budget(parsed)}. Until then the load balancer does not route to it, so a shorter "
            f"warm-up counts it as serving capacity too early (target tracking scales out again for the "
            f"same load; an instance refresh replaces the next instance before this one serves). Use at "
            f"least {parsed.ready_seconds} s (leave it unset: arena_instance_warmup derives it). "
            f"AWS: {DOC_WARMUP}"
        )
    return seconds


def _given_target(scaling: dict[str, Any], where: str, fname: str) -> float | None:
    target = scaling.get("target")
    if target is None:
        return None
    if isinstance(target, str):
        try:
            target = float(target)
        except ValueError:
            target = None
    if not isinstance(target, int | float) or isinstance(target, bool) or not math.isfinite(target) or target <= 0:
        raise AnsibleFilterError(f"{fname}: {where}.scaling.target must be a number > 0, got {scaling.get('target')!r}")
    return float(target)


def requests_target(name: str, scaling: dict[str, Any], model: Any, variable: str, fname: str) -> float:
    """The requests-per-target target of one tier: derived, or a checked override."""
    where = f"{variable}.{name}"
    given = _given_target(scaling, where, fname)
    planned = {tier.name: tier for tier in model.tiers}
    if name not in planned:
        if given is None:
            raise AnsibleFilterError(
                f"{fname}: {where}.scaling.target is required: the capacity model has no tier {name!r} to "
                f"derive its requests per target per minute from (model tiers: {sorted(planned)})."
            )
        return given
    tier = planned[name]
    derived = per_minute_target(tier)
    if given is None:
        return derived
    basis = f"{tier.capacity_rpm:g} requests per minute per {tier.instance_type} x (1 - headroom {tier.headroom:g})"
    if given > tier.capacity_rpm:
        raise AnsibleFilterError(
            f"{fname}: {where}.scaling.target is {given:g} requests per target per minute, above what one "
            f"{tier.instance_type} serves at 100 % ({tier.capacity_rpm:g} per minute in the capacity model): "
            f"target tracking would let every instance run overloaded. Leave scaling.target out to derive "
            f"{derived:g} ({basis}). AWS: {DOC_TARGET_TRACKING}"
        )
    if abs(given - derived) > TARGET_TOLERANCE * derived:
        raise AnsibleFilterError(
            f"{fname}: {where}.scaling.target is {given:g} requests per target per minute, more than "
            f"{TARGET_TOLERANCE * 100:.0f} % away from the capacity model's {derived:g} ({basis}). AWS compares the "
            f"target with ALBRequestCountPerTarget, the average request count per target in one minute, "
            f"and the scheduled floors are planned at {derived:g}: leave scaling.target out to derive it, "
            f"or change the model's headroom. AWS: {DOC_TARGET_TRACKING}"
        )
    return given


def arena_scaling_targets(tiers: Any, model: Any, variable: str = TIERS_VARIABLE) -> dict[str, float]:
    """Filter: the target-tracking target of every tier of ``platform_autoscaling_tiers``."""
    fname = "arena_scaling_targets"
    if not isinstance(tiers, dict):
        raise AnsibleFilterError(f"{fname}: {variable} must be a mapping of tiers, got {tiers!r}")
    parsed = capacity_lib.parse_model(model, fname)
    targets: dict[str, float] = {}
    for name in sorted(tiers):
        scaling = tiers[name].get("scaling") if isinstance(tiers[name], dict) else None
        metric = scaling.get("metric") if isinstance(scaling, dict) else None
        if metric not in METRICS:
            raise AnsibleFilterError(
                f"{fname}: {variable}.{name}.scaling must name a metric ({' or '.join(METRICS)}), got {scaling!r}"
            )
        if metric == "requests_per_target":
            targets[str(name)] = requests_target(str(name), scaling, parsed, variable, fname)
            continue
        given = _given_target(scaling, f"{variable}.{name}", fname)
        if given is None:
            raise AnsibleFilterError(f"{fname}: {variable}.{name}.scaling.target is required for metric cpu.")
        targets[str(name)] = given
    return targets


class FilterModule:
    """Scaling rules filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "arena_target_tracking": arena_target_tracking,
            "arena_scaling_targets": arena_scaling_targets,
            "arena_grace_period": arena_grace_period,
            "arena_instance_warmup": arena_instance_warmup,
            "arena_check_grace_period": arena_check_grace_period,
            "arena_check_instance_warmup": arena_check_instance_warmup,
        }
