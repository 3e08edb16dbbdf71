"""filter_plugins/arena_aws_target.py: emulator only when positively known, real AWS otherwise.

One test group per host spelling class. The AWS cases are the spellings AWS's SDKs accept (upper
case, trailing dot, port, userinfo, dual-stack, FIPS, every partition, VPC endpoints, S3 virtual
hosts); the emulator cases are the only ones that may pass without the opt-in.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import botocore
import pytest
from ansible.errors import AnsibleFilterError
from arena_loader import filter_plugin as load_filter
from hypothesis import given
from hypothesis import strategies as st

BOTOCORE_DATA = Path(botocore.__file__).parent / "data"


@pytest.fixture(scope="module")
def target() -> ModuleType:
    return load_filter("arena_aws_target")


def fullwidth(text: str) -> str:
    """The same characters in their fullwidth forms (IDNA maps them back to ASCII)."""
    return "".join(chr(ord(char) + 0xFEE0) for char in text)


def classify(target: ModuleType, url: str, **kwargs) -> dict:
    return target.arena_aws_target(url, "eu-west-1", **kwargs)


EMULATOR = {
    "loopback": ("http://127.0.0.1:5000", "127.0.0.1", 5000),
    "loopback-net": ("http://127.10.20.30:5000/", "127.10.20.30", 5000),
    "localhost": ("http://localhost:4566", "localhost", 4566),
    "localhost-upper-case": ("HTTP://LOCALHOST:4566", "localhost", 4566),
    "ipv6-loopback": ("http://[::1]:5000", "::1", 5000),
    "ipv6-loopback-long": ("http://[0:0:0:0:0:0:0:1]:5000", "0:0:0:0:0:0:0:1", 5000),
    "ipv4-mapped-loopback": ("http://[::ffff:127.0.0.1]:5000", "::ffff:127.0.0.1", 5000),
    # userinfo is not the host: this connects to 127.0.0.1
    "userinfo-naming-aws": ("http://sts.amazonaws.com@127.0.0.1:5000", "127.0.0.1", 5000),
    "path-query-fragment": ("http://127.0.0.1:5000/a?b=c#d", "127.0.0.1", 5000),
    "default-http-port": ("http://127.0.0.1", "127.0.0.1", 80),
    "default-https-port": ("https://localhost", "localhost", 443),
}


@pytest.mark.parametrize(("url", "host", "port"), EMULATOR.values(), ids=EMULATOR.keys())
def test_loopback_and_localhost_are_the_emulator(target: ModuleType, url: str, host: str, port: int) -> None:
    result = classify(target, url)
    assert result["mode"] == "emulator", result
    assert (result["host"], result["port"]) == (host, port)


def test_an_allow_listed_name_is_the_emulator(target: ModuleType) -> None:
    result = classify(target, "http://Moto.Lab:5000", emulator_hosts=["localhost", "moto.lab"])
    assert result == {
        "mode": "emulator",
        "reason": "host moto.lab is an allowed emulator host",
        "host": "moto.lab",
        "port": 5000,
    }


# Every AWS endpoint spelling class, with the partition the reason must name.
AWS = {
    "regional": ("https://sts.eu-west-1.amazonaws.com", "aws"),
    "global": ("https://iam.amazonaws.com", "aws"),
    "upper-case": ("https://STS.EU-WEST-1.AMAZONAWS.COM", "aws"),
    "mixed-case": ("HTTPS://Ec2.Eu-West-1.AmazonAWS.com/", "aws"),
    "trailing-dot": ("https://sts.eu-west-1.amazonaws.com./", "aws"),
    "upper-case-trailing-dot": ("https://EC2.AMAZONAWS.COM.", "aws"),
    "port": ("https://sts.amazonaws.com:443", "aws"),
    "http-port": ("http://ec2.eu-west-1.amazonaws.com:80/", "aws"),
    "userinfo": ("https://AKIDEXAMPLE:secret@sts.amazonaws.com", "aws"),
    "query": ("https://sts.amazonaws.com?Action=GetCallerIdentity", "aws"),
    "fragment": ("https://sts.amazonaws.com#x", "aws"),
    "dual-stack": ("https://ec2.eu-west-1.api.aws", "aws"),
    "dual-stack-s3": ("https://s3.dualstack.eu-west-1.amazonaws.com", "aws"),
    "fips": ("https://sts-fips.us-east-1.amazonaws.com", "aws"),
    "fips-dual-stack": ("https://ec2-fips.us-east-1.api.aws", "aws"),
    "china": ("https://ec2.cn-north-1.amazonaws.com.cn", "aws-cn"),
    "china-dual-stack": ("https://ec2.cn-northwest-1.api.amazonwebservices.com.cn", "aws-cn"),
    "govcloud": ("https://ec2.us-gov-west-1.amazonaws.com", "aws-us-gov"),
    "govcloud-fips": ("https://sts-fips.us-gov-east-1.amazonaws.com", "aws-us-gov"),
    "govcloud-global": ("https://iam.us-gov.amazonaws.com", "aws"),
    "iso": ("https://sts.us-iso-east-1.c2s.ic.gov", "aws-iso"),
    "iso-b": ("https://sts.us-isob-east-1.sc2s.sgov.gov", "aws-iso-b"),
    "iso-e": ("https://sts.eu-isoe-west-1.cloud.adc-e.uk", "aws-iso-e"),
    "iso-f": ("https://sts.us-isof-south-1.csp.hci.ic.gov", "aws-iso-f"),
    "european-sovereign": ("https://sts.eusc-de-east-1.amazonaws.eu", "aws-eusc"),
    "vpce": ("https://vpce-0a1b2c3d4e5f-abcdefgh.ec2.eu-west-1.vpce.amazonaws.com", "aws"),
    "vpce-zonal": ("https://vpce-0a1b2c3d-abcd-eu-west-1a.sts.eu-west-1.vpce.amazonaws.com", "aws"),
    "s3-virtual-host": ("https://my-bucket.s3.eu-west-1.amazonaws.com", "aws"),
    "s3-virtual-host-dotted-bucket": ("https://logs.arena.example.s3.amazonaws.com", "aws"),
    "s3-website": ("http://my-bucket.s3-website-eu-west-1.amazonaws.com", "aws"),
    "function-url": ("https://abcdefgh.lambda-url.eu-west-1.on.aws", "aws"),
    "percent-escaped": ("https://sts.amazonaws%2ecom", "aws"),
    "percent-escaped-trailing-dot": ("http://sts.amazonaws.com%2e", "aws"),
    "fullwidth-idna": (f"https://{fullwidth('STS.amazonaws.com')}", "aws"),
    # urllib reads s3.amazonaws.com, urllib3 (which connects) 127.0.0.1: either may be right
    "parser-differential": ("http://127.0.0.1:5000\\@s3.amazonaws.com", "aws"),
}


@pytest.mark.parametrize(("url", "partition"), AWS.values(), ids=AWS.keys())
def test_aws_endpoint_spellings_are_real(target: ModuleType, url: str, partition: str) -> None:
    result = classify(target, url)
    assert result["mode"] == "real", result
    assert f"is an AWS endpoint (partition {partition}, DNS suffix " in result["reason"]
    assert (result["host"], result["port"]) == ("", 0)


# Not AWS by name, but not positively the emulator either: real, so the opt-in is needed.
UNSURE = {
    "private-ip": ("http://10.0.0.5:5000", "host 10.0.0.5 is not known to be the emulator"),
    "private-ip-vpc-dns": ("http://169.254.169.253", "host 169.254.169.253 is not known to be the emulator"),
    "unknown-name": ("http://moto.lab:5000", "host moto.lab is not known to be the emulator"),
    "localhost-subdomain": ("http://sts.localhost:5000", "host sts.localhost is not known to be the emulator"),
    "unspecified": ("http://0.0.0.0:5000", "host 0.0.0.0 is not known to be the emulator"),
    "ipv4-shorthand": ("http://127.1:5000", "host 127.1 is not known to be the emulator"),
    "ipv4-integer": ("http://2130706433:5000", "host 2130706433 is not known to be the emulator"),
    "ipv4-hex": ("http://0x7f000001:5000", "host 0x7f000001 is not known to be the emulator"),
    "localhost-trailing-dot": ("http://localhost.:5000", "host 'localhost.' is spelled with escapes"),
    "loopback-percent-escaped": ("http://127.0.0.%31:5000", "host '127.0.0.%31' is spelled with escapes"),
    "ipv6-zone": ("http://[::1%25lo]:5000", "host '::1%25lo' is spelled with escapes"),
    "fullwidth-localhost": (f"http://{fullwidth('localhost')}:5000", "cannot be parsed"),
}


# Not an endpoint at all: real too, with what is wrong with it.
GARBAGE = {
    "no-scheme": ("127.0.0.1:5000", "cannot be parsed"),
    "word": ("garbage", "names no host"),
    "no-host": ("http:///path", "names no host"),
    "scheme-only": ("http://", "names no host"),
    "ftp": ("ftp://127.0.0.1:5000", "endpoint scheme 'ftp' is not http or https"),
    "bad-port": ("http://127.0.0.1:+5000", "cannot be parsed"),
    "port-out-of-range": ("http://127.0.0.1:99999", "cannot be parsed"),
    "unclosed-ipv6": ("http://[::1:5000", "cannot be parsed"),
    "newline": ("http://127.0.0.1:5000\n", "holds whitespace or control characters"),
    "leading-space": (" http://127.0.0.1:5000", "holds whitespace or control characters"),
    "tab-in-host": ("http://127.0.0.1\t.amazonaws.com", "holds whitespace or control characters"),
    "over-long-label": (f"http://{'a' * 64}.localhost", "botocore refuses endpoint"),
    "invalid-percent-escape": ("http://%ff.localhost:5000", "is not a valid DNS name"),
}


@pytest.mark.parametrize(("url", "reason"), [*UNSURE.values(), *GARBAGE.values()], ids=[*UNSURE, *GARBAGE])
def test_unknown_hosts_and_unparsable_endpoints_are_real(target: ModuleType, url: str, reason: str) -> None:
    result = classify(target, url)
    assert result["mode"] == "real", result
    assert reason in result["reason"], result["reason"]


@pytest.mark.parametrize(
    ("region", "called"),
    [
        ("eu-west-1", "<service>.eu-west-1.amazonaws.com (partition aws)"),
        ("cn-north-1", "<service>.cn-north-1.amazonaws.com.cn (partition aws-cn)"),
        ("us-gov-west-1", "<service>.us-gov-west-1.amazonaws.com (partition aws-us-gov)"),
        ("us-isob-east-1", "<service>.us-isob-east-1.sc2s.sgov.gov (partition aws-iso-b)"),
        ("", "its default AWS endpoint"),
    ],
)
def test_no_endpoint_is_real_and_names_what_the_sdk_calls(target: ModuleType, region: str, called: str) -> None:
    for empty in ("", None):
        assert target.arena_aws_target(empty, region) == {
            "mode": "real",
            "reason": f"no endpoint is set: the SDK calls {called}",
            "host": "",
            "port": 0,
        }


def _partitions_json() -> list[dict]:
    return json.loads((BOTOCORE_DATA / "partitions.json").read_text())["partitions"]


@pytest.mark.parametrize("partition", _partitions_json(), ids=lambda p: p["id"])
def test_every_botocore_partition_suffix_is_real(target: ModuleType, partition: dict) -> None:
    """Read independently of the filter: botocore's partitions.json, each partition's DNS suffixes."""
    outputs = partition["outputs"]
    for suffix in {outputs["dnsSuffix"], outputs["dualStackDnsSuffix"]}:
        for host in (f"sts.{outputs['implicitGlobalRegion']}.{suffix}", suffix.upper() + "."):
            result = classify(target, f"https://{host}")
            assert result["mode"] == "real", (host, result)
            assert f"partition {partition['id']}," in result["reason"] or host.endswith(".")


def _endpoint_hostnames() -> list[str]:
    """Every literal hostname in botocore's endpoints.json (templates and localhost left out)."""
    data = json.loads((BOTOCORE_DATA / "endpoints.json").read_text())
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "hostname" and isinstance(value, str) and "{" not in value:
                    found.add(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data)
    return sorted(host for host in found if not host.startswith("localhost"))


