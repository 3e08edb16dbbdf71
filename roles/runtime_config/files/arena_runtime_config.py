#!/usr/bin/python3
"""arena-runtime-config: first-boot runtime configuration from SSM Parameter Store.

Reads every parameter under /<prefix>/<environment>/<tier>/ (GetParametersByPath, recursive,
WithDecryption) for each tier this image serves and writes /etc/arena/runtime/<tier>.env, one
KEY=value line per parameter (systemd EnvironmentFile syntax). A parameter's key is its path below
the tier, upper-cased, with '/', '-' and '.' turned into '_': /arena/prod/api/redis_host -> REDIS_HOST.

Environment and region come from the instance (IMDSv2: token, identity document, instance tag), or
from the override file (source.conf) that tests use to point at an emulator. Errors are retried
with capped exponential back-off; after the last attempt the tier files and the ready marker are
removed and the program exits 1, so the unit fails and the tier's health check stays unhealthy.
Values are never logged.
"""

from __future__ import annotations

import argparse
import grp
import json
import os
import re
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

DEFAULT_CONFIG = "/etc/arena/runtime-config.json"
KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
SAFE_VALUE_RE = re.compile(r"^[A-Za-z0-9_@%+=:,./$^*!?#~-]*$")
SOURCE_KEYS = frozenset({"ENDPOINT_URL", "ENVIRONMENT", "REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"})


class ConfigError(Exception):
    """The local configuration is wrong: retrying cannot help."""


class FetchError(Exception):
    """The runtime configuration could not be fetched or is incomplete (retried)."""


@dataclass
class Tier:
    name: str
    group: str = "root"
    required_keys: list[str] = field(default_factory=list)


@dataclass
class Settings:
    tiers: list[Tier]
    prefix: str = "/arena"
    output_dir: str = "/etc/arena/runtime"
    source_file: str = "/etc/arena/runtime/source.conf"
    ready_file: str = "/run/arena/runtime-config.ready"
    attempts: int = 10
    delay: float = 2.0
    max_delay: float = 30.0
    imds_url: str = "http://169.254.169.254"
    environment_tag: str = "Environment"
    timeout: float = 5.0


def log(message: str) -> None:
    print(f"arena-runtime-config: {message}", file=sys.stderr, flush=True)


def load_settings(path: str) -> Settings:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read settings {path}: {exc}") from exc
    raw.pop("comment", None)  # the "managed by Ansible" marker
    try:
        tiers = [Tier(**t) for t in raw.pop("tiers", [])]
        settings = Settings(tiers=tiers, **raw)
    except TypeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if not tiers:
        raise ConfigError(f"{path}: 'tiers' is empty")
    for tier in tiers:
        if not re.fullmatch(r"[a-z][a-z0-9_-]*", tier.name):
            raise ConfigError(f"{path}: bad tier name {tier.name!r}")
    if settings.attempts < 1:
        raise ConfigError(f"{path}: attempts must be >= 1, got {settings.attempts}")
    return settings


def parse_env_lines(text: str, origin: str) -> dict[str, str]:
    """KEY=value lines (comments and blank lines ignored); used for source.conf."""
    result: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        if not sep or key.strip() not in SOURCE_KEYS:
            raise ConfigError(f"{origin}:{number}: expected one of {sorted(SOURCE_KEYS)} as KEY=value")
        result[key.strip()] = value.strip()
    return result


def read_source_override(path: str) -> dict[str, str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    return parse_env_lines(text, path)


def imds_get(base: str, path: str, token: str, timeout: float) -> str:
    request = urllib.request.Request(f"{base}{path}", headers={"X-aws-ec2-metadata-token": token})
    with _opener().open(request, timeout=timeout) as response:
        return response.read().decode("utf-8")


def _opener() -> urllib.request.OpenerDirector:
    # IMDS is link-local: never through a proxy.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def imds_source(settings: Settings) -> dict[str, str]:
    """Region and environment of this instance from IMDSv2 (token first, then identity and tag)."""
    base = settings.imds_url.rstrip("/")
    request = urllib.request.Request(
        f"{base}/latest/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"}
    )
    try:
        with _opener().open(request, timeout=settings.timeout) as response:
            token = response.read().decode("utf-8")
        identity = json.loads(imds_get(base, "/latest/dynamic/instance-identity/document", token, settings.timeout))
        tag_path = f"/latest/meta-data/tags/instance/{settings.environment_tag}"
        environment = imds_get(base, tag_path, token, settings.timeout)
    except urllib.error.HTTPError as exc:
        raise FetchError(
            f"IMDS answered {exc.code} for {exc.url} (is the instance tag '{settings.environment_tag}'"
            " set and are tags in instance metadata enabled?)"
        ) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise FetchError(f"IMDS unreachable: {exc}") from exc
    return {"REGION": identity.get("region", ""), "ENVIRONMENT": environment.strip()}


