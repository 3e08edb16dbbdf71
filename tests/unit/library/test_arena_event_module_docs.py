"""The live-event modules' DOCUMENTATION matches their argument specs and ansible-doc can read it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
MODULES = ("arena_scheduled_actions", "arena_warm_pool", "arena_alb_capacity_reservation", "arena_group_floor")


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"{name}_docs_under_test", ROOT / "library" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Captured(Exception):
    """Raised by the fake AnsibleAWSModule to stop main() once it has the spec."""


def options(spec: dict[str, Any]) -> dict[str, Any]:
    """Option names, nested ones too (``options`` in a spec, ``suboptions`` in DOCUMENTATION)."""
    nested = ("options", "suboptions")
    return {name: next((options(value[key]) for key in nested if key in value), None) for name, value in spec.items()}


@pytest.mark.parametrize("name", MODULES)
def test_documentation_options_match_the_argument_spec(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module = load(name)
    captured: dict[str, Any] = {}

    def fake(**kwargs: Any) -> None:
        captured.update(kwargs)
        raise Captured

    monkeypatch.setattr(module, "AnsibleAWSModule", fake)
    with pytest.raises(Captured):
        module.main()
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
