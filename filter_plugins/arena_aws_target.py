"""AWS target: is an endpoint URL the local emulator or real AWS?

The one classifier behind the real-AWS guard (``roles/aws_guard``) and the guarded dynamic
inventories (``inventory_plugins/arena_aws_ec2.py`` imports this file). It answers for the host the
SDK would actually connect to, and it answers "real" whenever it is not sure:

- **real** when there is no endpoint (the SDK then resolves the region's AWS endpoint), when the
  host lies under a DNS suffix of an AWS partition (read from botocore's own ``endpoints`` and
  ``partitions`` data, so a new partition is picked up with botocore, plus ``AWS_DNS_SUFFIXES`` for
  spellings botocore keeps elsewhere), compared lower-cased, without a trailing dot, after
  percent-decoding and IDNA as urllib3 does, with userinfo and port ignored; and for everything
  that is not positively the emulator: an unknown name, a private address (a VPC endpoint answers
  on one), an unparsable URL, a scheme other than http/https, a URL botocore refuses or that
  Python's and urllib3's parsers read as different hosts.
- **emulator** only for a loopback address literal (127.0.0.0/8 in dotted-quad form, ``::1`` in
  any IPv6 spelling, an IPv4-mapped loopback) or a name in the allow-list (default ``localhost``),
  spelled as written: no trailing dot, no percent-escapes, no non-ASCII. Shorthand IPv4 forms such
  as ``127.1`` or ``2130706433`` reach loopback through glibc but not through every parser, so they
  count as real (list them in the allow-list to use them).

AWS documents the endpoint spellings at https://docs.aws.amazon.com/general/latest/gr/rande.html
(regional, global, FIPS and dual-stack endpoints) and in the SDKs reference guide ("Dual-stack and
FIPS endpoints", https://docs.aws.amazon.com/sdkref/latest/guide/feature-endpoints.html).

Filters:
    ``arena_aws_target(endpoint_url, region='', emulator_hosts=['localhost'])``: a dict with
        ``mode`` (``emulator`` or ``real``), ``reason`` (one sentence), ``host`` and ``port`` (the
        emulator's, for a reachability probe; empty/0 for real AWS).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any
from urllib.parse import unquote, urlsplit

from ansible.errors import AnsibleFilterError
from botocore.loaders import create_loader
from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

FILTER = "arena_aws_target"
DEFAULT_EMULATOR_HOSTS = ("localhost",)
EMULATOR_SCHEMES = ("http", "https")

# DNS suffixes of AWS endpoints that botocore spells outside its partition outputs (or not at all),
# by partition. ``aws`` is Amazon's own top-level domain (``api.aws`` dual-stack endpoints,
# ``on.aws`` function URLs): every name under it is AWS's.
AWS_DNS_SUFFIXES: dict[str, str] = {
    "aws": "aws",
    "api.aws": "aws",
    "on.aws": "aws",
    "amazonaws.com": "aws",
    "vpce.amazonaws.com": "aws",
    "amazonaws.com.cn": "aws-cn",
    "amazonwebservices.com.cn": "aws-cn",
    "api.amazonwebservices.com.cn": "aws-cn",
    "on.amazonwebservices.com.cn": "aws-cn",
    "amazonaws.eu": "aws-eusc",
    "amazonwebservices.eu": "aws-eusc",
    "c2s.ic.gov": "aws-iso",
    "aws.ic.gov": "aws-iso",
    "sc2s.sgov.gov": "aws-iso-b",
    "aws.scloud": "aws-iso-b",
    "cloud.adc-e.uk": "aws-iso-e",
    "cloud-aws.adc-e.uk": "aws-iso-e",
    "csp.hci.ic.gov": "aws-iso-f",
    "aws.hci.ic.gov": "aws-iso-f",
}

# What botocore and urllib3 refuse outright or strip before parsing.
UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f]")


@cache
def _botocore_data(name: str) -> dict[str, Any]:
    """botocore's bundled ``endpoints``/``partitions`` data (the SDK's own endpoint resolution data)."""
    data = create_loader().load_data(name)
    return data if isinstance(data, dict) else {}


def _suffixes_of(node: Any) -> Iterable[str]:
    """Every ``dnsSuffix``/``dualStackDnsSuffix`` value anywhere in botocore's data."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("dnsSuffix", "dualStackDnsSuffix") and isinstance(value, str):
                yield value
            else:
                yield from _suffixes_of(value)
    elif isinstance(node, list):
        for item in node:
            yield from _suffixes_of(item)


