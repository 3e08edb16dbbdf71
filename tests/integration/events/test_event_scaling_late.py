"""A late event against the emulator (issue 14): applied 10 minutes before kick-off, inside its lead
time (24.5 min), it gets its floor at once, and its return to the baseline stays scheduled.

Before issue 14 the play scheduled only the return to the baseline (the scale-out time had passed and
AWS refuses a scheduled action in the past), so the groups stayed at their baseline for a full crowd.
Now the floor is raised with UpdateAutoScalingGroup (MinSize only; AWS raises a lower desired capacity
to it: https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_UpdateAutoScalingGroup.html), the
play warns naming the event, and a re-run changes nothing.
Run: ARENA_LAB_DIR=/tmp/lab-x scripts/with-emulator.sh scripts/pytest.sh tests/integration/events
"""

from __future__ import annotations

from pathlib import Path

import boto3
from events_play import NOW, play, scheduled  # this directory is on sys.path (pytest's rootdir-relative import)

# 10 minutes after NOW (2031-01-01T00:00:00Z), 90 minutes, in UTC: scale-out was due at 23:45Z the day
# before (00:10 - 24.5 min, floored), end 01:40Z + 30 min tail = 02:10Z.
LATE = {
    "name": "IT late game",
    "kind": "basketball",
    "start": "2031-01-01T00:10",
    "timezone": "UTC",
    "duration_minutes": 90,
    "peak_viewers": 12000,  # web ceil(12000 x 1.5 / 4200) = 5, api ceil(12000 x 4 / 8400) = 6
}
BACK = "2031-01-01T02:10:00Z"


def sizes(endpoint: str, group: str) -> tuple[int, int, int]:
    autoscaling = boto3.client("autoscaling", endpoint_url=endpoint)
    found = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]
    return found["MinSize"], found["DesiredCapacity"], found["MaxSize"]


def test_late_event_gets_its_floor_now_and_its_return_to_baseline(
    tmp_path: Path, endpoint: str, groups: list[str]
) -> None:
    assert NOW == "2031-01-01T00:00:00Z"
    assert sizes(endpoint, "arena-local-web") == (2, 2, 6)  # the fixture's platform baseline
    assert sizes(endpoint, "arena-local-api") == (2, 2, 6)

    changed, output = play(tmp_path, [LATE])
    assert changed == 2, output  # the floor task (web, api) and the scheduled actions task
    assert sizes(endpoint, "arena-local-web") == (5, 5, 6)
    assert sizes(endpoint, "arena-local-api") == (6, 6, 6)
    assert sizes(endpoint, "arena-local-admin") == (1, 1, 2)  # not in the capacity model: untouched
    # Only the return to the baseline is scheduled (no step-up in the past, none a minute ahead).
    assert scheduled(endpoint, "arena-local-web") == {"arena-event-web-20310101T0210Z": (BACK, 1, 1, 6)}
    assert scheduled(endpoint, "arena-local-api") == {"arena-event-api-20310101T0210Z": (BACK, 1, 1, 6)}
    flat = " ".join(output.split()).replace("''", "'")  # the YAML callback folds lines and doubles quotes
    # The plan's warning (also what `make event-scaling-plan` prints) and the module's, each naming it.
    assert (
        "event 'IT late game' (2031-01-01T00:10 UTC, 2031-01-01T00:10:00Z..2031-01-01T01:40:00Z) is inside its"
        " lead time: its scale-out was due at 2030-12-31T23:45:00Z, now is 2031-01-01T00:00:00Z." in flat
    ), output[-4000:]
    assert '[WARNING]: arena_group_floor: raised arena-local-web MinSize from 2 to 5 now for "IT late game"' in flat, (
        output[-4000:]
    )
    # The action list with local and UTC times, at default verbosity.
    assert "web 2031-01-01 00:00 UTC (UTC) 2031-01-01T00:00:00Z 5 6 - immediate IT late game" in flat, output[-4000:]

    changed, output = play(tmp_path, [LATE])
    assert changed == 0, output
    assert sizes(endpoint, "arena-local-web") == (5, 5, 6)
