"""Network helpers of the hardening role (no netaddr needed). CIDRs are checked by the one CIDR
validator, filter_plugins/arena_net_rules.py arena_cidr_errors."""

from __future__ import annotations

import ipaddress
from typing import Any

from ansible.errors import AnsibleFilterError


def hardening_bad_ports(values: Any) -> list[str]:
    """Return the entries of ``values`` that are not a port number 1-65535."""
    if not isinstance(values, list):
        raise AnsibleFilterError(f"hardening_bad_ports: expected a list, got {values!r}")
    bad: list[str] = []
    for value in values:
        text = str(value)
        if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= 65535:
            bad.append(text)
    return bad


def hardening_cidr_family(value: str) -> str:
    """``ip`` or ``ip6``: the nftables address family keyword of a CIDR."""
    try:
        return "ip" if ipaddress.ip_network(str(value), strict=False).version == 4 else "ip6"
    except ValueError as exc:
        raise AnsibleFilterError(f"hardening_cidr_family: not a CIDR: {value!r}") from exc


class FilterModule:
    """Filters of the hardening role."""

    def filters(self) -> dict[str, Any]:
        return {
            "hardening_bad_ports": hardening_bad_ports,
            "hardening_cidr_family": hardening_cidr_family,
        }
