"""What playbooks/event_scaling.yml plans, without an AWS call: warm pool sizes and the load
balancer capacity reservation ahead of the largest events.

The emulator has no capacity-reservation API, so the integration test runs with the reservation
switched off; here the plan's report (`--tags event_scaling_validate`: the guard, validation and
planning only) is read for reservations computed by hand: one run of the playbook's play for every
calendar of this file, each its own inventory host over the local inventory's group_vars. The
module that applies them is tested with botocore's Stubber (tests/unit/library/test_arena_alb_capacity_reservation.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from arena_testlib import REPO_ROOT, CasesRun, base_env, cases_run, playbook_play
from event_scaling_endpoint import refusing_endpoint  # this directory is on sys.path (pytest's rootdir-relative import)

PRODUCTION_MODEL = yaml.safe_load((REPO_ROOT / "inventories/production/group_vars/all/capacity.yml").read_text())[
    "arena_capacity_model"
]
NOW = "2031-05-20T12:00:00Z"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A loopback endpoint that answers no AWS call (event_scaling_endpoint.py)."""
    with refusing_endpoint() as url:
        yield url


def event(name: str, start: str, viewers: int, minutes: int = 120, **marks: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "basketball",
        "start": start,
        "timezone": "UTC",
        "duration_minutes": minutes,
        "peak_viewers": viewers,
        **marks,
    }


def variables(calendar: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "arena_events": calendar,
        "arena_capacity_model": PRODUCTION_MODEL,
        "event_scaling_alb_reservation_enabled": True,
        "event_scaling_now": NOW,
    }


def plan(run: CasesRun, calendar: list[dict[str, Any]]) -> dict[str, Any]:
    """The plan's report for a calendar; the case ran without a failure, a change or an AWS module."""
    case = variables(calendar)
    tasks = run.tasks(case)
    assert run.stats(case)["failures"] == 0, [(name, r.get("msg")) for name, r in tasks if r.get("failed")]
    assert not any(result.get("changed") for _, result in tasks)
    actions = {result.get("action") or "" for _, result in tasks}
    assert not any(a.startswith(("amazon.aws.", "community.aws.", "arena_")) for a in actions), actions
    return next(result for name, result in tasks if name.endswith("Plan | Report the plan"))["msg"]


# LCU = ceil(max(viewers / 3000, viewers x requests per viewer per minute / 60 / 25));
# production: web 1.5, api 4 requests per viewer per minute; reservation for >= 20000 viewers
# within 36 h (or running, 30 min tail included).
RESERVATIONS = [
    pytest.param(
        [event("Near", "2031-05-21T18:00", 30000), event("Later, bigger", "2031-05-23T18:00", 78000)],
        ["Near"],
        {"web": 30, "api": 80},  # web: max(10, 30), api: max(10, 80)
        id="largest-within-horizon-only",
    ),
    pytest.param(
        [event("Small", "2031-05-20T20:00", 19999), event("Big", "2031-05-21T20:00", 40000)],
        ["Big"],
        {"web": 40, "api": 107},  # api: 40000 x 4 / 60 / 25 = 106.7
        id="small-events-reserve-nothing",
    ),
    pytest.param(
        [event("Running", "2031-05-20T10:30", 36000, minutes=75)],  # ends 11:45, tail until 12:15
        ["Running"],
        {"web": 36, "api": 96},
        id="running-event-within-its-tail",
    ),
    pytest.param(
        # ends 11:30, tail over at 12:00; an event that is over must be marked (issue 14)
        [event("Over", "2031-05-20T10:00", 36000, minutes=90, past=True)],
        [],
        {"web": 0, "api": 0},
        id="ended-event-resets",
    ),
    pytest.param([], [], {"web": 0, "api": 0}, id="empty-calendar-resets"),
]
# web = ceil(viewers x 1.5 / 4200), api = ceil(viewers x 4 / 8400); baseline 2.
WARM_POOL_CALENDAR = [
    event("Past", "2031-05-19T18:00", 78000, past=True),
    event("Next", "2031-05-25T18:00", 30000),
    event("Final", "2031-06-01T18:00", 60000),
]


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory, endpoint: str) -> CasesRun:
    env = base_env(
        {
            "AWS_URL": endpoint,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": "eu-west-1",
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        },
        keep_aws=False,
    )
    calendars = [case.values[0] for case in RESERVATIONS] + [WARM_POOL_CALENDAR, WARM_POOL_CALENDAR[:1]]
    return cases_run(
        tmp_path_factory.mktemp("event_scaling_plan"),
        [playbook_play("playbooks/event_scaling.yml")],
        [variables(calendar) for calendar in calendars],
        env=env,
        group_vars=tuple(sorted((REPO_ROOT / "inventories/local/group_vars/all").glob("*.yml"))),
        check=False,
        args=("--tags", "event_scaling_validate"),
    )


@pytest.mark.parametrize(("calendar", "events", "units"), RESERVATIONS)
def test_reservation_ahead_of_the_largest_events(
    plans: CasesRun, calendar: list[dict[str, Any]], events: list[str], units: dict[str, int]
) -> None:
    report = plan(plans, calendar)
    assert report["reservation_events"] == events
    assert report["reservation_units"] == units


def test_warm_pool_prepares_the_largest_upcoming_floor(plans: CasesRun) -> None:
    report = plan(plans, WARM_POOL_CALENDAR)
    assert report["warm_pool_prepared_capacity"] == {"web": 22, "api": 29}
    assert report["upcoming_actions"] == {"web": 4, "api": 4}
    assert plan(plans, WARM_POOL_CALENDAR[:1])["warm_pool_prepared_capacity"] == {"web": 2, "api": 2}
