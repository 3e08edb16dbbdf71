"""Contract: the tier's target group sends traffic and health checks the way the image serves them.

Image side: the health endpoint the image gate checks (bake_gate_health_port, bake_gate_health_path,
bake_gate_health_scheme, which scripts/image_gate.py derives from tiers.yml: admin speaks TLS) and the
ports it listens on (the gate's bake_gate_listen_ports and the tier role's nginx port). Platform side:
the target group task of roles/platform_load_balancers (tasks/present.yml: protocol, port,
health_check_protocol, health_check_port, health_check_path), rendered per inventory.

A target group's health check uses its own protocol, port ("traffic-port" = the target group's
port) and path; a target that does not answer 200 there is unhealthy and gets no traffic, and the
Auto Scaling group's ELB health checks replace it
(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from arena_contracts import ENVIRONMENTS, TIERS, Image, Platform, image_side, platform_side

CASES = [pytest.param(tier, env, id=f"{tier}-{env}") for env in ENVIRONMENTS for tier in TIERS]


def check_health_check(image: Image, platform: Platform) -> None:
    group = platform.target_groups[image.tier]
    scheme = image.health_scheme.upper()
    where = f"{image.tier} in {platform.environment}"
    assert group.protocol == scheme, f"{where}: traffic in {group.protocol}, the image serves {scheme}"
    assert group.port in image.listen_ports, (
        f"{where}: traffic to {group.port}, the image listens on {image.listen_ports}"
    )
    port = group.port if group.health_check_port == "traffic-port" else int(group.health_check_port)
    assert (group.health_check_protocol, port, group.health_check_path) == (
        scheme,
        image.health_port,
        image.health_path,
    ), (
        f"{where}: health checks {group.health_check_protocol} :{port}{group.health_check_path}, "
        f"the image answers {scheme} :{image.health_port}{image.health_path}"
    )


@pytest.mark.parametrize(("tier", "env"), CASES)
def test_target_group_health_check_matches_the_image_health_endpoint(tier: str, env: str) -> None:
    check_health_check(image_side(tier), platform_side(env))


@pytest.mark.parametrize(
    ("image", "platform"),
    [
        # image side alone: the health endpoint moves
        pytest.param(
            lambda: dataclasses.replace(image_side("web"), health_path="/health"),
            lambda: platform_side("staging"),
            id="image-health-path",
        ),
        # platform side alone: the health path of the target groups changes
        pytest.param(
            lambda: image_side("api"),
            lambda: platform_side(
                "production",
                platform_load_balancers_tier_health_paths={"web": "/healthz", "api": "/status", "admin": "/healthz"},
            ),
            id="target-group-health-path",
        ),
        # platform side alone: the admin target group speaks HTTP to a TLS-only nginx
        pytest.param(
            lambda: image_side("admin"),
            lambda: platform_side(
                "local", platform_load_balancers_tier_protocols={"web": "HTTP", "api": "HTTP", "admin": "HTTP"}
            ),
            id="admin-target-group-http",
        ),
        # image side alone: the api health endpoint on another port
        pytest.param(
            lambda: dataclasses.replace(image_side("api"), health_port=8000),
            lambda: platform_side("staging"),
            id="image-health-port",
        ),
    ],
)
def test_health_check_contract_fails_when_one_side_changes(image: Any, platform: Any) -> None:
    with pytest.raises(AssertionError):
        check_health_check(image(), platform())
