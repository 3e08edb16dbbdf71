"""The dynamic inventories group emulator instances by tier, per environment, and never call AWS
without the real-AWS opt-in (inventory_plugins/arena_aws_ec2.py).

The no-call tests send every HTTP(S) request of the child process through a recording proxy on
loopback that answers nothing: a connection there is a call the inventory tried to make, and none
leaves the machine.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from arena_testlib import REPO_ROOT, base_env, run

TIERS = ("web", "api", "admin")


def launch(ec2, environment: str, tier: str) -> str:
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    tags = [
        {"Key": "Project", "Value": "arena"},
        {"Key": "Environment", "Value": environment},
        {"Key": "Tier", "Value": tier},
        {"Key": "ManagedBy", "Value": "arena-infra-tests"},
    ]
    reservation = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, TagSpecifications=[{"ResourceType": "instance", "Tags": tags}]
    )
    return reservation["Instances"][0]["InstanceId"]


@pytest.fixture(scope="module")
def fleet() -> dict[tuple[str, str], str]:
    ec2 = boto3.client("ec2")
    ids = {(env, tier): launch(ec2, env, tier) for env in ("local", "staging") for tier in TIERS}
    # An instance of another project must never show up.
    other = launch(ec2, "local", "web")
    ec2.create_tags(Resources=[other], Tags=[{"Key": "Project", "Value": "someone-else"}])
    ids[("other", "web")] = other
    yield ids
    ec2.terminate_instances(InstanceIds=list(ids.values()))


def plain(value):
    """ansible-inventory marks templated values as unsafe in its JSON output."""
    if isinstance(value, dict) and set(value) == {"__ansible_unsafe"}:
        return value["__ansible_unsafe"]
    return value


def inventory(source: str, env: dict[str, str] | None = None) -> dict:
    result = run(["ansible-inventory", "-i", source, "--list"], env or base_env())
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def listing(fleet: dict[tuple[str, str], str]) -> dict[str, dict]:
    """`ansible-inventory --list` of the local and staging inventories over the fleet: one run each,
    read by the grouping and the connection tests."""
    return {environment: inventory(f"inventories/{environment}") for environment in ("local", "staging")}


@pytest.mark.parametrize("environment", ["local", "staging"])
def test_instances_are_grouped_by_tier(
    fleet: dict[tuple[str, str], str], listing: dict[str, dict], environment: str
) -> None:
    inv = listing[environment]
    for tier in TIERS:
        assert inv[f"tier_{tier}"]["hosts"] == [fleet[(environment, tier)]], tier
    aws_hosts = set(inv["aws_ec2"]["hosts"])
    assert aws_hosts == {fleet[(environment, tier)] for tier in TIERS}


def test_graph_shows_the_tier_groups(fleet: dict[tuple[str, str], str]) -> None:
    result = run(["ansible-inventory", "-i", "inventories/local", "--graph"], base_env())
    assert result.returncode == 0, result.stderr
    for tier in TIERS:
        assert f"@tier_{tier}:\n  |  |--{fleet[('local', tier)]}" in result.stdout
    assert "@lab:\n  |  |--arena-demo" in result.stdout


def test_staging_hosts_are_reached_through_ssm(fleet: dict[tuple[str, str], str], listing: dict[str, dict]) -> None:
    inv = listing["staging"]
    host = fleet[("staging", "api")]
    hostvars = {k: plain(v) for k, v in inv["_meta"]["hostvars"][host].items()}
    assert hostvars["ansible_connection"] == "community.aws.aws_ssm"
    assert hostvars["ansible_aws_ssm_instance_id"] == host
    assert hostvars["arena_tier"] == "api"


def test_local_inventory_never_leaves_loopback_without_the_emulator() -> None:
    # No AWS_URL: the local aws_ec2 source points at a closed loopback port: one warning line, no
    # hosts from it, and the container hosts are still there.
    result = run(["ansible-inventory", "-i", "inventories/local", "--list"], base_env(keep_aws=False))
    assert result.returncode == 0, result.stderr
    inv = json.loads(result.stdout)
    assert "aws_ec2" not in inv
    assert inv["lab"]["hosts"] == ["arena-demo"]
    warning = (
        "[WARNING]: no AWS emulator answers at http://127.0.0.1:9: run `make emulator-up` first "
        "(then `source .lab/emulator.env`); no hosts from "
    )
    assert warning in result.stderr
    assert "Traceback" not in result.stderr and "Could not connect" not in result.stderr


class RecordingProxy:
    """A loopback TCP listener that records the first line of every connection and closes it."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(16)
        self._server.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    self.requests.append(conn.recv(4096).decode(errors="replace").split("\r\n")[0])
                except OSError:
                    self.requests.append("<connection without a request>")

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._server.close()


