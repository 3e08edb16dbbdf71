"""An interrupted cache run converges on re-run: the api tier authenticates to Redis (issue 14).

AWS hands a replication group its AUTH token only at creation (or in a rotation) and never returns
it, and creation takes 10-15 minutes. platform_cache therefore stores the token in SSM before the
group can receive it, tags the group with the stored token (parameter version and time) it holds,
and rotates a group that holds another one (ModifyReplicationGroup AuthToken +
AuthTokenUpdateStrategy=ROTATE, ApplyImmediately, on an available group:
https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyReplicationGroup.html,
https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth.html#auth-modifyng-token).

Each test runs the cache role as playbooks/platform_services.yml applies it (its services play with
only platform_cache: the same guard and module_defaults, read from the playbook) and kills it
(SIGKILL, the playbook and every process under it) at one step: the run goes through a loopback
proxy in front of the emulator that kills the playbook when a given AWS request arrives, either
before passing it on (AWS never saw it) or after AWS answered (AWS did it, the run never heard). No
hook in the product code. The re-run must then succeed, and:

  - the token the api tier reads (SSM SecureString) is one the group accepts. The emulator keeps no
    token, so the proxy keeps what AWS would: the token of CreateReplicationGroup, plus each ROTATE's
    (both stay valid) or a SET's alone;
  - for real: a redis-server whose default user holds exactly those tokens, and the api app's own
    Redis client (apps/reference_api, Debian's python3-redis as in the image) configured from SSM,
    answers /healthz 200. A wrong token gets 503 (test_health_check_refuses_a_wrong_token).

Not run here, because they are proven once elsewhere: the other services' validation play
(test_services_inputs.py) and the environment's run lock, whose takeover after a killed run is
tests/integration/platform/test_lock.py::test_the_lock_of_a_killed_run_on_this_host_is_taken_over.
Each run costs a third less that way, and what is interrupted is the cache role's own steps.

Needs the emulator (scripts/with-emulator.sh), redis-server and python3-redis (scripts/setup-host.sh).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from arena_testlib import REPO_ROOT, base_env, reset_emulator

ENV = "local"
CACHE = "arena-local-cache"
PREFIX = f"/arena/{ENV}/api"
TOKEN_PARAM = f"{PREFIX}/redis_auth_token"
REDIS_SERVER = "/usr/bin/redis-server"
SYSTEM_PYTHON = "/usr/bin/python3"  # the api image runs the app on Debian's python3 with python3-redis
VAULT_TOKEN = "Vault-token-0123456789-abcdefXYZ"  # an operator's vault token (test value)

pytestmark = pytest.mark.skipif(
    not os.environ.get("AWS_URL", "").startswith("http://127.0.0.1:"),
    reason="needs the emulator: run through scripts/with-emulator.sh",
)


# --- the proxy: ElastiCache's memory of the token, and the interruption -------------------------


@dataclass
class Call:
    """One AWS request as the proxy saw it."""

    action: str  # CreateReplicationGroup, PutParameter ...
    params: dict[str, Any]


@dataclass
class Interrupt:
    """Kill the playbook when `matches` a request, before AWS sees it or after AWS answered."""

    matches: Callable[[Call], bool]
    after: bool
    fired: threading.Event = field(default_factory=threading.Event)


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def kill_tree(root: int) -> None:
    """SIGKILL a process and every descendant, frozen first so none escapes. A process group is not
    enough: ansible's workers call setsid, and a module left running would finish (or retry) the
    very request the interruption is meant to stop."""
    frozen, todo = [], [root]
    while todo:
        pid = todo.pop()
        try:
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:
            continue
        frozen.append(pid)
        todo.extend(children(pid))
    for pid in frozen:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class Proxy:
    """Loopback HTTP proxy to the emulator that keeps the AUTH tokens each replication group accepts."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urllib.parse.urlsplit(upstream)
        self.tokens: dict[str, list[str]] = {}
        self.calls: list[Call] = []
        self.interrupt: Interrupt | None = None
        self.victim: subprocess.Popen[str] | None = None
        self.playbook: Path | None = None  # what play() runs through it (the core fixture sets it)
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                proxy.handle(self)

            do_GET = do_POST

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def parse(headers: Any, body: bytes) -> Call:
        target = headers.get("X-Amz-Target", "")
        if target:  # JSON protocol (SSM)
            return Call(target.rsplit(".", 1)[-1], json.loads(body or b"{}"))
        form = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        return Call(form.get("Action", ""), form)

    def remember(self, call: Call) -> None:
        """What AWS keeps after a successful request: a token at creation, one more on ROTATE, one on SET."""
        group, token = call.params.get("ReplicationGroupId"), call.params.get("AuthToken")
        if not (group and token):
            return
        if call.action == "CreateReplicationGroup":
            self.tokens[group] = [token]
        elif call.action == "ModifyReplicationGroup":
            strategy = call.params.get("AuthTokenUpdateStrategy")
            assert strategy in ("ROTATE", "SET"), f"ModifyReplicationGroup with AuthToken needs a strategy: {strategy}"
            held = self.tokens.get(group, [])
            self.tokens[group] = ([t for t in held if t != token] + [token])[-2:] if strategy == "ROTATE" else [token]

    def kill(self) -> None:
        assert self.victim is not None
        kill_tree(self.victim.pid)

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        call = self.parse(request.headers, body)
        with self.lock:
            self.calls.append(call)
            interrupt = self.interrupt
            hit = interrupt is not None and not interrupt.fired.is_set() and interrupt.matches(call)
            if hit and not interrupt.after:
                interrupt.fired.set()
                self.kill()
                request.close_connection = True
                return
        upstream = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=60)
        upstream.request(request.command, request.path, body, dict(request.headers))
        answer = upstream.getresponse()
        data = answer.read()
        with self.lock:
            if answer.status == 200:
                self.remember(call)
            if hit:
                interrupt.fired.set()
                self.kill()
                request.close_connection = True
                return
        request.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)