@cache
def aws_dns_suffixes() -> dict[str, str]:
    """DNS suffix -> partition id: botocore's partitions (endpoints and partitions data) + the list."""
    suffixes = dict(AWS_DNS_SUFFIXES)
    for partition in _botocore_data("partitions").get("partitions", []):
        for suffix in _suffixes_of(partition.get("outputs", {})):
            suffixes.setdefault(suffix.lower(), partition.get("id", "aws"))
    for partition in _botocore_data("endpoints").get("partitions", []):
        for suffix in _suffixes_of(partition):
            suffixes.setdefault(suffix.lower(), partition.get("partition", "aws"))
    return suffixes


@cache
def _region_partitions() -> tuple[tuple[re.Pattern[str], str, str], ...]:
    found = []
    for partition in _botocore_data("partitions").get("partitions", []):
        outputs = partition.get("outputs", {})
        if partition.get("regionRegex") and outputs.get("dnsSuffix"):
            found.append((re.compile(partition["regionRegex"]), partition["id"], outputs["dnsSuffix"]))
    return tuple(found)


def aws_partition_of_host(host: str) -> tuple[str, str] | None:
    """(partition, suffix) when ``host`` (normalised) is the suffix or a name under it."""
    suffixes = aws_dns_suffixes()
    labels = host.split(".")
    # Longest suffix first: ``x.amazonaws.com.cn`` is aws-cn, not a name under ``cn``.
    for start in range(len(labels)):
        suffix = ".".join(labels[start:])
        if suffix in suffixes:
            # A suffix several partitions share (amazonaws.com: aws and aws-us-gov) is told apart by
            # the region in the name, as botocore's partition data does.
            for label in labels[:start]:
                for pattern, partition, _ in _region_partitions():
                    if pattern.match(label):
                        return partition, suffix
            return suffixes[suffix], suffix
    return None


def _default_endpoint(region: str) -> str:
    for pattern, partition, suffix in _region_partitions():
        if pattern.match(region):
            return f"<service>.{region}.{suffix} (partition {partition})"
    return "its default AWS endpoint"


def normalise_host(host: str) -> str:
    """A host as DNS compares it: brackets and zone dropped, percent-decoded, IDNA, lower case, no
    trailing dot. Raises ValueError when it cannot be normalised."""
    host = unquote(host.strip("[]"), errors="strict")
    host = host.lower() if host.isascii() else host.encode("idna").decode("ascii").lower()
    return host.rstrip(".")