@pytest.fixture
def proxy() -> Iterator[RecordingProxy]:
    recorder = RecordingProxy()
    yield recorder
    recorder.close()


def recorded_env(proxy: RecordingProxy, extra: dict[str, str] | None = None) -> dict[str, str]:
    """No AWS settings but dummy keys (so botocore would go straight to EC2), every request through
    the recording proxy (no NO_PROXY exception, not even loopback), no instance metadata."""
    env = base_env(
        {
            "HTTP_PROXY": proxy.url,
            "HTTPS_PROXY": proxy.url,
            "NO_PROXY": "",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "eu-west-1",
        },
        keep_aws=False,
    )
    env.update(extra or {})
    return env


def aws_ec2_hosts(result) -> set[str]:
    inv = json.loads(result.stdout)
    return set(inv.get("aws_ec2", {}).get("hosts", []))


# Both real inventories in one ansible-inventory run (two -i sources): each must refuse on its own.
@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        (None, "no endpoint is set: the SDK calls <service>.eu-west-1.amazonaws.com (partition aws)"),
        ("https://EC2.EU-WEST-1.AMAZONAWS.COM.", "host ec2.eu-west-1.amazonaws.com is an AWS endpoint"),
        ("https://ec2.eu-west-1.api.aws", "host ec2.eu-west-1.api.aws is an AWS endpoint"),
        ("http://10.0.0.5:5000", "host 10.0.0.5 is not known to be the emulator"),
    ],
    ids=["no-endpoint", "upper-case-trailing-dot", "dual-stack", "private-address"],
)
def test_real_inventories_refuse_without_opt_in_and_call_nothing(
    proxy: RecordingProxy, endpoint: str | None, reason: str
) -> None:
    extra = {"AWS_URL": endpoint} if endpoint else {}
    environments = ("staging", "production")
    sources = [arg for environment in environments for arg in ("-i", f"inventories/{environment}")]
    result = run(["ansible-inventory", *sources, "--list"], recorded_env(proxy, extra))
    assert result.returncode == 0, result.stderr  # an unparsed source is a warning (ansible.cfg)
    stderr = " ".join(result.stderr.split())
    # Each source's refusal, from its name to its "(currently ...)" (ansible prints it twice: the
    # warning and its cause; both are the same text).
    refusals = dict(
        re.findall(
            r"REFUSED: inventory source (\S+) would call EC2 DescribeInstances on REAL AWS (.*?)\(currently", stderr
        )
    )
    sources = {str(REPO_ROOT / "inventories" / environment / "aws_ec2.yml") for environment in environments}
    assert set(refusals) == sources, stderr
    for refusal in refusals.values():
        assert reason in refusal, stderr
        assert "-e arena_allow_real_aws=true -e arena_aws_profile=<profile> -e arena_aws_region=<region>" in refusal
        assert (
            "or the environment `ARENA_ALLOW_REAL_AWS=true ARENA_AWS_PROFILE=<profile> ARENA_AWS_REGION=<region>` "
            "(an AWX credential's env injector)"
        ) in refusal
    assert aws_ec2_hosts(result) == set()
    assert proxy.requests == []


