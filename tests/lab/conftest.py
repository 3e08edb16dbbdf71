"""Fixtures of the image gate's lab tests (tests/lab; helpers in lab_instances.py)."""

from __future__ import annotations

from typing import Any

import pytest
from lab_instances import launched_instances


@pytest.fixture(scope="session")
def instances() -> dict[str, dict[str, Any]]:
    found = launched_instances()
    if not found:
        pytest.skip("runs in the image gate's lab (scripts/gate.sh sets ARENA_GATE_LAUNCHED)")
    return found
