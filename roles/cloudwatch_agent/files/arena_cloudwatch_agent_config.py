#!/usr/bin/python3
"""arena-cloudwatch-agent-config: the CloudWatch agent's configuration, rendered at boot.

The image bakes the agent's JSON configuration of its tier as a template (roles/cloudwatch_agent)
whose environment-specific values are placeholders, @KEY@ in JSON strings. At every boot, after
arena-runtime-config.service has written the monitoring settings from SSM into an env file (systemd
EnvironmentFile syntax), this program fills them in and writes the agent's configuration:

  LOG_GROUP_PREFIX          <log group root>/<environment>, e.g. /arena/staging: the agent writes
                            <prefix>/<tier>/<log name>, the only log groups the instance role may write
  METRICS_NAMESPACE         e.g. Arena/Instances, the only namespace the instance role may publish to
  METRICS_INTERVAL_SECONDS  e.g. 60: how often the agent collects its metrics

A string that is one placeholder only ("@METRICS_INTERVAL_SECONDS@") becomes the value itself
(an integer for the interval); inside a longer string the value is substituted as text. The
template's "comment" key (the managed-by marker) is left out of the output.

Strict: a missing settings file, a missing key or a bad value is refused with a message naming it
(stderr: the journal of the unit), the previously rendered file is removed (no configuration from an
earlier boot survives a refusal) and the program exits 1, so the unit fails and the agent, which
requires the unit, is not started. The output is written atomically, mode 0640. Standard library only.

  arena-cloudwatch-agent-config --template T --settings S --output O --log-group-root /arena
  arena-cloudwatch-agent-config --check-template T      (the bake's check of the baked template)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

PROGRAM = "arena-cloudwatch-agent-config"
REQUIRED_KEYS = ("LOG_GROUP_PREFIX", "METRICS_NAMESPACE", "METRICS_INTERVAL_SECONDS")
PLACEHOLDER = re.compile(r"@([A-Z][A-Z0-9_]*)@")
ENV_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
ENVIRONMENT = re.compile(r"[a-z0-9][a-z0-9-]*")
# CloudWatch Logs log group names: 1-512 characters of a-z A-Z 0-9 _ - / . #
# (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html).
LOG_GROUP_NAME = re.compile(r"[A-Za-z0-9_./#-]{1,512}")
# PutMetricData's Namespace: 1-255 characters, not beginning with ":" nor with "AWS/" (reserved for
# AWS services; https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html).
NAMESPACE = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,254}")
# Collection intervals a CloudWatch alarm can evaluate: high resolution 1, 5, 10 or 30 s, else whole
# minutes (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/publishingMetrics.html);
# the agent's schema allows at most 172800 s.
HIGH_RESOLUTION = (1, 5, 10, 30)
MAX_INTERVAL = 172800
OUTPUT_MODE = 0o640


class Refused(Exception):
    """The settings or the template cannot give a valid agent configuration."""


def log(message: str) -> None:
    print(f"{PROGRAM}: {message}", file=sys.stderr, flush=True)


def parse_env(text: str, origin: str) -> dict[str, str]:
    """systemd EnvironmentFile lines as arena-runtime-config writes them: KEY=value, the value bare
    or double-quoted with \\ and \" escaped; blank lines and # comments ignored."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = ENV_LINE.match(stripped)
        if not match:
            raise Refused(f"{origin}:{number}: not a KEY=value line")
        key, value = match[1], match[2]
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        if key in values:
            raise Refused(f"{origin}:{number}: {key} is set twice")
        values[key] = value
    return values


