"""Every custom module's documentation is true and readable: DOCUMENTATION names the module and
exactly the options of its argument spec (nested ones too) with their types and defaults, it supports
check mode, EXAMPLES and RETURN parse, and ansible-doc reads all of them (what `ansible-doc` and
Galaxy show users). One test for all modules, not a copy per module file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from arena_loader import REPO_ROOT, load_source

PATHS = sorted([*REPO_ROOT.glob("library/*.py"), *REPO_ROOT.glob("roles/*/library/*.py")])


def options(spec: dict[str, Any]) -> dict[str, Any]:
    """Option names, nested ones too (``options`` in a spec, ``suboptions`` in DOCUMENTATION)."""
    nested = ("options", "suboptions")
    return {name: next((options(value[key]) for key in nested if key in value), None) for name, value in spec.items()}


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_documentation_matches_the_argument_spec(path: Path, module_spec: Any) -> None:
    module = load_source(path)
    captured = module_spec(module)
    assert captured["supports_check_mode"] is True
    documented = yaml.safe_load(module.DOCUMENTATION)
    assert documented["module"] == path.stem
    assert options(documented["options"]) == options(captured["argument_spec"])
    for name, spec in captured["argument_spec"].items():
        assert documented["options"][name].get("type", "str") == spec.get("type", "str"), name
        assert documented["options"][name].get("default") == spec.get("default"), name
    for section in ("EXAMPLES", "RETURN"):
        assert yaml.safe_load(getattr(module, section)), section


def test_ansible_doc_reads_every_module() -> None:
    dirs = sorted({str(p.parent) for p in PATHS})
    result = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-doc")), "--json", "-t", "module"]
        + [arg for d in dirs for arg in ("-M", d)]
        + [p.stem for p in PATHS],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    docs = json.loads(result.stdout)
    assert sorted(docs) == sorted(p.stem for p in PATHS), result.stderr
    assert all(doc["doc"]["module"] == name for name, doc in docs.items())
