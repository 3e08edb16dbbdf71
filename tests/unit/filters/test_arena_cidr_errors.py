"""filter_plugins/arena_net_rules.py arena_cidr_errors: the one CIDR check of the roles' validate.yml.

Every bad entry gives one message naming the variable (a list's entries as name[i]) and the value;
good input gives []. The roles' wiring is proven by their bad-input tests (tests/unit/roles/).
"""

from __future__ import annotations

from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from arena_loader import filter_plugin as load_filter

net = load_filter("arena_net_rules")
cidr_errors = net.FilterModule().filters()["arena_cidr_errors"]
V4_OR_V6 = "does not appear to be an IPv4 or IPv6 network"


@pytest.mark.parametrize(
    ("values", "kwargs"),
    [
        pytest.param("10.0.0.0/16", {}, id="ipv4"),
        pytest.param("2001:db8::/32", {}, id="ipv6"),
        pytest.param(["10.0.0.0/8", "192.0.2.7/32", "2001:db8:1::/48", "::1/128"], {}, id="mixed-list"),
        pytest.param([], {}, id="empty-list"),
        pytest.param(["10.0.0.0/8", "172.16.0.0/12"], {"family": 4}, id="ipv4-only"),
        pytest.param(["2001:db8::/32"], {"family": 6}, id="ipv6-only"),
        pytest.param(["192.0.2.7", "2001:db8::1", "10.0.0.0/8"], {"addresses": True}, id="bare-addresses-taken"),
        pytest.param(" 10.0.0.0/16 ", {}, id="surrounding-space"),
    ],
)
def test_good_input_has_no_errors(values: Any, kwargs: dict[str, Any]) -> None:
    assert cidr_errors(values, "v", **kwargs) == []


@pytest.mark.parametrize(
    ("values", "kwargs", "errors"),
    [
        pytest.param(
            "10.0.0.300/16",
            {"family": 4},
            [f"web_vpc_cidr '10.0.0.300/16' is not an IPv4 or IPv6 CIDR ('10.0.0.300/16' {V4_OR_V6})"],
            id="ipv4-octet",
        ),
        pytest.param(
            "10.0.0.0/33",
            {},
            [f"web_vpc_cidr '10.0.0.0/33' is not an IPv4 or IPv6 CIDR ('10.0.0.0/33' {V4_OR_V6})"],
            id="ipv4-prefix-too-long",
        ),
        pytest.param(
            "2001:db8::/129",
            {},
            [f"web_vpc_cidr '2001:db8::/129' is not an IPv4 or IPv6 CIDR ('2001:db8::/129' {V4_OR_V6})"],
            id="ipv6-prefix-too-long",
        ),
        pytest.param(
            "10.0.0.1/16",
            {},
            [
                "web_vpc_cidr '10.0.0.1/16' has host bits set: the network is 10.0.0.0/16 (write that, or the single "
                "address with /32)"
            ],
            id="ipv4-host-bits",
        ),
        pytest.param(
            "2001:db8::1/64",
            {},
            [
                "web_vpc_cidr '2001:db8::1/64' has host bits set: the network is 2001:db8::/64 (write that, or the "
                "single address with /128)"
            ],
            id="ipv6-host-bits",
        ),
        pytest.param(
            "2001:db8::/32",
            {"family": 4},
            ["web_vpc_cidr '2001:db8::/32' is IPv6, not IPv4"],
            id="ipv6-where-ipv4-only",
        ),
        pytest.param(
            "10.0.0.0/16",
            {"family": 6},
            ["web_vpc_cidr '10.0.0.0/16' is IPv4, not IPv6"],
            id="ipv4-where-ipv6-only",
        ),
        pytest.param(
            "10.0.0.7",
            {},
            ["web_vpc_cidr '10.0.0.7' has no prefix length: write a CIDR (for one address: '10.0.0.7/32')"],
            id="address-without-prefix",
        ),
        pytest.param(
            "alb",
            {"addresses": True},
            [f"web_vpc_cidr 'alb' is not an IPv4 or IPv6 CIDR ('alb' {V4_OR_V6})"],
            id="garbage",
        ),
        pytest.param(
            16,
            {},
            ["web_vpc_cidr 16 is a number, not a CIDR string such as 10.0.0.0/16"],
            id="not-a-string",
        ),
        pytest.param(
            None,
            {},
            ["web_vpc_cidr None is a null, not a CIDR string such as 10.0.0.0/16"],
            id="null",
        ),
    ],
)
def test_one_value(values: Any, kwargs: dict[str, Any], errors: list[str]) -> None:
    assert cidr_errors(values, "web_vpc_cidr", **kwargs) == errors


def test_a_list_names_every_bad_entry_by_its_index() -> None:
    assert cidr_errors(["10.1.0.0/16", "10.0.0.300/8", "fe80::/10", "10.0.0.1/8", "alb"], "allow", family=4) == [
        f"allow[1] '10.0.0.300/8' is not an IPv4 or IPv6 CIDR ('10.0.0.300/8' {V4_OR_V6})",
        "allow[2] 'fe80::/10' is IPv6, not IPv4",
        "allow[3] '10.0.0.1/8' has host bits set: the network is 10.0.0.0/8 (write that, or the single address "
        "with /32)",
        f"allow[4] 'alb' is not an IPv4 or IPv6 CIDR ('alb' {V4_OR_V6})",
    ]


def test_unknown_family_is_a_caller_error() -> None:
    with pytest.raises(AnsibleFilterError, match="arena_cidr_errors: family must be 4, 6 or omitted, got 5"):
        cidr_errors("10.0.0.0/8", "v", family=5)


def test_the_platform_filters_speak_the_same_words() -> None:
    """arena_net_cidr (the platform's) refuses with the same message arena_cidr_errors returns."""
    (message,) = cidr_errors("10.0.0.1/16", "platform_network_cidr")
    with pytest.raises(AnsibleFilterError) as refused:
        net.arena_net_cidr("10.0.0.1/16", "platform_network_cidr")
    assert str(refused.value) == f"arena_net_cidr: {message}"
