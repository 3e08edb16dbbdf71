"""The repo's filter plugins, loaded as arena_schedule loads its siblings (one module object each)."""

from __future__ import annotations

from types import ModuleType

import pytest
from arena_loader import filter_plugin as load_filter


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


@pytest.fixture(scope="session")
def rules() -> ModuleType:
    """filter_plugins/arena_event_rules.py (the modules that state the same rules are checked against it)."""
    return load_filter("arena_event_rules")
