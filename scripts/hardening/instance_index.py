#!/usr/bin/env python3
"""Lynis hardening index as on an instance, from a container's Lynis log and the image's sysctl files.

A container shares the host's kernel: the kernel-global sysctl keys (kernel.*, fs.*, dev.tty.*,
net.core.*) keep the host's values there, whatever the image's /etc/sysctl.d says, and Lynis'
KRNL-6000 counts one point against each. On an instance systemd-sysctl applies the image's files
at boot. This re-counts exactly those points: a KRNL-6000 key that differs in the container AND
that the image's sysctl.d sets to Lynis' expected value counts as passed.

Nothing else is re-counted (issue 17: no re-counting beyond the kernel-global sysctls the image
sets). In particular auditd, which a container never runs (hardening conditions it on !container)
but an instance does, keeps the point Lynis' ACCT-9628 takes in the container.

    instance_index.py LYNIS_LOG SYSCTL_TEXT_FILE
        ->  prints "<index> <points> <total> <re-counted keys>"
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DIFF = re.compile(r"sysctl key (\S+) has a different value than expected in scan profile\. Expected=(\S+), Real=")
POINTS = re.compile(r"Currently having (\d+) points \(out of (\d+)\)")


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


def instance_index(log: str, sysctl_text: str) -> tuple[int, int, int, list[str]]:
    """(index, points, total, re-counted keys) for a Lynis log and the image's sysctl text."""
    totals = POINTS.findall(log)
    if not totals:
        raise ValueError("no hardening points in the Lynis log")
    points, total = (int(v) for v in totals[-1])
    wanted = sysctl_values(sysctl_text)
    keys = sorted({key for key, expected in DIFF.findall(log) if wanted.get(key) == expected})
    points += len(keys)
    return points * 100 // total, points, total, keys


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    index, points, total, keys = instance_index(Path(argv[1]).read_text(), Path(argv[2]).read_text())
    print(index, points, total, ",".join(keys) or "-")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
