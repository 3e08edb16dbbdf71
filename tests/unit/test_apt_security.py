"""scripts/apt_security.py: the image gate's pending-security-update check (issue 17).

The version order is dpkg's (deb-version(7)); it is checked against `dpkg --compare-versions` itself,
on tricky hand-picked versions and on generated ones, so the gate cannot pass an unpatched package
because of a comparison slip.
"""

from __future__ import annotations

import io
import itertools
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
from arena_loader import load_source
from hypothesis import given
from hypothesis import strategies as st

DPKG = shutil.which("dpkg")

# Versions that exercise every rule: epochs, '~' (before the end), '+', letters before non-letters,
# leading zeros, revisions, Debian security suffixes.
TRICKY = [
    "1.0",
    "1.0-0",
    "1.0-1",
    "1.0~rc1-1",
    "1.0~~-1",
    "1.0+deb12u1",
    "1.0-1+deb12u1",
    "1.0-1+deb12u10",
    "1.0-1+deb12u2",
    "1:0.9",
    "0:1.0",
    "1.00",
    "1.0a",
    "1.0.",
    "1.0+",
    "1.0-1~bpo12+1",
    "2.5.0-1",
    "2.5.0-1+deb12u1",
    "5.36.0-7+deb12u3",
    "5.36.0-7+deb12u4",
    "1.5.4+dfsg2-5",
    "1.5.4+dfsg2-5+deb12u1",
    "252.39-1~deb12u1",
    "252.38-1~deb12u1",
    "10",
    "9",
    "a",
    "~",
]


@pytest.fixture(scope="module")
def mod() -> ModuleType:
    return load_source("scripts/apt_security.py", "apt_security")


def dpkg_says(a: str, b: str) -> int:
    """dpkg's own answer: -1, 0 or 1."""
    for op, result in (("lt", -1), ("eq", 0)):
        if subprocess.run([DPKG, "--compare-versions", a, op, b], check=False).returncode == 0:
            return result
    return 1


@pytest.mark.skipif(DPKG is None, reason="dpkg is not installed on this host")
def test_the_order_is_dpkgs_on_tricky_versions(mod: ModuleType) -> None:
    wrong = [
        (a, b, mod.compare_versions(a, b), dpkg_says(a, b))
        for a, b in itertools.combinations(TRICKY, 2)
        if mod.compare_versions(a, b) != dpkg_says(a, b)
    ]
    assert wrong == []


VERSION_PART = st.text(alphabet="0123456789abz.+~", min_size=1, max_size=8).filter(lambda s: s[0].isdigit())


@pytest.mark.skipif(DPKG is None, reason="dpkg is not installed on this host")
@given(
    st.tuples(st.integers(0, 2), VERSION_PART, st.one_of(st.just(""), VERSION_PART)),
    st.tuples(st.integers(0, 2), VERSION_PART, st.one_of(st.just(""), VERSION_PART)),
)
def test_the_order_is_dpkgs_on_generated_versions(mod: ModuleType, a: tuple, b: tuple) -> None:
    def text(epoch: int, upstream: str, revision: str) -> str:
        return (f"{epoch}:" if epoch else "") + upstream + (f"-{revision}" if revision else "")

    va, vb = text(*a), text(*b)
    assert mod.compare_versions(va, vb) == dpkg_says(va, vb), (va, vb)


INDEX = """Package: libexpat1
Source: expat
Version: 2.5.0-1+deb12u1
Architecture: amd64

Package: libexpat1
Version: 2.5.0-1+deb12u2
Architecture: amd64

Package: tzdata
Version: 2025b-0+deb12u1
Architecture: all

Package: zlib1g
Version: 1:1.2.13.dfsg-1+deb12u1
Architecture: amd64
"""

INSTALLED = "\n".join(
    [
        "libexpat1 amd64 2.5.0-1 ii ",  # older than the index: pending
        "tzdata all 2025b-0+deb12u1 ii ",  # the index's version: patched
        "zlib1g amd64 1:1.2.13.dfsg-1+deb12u1 hi ",  # held, but patched
        "perl-base amd64 5.36.0-7+deb12u3 ii ",  # not in the security index
        "libexpat1 i386 2.5.0-1 ii ",  # another architecture than the index has
        "apt amd64 2.6.1 rc ",  # removed, config files only: not installed
    ]
)


def test_pending_names_only_installed_packages_the_index_has_newer(mod: ModuleType) -> None:
    index = mod.index_versions([INDEX])
    assert index[("libexpat1", "amd64")] == "2.5.0-1+deb12u2"  # the newest stanza wins
    assert mod.pending(INSTALLED, index) == ["libexpat1 amd64 2.5.0-1 -> 2.5.0-1+deb12u2"]


def test_a_held_package_behind_the_index_is_pending(mod: ModuleType) -> None:
    index = mod.index_versions([INDEX])
    assert mod.pending("zlib1g amd64 1:1.2.13.dfsg-1 hi \n", index) == [
        "zlib1g amd64 1:1.2.13.dfsg-1 -> 1:1.2.13.dfsg-1+deb12u1"
    ]


def test_cli_exit_codes(mod: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    assert mod.main(["apt_security.py", str(tmp_path)]) == 2  # no index: refuse, never pass
    assert "no *_Packages security index" in capsys.readouterr().err
    (tmp_path / "deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages").write_text(INDEX)
    monkeypatch.setattr("sys.stdin", io.StringIO(INSTALLED))
    assert mod.main(["apt_security.py", str(tmp_path)]) == 1
    assert capsys.readouterr().out == "libexpat1 amd64 2.5.0-1 -> 2.5.0-1+deb12u2\n"
    monkeypatch.setattr("sys.stdin", io.StringIO("tzdata all 2025b-0+deb12u1 ii \n"))
    assert mod.main(["apt_security.py", str(tmp_path)]) == 0
