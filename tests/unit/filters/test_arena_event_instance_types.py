"""arena_event_instance_type_refusals (issue 14): the capacity model's instance type against what each
group can launch, read from AWS before any change (autoscaling_group_info / ec2_launch_template_info
shapes, snake case). The model's requests per instance are measured for one type; floors sized for it
do not carry the audience on another."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError

ROOT = Path(__file__).resolve().parents[3]
MODEL = {"tiers": {"web": {"instance_type": "c6i.large"}, "api": {"instance_type": "c6i.xlarge"}}}


def mixed(name: str, *types: str) -> dict[str, Any]:
    return {
        "auto_scaling_group_name": name,
        "mixed_instances_policy": {
            "launch_template": {
                "launch_template_specification": {"launch_template_id": f"lt-{name}", "version": "$Latest"},
                "overrides": [{"instance_type": t} for t in types],
            }
        },
    }


def plain(name: str, version: str = "$Latest") -> dict[str, Any]:
    return {
        "auto_scaling_group_name": name,
        "launch_template": {"launch_template_id": f"lt-{name}", "version": version},
    }


def template(name: str, *types: str, default: int = 1) -> dict[str, Any]:
    return {
        "launch_template_id": f"lt-{name}",
        "launch_template_name": name,
        "default_version_number": default,
        "latest_version_number": len(types),
        "versions": [
            {"version_number": number, "launch_template_data": {"instance_type": t}}
            for number, t in enumerate(types, start=1)
        ],
    }


def test_platform_groups_that_launch_the_models_types_pass(rules: ModuleType) -> None:
    groups = [
        mixed("arena-production-web", "c6i.large", "c6a.large"),
        mixed("arena-production-api", "m6i.xlarge", "c6i.xlarge"),
    ]
    assert rules.arena_event_launch_template_ids(groups) == []
    assert rules.arena_event_instance_type_refusals(MODEL, groups, [], "arena-production") == []


def test_a_group_without_the_models_type_is_refused_naming_both_variables(rules: ModuleType) -> None:
    groups = [mixed("arena-production-web", "m6i.large", "m6a.large"), mixed("arena-production-api", "c6i.xlarge")]
    assert rules.arena_event_instance_type_refusals(MODEL, groups, [], "arena-production") == [
        "event_scaling_capacity_model.tiers.web.instance_type is c6i.large, but arena-production-web launches"
        " ['m6i.large', 'm6a.large'] (platform_autoscaling_tiers.web.instance_types): the model's requests per"
        " instance are measured for c6i.large, so the plan's floors would not carry the audience on other types."
        " Put c6i.large first in platform_autoscaling_tiers.web.instance_types and run playbooks/platform.yml, or"
        " change the model's instance_type."
    ]


@pytest.mark.parametrize(
    ("version", "types", "default", "refused"),
    [
        ("$Latest", ("t3.small", "c6i.large"), 1, False),
        ("$Default", ("t3.small", "c6i.large"), 1, True),
        ("$Default", ("t3.small", "c6i.large"), 2, False),
        ("1", ("t3.small", "c6i.large"), 2, True),
    ],
    ids=["latest", "default-old", "default-new", "pinned-old"],
)
def test_a_group_without_overrides_launches_its_template_versions_type(
    rules: ModuleType, version: str, types: tuple[str, ...], default: int, refused: bool
) -> None:
    groups = [plain("arena-local-web", version), mixed("arena-local-api", "c6i.xlarge")]
    assert rules.arena_event_launch_template_ids(groups) == ["lt-arena-local-web"]
    found = rules.arena_event_instance_type_refusals(
        MODEL, groups, [template("arena-local-web", *types, default=default)], "arena-local"
    )
    assert bool(found) is refused
    if refused:
        assert "arena-local-web launches ['t3.small']" in found[0]


def test_a_template_that_was_not_read_launches_no_known_type(rules: ModuleType) -> None:
    groups = [plain("arena-local-web"), mixed("arena-local-api", "c6i.xlarge")]
    [found] = rules.arena_event_instance_type_refusals(MODEL, groups, [], "arena-local")
    assert "arena-local-web launches no known instance type" in found


def test_bad_input(rules: ModuleType) -> None:
    with pytest.raises(AnsibleFilterError, match=r"^arena_event_instance_type_refusals: no group arena-local-api"):
        rules.arena_event_instance_type_refusals(MODEL, [plain("arena-local-web")], [], "arena-local")
    with pytest.raises(AnsibleFilterError, match=r"^arena_event_instance_type_refusals: expected the capacity model"):
        rules.arena_event_instance_type_refusals([], [], [], "arena-local")
