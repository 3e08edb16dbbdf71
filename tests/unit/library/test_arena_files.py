"""arena_files: the one-call file writer of roles/base and roles/hardening, on a temporary tree."""

from __future__ import annotations

import grp
import os
import pwd
import stat
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

OWNER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


class Failed(Exception):
    """fail_json was called."""


class FakeModule:
    """The part of AnsibleModule that arena_files.run uses."""

    def __init__(self, check_mode: bool = False, **params: Any) -> None:
        self.params = {"files": [], "links": [], "absent": [], **params}
        self.check_mode = check_mode

    def fail_json(self, msg: str) -> None:
        raise Failed(msg)


def entry(path: Path, content: str, mode: str = "0644", **extra: str) -> dict[str, str]:
    return {"path": str(path), "content": content, "owner": OWNER, "group": GROUP, "mode": mode, **extra}


def test_writes_then_reports_no_change(mod: ModuleType, tmp_path: Path) -> None:
    target = tmp_path / "new" / "dir" / "a.conf"
    files = [entry(target, "a=1\n", "0640")]
    assert mod.run(FakeModule(files=files)) == [str(target)]
    assert target.read_text() == "a=1\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert mod.run(FakeModule(files=files)) == []


def test_mode_or_content_drift_is_repaired(mod: ModuleType, tmp_path: Path) -> None:
    target = tmp_path / "b.conf"
    target.write_text("b=1\n")
    target.chmod(0o666)
    assert mod.run(FakeModule(files=[entry(target, "b=1\n")])) == [str(target)]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    target.write_text("b=2\n")
    assert mod.run(FakeModule(files=[entry(target, "b=1\n")])) == [str(target)]
    assert target.read_text() == "b=1\n"


def test_check_mode_reports_and_changes_nothing(mod: ModuleType, tmp_path: Path) -> None:
    target, link, gone = tmp_path / "c.conf", tmp_path / "link", tmp_path / "gone"
    gone.write_text("x")
    changed = mod.run(
        FakeModule(
            check_mode=True,
            files=[entry(target, "c\n")],
            links=[{"path": str(link), "src": "/usr/share/zoneinfo/Etc/UTC"}],
            absent=[str(gone)],
        )
    )
    assert changed == [str(target), str(link), str(gone)]
    assert not target.exists() and not os.path.lexists(link) and gone.exists()


def test_links_and_absent(mod: ModuleType, tmp_path: Path) -> None:
    link, gone = tmp_path / "localtime", tmp_path / "cron.deny"
    link.write_text("a regular file where the link belongs")
    gone.write_text("x")
    params = {"links": [{"path": str(link), "src": "/usr/share/zoneinfo/Etc/UTC"}], "absent": [str(gone)]}
    assert mod.run(FakeModule(**params)) == [str(link), str(gone)]
    assert os.readlink(link) == "/usr/share/zoneinfo/Etc/UTC"
    assert not gone.exists()
    assert mod.run(FakeModule(**params)) == []


def test_validate_failure_writes_nothing(mod: ModuleType, tmp_path: Path) -> None:
    target = tmp_path / "d.conf"
    target.write_text("good\n")
    bad = entry(target, "bad\n", validate="/bin/grep -q ^good %s")
    with pytest.raises(Failed, match=r"d\.conf failed validation \(/bin/grep -q \^good %s\)"):
        mod.run(FakeModule(files=[bad]))
    assert target.read_text() == "good\n"
    good = entry(target, "good again\n", validate="/bin/grep -q ^good %s")
    assert mod.run(FakeModule(files=[good])) == [str(target)]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"path": "/x", "content": ""}, "lacks owner, group, mode"),
        ({"path": "/x", "content": "", "owner": "no-such-user", "group": "root", "mode": "0644"}, "unknown owner"),
        ({"path": "/x", "content": "", "owner": OWNER, "group": GROUP, "mode": "0644", "validate": "true"}, "%s"),
    ],
)
def test_bad_entries_fail_with_the_path(mod: ModuleType, tmp_path: Path, item: dict[str, str], message: str) -> None:
    item = {**item, "path": str(tmp_path / "x")}
    with pytest.raises(Failed, match=message):
        mod.run(FakeModule(files=[item]))
    assert not (tmp_path / "x").exists()
