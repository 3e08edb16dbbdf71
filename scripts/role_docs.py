#!/usr/bin/env python3
"""Role docs that cannot drift: generate or check roles/<role>/README.md, and check defaults vs spec.

Usage: role_docs.py [--check] [ROLE_DIR ...]   (default: every roles/*/ with meta/argument_specs.yml)

- Without --check: aar-doc (inject mode) rewrites the part of each README.md between
  ``<!-- BEGIN_ANSIBLE_DOCS -->`` and ``<!-- END_ANSIBLE_DOCS -->`` from meta/argument_specs.yml
  with docs/templates/role-readme.md.j2; the hand-written sections around it stay as they are.
- With --check: writes nothing; fails when a README differs from what the generator produces, or
  when defaults/main.yml and the spec disagree: every default must equal the ``default:`` of its
  option, every option with a ``default:`` must be in defaults/main.yml, and every variable in
  defaults/main.yml must be an option of one of the role's entry points.

One process for all roles (aar-doc's CLI called in-process), so the check takes about a second.
"""

from __future__ import annotations

import argparse
import difflib
import shutil
import sys
import tempfile
from pathlib import Path

import yaml
from aar_doc.cli import app  # the pinned generator (requirements.txt)

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "docs" / "templates" / "role-readme.md.j2"
BEGIN = "<!-- BEGIN_ANSIBLE_DOCS -->\n"
END = "<!-- END_ANSIBLE_DOCS -->\n"


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps Ansible's tagged scalars (!unsafe, !vault) as plain strings."""


_Loader.add_multi_constructor("!", lambda loader, _suffix, node: loader.construct_scalar(node))


def _load(path: Path) -> object:
    with path.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=_Loader)  # _Loader is a SafeLoader subclass


def _shown(path: Path) -> Path:
    """``path`` as messages name it: relative to the repository when inside it."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def render(role: Path, out: Path) -> None:
    """Inject the generated section into ``out`` (a README of ``role``) with aar-doc."""
    args = [
        str(role),
        "markdown",
    ]
    options = [
        "--output-file",
        str(out),
        "--output-template",
        str(TEMPLATE),
        "--output-mode",
        "inject",
    ]
    # aar-doc's options belong to the top-level command, before its ROLE_PATH argument.
    rc = app(options + args, standalone_mode=False)
    if rc:  # aar-doc reports its errors (no markers, bad spec) and returns their exit code
        raise SystemExit(f"aar-doc failed on {_shown(role)} (exit {rc})")


def check_defaults(role: Path) -> list[str]:
    """Disagreements between defaults/main.yml and meta/argument_specs.yml, one line each."""
    specs = (_load(role / "meta" / "argument_specs.yml") or {}).get("argument_specs", {})
    defaults_file = role / "defaults" / "main.yml"
    defaults = (_load(defaults_file) if defaults_file.exists() else None) or {}
    rel = _shown(role)
    errors: list[str] = []
    spec_names: set[str] = set()
    for entrypoint, spec in specs.items():
        for name, option in ((spec or {}).get("options") or {}).items():
            spec_names.add(name)
            if "default" not in option:
                continue
            if name not in defaults:
                errors.append(
                    f"{rel}: {name} has default {option['default']!r} in meta/argument_specs.yml"
                    f" (entry point {entrypoint}) but is not in defaults/main.yml"
                )
            elif defaults[name] != option["default"]:
                errors.append(
                    f"{rel}: {name} is {defaults[name]!r} in defaults/main.yml but"
                    f" {option['default']!r} in meta/argument_specs.yml (entry point {entrypoint})"
                )
    for name in defaults:
        if name not in spec_names:
            errors.append(f"{rel}: {name} is in defaults/main.yml but in no entry point of meta/argument_specs.yml")
    return errors


def check_readme(role: Path) -> list[str]:
    """The diff between roles/<role>/README.md and what the generator makes of it."""
    readme = role / "README.md"
    rel = _shown(readme)
    if not readme.exists():
        return [f"{rel}: missing (run make role-docs)"]
    current = readme.read_text(encoding="utf-8")
    if BEGIN not in current or END not in current:
        return [f"{rel}: no {BEGIN.strip()} / {END.strip()} markers around its Variables section"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "README.md"
        shutil.copyfile(readme, out)
        render(role, out)
        wanted = out.read_text(encoding="utf-8")
    if wanted == current:
        return []
    diff = difflib.unified_diff(
        current.splitlines(keepends=True), wanted.splitlines(keepends=True), str(rel), f"{rel} (generated)"
    )
    return [f"{rel}: differs from its meta/argument_specs.yml (run make role-docs):\n{''.join(diff)}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; fail on any drift")
    parser.add_argument("roles", nargs="*", type=Path)
    opts = parser.parse_args()
    roles = [r.resolve() for r in opts.roles] or sorted(
        p.parent.parent for p in (ROOT / "roles").glob("*/meta/argument_specs.yml")
    )
    errors: list[str] = []
    for role in roles:
        if opts.check:
            errors += check_defaults(role)
            errors += check_readme(role)
        else:
            render(role, role / "README.md")
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        print(f"role docs: {len(errors)} problem(s) in {len(roles)} roles", file=sys.stderr)
        return 1
    print(f"role docs: {len(roles)} roles {'checked' if opts.check else 'generated'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
