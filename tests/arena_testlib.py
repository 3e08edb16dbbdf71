"""Helpers shared by arena-infra's unit and integration tests (importable: pytest.ini adds tests/)."""

from __future__ import annotations

import contextlib
import copy
import datetime
import importlib.util
import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = REPO_ROOT / ".venv" / "bin"
# The lab environment's inventory for the tests' playbook runs: inventories/local's static file, so the
# same group_vars, without its aws_ec2 source. That source queries EC2 on every run (about 0.4 CPU-s),
# and every playbook here runs on localhost: the source's own behaviour is tested in
# tests/integration/test_inventory.py and tests/ee/test_ee_platform.py, which name inventories/local.
LAB_INVENTORY = "inventories/local/containers.yml"
# sitecustomize of the tests' Mitogen runs (mitogen_env).
MITOGEN_SITE = REPO_ROOT / "tests" / "mitogen_site"


def mitogen_env() -> dict[str, str]:
    """The lab's executor for the playbooks the tests run: Mitogen's linear strategy (requirements.txt).

    A module on localhost costs about 0.3 CPU-s in a fresh Python (ansible's module_utils, boto3 and
    the service model imported each time); Mitogen keeps one interpreter per target for the whole run
    and runs modules in it: an empty teardown takes 28 CPU-s instead of 51 (docs/benchmarks.md). The
    playbooks, modules and inventories are the same; only how a module process starts differs, and
    the connections the tests use are left alone (`local` becomes `mitogen_local`; the container
    hosts' `containers.podman.podman` is not redirected). The image stage's lab playbooks (the gate's
    platform and publishing) use it too, through scripts/lib.sh mitogen_exports. Ops run plain
    ansible-playbook, and so do `make demo`, the bake and molecule. ARENA_MITOGEN=0 runs all of
    them with plain Ansible.

    PYTHONPATH starts with tests/mitogen_site: its sitecustomize gives the AWS modules that Mitogen
    forks a botocore with boto3 imported and the service models parsed (the same models, parsed
    once per run instead of once per client; that file says how and what it saves).
    """
    if os.environ.get("ARENA_MITOGEN", "1") == "0":
        return {}
    spec = importlib.util.find_spec("ansible_mitogen")
    assert spec and spec.origin, "mitogen is not installed in .venv: run make venv (requirements.txt pins it)"
    python_path = [str(MITOGEN_SITE), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {
        "ANSIBLE_STRATEGY_PLUGINS": str(Path(spec.origin).parent / "plugins" / "strategy"),
        "ANSIBLE_STRATEGY": "mitogen_linear",
        "PYTHONPATH": os.pathsep.join(dict.fromkeys(python_path)),
    }


# Variables that would point a child process at some AWS account or endpoint.
AWS_ENV_VARS = (
    "AWS_URL",
    "AWS_ENDPOINT_URL",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)


def reset_emulator(endpoint: str | None = None) -> None:
    """Drop all state of the loopback emulator at `endpoint` (default AWS_URL): moto's /moto-api/reset."""
    endpoint = endpoint or os.environ.get("AWS_URL", "")
    assert endpoint.startswith(("http://127.0.0.1:", "http://localhost:")), (
        f"{endpoint!r} is not a loopback emulator: run through scripts/with-emulator.sh"
    )
    request = urllib.request.Request(endpoint + "/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def base_env(extra: Mapping[str, str] | None = None, *, keep_aws: bool = True) -> dict[str, str]:
    """Environment for ansible child processes: repo config, no colour, and a dead proxy.

    The proxy makes any request that is not for loopback fail at once, so a test can never
    reach a real AWS endpoint even when it is wrong.
    """
    env = dict(os.environ)
    if not keep_aws:
        for name in AWS_ENV_VARS:
            env.pop(name, None)
    env.update(
        {
            "PATH": f"{VENV_BIN}:{env.get('PATH', '')}",
            "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
            # ansible.cfg's default is inventories/local; an explicit -i still wins.
            "ANSIBLE_INVENTORY": str(REPO_ROOT / LAB_INVENTORY),
            "ANSIBLE_FORCE_COLOR": "0",
            "NO_COLOR": "1",
            "ANSIBLE_NOCOLOR": "1",
            "HTTP_PROXY": "http://127.0.0.1:9",
            "HTTPS_PROXY": "http://127.0.0.1:9",
            "NO_PROXY": "127.0.0.1,localhost,::1",
            # Isolate from any credentials file in the caller's home.
            "AWS_CONFIG_FILE": env.get("AWS_CONFIG_FILE", "/nonexistent/arena-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": env.get("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/arena-aws-credentials"),
            **mitogen_env(),
        }
    )
    if extra:
        env.update(extra)
    return env


def loopback_env(endpoint: str, callback: str = "ansible.builtin.json") -> dict[str, str]:
    """base_env for a playbook run against a loopback endpoint (an emulator, or a closed port) with
    dummy credentials and the JSON stdout callback: nothing of the caller's AWS set-up is kept."""
    return base_env(
        {
            "AWS_URL": endpoint,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "ANSIBLE_STDOUT_CALLBACK": callback,
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        },
        keep_aws=False,
    )


def cache_core_inputs(second_octet: int) -> dict[str, Any]:
    """What platform core makes for the cache, made in the emulator (AWS_URL) with boto3: a VPC
    10.<second_octet>.0.0/16, two private subnets in two zones and the cache security group.
    Returns the platform_cache_* inputs that name them."""
    import boto3  # noqa: PLC0415 -- only the services suites need it

    ec2 = boto3.client("ec2", region_name=os.environ["AWS_REGION"], endpoint_url=os.environ["AWS_URL"])
    region = os.environ["AWS_REGION"]
    vpc = ec2.create_vpc(CidrBlock=f"10.{second_octet}.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{second_octet}.{n}.0/24", AvailabilityZone=f"{region}{zone}")[
            "Subnet"
        ]["SubnetId"]
        for n, zone in ((10, "a"), (11, "b"))
    ]
    group = ec2.create_security_group(GroupName="arena-local-cache", Description="cache", VpcId=vpc)["GroupId"]
    return {
        "platform_cache_vpc_id": vpc,
        "platform_cache_subnet_ids": subnets,
        "platform_cache_security_group_ids": [group],
    }


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` now (/proc)."""
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
    enough: ansible's workers call setsid, Mitogen's multiplexer leaves the run's session, and a
    module left running would finish (or retry) the very request the interruption is meant to stop."""
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


def github_workflow(name: str) -> dict[str, Any]:
    """.github/workflows/NAME, parsed. YAML 1.1 reads a bare `on` as True: the workflows quote it."""
    path = REPO_ROOT / ".github" / "workflows" / name
    data = yaml.safe_load(path.read_text())
    assert "on" in data, f"{path.name}: quote the 'on' key"
    return data


def run(cmd: list[str], env: Mapping[str, str], timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """Run a command from the repository root and capture its output."""
    return subprocess.run(
        cmd, cwd=REPO_ROOT, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
    )


def item_messages(result: Mapping[str, object]) -> str:
    """A task result's message; for a looped task, its failed items' messages, one per line."""
    items = result.get("results")
    if isinstance(items, list) and items:
        return "\n".join(str(item.get("msg", "")) for item in items if item.get("failed"))
    return str(result.get("msg", ""))


def _case_key(variables: Mapping[str, object]) -> str:
    """One case's identity: its variables, canonical."""
    return json.dumps(dict(variables), sort_keys=True, default=str)


class CasesRun:
    """The per-host report of one ansible-playbook run over many input cases.

    Each case is its own inventory host (``ansible_connection=local``, the case's variables as its host
    variables), the play is ``hosts: all``: one ansible start-up for a whole file of cases instead of
    one per case, and each case is still judged on its own host's results alone.
    """

    def __init__(self, report: dict[str, Any], hosts: Mapping[str, str], output: str) -> None:
        self._report = report
        self._hosts = dict(hosts)  # case key -> host name
        self._output = output

    def host(self, variables: Mapping[str, object]) -> str:
        return self._hosts[_case_key(variables)]

    def tasks(self, variables: Mapping[str, object]) -> list[tuple[str, dict[str, Any]]]:
        """(task name, this case's result) for every task the case's host ran, in order."""
        host = self.host(variables)
        return [
            (task["task"]["name"], task["hosts"][host])
            for play in self._report["plays"]
            for task in play["tasks"]
            if host in task["hosts"]
        ]

    def stats(self, variables: Mapping[str, object]) -> dict[str, int]:
        return self._report["stats"][self.host(variables)]

    def failure(self, variables: Mapping[str, object]) -> tuple[str, str, dict[str, int]]:
        """(failed task name, its message, the host's stats); the case must fail in exactly one task.

        A looped task's message is the messages of its failed items, one per line."""
        failed = [(name, item_messages(result)) for name, result in self.tasks(variables) if result.get("failed")]
        assert len(failed) == 1, (self.host(variables), failed, self._output[-2000:])
        return failed[0][0], failed[0][1], self.stats(variables)


class RoleCases:
    """The run of one file's cases, each looked up as GOOD | overrides."""

    def __init__(self, run: CasesRun, good: Mapping[str, Any]) -> None:
        self.run = run
        self.good = dict(good)

    def failure(self, overrides: Mapping[str, Any]) -> tuple[str, str, dict[str, int]]:
        return self.run.failure({**self.good, **overrides})


def playbook_play(playbook: str, index: int = 0) -> dict[str, Any]:
    """Play `index` of a playbook of the repository as it is, but for ``hosts: all`` (cases_run)."""
    import yaml  # noqa: PLC0415 -- only the playbook case runs need it

    play = yaml.safe_load((REPO_ROOT / playbook).read_text())[index]
    assert "hosts" in play, f"{playbook} play {index} is not a play"
    return {**play, "hosts": "all"}


def cases_run(
    workdir: Path,
    plays: list[dict[str, Any]],
    cases: list[Mapping[str, object]],
    *,
    env: Mapping[str, str],
    group_vars: tuple[Path, ...] = (),
    check: bool = True,
    args: tuple[str, ...] = (),
    timeout: int = 600,
) -> CasesRun:
    """Run `plays` once with one inventory host per case (connection local, this Python).

    `group_vars` files are the inventory's group_vars/all (below each case's own variables, as in an
    inventory); `args` go to ansible-playbook (e.g. --tags). The run's exit code is not judged here:
    callers assert each case on its own host (CasesRun.failure, .tasks, .stats).
    """
    hosts: dict[str, str] = {}
    inventory: dict[str, dict[str, object]] = {}
    for variables in cases:
        key = _case_key(variables)
        if key in hosts:
            continue
        hosts[key] = f"case{len(hosts):03d}"
        inventory[hosts[key]] = {
            **variables,
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
        }
    (workdir / "group_vars" / "all").mkdir(parents=True, exist_ok=True)
    for path in group_vars:
        (workdir / "group_vars" / "all" / path.name).symlink_to(path)
    (workdir / "hosts.yml").write_text(json.dumps({"all": {"hosts": inventory}}))  # JSON is YAML
    (workdir / "play.yml").write_text(json.dumps(plays))
    cmd = [
        "ansible-playbook",
        "-i",
        str(workdir / "hosts.yml"),
        *(["--check"] if check else []),
        *args,
        str(workdir / "play.yml"),
    ]
    if len(hosts) > 1:
        # Plain Ansible for a run of many hosts: Mitogen serves them all from one controller process
        # (one core) where the linear strategy forks workers, so it saves no CPU here and takes
        # longer (docs/benchmarks.md), and such a run once hung under load until its timeout.
        env = {**env, "ANSIBLE_STRATEGY": "linear"}
    result = run(cmd, env, timeout=timeout)
    start = result.stdout.find("{")
    assert start >= 0, result.stdout + result.stderr
    report, _ = json.JSONDecoder().raw_decode(result.stdout[start:])  # the timer callback prints after it
    return CasesRun(report, hosts, result.stdout + result.stderr)


def role_input_run(workdir: Path, role: str, cases: list[Mapping[str, object]], *, timeout: int = 600) -> CasesRun:
    """Run `role` once in --check with one inventory host per case; --check keeps a wrong test from
    changing this machine."""
    env = base_env(
        {
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
            "ANSIBLE_ROLES_PATH": str(REPO_ROOT / "roles"),
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
        },
        keep_aws=False,
    )
    play = {"name": f"Apply {role}", "hosts": "all", "gather_facts": False, "roles": [role]}
    return cases_run(workdir, [play], cases, env=env, timeout=timeout)


def check_role_input(tmp_path: Path, role: str, variables: Mapping[str, object]) -> tuple[str, str, dict]:
    """One case alone: run `role` on localhost in --check with `variables`; it must fail in exactly
    one task. Returns (failed task name, its message, the host's stats). Files of cases use
    role_input_run, one run for all of them."""
    return role_input_run(tmp_path, role, [variables]).failure(variables)


# The capacity model the filter tests work their figures out on (production's shape: web c6i.large,
# api c6i.xlarge, headroom 0.3, groups 2-40 / 2-48). One copy for every test that needs it.
_CAPACITY_MODEL: dict[str, Any] = {
    "boot_to_healthy_seconds": 240,
    "health_check": {"interval_seconds": 10, "healthy_threshold": 3},
    "safety_margin_seconds": 1200,
    "tail_minutes": 30,
    "instance_types": {"c6i.large": 6000, "c6i.xlarge": 12000},
    "tiers": {
        "web": {
            "instance_type": "c6i.large",
            "requests_per_viewer_per_minute": 1.5,
            "headroom": 0.3,
            "min_size": 2,
            "max_size": 40,
        },
        "api": {
            "instance_type": "c6i.xlarge",
            "requests_per_viewer_per_minute": 4,
            "headroom": 0.3,
            "min_size": 2,
            "max_size": 48,
        },
    },
}


def capacity_model(
    *, healthy_threshold: int = 3, changes: Mapping[str | tuple[str, ...], Any] | None = None
) -> dict[str, Any]:
    """A fresh copy of the test capacity model (tests may change their copy), with ``changes``: each
    key a dotted path (or a tuple of keys, when a key has dots) replaced by its value; None deletes it."""
    model = copy.deepcopy(_CAPACITY_MODEL)
    model["health_check"]["healthy_threshold"] = healthy_threshold
    for path, value in (changes or {}).items():
        *parents, last = path.split(".") if isinstance(path, str) else path
        node = model
        for key in parents:
            node = node[key]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return model


class RequireRetry:
    """A module's own retrying client (amazon.aws's wrapper with the module's retry decorator) that
    refuses any call made without aws_retry=True: every call must be retried on throttling."""

    def __init__(self, client: Any, retry: Callable[..., Any]) -> None:
        from ansible_collections.amazon.aws.plugins.module_utils.retries import (  # noqa: PLC0415 -- only the module tests need it
            RetryingBotoClientWrapper,
        )

        self._client = RetryingBotoClientWrapper(client, retry)
        self.exceptions = client.exceptions

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            assert kwargs.get("aws_retry") is True, f"{name} called without aws_retry=True"
            return method(*args, **kwargs)

        return call


def self_signed(*names: str) -> tuple[bytes, bytes]:
    """A PEM certificate for ``names`` (first = CN, all in the SAN) and its key, valid for 30 days.

    Imported into ACM (the emulator's too) it is ISSUED at once; a requested one stays
    PENDING_VALIDATION, as on AWS until its DNS validation passes."""
    from cryptography import x509  # noqa: PLC0415 -- only the certificate fixtures need these
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


# Scheduled actions of a group as the tests compare them: name -> (UTC start, min, desired, max).
ScheduledActions = dict[str, tuple[str, int | None, int | None, int | None]]


def scheduled_actions(endpoint: str, group: str) -> ScheduledActions:
    """Every scheduled action of an Auto Scaling group in the emulator at ``endpoint``."""
    import boto3  # noqa: PLC0415 -- only the emulator tests need it

    autoscaling = boto3.client("autoscaling", endpoint_url=endpoint)
    actions = autoscaling.describe_scheduled_actions(AutoScalingGroupName=group)["ScheduledUpdateGroupActions"]
    return {
        a["ScheduledActionName"]: (
            a["StartTime"].astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if a.get("StartTime") else "",
            a.get("MinSize"),
            a.get("DesiredCapacity"),
            a.get("MaxSize"),
        )
        for a in actions
    }


def plan_action(tier: str, at: str, size: int, events: list[str], kind: str | None = None) -> dict[str, Any]:
    """One action of arena_scaling_schedule's plan as the production model sizes it (web max 40, api 48):
    ``events`` [] is a return to the baseline (DesiredCapacity = the floor); ``kind`` 'immediate' names it
    ``...-now`` as the plan names a late event's immediate floor."""
    kind = kind or ("event" if events else "baseline")
    stamp = "now" if kind == "immediate" else at.replace("-", "").replace(":", "")[:13] + "Z"
    return {
        "name": f"arena-event-{tier}-{stamp}",
        "tier": tier,
        "start_time": at,
        "min_size": size,
        "max_size": 40 if tier == "web" else 48,
        "desired_capacity": None if events else size,
        "events": events,
        "kind": kind,
    }
