"""The weekly rebake (issue 17): a scheduled workflow that bakes and gates the images in the lab and
only then bakes and publishes the AMIs through the normal release path (the ami workflow)."""

from __future__ import annotations

from arena_testlib import github_workflow


def test_it_runs_weekly_and_by_hand() -> None:
    triggers = github_workflow("rebake.yml")["on"]
    (schedule,) = triggers["schedule"]
    minute, hour, day_of_month, month, day_of_week = schedule["cron"].split()
    assert (day_of_month, month) == ("*", "*"), "every week, not some months"
    assert day_of_week.isdigit() and 0 <= int(day_of_week) <= 6, "once a week, on one weekday"
    assert minute.isdigit() and hour.isdigit()
    assert "workflow_dispatch" in triggers


def test_the_lab_gate_passes_before_any_ami_is_baked() -> None:
    jobs = github_workflow("rebake.yml")["jobs"]
    runs = [step.get("run", "") for step in jobs["gate"]["steps"]]
    assert "make images" in runs, "the lab bake + gate (patched images, no pending security update)"
    assert jobs["aws"]["needs"] == "gate"
    assert jobs["aws"]["uses"] == "./.github/workflows/ami.yml", "the normal release path, not a copy of it"


def test_the_release_workflow_can_be_called_and_keeps_the_security_index() -> None:
    ami = github_workflow("ami.yml")
    assert "workflow_call" in ami["on"]
    upload = next(s for s in ami["jobs"]["bake"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact"))
    assert "build/images/${{ matrix.tier }}/apt/" in upload["with"]["path"]
