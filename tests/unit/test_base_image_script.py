"""scripts/base-image.sh refuses bad releases before doing anything."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(os.geteuid() != 0, reason="the script needs root")
@pytest.mark.parametrize(
    ("release", "message"),
    [
        ("Bookworm!", "DEBIAN_RELEASE must be a Debian codename such as bookworm or trixie, got 'Bookworm!'"),
        ("narnia", "debootstrap does not know release 'narnia'"),
    ],
)
def test_bad_release_is_refused(release: str, message: str) -> None:
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "base-image.sh"), release],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 1
    assert message in result.stderr
