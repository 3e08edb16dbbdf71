"""filter_plugins/arena_net_rules.py: the one CIDR validator of the platform (issue 14).

Every bad value is refused with a message that names the variable and the entry. The playbook wiring
(each role's validate.yml calls these filters before any change) is tested in test_platform_bad_input.py.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleFilterError

ROOT = Path(__file__).resolve().parents[3]
SUBNET_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSubnet.html"
VPC_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVpc.html"
ADMIN = "platform_security_groups_admin_cidrs"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "_arena_net_rules_under_test", ROOT / "filter_plugins/arena_net_rules.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


net = _load()

SUBNETS = [
    {"kind": "public", "az": "a", "cidr": "10.20.0.0/24"},
    {"kind": "public", "az": "b", "cidr": "10.20.1.0/24"},
    {"kind": "private", "az": "a", "cidr": "10.20.10.0/24"},
    {"kind": "private", "az": "b", "cidr": "10.20.11.0/24"},
]


def subnets(**changes: dict[str, Any]) -> list[dict[str, Any]]:
    """The default layout with subnet i changed: subnets(s3={'cidr': ...})."""
    return [{**s, **changes.get(f"s{i}", {})} for i, s in enumerate(SUBNETS)]


def test_default_layout_passes() -> None:
    assert net.arena_net_vpc_subnets(SUBNETS, "10.20.0.0/16") == SUBNETS


@pytest.mark.parametrize(
    ("layout", "vpc", "message"),
    [
        pytest.param(
            SUBNETS,
            "10.20.0.0/12",
            "platform_network_cidr '10.20.0.0/12' has host bits set: the network is 10.16.0.0/12 (write that, or the "
            "single address with /32)",
            id="vpc-host-bits",
        ),
        pytest.param(
            SUBNETS,
            "10.0.0.0/8",
            f"platform_network_cidr 10.0.0.0/8 is a /8: AWS allows a VPC CIDR block between a /16 (65,536 addresses) "
            f"and a /28 (16 addresses), see {VPC_DOC}",
            id="vpc-too-large",
        ),
        pytest.param(
            SUBNETS,
            "10.20.0.0/29",
            f"platform_network_cidr 10.20.0.0/29 is a /29: AWS allows a VPC CIDR block between a /16 (65,536 "
            f"addresses) and a /28 (16 addresses), see {VPC_DOC}",
            id="vpc-too-small",
        ),
        pytest.param(
            SUBNETS,
            "10.20.0/16",
            "platform_network_cidr '10.20.0/16' is not an IPv4 or IPv6 CIDR ('10.20.0/16' does not appear to be an "
            "IPv4 or IPv6 network)",
            id="vpc-malformed",
        ),
        pytest.param(
            SUBNETS,
            "fd00:20::/56",
            "platform_network_cidr 'fd00:20::/56' is IPv6, not IPv4",
            id="vpc-ipv6",
        ),
        pytest.param(
            subnets(s3={"cidr": "10.20.11.0/33"}),
            "10.20.0.0/16",
            "platform_network_subnets[3] (private-b) cidr '10.20.11.0/33' is not an IPv4 or IPv6 CIDR "
            "('10.20.11.0/33' does not appear to be an IPv4 or IPv6 network)",
            id="subnet-malformed",
        ),
        pytest.param(
            subnets(s2={"cidr": "10.20.10.7/24"}),
            "10.20.0.0/16",
            "platform_network_subnets[2] (private-a) cidr '10.20.10.7/24' has host bits set: the network is "
            "10.20.10.0/24 (write that, or the single address with /32)",
            id="subnet-host-bits",
        ),
        pytest.param(
            subnets(s3={"cidr": "10.20.11.0/29"}),
            "10.20.0.0/16",
            f"platform_network_subnets[3] (private-b) cidr 10.20.11.0/29 is a /29: AWS allows a subnet between a /16 "
            f"(65,536 addresses) and a /28 (16 addresses), see {SUBNET_DOC}",
            id="subnet-too-small",
        ),
        pytest.param(
            subnets(s3={"cidr": "10.21.11.0/24"}),
            "10.20.0.0/16",
            f"platform_network_subnets[3] (private-b) cidr 10.21.11.0/24 is not inside platform_network_cidr "
            f"10.20.0.0/16: a subnet's CIDR block is part of its VPC's, see {SUBNET_DOC}",
            id="subnet-outside-vpc",
        ),
        pytest.param(
            subnets(s3={"cidr": "10.20.0.0/23"}),
            "10.20.0.0/16",
            f"platform_network_subnets[0] (public-a) 10.20.0.0/24 and platform_network_subnets[3] (private-b) "
            f"10.20.0.0/23 overlap: AWS refuses a subnet CIDR block that overlaps another subnet's in the VPC, "
            f"see {SUBNET_DOC}",
            id="subnets-overlap",
        ),
        pytest.param(
            subnets(s3={"cidr": "10.20.10.0/24"}),
            "10.20.0.0/16",
            f"platform_network_subnets[2] (private-a) 10.20.10.0/24 and platform_network_subnets[3] (private-b) "
            f"10.20.10.0/24 overlap: AWS refuses a subnet CIDR block that overlaps another subnet's in the VPC, "
            f"see {SUBNET_DOC}",
            id="subnets-duplicate",
        ),
        pytest.param(
            subnets(s3={"az": "a"}),
            "10.20.0.0/16",
            "platform_network_subnets must place public and private subnets in at least 2 availability zones each "
            "(public zones: ['a', 'b'], private zones: ['a'])",
            id="single-zone",
        ),
        pytest.param(
            "10.20.0.0/24,10.20.1.0/24",
            "10.20.0.0/16",
            "platform_network_subnets must be a list of {kind, az, cidr} mappings, got a string: "
            "'10.20.0.0/24,10.20.1.0/24'",
            id="subnets-a-string",
        ),
    ],
)
def test_bad_network_is_refused(layout: Any, vpc: str, message: str) -> None:
    with pytest.raises(AnsibleFilterError) as err:
        net.arena_net_vpc_subnets(layout, vpc)
    assert err.value.message == f"arena_net_vpc_subnets: {message}"


@pytest.mark.parametrize(
    ("cidrs", "versions", "expected"),
    [
        pytest.param([], (4,), [], id="empty-accepts-nobody"),
        pytest.param(
            ["198.51.100.0/24", "192.0.2.0/24", "192.0.2.0/24"],
            (4,),
            ["192.0.2.0/24", "198.51.100.0/24"],
            id="sorted-unique",
        ),
        pytest.param(["10.0.0.0/8"], (4,), ["10.0.0.0/8"], id="one-slash-8-is-the-widest"),
        pytest.param(["2001:db8::/32", "192.0.2.0/24"], (4, 6), ["192.0.2.0/24", "2001:db8::/32"], id="dual-stack"),
        pytest.param([" 192.0.2.7/32"], (4,), ["192.0.2.7/32"], id="spaces-stripped"),
    ],
)
def test_allow_list_accepted(cidrs: list[str], versions: tuple[int, ...], expected: list[str]) -> None:
    assert net.arena_net_allow_list(cidrs, ADMIN, list(versions)) == expected


@pytest.mark.parametrize(
    ("cidrs", "versions", "message"),
    [
        pytest.param(
            ["192.0.2.0/24", "0.0.0.0/0"],
            (4,),
            f"{ADMIN} is world-open: ['0.0.0.0/0', '192.0.2.0/24'] together cover every IPv4 address "
            "(0.0.0.0/0 in effect)",
            id="literal-ipv4",
        ),
        pytest.param(
            ["0.0.0.0/1", "128.0.0.0/1"],
            (4,),
            f"{ADMIN} is world-open: ['0.0.0.0/1', '128.0.0.0/1'] together cover every IPv4 address "
            "(0.0.0.0/0 in effect)",
            id="two-halves-ipv4",
        ),
        pytest.param(
            ["::/0"],
            (4,),
            f"{ADMIN} is world-open: ['::/0'] together cover every IPv6 address (::/0 in effect)",
            id="literal-ipv6",
        ),
        pytest.param(
            ["::/1", "8000::/1"],
            (4, 6),
            f"{ADMIN} is world-open: ['8000::/1', '::/1'] together cover every IPv6 address (::/0 in effect)",
            id="two-halves-ipv6",
        ),
        pytest.param(
            [f"{n}.0.0.0/8" for n in range(0, 256)],
            (4,),
            None,  # the 256 /8s: message checked for its start below
            id="every-slash-8",
        ),
        pytest.param(
            ["10.0.0.0/8", "192.0.2.0/24"],
            (4,),
            f"{ADMIN} is world-open in effect: ['10.0.0.0/8', '192.0.2.0/24'] cover 16,777,472 IPv4 addresses "
            "(['10.0.0.0/8', '192.0.2.0/24']), more than one /8; an allow-list names VPN and office networks",
            id="union-above-slash-8",
        ),
        pytest.param(
            ["64.0.0.0/2"],
            (4,),
            f"{ADMIN} is world-open in effect: ['64.0.0.0/2'] cover 1,073,741,824 IPv4 addresses (['64.0.0.0/2']), "
            "more than one /8; an allow-list names VPN and office networks",
            id="a-quarter-of-ipv4",
        ),
        pytest.param(
            ["2000::/3"],
            (4, 6),
            f"{ADMIN} is world-open in effect: ['2000::/3'] cover 42,535,295,865,117,307,932,921,825,928,971,026,432 "
            "IPv6 addresses (['2000::/3']), more than one /32; an allow-list names VPN and office networks",
            id="all-global-unicast-ipv6",
        ),
        pytest.param(
            ["192.0.2.0/24", "192.0.2.300/32"],
            (4,),
            f"{ADMIN} entry '192.0.2.300/32' is not an IPv4 or IPv6 CIDR ('192.0.2.300/32' does not appear to be an "
            "IPv4 or IPv6 network)",
            id="malformed-octet",
        ),
        pytest.param(
            ["192.0.2.0/24", "10.0.0.0/33"],
            (4,),
            f"{ADMIN} entry '10.0.0.0/33' is not an IPv4 or IPv6 CIDR ('10.0.0.0/33' does not appear to be an IPv4 "
            "or IPv6 network)",
            id="malformed-prefix",
        ),
        pytest.param(
            ["192.0.2.10"],
            (4,),
            f"{ADMIN} entry '192.0.2.10' has no prefix length: write a CIDR (for one address: '192.0.2.10/32')",
            id="no-prefix",
        ),
        pytest.param(
            ["192.0.2.10/24"],
            (4,),
            f"{ADMIN} entry '192.0.2.10/24' has host bits set: the network is 192.0.2.0/24 (write that, or the single "
            "address with /32)",
            id="host-bits",
        ),
        pytest.param(
            ["2001:db8::/48"],
            (4,),
            f"{ADMIN} takes IPv4 CIDRs only, got ['2001:db8::/48']",
            id="ipv6-where-ipv4-only",
        ),
        pytest.param(
            "192.0.2.0/24,198.51.100.0/24",
            (4,),
            f"{ADMIN} must be a list of CIDRs, got a string: '192.0.2.0/24,198.51.100.0/24' (a string is not a list: "
            "write one CIDR per list item)",
            id="a-string",
        ),
        pytest.param(
            [None],
            (4,),
            f"{ADMIN} entry None is a null, not a CIDR string such as 10.0.0.0/16",
            id="not-a-string-entry",
        ),
    ],
)
def test_allow_list_refused(cidrs: Any, versions: tuple[int, ...], message: str | None) -> None:
    with pytest.raises(AnsibleFilterError) as err:
        net.arena_net_allow_list(cidrs, ADMIN, list(versions))
    if message is None:
        assert err.value.message.startswith(f"arena_net_allow_list: {ADMIN} is world-open: ['0.0.0.0/8', ")
        assert err.value.message.endswith("together cover every IPv4 address (0.0.0.0/0 in effect)")
    else:
        assert err.value.message == f"arena_net_allow_list: {message}"


def test_allow_list_widest_is_a_parameter() -> None:
    """A list for another purpose may allow wider blocks (or narrower): the rule is one parameter."""
    assert net.arena_net_allow_list(["10.0.0.0/7"], "x", [4], {4: 7}) == ["10.0.0.0/7"]
    with pytest.raises(AnsibleFilterError):
        net.arena_net_allow_list(["192.0.2.0/24"], "x", [4], {4: 25})


@pytest.mark.parametrize(
    ("value", "version", "expected"),
    [
        ("10.20.0.0/16", None, "10.20.0.0/16"),
        ("2001:DB8::/32", None, "2001:db8::/32"),
        ("10.20.0.0/255.255.0.0", 4, "10.20.0.0/16"),
    ],
)
def test_cidr_canonical(value: str, version: int | None, expected: str) -> None:
    assert net.arena_net_cidr(value, "v", version) == expected


@pytest.mark.parametrize(
    "inventory", sorted(p.parents[2].name for p in ROOT.glob("inventories/*/group_vars/all/platform.yml"))
)
def test_every_inventory_passes_the_rules(inventory: str) -> None:
    """Each environment's network and admin allow-list (role defaults where the inventory sets none)."""
    defaults = yaml.safe_load((ROOT / "roles/platform_network/defaults/main.yml").read_text())
    settings = yaml.safe_load((ROOT / f"inventories/{inventory}/group_vars/all/platform.yml").read_text()) or {}
    layout = settings.get("platform_network_subnets", defaults["platform_network_subnets"])
    vpc = settings.get("platform_network_cidr", defaults["platform_network_cidr"])
    assert len(net.arena_net_vpc_subnets(layout, vpc)) == len(layout)
    admin = settings.get("platform_security_groups_admin_cidrs", [])
    assert net.arena_net_allow_list(admin, ADMIN, [4]) == sorted(set(admin))
