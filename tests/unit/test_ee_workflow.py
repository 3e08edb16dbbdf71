"""The execution environment workflow (issue 20, .github/workflows/ee.yml): on a release tag it builds
the EE and runs the in-image tests, with the targets make defines, least privilege and pinned actions,
on the lab runner the rebake workflow's gate uses."""

from __future__ import annotations

import re
from pathlib import Path

from arena_testlib import github_workflow

ROOT = Path(__file__).resolve().parents[2]


def test_it_runs_on_release_tags() -> None:
    assert github_workflow("ee.yml")["on"]["push"] == {"tags": ["v*"]}


def test_it_reads_only() -> None:
    assert github_workflow("ee.yml")["permissions"] == {"contents": "read"}


def test_it_builds_then_tests_the_ee_on_the_lab_runner() -> None:
    (job,) = github_workflow("ee.yml")["jobs"].values()
    assert job["runs-on"] == github_workflow("rebake.yml")["jobs"]["gate"]["runs-on"]
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert runs.index("make ee") < runs.index("make ee-test")
    targets = {
        m.group(1)
        for mk in [ROOT / "Makefile", *ROOT.glob("mk/*.mk")]
        for m in re.finditer(r"^([\w-]+):", mk.read_text(), re.M)
    }
    assert {"ee", "ee-test"} <= targets, "make ee / make ee-test must be defined (Makefile, mk/*.mk)"


def test_actions_are_pinned() -> None:
    (job,) = github_workflow("ee.yml")["jobs"].values()
    uses = [step["uses"] for step in job["steps"] if "uses" in step]
    assert uses and all(re.fullmatch(r"[\w-]+/[\w-]+@v\d+", u) for u in uses), uses