def test_an_incomplete_opt_in_is_refused_too(proxy: RecordingProxy) -> None:
    cmd = ["ansible-inventory", "-i", "inventories/staging", "--list", "-e", "arena_allow_real_aws=true"]
    result = run(cmd, recorded_env(proxy))
    stderr = " ".join(result.stderr.split())
    assert "(currently arena_allow_real_aws=True, profile='', region='eu-west-1')" in stderr
    assert "Missing: arena_aws_profile=<profile> (or ARENA_AWS_PROFILE)." in stderr
    assert aws_ec2_hosts(result) == set()
    assert proxy.requests == []


# The opt-in as the environment (what an AWX inventory update gets from the credential), each time
# with one of its three parts left out: AWS_REGION (eu-west-1 in recorded_env) stands in for a region
# as it does for the guard, so the region's case runs without it.
ENV_OPT_IN = {"ARENA_ALLOW_REAL_AWS": "true", "ARENA_AWS_PROFILE": "arena-test", "ARENA_AWS_REGION": "eu-central-1"}


@pytest.mark.parametrize(
    ("left_out", "currently", "missing"),
    [
        (
            "ARENA_ALLOW_REAL_AWS",
            "arena_allow_real_aws=False, profile='arena-test', region='eu-central-1'",
            "arena_allow_real_aws=true (or ARENA_ALLOW_REAL_AWS)",
        ),
        (
            "ARENA_AWS_PROFILE",
            "arena_allow_real_aws=True, profile='', region='eu-central-1'",
            "arena_aws_profile=<profile> (or ARENA_AWS_PROFILE)",
        ),
        (
            "ARENA_AWS_REGION",
            "arena_allow_real_aws=True, profile='arena-test', region=''",
            "arena_aws_region=<region> (or ARENA_AWS_REGION)",
        ),
    ],
)
def test_an_incomplete_opt_in_from_the_environment_is_refused(
    proxy: RecordingProxy, left_out: str, currently: str, missing: str
) -> None:
    env = recorded_env(proxy, {name: value for name, value in ENV_OPT_IN.items() if name != left_out})
    env.pop("AWS_REGION")
    result = run(["ansible-inventory", "-i", "inventories/staging", "--list"], env)
    assert result.returncode == 0, result.stderr
    stderr = " ".join(result.stderr.split())
    assert f"(currently {currently}). Missing: {missing}." in stderr
    assert aws_ec2_hosts(result) == set()
    assert proxy.requests == []


def aws_profile(tmp_path: Path, endpoint_url: str | None = None) -> dict[str, str]:
    """A named profile as an operator would have for a real account (optionally with an endpoint)."""
    config = "[profile arena-test]\nregion = us-east-1\n" + (f"endpoint_url = {endpoint_url}\n" if endpoint_url else "")
    (tmp_path / "config").write_text(config)
    (tmp_path / "credentials").write_text("[arena-test]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = x\n")
    return {"AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials")}


OPT_IN = [
    "-e",
    "arena_allow_real_aws=true",
    "-e",
    "arena_aws_profile=arena-test",
    "-e",
    "arena_aws_region=eu-central-1",
]


def test_opted_in_inventory_queries_that_region(proxy: RecordingProxy, tmp_path: Path) -> None:
    # The recording proxy stands in for AWS: the request it sees is the one real AWS would get,
    # for the opted-in region (not AWS_REGION's eu-west-1), and proves the proxy records calls.
    # AWS_ACCESS_KEY_ID stays in the environment: the named profile must win over it.
    cmd = ["ansible-inventory", "-i", "inventories/staging", "--list", *OPT_IN]
    result = run(cmd, recorded_env(proxy, {**aws_profile(tmp_path), "AWS_MAX_ATTEMPTS": "1"}))
    assert "REFUSED" not in result.stderr
    assert proxy.requests, result.stderr
    assert {" ".join(request.split()[:2]) for request in proxy.requests} == {
        "CONNECT ec2.eu-central-1.amazonaws.com:443"
    }


