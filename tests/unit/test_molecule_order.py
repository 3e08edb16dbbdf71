"""scripts/molecule.sh runs every scenario of the repository, longest first: by the lab's previous run
when there is one, else by the quiet-machine figures (a clean clone has no previous run). A listing
that comes out empty is a failure, never a pass (a clean-clone `make test` once reported the molecule
stage passed with no scenario run)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(
    f"{p.parents[2].relative_to(ROOT)}:{p.parent.name}" for p in ROOT.glob("roles/*/molecule/*/molecule.yml")
)


def order(lab: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["scripts/molecule.sh"],
        cwd=ROOT,
        env={**os.environ, "ARENA_LAB_DIR": str(lab), "MOLECULE_DRY_RUN": "1", **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_a_clean_clone_runs_every_scenario_the_known_longest_first(tmp_path: Path) -> None:
    listed = order(tmp_path / "fresh-lab")
    assert listed.returncode == 0, listed.stderr
    names = listed.stdout.split()
    assert sorted(names) == SCENARIOS
    assert len(SCENARIOS) >= 8
    assert names[:2] == ["roles/image_cleanup:default", "roles/hardening:default"]
    assert not (tmp_path / "fresh-lab").exists(), "a dry run must not make the lab directory"


def test_the_previous_runs_seconds_decide_and_a_failed_one_counts_as_unknown(tmp_path: Path) -> None:
    (tmp_path / "molecule").mkdir()
    seconds = {name: 10 + i for i, name in enumerate(SCENARIOS) if name != "roles/base:default"}
    seconds["roles/web:default"] = 900
    lines = [f"{name:<40} passed   {secs:4d} s" for name, secs in seconds.items()]
    lines.append(f"{'roles/base:default':<40} FAILED   9999 s")  # not a duration to plan on: 100 s
    (tmp_path / "molecule" / "summary").write_text("\n".join(lines) + "\n")
    names = order(tmp_path).stdout.split()
    assert sorted(names) == SCENARIOS
    assert names[:2] == ["roles/web:default", "roles/base:default"]
    assert names[2:] == sorted(names[2:], key=lambda n: -seconds[n])


def test_no_scenario_is_a_failure_naming_what_was_asked(tmp_path: Path) -> None:
    listed = order(tmp_path, MOLECULE_SCENARIOS=" ")
    assert listed.returncode != 0
    assert "no molecule scenario to run" in listed.stderr + listed.stdout
