"""scripts/test.sh, `make test`'s driver: the lab's container images (make base-image deps-image) build
beside the stages that need only .venv, the stages that boot containers (images, molecule) start only
once they are built, and a failed image build fails the run without starting them.

`make` is replaced by a stand-in on PATH that records when each call starts and ends."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FAKE_MAKE = """#!/usr/bin/env bash
# Stand-in for make: records "start|end <targets>" and takes a while for the image build.
args=()
for a in "$@"; do [[ "$a" == --no-print-directory ]] || args+=("$a"); done
targets="${args[*]}"
echo "start ${targets}" >> "$CALLS"
case "$targets" in
  "base-image deps-image") sleep 1.5; [[ -z "${FAIL_IMAGES:-}" ]] || { echo "end ${targets}" >> "$CALLS"; exit 2; } ;;
  *) sleep 0.3 ;;
esac
echo "end ${targets}" >> "$CALLS"
"""


def run_test_sh(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    make = bin_dir / "make"
    make.write_text(FAKE_MAKE)
    make.chmod(0o755)
    calls = tmp_path / "calls"
    result = subprocess.run(
        ["bash", str(ROOT / "scripts/test.sh")],
        env={
            **os.environ,
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "CALLS": str(calls),
            "ARENA_LAB_DIR": str(tmp_path / "lab"),
            "ARENA_TEST_STAGES": "images,unit,molecule",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result, calls.read_text().splitlines() if calls.exists() else []


def test_container_stages_wait_for_the_images_and_the_others_do_not(tmp_path: Path) -> None:
    result, calls = run_test_sh(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    built = calls.index("end base-image deps-image")
    assert calls.index("start unit") < built, calls  # beside the image build
    assert calls.index("start images") > built, calls
    assert calls.index("start molecule") > built, calls
    assert calls.count("start base-image deps-image") == 1, calls
    assert "lab-images passed" in " ".join(result.stdout.split()), result.stdout


def test_a_failed_image_build_fails_the_run_and_starts_no_container_stage(tmp_path: Path) -> None:
    result, calls = run_test_sh(tmp_path, FAIL_IMAGES="1")
    assert result.returncode != 0
    assert "start unit" in calls and "end unit" in calls, calls
    assert "start images" not in calls and "start molecule" not in calls, calls
    assert "the lab's container images were not built" in result.stdout, result.stdout
    assert "lab-images FAILED" in " ".join(result.stdout.split()), result.stdout
