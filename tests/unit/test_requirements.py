"""The toolchain pins: requirements.txt is fully pinned, and the collections bundled with the
pinned ansible package satisfy the ranges in requirements.yml."""

from __future__ import annotations

import json
import re
from importlib import util
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]


def installed_collection_version(fqcn: str) -> Version:
    namespace, name = fqcn.split(".")
    spec = util.find_spec("ansible_collections")
    assert spec is not None and spec.submodule_search_locations, "ansible_collections is not importable"
    for location in spec.submodule_search_locations:
        manifest = Path(location) / namespace / name / "MANIFEST.json"
        if manifest.is_file():
            return Version(json.loads(manifest.read_text())["collection_info"]["version"])
    raise AssertionError(f"collection {fqcn} is not installed")


@pytest.mark.parametrize("entry", REQUIRED, ids=[c["name"] for c in REQUIRED])
def test_installed_collection_satisfies_requirements_yml(entry: dict[str, str]) -> None:
    version = installed_collection_version(entry["name"])
    assert version in SpecifierSet(entry["version"]), f"{entry['name']} {version} not in {entry['version']}"


def test_requirements_yml_lists_the_collections_the_code_uses() -> None:
    names = {c["name"] for c in REQUIRED}
    assert names >= {
        "amazon.aws",
        "community.aws",
        "community.general",
        "ansible.posix",
        "containers.podman",
        "community.crypto",
    }


def test_every_python_requirement_is_pinned() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    unpinned = [line for line in lines if not re.fullmatch(r"[A-Za-z0-9_.\-]+(\[[a-z0-9,_\-]+\])?==[0-9][^\s;]*", line)]
    assert not unpinned, f"unpinned requirements: {unpinned}"
    assert any(line.startswith("ansible==12.") for line in lines), "ansible must be pinned to 12.x"
