"""Helpers shared by arena-infra's unit and integration tests (importable: pytest.ini adds tests/)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = REPO_ROOT / ".venv" / "bin"

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
            "ANSIBLE_FORCE_COLOR": "0",
            "NO_COLOR": "1",
            "ANSIBLE_NOCOLOR": "1",
            "HTTP_PROXY": "http://127.0.0.1:9",
            "HTTPS_PROXY": "http://127.0.0.1:9",
            "NO_PROXY": "127.0.0.1,localhost,::1",
            # Isolate from any credentials file in the caller's home.
            "AWS_CONFIG_FILE": env.get("AWS_CONFIG_FILE", "/nonexistent/arena-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": env.get("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/arena-aws-credentials"),
        }
    )
    if extra:
        env.update(extra)
    return env


def run(cmd: list[str], env: Mapping[str, str], timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """Run a command from the repository root and capture its output."""
    return subprocess.run(
        cmd, cwd=REPO_ROOT, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
    )
