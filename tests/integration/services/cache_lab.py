"""The cache interruption lab shared by test_cache_interrupt.py (interrupted creates) and
test_cache_rotation.py (rotation of a group whose token SSM does not hold, the vault token, check
mode): the loopback proxy that kills the run and keeps the tokens ElastiCache would hold, the
cache-role-only play, the real redis-server health check. Two test files so that pytest-xdist
(--dist loadfile) can run them side by side; see test_cache_interrupt.py for what is proven.
"""

from __future__ import annotations

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
from arena_testlib import LAB_INVENTORY, REPO_ROOT, base_env, cache_core_inputs, kill_tree, reset_emulator

ENV = "local"
CACHE = "arena-local-cache"
PREFIX = f"/arena/{ENV}/api"
TOKEN_PARAM = f"{PREFIX}/redis_auth_token"
REDIS_SERVER = "/usr/bin/redis-server"
SYSTEM_PYTHON = "/usr/bin/python3"  # the api image runs the app on Debian's python3 with python3-redis
VAULT_TOKEN = "Vault-token-0123456789-abcdefXYZ"  # an operator's vault token (test value)

# The lab's test files are marked with it: they need the loopback emulator.
NEEDS_EMULATOR = pytest.mark.skipif(
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
    extra = tmp_path / "cache-vars.json"
    extra.write_text(json.dumps(cache_core_inputs(41)))
    proxy.playbook = cache_play
    return extra


def play(proxy: Proxy, extra: Path, *args: str, interrupt: Interrupt | None = None) -> tuple[int, str]:
    """Run the cache part through the proxy; with `interrupt`, expect it killed there."""
    env = base_env({"AWS_URL": proxy.url, "AWS_ENDPOINT_URL": proxy.url, "PYTHONUNBUFFERED": "1"})
    cmd = ["ansible-playbook", "-i", LAB_INVENTORY, str(proxy.playbook), "-e", f"@{extra}", *args]
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


def kill_points(*steps: tuple[str, Callable[[Call], bool] | None, bool]) -> pytest.MarkDecorator:
    """A test's cases (`trigger`, `after`), one per step (id, the request that triggers the kill, whether
    AWS answered it first); a trigger None: the run is not interrupted."""
    return pytest.mark.parametrize(("trigger", "after"), [pytest.param(t, a, id=i) for i, t, a in steps])


def ssm_put(name: str) -> Callable[[Call], bool]:
    return lambda call: call.action == "PutParameter" and call.params.get("Name") == name


def elasticache(action: str) -> Callable[[Call], bool]:
    return lambda call: call.action == action and call.params.get("ReplicationGroupId") == CACHE


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
MUTATING = {"PutParameter", "DeleteParameter", "CreateReplicationGroup", "ModifyReplicationGroup", "AddTagsToResource"}
