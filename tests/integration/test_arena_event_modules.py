"""arena_scheduled_actions and arena_warm_pool through ansible-playbook against the emulator.

The test creates its own Auto Scaling group with boto3 (on-demand, with a launch lifecycle hook: what
a warm pool needs), plans the local lab's calendar with the arena_scaling_schedule filter inside the
play, and checks apply, idempotence, check mode, removal of an event's actions and that actions
outside the managed prefix survive. Where the emulator accepts what AWS refuses (a warm pool on a
group with a mixed instances policy, more than 125 scheduled actions on a group), the modules refuse
it themselves and nothing changes.
Run: scripts/with-emulator.sh scripts/pytest.sh tests/integration/test_arena_event_modules.py
"""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from arena_testlib import REPO_ROOT, base_env, run
from arena_testlib import scheduled_actions as scheduled

GROUP_VARS = REPO_ROOT / "inventories" / "local" / "group_vars" / "all"
NOW = "2027-01-01T00:00:00Z"  # fixed clock: the local calendar's events stay in the future

PLAYBOOK = """\
---
- name: Apply live-event scaling pieces to a test Auto Scaling group
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: aws_guard
  tasks:
    - name: Scheduled actions of the web tier
      arena_scheduled_actions:
        autoscaling_group_name: "{{ evt_group }}"
        name_prefix: "{{ evt_module_prefix | default(evt_prefix ~ '-web-') }}"
        actions: "{{ arena_events | arena_scaling_schedule(arena_capacity_model, evt_prefix)
                     | selectattr('tier', 'eq', 'web') }}"
        now: "@NOW@"
        region: "{{ aws_guard_target.region }}"
        endpoint_url: "{{ aws_guard_target.endpoint_url or omit }}"
      when: evt_part == 'actions'

    - name: Warm pool
      arena_warm_pool:
        autoscaling_group_name: "{{ evt_group }}"
        state: "{{ evt_pool_state }}"
        min_size: "{{ evt_pool_min }}"
        reuse_on_scale_in: true
        region: "{{ aws_guard_target.region }}"
        endpoint_url: "{{ aws_guard_target.endpoint_url or omit }}"
      when: evt_part == 'pool'
""".replace("@NOW@", NOW)


@pytest.fixture(scope="module")
def endpoint() -> str:
    url = os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_URL")
    assert url and re.match(r"^http://127\.0\.0\.1:\d+$", url), (
        f"run through scripts/with-emulator.sh (AWS_ENDPOINT_URL must be the loopback emulator, got {url!r})"
    )
    return url


def make_group(
    endpoint: str, prefix: str, instance_type: str, launch: Callable[[str], dict[str, Any]]
) -> Iterator[str]:
    """An Auto Scaling group of its own launch template (0 to 6 instances, two zones) with a launch
    lifecycle hook (what a warm pool needs); ``launch(name)`` gives the group's launch template or
    mixed instances policy argument. Removed afterwards."""
    ec2 = boto3.client("ec2", endpoint_url=endpoint)
    autoscaling = boto3.client("autoscaling", endpoint_url=endpoint)
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": image, "InstanceType": instance_type}
    )
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=0, MaxSize=6, DesiredCapacity=0, AvailabilityZones=zones, **launch(name)
    )
    autoscaling.put_lifecycle_hook(
        LifecycleHookName="boot",
        AutoScalingGroupName=name,
        LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING",
        HeartbeatTimeout=300,
        DefaultResult="CONTINUE",
    )
    yield name
    autoscaling.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
    ec2.delete_launch_template(LaunchTemplateName=name)


@pytest.fixture(scope="module")
def group(endpoint: str) -> Iterator[str]:
    """An on-demand group of one launch template."""
    yield from make_group(endpoint, "evt-it", "t3.micro", lambda name: {"LaunchTemplate": {"LaunchTemplateName": name}})


@pytest.fixture(scope="module")
def mixed_group(endpoint: str) -> Iterator[str]:
    """A group like every platform group: a mixed instances policy with Spot above the base."""
    yield from make_group(
        endpoint,
        "evt-it-mixed",
        "c6i.large",
        lambda name: {
            "MixedInstancesPolicy": {
                "LaunchTemplate": {
                    "LaunchTemplateSpecification": {"LaunchTemplateName": name, "Version": "$Latest"},
                    "Overrides": [{"InstanceType": "c6i.large"}, {"InstanceType": "c6a.large"}],
                },
                "InstancesDistribution": {"OnDemandBaseCapacity": 1, "OnDemandPercentageAboveBaseCapacity": 30},
            }
        },
    )


