"""Every role scenario uses the lab's own create and destroy steps (molecule/resources/), and only
the platform keys that create step implements (its `__lab_known_keys`, read from the playbook, so
the list has one source). The stock molecule-podman steps poll async jobs and cost about 6 CPU-s
more per scenario on a quiet machine (docs/benchmarks.md); a key the lab's step does not know would be ignored by
podman run, so the create step refuses it at run time and this test refuses it before."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(ROOT.glob("roles/*/molecule/*/molecule.yml"))
CREATE = ROOT / "molecule" / "resources" / "create.yml"
DESTROY = ROOT / "molecule" / "resources" / "destroy.yml"


def known_keys() -> set[str]:
    play = yaml.safe_load(CREATE.read_text())[0]
    return set(play["vars"]["__lab_known_keys"])


def test_there_are_scenarios() -> None:
    assert len(SCENARIOS) >= 8, SCENARIOS


@pytest.mark.parametrize("config", SCENARIOS, ids=lambda p: str(p.parents[2].relative_to(ROOT)))
def test_scenario_uses_the_lab_create_and_destroy_and_known_keys(config: Path) -> None:
    scenario = yaml.safe_load(config.read_text())
    playbooks = scenario["provisioner"].get("playbooks", {})
    for step, shared in (("create", CREATE), ("destroy", DESTROY)):
        assert step in playbooks, f"{config}: provisioner.playbooks.{step} is not set"
        assert (config.parent / playbooks[step]).resolve() == shared, f"{config}: {step} is {playbooks[step]}"
    for platform in scenario["platforms"]:
        unknown = set(platform) - known_keys()
        assert not unknown, f"{config}: platform {platform['name']} uses {sorted(unknown)}, not implemented"
        assert platform.get("pre_build_image") is True, f"{config}: {platform['name']} must use a pre-built image"