# --- fixtures ---------------------------------------------------------------------------------------


def client(name: str) -> Any:
    return boto3.client(name, region_name=os.environ["AWS_REGION"], endpoint_url=os.environ["AWS_URL"])


@pytest.fixture(scope="module")
def proxy() -> Iterator[Proxy]:
    server = Proxy(os.environ["AWS_URL"])
    yield server
    server.close()


@pytest.fixture(scope="module")
def cache_play(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The services play of playbooks/platform_services.yml (guard, module_defaults) applying
    platform_cache alone: no second source for how the services reach AWS."""
    plays = yaml.safe_load((REPO_ROOT / "playbooks" / "platform_services.yml").read_text())
    services = next(p for p in plays if p["name"] == "Platform services")
    play = {k: v for k, v in services.items() if k not in ("tasks", "roles")}
    play |= {"name": "Platform cache alone", "roles": [{"role": "aws_guard"}, {"role": "platform_cache"}]}
    path = tmp_path_factory.mktemp("cache-play") / "cache.yml"
    path.write_text(yaml.safe_dump([play], sort_keys=False))
    return path


@pytest.fixture
def core(tmp_path: Path, proxy: Proxy, cache_play: Path) -> Path:
    """A fresh emulator with what platform core makes for the cache: VPC, two private subnets, the SG."""
    reset_emulator()
    proxy.tokens.clear()
    proxy.calls.clear()
    proxy.interrupt = None
    ec2 = client("ec2")
    region = os.environ["AWS_REGION"]
    vpc = ec2.create_vpc(CidrBlock="10.41.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.41.{n}.0/24", AvailabilityZone=f"{region}{zone}")["Subnet"][
            "SubnetId"
        ]
        for n, zone in ((10, "a"), (11, "b"))
    ]
    group = ec2.create_security_group(GroupName="arena-local-cache", Description="cache", VpcId=vpc)["GroupId"]
    extra = tmp_path / "cache-vars.json"
    extra.write_text(
        json.dumps(
            {
                "platform_cache_vpc_id": vpc,
                "platform_cache_subnet_ids": subnets,
                "platform_cache_security_group_ids": [group],
            }
        )
    )
    proxy.playbook = cache_play
    return extra


def play(proxy: Proxy, extra: Path, *args: str, interrupt: Interrupt | None = None) -> tuple[int, str]:
    """Run the cache part through the proxy; with `interrupt`, expect it killed there."""
    env = base_env({"AWS_URL": proxy.url, "AWS_ENDPOINT_URL": proxy.url, "PYTHONUNBUFFERED": "1"})
    # The static inventory beside the lab's group_vars: the dynamic one would only list instances.
    cmd = ["ansible-playbook", "-i", "inventories/local/containers.yml", str(proxy.playbook), "-e", f"@{extra}", *args]
    proxy.interrupt = interrupt
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    proxy.victim = proc
    try:
        out, _ = proc.communicate(timeout=300)
    finally:
        proxy.interrupt = None
    if interrupt is not None:
        assert interrupt.fired.is_set(), "the run ended before reaching the interruption point:\n" + out[-3000:]
        assert proc.returncode == -signal.SIGKILL, out[-3000:]
    return proc.returncode, out


def recap(output: str) -> dict[str, int]:
    match = re.search(r"localhost\s+:\s+(.*)", output)
    assert match, output[-3000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}


def complete(proxy: Proxy, extra: Path, *args: str) -> str:
    returncode, out = play(proxy, extra, *args)
    assert returncode == 0, out[-6000:]
    return out


def stored_token() -> str:
    return client("ssm").get_parameter(Name=TOKEN_PARAM, WithDecryption=True)["Parameter"]["Value"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api_health(tmp_path: Path, accepted: list[str], token: str) -> tuple[str, dict[str, Any]]:
    """/healthz of the api app configured as runtime_config would from SSM, against a real
    redis-server whose default user accepts exactly `accepted` (what the group holds)."""
    assert Path(REDIS_SERVER).exists(), "redis-server missing: run scripts/setup-host.sh"
    port = free_port()
    conf = tmp_path / "redis.conf"
    conf.touch(mode=0o600)
    users = " ".join(f">{t}" for t in accepted)
    conf.write_text(
        f'bind 127.0.0.1\nport {port}\nsave ""\nappendonly no\ndir {tmp_path}\nuser default on {users} ~* &* +@all\n'
    )
    server = subprocess.Popen([REDIS_SERVER, str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        # The settings runtime_config writes from SSM; the host is the loopback stand-in for the
        # group's endpoint, TLS off (the stand-in has none; TLS is the image gate's concern).
        env = {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(REPO_ROOT / "apps" / "reference_api"),
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(port),
            "REDIS_TLS": "false",
            "REDIS_AUTH_TOKEN": token,
        }
        code = (
            "import json\n"
            "from arena_api.app import create_app\n"
            "seen = {}\n"
            "body = b''.join(create_app()({'PATH_INFO': '/healthz', 'REQUEST_METHOD': 'GET'},"
            " lambda status, headers: seen.update(status=status)))\n"
            "print(json.dumps([seen['status'], json.loads(body)]))\n"
        )
        result = subprocess.run(
            [SYSTEM_PYTHON, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr[-2000:]
        status, body = json.loads(result.stdout)
        return status, body
    finally:
        server.terminate()
        server.wait(timeout=10)


def assert_converged(proxy: Proxy, tmp_path: Path, out: str) -> str:
    """SSM's token is one the group accepts, and the api authenticates with it. Returns the token."""
    token = stored_token()
    assert token not in out, "the AUTH token was logged"
    assert proxy.tokens.get(CACHE), "the group was never given a token"
    assert token in proxy.tokens[CACHE], "SSM holds a token the replication group never received"
    assert api_health(tmp_path, proxy.tokens[CACHE], token) == ("200 OK", {"status": "ok"})
    return token


def ssm_put(name: str) -> Callable[[Call], bool]:
    return lambda call: call.action == "PutParameter" and call.params.get("Name") == name


def elasticache(action: str) -> Callable[[Call], bool]:
    return lambda call: call.action == action and call.params.get("ReplicationGroupId") == CACHE


# --- the tests ---------------------------------------------------------------------------------------

# (id, request that triggers the kill, after AWS answered it)
CREATE_STEPS = [
    ("before-token-stored", ssm_put(TOKEN_PARAM), False),
    ("token-stored-before-create", elasticache("CreateReplicationGroup"), False),
    ("create-accepted-during-wait", elasticache("CreateReplicationGroup"), True),
    ("created-before-endpoint-published", ssm_put(f"{PREFIX}/redis_host"), False),
]


@pytest.mark.parametrize(("trigger", "after"), [s[1:] for s in CREATE_STEPS], ids=[s[0] for s in CREATE_STEPS])
def test_interrupted_create_converges(
    proxy: Proxy, core: Path, tmp_path: Path, trigger: Callable[[Call], bool], after: bool
) -> None:
    play(proxy, core, interrupt=Interrupt(trigger, after))
    out = complete(proxy, core)
    token = assert_converged(proxy, tmp_path, out)
    # One token from the first run to the last: the group was never rotated, no second random token.
    assert proxy.tokens[CACHE] == [token]
    assert not [c for c in proxy.calls if c.action == "ModifyReplicationGroup"]
    host = client("ssm").get_parameter(Name=f"{PREFIX}/redis_host")["Parameter"]["Value"]
    group = client("elasticache").describe_replication_groups(ReplicationGroupId=CACHE)["ReplicationGroups"][0]
    assert host == group["NodeGroups"][0]["PrimaryEndpoint"]["Address"]


def legacy_cache(proxy: Proxy, token: str, *, stored: bool) -> None:
    """The cache as the role left it before issue 14: a group created with `token` and without the
    token-version tag (through the proxy, which records the token); `stored`: SSM has the token (the
    old run completed), else it has none (interrupted before publishing, or the parameter deleted)."""
    ec2 = client("ec2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"] if s["CidrBlock"].startswith("10.41.")]
    groups = [g["GroupId"] for g in ec2.describe_security_groups(GroupNames=["arena-local-cache"])["SecurityGroups"]]
    via_proxy = boto3.client("elasticache", region_name=os.environ["AWS_REGION"], endpoint_url=proxy.url)
    via_proxy.create_cache_subnet_group(
        CacheSubnetGroupName=CACHE, CacheSubnetGroupDescription=f"{CACHE} private subnets", SubnetIds=subnets
    )
    region = os.environ["AWS_REGION"]
    via_proxy.create_replication_group(
        ReplicationGroupId=CACHE,
        ReplicationGroupDescription=f"{CACHE} (valkey, api tier)",
        Engine="valkey",
        EngineVersion="8.0",
        CacheNodeType="cache.t4g.small",
        Port=6379,
        NumCacheClusters=2,
        PreferredCacheClusterAZs=[f"{region}a", f"{region}b"],
        MultiAZEnabled=True,
        AutomaticFailoverEnabled=True,
        AtRestEncryptionEnabled=True,
        TransitEncryptionEnabled=True,
        AuthToken=token,
        CacheSubnetGroupName=CACHE,
        SecurityGroupIds=groups,
        SnapshotRetentionLimit=7,
        SnapshotWindow="01:00-02:00",
        PreferredMaintenanceWindow="tue:03:00-tue:04:00",
        Tags=[
            {"Key": k, "Value": v}
            for k, v in {"Environment": ENV, "ManagedBy": "arena-infra", "Project": "arena", "Tier": "api"}.items()
        ],
    )
    if stored:
        client("ssm").put_parameter(Name=TOKEN_PARAM, Value=token, Type="SecureString")
    assert proxy.tokens[CACHE] == [token]


