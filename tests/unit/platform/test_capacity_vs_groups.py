"""Every environment's Auto Scaling groups agree with its live-event capacity model.

playbooks/event_scaling.yml sets MaxSize to the model's max_size and refuses groups whose max_size
differs; the model's capacity per instance is measured for one instance type, so the group must be
able to launch that type. Read from the inventories' group_vars, falling back to the role defaults
as Ansible would.
"""

from __future__ import annotations

import pytest
import yaml
from arena_testlib import REPO_ROOT


def group_vars(env: str) -> dict:
    merged: dict = {}
    for path in sorted((REPO_ROOT / "inventories" / env / "group_vars" / "all").glob("*.yml")):
        merged.update(yaml.safe_load(path.read_text()) or {})
    return merged


def role_default(role: str, name: str) -> object:
    return yaml.safe_load((REPO_ROOT / "roles" / role / "defaults" / "main.yml").read_text())[name]


ENVS = sorted(p.name for p in (REPO_ROOT / "inventories").iterdir() if (p / "group_vars" / "all").is_dir())


def test_every_environment_is_checked() -> None:
    assert {"local", "staging", "production"} <= set(ENVS)


@pytest.mark.parametrize("env", ENVS)
def test_groups_match_the_capacity_model(env: str) -> None:
    gv = group_vars(env)
    model = gv["arena_capacity_model"]
    groups = gv.get("platform_autoscaling_tiers", role_default("platform_autoscaling", "platform_autoscaling_tiers"))
    templates = gv.get(
        "platform_launch_templates_tiers", role_default("platform_launch_templates", "platform_launch_templates_tiers")
    )
    for tier, plan in model["tiers"].items():
        group = groups[tier]
        assert (group["min_size"], group["max_size"]) == (plan["min_size"], plan["max_size"]), (env, tier)
        assert plan["instance_type"] in model["instance_types"], (env, tier)
        assert group["instance_types"][0] == plan["instance_type"], (env, tier, group["instance_types"])
        assert templates[tier]["instance_type"] == plan["instance_type"], (env, tier)


@pytest.mark.parametrize("env", ENVS)
def test_lead_time_counts_the_load_balancers_health_check(env: str) -> None:
    """The lead time adds interval x healthy threshold: the target groups' own values."""
    gv = group_vars(env)
    health = gv["arena_capacity_model"]["health_check"]
    interval = gv.get(
        "platform_load_balancers_health_check_interval",
        role_default("platform_load_balancers", "platform_load_balancers_health_check_interval"),
    )
    threshold = gv.get(
        "platform_load_balancers_healthy_threshold",
        role_default("platform_load_balancers", "platform_load_balancers_healthy_threshold"),
    )
    assert (health["interval_seconds"], health["healthy_threshold"]) == (interval, threshold), env


def test_the_check_fails_on_a_mismatch() -> None:
    """The comparison above is not vacuous: the role defaults alone do not fit production's model."""
    model = group_vars("production")["arena_capacity_model"]
    defaults = role_default("platform_autoscaling", "platform_autoscaling_tiers")
    assert defaults["web"]["max_size"] != model["tiers"]["web"]["max_size"]
