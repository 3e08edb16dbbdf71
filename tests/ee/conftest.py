"""The in-image suite: the real playbooks run inside the execution environment (tests/arena_ee.py).

test_ee_platform.py is a platform's life (create, read-backs, re-runs, event scaling, the dynamic
inventory, the interrupted teardown finished by the next), the one the platform suite's steps and
readers describe (tests/integration/platform/platform_lab.py, on the import path here): with
ARENA_EE_IMAGE set, platform_lab runs every playbook in the image. The image is built here when
`make ee-test` did not name it (scripts/ee.sh: seconds when it is up to date). Run through
`make ee-test` (scripts/with-emulator.sh, lab dir .lab/ee)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import arena_ee
import pytest
from arena_testlib import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tests" / "integration" / "platform"))
# The platform suite's fixtures (importable once its directory is on the path, above).
from platform_lab import aws, created, vpc

__all__ = ["aws", "created", "image", "vpc"]


@pytest.fixture(scope="session", autouse=True)
def image() -> Iterator[str]:
    """The execution environment every playbook of the suite runs in."""
    named = os.environ.get(arena_ee.IMAGE_VAR)
    if not named:
        result = subprocess.run(
            ["bash", str(REPO_ROOT / "scripts" / "ee.sh")], capture_output=True, text=True, timeout=1200, check=False
        )
        assert result.returncode == 0, result.stderr[-3000:]
        os.environ[arena_ee.IMAGE_VAR] = result.stdout.strip().splitlines()[-1]
    yield os.environ[arena_ee.IMAGE_VAR]
    if not named:
        del os.environ[arena_ee.IMAGE_VAR]