LEGACY_TOKEN = "Legacy-token-0123456789abcdefXYZ"
# (id, request that triggers the kill, after AWS answered it); None: not interrupted
ROTATE_STEPS = [
    ("not-interrupted", None, False),
    ("rotation-not-sent", elasticache("ModifyReplicationGroup"), False),
    ("rotation-sent-not-tagged", elasticache("ModifyReplicationGroup"), True),
]


@pytest.mark.parametrize(("trigger", "after"), [s[1:] for s in ROTATE_STEPS], ids=[s[0] for s in ROTATE_STEPS])
def test_group_without_stored_token_is_rotated_to_a_new_one(
    proxy: Proxy, core: Path, tmp_path: Path, trigger: Callable[[Call], bool] | None, after: bool
) -> None:
    """A group whose token SSM does not hold (made by the older role and interrupted before it
    published, or the parameter deleted): a new token is stored, then the group rotated to it, also
    when that run is interrupted around the rotation."""
    legacy_cache(proxy, LEGACY_TOKEN, stored=False)
    if trigger is not None:
        play(proxy, core, interrupt=Interrupt(trigger, after))
        pending = stored_token()  # stored before the rotation was sent
    out = complete(proxy, core)
    token = assert_converged(proxy, tmp_path, out)
    assert token != LEGACY_TOKEN
    if trigger is not None:
        assert token == pending
    # ROTATE: the lost token stays valid beside the new one (running instances keep working).
    assert proxy.tokens[CACHE] == [LEGACY_TOKEN, token]
    modify = [c.params for c in proxy.calls if c.action == "ModifyReplicationGroup"]
    assert {(m["AuthTokenUpdateStrategy"], m["ApplyImmediately"]) for m in modify} == {("ROTATE", "true")}
    if trigger is None:
        # Converged: the next run changes nothing, no second rotation.
        again = complete(proxy, core)
        assert recap(again)["changed"] == 0, again[-4000:]
        assert proxy.tokens[CACHE] == [LEGACY_TOKEN, token]


