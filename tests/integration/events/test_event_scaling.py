"""playbooks/event_scaling.yml against the emulator, with inventories/local's group_vars (LAB_INVENTORY).

The platform's Auto Scaling groups are created by events_fixtures.py with the names, tags and mixed
instances policy of roles/platform_autoscaling (checked by
tests/unit/roles/test_event_scaling_platform_names.py). A small calendar in three zones is applied;
the scheduled actions (UTC times, sizes) are compared with values worked out by hand, then re-apply
(no change), --check, removal of one event, and state=absent are checked, with actions the playbook
does not own left alone. Warm pools are off (the local inventory's default): AWS refuses them on
these groups; turned on, and with more than 125 actions on a group, the preflight refuses the plan
before any change, although the emulator would accept both.
Run: ARENA_LAB_DIR=/tmp/lab-x scripts/with-emulator.sh scripts/pytest.sh tests/integration/events
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from arena_testlib import LAB_INVENTORY, base_env, run
from events_play import (  # this directory is on sys.path (pytest's rootdir-relative import)
    MADRID,
    MADRID_ACTIONS,
    MODEL,
    NEW_YORK,
    NEW_YORK_ACTIONS,
    NOW,
    PLAYBOOK,
    SYDNEY,
    SYDNEY_ACTIONS,
    assert_step_ups_without_desired_capacity,
    expected,
    play,
    play_refused,
    scheduled,
    warm_pool,
)

PREFLIGHT = "event_scaling : Preflight | Refuse what AWS would refuse, before any change"


def test_apply_rerun_check_remove_event_and_absent(tmp_path: Path, endpoint: str, groups: list[str]) -> None:
    assert groups == ["arena-local-web", "arena-local-api", "arena-local-admin"]
    autoscaling = boto3.client("autoscaling", endpoint_url=endpoint)
    # Actions this playbook does not own: a recurring one, a one-off outside the prefix, and one on
    # the admin group (not in the capacity model).
    autoscaling.put_scheduled_update_group_action(
        AutoScalingGroupName="arena-local-web", ScheduledActionName="nightly-floor", Recurrence="0 3 * * *", MinSize=2
    )
    autoscaling.put_scheduled_update_group_action(
        AutoScalingGroupName="arena-local-api",
        ScheduledActionName="ops-manual-api-20310114",
        StartTime="2031-01-14T18:00:00Z",
        MinSize=4,
    )
    autoscaling.put_scheduled_update_group_action(
        AutoScalingGroupName="arena-local-admin",
        ScheduledActionName="arena-event-admin-manual",
        MinSize=1,
        StartTime="2031-01-14T18:00:00Z",
    )
    others = {group: scheduled(endpoint, group) for group in groups}
    assert all(len(actions) == 1 for actions in others.values())
    # An owned step-up as the plan wrote it before step-ups dropped DesiredCapacity: the apply must
    # replace it with one that has none (the module deletes it first: AWS would keep the old value).
    autoscaling.put_scheduled_update_group_action(
        AutoScalingGroupName="arena-local-web",
        ScheduledActionName="arena-event-web-20310114T1920Z",
        StartTime="2031-01-14T19:20:00Z",
        MinSize=2,
        DesiredCapacity=2,
        MaxSize=6,
    )
    old_style = scheduled(endpoint, "arena-local-web")["arena-event-web-20310114T1920Z"]
    assert old_style == ("2031-01-14T19:20:00Z", 2, 2, 6)

    calendar = [MADRID, SYDNEY, NEW_YORK]
    changed, output = play(tmp_path, calendar, "--check")
    assert changed == 1, (
        output
    )  # the scheduled-actions task (looping over web, api); the preflight reads change nothing
    assert {group: scheduled(endpoint, group) for group in groups} == others | {
        "arena-local-web": others["arena-local-web"] | {"arena-event-web-20310114T1920Z": old_style}
    }

    changed, output = play(tmp_path, calendar)
    assert changed == 1, output
    # Issue 19: the emulator implements no EC2 quota, so the vCPU rule only warns with the plan's peak: New
    # York's web 5 (3 on-demand x 2 vCPUs) and api 6 (4 x 4), + the admin group's t3.small (2) outside them.
    assert "(L-1216C47A, eu-west-1) was not read (not read); the plan needs up to 24 vCPUs" in " ".join(output.split())
    all_rows = MADRID_ACTIONS + SYDNEY_ACTIONS + NEW_YORK_ACTIONS
    assert scheduled(endpoint, "arena-local-web") == others["arena-local-web"] | expected("web", all_rows)
    assert scheduled(endpoint, "arena-local-api") == others["arena-local-api"] | expected("api", all_rows)
    assert scheduled(endpoint, "arena-local-admin") == others["arena-local-admin"]
    for group in ("arena-local-web", "arena-local-api"):
        assert_step_ups_without_desired_capacity(endpoint, group, events=3)
    # Warm pools are off in the local inventory (as everywhere): none is made on the platform's groups.
    assert all(warm_pool(endpoint, group) is None for group in groups)

    changed, output = play(tmp_path, calendar)
    assert changed == 0, output

    # Removing an event. Its deletion in --check (reported, not written) is the module's, proven with
    # botocore's Stubber (tests/unit/library/test_arena_scheduled_actions.py::
    # test_check_mode_reports_without_writing); the playbook in --check is the first run above.
    fewer = [MADRID, NEW_YORK]
    changed, output = play(tmp_path, fewer)
    assert changed == 1, output  # the scheduled actions of web and api
    kept = MADRID_ACTIONS + NEW_YORK_ACTIONS
    assert scheduled(endpoint, "arena-local-web") == others["arena-local-web"] | expected("web", kept)
    assert scheduled(endpoint, "arena-local-api") == others["arena-local-api"] | expected("api", kept)
    assert scheduled(endpoint, "arena-local-admin") == others["arena-local-admin"]

    # Time moves on into the New York concert (23:30Z): past actions already in AWS are left to AWS, the
    # scale-in still to come stays. The concert is running, so its floor is raised now (the emulator
    # never runs the scheduled step-up; on AWS it has run and the floor task changes nothing). Madrid is
    # over: refused unless marked past (issue 14), and skipped when marked.
    later = [MADRID | {"past": True}, NEW_YORK]
    changed, output = play(tmp_path, later, event_scaling_now="2031-07-11T00:00:00Z")
    assert changed == 1, output  # the floor task only
    assert scheduled(endpoint, "arena-local-api") == others["arena-local-api"] | expected("api", kept)
    assert scheduled(endpoint, "arena-local-web") == others["arena-local-web"] | expected("web", kept)
    for group, floor in (("arena-local-web", 5), ("arena-local-api", 6)):
        described = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]
        assert (described["MinSize"], described["DesiredCapacity"]) == (floor, floor)

    changed, output = play(tmp_path, fewer, event_scaling_state="absent")
    assert changed == 1, output
    for group in groups:
        assert scheduled(endpoint, group) == others[group]
    changed, output = play(tmp_path, fewer, event_scaling_state="absent")
    assert changed == 0, output


def test_warm_pool_on_the_platform_groups_is_refused_before_any_change(
    tmp_path: Path, endpoint: str, groups: list[str]
) -> None:
    """Issue 13, defect 3: every platform group has a mixed instances policy with Spot; AWS's PutWarmPool
    'cannot be called on an Auto Scaling group that has a mixed instances policy or a launch template or
    launch configuration that requests Spot Instances'
    (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutWarmPool.html). The emulator accepts
    it (shown at the end); the preflight refuses it with that reason, and nothing changes: not the pools,
    not the scheduled actions that come first."""
    before = {group: scheduled(endpoint, group) for group in groups}
    name, msg, stats = play_refused(tmp_path, [MADRID], event_scaling_warm_pool_enabled=True)
    assert name == PREFLIGHT
    refusal = (
        "event_scaling_warm_pool_enabled: arena-local-{tier} has a mixed instances policy (every platform group has"
        " one: library/arena_autoscaling_group.py); PutWarmPool 'cannot be called on an Auto Scaling group that has"
        " a mixed instances policy or a launch template or launch configuration that requests Spot Instances'"
        " (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutWarmPool.html;"
        " https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html#warm-pools-limitations)."
        " Keep event_scaling_warm_pool_enabled false until the live-event design changes."
    )
    no_hook = (
        "event_scaling_warm_pool_enabled: arena-local-{tier} has no lifecycle hook for"
        " autoscaling:EC2_INSTANCE_LAUNCHING; a warm pool needs one: AWS stops instances as they enter the pool"
        " without waiting for their user data to finish"
        " (https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html). Add the hook to"
        " the group before enabling the warm pool."
    )
    assert msg == [text.format(tier=tier) for tier in ("web", "api") for text in (refusal, no_hook)]
    assert stats["changed"] == 0
    assert {group: scheduled(endpoint, group) for group in groups} == before
    assert all(warm_pool(endpoint, group) is None for group in groups)
    # What the preflight protects against: the emulator takes the pool AWS refuses.
    autoscaling = boto3.client("autoscaling", endpoint_url=endpoint)
    autoscaling.put_warm_pool(AutoScalingGroupName="arena-local-web", MinSize=0)
    assert warm_pool(endpoint, "arena-local-web") is not None
    autoscaling.delete_warm_pool(AutoScalingGroupName="arena-local-web", ForceDelete=True)


def test_more_than_125_actions_on_a_group_are_refused_before_any_change(
    tmp_path: Path, endpoint: str, groups: list[str]
) -> None:
    """AWS allows 125 scheduled actions per Auto Scaling group, and does not raise it
    (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-quotas.html); the emulator
    stores 127. 121 actions on web that are not the role's + the 6 the plan puts there: refused, and the
    api group, which would have been fine, is not touched either (the preflight runs before any change)."""
    autoscaling = boto3.client("autoscaling", endpoint_url=endpoint)
    held = scheduled(endpoint, "arena-local-web")  # another test's recurring action may be there
    assert not any(name.startswith("arena-event-web-") for name in held)
    manual = [f"ops-manual-{index:03d}" for index in range(121 - len(held))]
    for name in manual:
        autoscaling.put_scheduled_update_group_action(
            AutoScalingGroupName="arena-local-web",
            ScheduledActionName=name,
            StartTime="2031-02-01T00:00:00Z",
            MinSize=2,
        )
    try:
        before = {group: scheduled(endpoint, group) for group in groups}
        name, msg, stats = play_refused(tmp_path, [MADRID, SYDNEY, NEW_YORK])
        assert name == PREFLIGHT
        assert msg == [
            "event_scaling_events: after this plan arena-local-web would hold 127 scheduled actions (121 that"
            " event_scaling does not manage, named outside 'arena-event-web-', and 6 of its own); AWS allows 125 per"
            " Auto Scaling group and does not raise that quota"
            " (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-quotas.html). Delete actions"
            " that are no longer needed or plan fewer events ahead."
        ]
        assert stats["changed"] == 0
        assert {group: scheduled(endpoint, group) for group in groups} == before
    finally:
        for index in range(0, len(manual), 50):
            autoscaling.batch_delete_scheduled_action(
                AutoScalingGroupName="arena-local-web", ScheduledActionNames=manual[index : index + 50]
            )


def test_a_group_that_disagrees_with_the_model_is_refused_untouched(
    tmp_path: Path, endpoint: str, groups: list[str]
) -> None:
    before = {group: scheduled(endpoint, group) for group in groups}
    varfile = tmp_path / "vars.json"
    model = copy.deepcopy(MODEL)
    model["tiers"]["web"]["max_size"] = 5
    varfile.write_text(json.dumps({"arena_events": [MADRID], "event_scaling_now": NOW, "arena_capacity_model": model}))
    result = run(
        ["ansible-playbook", "-i", LAB_INVENTORY, PLAYBOOK, "-e", f"@{varfile}"],
        base_env({"ANSIBLE_INVENTORY_UNPARSED_WARNING": "False"}),
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert (
        "No Auto Scaling group arena-local-web tagged {'Project': 'arena', 'Environment': 'local', "
        "'ManagedBy': 'arena-infra', 'Tier': 'web'} with max_size 5" in " ".join(output.split())
    ), output[-3000:]
    assert {group: scheduled(endpoint, group) for group in groups} == before


@pytest.mark.parametrize("event", [MADRID, SYDNEY, NEW_YORK], ids=["madrid", "sydney", "new-york"])
def test_hand_worked_kick_offs_match_zoneinfo(event: dict[str, Any]) -> None:
    """The hand-worked UTC times above rest on these offsets (a typo there would go unnoticed)."""
    start = datetime.fromisoformat(event["start"]).replace(tzinfo=ZoneInfo(event["timezone"])).astimezone(UTC)
    lead = start - timedelta(seconds=1470)
    rows = {"IT game Madrid": MADRID_ACTIONS, "IT game Sydney": SYDNEY_ACTIONS}.get(event["name"], NEW_YORK_ACTIONS)
    assert lead.replace(second=0).strftime("%Y-%m-%dT%H:%M:%SZ") == rows[0][1]