def play(tmp_path: Path, group: str, extra: dict[str, Any], *options: str) -> tuple[int, int, str]:
    """Run the playbook; returns (changed, failed) from the recap and the output."""
    playbook = tmp_path / "apply.yml"
    playbook.write_text(PLAYBOOK)
    variables = {
        "evt_group": group,
        "evt_prefix": group,
        "evt_part": "actions",
        "evt_pool_state": "present",
        "evt_pool_min": 2,
        "ansible_python_interpreter": sys.executable,
        **extra,
    }
    result = run(
        [
            "ansible-playbook",
            "-i",
            "localhost,",
            "-e",
            f"@{GROUP_VARS / 'events.yml'}",
            "-e",
            f"@{GROUP_VARS / 'capacity.yml'}",
            "-e",
            json.dumps(variables),
            *options,
            str(playbook),
        ],
        base_env(),
    )
    output = result.stdout + result.stderr
    recap = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", output)
    assert recap, output
    return int(recap.group(1)), int(recap.group(2)), output


def expected_web(group: str, events: list[dict[str, Any]]) -> dict[str, tuple[str, int, int, int]]:
    sys.path.insert(0, str(REPO_ROOT / "filter_plugins"))
    try:
        import arena_schedule  # noqa: PLC0415 - filter_plugins is put on sys.path just for this import
    finally:
        sys.path.pop(0)
    model = yaml.safe_load((GROUP_VARS / "capacity.yml").read_text())["arena_capacity_model"]
    plan = arena_schedule.arena_scaling_schedule(events, model, group)
    return {
        a["name"]: (a["start_time"], a["min_size"], a["desired_capacity"], a["max_size"])
        for a in plan
        if a["tier"] == "web"
    }


def test_scheduled_actions_apply_idempotent_check_mode_and_removal(tmp_path: Path, endpoint: str, group: str) -> None:
    events = yaml.safe_load((GROUP_VARS / "events.yml").read_text())["arena_events"]
    autoscaling = boto3.client("autoscaling", endpoint_url=endpoint)
    # somebody else's recurring action on the same group: never touched
    autoscaling.put_scheduled_update_group_action(
        AutoScalingGroupName=group, ScheduledActionName="nightly-floor", Recurrence="0 3 * * *", MinSize=0
    )
    unmanaged = scheduled(endpoint, group)

    changed, failed, output = play(tmp_path, group, {})
    assert (changed, failed) == (1, 0), output
    wanted = expected_web(group, events)
    assert len(wanted) == 4
    assert scheduled(endpoint, group) == unmanaged | wanted

    changed, failed, output = play(tmp_path, group, {})
    assert (changed, failed) == (0, 0), output

    fewer = {"arena_events": events[:1]}
    changed, failed, output = play(tmp_path, group, fewer, "--check")
    assert (changed, failed) == (1, 0), output
    assert scheduled(endpoint, group) == unmanaged | wanted

    changed, failed, output = play(tmp_path, group, fewer)
    assert (changed, failed) == (1, 0), output
    assert scheduled(endpoint, group) == unmanaged | expected_web(group, events[:1])
    assert len(expected_web(group, events[:1])) == 2

    changed, failed, output = play(tmp_path, group, {"arena_events": []})
    assert (changed, failed) == (1, 0), output
    assert scheduled(endpoint, group) == unmanaged


def test_bad_prefix_fails_with_the_exact_message_and_changes_nothing(tmp_path: Path, endpoint: str, group: str) -> None:
    before = scheduled(endpoint, group)
    changed, failed, output = play(tmp_path, group, {"evt_module_prefix": "other-web-"})
    assert (changed, failed) == (0, 1), output
    first = min(expected_web(group, yaml.safe_load((GROUP_VARS / "events.yml").read_text())["arena_events"]))
    assert f"arena_scheduled_actions: action '{first}' does not start with name_prefix 'other-web-'" in output
    assert scheduled(endpoint, group) == before


