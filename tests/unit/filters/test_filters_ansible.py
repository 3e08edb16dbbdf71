"""The event filters load through Ansible (ansible.cfg's filter_plugins) and give what Python gives.

A tiny playbook on localhost (connection local) plans the local lab's calendar with the repo's
group_vars, writes the plan to a file, and the test compares it with the filters called directly.
Bad input fails the play at the planning task with the filter's exact message and changes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
GROUP_VARS = ROOT / "inventories" / "local" / "group_vars" / "all"
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")

PLAYBOOK = """\
---
- name: Plan live-event scaling with the repo's filters
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Plan the calendar
      ansible.builtin.set_fact:
        evt_test_plan:
          events: "{{ arena_events | arena_events }}"
          schedule: "{{ arena_events | arena_scaling_schedule(arena_capacity_model) }}"
          capacity: "{{ 40000 | arena_capacity(arena_capacity_model) }}"
          web_for_40000: "{{ 40000 | arena_capacity(arena_capacity_model, 'web') }}"
          lead_time: "{{ arena_capacity_model | arena_lead_time }}"

    - name: Write the plan
      ansible.builtin.copy:
        content: "{{ evt_test_plan | to_nice_json }}"
        dest: "{{ evt_test_out }}"
        mode: "0644"
"""


def run_playbook(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    playbook = tmp_path / "plan.yml"
    playbook.write_text(PLAYBOOK)
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
    }
    command = [
        str(ANSIBLE_PLAYBOOK),
        "-i",
        "localhost,",
        "-e",
        f"@{GROUP_VARS / 'events.yml'}",
        "-e",
        f"@{GROUP_VARS / 'capacity.yml'}",
        "-e",
        f"evt_test_out={tmp_path / 'plan.json'}",
        # the venv's Python for the local connection (interpreter discovery may find a pyenv shim)
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        *extra,
        str(playbook),
    ]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False)


def group_var(name: str, key: str) -> Any:
    return yaml.safe_load((GROUP_VARS / name).read_text())[key]


def test_playbook_plan_matches_the_python_filters(
    tmp_path: Path, schedule: ModuleType, capacity: ModuleType, calendar: ModuleType
) -> None:
    result = run_playbook(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())
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


@pytest.mark.parametrize(
    ("bad_vars", "message"),
    [
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
    ],
)  # fmt: skip
def test_bad_calendar_fails_the_plan_with_the_exact_message_and_changes_nothing(
    tmp_path: Path, bad_vars: dict[str, Any], message: str
) -> None:
    result = run_playbook(tmp_path, "-e", json.dumps(bad_vars))
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert message in output
    assert "TASK [Plan the calendar]" in output
    assert "changed=0" in output
    assert "failed=1" in output
    assert not (tmp_path / "plan.json").exists()
