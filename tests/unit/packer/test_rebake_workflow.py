"""The weekly rebake (issue 17): a scheduled workflow that bakes and gates the images in the lab and
only then bakes and publishes the AMIs through the normal release path (the ami workflow)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
REBAKE = ROOT / ".github" / "workflows" / "rebake.yml"
AMI = ROOT / ".github" / "workflows" / "ami.yml"


def workflow(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    # YAML 1.1 reads a bare `on` as True; the workflows quote it.
    assert "on" in data, f"{path.name}: quote the 'on' key"
    return data


def test_it_runs_weekly_and_by_hand() -> None:
    triggers = workflow(REBAKE)["on"]
    (schedule,) = triggers["schedule"]
    minute, hour, day_of_month, month, day_of_week = schedule["cron"].split()
    assert (day_of_month, month) == ("*", "*"), "every week, not some months"
    assert day_of_week.isdigit() and 0 <= int(day_of_week) <= 6, "once a week, on one weekday"
    assert minute.isdigit() and hour.isdigit()
    assert "workflow_dispatch" in triggers


def test_the_lab_gate_passes_before_any_ami_is_baked() -> None:
    jobs = workflow(REBAKE)["jobs"]
    runs = [step.get("run", "") for step in jobs["gate"]["steps"]]
    assert "make images" in runs, "the lab bake + gate (patched images, no pending security update)"
    assert jobs["aws"]["needs"] == "gate"
    assert jobs["aws"]["uses"] == "./.github/workflows/ami.yml", "the normal release path, not a copy of it"


def test_the_release_workflow_can_be_called_and_keeps_the_security_index() -> None:
    ami = workflow(AMI)
    assert "workflow_call" in ami["on"]
    upload = next(s for s in ami["jobs"]["bake"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact"))
    assert "build/images/${{ matrix.tier }}/apt/" in upload["with"]["path"]
