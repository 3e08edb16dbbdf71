"""The tests' playbook executor (tests/arena_testlib.py mitogen_env): Mitogen's linear strategy
unless ARENA_MITOGEN=0, and a strategy path that really holds it."""

from __future__ import annotations

from pathlib import Path

import pytest
from arena_testlib import base_env, mitogen_env


def test_playbooks_run_under_mitogen_linear_from_the_venv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARENA_MITOGEN", raising=False)
    env = base_env()
    assert env["ANSIBLE_STRATEGY"] == "mitogen_linear"
    assert (Path(env["ANSIBLE_STRATEGY_PLUGINS"]) / "mitogen_linear.py").is_file()


def test_arena_mitogen_0_runs_plain_ansible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARENA_MITOGEN", "0")
    monkeypatch.delenv("ANSIBLE_STRATEGY", raising=False)
    assert mitogen_env() == {}
    assert "ANSIBLE_STRATEGY" not in base_env()
