#!/usr/bin/env python3
"""Helpers of the image gate and the boot benchmark (scripts/gate.sh, scripts/bench-boot.sh).

    image_gate.py seed TIER ENV MARKER      write the tier's runtime configuration to the emulator's SSM
    image_gate.py tier-value TIER KEY       a value of packer/tiers/<TIER>.yml or one of the gate's
                                            expectations from the tier facts of tiers.yml, as JSON
    image_gate.py boot-budget               seconds an image may take from boot to healthy (tiers.yml)
    image_gate.py ports ALLOWED < ss-output list listening ports, exit 1 on unexpected ones
    image_gate.py lynis LOG REPORT SYSCTL   Lynis index in the container and as on an instance
    image_gate.py lost LOG                  Lynis tests that gave fewer than their maximum points

seed: every runtime tier of packer/tiers/<TIER>.yml (runtime_config_tiers) gets GATE_MARKER=MARKER
and the lab values of its keys under /arena/<ENV>/<name>/ (SecureString), so first boot fetches
them: the API's Redis (the gate's side container), the mail relay's SMTP login, the admin's
basic-auth line, the allow-list the gate's requests pass (<prefix>/<ENV>/admin/allowed_cidrs, the
name the platform writes) and the CloudWatch agent's settings (<prefix>/<ENV>/monitoring/
log_group_prefix, metrics_namespace, metrics_interval_seconds: what roles/platform_monitoring writes,
from tiers.yml arena_observability). A required key the gate has no value for is an error naming it. Secrets come from
the environment (GATE_REDIS_TOKEN, GATE_SMTP_PASSWORD, GATE_ADMIN_PASSWORD), never from argv;
GATE_REDIS_HOST / GATE_REDIS_PORT say where the API finds Redis. Needs AWS_URL and AWS_REGION
(scripts/with-emulator.sh).
"""

from __future__ import annotations

import json
import os
import re
import sys
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "scripts" / "hardening"))
from instance_index import instance_index  # noqa: E402 -- the script's directory is not a package

# The basic-auth user the gate logs in with on the admin tier.
ADMIN_USER = "gate"
# The admin allow-list the gate's requests pass: they reach a lab instance from the host, which the
# instance's network (slirp4netns, scripts/lab/launch.py INSTANCE_SUBNET) shows as 10.0.2.2.
GATE_ADMIN_ALLOWED_CIDRS = "10.0.2.0/24"
# The one source of the tier facts (ports, protocols, health paths, the runtime SSM prefix).
TIERS_FILE = REPO_ROOT / "tiers.yml"
# roles/platform_monitoring's defaults: the agent's metrics interval the platform writes to SSM
# (platform_monitoring_metrics_interval_seconds; inventories/local keeps the default).
MONITORING_DEFAULTS = REPO_ROOT / "roles" / "platform_monitoring" / "defaults" / "main.yml"


def tier_facts() -> dict:
    """tiers.yml: arena_tiers (per tier: port, protocol, health_path, listener_port), arena_runtime and
    arena_observability."""
    return yaml.safe_load(TIERS_FILE.read_text())


def boot_budget(capacity_files: Iterable[Path] | None = None) -> int:
    """Seconds an image may take from systemd's start to a healthy health check: the capacity models'
    boot_to_healthy_seconds (launch -> healthy; the smallest over the environments) less EC2's instance
    launch (tiers.yml arena_boot.instance_launch_seconds). Raises GateError when nothing is left."""
    files = sorted(capacity_files or (REPO_ROOT / "inventories").glob("*/group_vars/all/capacity.yml"))
    if not files:
        raise GateError("no inventories/*/group_vars/all/capacity.yml: no boot_to_healthy_seconds to derive from")
    models = {str(f): yaml.safe_load(f.read_text())["arena_capacity_model"]["boot_to_healthy_seconds"] for f in files}
    launch = tier_facts()["arena_boot"]["instance_launch_seconds"]
    source, boot = min(models.items(), key=lambda item: item[1])
    if boot <= launch:
        raise GateError(
            f"boot_to_healthy_seconds {boot} ({source}) leaves nothing for the image after the instance launch"
            f" (tiers.yml arena_boot.instance_launch_seconds {launch})"
        )
    return boot - launch


def tier_settings(tier: str) -> dict:
    """packer/tiers/<tier>.yml plus the gate's expectations derived from the tier's facts: the one
    non-loopback TCP port (bake_gate_listen_ports), the health check's port, path and scheme."""
    settings = yaml.safe_load((REPO_ROOT / "packer" / "tiers" / f"{tier}.yml").read_text())
    facts = tier_facts()["arena_tiers"][tier]
    return {
        **settings,
        "bake_gate_listen_ports": [facts["port"]],
        "bake_gate_health_port": facts["port"],
        "bake_gate_health_path": facts["health_path"],
        "bake_gate_health_scheme": facts["protocol"].lower(),
    }


