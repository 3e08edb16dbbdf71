"""Test code shared by the services suites: many refusals of playbooks/platform_services.yml in one run.

Each ansible-playbook start costs seconds; a refusal case is a fraction of that. refused_cases() runs
the playbook's own validation play (read from the file, so it cannot drift from it) once per case
in one --check run: the case's values as play variables, the play's tasks in a block whose rescue
lets the next case's play run. Every play must fail in exactly one task (nothing after the refusal
ran) and nothing may change. That the refusal stops the real playbook before its services play is
proven by running the playbook itself (test_services_inputs.py::refuse).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from arena_testlib import REPO_ROOT, item_messages, run

VALIDATION_PLAY = "Refuse bad service inputs before any API call"


def validation_play(case: str, variables: Mapping[str, Any], *, guard: bool) -> dict[str, Any]:
    """platform_services.yml's validation play (guard, then every role's validate tasks) for one case.
    Without `guard`, the guard's facts from an earlier play serve (same target, same answer)."""
    plays = yaml.safe_load((REPO_ROOT / "playbooks" / "platform_services.yml").read_text())
    play = next(p for p in plays if p["name"] == VALIDATION_PLAY)
    return {
        **play,
        "name": f"{play['name']} [{case}]",
        "roles": play["roles"] if guard else [],
        "vars": {**play.get("vars", {}), **variables},
        "tasks": [{"block": play["tasks"], "rescue": [{"name": "Next case", "ansible.builtin.meta": "noop"}]}],
    }


def refused_cases(
    workdir: Path, cases: list[tuple[str, Mapping[str, Any]]], env: Mapping[str, str], inventory: str
) -> dict[str, tuple[str, str]]:
    """Run every case's validation play in one --check run; case id -> (the one failed task, its
    message with whitespace normalised). Fails unless each case is refused by exactly one task."""
    playbook = workdir / "refusals.yml"
    playbook.write_text(
        yaml.safe_dump([validation_play(case, values, guard=n == 0) for n, (case, values) in enumerate(cases)])
    )
    # Roles, library and filters come from the repository's ansible.cfg (base_env), wherever the playbook is.
    cmd = ["ansible-playbook", str(playbook), "--check", "-i", inventory]
    result = run(cmd, {**env, "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json"}, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]  # every case rescued
    output, _ = json.JSONDecoder().raw_decode(result.stdout)  # the timer callback prints after it
    stats = output["stats"]["localhost"]
    assert (stats["changed"], stats["failures"], stats["rescued"]) == (0, 0, len(cases)), stats
    found = {}
    for (case, _), ran in zip(cases, output["plays"], strict=True):
        assert ran["play"]["name"].endswith(f"[{case}]")
        failed = [
            (task["task"]["name"], " ".join(item_messages(task["hosts"]["localhost"]).split()))
            for task in ran["tasks"]
            if task["hosts"].get("localhost", {}).get("failed")
        ]
        assert len(failed) == 1, (case, failed)  # refused by one validation task, nothing after it ran
        found[case] = failed[0]
    return found
