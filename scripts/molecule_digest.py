#!/usr/bin/env python3
"""Why a molecule scenario failed, in a few lines: scripts/molecule_digest.py LOG [MAX_LINES].

A failed scenario's log ends with the destroy play, so its tail rarely shows the cause. This prints
what does: each failing task (name and the start of its error, tasks whose failure was ignored
left out), the tasks that broke idempotence, the failed testinfra tests and molecule's own errors.
Works on both of molecule's log layouts (plain, and boxed with a TTY) with or without colour.
"""

import re
import sys

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
BOX = re.compile(r"^\s*[│┌└][─ ]?\s?")
TASK = re.compile(r"^(TASK|RUNNING HANDLER) \[")
FAILED_HOST = re.compile(r"^(fatal|failed): \[")
# molecule's own errors; pytest's failed tests and their assertion lines (not ansible's retries).
TOP_LEVEL = re.compile(r"^(ERROR|CRITICAL)\s|^FAILED (?!- RETRYING)|^E   ")
STOP = re.compile(r"^(TASK|RUNNING HANDLER|PLAY) \[|^PLAY RECAP")
BLOCK_LINES = 8
WIDTH = 300
# apt in the package layer image (scripts/deps-image.sh) is offline through this proxy: a download
# attempt means a package is missing from the image's cache.
OFFLINE_APT = "127.0.0.1:9"
OFFLINE_HINT = (
    "  hint: apt tried to download in a role scenario: a package is missing from the package layer's"
    " cache (scripts/deps-packages.yml, a role's apt task; make deps-image)"
)


def clean(line):
    return BOX.sub("", ANSI.sub("", line.rstrip("\n"))).rstrip()


def _top_level(line, pending_idempotence):
    """A line worth keeping outside a failed task: molecule's errors, idempotence, failed tests."""
    return bool(pending_idempotence or TOP_LEVEL.match(line))


def digest(lines, max_lines=40):
    out, task, block, pending_idempotence = [], "", None, 0
    for raw in lines:
        line = clean(raw)
        if block is not None:
            if "...ignoring" in line:
                block = None  # ignore_errors: not a cause
                continue
            if not STOP.search(line) and len(block) <= BLOCK_LINES:
                block.append("    " + line[:WIDTH])
                continue
            out.extend(block)
            block = None
        if TASK.search(line):
            task = line.rstrip("* ").strip()
        elif FAILED_HOST.search(line):
            block = [f"  {task}", "    " + line[:WIDTH]]
        elif pending_idempotence and line.lstrip().startswith(("*", "-")):
            out.append("    " + line.strip()[:WIDTH])
            pending_idempotence -= 1
        else:
            pending_idempotence = 10 if "Idempotence test failed" in line else 0
            # molecule repeats its errors (e.g. the failed command): each once.
            if _top_level(line, pending_idempotence) and "  " + line[:WIDTH] not in out:
                out.append("  " + line[:WIDTH])
    out.extend(block or [])
    if any(OFFLINE_APT in line for line in out):
        out.append(OFFLINE_HINT)
    if len(out) > max_lines:
        out = [*out[:max_lines], f"  ... {len(out) - max_lines} more lines in the log"]
    return out


def main(argv):
    if len(argv) not in (2, 3):
        sys.exit("usage: molecule_digest.py LOG [MAX_LINES]")
    with open(argv[1], encoding="utf-8", errors="replace") as handle:
        log = handle.readlines()
    lines = digest(log, int(argv[2]) if len(argv) == 3 else 40)
    if not lines:  # e.g. molecule itself did not start: the log's last lines are the cause
        tail = [line for line in map(clean, log) if line][-5:]
        lines = ["  (no failing task in the log; its last lines:)"] + ["    " + line[:WIDTH] for line in tail]
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv)
