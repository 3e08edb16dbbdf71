"""apps/build_artifacts.py: reproducible artifacts, fingerprinted assets, checksums beside them."""

from __future__ import annotations

import hashlib
import io
import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "apps"))

import build_artifacts as builder  # apps/ is put on sys.path above


def members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: m for m in tar.getmembers()}


def test_build_is_reproducible(tmp_path: Path) -> None:
    builder.main(["--out", str(tmp_path / "a")])
    builder.main(["--out", str(tmp_path / "b")])
    for name in ("arena-site-1.0.0.tar.gz", "arena-api-1.0.0.tar.gz"):
        first, second = (tmp_path / "a" / name).read_bytes(), (tmp_path / "b" / name).read_bytes()
        assert first == second
        assert (tmp_path / "a" / f"{name}.sha256").read_text() == hashlib.sha256(first).hexdigest() + "\n"


def test_site_assets_fingerprinted_and_linked() -> None:
    files = builder.render_site(builder.SITE_DIR)
    assets = sorted(p for p in files if p.startswith("assets/"))
    assert [p.rsplit(".", 2)[0] for p in assets] == ["assets/app", "assets/app"]
    index = files["index.html"].decode()
    assert "{{asset:" not in index
    for path in assets:
        digest = hashlib.sha256(files[path]).hexdigest()[:12]
        assert f".{digest}." in path
        assert f"/{path}" in index


def test_archive_members_root_owned_without_mtime() -> None:
    data = builder.tar_gz({"a/b.txt": b"x", "c.txt": b"y"})
    infos = members(data)
    assert sorted(infos) == ["a", "a/b.txt", "c.txt"]
    assert {(m.uid, m.gid, m.mtime) for m in infos.values()} == {(0, 0, 0)}


def test_api_artifact_holds_the_package() -> None:
    assert sorted(builder.api_files(builder.API_DIR)) == ["arena_api/__init__.py", "arena_api/app.py"]
    assert builder.api_version(builder.API_DIR) == "1.0.0"


@pytest.mark.parametrize(
    ("name", "message"), [("Makefile", "fingerprint: asset name needs an extension, got 'Makefile'")]
)
def test_fingerprint_needs_extension(name: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        builder.fingerprint(name, b"")
    assert str(err.value) == message


def test_unknown_asset_reference(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "app.css").write_text("body{}")
    (tmp_path / "index.html").write_text('<link href="/assets/{{asset:nope.css}}">')
    with pytest.raises(ValueError) as err:
        builder.render_site(tmp_path)
    assert str(err.value) == "render_site: unknown asset 'nope.css'"
