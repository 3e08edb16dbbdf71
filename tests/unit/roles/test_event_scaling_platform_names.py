"""The names and tags event_scaling looks for are the ones the platform roles produce.

event_scaling finds the Auto Scaling groups and load balancers by name and confirms them by tags;
the integration test creates the groups with tests/integration/events/events_fixtures.py instead of
running playbooks/platform.yml. Both must follow roles/platform_autoscaling and
roles/platform_load_balancers: this reads those roles' defaults, vars and tasks.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import yaml
from arena_testlib import REPO_ROOT

ROLES = REPO_ROOT / "roles"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


EVENTS = load(ROLES / "event_scaling" / "defaults" / "main.yml")
AUTOSCALING = load(ROLES / "platform_autoscaling" / "defaults" / "main.yml")
BALANCERS = load(ROLES / "platform_load_balancers" / "defaults" / "main.yml")
LOCAL = REPO_ROOT / "inventories" / "local" / "group_vars" / "all"


def fixtures() -> Any:
    spec = importlib.util.spec_from_file_location(
        "events_fixtures", REPO_ROOT / "tests" / "integration" / "events" / "events_fixtures.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def task(path: Path, name_start: str) -> dict[str, Any]:
    return next(t for t in load(path) if t["name"].startswith(name_start))


def test_same_name_prefix_and_tags_as_the_platform_roles() -> None:
    prefix = EVENTS["event_scaling_platform_name_prefix"]
    assert prefix == AUTOSCALING["platform_autoscaling_name_prefix"]
    assert prefix == BALANCERS["platform_load_balancers_name_prefix"]
    assert EVENTS["event_scaling_platform_tags"] == AUTOSCALING["platform_autoscaling_tags"]
    assert EVENTS["event_scaling_platform_tags"] == BALANCERS["platform_load_balancers_tags"]


def test_groups_are_named_prefix_dash_tier_and_tagged_with_their_tier() -> None:
    group = task(ROLES / "platform_autoscaling" / "tasks" / "present.yml", "Groups | Auto Scaling group per tier")
    module = group["arena_autoscaling_group"]
    assert module["name"] == "{{ platform_autoscaling_name_prefix }}-{{ __platform_autoscaling_tier.key }}"
    assert "platform_autoscaling_tags | combine({'Tier': __platform_autoscaling_tier.key," in module["tags"]
    # event_scaling's lookup: <prefix>-<tier>, tags + Tier
    lookup = load(ROLES / "event_scaling" / "tasks" / "lookup.yml")
    assert lookup[0]["amazon.aws.autoscaling_group_info"]["name"] == (
        "^{{ event_scaling_platform_name_prefix | regex_escape }}-({{ event_scaling_tiers | join('|') }})$"
    )
    assert lookup[1]["vars"]["__event_scaling_wanted_tags"] == (
        "{{ event_scaling_platform_tags | combine({'Tier': __event_scaling_tier}) }}"
    )


def test_fixture_groups_match_the_platform_in_the_local_lab() -> None:
    module = fixtures()
    arena = load(LOCAL / "arena.yml")
    assert module.group_name("web") == f"{arena['arena_project']}-{arena['arena_environment']}-web"
    assert (arena["arena_project"], arena["arena_environment"]) == (module.PROJECT, module.ENVIRONMENT)
    tiers = AUTOSCALING["platform_autoscaling_tiers"]
    assert {t: (v["min_size"], v["max_size"], v["desired_capacity"]) for t, v in tiers.items()} == module.TIERS
    assert module.group_tags("api") == {
        **{
            k: v.replace("{{ arena_project }}", "arena").replace("{{ arena_environment }}", "local")
            for k, v in AUTOSCALING["platform_autoscaling_tags"].items()
        },
        "Tier": "api",
        "Name": "arena-local-api",
    }


def test_fixture_groups_have_the_platform_mixed_instances_policy() -> None:
    """Every platform group has a mixed instances policy (library/arena_autoscaling_group.py): the fixture
    groups carry the same types, on-demand base and Spot share, so the integration test sees what AWS
    would refuse a warm pool on."""
    module = fixtures()
    tiers = AUTOSCALING["platform_autoscaling_tiers"]
    assert {
        tier: (values["instance_types"], values["on_demand_base"], values["spot_percentage"])
        for tier, values in tiers.items()
    } == module.MIXED
    policy = module.mixed_instances_policy("web", "arena-local-web")
    assert (
        policy["InstancesDistribution"]["OnDemandPercentageAboveBaseCapacity"] == 100 - tiers["web"]["spot_percentage"]
    )
    group = task(ROLES / "platform_autoscaling" / "tasks" / "present.yml", "Groups | Auto Scaling group per tier")
    assert "spot_percentage" in group["arena_autoscaling_group"]


def test_local_capacity_model_agrees_with_the_platform_groups() -> None:
    """event_scaling refuses a group whose max_size differs from the model's: keep the lab runnable."""
    model = load(LOCAL / "capacity.yml")["arena_capacity_model"]
    tiers = AUTOSCALING["platform_autoscaling_tiers"]
    for name, tier in model["tiers"].items():
        assert tier["max_size"] == tiers[name]["max_size"], name


def test_reserved_load_balancers_are_the_platform_ones_of_their_tier() -> None:
    definitions = load(ROLES / "platform_load_balancers" / "vars" / "main.yml")["__platform_load_balancers_definitions"]
    tier_of = {d["name"]: d["tier"] for d in definitions}
    wanted = EVENTS["event_scaling_alb_reservation"]["load_balancers"]
    assert {tier: tier_of[name] for tier, name in wanted.items()} == {tier: tier for tier in wanted}
    balancer = task(ROLES / "platform_load_balancers" / "tasks" / "present.yml", "Balancers | Application load")
    assert balancer["amazon.aws.elb_application_lb"]["name"] == (
        "{{ platform_load_balancers_name_prefix }}-{{ __platform_load_balancers_def.name }}"
    )
    assert "'Tier': __platform_load_balancers_def.tier" in balancer["amazon.aws.elb_application_lb"]["tags"]