def test_opted_in_from_the_environment_inventory_queries_that_region(proxy: RecordingProxy, tmp_path: Path) -> None:
    # An AWX inventory update: no extra vars, the opt-in in the environment (the credential's env
    # injector). It gets past the guard as the extra vars do: the one request is for its region.
    env = recorded_env(proxy, {**aws_profile(tmp_path), "AWS_MAX_ATTEMPTS": "1", **ENV_OPT_IN})
    result = run(["ansible-inventory", "-i", "inventories/staging", "--list"], env)
    assert "REFUSED" not in result.stderr
    assert proxy.requests, result.stderr
    assert {" ".join(request.split()[:2]) for request in proxy.requests} == {
        "CONNECT ec2.eu-central-1.amazonaws.com:443"
    }


@pytest.mark.parametrize(
    ("extra_vars", "connects_to"),
    [
        (["-e", "arena_aws_region=ap-southeast-2"], "CONNECT ec2.ap-southeast-2.amazonaws.com:443"),
        (["-e", "arena_allow_real_aws=false"], None),
    ],
    ids=["region", "allow-false"],
)
def test_extra_vars_win_over_the_environment_opt_in(
    proxy: RecordingProxy, tmp_path: Path, extra_vars: list[str], connects_to: str | None
) -> None:
    env = recorded_env(proxy, {**aws_profile(tmp_path), "AWS_MAX_ATTEMPTS": "1", **ENV_OPT_IN})
    result = run(["ansible-inventory", "-i", "inventories/staging", "--list", *extra_vars], env)
    stderr = " ".join(result.stderr.split())
    if connects_to is None:
        assert "(currently arena_allow_real_aws=False, profile='arena-test', region='eu-central-1')" in stderr
        assert proxy.requests == []
    else:
        assert "REFUSED" not in stderr
        assert {" ".join(request.split()[:2]) for request in proxy.requests} == {connects_to}, stderr


@pytest.mark.parametrize("opt_in", ["extra-vars", "environment"])
def test_local_inventory_refuses_real_aws_even_opted_in(proxy: RecordingProxy, tmp_path: Path, opt_in: str) -> None:
    env = recorded_env(proxy, {"AWS_URL": "https://ec2.eu-central-1.amazonaws.com", **aws_profile(tmp_path)})
    if opt_in == "environment":
        env.update(ENV_OPT_IN)
    extra_vars = OPT_IN if opt_in == "extra-vars" else []
    result = run(["ansible-inventory", "-i", "inventories/local", "--list", *extra_vars], env)
    assert result.returncode == 0, result.stderr
    stderr = " ".join(result.stderr.split())
    assert "this source only ever reads the emulator (emulator_only: true)" in stderr
    # The opt-in was read, whichever way it came.
    assert "(currently arena_allow_real_aws=True, profile='arena-test', region='eu-central-1')." in stderr
    assert json.loads(result.stdout)["lab"]["hosts"] == ["arena-demo"]
    assert proxy.requests == []


def test_opted_in_inventory_reads_the_named_profile(fleet: dict[tuple[str, str], str], tmp_path: Path) -> None:
    # The profile's endpoint_url (a botocore profile setting) leads to the emulator, so the opted-in
    # read never leaves the machine; the hosts found prove the profile was used.
    emulator_url = base_env()["AWS_URL"]
    env = base_env(aws_profile(tmp_path, emulator_url), keep_aws=False)
    env.update({"AWS_ACCESS_KEY_ID": "AKIDAMBIENT", "AWS_SECRET_ACCESS_KEY": "x"})
    opt_in = [*OPT_IN[:-1], "arena_aws_region=eu-west-1"]
    result = run(["ansible-inventory", "-i", "inventories/staging", "--list", *opt_in], env)
    assert result.returncode == 0, result.stderr
    assert aws_ec2_hosts(result) == {fleet[("staging", tier)] for tier in TIERS}
