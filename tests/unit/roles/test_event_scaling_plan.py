"""What playbooks/event_scaling.yml plans, without an AWS call: warm pool sizes and the load
balancer capacity reservation ahead of the largest events.

The emulator has no capacity-reservation API, so the integration test runs with the reservation
switched off; here the plan's report (`--tags event_scaling_validate`: the guard, validation and
planning only) is read for reservations computed by hand. The module that applies them is tested
with botocore's Stubber (tests/unit/library/test_arena_alb_capacity_reservation.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from arena_testlib import REPO_ROOT, base_env, run
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


def plan(tmp_path: Path, endpoint: str, calendar: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    varfile = tmp_path / "vars.json"
    varfile.write_text(
        json.dumps(
            {
                "arena_events": calendar,
                "arena_capacity_model": PRODUCTION_MODEL,
                "event_scaling_alb_reservation_enabled": True,
                "event_scaling_now": NOW,
                **extra,
            }
        )
    )
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
    cmd = ["ansible-playbook", "-i", "inventories/local", "playbooks/event_scaling.yml", "-e", f"@{varfile}"]
    result = run([*cmd, "--tags", "event_scaling_validate"], env, timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report, _ = json.JSONDecoder().raw_decode(result.stdout[result.stdout.index("{") :])
    tasks = report["plays"][0]["tasks"]
    assert not any(t["hosts"]["localhost"].get("changed") for t in tasks)
    actions = {t["hosts"]["localhost"].get("action") for t in tasks}
    assert not any(a.startswith(("amazon.aws.", "community.aws.", "arena_")) for a in actions), actions
    return next(t for t in tasks if t["task"]["name"].endswith("Plan | Report the plan"))["hosts"]["localhost"]["msg"]


# LCU = ceil(max(viewers / 3000, viewers x requests per viewer per minute / 60 / 25));
# production: web 1.5, api 4 requests per viewer per minute; reservation for >= 20000 viewers
# within 36 h (or running, 30 min tail included).
@pytest.mark.parametrize(
    ("calendar", "events", "units"),
    [
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
    ],
)
def test_reservation_ahead_of_the_largest_events(
    tmp_path: Path, endpoint: str, calendar: list[dict[str, Any]], events: list[str], units: dict[str, int]
) -> None:
    report = plan(tmp_path, endpoint, calendar)
    assert report["reservation_events"] == events
    assert report["reservation_units"] == units


def test_warm_pool_prepares_the_largest_upcoming_floor(tmp_path: Path, endpoint: str) -> None:
    # web = ceil(viewers x 1.5 / 4200), api = ceil(viewers x 4 / 8400); baseline 2.
    calendar = [
        event("Past", "2031-05-19T18:00", 78000, past=True),
        event("Next", "2031-05-25T18:00", 30000),
        event("Final", "2031-06-01T18:00", 60000),
    ]
    report = plan(tmp_path, endpoint, calendar)
    assert report["warm_pool_prepared_capacity"] == {"web": 22, "api": 29}
    assert report["upcoming_actions"] == {"web": 4, "api": 4}
    assert plan(tmp_path, endpoint, calendar[:1])["warm_pool_prepared_capacity"] == {"web": 2, "api": 2}
