"""Contract: the tier's security group and its host firewall open exactly the ports its image
listens on, to the load balancer in front of it.

Image side: the ports the image gate allows to listen on non-loopback addresses
(bake_gate_listen_ports, scripts/image_gate.py from tiers.yml) and the port the tier role's nginx listens on
(web_listen_port, api_nginx_listen_port, admin_listen_port); the nftables rules of the tier's hardening
profile (roles/hardening, __hardening_firewall_all_rules). Platform side: the rules of the tier's
group in roles/platform_security_groups (vars/main.yml) and the VPC CIDR of roles/platform_network,
rendered per inventory.

A security group allows only what its inbound rules list
(https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html); an Application Load
Balancer reaches its targets (and health-checks them) from its own nodes in the VPC, so the host
firewall must accept the VPC CIDR on those ports
(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from arena_contracts import (
    ENVIRONMENTS,
    TIER_LOAD_BALANCER_GROUP,
    TIERS,
    Image,
    Platform,
    covers,
    image_side,
    platform_side,
    render,
)

CASES = [pytest.param(tier, env, id=f"{tier}-{env}") for env in ENVIRONMENTS for tier in TIERS]


def check_security_group(image: Image, platform: Platform) -> None:
    prefix = render("{{ platform_security_groups_name_prefix }}", platform.variables)
    rules = platform.security_groups[f"{prefix}-{image.tier}"]
    opened = {port for rule in rules for port in rule["ports"]}
    assert opened == image.listen_ports, (
        f"{image.tier} in {platform.environment}: the security group opens {sorted(opened)}, "
        f"the image listens on {sorted(image.listen_ports)}"
    )
    load_balancer = f"{prefix}-{TIER_LOAD_BALANCER_GROUP[image.tier]}"
    assert all(r["proto"] == "tcp" and r.get("group_name") == load_balancer for r in rules), rules


def check_firewall(image: Image, platform: Platform) -> None:
    opened = {port for rule in image.firewall_rules if rule["proto"] == "tcp" for port in rule["ports"]}
    assert opened == image.listen_ports, (
        f"{image.tier}: the host firewall opens {sorted(opened)}, the image listens on {sorted(image.listen_ports)}"
    )
    for port in sorted(image.listen_ports):
        sources = [s for rule in image.firewall_rules if port in rule["ports"] for s in rule["sources"]]
        assert covers(sources, platform.vpc_cidr), (
            f"{image.tier} in {platform.environment}: the host firewall accepts port {port} from {sources}, "
            f"not from the whole VPC {platform.vpc_cidr} where the load balancer's nodes are"
        )


@pytest.mark.parametrize(("tier", "env"), CASES)
def test_security_group_opens_exactly_the_image_ports_to_its_load_balancer(tier: str, env: str) -> None:
    check_security_group(image_side(tier), platform_side(env))


@pytest.mark.parametrize(("tier", "env"), CASES)
def test_host_firewall_opens_exactly_the_image_ports_to_the_vpc(tier: str, env: str) -> None:
    check_firewall(image_side(tier), platform_side(env))


@pytest.mark.parametrize(
    ("check", "image", "platform"),
    [
        # image side alone: nginx moves to 8080
        pytest.param(
            check_security_group,
            lambda: dataclasses.replace(image_side("web"), listen_ports=frozenset({8080})),
            lambda: platform_side("staging"),
            id="sg-image-listens-on-8080",
        ),
        # platform side alone: the api group opens 8080 instead of 80
        pytest.param(
            check_security_group,
            lambda: image_side("api"),
            lambda: platform_side(
                "production", platform_security_groups_tier_ports={"web": 80, "api": 8080, "admin": 443}
            ),
            id="sg-opens-8080",
        ),
        # image side alone: the admin tier listens on 80 as well
        pytest.param(
            check_firewall,
            lambda: dataclasses.replace(image_side("admin"), listen_ports=frozenset({80, 443})),
            lambda: platform_side("local"),
            id="firewall-image-also-listens-on-80",
        ),
        # platform side alone: a VPC outside the firewall's 10.0.0.0/8
        pytest.param(
            check_firewall,
            lambda: image_side("web"),
            lambda: platform_side("staging", platform_network_cidr="172.20.0.0/16"),
            id="firewall-vpc-outside-sources",
        ),
    ],
)
def test_port_contracts_fail_when_one_side_changes(check: Any, image: Any, platform: Any) -> None:
    with pytest.raises(AssertionError):
        check(image(), platform())
