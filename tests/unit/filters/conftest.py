"""Load the repo's filter plugins the way arena_schedule loads its siblings (one module object each)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]
FILTERS = ROOT / "filter_plugins"


def load_filter(stem: str) -> ModuleType:
    name = f"_arena_filters_{stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, FILTERS / f"{stem}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def calendar() -> ModuleType:
    return load_filter("arena_calendar")


@pytest.fixture(scope="session")
def capacity() -> ModuleType:
    return load_filter("arena_capacity")


@pytest.fixture(scope="session")
def schedule() -> ModuleType:
    return load_filter("arena_schedule")


@pytest.fixture(scope="session")
def scaling_rules() -> ModuleType:
    return load_filter("arena_scaling_rules")
