"""The live-event modules' DOCUMENTATION matches their argument specs and ansible-doc can read it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from arena_loader import library_module

ROOT = Path(__file__).resolve().parents[3]
MODULES = ("arena_scheduled_actions", "arena_warm_pool", "arena_alb_capacity_reservation", "arena_group_floor")


def options(spec: dict[str, Any]) -> dict[str, Any]:
    """Option names, nested ones too (``options`` in a spec, ``suboptions`` in DOCUMENTATION)."""
    nested = ("options", "suboptions")
    return {name: next((options(value[key]) for key in nested if key in value), None) for name, value in spec.items()}


@pytest.mark.parametrize("name", MODULES)
def test_documentation_options_match_the_argument_spec(name: str, module_spec: Any) -> None:
    module = library_module(name)
    captured = module_spec(module)
    assert captured["supports_check_mode"] is True
    documented = yaml.safe_load(module.DOCUMENTATION)
    assert documented["module"] == name
    assert options(documented["options"]) == options(captured["argument_spec"])
    for section in ("EXAMPLES", "RETURN"):
        assert yaml.safe_load(getattr(module, section))


@pytest.mark.parametrize("name", MODULES)
def test_ansible_doc_reads_the_module(name: str) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-doc")), "-M", str(ROOT / "library"), name],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"MODULE {name}" in result.stdout.replace("\x1b[1m", "").replace("\x1b[0m", "")
