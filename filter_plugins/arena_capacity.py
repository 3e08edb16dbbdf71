"""Capacity model filters: audience -> instances per tier, and the scale-out lead time.

The model (``arena_capacity`` in capacity.yml)::

    boot_to_healthy_seconds: 240     # launch -> app answering; budget from the AMI boot benchmark
    health_check:                    # ALB target group health check
      interval_seconds: 10
      healthy_threshold: 3
    safety_margin_seconds: 1200      # capacity is InService this long before kick-off
    tail_minutes: 30                 # hold the event's capacity this long after its end
    instance_types:                  # requests per minute one instance serves at 100 % (per type)
      c6i.large: 6000
    tiers:
      web:
        instance_type: c6i.large
        requests_per_viewer_per_minute: 1.5
        headroom: 0.3                # keep 30 % spare: plan for 70 % utilisation
        min_size: 2                  # baseline between events
        max_size: 40

instances(viewers) = ceil(viewers * requests_per_viewer_per_minute / (capacity * (1 - headroom)))
lead time = boot_to_healthy + interval * healthy_threshold + safety margin.

Filters:
    ``arena_capacity(viewers, model[, tier])``: instances per tier (or for one tier), clamped to
    [min_size, max_size].
    ``arena_lead_time(model)``: lead time in seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ansible.errors import AnsibleFilterError

MODEL_KEYS = (
    "boot_to_healthy_seconds",
    "health_check",
    "safety_margin_seconds",
    "tail_minutes",
    "instance_types",
    "tiers",
)
TIER_KEYS = ("instance_type", "requests_per_viewer_per_minute", "headroom", "min_size", "max_size")
HEALTH_KEYS = ("interval_seconds", "healthy_threshold")


@dataclass(frozen=True)
class Tier:
    """One scaled tier of the capacity model."""

    name: str
    instance_type: str
    requests_per_viewer_per_minute: float
    capacity_rpm: float
    headroom: float
    min_size: int
    max_size: int

    @property
    def planned_rpm_per_instance(self) -> float:
        return self.capacity_rpm * (1.0 - self.headroom)


@dataclass(frozen=True)
class CapacityModel:
    """Validated capacity model; durations in seconds."""

    boot_to_healthy_seconds: int
    health_check_seconds: int
    safety_margin_seconds: int
    tail_seconds: int
    tiers: tuple[Tier, ...]

    @property
    def lead_time_seconds(self) -> int:
        return self.boot_to_healthy_seconds + self.health_check_seconds + self.safety_margin_seconds

    @property
    def ready_seconds(self) -> int:
        """Launch -> InService behind the load balancer."""
        return self.boot_to_healthy_seconds + self.health_check_seconds

    def tier(self, name: str, fname: str) -> Tier:
        for tier in self.tiers:
            if tier.name == name:
                return tier
        raise AnsibleFilterError(f"{fname}: unknown tier {name!r}; the model has {[t.name for t in self.tiers]}")


def _mapping(value: Any, where: str, keys: tuple[str, ...], fname: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AnsibleFilterError(f"{fname}: {where} must be a mapping, got {value!r}")
    missing = [key for key in keys if key not in value]
    if missing:
        raise AnsibleFilterError(f"{fname}: {where} is missing {', '.join(missing)}")
    unknown = sorted(str(key) for key in value if key not in keys)
    if unknown:
        raise AnsibleFilterError(f"{fname}: {where} has unknown keys {unknown}")
    return value


def _integer(value: Any, where: str, fname: str, *, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise AnsibleFilterError(f"{fname}: {where} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _positive_number(value: Any, where: str, fname: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise AnsibleFilterError(f"{fname}: {where} must be a number > 0, got {value!r}")
    return float(value)


def parse_tier(name: str, raw: Any, types: dict[str, float], fname: str) -> Tier:
    where = f"tiers.{name}"
    raw = _mapping(raw, where, TIER_KEYS, fname)
    itype = raw["instance_type"]
    if itype not in types:
        raise AnsibleFilterError(
            f"{fname}: {where}.instance_type {itype!r} has no entry in instance_types {sorted(types)}"
        )
    headroom = raw["headroom"]
    if not isinstance(headroom, int | float) or isinstance(headroom, bool) or not 0 <= headroom < 1:
        raise AnsibleFilterError(f"{fname}: {where}.headroom must be a fraction in [0, 1), got {headroom!r}")
    min_size = _integer(raw["min_size"], f"{where}.min_size", fname, minimum=0)
    max_size = _integer(raw["max_size"], f"{where}.max_size", fname, minimum=1)
    if max_size < min_size:
        raise AnsibleFilterError(f"{fname}: {where}.max_size {max_size} is below min_size {min_size}")
    return Tier(
        name=name,
        instance_type=itype,
        requests_per_viewer_per_minute=_positive_number(
            raw["requests_per_viewer_per_minute"], f"{where}.requests_per_viewer_per_minute", fname
        ),
        capacity_rpm=types[itype],
        headroom=float(headroom),
        min_size=min_size,
        max_size=max_size,
    )


def parse_model(raw: Any, fname: str = "arena_capacity") -> CapacityModel:
    """Validate the capacity model mapping."""
    raw = _mapping(raw, "capacity model", MODEL_KEYS, fname)
    health = _mapping(raw["health_check"], "health_check", HEALTH_KEYS, fname)
    types_raw = raw["instance_types"]
    if not isinstance(types_raw, dict) or not types_raw:
        raise AnsibleFilterError(f"{fname}: instance_types must be a non-empty mapping, got {types_raw!r}")
    types = {str(k): _positive_number(v, f"instance_types.{k}", fname) for k, v in types_raw.items()}
    tiers_raw = raw["tiers"]
    if not isinstance(tiers_raw, dict) or not tiers_raw:
        raise AnsibleFilterError(f"{fname}: tiers must be a non-empty mapping, got {tiers_raw!r}")
    tiers = tuple(parse_tier(str(name), tiers_raw[name], types, fname) for name in sorted(tiers_raw))
    return CapacityModel(
        boot_to_healthy_seconds=_integer(raw["boot_to_healthy_seconds"], "boot_to_healthy_seconds", fname, minimum=1),
        health_check_seconds=_integer(health["interval_seconds"], "health_check.interval_seconds", fname, minimum=1)
        * _integer(health["healthy_threshold"], "health_check.healthy_threshold", fname, minimum=1),
        safety_margin_seconds=_integer(raw["safety_margin_seconds"], "safety_margin_seconds", fname, minimum=0),
        tail_seconds=60 * _integer(raw["tail_minutes"], "tail_minutes", fname, minimum=0),
        tiers=tiers,
    )


def instances_needed(viewers: int, tier: Tier) -> int:
    """Instances that carry ``viewers`` at the planned utilisation (unclamped, at least 0)."""
    if viewers <= 0:
        return 0
    # round() strips float noise so that an exact fit does not become one instance more.
    return math.ceil(round(viewers * tier.requests_per_viewer_per_minute / tier.planned_rpm_per_instance, 9))


def instances_for(viewers: int, tier: Tier) -> int:
    """Instances for ``viewers``, clamped to the tier's [min_size, max_size]."""
    return max(tier.min_size, min(tier.max_size, instances_needed(viewers, tier)))


def _viewers(value: Any, fname: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise AnsibleFilterError(f"{fname}: viewers must be a non-negative integer, got {value!r}")
    return int(value)


def arena_capacity(viewers: Any, model: Any, tier: str | None = None) -> dict[str, int] | int:
    """Filter: instances per tier for an audience (an int when ``tier`` is given)."""
    fname = "arena_capacity"
    count = _viewers(viewers, fname)
    parsed = parse_model(model, fname)
    if tier is not None:
        return instances_for(count, parsed.tier(tier, fname))
    return {t.name: instances_for(count, t) for t in parsed.tiers}


def arena_lead_time(model: Any) -> int:
    """Filter: scale-out lead time in seconds (boot-to-healthy + health checks + safety margin)."""
    return parse_model(model, "arena_lead_time").lead_time_seconds


class FilterModule:
    """Capacity model filters."""

    def filters(self) -> dict[str, Any]:
        return {"arena_capacity": arena_capacity, "arena_lead_time": arena_lead_time}
