"""scripts/hardening/exceptions.py and roles/hardening/vars/exceptions.yml (issue 17): every exception
has its reason, the list is what docs/hardening.md shows, and make score prints each profile's own."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from arena_loader import load_source


@pytest.fixture(scope="module")
def mod() -> ModuleType:
    return load_source("scripts/hardening/exceptions.py", "hardening_exceptions")


def test_every_entry_is_complete(mod: ModuleType) -> None:
    entries = mod.load()
    assert len(entries) >= 10
    assert {entry["kind"] for entry in entries} <= set(mod.KINDS)


def test_the_docs_table_is_the_list(mod: ModuleType) -> None:
    assert mod.main(["exceptions.py", "--check-docs"]) == 0


GOOD = {
    "id": "CIS 9.9.9",
    "control": "c",
    "tiers": ["web"],
    "kind": "accepted",
    "reason": "because",
    "instead": "",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"reason": "  "}, "CIS 9.9.9: the reason is empty"),
        ({"kind": "ignored"}, "CIS 9.9.9: kind 'ignored' is not one of"),
        ({"tiers": ["db"]}, "CIS 9.9.9: tiers must be a non-empty subset of web, api, admin"),
        ({"tiers": []}, "CIS 9.9.9: tiers must be a non-empty subset"),
        ({"id": "9.9.9"}, "9.9.9: id must start with 'CIS ' or 'Lynis '"),
    ],
)
def test_a_bad_entry_is_refused_by_name(mod: ModuleType, tmp_path: Path, change: dict, message: str) -> None:
    path = tmp_path / "exceptions.yml"
    path.write_text(yaml.safe_dump({"hardening_exceptions": [GOOD | change]}))
    with pytest.raises(mod.ExceptionsError, match=re.escape(message)):
        mod.load(path)


def test_a_missing_field_or_a_duplicate_is_refused(mod: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "exceptions.yml"
    path.write_text(yaml.safe_dump({"hardening_exceptions": [{k: v for k, v in GOOD.items() if k != "instead"}]}))
    with pytest.raises(mod.ExceptionsError, match=re.escape("CIS 9.9.9: missing instead")):
        mod.load(path)
    path.write_text(yaml.safe_dump({"hardening_exceptions": [GOOD, GOOD]}))
    with pytest.raises(mod.ExceptionsError, match=re.escape("CIS 9.9.9: listed twice")):
        mod.load(path)


def test_a_profile_gets_only_its_own_exceptions(mod: ModuleType) -> None:
    entries = mod.load()
    admin = mod.text(entries, ["admin"])
    web = mod.text(entries, ["web"])
    # fail2ban guards admin's sshd: the IDS exception is web's and api's only.
    assert "TOOL-5190" in web
    assert "TOOL-5190" not in admin
    assert admin.splitlines()[-1].strip().endswith(("accepted", "deferred", "alternative", "not-applicable"))
