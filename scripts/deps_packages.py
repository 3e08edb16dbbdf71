#!/usr/bin/env python3
"""Print what the lab's package layer image holds: one apt call per line, sorted.

scripts/deps-image.sh builds localhost/arena-deps:<release>-<hash> from the base image with them, so
that the role scenarios download nothing. Lines:

    install <package>...          installed in the image (what the scenarios' prepares need)
    recommends <package>...       downloaded into apt's cache with their recommends, not installed
    no-recommends <package>...    the same without recommends

The roles' packages have one source: each role's own apt install tasks (``ansible.builtin.apt``
with a ``name`` and state present/latest in ``roles/<role>/tasks/*.yml``), templated with the role's
defaults, its vars, the task's (and enclosing blocks') vars and the variables of each variant in
scripts/deps-packages.yml (e.g. every hardening profile); one line per task and variant, with the
task's own ``install_recommends``, so the cache holds exactly what that apt call resolves to. The
roles' apt tasks then install them in the scenario for real (maintainer scripts, units enabled as
the packages do), from the cache. That file adds the packages the scenarios' own prepares need.

    usage: scripts/deps_packages.py [--root DIR] [--config FILE]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROOT = Path(__file__).resolve().parents[1]
APT_KEYS = ("ansible.builtin.apt", "apt")
BLOCK_KEYS = ("block", "rescue", "always")


class DepsError(Exception):
    """A role or the variant file cannot be read into a package list."""


def _load(path: Path) -> Any:
    if not path.is_file():
        return None
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _trusted(value: Any) -> Any:
    """The repository's own YAML is trusted template source, as it is for ansible-playbook."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, list):
        return [_trusted(item) for item in value]
    if isinstance(value, dict):
        return {key: _trusted(item) for key, item in value.items()}
    return value


def apt_install_tasks(tasks: list[dict] | None, inherited: dict | None = None) -> Iterator[tuple[dict, dict]]:
    """(apt arguments, vars in scope) of every apt task that installs by name, blocks included."""
    for task in tasks or []:
        scope = {**(inherited or {}), **(task.get("vars") or {})}
        for key in BLOCK_KEYS:
            if key in task:
                yield from apt_install_tasks(task[key], scope)
        for key in APT_KEYS:
            args = task.get(key)
            if not isinstance(args, dict) or "name" not in args:
                continue
            if args.get("state", "present") in ("present", "latest"):
                yield args, scope


def role_apt_calls(role_dir: Path, variant: dict) -> set[str]:
    """One line per apt install task of the role ("[no-]recommends pkg..."), for one set of variables."""
    base = {**(_load(role_dir / "defaults" / "main.yml") or {}), **(_load(role_dir / "vars" / "main.yml") or {})}
    found: set[str] = set()
    for tasks_file in sorted((role_dir / "tasks").glob("*.yml")):
        for args, scope in apt_install_tasks(_load(tasks_file)):
            templar = Templar(loader=DataLoader(), variables=_trusted({**base, **scope, **variant}))
            try:
                value = templar.template(_trusted(args["name"]))
                recommends = templar.template(_trusted(args.get("install_recommends", True)))
            except Exception as exc:  # Ansible raises several error types; each is reported the same way
                where = tasks_file.relative_to(role_dir.parent.parent)
                raise DepsError(f"{where}: cannot evaluate {args['name']!r}: {exc}") from exc
            names = sorted({str(name) for name in ([value] if isinstance(value, str) else value)})
            if names:
                mode = "recommends" if str(recommends).lower() in ("true", "yes", "1") else "no-recommends"
                found.add(" ".join([mode, *names]))
    return found


def apt_calls(root: Path, config: dict) -> list[str]:
    roles = config.get("roles") or {}
    if not roles:
        raise DepsError("no roles in the variant file")
    found: set[str] = set()
    lab = sorted(set(config.get("lab_packages") or []))
    if lab:
        found.add(" ".join(["install", *lab]))
    for role, variants in roles.items():
        role_dir = root / "roles" / role
        if not (role_dir / "tasks").is_dir():
            raise DepsError(f"role {role!r} has no tasks directory under {root / 'roles'}")
        for variant in variants or [{}]:
            found |= role_apt_calls(role_dir, variant or {})
    return sorted(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--config", type=Path, default=None)
    args = parser.parse_args(argv)
    config_path = args.config or args.root / "scripts" / "deps-packages.yml"
    try:
        lines = apt_calls(args.root, _load(config_path) or {})
    except DepsError as exc:
        print(f"deps_packages: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
