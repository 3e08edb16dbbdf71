"""playbooks/event_scaling.yml plans with the event reviews (issue 19), without an AWS call.

One plan-only run (`--tags event_scaling_validate`) of the playbook's play for every case, each its own
inventory host over the local inventory's group_vars: the same calendar planned without a review, with
a basketball review whose ratio is 1.5, and with a malformed history (refused in validation naming
event_scaling_event_history). The production model: web = ceil(viewers x 1.5 / 4200), api =
ceil(viewers x 4 / 8400).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from arena_testlib import REPO_ROOT, CasesRun, base_env, cases_run, playbook_play
from event_scaling_endpoint import refusing_endpoint  # this directory is on sys.path (pytest's rootdir-relative import)

MODEL = yaml.safe_load((REPO_ROOT / "inventories/production/group_vars/all/capacity.yml").read_text())[
    "arena_capacity_model"
]
NOW = "2031-05-20T12:00:00Z"
CALENDAR = [
    {
        "name": "Game",
        "kind": "basketball",
        "start": "2031-05-25T18:00",
        "timezone": "UTC",
        "duration_minutes": 120,
        "peak_viewers": 30000,
    },
    {
        "name": "Concert",
        "kind": "concert",
        "start": "2031-05-27T20:00",
        "timezone": "UTC",
        "duration_minutes": 120,
        "peak_viewers": 20000,
    },
]
REVIEW = {
    "event": "Earlier game",
    "start": "2031-05-10T18:00:00Z",
    "forecast_viewers": 20000,
    "observed_viewers": 30000,
    "ratio": 1.5,
    "reviewed_at": "2031-05-11T09:00:00Z",
}
CASES = {
    "no-review": {},
    "basketball-1.5": {"basketball": [REVIEW]},
    "malformed": {"basketball": [{"event": "Earlier game"}]},
}


def variables(history: dict[str, Any]) -> dict[str, Any]:
    return {
        "arena_events": CALENDAR,
        "arena_capacity_model": MODEL,
        "arena_event_history": history,
        "event_scaling_alb_reservation_enabled": False,
        "event_scaling_now": NOW,
    }


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CasesRun]:
    with refusing_endpoint() as endpoint:
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
        yield cases_run(
            tmp_path_factory.mktemp("event_scaling_learning"),
            [playbook_play("playbooks/event_scaling.yml")],
            [variables(history) for history in CASES.values()],
            env=env,
            group_vars=tuple(sorted((REPO_ROOT / "inventories/local/group_vars/all").glob("*.yml"))),
            check=False,
            args=("--tags", "event_scaling_validate"),
        )


def report(run: CasesRun, case: str) -> dict[str, Any]:
    tasks = run.tasks(variables(CASES[case]))
    assert run.stats(variables(CASES[case]))["failures"] == 0, [(n, r.get("msg")) for n, r in tasks if r.get("failed")]
    actions = {result.get("action") or "" for _, result in tasks}
    assert not any(a.startswith(("amazon.aws.", "community.aws.", "arena_")) for a in actions), actions
    return next(result for name, result in tasks if name.endswith("Plan | Report the plan"))["msg"]


def test_a_kind_observed_above_its_forecast_is_planned_with_more_instances(plans: CasesRun) -> None:
    # 30000 viewers: web 11, api 15. The basketball review says 1.5: 45000 viewers, web 17, api 22.
    # The concert (20000: web 8, api 10) has no review of its kind and stays.
    plain, learnt = report(plans, "no-review"), report(plans, "basketball-1.5")
    assert plain["warm_pool_prepared_capacity"] == {"web": 11, "api": 15}
    assert learnt["warm_pool_prepared_capacity"] == {"web": 17, "api": 22}
    assert plain["forecast_adjustments"] == []
    assert learnt["forecast_adjustments"] == [
        "event 'Game' (basketball): peak_viewers 30000 planned as 45000 (x1.5: highest ratio of the last 1"
        " basketball review(s))"
    ]


def test_a_malformed_history_is_refused_before_any_call(plans: CasesRun) -> None:
    case = variables(CASES["malformed"])
    failed = [(name, result.get("msg")) for name, result in plans.tasks(case) if result.get("failed")]
    assert failed[-1] == (
        "event_scaling : Validate | Refuse the event history",
        "event_scaling_event_history: arena_forecast_adjust: arena_event_history.basketball[0] is missing ['start',"
        " 'forecast_viewers', 'observed_viewers', 'ratio', 'reviewed_at'] / has unknown keys []",
    )
    assert plans.stats(case)["changed"] == 0