class GateError(Exception):
    """A bad input of the gate; the message names it."""


def bcrypt_line(user: str, password: str) -> str:
    """`user:$2b$...` for nginx's auth_basic (what ADMIN_HTPASSWD holds)."""
    # The stdlib crypt module (libxcrypt does bcrypt) avoids a new dependency; it is deprecated
    # (removed in Python 3.13) but present on the lab's Python 3.11.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # noqa: PLC0415 -- imported under the warning filter

        hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=32))
    if not hashed or not hashed.startswith("$2b$"):
        raise GateError("this Python's crypt cannot make bcrypt hashes (needed for ADMIN_HTPASSWD)")
    return f"{user}:{hashed}"


def monitoring_settings(environment: str) -> dict[str, str]:
    """The CloudWatch agent's settings of an environment as roles/platform_monitoring writes them:
    the log group prefix and namespace of tiers.yml arena_observability, the role's metrics interval."""
    observability = tier_facts()["arena_observability"]
    interval = yaml.safe_load(MONITORING_DEFAULTS.read_text())["platform_monitoring_metrics_interval_seconds"]
    return {
        "LOG_GROUP_PREFIX": f"{observability['log_group_root']}/{environment}",
        "METRICS_NAMESPACE": observability["metrics_namespace"],
        "METRICS_INTERVAL_SECONDS": str(interval),
    }


def lab_values(secrets: Mapping[str, str], environment: str) -> dict[str, dict[str, str]]:
    """Runtime tier name -> the lab's values of its keys (test values, never real credentials) in the
    environment the lab instances boot in."""
    return {
        "api": {
            "REDIS_HOST": secrets["redis_host"],
            "REDIS_PORT": secrets["redis_port"],
            "REDIS_TLS": "false",
            "REDIS_AUTH_TOKEN": secrets["redis_token"],
        },
        "mail": {"SMTP_USERNAME": "gate-smtp-user", "SMTP_PASSWORD": secrets["smtp_password"]},
        "admin": {"ADMIN_HTPASSWD": secrets["admin_htpasswd"], "ALLOWED_CIDRS": GATE_ADMIN_ALLOWED_CIDRS},
        tier_facts()["arena_observability"]["settings_name"]: monitoring_settings(environment),
    }


# Keys written as the platform writes them (lower-case name, plain type) instead of as lab secrets:
# the admin allow-list (platform_security_groups_admin_cidrs_parameter) and the agent's settings
# (roles/platform_monitoring), so the gate's value replaces the platform's in the lab emulator instead
# of sitting beside it under the same key.
PLATFORM_KEYS = {
    "ALLOWED_CIDRS": "StringList",
    "LOG_GROUP_PREFIX": "String",
    "METRICS_NAMESPACE": "String",
    "METRICS_INTERVAL_SECONDS": "String",
}


def runtime_parameters(
    tier_file: Mapping, known: Mapping[str, Mapping[str, str]], marker: str
) -> dict[str, dict[str, str]]:
    """Runtime tier name -> {KEY: value} to seed: GATE_MARKER plus the lab values of that tier.

    Raises GateError when the tier file lists no runtime tiers or requires a key without a value.
    """
    tiers = tier_file.get("runtime_config_tiers") or []
    if not tiers:
        raise GateError("runtime_config_tiers is empty: the image fetches nothing at boot, the gate cannot check it")
    result: dict[str, dict[str, str]] = {}
    for entry in tiers:
        name = entry["name"]
        values = {"GATE_MARKER": marker, **known.get(name, {})}
        missing = [key for key in entry.get("required_keys") or [] if key not in values]
        if missing:
            raise GateError(
                f"runtime tier '{name}' requires {', '.join(missing)}, which the gate has no lab value for "
                f"(scripts/image_gate.py lab_values)"
            )
        result[name] = values
    return result


_SS_ADDRESS = re.compile(r"^(?P<host>.*):(?P<port>\d+|\*)$")
_LOOPBACK = re.compile(r"^(127\.\d+\.\d+\.\d+|\[::1\]|::1|\[::ffff:127\.\d+\.\d+\.\d+\])$")


def listening_ports(ss_output: str) -> list[str]:
    """Sorted `<port>` (tcp) and `udp/<port>` entries bound to non-loopback addresses.

    Input: `ss -Hltun` (columns: netid state recv-q send-q local peer ...).
    """
    found: set[tuple[int, str]] = set()
    for line in ss_output.splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        netid, local = fields[0], fields[4]
        match = _SS_ADDRESS.match(local)
        if not match or match["port"] == "*":
            continue
        host = match["host"].split("%", 1)[0]  # 127.0.0.53%lo -> 127.0.0.53
        if _LOOPBACK.match(host):
            continue
        port = int(match["port"])
        found.add((port, str(port) if netid == "tcp" else f"{netid}/{port}"))
    return [label for _, label in sorted(found)]