def test_warm_pool_present_idempotent_check_mode_absent(tmp_path: Path, endpoint: str, group: str) -> None:
    autoscaling = boto3.client("autoscaling", endpoint_url=endpoint)

    def pool() -> dict[str, Any] | None:
        return autoscaling.describe_warm_pool(AutoScalingGroupName=group).get("WarmPoolConfiguration")

    part = {"evt_part": "pool"}
    assert play(tmp_path, group, part)[:2] == (1, 0)
    assert pool() is not None
    assert (pool()["MinSize"], pool()["PoolState"], pool()["InstanceReusePolicy"]) == (
        2,
        "Stopped",
        {"ReuseOnScaleIn": True},
    )
    assert play(tmp_path, group, part)[:2] == (0, 0)
    assert play(tmp_path, group, part | {"evt_pool_min": 4}, "--check")[:2] == (1, 0)
    assert pool()["MinSize"] == 2
    assert play(tmp_path, group, part | {"evt_pool_min": 4})[:2] == (1, 0)
    assert pool()["MinSize"] == 4
    assert play(tmp_path, group, part | {"evt_pool_state": "absent"})[:2] == (1, 0)
    assert pool() is None
    assert play(tmp_path, group, part | {"evt_pool_state": "absent"})[:2] == (0, 0)


def test_fixed_clock_is_before_the_local_calendar() -> None:
    events = yaml.safe_load((GROUP_VARS / "events.yml").read_text())["arena_events"]
    first = min(datetime.fromisoformat(e["start"]) for e in events)
    assert first.replace(tzinfo=UTC) > datetime.fromisoformat(NOW.replace("Z", "+00:00"))


def test_warm_pool_on_a_mixed_instances_group_is_refused_and_nothing_changes(
    tmp_path: Path, endpoint: str, mixed_group: str
) -> None:
    """PutWarmPool 'cannot be called on an Auto Scaling group that has a mixed instances policy or a launch
    template or launch configuration that requests Spot Instances'
    (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutWarmPool.html). The emulator would
    accept the call; the module refuses before making it, in check mode too."""
    autoscaling = boto3.client("autoscaling", endpoint_url=endpoint)
    part = {"evt_part": "pool", "evt_group": mixed_group}
    for options in ((), ("--check",)):
        changed, failed, output = play(tmp_path, mixed_group, part, *options)
        assert (changed, failed) == (0, 1), output
        assert (
            f"arena_warm_pool: {mixed_group} has a mixed instances policy: PutWarmPool 'cannot be called on an Auto"
            " Scaling group that has a mixed instances policy or a launch template or launch configuration that"
            " requests Spot Instances'" in output
        ), output[-3000:]
        assert autoscaling.describe_warm_pool(AutoScalingGroupName=mixed_group).get("WarmPoolConfiguration") is None


def test_more_than_125_scheduled_actions_are_refused_and_nothing_changes(
    tmp_path: Path, endpoint: str, group: str
) -> None:
    """'Scheduled actions per Auto Scaling group: 125', not adjustable
    (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-quotas.html). The emulator
    stores more; the module counts every action of the group (also those outside its prefix)."""
    autoscaling = boto3.client("autoscaling", endpoint_url=endpoint)
    before = scheduled(endpoint, group)
    manual = [f"ops-manual-{index:03d}" for index in range(125 - len(before))]
    for name in manual:
        autoscaling.put_scheduled_update_group_action(
            AutoScalingGroupName=group, ScheduledActionName=name, StartTime="2031-02-01T00:00:00Z", MinSize=0
        )
    try:
        held = scheduled(endpoint, group)
        assert len(held) == 125
        changed, failed, output = play(tmp_path, group, {})
        assert (changed, failed) == (0, 1), output
        planned = len(expected_web(group, yaml.safe_load((GROUP_VARS / "events.yml").read_text())["arena_events"]))
        assert f"arena_scheduled_actions: {group} would hold {125 + planned} scheduled actions after this run" in (
            output
        ), output[-3000:]
        assert scheduled(endpoint, group) == held
    finally:
        for index in range(0, len(manual), 50):
            autoscaling.batch_delete_scheduled_action(
                AutoScalingGroupName=group, ScheduledActionNames=manual[index : index + 50]
            )