def resolve_source(settings: Settings) -> dict[str, str]:
    source = read_source_override(settings.source_file)
    if not (source.get("ENVIRONMENT") and source.get("REGION")):
        from_imds = imds_source(settings)
        source = {**from_imds, **{k: v for k, v in source.items() if v}}
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", source.get("ENVIRONMENT", "")):
        raise FetchError(f"environment name {source.get('ENVIRONMENT')!r} is not a valid name")
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", source.get("REGION", "")):
        raise FetchError(f"region {source.get('REGION')!r} is not a valid region")
    return source


def ssm_client(source: dict[str, str], settings: Settings):
    kwargs = {
        "region_name": source["REGION"],
        "config": Config(
            connect_timeout=settings.timeout,
            read_timeout=settings.timeout,
            retries={"max_attempts": 2, "mode": "standard"},
        ),
    }
    if source.get("ENDPOINT_URL"):
        # Emulator only (tests): explicit endpoint and, when given, its dummy credentials.
        kwargs["endpoint_url"] = source["ENDPOINT_URL"]
        if source.get("AWS_ACCESS_KEY_ID"):
            kwargs["aws_access_key_id"] = source["AWS_ACCESS_KEY_ID"]
            kwargs["aws_secret_access_key"] = source.get("AWS_SECRET_ACCESS_KEY", "")
    return boto3.client("ssm", **kwargs)


def parameter_key(name: str, path: str) -> str:
    """'/arena/prod/api/redis_host' below '/arena/prod/api/' -> 'REDIS_HOST'."""
    key = re.sub(r"[/.-]", "_", name[len(path) :]).upper()
    if not KEY_RE.fullmatch(key):
        raise FetchError(f"parameter {name} does not map to a valid key (got {key!r})")
    return key


def fetch_tier(client, path: str) -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        paginator = client.get_paginator("get_parameters_by_path")
        for page in paginator.paginate(Path=path, Recursive=True, WithDecryption=True):
            for parameter in page.get("Parameters", []):
                values[parameter_key(parameter["Name"], path)] = parameter["Value"]
    except (BotoCoreError, ClientError) as exc:
        raise FetchError(f"GetParametersByPath {path}: {exc}") from exc
    return values


def render_env(values: dict[str, str], origin: str) -> str:
    """systemd EnvironmentFile lines; values double-quoted (with \\ and \" escaped) when needed."""
    lines = [f"# Written at boot by arena-runtime-config from {origin}. Do not edit."]
    for key in sorted(values):
        value = values[key]
        if any(c in value for c in "\n\r\0"):
            raise FetchError(f"{origin}: value of {key} contains a line break or NUL")
        if not SAFE_VALUE_RE.fullmatch(value):
            value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        lines.append(f"{key}={value}")
    return "\n".join(lines) + "\n"


def write_private(path: Path, text: str, group: str) -> None:
    """Atomically write a root-owned file: 0640 root:<group>, or 0600 when the group is root."""
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError as exc:
        raise ConfigError(f"group {group!r} for {path} does not exist") from exc
    mode = 0o600 if gid == 0 else 0o640
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        os.fchown(fd, 0, gid)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def attempt(settings: Settings) -> dict[str, str]:
    """One full try: resolve the source, fetch and check every tier. Returns rendered files."""
    source = resolve_source(settings)
    client = ssm_client(source, settings)
    rendered: dict[str, str] = {}
    for tier in settings.tiers:
        path = f"{settings.prefix.rstrip('/')}/{source['ENVIRONMENT']}/{tier.name}/"
        values = fetch_tier(client, path)
        missing = sorted(set(tier.required_keys) - set(values))
        if missing:
            raise FetchError(f"{path}: missing required parameters for keys {', '.join(missing)}")
        rendered[tier.name] = render_env(values, path)
        log(f"{path}: {len(values)} parameters ({', '.join(sorted(values))})")
    return rendered


def clear(settings: Settings) -> None:
    Path(settings.ready_file).unlink(missing_ok=True)
    for tier in settings.tiers:
        Path(settings.output_dir, f"{tier.name}.env").unlink(missing_ok=True)


def run(settings: Settings) -> int:
    delay = settings.delay
    for number in range(1, settings.attempts + 1):
        try:
            rendered = attempt(settings)
        except FetchError as exc:
            log(f"attempt {number}/{settings.attempts} failed: {exc}")
            if number == settings.attempts:
                break
            time.sleep(delay)
            delay = min(delay * 2, settings.max_delay)
            continue
        for tier in settings.tiers:
            write_private(Path(settings.output_dir, f"{tier.name}.env"), rendered[tier.name], tier.group)
        ready = Path(settings.ready_file)
        ready.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        ready.write_text(" ".join(t.name for t in settings.tiers) + "\n", encoding="utf-8")
        ready.chmod(0o644)
        log(f"runtime configuration written for {', '.join(t.name for t in settings.tiers)}")
        return 0
    clear(settings)
    log("giving up: tier env files and the ready marker removed, the tier stays unhealthy")
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG, help=f"settings JSON (default {DEFAULT_CONFIG})")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        log(f"configuration error: {exc}")
        return 2
    try:
        return run(settings)
    except ConfigError as exc:
        clear(settings)
        log(f"configuration error: {exc}; tier env files and the ready marker removed")
        return 2


if __name__ == "__main__":
    sys.exit(main())
