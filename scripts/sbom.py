#!/usr/bin/env python3
"""CycloneDX JSON SBOM of a baked image: its installed Debian packages (name, version,
architecture, as package URLs), plus the repository's git SHA and the role versions.

    scripts/sbom.py --image localhost/arena-web:1.0 --tier web --git-sha abc1234 \\
        --role-versions base=1a2b,web=3c4d --out build/images/web/sbom.cdx.json

The package list is read from the image itself (dpkg-query in a throw-away container, no boot), or
from --packages FILE (dpkg-query -W -f '${Package}\\t${Version}\\t${Architecture}\\n' output).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from cyclonedx.model import Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot5
from packageurl import PackageURL

DPKG_FORMAT = "${Package}\\t${Version}\\t${Architecture}\\t${db:Status-Abbrev}\\n"


def parse_packages(text: str) -> list[tuple[str, str, str]]:
    """Lines of `name<TAB>version<TAB>arch[<TAB>status]`; only installed ('ii') packages are kept."""
    packages = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 3 or not all(fields[:3]):
            raise ValueError(f"sbom: line {number} is not 'name<TAB>version<TAB>arch': {line!r}")
        if len(fields) > 3 and not fields[3].startswith("ii"):
            continue
        packages.append((fields[0], fields[1], fields[2]))
    return sorted(set(packages))


def image_packages(image: str) -> str:
    result = subprocess.run(
        ["podman", "run", "--rm", "--entrypoint", "dpkg-query", image, "-W", f"-f={DPKG_FORMAT}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"sbom: dpkg-query in {image} failed: {result.stderr.strip()}")
    return result.stdout


def parse_role_versions(text: str) -> dict[str, str]:
    versions = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, version = item.partition("=")
        if not sep or not name or not version:
            raise ValueError(f"sbom: role version {item!r} is not role=version")
        versions[name] = version
    return versions


def build_bom(
    *,
    image: str,
    tier: str,
    git_sha: str,
    role_versions: dict[str, str],
    packages: Iterable[tuple[str, str, str]],
    distro: str = "debian",
) -> Bom:
    bom = Bom()
    subject = Component(
        name=f"arena-{tier}",
        version=image.rsplit(":", 1)[-1] if ":" in image else "unknown",
        type=ComponentType.CONTAINER,
        bom_ref=image,
        properties=[
            Property(name="arena:image", value=image),
            Property(name="arena:tier", value=tier),
            Property(name="arena:git-sha", value=git_sha),
        ],
    )
    bom.metadata.component = subject
    for role, version in sorted(role_versions.items()):
        bom.metadata.properties.add(Property(name=f"arena:role:{role}", value=version))
    bom.metadata.properties.add(Property(name="arena:git-sha", value=git_sha))
    for name, version, arch in packages:
        purl = PackageURL(type="deb", namespace=distro, name=name, version=version, qualifiers={"arch": arch})
        component = Component(
            name=name,
            version=version,
            type=ComponentType.LIBRARY,
            purl=purl,
            bom_ref=purl.to_string(),
        )
        bom.components.add(component)
        bom.register_dependency(subject, [component])
    return bom


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", required=True)
    parser.add_argument("--tier", required=True, choices=["web", "api", "admin"])
    parser.add_argument("--git-sha", required=True)
    parser.add_argument("--role-versions", default="")
    parser.add_argument("--packages", type=Path, help="dpkg-query output instead of reading the image")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        text = args.packages.read_text() if args.packages else image_packages(args.image)
        packages = parse_packages(text)
        if not packages:
            raise ValueError(f"sbom: no installed packages found for {args.image}")
        bom = build_bom(
            image=args.image,
            tier=args.tier,
            git_sha=args.git_sha,
            role_versions=parse_role_versions(args.role_versions),
            packages=packages,
        )
    except (ValueError, RuntimeError) as error:
        print(error, file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(JsonV1Dot5(bom).output_as_string(indent=2) + "\n")
    print(f"{args.out}: {len(packages)} packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
