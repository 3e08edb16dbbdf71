"""scripts/sbom.py: a CycloneDX 1.5 JSON document with one component per installed package, the
image as the subject, and the git SHA and role versions as metadata; bad input is refused."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from arena_testlib import REPO_ROOT

SPEC = importlib.util.spec_from_file_location("arena_sbom", REPO_ROOT / "scripts" / "sbom.py")
sbom = importlib.util.module_from_spec(SPEC)
sys.modules["arena_sbom"] = sbom
SPEC.loader.exec_module(sbom)

DPKG = "nginx\t1.22.1-9+deb12u1\tamd64\tii \nlibc6\t2.36-9+deb12u10\tamd64\tii \nold-pkg\t1.0\tall\trc \n"


def test_document(tmp_path: Path) -> None:
    packages = tmp_path / "dpkg.txt"
    packages.write_text(DPKG)
    out = tmp_path / "sbom.cdx.json"
    rc = sbom.main(
        [
            "--image",
            "localhost/arena-web:2026.1",
            "--tier",
            "web",
            "--git-sha",
            "abc1234",
            "--role-versions",
            "base=111,web=222",
            "--packages",
            str(packages),
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    doc = json.loads(out.read_text())
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.5"
    purls = sorted(c["purl"] for c in doc["components"])
    assert purls == [
        "pkg:deb/debian/libc6@2.36-9%2Bdeb12u10?arch=amd64",
        "pkg:deb/debian/nginx@1.22.1-9%2Bdeb12u1?arch=amd64",
    ]
    subject = doc["metadata"]["component"]
    assert (subject["name"], subject["version"], subject["type"]) == ("arena-web", "2026.1", "container")
    props = {p["name"]: p["value"] for p in doc["metadata"]["properties"]}
    assert props == {"arena:git-sha": "abc1234", "arena:role:base": "111", "arena:role:web": "222"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nginx 1.22 amd64\n", "sbom: line 1 is not 'name<TAB>version<TAB>arch': 'nginx 1.22 amd64'"),
        ("old\t1.0\tall\trc \n", "sbom: no installed packages found for localhost/arena-web:1"),
    ],
)
def test_bad_package_lists(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str) -> None:
    packages = tmp_path / "dpkg.txt"
    packages.write_text(text)
    args = ["--image", "localhost/arena-web:1", "--tier", "web", "--git-sha", "abc1234"]
    rc = sbom.main([*args, "--packages", str(packages), "--out", str(tmp_path / "x.json")])
    assert rc == 2
    assert capsys.readouterr().err.strip() == message
    assert not (tmp_path / "x.json").exists()


def test_bad_role_versions() -> None:
    with pytest.raises(ValueError, match="sbom: role version 'base' is not role=version"):
        sbom.parse_role_versions("base,web=1")