def read_settings(path: str) -> dict[str, str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise Refused(
            f"cannot read the monitoring settings {path} ({exc.strerror or exc}); arena-runtime-config.service "
            "writes them at boot from SSM <prefix>/<environment>/monitoring/"
        ) from exc
    return parse_env(text, path)


def check_settings(values: dict[str, str], origin: str, log_group_root: str) -> dict[str, Any]:
    """The three settings, checked; the interval as an int. Raises Refused naming the first bad key."""
    missing = [key for key in REQUIRED_KEYS if not values.get(key)]
    if missing:
        raise Refused(
            f"{origin}: missing {', '.join(missing)} (SSM parameters under <prefix>/<environment>/monitoring/)"
        )
    prefix = values["LOG_GROUP_PREFIX"]
    root = log_group_root.rstrip("/")
    environment = prefix[len(root) + 1 :] if prefix.startswith(root + "/") else ""
    if not ENVIRONMENT.fullmatch(environment):
        raise Refused(
            f"{origin}: LOG_GROUP_PREFIX must be {root}/<environment> (e.g. {root}/staging; the instance role "
            f"may write only the log groups below it), got {prefix!r}"
        )
    namespace = values["METRICS_NAMESPACE"]
    if not NAMESPACE.fullmatch(namespace) or namespace.startswith((":", "AWS/")):
        raise Refused(
            f"{origin}: METRICS_NAMESPACE must be 1-255 printable ASCII characters, not beginning with ':' "
            f"or 'AWS/', got {namespace!r}"
        )
    text = values["METRICS_INTERVAL_SECONDS"]
    interval = int(text) if text.isascii() and text.isdigit() else 0
    if not (interval in HIGH_RESOLUTION or (interval % 60 == 0 and 0 < interval <= MAX_INTERVAL)):
        raise Refused(
            f"{origin}: METRICS_INTERVAL_SECONDS must be 1, 5, 10, 30 or a multiple of 60 up to {MAX_INTERVAL} "
            f"(seconds), got {text!r}"
        )
    return {"LOG_GROUP_PREFIX": prefix, "METRICS_NAMESPACE": namespace, "METRICS_INTERVAL_SECONDS": interval}


def substitute(node: Any, settings: dict[str, Any], where: str = "") -> Any:
    """The template with every @KEY@ replaced; an unknown placeholder is refused."""
    if isinstance(node, dict):
        return {k: substitute(v, settings, f"{where}.{k}") for k, v in node.items()}
    if isinstance(node, list):
        return [substitute(v, settings, f"{where}[{i}]") for i, v in enumerate(node)]
    if not isinstance(node, str):
        return node
    unknown = sorted({m for m in PLACEHOLDER.findall(node) if m not in settings})
    if unknown:
        raise Refused(f"template {where or '.'}: unknown placeholder(s) {', '.join('@' + u + '@' for u in unknown)}")
    whole = PLACEHOLDER.fullmatch(node)
    if whole:
        return settings[whole[1]]
    return PLACEHOLDER.sub(lambda m: str(settings[m[1]]), node)


def log_group_names(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["log_group_name"]] if isinstance(node.get("log_group_name"), str) else []
        return own + [n for k, v in node.items() if k != "log_group_name" for n in log_group_names(v)]
    if isinstance(node, list):
        return [n for v in node for n in log_group_names(v)]
    return []


def load_template(path: str) -> dict[str, Any]:
    try:
        template = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise Refused(f"cannot read the template {path}: {exc}") from exc
    if not isinstance(template, dict):
        raise Refused(f"template {path}: not a JSON object")
    template.pop("comment", None)  # the managed-by marker: not a key of the agent's schema
    return template


def render(template: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    config = substitute(template, settings)
    bad = [name for name in log_group_names(config) if not LOG_GROUP_NAME.fullmatch(name)]
    if bad:
        raise Refused(f"log group name(s) {bad} are not valid CloudWatch Logs names (1-512 of A-Za-z0-9_./#-)")
    return config


def check_template(path: str) -> None:
    """The bake's check: valid JSON, every placeholder one of REQUIRED_KEYS, and a sample renders."""
    sample = {"LOG_GROUP_PREFIX": "/check/sample", "METRICS_NAMESPACE": "Check/Sample", "METRICS_INTERVAL_SECONDS": 60}
    render(load_template(path), sample)


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same directory, mode 0640."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, OUTPUT_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run(template_path: str, settings_path: str, output: str, log_group_root: str) -> None:
    values = read_settings(settings_path)
    settings = check_settings(values, settings_path, log_group_root)
    config = render(load_template(template_path), settings)
    write_atomically(Path(output), json.dumps(config, indent=2, sort_keys=True) + "\n")
    groups = sorted(log_group_names(config))
    log(
        f"{output} written: logs to {', '.join(groups)}; metrics to {settings['METRICS_NAMESPACE']} "
        f"every {settings['METRICS_INTERVAL_SECONDS']} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROGRAM, description=(__doc__ or PROGRAM).splitlines()[0])
    parser.add_argument("--check-template", metavar="FILE", help="only check a template (bake time) and exit")
    parser.add_argument("--template", help="the baked template (JSON with @KEY@ placeholders)")
    parser.add_argument("--settings", help="the monitoring env file written by arena-runtime-config")
    parser.add_argument("--output", help="the agent configuration to write (mode 0640, atomically)")
    parser.add_argument("--log-group-root", help="the root every LOG_GROUP_PREFIX must be below, e.g. /arena")
    args = parser.parse_args(argv)
    if args.check_template:
        try:
            check_template(args.check_template)
        except Refused as exc:
            log(str(exc))
            return 1
        return 0
    if not (args.template and args.settings and args.output and args.log_group_root):
        parser.error("--template, --settings, --output and --log-group-root are required")
    try:
        run(args.template, args.settings, args.output, args.log_group_root)
    except Refused as exc:
        Path(args.output).unlink(missing_ok=True)
        log(f"{exc}; {args.output} removed, the CloudWatch agent is not started")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