def _loopback_literal(host: str) -> bool:
    """True for a loopback address literal as ``ipaddress`` reads it (no zone, no shorthand)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def _hosts_as_parsed(url: str) -> tuple[str | None, str | None, int | None]:
    """(urllib's host, urllib3's host, port) of ``url``; raises ValueError when either cannot parse it."""
    parts = urlsplit(url)
    port = parts.port  # ValueError when it is not a port
    try:
        parsed = parse_url(url)
    except LocationParseError as exc:
        raise ValueError(str(exc)) from exc
    if parsed.port != port:
        raise ValueError(f"urllib reads port {port}, urllib3 port {parsed.port}")
    return parts.hostname, parsed.host, port


class _Real(Exception):
    """Raised with the reason when an endpoint is (or may be) real AWS."""


def _refuse_aws_host(host: str | None) -> None:
    """Raise _Real when ``host`` (as parsed, not yet normalised) is under an AWS DNS suffix."""
    try:
        host = normalise_host(host or "")
    except (UnicodeError, ValueError):
        return
    partition = aws_partition_of_host(host)
    if partition:
        raise _Real(f"host {host} is an AWS endpoint (partition {partition[0]}, DNS suffix {partition[1]})")


def _endpoint_host(endpoint_url: str, region: str) -> tuple[str, str, int | None]:
    """(normalised host, scheme, port) the SDK would connect to; raises _Real when that is AWS or unsure."""
    if not endpoint_url:
        raise _Real(f"no endpoint is set: the SDK calls {_default_endpoint(region)}")
    if UNSAFE_CHARS.search(endpoint_url):
        raise _Real(f"endpoint {endpoint_url!r} holds whitespace or control characters")
    try:
        _refuse_aws_host(urlsplit(endpoint_url).hostname)  # first: the best reason when urllib3 cannot parse it
        url_host, urllib3_host, port = _hosts_as_parsed(endpoint_url)
    except ValueError as exc:
        raise _Real(f"endpoint {endpoint_url!r} cannot be parsed ({exc})") from exc
    if not url_host or not urllib3_host:
        raise _Real(f"endpoint {endpoint_url!r} names no host")
    try:
        hosts = [normalise_host(raw) for raw in (url_host, urllib3_host)]
    except (UnicodeError, ValueError) as exc:
        raise _Real(f"endpoint host {url_host!r} is not a valid DNS name") from exc
    for host in hosts:
        _refuse_aws_host(host)
    if hosts[0] != hosts[1]:
        raise _Real(f"endpoint {endpoint_url!r} reads as host {hosts[0]} to urllib but {hosts[1]} to urllib3")
    if url_host.strip("[]") != hosts[0]:
        raise _Real(
            f"host {url_host!r} is spelled with escapes, a trailing dot or non-ASCII characters: "
            f"it may resolve anywhere (write it as {hosts[0]!r})"
        )
    scheme = urlsplit(endpoint_url).scheme.lower()
    if scheme not in EMULATOR_SCHEMES:
        raise _Real(f"endpoint scheme {scheme!r} is not http or https")
    if not (is_valid_endpoint_url(endpoint_url) or is_valid_ipv6_endpoint_url(endpoint_url)):
        raise _Real(f"botocore refuses endpoint {endpoint_url!r}")
    return hosts[0], scheme, port


def classify(
    endpoint_url: str, region: str = "", emulator_hosts: Sequence[str] = DEFAULT_EMULATOR_HOSTS
) -> dict[str, Any]:
    """Classify ``endpoint_url``; see the module docstring for the rules."""
    allowed = sorted({name.lower() for name in emulator_hosts})
    try:
        host, scheme, port = _endpoint_host(endpoint_url, region)
        if _loopback_literal(host):
            kind = "a loopback address"
        elif host in allowed:
            kind = "an allowed emulator host"
        else:
            raise _Real(
                f"host {host} is not known to be the emulator (a loopback address or one of {allowed}), "
                "so it may be AWS (a VPC endpoint, a proxy, a DNS alias)"
            )
    except _Real as real:
        return {"mode": "real", "reason": str(real), "host": "", "port": 0}
    return {
        "mode": "emulator",
        "reason": f"host {host} is {kind}",
        "host": host,
        "port": port or (443 if scheme == "https" else 80),
    }


def arena_aws_target(
    endpoint_url: Any, region: Any = "", emulator_hosts: Any = DEFAULT_EMULATOR_HOSTS
) -> dict[str, Any]:
    """Filter entry: check the types, then classify."""
    if endpoint_url is None:
        endpoint_url = ""
    if not isinstance(endpoint_url, str):
        raise AnsibleFilterError(f"{FILTER}: endpoint_url must be a string, got {endpoint_url!r}")
    if not isinstance(region, str):
        raise AnsibleFilterError(f"{FILTER}: region must be a string, got {region!r}")
    if isinstance(emulator_hosts, str) or not isinstance(emulator_hosts, Sequence):
        raise AnsibleFilterError(f"{FILTER}: emulator_hosts must be a list of host names, got {emulator_hosts!r}")
    for name in emulator_hosts:
        if not isinstance(name, str) or not name or not name.isascii() or UNSAFE_CHARS.search(name):
            raise AnsibleFilterError(f"{FILTER}: emulator_hosts entries must be ASCII host names, got {name!r}")
        if aws_partition_of_host(name.lower().rstrip(".")):
            raise AnsibleFilterError(f"{FILTER}: emulator_hosts entry {name!r} is an AWS endpoint name")
    return classify(endpoint_url, region, emulator_hosts)


class FilterModule:
    """AWS target filters."""

    def filters(self) -> dict[str, Any]:
        return {"arena_aws_target": arena_aws_target}
