"""Every play that calls AWS APIs runs the real-AWS guard first (static check of playbooks/).

A play counts as an AWS play when it sets module_defaults for group/aws, or when it (or a role it
lists) uses a module from amazon.aws / community.aws or one of the boto3-based modules in library/.
"""

from __future__ import annotations

import configparser
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = sorted((ROOT / "playbooks").rglob("*.yml"))
AWS_PREFIXES = ("amazon.aws.", "community.aws.")
TASK_LISTS = ("pre_tasks", "roles", "tasks", "post_tasks", "handlers")
GUARD = "aws_guard"


@cache
def custom_aws_modules() -> frozenset[str]:
    names = set()
    for module in (ROOT / "library").glob("*.py"):
        if "boto" in module.read_text():
            names.add(module.stem)
    return frozenset(names)


def is_aws_module(key: str) -> bool:
    return key.startswith(AWS_PREFIXES) or key in custom_aws_modules()


def walk_tasks(tasks: list[dict[str, Any]] | None) -> Iterator[dict[str, Any]]:
    for task in tasks or []:
        if not isinstance(task, dict):
            continue
        yield task
        for key in ("block", "rescue", "always"):
            yield from walk_tasks(task.get(key))


def tasks_use_aws(tasks: list[dict[str, Any]] | None) -> bool:
    return any(is_aws_module(key) for task in walk_tasks(tasks) for key in task)


@cache
def role_uses_aws(role: str) -> bool:
    task_dir = ROOT / "roles" / role / "tasks"
    if not task_dir.is_dir():
        return False
    return any(tasks_use_aws(yaml.safe_load(path.read_text())) for path in task_dir.rglob("*.yml"))


def role_name(entry: Any) -> str:
    if isinstance(entry, str):
        return entry
    return entry.get("role") or entry.get("name", "")


def aws_plays() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in PLAYBOOKS:
        for play in yaml.safe_load(path.read_text()) or []:
            if not isinstance(play, dict) or "hosts" not in play:
                continue
            defaults = play.get("module_defaults") or {}
            uses_aws = (
                "group/aws" in defaults
                or any(tasks_use_aws(play.get(k)) for k in ("pre_tasks", "tasks", "post_tasks", "handlers"))
                or any(role_uses_aws(role_name(r)) for r in play.get("roles") or [])
            )
            if uses_aws:
                found.append((f"{path.relative_to(ROOT)}::{play.get('name', '?')}", play))
    return found


def test_there_are_aws_playbooks_to_check() -> None:
    assert aws_plays(), "no AWS plays found: the detection is broken"


@pytest.mark.parametrize(("where", "play"), aws_plays(), ids=[w for w, _ in aws_plays()])
def test_aws_play_runs_the_guard_first(where: str, play: dict[str, Any]) -> None:
    pre_tasks = play.get("pre_tasks") or []
    roles = play.get("roles") or []
    if pre_tasks:
        first = pre_tasks[0]
        include = first.get("ansible.builtin.include_role") or first.get("ansible.builtin.import_role") or {}
        assert include.get("name") == GUARD, f"{where}: first pre_task must run role {GUARD}"
    else:
        assert roles and role_name(roles[0]) == GUARD, f"{where}: first role must be {GUARD}"
    assert play.get("gather_facts") is False, f"{where}: AWS plays run on localhost without fact gathering"


@pytest.mark.parametrize(("where", "play"), aws_plays(), ids=[w for w, _ in aws_plays()])
def test_aws_play_takes_region_and_endpoint_from_the_guard(where: str, play: dict[str, Any]) -> None:
    defaults = (play.get("module_defaults") or {}).get("group/aws") or {}
    assert "aws_guard_target.region" in str(defaults.get("region")), where
    assert "aws_guard_target.endpoint_url" in str(defaults.get("endpoint_url")), where


# Inventory sources run before any play, so before the guard: every EC2 source must go through
# inventory_plugins/arena_aws_ec2.py (the same classifier and opt-in), never amazon.aws.aws_ec2 itself.
INVENTORY_SOURCES = sorted((ROOT / "inventories").glob("*/*aws_ec2.y*ml"))
GUARDED_PLUGIN = "arena_aws_ec2"


def test_there_are_inventory_sources_to_check() -> None:
    assert {path.parent.name for path in INVENTORY_SOURCES} >= {"local", "staging", "production"}


@pytest.mark.parametrize("source", INVENTORY_SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_ec2_inventory_sources_use_the_guarded_plugin(source: Path) -> None:
    assert yaml.safe_load(source.read_text())["plugin"] == GUARDED_PLUGIN


def test_only_the_guarded_ec2_inventory_plugin_is_enabled() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "ansible.cfg")
    enabled = [name.strip() for name in config["inventory"]["enable_plugins"].split(",")]
    assert GUARDED_PLUGIN in enabled
    # aws_ec2 under any name, or `auto` (which loads whatever plugin a file names), would bypass it.
    assert not [name for name in enabled if name.endswith("aws_ec2") and name != GUARDED_PLUGIN]
    assert "auto" not in enabled and "ansible.builtin.auto" not in enabled
    assert config["defaults"]["inventory_plugins"] == "inventory_plugins"
