"""One source for the tier facts: tiers.yml at the repository root.

Every consumer resolves each fact (a tier's port, protocol, health path, its load balancer's listener
port, the runtime configuration's SSM prefix and env file directory) to the value of tiers.yml, as a
play, the bake or the gate would resolve it:
- the platform (roles/platform_security_groups, roles/platform_load_balancers: the tier groups' ports,
  the load balancers' groups and listeners, the target groups), rendered per inventory;
- the image (the hardening firewall of the tier's profile, the tier role's nginx port,
  roles/runtime_config's prefix and env directory, roles/admin's env file) and the image gate's
  expectations (scripts/image_gate.py tier_settings, the lab's tier_value);
- and the published admin allow-list parameter is under the path the admin image reads.
And no consumer file carries one of the facts as a literal of its own (the admin port, the health
path, the env directory): a copy is how the five copies of port 443 drifted before.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from arena_contracts import (
    ENVIRONMENTS,
    REPO,
    TIER_LISTEN_PORT,
    TIERS,
    image_gate,
    image_side,
    image_variables,
    platform_side,
    render,
    tier_facts,
)

CASES = [pytest.param(tier, env, id=f"{tier}-{env}") for env in ENVIRONMENTS for tier in TIERS]
# The load balancer in front of each tier (platform_load_balancers' definitions) and its group.
LOAD_BALANCER = {"web": ("public", "public-alb"), "api": ("internal", "internal-alb"), "admin": ("admin", "admin-alb")}


def platform_values(tier: str, env: str, **overrides: Any) -> dict[str, Any]:
    """Each platform consumer's value of the tier's facts, as playbooks/platform.yml resolves it."""
    platform = platform_side(env, **overrides)
    v = platform.variables
    prefix = render("{{ platform_security_groups_name_prefix }}", v)
    lb_name, lb_group = LOAD_BALANCER[tier]
    certificate = {"__platform_load_balancers_certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/x"}
    definitions = render("{{ __platform_load_balancers_definitions }}", {**v, **certificate})
    definition = next(d for d in definitions if d["name"] == lb_name)
    forward = [int(x["Port"]) for x in definition["listeners"] if x["DefaultActions"][0]["Type"] == "forward"]
    group = platform.target_groups[tier]
    return {
        "port": {
            "platform_security_groups (tier group)": {
                p for r in platform.security_groups[f"{prefix}-{tier}"] for p in r["ports"]
            },
            "platform_load_balancers (target group)": {group.port},
        },
        "protocol": {
            "platform_load_balancers (target group)": group.protocol,
            "platform_load_balancers (health check)": group.health_check_protocol,
        },
        "health_path": {"platform_load_balancers (health check)": group.health_check_path},
        "listener_port": {
            "platform_load_balancers (forwarding listener)": set(forward),
            "platform_security_groups (load balancer group)": {
                p
                for r in platform.security_groups[f"{prefix}-{lb_group}"]
                for p in r["ports"]
                if not (tier == "web" and p == 80)  # the public HTTP listener only redirects
            }
            or set(forward),  # an empty admin allow-list opens nothing
        },
    }


def image_values(tier: str) -> dict[str, Any]:
    """Each image consumer's value of the tier's facts, as the bake and the image gate resolve it."""
    image = image_side(tier)
    variables = image_variables(tier)
    _, port_var = TIER_LISTEN_PORT[tier]
    gate = image_gate().tier_settings(tier)
    return {
        "port": {
            "hardening (host firewall)": {p for r in image.firewall_rules if r["proto"] == "tcp" for p in r["ports"]},
            f"tier role ({port_var})": {int(render("{{ " + port_var + " }}", variables))},
            "image gate (bake_gate_listen_ports)": set(gate["bake_gate_listen_ports"]),
            "image gate (bake_gate_health_port)": {gate["bake_gate_health_port"]},
        },
        "protocol": {"image gate (bake_gate_health_scheme)": gate["bake_gate_health_scheme"].upper()},
        "health_path": {"image gate (bake_gate_health_path)": gate["bake_gate_health_path"]},
    }


def disagreements(tier: str, values: dict[str, dict[str, Any]]) -> list[str]:
    facts = tier_facts()["arena_tiers"][tier]
    out = []
    for fact, consumers in values.items():
        want = {facts[fact]} if fact in ("port", "listener_port") else facts[fact]
        for consumer, got in consumers.items():
            if got != want:
                out.append(f"{tier} {fact}: {consumer} resolves {got!r}, tiers.yml says {facts[fact]!r}")
    return out


@pytest.mark.parametrize(("tier", "env"), CASES)
def test_every_platform_consumer_reads_the_tier_facts(tier: str, env: str) -> None:
    assert disagreements(tier, platform_values(tier, env)) == []


@pytest.mark.parametrize("tier", TIERS)
def test_every_image_consumer_reads_the_tier_facts(tier: str) -> None:
    assert disagreements(tier, image_values(tier)) == []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_runtime_paths_are_the_tier_facts(env: str) -> None:
    """The SSM prefix and env directory of first boot, the admin role's env file, the gate's seed and
    the admin allow-list the platform publishes (under the admin image's runtime path)."""
    runtime = tier_facts()["arena_runtime"]
    variables = image_variables("admin")
    assert image_side("admin").runtime_prefix == runtime["ssm_prefix"]
    assert render("{{ runtime_config_output_dir }}", variables) == runtime["env_dir"]
    assert render("{{ admin_runtime_env_file }}", variables) == f"{runtime['env_dir']}/admin.env"
    platform = platform_side(env)
    published = render("{{ platform_security_groups_admin_cidrs_parameter }}", platform.variables)
    assert published == f"{runtime['ssm_prefix']}/{env}/admin/allowed_cidrs"
    assert published in platform.parameters


@pytest.mark.parametrize(
    ("tier", "overrides"),
    [
        pytest.param("admin", {"platform_security_groups_tier_ports": {"web": 80, "api": 80, "admin": 8443}}, id="sg"),
        pytest.param("api", {"platform_load_balancers_internal_port": 8080}, id="internal-listener"),
        pytest.param(
            "web",
            {"platform_load_balancers_tier_health_paths": {"web": "/status", "api": "/healthz", "admin": "/healthz"}},
            id="health-path",
        ),
    ],
)
def test_a_platform_consumer_with_its_own_value_is_found(tier: str, overrides: dict[str, Any]) -> None:
    assert disagreements(tier, platform_values(tier, "staging", **overrides)) != []


# ---- no copies ------------------------------------------------------------------------------------

# The files that consume tier facts; none may spell one out.
CONSUMER_FILES = [
    "roles/platform_security_groups/defaults/main.yml",
    "roles/platform_security_groups/vars/main.yml",
    "roles/platform_security_groups/tasks/present.yml",
    "roles/platform_load_balancers/defaults/main.yml",
    "roles/platform_load_balancers/vars/main.yml",
    "roles/platform_load_balancers/tasks/present.yml",
    "roles/hardening/vars/main.yml",
    "roles/admin/defaults/main.yml",
    "roles/web/defaults/main.yml",
    "roles/api/defaults/main.yml",
    "roles/runtime_config/defaults/main.yml",
    "packer/tiers/web.yml",
    "packer/tiers/api.yml",
    "packer/tiers/admin.yml",
    "scripts/image_gate.py",
    "scripts/images-lab.sh",
]


def literal_copies(text: str) -> list[str]:
    """Lines (comments left out) that spell out the admin port, a health path or the env directory."""
    facts = tier_facts()
    patterns = [rf"\b{facts['arena_tiers']['admin']['port']}\b", re.escape(facts["arena_runtime"]["env_dir"])]
    patterns += [re.escape(t["health_path"]) + r"\b" for t in facts["arena_tiers"].values()]
    found = []
    for line in text.splitlines():
        code = line.split(" # ", 1)[0]
        if code.lstrip().startswith("#"):
            continue
        if any(re.search(p, code) for p in patterns):
            found.append(line.strip())
    return found


@pytest.mark.parametrize("path", CONSUMER_FILES)
def test_no_consumer_carries_a_copy_of_a_tier_fact(path: str) -> None:
    assert literal_copies((REPO / path).read_text()) == [], f"{path}: read the value from tiers.yml instead"


def test_a_copy_is_found() -> None:
    assert literal_copies("admin_listen_port: 443\n# port 443 in a comment\nweb_healthz_path: /healthz\n") == [
        "admin_listen_port: 443",
        "web_healthz_path: /healthz",
    ]
