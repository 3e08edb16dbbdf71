"""Helpers of the image gate's lab tests (tests/lab, run by scripts/gate.sh against the instances it
launched from the platform in its emulator): the launched instances, commands on them, HTTP through
the published target port, and the tier files. Without ARENA_GATE_LAUNCHED nothing is launched."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
# Each instance serves TLS with its own self-signed pair; the ALB does not verify targets either.
_TLS = ssl.create_default_context()
_TLS.check_hostname = False
_TLS.verify_mode = ssl.CERT_NONE


def launched_instances() -> dict[str, dict[str, Any]]:
    """Tier -> what scripts/lab/launch.py up --json wrote for its instance (the gate's launch)."""
    path = os.environ.get("ARENA_GATE_LAUNCHED", "")
    if not path:
        return {}
    return {node["tier"]: node for node in json.loads(Path(path).read_text())}


def tier_file(tier: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "packer" / "tiers" / f"{tier}.yml").read_text())


def on_node(container: str, script: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """A shell command on the instance (podman exec), as root."""
    return subprocess.run(
        ["podman", "exec", container, "sh", "-c", script], capture_output=True, text=True, check=check, timeout=120
    )


def call(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, str]:
    """(status, body) of one request from the host to a published port of an instance."""
    data = b"" if method == "POST" else None
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(request, timeout=10, context=_TLS) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")
