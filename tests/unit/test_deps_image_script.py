"""scripts/deps-image.sh: the package layer image's name follows its recipe; bad input is refused."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "deps-image.sh"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_bad_release_is_refused() -> None:
    result = _run("--name", "Bookworm!")
    assert result.returncode == 1
    assert "DEBIAN_RELEASE must be a Debian codename such as bookworm or trixie, got 'Bookworm!'" in result.stderr


def _base_image_present() -> bool:
    podman = shutil.which("podman")
    if not podman:
        return False
    exists = subprocess.run([podman, "image", "exists", "localhost/arena-base:bookworm"], check=False)
    return exists.returncode == 0


@pytest.mark.skipif(not _base_image_present(), reason="needs the base image (make base-image)")
def test_name_is_release_and_recipe_hash() -> None:
    result = _run("--name", "bookworm", env={"DEPS_IMAGE_NAME": "localhost/arena-deps-test"})
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"localhost/arena-deps-test:bookworm-[0-9a-f]{12}\n", result.stdout)


@pytest.mark.skipif(not _base_image_present(), reason="needs the base image (make base-image)")
def test_missing_base_image_is_named() -> None:
    result = _run("--name", "sid")
    assert result.returncode == 1
    assert "no base image localhost/arena-base:sid: run make base-image first" in result.stderr
