#!/usr/bin/env python3
"""The hardening exceptions list (roles/hardening/vars/exceptions.yml): printed, rendered, checked.

    exceptions.py [PROFILE...]     the exceptions of these tier profiles (default all), one line each,
                                   as make score prints them after the Lynis figures
    exceptions.py --write-docs     rewrite the table between the BEGIN/END_HARDENING_EXCEPTIONS
                                   markers of docs/hardening.md
    exceptions.py --check-docs     write nothing; exit 1 when that table differs from the list
                                   (scripts/lint.sh runs it, like the role READMEs' drift check)

Every entry needs id, control, tiers, kind, reason and instead (see the file's header); a bad entry
is an error naming it, so the list cannot silently lose a reason.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXCEPTIONS = ROOT / "roles" / "hardening" / "vars" / "exceptions.yml"
DOC = ROOT / "docs" / "hardening.md"
PROFILES = ("web", "api", "admin")
KINDS = ("alternative", "not-applicable", "accepted", "deferred")
FIELDS = ("id", "control", "tiers", "kind", "reason", "instead")
BEGIN, END = "<!-- BEGIN_HARDENING_EXCEPTIONS -->", "<!-- END_HARDENING_EXCEPTIONS -->"


class ExceptionsError(ValueError):
    pass


def load(path: Path = EXCEPTIONS) -> list[dict]:
    """The entries, each checked: every field, known tiers and kind, unique ids."""
    entries = yaml.safe_load(path.read_text())["hardening_exceptions"]
    seen: set[str] = set()
    for number, entry in enumerate(entries, 1):
        name = entry.get("id", f"entry {number}")
        missing = [field for field in FIELDS if field not in entry]
        if missing:
            raise ExceptionsError(f"{path.name}: {name}: missing {', '.join(missing)}")
        if not re.fullmatch(r"(CIS|Lynis) \S.*", entry["id"]):
            raise ExceptionsError(f"{path.name}: {name}: id must start with 'CIS ' or 'Lynis '")
        if entry["kind"] not in KINDS:
            raise ExceptionsError(f"{path.name}: {name}: kind '{entry['kind']}' is not one of {', '.join(KINDS)}")
        unknown = [tier for tier in entry["tiers"] or [] if tier not in PROFILES]
        if not entry["tiers"] or unknown:
            raise ExceptionsError(f"{path.name}: {name}: tiers must be a non-empty subset of {', '.join(PROFILES)}")
        if not str(entry["reason"]).strip():
            raise ExceptionsError(f"{path.name}: {name}: the reason is empty")
        if entry["id"] in seen:
            raise ExceptionsError(f"{path.name}: {name}: listed twice")
        seen.add(entry["id"])
    return entries


def for_profiles(entries: list[dict], profiles: list[str]) -> list[dict]:
    return [entry for entry in entries if set(entry["tiers"]) & set(profiles)]


def text(entries: list[dict], profiles: list[str]) -> str:
    """One line per exception of these profiles, then a count per kind."""
    chosen = for_profiles(entries, profiles)
    lines = [f"Hardening exceptions ({', '.join(profiles)}; {EXCEPTIONS.relative_to(ROOT)}):"]
    for entry in chosen:
        tiers = "" if set(entry["tiers"]) >= set(profiles) else f" [{', '.join(entry['tiers'])}]"
        lines.append(f"  {entry['id']:<34} {entry['kind']:<15} {entry['control']}{tiers}")
    counts = {kind: sum(entry["kind"] == kind for entry in chosen) for kind in KINDS}
    lines.append("  " + ", ".join(f"{count} {kind}" for kind, count in counts.items() if count))
    return "\n".join(lines)


def markdown(entries: list[dict]) -> str:
    def cell(value: object) -> str:
        return " ".join(str(value).split()).replace("|", "\\|") or "-"

    rows = [
        "| id | control | tiers | kind | why | instead |",
        "|---|---|---|---|---|---|",
    ]
    rows += [
        "| "
        + " | ".join(
            cell(v) for v in (e["id"], e["control"], ", ".join(e["tiers"]), e["kind"], e["reason"], e["instead"])
        )
        + " |"
        for e in entries
    ]
    return "\n".join(rows)


def render_doc(doc: str, entries: list[dict]) -> str:
    if BEGIN not in doc or END not in doc:
        raise ExceptionsError(f"{DOC.name} has no {BEGIN} ... {END} block")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    note = f"<!-- generated from {EXCEPTIONS.relative_to(ROOT)} by scripts/hardening/exceptions.py --write-docs -->"
    return f"{head}{BEGIN}\n{note}\n{markdown(entries)}\n{END}{tail}"


def main(argv: list[str]) -> int:
    try:
        entries = load()
        if argv[1:] == ["--write-docs"]:
            DOC.write_text(render_doc(DOC.read_text(), entries))
            return 0
        if argv[1:] == ["--check-docs"]:
            if render_doc(DOC.read_text(), entries) != DOC.read_text():
                print(
                    f"{DOC.relative_to(ROOT)}: the exceptions table differs from {EXCEPTIONS.relative_to(ROOT)} "
                    "(scripts/hardening/exceptions.py --write-docs)",
                    file=sys.stderr,
                )
                return 1
            return 0
        profiles = argv[1:] or list(PROFILES)
        bad = [p for p in profiles if p not in PROFILES]
        if bad:
            print(f"exceptions.py: unknown profile(s) {', '.join(bad)} ({', '.join(PROFILES)})", file=sys.stderr)
            return 2
        print(text(entries, profiles))
        return 0
    except ExceptionsError as exc:
        print(f"exceptions.py: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