def test_every_botocore_endpoint_hostname_is_real(target: ModuleType) -> None:
    hostnames = _endpoint_hostnames()
    assert len(hostnames) > 1000  # the data is really there
    emulator = [host for host in hostnames if classify(target, f"https://{host}")["mode"] != "real"]
    not_named_aws = [
        host for host in hostnames if "is an AWS endpoint" not in classify(target, f"https://{host}")["reason"]
    ]
    assert emulator == []
    assert not_named_aws == []


def test_a_new_botocore_partition_is_picked_up(target: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    real_data = target._botocore_data

    def with_new_partition(name: str) -> dict:
        data = json.loads(json.dumps(real_data(name)))
        if name == "partitions":
            data["partitions"].append(
                {
                    "id": "aws-new",
                    "outputs": {"dnsSuffix": "cloud.example-new", "dualStackDnsSuffix": "api.example-new"},
                    "regionRegex": "^nw\\-\\w+\\-\\d+$",
                }
            )
        return data

    monkeypatch.setattr(target, "_botocore_data", with_new_partition)
    target.aws_dns_suffixes.cache_clear()
    target._region_partitions.cache_clear()
    try:
        assert "partition aws-new," in classify(target, "https://sts.nw-east-1.cloud.example-new")["reason"]
        assert "partition aws-new," in classify(target, "https://sts.nw-east-1.api.example-new")["reason"]
        assert target.arena_aws_target("", "nw-east-1")["reason"].endswith("cloud.example-new (partition aws-new)")
    finally:
        monkeypatch.undo()
        target.aws_dns_suffixes.cache_clear()
        target._region_partitions.cache_clear()
    assert classify(target, "https://sts.nw-east-1.cloud.example-new")["reason"].startswith(
        "host sts.nw-east-1.cloud.example-new is not known to be the emulator"
    )


AWS_SUFFIXES = sorted(load_filter("arena_aws_target").aws_dns_suffixes())
LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)


