"""The event filters load through Ansible (ansible.cfg's filter_plugins) and give what Python gives.

One ansible-playbook run, one inventory host per case (arena_testlib.cases_run): the good case plans
the local lab's calendar with the repo's group_vars and writes the plan to a file, which the test
compares with the filters called directly; each bad calendar fails its host at the planning task with
the filter's exact message and changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from arena_testlib import REPO_ROOT, CasesRun, base_env, cases_run

GROUP_VARS = REPO_ROOT / "inventories" / "local" / "group_vars" / "all"

PLAN = [
    {
        "name": "Plan live-event scaling with the repo's filters",
        "hosts": "all",
        "gather_facts": False,
        "tasks": [
            {
                "name": "Plan the calendar",
                "ansible.builtin.set_fact": {
                    "evt_test_plan": {
                        "events": "{{ arena_events | arena_events }}",
                        "schedule": "{{ arena_events | arena_scaling_schedule(arena_capacity_model) }}",
                        "capacity": "{{ 40000 | arena_capacity(arena_capacity_model) }}",
                        "web_for_40000": "{{ 40000 | arena_capacity(arena_capacity_model, 'web') }}",
                        "lead_time": "{{ arena_capacity_model | arena_lead_time }}",
                    }
                },
            },
            {
                "name": "Write the plan",
                "ansible.builtin.copy": {
                    "content": "{{ evt_test_plan | to_nice_json }}",
                    "dest": "{{ evt_test_dir }}/{{ inventory_hostname }}.json",
                    "mode": "0644",
                },
            },
        ],
    }
]

BAD = [
        (
            {"arena_events": [{"name": "G", "kind": "basketball", "start": "2027-01-15T20:45",
                               "timezone": "Europe/Madird", "duration_minutes": 90, "peak_viewers": 10}]},
            "arena_events: event 'G': unknown time zone 'Europe/Madird'",
        ),
        (
            {"arena_events": [{"name": "G", "kind": "basketball", "start": "2027-01-15T20:45",
                               "timezone": "Europe/Madrid", "end": "2027-01-15T19:00", "peak_viewers": 10}]},
            "arena_events: event 'G': end 2027-01-15T19:00 is not after start 2027-01-15T20:45 (Europe/Madrid)",
        ),
        (
            {"arena_events": [{"name": "G", "kind": "basketball", "start": "2027-01-15T20:45",
                               "timezone": "Europe/Madrid", "duration_minutes": 90, "peak_viewers": -3}]},
            "arena_events: event 'G': peak_viewers must be a non-negative integer, got -3",
        ),
]  # fmt: skip
GOOD: dict[str, Any] = {}


@pytest.fixture(scope="module")
def plan_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[CasesRun, Path]:
    workdir = tmp_path_factory.mktemp("filters_ansible")
    cases = [{**case, "evt_test_dir": str(workdir)} for case in [GOOD, *(bad for bad, _ in BAD)]]
    env = base_env({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json"}, keep_aws=False)
    return cases_run(
        workdir,
        PLAN,
        cases,
        env=env,
        group_vars=(GROUP_VARS / "events.yml", GROUP_VARS / "capacity.yml"),
        check=False,
        timeout=300,
    ), workdir


def group_var(name: str, key: str) -> Any:
    return yaml.safe_load((GROUP_VARS / name).read_text())[key]


def test_playbook_plan_matches_the_python_filters(
    plan_run: tuple[CasesRun, Path], schedule: ModuleType, capacity: ModuleType, calendar: ModuleType
) -> None:
    run, workdir = plan_run
    good = {**GOOD, "evt_test_dir": str(workdir)}
    assert [name for name, result in run.tasks(good) if result.get("failed")] == []
    plan = json.loads((workdir / f"{run.host(good)}.json").read_text())
    events, model = group_var("events.yml", "arena_events"), group_var("capacity.yml", "arena_capacity_model")
    assert plan == {
        "events": calendar.arena_events(events),
        "schedule": schedule.arena_scaling_schedule(events, model),
        "capacity": capacity.arena_capacity(40000, model),
        "web_for_40000": capacity.arena_capacity(40000, model, "web"),
        "lead_time": capacity.arena_lead_time(model),
    }
    assert plan["schedule"], "the local calendar should need scheduled actions"
    assert plan["schedule"][-1]["kind"] == "baseline"


@pytest.mark.parametrize(("bad_vars", "message"), BAD)
def test_bad_calendar_fails_the_plan_with_the_exact_message_and_changes_nothing(
    plan_run: tuple[CasesRun, Path], bad_vars: dict[str, Any], message: str
) -> None:
    run, workdir = plan_run
    case = {**bad_vars, "evt_test_dir": str(workdir)}
    task, failure, stats = run.failure(case)
    assert task == "Plan the calendar"
    assert message in failure
    assert stats["changed"] == 0
    assert stats["failures"] == 1
    assert not (workdir / f"{run.host(case)}.json").exists()
