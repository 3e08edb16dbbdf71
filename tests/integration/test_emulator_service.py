"""scripts/emulator.sh manages moto server as a local service: free port, pid file, readiness,
idempotent up, reset, down leaves nothing running."""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path

from arena_testlib import REPO_ROOT, base_env

SCRIPT = str(REPO_ROOT / "scripts" / "emulator.sh")


def emulator(lab: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = base_env({"ARENA_LAB_DIR": str(lab)}, keep_aws=False)
    return subprocess.run(["bash", SCRIPT, *args], env=env, capture_output=True, text=True, timeout=60, check=False)


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def read_env(lab: Path) -> dict[str, str]:
    pairs = {}
    for line in (lab / "emulator.env").read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            pairs[key] = value
    return pairs


def test_lifecycle(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    up = emulator(lab, "up")
    assert up.returncode == 0, up.stderr
    pid = int((lab / "emulator.pid").read_text())
    env = read_env(lab)
    url = env["AWS_URL"]
    try:
        assert url.startswith("http://127.0.0.1:")
        assert env["AWS_ENDPOINT_URL"] == url
        assert env["AWS_ACCESS_KEY_ID"] == "testing" and env["AWS_REGION"]
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=5) as answer:  # ready when `up` returns
            assert answer.status == 200

        again = emulator(lab, "up")
        assert again.returncode == 0
        assert "already running" in again.stderr
        assert int((lab / "emulator.pid").read_text()) == pid

        status = emulator(lab, "status")
        assert status.returncode == 0 and url in status.stdout
        assert emulator(lab, "reset").returncode == 0
    finally:
        down = emulator(lab, "down")
    assert down.returncode == 0
    assert not (lab / "emulator.pid").exists() and not (lab / "emulator.env").exists()
    assert not alive(pid)
    stopped = emulator(lab, "status")
    assert stopped.returncode == 3 and "stopped" in stopped.stdout


def test_two_instances_get_different_ports(tmp_path: Path) -> None:
    labs = [tmp_path / "a", tmp_path / "b"]
    try:
        for lab in labs:
            assert emulator(lab, "up").returncode == 0
        urls = {read_env(lab)["AWS_URL"] for lab in labs}
        assert len(urls) == 2
    finally:
        for lab in labs:
            emulator(lab, "down")


def test_down_when_not_running_is_harmless(tmp_path: Path) -> None:
    result = emulator(tmp_path / "never", "down")
    assert result.returncode == 0
    assert "not running" in result.stderr
    assert not (tmp_path / "never" / "emulator.pid").exists()