@st.composite
def aws_urls(draw: st.DrawFn) -> str:
    """A URL on any AWS suffix: any labels, case, trailing dot, port, userinfo and scheme."""
    host = ".".join([*draw(st.lists(LABEL, max_size=4)), draw(st.sampled_from(AWS_SUFFIXES))])
    host = "".join(char.upper() if draw(st.booleans()) else char for char in host)
    dot = draw(st.sampled_from(["", "."]))
    port = draw(st.sampled_from(["", ":443", ":80", ":5000"]))
    userinfo = draw(st.sampled_from(["", "user@", "user:pw@", "127.0.0.1@", "localhost:5000@"]))
    scheme = draw(st.sampled_from(["http", "https", "HTTPS"]))
    return f"{scheme}://{userinfo}{host}{dot}{port}/"


@given(url=aws_urls())
def test_any_spelling_under_an_aws_suffix_is_real(url: str) -> None:
    result = load_filter("arena_aws_target").arena_aws_target(url, "eu-west-1")
    assert result["mode"] == "real", (url, result)
    assert "is an AWS endpoint" in result["reason"], (url, result)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((42,), "arena_aws_target: endpoint_url must be a string, got 42"),
        (("http://127.0.0.1:5000", ["eu-west-1"]), "arena_aws_target: region must be a string, got ['eu-west-1']"),
        (
            ("http://127.0.0.1:5000", "eu-west-1", "localhost"),
            "arena_aws_target: emulator_hosts must be a list of host names, got 'localhost'",
        ),
        (
            ("http://127.0.0.1:5000", "eu-west-1", ["localhost", ""]),
            "arena_aws_target: emulator_hosts entries must be ASCII host names, got ''",
        ),
        (
            ("http://127.0.0.1:5000", "eu-west-1", ["localhost", "ec2.EU-WEST-1.amazonaws.com."]),
            "arena_aws_target: emulator_hosts entry 'ec2.EU-WEST-1.amazonaws.com.' is an AWS endpoint name",
        ),
    ],
    ids=["url-not-a-string", "region-not-a-string", "hosts-not-a-list", "empty-host", "aws-host-allow-listed"],
)
def test_bad_input_is_refused_with_the_exact_message(target: ModuleType, args: tuple, message: str) -> None:
    with pytest.raises(AnsibleFilterError) as raised:
        target.arena_aws_target(*args)
    assert str(raised.value) == message


def test_filter_module_exposes_the_filter(target: ModuleType) -> None:
    assert target.FilterModule().filters() == {"arena_aws_target": target.arena_aws_target}
