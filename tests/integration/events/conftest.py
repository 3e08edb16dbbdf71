"""Fixtures of the event-scaling integration test: the emulator and the platform's groups."""

from __future__ import annotations

from collections.abc import Iterator

import events_fixtures  # this directory is on sys.path (pytest's rootdir-relative conftest import)
import pytest
from arena_testlib import reset_emulator

# reset_emulator: the groups' names are the platform's, so each fixture starts and leaves it clean.


@pytest.fixture(scope="module")
def endpoint() -> str:
    return events_fixtures.require_emulator()


@pytest.fixture(scope="module")
def groups(endpoint: str) -> Iterator[list[str]]:
    """The platform's groups: each with a mixed instances policy and Spot (as platform_autoscaling makes them)."""
    reset_emulator(endpoint)
    names = events_fixtures.create_groups()
    yield names
    events_fixtures.delete_groups()
    reset_emulator(endpoint)


@pytest.fixture(scope="module")
def on_demand_groups(endpoint: str) -> Iterator[list[str]]:
    """The same groups as the design a warm pool needs: on-demand, with a launch lifecycle hook."""
    reset_emulator(endpoint)
    names = events_fixtures.create_groups(mixed=False)
    yield names
    events_fixtures.delete_groups()
    reset_emulator(endpoint)
