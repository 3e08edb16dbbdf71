"""The warm pools of playbooks/event_scaling.yml on groups AWS would give one: on-demand, over a launch
template, with a lifecycle hook on autoscaling:EC2_INSTANCE_LAUNCHING (events_fixtures.create_groups
with mixed=False). The platform's groups are not like that (a mixed instances policy with Spot, which
AWS refuses: test_event_scaling.py), so warm pools are off in every inventory; this keeps the pool
sizing working for the day the live-event design changes. Through the playbook it proves what
arena_warm_pool does against the emulator (create, no change on re-run, resize, remove);
the module's refusals and check mode are proven with botocore's Stubber in
tests/unit/library/test_arena_warm_pool.py.
Run: ARENA_LAB_DIR=/tmp/lab-x scripts/with-emulator.sh scripts/pytest.sh tests/integration/events
"""

from __future__ import annotations

from pathlib import Path

from events_play import MADRID, NEW_YORK, SYDNEY, play, pool, warm_pool


def test_warm_pools_on_on_demand_groups_with_a_launch_hook(
    tmp_path: Path, endpoint: str, on_demand_groups: list[str]
) -> None:
    enabled = {"event_scaling_warm_pool_enabled": True}
    calendar = [MADRID, SYDNEY, NEW_YORK]
    changed, output = play(tmp_path, calendar, "--check", **enabled)
    assert changed == 2, output  # the scheduled actions and the warm pools (each looping over web, api)
    assert warm_pool(endpoint, "arena-local-web") is None

    changed, output = play(tmp_path, calendar, **enabled)
    assert changed == 2, output
    # Prepared capacity = the largest upcoming floor (events_play: web 5, api 6 for New York).
    assert warm_pool(endpoint, "arena-local-web") == pool(5)
    assert warm_pool(endpoint, "arena-local-api") == pool(6)
    assert warm_pool(endpoint, "arena-local-admin") is None

    changed, output = play(tmp_path, calendar, **enabled)
    assert changed == 0, output

    # Time moves on into the New York concert: Madrid and Sydney are over (marked past: issue 14), the
    # concert is running and gets its floor now; the pools stay prepared for it (its floor is the largest
    # still held). Past actions already in AWS are left to AWS.
    later = [MADRID | {"past": True}, SYDNEY | {"past": True}, NEW_YORK]
    changed, output = play(tmp_path, later, event_scaling_now="2031-07-11T00:00:00Z", **enabled)
    assert changed == 1, output  # the floor task only
    assert warm_pool(endpoint, "arena-local-web") == pool(5)
    # After the concert's tail every event is over: the pools shrink to the baseline.
    over = [event | {"past": True} for event in calendar]
    changed, output = play(tmp_path, over, event_scaling_now="2031-07-12T00:00:00Z", **enabled)
    assert changed == 1, output  # the pools only
    assert warm_pool(endpoint, "arena-local-web") == pool(1)

    changed, output = play(tmp_path, calendar, event_scaling_state="absent", **enabled)
    assert changed == 2, output
    assert all(warm_pool(endpoint, group) is None for group in on_demand_groups)
    # Removing what is already gone changes nothing: the module's (state=absent without a pool,
    # tests/unit/library/test_arena_warm_pool.py::test_absent), and the playbook's second removal in
    # test_event_scaling.py.
