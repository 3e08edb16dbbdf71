#!/usr/bin/env python3
"""Lynis hardening index as on an instance, from a container's Lynis log and the image's sysctl files.

A container shares the host's kernel: the kernel-global sysctl keys (kernel.*, fs.*, dev.tty.*,
net.core.*) keep the host's values there, whatever the image's /etc/sysctl.d says, and Lynis'
KRNL-6000 counts one point against each. On an instance systemd-sysctl applies the image's files
at boot. This re-counts exactly those points: a KRNL-6000 key that differs in the container AND
that the image's sysctl.d sets to Lynis' expected value counts as passed.

The same holds for auditd: a container never gets the kernel's audit subsystem, so auditd.service
is skipped there (hardening conditions it on !container) and Lynis' ACCT-9628 ("auditd not
active") costs one point. When the image enables auditd.service, that point is re-counted (item
"auditd"). Lynis' follow-up tests on a running auditd (ACCT-9630 rules, ACCT-9632 configuration)
are not guessed: they do not run in the container and are not counted either way. Nothing else
changes.

    instance_index.py LYNIS_LOG SYSCTL_TEXT_FILE [ENABLED_UNITS_FILE]
        ->  prints "<index> <points> <total> <re-counted items>"
    ENABLED_UNITS_FILE: `systemctl list-unit-files --state=enabled --no-legend` of the image.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DIFF = re.compile(r"sysctl key (\S+) has a different value than expected in scan profile\. Expected=(\S+), Real=")
POINTS = re.compile(r"Currently having (\d+) points \(out of (\d+)\)")
AUDITD_LOST = re.compile(
    r"Performing test ID ACCT-9628 .*?\n(?:(?!Performing test ID).*\n)*?.*Result: auditd not active\n"
    r"(?:(?!Performing test ID).*\n)*?.*assigned partial number of hardening points \(0 of 1\)"
)


def sysctl_values(text: str) -> dict[str, str]:
    """key -> value of sysctl.d files (later files win, as systemd-sysctl applies them)."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        values[key.lstrip("-").replace("/", ".")] = value
    return values


def instance_index(log: str, sysctl_text: str, enabled_units: str = "") -> tuple[int, int, int, list[str]]:
    """(index, points, total, re-counted items) for a Lynis log, the image's sysctl text and its enabled units."""
    totals = POINTS.findall(log)
    if not totals:
        raise ValueError("no hardening points in the Lynis log")
    points, total = (int(v) for v in totals[-1])
    wanted = sysctl_values(sysctl_text)
    keys = sorted({key for key, expected in DIFF.findall(log) if wanted.get(key) == expected})
    if "auditd.service" in enabled_units.split() and AUDITD_LOST.search(log):
        keys.append("auditd")
    points += len(keys)
    return points * 100 // total, points, total, keys


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    units = Path(argv[3]).read_text() if len(argv) == 4 else ""
    index, points, total, keys = instance_index(Path(argv[1]).read_text(), Path(argv[2]).read_text(), units)
    print(index, points, total, ",".join(keys) or "-")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
