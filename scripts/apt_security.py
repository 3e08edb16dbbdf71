#!/usr/bin/env python3
"""Pending security updates of an image, against the security index its bake used (issue 17).

The bake (playbooks/tasks/apt_patch.yml) upgrades the node from its release's suites, then fetches
the Debian-Security suite's Packages index(es) it used to build/images/<tier>/apt/; image_cleanup
removes the lists from the image. The image gate (scripts/gate.sh, via image_gate.py security) reads
the BOOTED image's installed packages (dpkg-query) and refuses it when any package has a newer version
in that index: a pending security update.

    apt_security.py INDEX_DIR < dpkg-query -W -f '${Package} ${Architecture} ${Version} ${db:Status-Abbrev}\\n'
        prints one "package arch installed -> candidate" line per pending update; exit 1 when any,
        2 on bad input (no index in INDEX_DIR).

Versions are compared as dpkg compares them (deb-version(7): epoch, upstream version, revision;
letters before non-letters, '~' before everything, even the end), implemented here so that the gate
needs no python-apt; tests/unit/test_apt_security.py checks it against `dpkg --compare-versions`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

INSTALLED_LINE = re.compile(r"^(\S+) (\S+) (\S+) (\S+)\s*$")


def _order(char: str) -> int:
    """dpkg's order of one character of a non-digit part: '~' first, then the end, letters, others."""
    if char == "~":
        return -1
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


def _compare_part(a: str, b: str) -> int:
    """dpkg's verrevcmp of one upstream version or revision."""
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        # Non-digit prefix, character by character ('' sorts after '~' and before everything else).
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _order(a[i]) if i < len(a) and not a[i].isdigit() else 0
            bc = _order(b[j]) if j < len(b) and not b[j].isdigit() else 0
            if ac != bc:
                return -1 if ac < bc else 1
            i += 1
            j += 1
        # Digit run, numerically (leading zeros do not count).
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and a[i].isdigit() and j < len(b) and b[j].isdigit():
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first_diff:
            return -1 if first_diff < 0 else 1
    return 0


def split_version(version: str) -> tuple[int, str, str]:
    """(epoch, upstream, revision) of a Debian version string."""
    epoch = 0
    if ":" in version:
        head, version = version.split(":", 1)
        if not head.isdigit():
            raise ValueError(f"bad epoch in version {head}:{version}")
        epoch = int(head)
    upstream, _, revision = version.rpartition("-") if "-" in version else (version, "", "")
    return epoch, upstream, revision


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as Debian version a is older than, equal to or newer than b."""
    ea, ua, ra = split_version(a)
    eb, ub, rb = split_version(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _compare_part(ua, ub) or _compare_part(ra, rb)


def index_versions(texts: Iterable[str]) -> dict[tuple[str, str], str]:
    """(package, architecture) -> the newest version in Packages index texts (deb822 stanzas)."""
    newest: dict[tuple[str, str], str] = {}
    for text in texts:
        for stanza in re.split(r"\n\s*\n", text):
            fields = dict(re.findall(r"^([A-Za-z0-9-]+): *(.*)$", stanza, flags=re.MULTILINE))
            if not {"Package", "Version", "Architecture"} <= fields.keys():
                continue
            key = (fields["Package"], fields["Architecture"])
            if key not in newest or compare_versions(fields["Version"], newest[key]) > 0:
                newest[key] = fields["Version"]
    return newest


def installed_packages(dpkg_query: str) -> Iterator[tuple[str, str, str]]:
    """(package, architecture, version) of each installed package in dpkg-query's output."""
    for line in dpkg_query.splitlines():
        match = INSTALLED_LINE.match(line)
        # The second letter is the current state: installed, or on its way (unpacked, half-configured,
        # half-installed, triggers); the first (wanted: install, hold ...) does not matter.
        if match and match.group(4)[1:2] in {"i", "U", "F", "H", "W", "t"}:
            yield match.group(1), match.group(2), match.group(3)


def pending(dpkg_query: str, index: dict[tuple[str, str], str]) -> list[str]:
    """'package arch installed -> candidate' for every installed package the index has newer."""
    found = []
    for package, arch, version in installed_packages(dpkg_query):
        candidate = index.get((package, arch)) or index.get((package, "all"))
        if candidate and compare_versions(candidate, version) > 0:
            found.append(f"{package} {arch} {version} -> {candidate}")
    return sorted(found)


def read_index_dir(directory: Path) -> dict[tuple[str, str], str]:
    files = sorted(directory.glob("*_Packages")) if directory.is_dir() else []
    if not files:
        raise FileNotFoundError(
            f"no *_Packages security index in {directory} (the bake fetches it: playbooks/tasks/apt_patch.yml)"
        )
    return index_versions(f.read_text(errors="replace") for f in files)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        index = read_index_dir(Path(argv[1]))
    except FileNotFoundError as exc:
        print(f"apt_security: {exc}", file=sys.stderr)
        return 2
    found = pending(sys.stdin.read(), index)
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
