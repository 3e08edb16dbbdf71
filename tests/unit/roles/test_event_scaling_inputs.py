"""playbooks/event_scaling.yml refuses bad input before any AWS call.

One run of the real playbook's play for every case of this file: each case is its own inventory host
(the local inventory's group_vars, then the case's bad variable), the play `hosts: all`. The AWS
endpoint is a loopback port that closes every connection (an API call could not succeed anyway;
aws_guard's probe finds it open) and the run is in --check; each test asserts on its own host the
exact message, that it comes from the role's validation, that no AWS module ran and that nothing
changed.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import yaml
from arena_testlib import REPO_ROOT, CasesRun, cases_run, loopback_env, playbook_play
from event_scaling_endpoint import refusing_endpoint  # this directory is on sys.path (pytest's rootdir-relative import)

PLAYBOOK = "playbooks/event_scaling.yml"
GROUP_VARS = REPO_ROOT / "inventories" / "local" / "group_vars" / "all"
MODEL = yaml.safe_load((GROUP_VARS / "capacity.yml").read_text())["arena_capacity_model"]
GAME = {
    "name": "G",
    "kind": "basketball",
    "start": "2031-01-15T20:45",
    "timezone": "Europe/Madrid",
    "duration_minutes": 120,
    "peak_viewers": 5000,
}
PLAN = "event_scaling_events / event_scaling_capacity_model: arena_scaling_schedule: "
# Actions of the guard and of the validation; any other action would be an AWS call or a change.
LOCAL_ACTIONS = {
    "ansible.builtin.set_fact",
    "ansible.builtin.assert",
    "ansible.builtin.fail",
    "ansible.builtin.debug",
    "ansible.builtin.wait_for",  # aws_guard's TCP probe of the emulator: a connect, no AWS call
    "ansible.builtin.validate_argument_spec",
    "validate_argument_spec",
}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A loopback endpoint that answers no AWS call (event_scaling_endpoint.py)."""
    with refusing_endpoint() as url:
        yield url


def events(*changes: dict[str, Any], drop: tuple[str, ...] = ()) -> dict[str, Any]:
    listed = []
    for change in changes:
        event = {key: value for key, value in GAME.items() if key not in drop}
        listed.append(event | change)
    return {"arena_events": listed}


