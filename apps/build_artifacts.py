#!/usr/bin/env python3
"""Build the versioned fixture artifacts the web and api roles deploy (tests and the demo).

  python3 apps/build_artifacts.py [--out build/artifacts]

Writes, byte-for-byte reproducibly (fixed mtimes, owners and order, gzip without a timestamp):
  arena-site-<version>.tar.gz   the static site; assets renamed to <name>.<sha256[:12]>.<ext> and
                                referenced from the HTML, so they can be cached for a year
  arena-api-<version>.tar.gz    the reference API package (arena_api/)
and next to each a `<artifact>.sha256` holding the bare hex digest the roles' *_sha256 inputs take.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import re
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SITE_DIR = HERE / "site"
API_DIR = HERE / "reference_api"
SITE_VERSION = "1.0.0"
ASSET_REF = re.compile(r"\{\{asset:([A-Za-z0-9_.-]+)\}\}")


def fingerprint(name: str, data: bytes) -> str:
    """`app.css` + content -> `app.<first 12 hex of sha256>.css`."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        raise ValueError(f"fingerprint: asset name needs an extension, got {name!r}")
    return f"{stem}.{hashlib.sha256(data).hexdigest()[:12]}.{ext}"


def render_site(site_dir: Path) -> dict[str, bytes]:
    """Map of archive path -> content: fingerprinted assets and HTML with references resolved."""
    assets = {p.name: p.read_bytes() for p in sorted((site_dir / "assets").iterdir()) if p.is_file()}
    renamed = {name: fingerprint(name, data) for name, data in assets.items()}
    files = {f"assets/{renamed[name]}": data for name, data in assets.items()}

    def resolve(match: re.Match[str]) -> str:
        ref = match.group(1)
        if ref not in renamed:
            raise ValueError(f"render_site: unknown asset {ref!r}")
        return renamed[ref]

    for page in sorted(site_dir.glob("*.html")):
        files[page.name] = ASSET_REF.sub(resolve, page.read_text()).encode()
    return files


def api_files(api_dir: Path) -> dict[str, bytes]:
    pkg = api_dir / "arena_api"
    return {f"arena_api/{p.name}": p.read_bytes() for p in sorted(pkg.glob("*.py"))}


def api_version(api_dir: Path) -> str:
    match = re.search(r'^__version__ = "([^"]+)"$', (api_dir / "arena_api/__init__.py").read_text(), re.M)
    if not match:
        raise ValueError("api_version: no __version__ in arena_api/__init__.py")
    return match.group(1)


def tar_gz(files: dict[str, bytes]) -> bytes:
    """A reproducible .tar.gz: sorted members, root-owned, mtime 0, directories included."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = sorted({str(Path(p).parent) for p in files} - {"."})
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            tar.addfile(info)
        for path in sorted(files):
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(files[path]), 0o644, 0
            tar.addfile(info, io.BytesIO(files[path]))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def write_artifact(out_dir: Path, name: str, data: bytes) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    sha_path = out_dir / f"{name}.sha256"
    if not sha_path.exists() or sha_path.read_text() != digest + "\n":
        sha_path.write_text(digest + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE.parent / "build" / "artifacts")
    args = parser.parse_args(argv)
    built = [
        write_artifact(args.out, f"arena-site-{SITE_VERSION}.tar.gz", tar_gz(render_site(SITE_DIR))),
        write_artifact(args.out, f"arena-api-{api_version(API_DIR)}.tar.gz", tar_gz(api_files(API_DIR))),
    ]
    for path in built:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
