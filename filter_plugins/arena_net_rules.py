"""Network rules: the one CIDR validator of every role (IPv4 and IPv6, Python's ``ipaddress``).

Pure checks the roles call in ``tasks/validate.yml``, before any change. ``arena_cidr_errors`` returns
the messages (the tier and hardening roles assert on the empty list); the platform filters raise
``AnsibleFilterError("<filter>: ...")`` naming the variable and the bad entry, or return the checked
value normalised (CIDRs in their canonical form). Both say what is wrong with a CIDR in the same words
(``cidr_problem``).

Filters:
    ``arena_cidr_errors(values, name, family, addresses)``: the messages for the bad entries of a CIDR or
        a list of CIDRs (IPv4 and IPv6 unless ``family`` is 4 or 6), [] when all are good; what the
        roles' validate.yml assert on (web_vpc_cidr, the allow-lists, trusted proxies ...).
    ``arena_net_cidr(value, variable, version)``: one CIDR, refused when malformed, without a prefix
        length, with host bits set, or of the wrong IP version.
    ``arena_net_vpc_subnets(subnets, vpc_cidr, zones, ...)``: the VPC CIDR and the subnets of
        ``platform_network``: sizes AWS accepts, subnets inside the VPC and not overlapping each other,
        each kind in enough availability zones.
    ``arena_net_allow_list(cidrs, variable, versions, widest)``: an allow-list of source CIDRs, refused
        when an entry is malformed or when the list is world-open in effect (not only the literal
        ``0.0.0.0/0``: ``0.0.0.0/1`` + ``128.0.0.0/1`` too, or any union wider than ``widest``).

Sizes (Amazon EC2 API Reference, CreateVpc and CreateSubnet): "The smallest VPC you can create uses a
/28 netmask (16 IPv4 addresses), and the largest uses a /16 netmask (65,536 IPv4 addresses)" and "The
allowed size for an IPv4 subnet is between a /28 netmask (16 IP addresses) and a /16 netmask (65,536
IP addresses)"; "A subnet CIDR block must not overlap the CIDR block of an existing subnet in the VPC".
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError

CREATE_VPC_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVpc.html"
CREATE_SUBNET_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSubnet.html"
# IPv4 block sizes a VPC and a subnet may have (prefix lengths, inclusive).
VPC_PREFIXES = (16, 28)
SUBNET_PREFIXES = (16, 28)
# An allow-list of admin networks names VPN egress and office ranges. The default widest union a list
# may cover: one /8 of IPv4 (16,777,216 addresses, a whole former class A network) and one /32 of IPv6
# (a regional registry's allocation to a whole ISP). Wider is the internet in effect, whatever its spelling.
WIDEST = {4: 8, 6: 32}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _kind(value: Any) -> str:
    """A value's kind in YAML's words (Ansible wraps str, list and dict in tagged subclasses)."""
    for kind, types in (
        ("string", (str, bytes)),
        ("mapping", (Mapping,)),
        ("list", (Sequence,)),
        ("number", (int, float)),
    ):
        if isinstance(value, types):
            return kind
    return "null" if value is None else type(value).__name__


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def cidr_problem(value: Any, label: str, versions: Sequence[int] = (4, 6), *, addresses: bool = False) -> str | None:
    """What is wrong with one CIDR (text with a prefix length, no host bits, of one of ``versions``),
    or None. ``addresses``: a single address without a prefix length is taken too (as a /32 or /128).
    The one CIDR check of every role and filter; the message names ``label`` and the value."""
    if not isinstance(value, str):
        return f"{label} {value!r} is a {_kind(value)}, not a CIDR string such as 10.0.0.0/16"
    text = value.strip()
    if "/" not in text and not addresses and _is_address(text):
        single = "/32" if ":" not in text else "/128"
        return f"{label} '{value}' has no prefix length: write a CIDR (for one address: '{text}{single}')"
    try:
        network = ipaddress.ip_network(text)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            return f"{label} '{value}' is not an IPv4 or IPv6 CIDR ({exc})"
        return (
            f"{label} '{value}' has host bits set: the network is {loose} (write that, or the single "
            f"address with /{loose.max_prefixlen})"
        )
    if network.version not in versions:
        wanted = " or ".join(f"IPv{v}" for v in versions)
        return f"{label} '{value}' is IPv{network.version}, not {wanted}"
    return None


def _parse(name: str, value: Any, variable: str, versions: Sequence[int] = (4, 6)) -> Network:
    """One CIDR (cidr_problem), or AnsibleFilterError from filter ``name``."""
    problem = cidr_problem(value, variable, versions)
    if problem:
        raise AnsibleFilterError(f"{name}: {problem}")
    return ipaddress.ip_network(value.strip())


def arena_cidr_errors(values: Any, name: str, family: int | None = None, addresses: bool = False) -> list[str]:
    """The problems of a CIDR or a list of CIDRs (``cidr_problem``), one message each; [] when all are good.

    ``name`` is the variable: one value is named by it, a list's entries as ``name[i]``. IPv4 and IPv6
    are taken unless ``family`` is 4 or 6; ``addresses=true`` takes single addresses too. The roles'
    validate.yml assert on the empty list and show the messages, so every bad entry is named at once.
    An empty list is no error here (the caller says whether one is required).
    """
    if family not in (None, 4, 6):
        raise AnsibleFilterError(f"arena_cidr_errors: family must be 4, 6 or omitted, got {family!r}")
    versions = (family,) if family else (4, 6)
    if _is_list(values):
        labelled = [(f"{name}[{index}]", value) for index, value in enumerate(values)]
    else:
        labelled = [(name, values)]
    return [
        problem for label, value in labelled if (problem := cidr_problem(value, label, versions, addresses=addresses))
    ]


def arena_net_cidr(value: Any, variable: str, version: int | None = None) -> str:
    """One CIDR in its canonical form (IPv4 or IPv6, or only ``version``)."""
    return str(_parse("arena_net_cidr", value, variable, (version,) if version else (4, 6)))


def _prefix_in(name: str, network: Network, variable: str, what: tuple[str, str], bounds: tuple[int, int]) -> None:
    """``what``: (the thing, its AWS page)."""
    (thing, doc), (low, high) = what, bounds
    if not low <= network.prefixlen <= high:
        raise AnsibleFilterError(
            f"{name}: {variable} {network} is a /{network.prefixlen}: AWS allows {thing} between a /{low} "
            f"({2 ** (32 - low):,} addresses) and a /{high} ({2 ** (32 - high)} addresses), see {doc}"
        )


def arena_net_vpc_subnets(
    subnets: Any,
    vpc_cidr: Any,
    variable: str = "platform_network_subnets",
    vpc_variable: str = "platform_network_cidr",
    min_zones: int = 2,
) -> list[dict[str, Any]]:
    """The subnets of one VPC, each ``{kind, az, cidr}``, checked against the VPC and each other.

    Refused: a VPC or subnet CIDR that is malformed, has host bits set, is not IPv4, or is outside the
    sizes AWS allows; a subnet not inside the VPC; two subnets that overlap (a duplicate is an overlap);
    a kind (public, private) placed in fewer than ``min_zones`` availability zones. Returns the subnets
    with canonical CIDRs.
    """
    name = "arena_net_vpc_subnets"
    vpc = _parse(name, vpc_cidr, vpc_variable, (4,))
    _prefix_in(name, vpc, vpc_variable, ("a VPC CIDR block", CREATE_VPC_DOC), VPC_PREFIXES)
    if not _is_list(subnets) or not all(isinstance(s, Mapping) for s in subnets):
        raise AnsibleFilterError(
            f"{name}: {variable} must be a list of {{kind, az, cidr}} mappings, got a {_kind(subnets)}: {subnets!r}"
        )
    out: list[dict[str, Any]] = []
    for index, subnet in enumerate(subnets):
        label = f"{variable}[{index}] ({subnet.get('kind')}-{subnet.get('az')})"
        network = _parse(name, subnet.get("cidr"), f"{label} cidr", (4,))
        _prefix_in(name, network, f"{label} cidr", ("a subnet", CREATE_SUBNET_DOC), SUBNET_PREFIXES)
        if not network.subnet_of(vpc):  # type: ignore[arg-type]  # both IPv4 here
            raise AnsibleFilterError(
                f"{name}: {label} cidr {network} is not inside {vpc_variable} {vpc}: a subnet's CIDR block is part "
                f"of its VPC's, see {CREATE_SUBNET_DOC}"
            )
        out.append({**subnet, "cidr": str(network)})
    for index, subnet in enumerate(out):
        for later in range(index + 1, len(out)):
            first, second = ipaddress.ip_network(subnet["cidr"]), ipaddress.ip_network(out[later]["cidr"])
            if first.overlaps(second):
                raise AnsibleFilterError(
                    f"{name}: {variable}[{index}] ({subnet.get('kind')}-{subnet.get('az')}) {first} and "
                    f"{variable}[{later}] ({out[later].get('kind')}-{out[later].get('az')}) {second} overlap: "
                    "AWS refuses a subnet CIDR block that overlaps another subnet's in the VPC, "
                    f"see {CREATE_SUBNET_DOC}"
                )
    zones = {kind: sorted({str(s.get("az")) for s in out if s.get("kind") == kind}) for kind in ("public", "private")}
    if any(len(z) < min_zones for z in zones.values()):
        raise AnsibleFilterError(
            f"{name}: {variable} must place public and private subnets in at least {min_zones} availability zones "
            f"each (public zones: {zones['public']}, private zones: {zones['private']})"
        )
    return out


def arena_net_allow_list(
    cidrs: Any,
    variable: str,
    versions: Sequence[int] = (4, 6),
    widest: Mapping[int, int] | None = None,
) -> list[str]:
    """An allow-list of source CIDRs, canonical and sorted; refused when world-open in effect.

    Every entry must be a CIDR of ``versions`` (``_parse``). The entries of each IP version are
    collapsed (``ipaddress.collapse_addresses``) and the union may cover at most as many addresses as
    one prefix of ``widest[version]`` (default ``WIDEST``: a /8 of IPv4, a /32 of IPv6). That refuses
    ``0.0.0.0/0`` and ``::/0``, their halves (``0.0.0.0/1`` + ``128.0.0.0/1``, ``::/1`` + ``8000::/1``)
    and any pile of smaller blocks that adds up to more, by what they cover, not how they are spelled.
    """
    name = "arena_net_allow_list"
    limits = {**WIDEST, **{int(k): int(v) for k, v in (widest or {}).items()}}
    if not _is_list(cidrs):
        raise AnsibleFilterError(
            f"{name}: {variable} must be a list of CIDRs, got a {_kind(cidrs)}: {cidrs!r}"
            + (" (a string is not a list: write one CIDR per list item)" if isinstance(cidrs, str) else "")
        )
    # Parsed for both versions first: a world-open IPv6 list is named as such even where only IPv4 is taken.
    networks = [_parse(name, entry, f"{variable} entry") for entry in cidrs]
    for version in (4, 6):
        mine = [n for n in networks if n.version == version]
        if not mine:
            continue
        union = list(ipaddress.collapse_addresses(mine))  # type: ignore[misc]  # one version per call
        covered = sum(n.num_addresses for n in union)
        everything = (ipaddress.IPv4Network if version == 4 else ipaddress.IPv6Network)(
            "0.0.0.0/0" if version == 4 else "::/0"
        )
        entries = sorted(str(n) for n in mine)
        if covered == everything.num_addresses:
            raise AnsibleFilterError(
                f"{name}: {variable} is world-open: {entries} together cover every IPv{version} address "
                f"({everything} in effect)"
            )
        limit = limits[version]
        if covered > 2 ** (everything.max_prefixlen - limit):
            raise AnsibleFilterError(
                f"{name}: {variable} is world-open in effect: {entries} cover {covered:,} IPv{version} addresses "
                f"({[str(n) for n in union]}), more than one /{limit}; an allow-list names VPN and office networks"
            )
    wrong = [str(n) for n in networks if n.version not in versions]
    if wrong:
        takes = " or ".join(f"IPv{v}" for v in versions)
        raise AnsibleFilterError(f"{name}: {variable} takes {takes} CIDRs only, got {wrong}")
    return sorted({str(n) for n in networks}, key=lambda c: (ipaddress.ip_network(c).version, ipaddress.ip_network(c)))


class FilterModule:
    """Network rules."""

    def filters(self) -> dict[str, Any]:
        return {
            "arena_net_cidr": arena_net_cidr,
            "arena_net_vpc_subnets": arena_net_vpc_subnets,
            "arena_net_allow_list": arena_net_allow_list,
            "arena_cidr_errors": arena_cidr_errors,
        }