def test_vault_token_wins_in_ssm_and_in_the_group(proxy: Proxy, core: Path, tmp_path: Path) -> None:
    """An operator sets the vault token on a running cache: SSM gets it and the group is rotated to
    it, also when that run is interrupted before the rotation."""
    legacy_cache(proxy, LEGACY_TOKEN, stored=True)
    vault = ["-e", f"platform_cache_auth_token={VAULT_TOKEN}"]
    play(proxy, core, *vault, interrupt=Interrupt(elasticache("ModifyReplicationGroup"), False))
    assert stored_token() == VAULT_TOKEN
    out = complete(proxy, core, *vault)
    assert assert_converged(proxy, tmp_path, out) == VAULT_TOKEN
    assert proxy.tokens[CACHE] == [LEGACY_TOKEN, VAULT_TOKEN]


MUTATING = {"PutParameter", "DeleteParameter", "CreateReplicationGroup", "ModifyReplicationGroup", "AddTagsToResource"}


def test_check_mode_reports_the_rotation_and_writes_nothing(proxy: Proxy, core: Path) -> None:
    legacy_cache(proxy, LEGACY_TOKEN, stored=False)
    seen = len(proxy.calls)
    out = complete(proxy, core, "--check")
    assert recap(out)["changed"] > 0
    assert not [c.action for c in proxy.calls[seen:] if c.action in MUTATING]
    assert proxy.tokens[CACHE] == [LEGACY_TOKEN]


def test_health_check_refuses_a_wrong_token(tmp_path: Path) -> None:
    """The health check can fail: a token the server does not hold gets 503."""
    assert api_health(tmp_path, ["the-token-the-group-holds-0123"], "some-other-token-0123456789")[0] == (
        "503 Service Unavailable"
    )
