"""callback_plugins/arena_preload.py: the filter plugins are loaded once per run, in the controller.

A probe filter plugin appends the PID of every process that imports it to a file. A playbook of
several tasks that each use a filter runs with the repository's ansible.cfg: only the controller may
have imported the probe. The same playbook with the callback directory replaced by an empty one
must show the probe imported by the workers too, so the test can fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from arena_testlib import REPO_ROOT, base_env, run

TASKS = 4
PROBE = """
import os

with open(os.environ["ARENA_PROBE_FILE"], "a", encoding="utf-8") as probe:
    probe.write(f"{os.getpid()}\\n")


class FilterModule:
    def filters(self):
        return {"arena_probe": lambda value: value}
"""


def probe_importers(tmp_path: Path, *, callbacks: Path | None, executor: dict[str, str]) -> set[str]:
    """Run TASKS filter-using tasks on localhost: the PIDs of the processes that imported the probe.
    callbacks=None keeps what ansible.cfg names; a directory replaces it."""
    plugins = tmp_path / "filters"
    plugins.mkdir(exist_ok=True)
    (plugins / "arena_probe.py").write_text(PROBE, encoding="utf-8")
    probe = tmp_path / f"probe-{callbacks.name if callbacks else 'ansible-cfg'}"
    tasks = "".join(
        f'    - name: Task {n}\n      ansible.builtin.assert:\n        that: ["(1 | arena_probe | int) == 1"]\n'
        for n in range(TASKS)
    )
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- name: Probe\n  hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n" + tasks,
        encoding="utf-8",
    )
    env = base_env(
        {
            "ARENA_PROBE_FILE": str(probe),
            "ANSIBLE_FILTER_PLUGINS": f"{REPO_ROOT / 'filter_plugins'}:{plugins}",
            **executor,
        }
    )
    env.pop("ANSIBLE_CALLBACK_PLUGINS", None)
    if callbacks:
        env["ANSIBLE_CALLBACK_PLUGINS"] = str(callbacks)
    result = run(["ansible-playbook", "-i", "localhost,", str(playbook)], env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return set(probe.read_text(encoding="utf-8").split())


@pytest.mark.parametrize("executor", [{"ANSIBLE_STRATEGY": "linear"}, {}], ids=["plain", "tests-executor"])
def test_filter_plugins_are_loaded_once_in_the_controller(tmp_path: Path, executor: dict[str, str]) -> None:
    warmed = probe_importers(tmp_path, callbacks=None, executor=executor)
    assert len(warmed) == 1, f"the probe filter was imported by {len(warmed)} processes, not only the controller"

    empty = tmp_path / "no-callbacks"
    empty.mkdir()
    cold = probe_importers(tmp_path, callbacks=empty, executor=executor)
    assert len(cold) > TASKS / 2, (
        f"without the callback only {len(cold)} process(es) imported the probe: the test no longer measures anything"
    )
