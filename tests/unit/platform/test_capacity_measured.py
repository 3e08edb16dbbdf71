"""The capacity model never plans more per instance than the lab measured (issue 19).

`make bench-capacity` (scripts/bench-capacity.sh) drives one instance per tier, launched from the
platform on a share of a vCPU, with wrk up to the p99 latency the platform alarms on; the runs are in
docs/measured-capacity.json. Scaled from that container share to the instance type a tier plans
(docs/live-events.md, "Measured capacity and launch"):

    requests per minute = measured requests/s per vCPU x usable vCPUs x DERATE x 60

- usable vCPUs: the type's vCPUs (EC2's DescribeInstanceTypes; here moto's copy of it), for the api at
  most its gunicorn workers (roles/api api_workers), each of which uses one vCPU at most;
- DERATE 0.5 = 0.625 x 0.8: a c6i vCPU is one hyperthread (two busy ones on a core give about 1.25
  of one thread, so 0.625 each, where the lab's share is a whole host thread) and 0.8 for another CPU
  model, the shared host's noise (up to 16 % between runs) and a real request mix.

Only runs where the instance's CPU was the limit count (at a whole vCPU on this 2-core machine, wrk
and the port forwarding run out first for web and admin: those runs are lower bounds), and the
lowest of them per path. Every environment's `instance_types` figure for a tier's type must be at or
below the scaled figure: the model plans with the lower of the production load test and the lab."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from moto.ec2.models.instance_types import INSTANCE_TYPES

ROOT = Path(__file__).resolve().parents[3]
MEASURED = ROOT / "docs" / "measured-capacity.json"
DERATE = 0.625 * 0.8
# The path whose capacity a tier's model figure stands for: the page the web tier serves, the API call
# that reads and writes Redis.
PATHS = {"web": "page", "api": "hits"}
ENVIRONMENTS = ("local", "staging", "production")


def measured_per_vcpu() -> dict[str, float]:
    """The lowest requests/s per vCPU of the CPU-bound runs, per tier (its PATHS entry)."""
    runs = json.loads(MEASURED.read_text())["runs"]
    figures: dict[str, list[float]] = {tier: [] for tier in PATHS}
    for run in runs:
        for result in run["results"]:
            if PATHS.get(result["tier"]) == result["path"] and result["bound_by"] == "instance CPU":
                figures[result["tier"]].append(float(result["rps_per_vcpu"]))
    missing = [tier for tier, values in figures.items() if not values]
    assert not missing, (
        f"{MEASURED}: no run where the instance's CPU was the limit for {missing}: run make bench-capacity"
    )
    return {tier: min(values) for tier, values in figures.items()}


def usable_vcpus(tier: str, instance_type: str) -> int:
    vcpus = int(INSTANCE_TYPES[instance_type]["VCpuInfo"]["DefaultVCpus"])
    if tier == "api":
        workers = yaml.safe_load((ROOT / "roles" / "api" / "defaults" / "main.yml").read_text())["api_workers"]
        return min(vcpus, int(workers))
    return vcpus


def scaled(tier: str, instance_type: str, per_vcpu: dict[str, float]) -> int:
    return math.floor(per_vcpu[tier] * usable_vcpus(tier, instance_type) * DERATE * 60)


def model(environment: str) -> dict[str, Any]:
    path = ROOT / "inventories" / environment / "group_vars" / "all" / "capacity.yml"
    return yaml.safe_load(path.read_text())["arena_capacity_model"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_model_plans_no_more_per_instance_than_was_measured(environment: str) -> None:
    per_vcpu = measured_per_vcpu()
    capacity = model(environment)
    for tier in PATHS:
        instance_type = capacity["tiers"][tier]["instance_type"]
        planned = capacity["instance_types"][instance_type]
        assert planned <= scaled(tier, instance_type, per_vcpu), (
            f"inventories/{environment}: arena_capacity_model.instance_types.{instance_type} plans {planned} requests"
            f" per minute for the {tier} tier, above the lab's {scaled(tier, instance_type, per_vcpu)}"
            f" ({per_vcpu[tier]:.0f}/s per vCPU x {usable_vcpus(tier, instance_type)} usable vCPUs x {DERATE} x 60)"
        )


def test_the_scaling_uses_what_the_instances_can_use() -> None:
    """The api's xlarge has 4 vCPUs but 2 gunicorn workers: 2 usable; web's large uses both of its 2."""
    assert usable_vcpus("api", "c6i.xlarge") == 2
    assert usable_vcpus("web", "c6i.large") == 2
    per_vcpu = {"web": 1000.0, "api": 1000.0}
    assert scaled("web", "c6i.large", per_vcpu) == 60000
    assert scaled("api", "c6i.xlarge", per_vcpu) == 60000


def test_lower_bound_runs_do_not_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = {"tier": "web", "path": "page", "rps_per_vcpu": 1.0, "bound_by": "load generator (lower bound)"}
    api = {"tier": "api", "path": "hits", "rps_per_vcpu": 5.0, "bound_by": "instance CPU"}
    fake = tmp_path / "measured.json"
    fake.write_text(json.dumps({"runs": [{"results": [result, api]}]}))
    monkeypatch.setattr(sys.modules[__name__], "MEASURED", fake)
    with pytest.raises(AssertionError, match=r"no run where the instance's CPU was the limit for \['web'\]"):
        measured_per_vcpu()
