"""Contract: one boot budget. The capacity model's boot_to_healthy_seconds (launch -> healthy, per
environment) is EC2's instance launch (tiers.yml arena_boot.instance_launch_seconds) plus the image's
boot to healthy; the image gate holds every image to what is left for it, the smallest over the
environments (scripts/image_gate.py boot_budget, scripts/gate.sh's default). The Auto Scaling groups'
grace period and warm-up derive from the same model (tests/unit/platform/test_capacity_vs_groups.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from arena_contracts import ENVIRONMENTS, REPO, image_gate, tier_facts


def capacity_file(path: Path, boot: int) -> Path:
    path.write_text(yaml.safe_dump({"arena_capacity_model": {"boot_to_healthy_seconds": boot}}))
    return path


def test_the_gate_budget_is_the_models_boot_less_the_instance_launch() -> None:
    boots = [
        yaml.safe_load((REPO / "inventories" / env / "group_vars/all/capacity.yml").read_text())[
            "arena_capacity_model"
        ]["boot_to_healthy_seconds"]
        for env in ENVIRONMENTS
    ]
    want = min(boots) - tier_facts()["arena_boot"]["instance_launch_seconds"]
    # What scripts/gate.sh runs for its default budget.
    command = [sys.executable, str(REPO / "scripts/image_gate.py"), "boot-budget"]
    assert subprocess.run(command, capture_output=True, text=True, check=True).stdout == f"{want}\n"
    assert want > 0


def test_the_strictest_environment_sets_the_budget(tmp_path: Path) -> None:
    files = [capacity_file(tmp_path / "a.yml", 300), capacity_file(tmp_path / "b.yml", 250)]
    assert image_gate().boot_budget(files) == 250 - tier_facts()["arena_boot"]["instance_launch_seconds"]


def test_a_model_that_leaves_the_image_nothing_is_refused(tmp_path: Path) -> None:
    launch = tier_facts()["arena_boot"]["instance_launch_seconds"]
    path = capacity_file(tmp_path / "capacity.yml", launch)
    with pytest.raises(image_gate().GateError) as err:
        image_gate().boot_budget([path])
    assert str(err.value) == (
        f"boot_to_healthy_seconds {launch} ({path}) leaves nothing for the image after the instance launch"
        f" (tiers.yml arena_boot.instance_launch_seconds {launch})"
    )