def model(**tiers: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(MODEL)
    for tier, values in tiers.items():
        changed["tiers"][tier] = changed["tiers"].get(tier, changed["tiers"]["web"]) | values
    return {"arena_capacity_model": changed}


CASES = [
    pytest.param(
        events({}, {"start": "2031-01-15T21:00"}),
        PLAN + "event 'G' is listed twice with overlapping times: "
        "2031-01-15T19:45:00Z..2031-01-15T21:45:00Z and 2031-01-15T20:00:00Z..2031-01-15T22:00:00Z",
        id="overlapping-duplicate",
    ),
    pytest.param(
        events({"end": "2031-01-15T19:00"}, drop=("duration_minutes",)),
        PLAN + "event 'G': end 2031-01-15T19:00 is not after start 2031-01-15T20:45 (Europe/Madrid)",
        id="end-before-start",
    ),
    pytest.param(
        events({"timezone": "Europe/Madird"}),
        PLAN + "event 'G': unknown time zone 'Europe/Madird'",
        id="unknown-time-zone",
    ),
    pytest.param(
        events({"peak_viewers": -3}),
        PLAN + "event 'G': peak_viewers must be a non-negative integer, got -3",
        id="negative-audience",
    ),
    pytest.param(
        events({"start": "2031-03-30T02:30"}),
        PLAN + "event 'G': start 2031-03-30T02:30 does not exist in Europe/Madrid (DST change)",
        id="start-in-dst-gap",
    ),
    pytest.param(
        model(cache={}),
        "event_scaling_capacity_model.tiers names tiers without a platform Auto Scaling group ['cache'] "
        "(known: web, api, admin).",
        id="unknown-tier",
    ),
    pytest.param(
        model(web={"min_size": 5, "max_size": 2}),
        PLAN + "tiers.web.max_size 2 is below min_size 5",
        id="min-above-max",
    ),
    pytest.param(
        events({"peak_viewers": 50000}),
        PLAN + "event 'G' needs 24 api instances for 50000 viewers, above max_size 6",
        id="event-above-max-size",
    ),
    pytest.param(
        {"event_scaling_now": "2031-01-01 00:00"},
        "event_scaling_now must be empty (the clock) or UTC like 2027-01-01T00:00:00Z, got '2031-01-01 00:00'.",
        id="malformed-now",
    ),
    # Issue 14: an event that is over (a mistyped year) was dropped silently; a past: true mark on one
    # that is not over would drop it too.
    pytest.param(
        events({"start": "2030-01-15T20:45"}) | {"event_scaling_now": "2031-01-01T00:00:00Z"},
        PLAN + "event 'G' (2030-01-15T20:45 Europe/Madrid, 2030-01-15T19:45:00Z..2030-01-15T21:45:00Z) is over: it"
        " ended before now 2031-01-01T00:00:00Z (end + 30 min tail). A mistyped date? Fix it, or mark the event"
        " past: true to keep it in the calendar (it is then skipped).",
        id="past-event",
    ),
    pytest.param(
        events({"past": True}) | {"event_scaling_now": "2031-01-01T00:00:00Z"},
        PLAN + "event 'G' (2031-01-15T20:45 Europe/Madrid, 2031-01-15T19:45:00Z..2031-01-15T21:45:00Z) is marked"
        " past: true but is not over at 2031-01-01T00:00:00Z (end + 30 min tail): remove the mark, or it would be"
        " dropped.",
        id="past-mark-on-an-upcoming-event",
    ),
    pytest.param(
        {"event_scaling_action_prefix": ""},
        "event_scaling_action_prefix must be letters, digits, '.', '_' or '-' (not at either end), got '': "
        "it scopes the scheduled actions this role may delete.",
        id="empty-action-prefix",
    ),
    pytest.param(
        {"event_scaling_warm_pool": {"min_size": -1}},
        "event_scaling_warm_pool.min_size must be >= 0, got -1.",
        id="negative-warm-pool",
    ),
    pytest.param(
        {"event_scaling_vcpu_quota_refuse_hours": 0},
        "event_scaling_vcpu_quota_refuse_hours must be at least 1 (hours ahead within which a step above an EC2 vCPU"
        " quota refuses the run), got 0.",
        id="no-quota-horizon",
    ),
    # AWS allows 125 scheduled actions per Auto Scaling group and does not raise it
    # (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-quotas.html); the emulator
    # stores more. 63 daily games: a step-up and a return to the baseline each, per tier.
    pytest.param(
        {
            "arena_events": [
                GAME | {"name": f"Day {day}", "start": f"{date.fromordinal(day):%Y-%m-%d}T20:45", "peak_viewers": 9000}
                for day in range(date(2031, 1, 15).toordinal(), date(2031, 1, 15).toordinal() + 63)
            ],
            "event_scaling_now": "2031-01-01T00:00:00Z",
        },
        [
            f"event_scaling_events: the plan puts 126 one-off scheduled actions on the {tier} tier's Auto Scaling"
            " group after 2031-01-01T00:00:00Z; AWS allows 125 scheduled actions per Auto Scaling group and does not"
            " raise that quota (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-quotas.html)."
            " Plan fewer events ahead (re-run the playbook as the season goes on)."
            for tier in ("api", "web")
        ],
        id="more-than-125-actions-per-group",
    ),
]
# Where bad input is refused: the validation, or the plan's own rules (still no API call).
REFUSING_TASKS = ("event_scaling : Validate | ", "event_scaling : Plan | Refuse ")


# The cases of the tests below that are not in CASES.
UNKNOWN_STATE = {"event_scaling_state": "gone"}
# A fixed clock before the local calendar's events: with the real one the test would fail once they
# are over (the role refuses unmarked past events).
LOCAL_CALENDAR = {"event_scaling_now": "2027-01-01T00:00:00Z"}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, endpoint: str) -> CasesRun:
    # Nowhere to go: a closed loopback port and dummy credentials.
    env = loopback_env(endpoint)
    cases = [case.values[0] for case in CASES] + [UNKNOWN_STATE, LOCAL_CALENDAR]
    # --check on top: even a wrong test could not change anything.
    return cases_run(
        tmp_path_factory.mktemp("event_scaling"),
        [playbook_play(PLAYBOOK)],
        cases,
        env=env,
        group_vars=tuple(sorted(GROUP_VARS.glob("*.yml"))),
    )


@pytest.mark.parametrize(("extra_vars", "message"), CASES)
def test_bad_input_refused_before_any_api_call(report: CasesRun, extra_vars: dict[str, Any], message: str) -> None:
    results = report.tasks(extra_vars)
    failed = [
        (name, item.get("msg", ""))
        for name, result in results
        for item in result.get("results", [result])
        if item.get("failed")
    ]
    assert failed, results
    # The play stops at the first failure; the plan's set_fact may fail first and is rescued.
    name, msg = failed[-1]
    assert name.startswith(REFUSING_TASKS), failed
    assert msg == message
    assert report.stats(extra_vars)["failures"] == 1
    assert report.stats(extra_vars)["changed"] == 0
    ran = {result.get("action", "") for _, result in results}
    assert ran <= LOCAL_ACTIONS, ran - LOCAL_ACTIONS


def test_unknown_state_is_refused_by_the_argument_spec(report: CasesRun) -> None:
    results = report.tasks(UNKNOWN_STATE)
    name, result = results[-1]
    assert result["failed"] and "Validating arguments against arg spec" in name
    assert "event_scaling_state" in result["msg"] and "gone" in result["msg"]
    assert report.stats(UNKNOWN_STATE)["changed"] == 0


def test_the_local_calendar_passes_validation(report: CasesRun) -> None:
    """The cases above fail for their bad value only: the unchanged local inputs pass validation
    and the play stops at the first AWS call (the closed endpoint)."""
    results = report.tasks(LOCAL_CALENDAR)
    name, result = results[-1]
    assert name == "event_scaling : Lookup | Find the Auto Scaling groups of the planned tiers by name", results
    assert result["failed"]
    assert all(not r.get("failed") for _, r in results[:-1])