def unexpected(listening: Iterable[str], allowed_tcp: Iterable[int]) -> list[str]:
    """Entries of `listening` that are not one of the allowed TCP ports."""
    allowed = {str(port) for port in allowed_tcp}
    return [entry for entry in listening if entry not in allowed]


def lynis_indexes(log: str, report: str, sysctl_text: str) -> tuple[int, int, list[str]]:
    """(index in the container, index as on an instance, the re-counted kernel-global sysctl keys)."""
    match = re.search(r"^hardening_index=(\d+)$", report, re.MULTILINE)
    if not match:
        raise GateError("no hardening_index in the Lynis report")
    try:
        on_instance, _, _, keys = instance_index(log, sysctl_text)
    except ValueError as err:
        raise GateError(f"Lynis log: {err}") from None
    return int(match[1]), on_instance, keys


_TEST = re.compile(r"Performing test ID (\S+)")
_PARTIAL = re.compile(r"assigned partial number of hardening points \((\d+) of (\d+)\)")


def lost_points(log: str) -> list[tuple[str, int]]:
    """(test id, points lost) for every Lynis test that gave less than its maximum, most lost first."""
    lost: dict[str, int] = {}
    test = "?"
    for line in log.splitlines():
        if match := _TEST.search(line):
            test = match[1]
        elif match := _PARTIAL.search(line):
            lost[test] = lost.get(test, 0) + int(match[2]) - int(match[1])
    return sorted(((name, points) for name, points in lost.items() if points), key=lambda item: (-item[1], item[0]))


def _seed(tier: str, environment: str, marker: str) -> int:
    import boto3  # noqa: PLC0415 -- only this command needs it

    if not os.environ.get("AWS_URL"):
        raise GateError("AWS_URL is unset: seed only the emulator (run through scripts/with-emulator.sh)")
    needed = ("GATE_REDIS_HOST", "GATE_REDIS_PORT", "GATE_REDIS_TOKEN", "GATE_SMTP_PASSWORD", "GATE_ADMIN_PASSWORD")
    unset = [name for name in needed if not os.environ.get(name)]
    if unset:
        raise GateError(f"unset: {', '.join(unset)} (scripts/images-lab.sh sets them)")
    tier_file = tier_settings(tier)
    prefix = tier_facts()["arena_runtime"]["ssm_prefix"]
    secrets = {
        "redis_host": os.environ["GATE_REDIS_HOST"],
        "redis_port": os.environ["GATE_REDIS_PORT"],
        "redis_token": os.environ["GATE_REDIS_TOKEN"],
        "smtp_password": os.environ["GATE_SMTP_PASSWORD"],
        "admin_htpasswd": bcrypt_line(ADMIN_USER, os.environ["GATE_ADMIN_PASSWORD"]),
    }
    parameters = runtime_parameters(tier_file, lab_values(secrets, environment), marker)
    ssm = boto3.client("ssm", endpoint_url=os.environ["AWS_URL"], region_name=os.environ["AWS_REGION"])
    for name, values in parameters.items():
        for key, value in values.items():
            kind = PLATFORM_KEYS.get(key, "SecureString")
            parameter = key.lower() if key in PLATFORM_KEYS else key
            ssm.put_parameter(Name=f"{prefix}/{environment}/{name}/{parameter}", Value=value, Type=kind, Overwrite=True)
    # The runtime tiers whose env files must carry the marker (no values: they are secrets).
    print(" ".join(parameters))
    return 0


def main(argv: list[str]) -> int:  # noqa: PLR0911 -- one return per command and one per error path
    try:
        if len(argv) == 5 and argv[1] == "seed":
            return _seed(argv[2], argv[3], argv[4])
        if len(argv) == 2 and argv[1] == "boot-budget":
            print(boot_budget())
            return 0
        if len(argv) == 4 and argv[1] == "tier-value":
            print(json.dumps(tier_settings(argv[2])[argv[3]]))
            return 0
        if len(argv) == 3 and argv[1] == "ports":
            allowed = [int(port) for port in argv[2].split(",") if port]
            listening = listening_ports(sys.stdin.read())
            bad = unexpected(listening, allowed)
            print(",".join(listening) or "none", ",".join(bad) or "-")
            return 1 if bad else 0
        if len(argv) == 5 and argv[1] == "lynis":
            texts = [Path(path).read_text(errors="replace") for path in argv[2:]]
            container, on_instance, keys = lynis_indexes(*texts)
            print(container, on_instance, ",".join(keys) or "-")
            return 0
        if len(argv) == 3 and argv[1] == "lost":
            for name, points in lost_points(Path(argv[2]).read_text(errors="replace")):
                print(name, points)
            return 0
    except GateError as err:
        print(f"image_gate.py: {err}", file=sys.stderr)
        return 2
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
