"""playbooks/event_review.yml against the emulator (issue 19): a finished game's metrics, written here
with PutMetricData, are read back (GetMetricData), compared with its forecast and recorded in a copy of
the local inventory's event_history.yml; a re-run changes nothing; event_scaling's plan (plan-only,
--tags event_scaling_validate) then plans the next game of the same kind for the recorded ratio; bad
input (an event not in the calendar, one not over yet) fails naming the variable with nothing written.

Only what arena_monitoring_view needs of the platform is made, with boto3 (seconds instead of
playbooks/platform.yml's minutes): per tier of the model (web, api) the Auto Scaling group
(events_fixtures) and the target group <prefix>-<tier> behind its load balancer (public / internal),
as platform_load_balancers names them. Only ever talks to the emulator on loopback.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import events_fixtures  # this directory is on sys.path (pytest's rootdir-relative conftest import)
import pytest
import yaml
from arena_testlib import LAB_INVENTORY, REPO_ROOT, VENV_BIN, base_env, cases_run, playbook_play, reset_emulator, run
from events_play import MODEL  # web/api max_size 6: web carries 16800 viewers, api 12600

NOW = "2031-01-15T09:00:00Z"
GAME = {  # 20:45 CET = 19:45Z .. 21:45Z; lead 1470 s: window 19:20Z..21:45Z; over at 22:15Z
    "name": "IT reviewed game",
    "kind": "basketball",
    "start": "2031-01-14T20:45",
    "timezone": "Europe/Madrid",
    "duration_minutes": 120,
    "peak_viewers": 5000,
}
NEXT = GAME | {"name": "IT next game", "start": "2031-02-10T20:45"}
CONCERT = GAME | {"name": "IT concert", "kind": "concert", "start": "2031-02-12T21:00"}
CALENDAR = [GAME, NEXT, CONCERT]
TIER_LB = {"web": "public", "api": "internal"}
# (UTC minute, web RequestCount, api RequestCount): the busiest minute in the window is 20:30Z (web
# 9000 / 1.5 = 6000 viewers, api 22000 / 4 = 5500); the 19:00Z and 22:00Z minutes are outside it.
POINTS = [
    ("2031-01-14T19:00:00Z", 90000, 90000),
    ("2031-01-14T19:30:00Z", 1500, 4000),
    ("2031-01-14T20:30:00Z", 9000, 22000),
    ("2031-01-14T21:40:00Z", 6000, 16000),
    ("2031-01-14T22:00:00Z", 90000, 90000),
]


def utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def platform(endpoint: str) -> Iterator[dict[str, dict[str, str]]]:
    """The tiers' groups, target groups and load balancers; returns the CloudWatch dimensions per tier."""
    reset_emulator(endpoint)
    events_fixtures.create_groups({tier: events_fixtures.TIERS[tier] for tier in TIER_LB})
    ec2 = boto3.client("ec2", endpoint_url=endpoint)
    elbv2 = boto3.client("elbv2", endpoint_url=endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for i, zone in enumerate(zones)
    ]
    dims = {}
    for tier, lb_name in TIER_LB.items():
        name = events_fixtures.group_name(tier)
        lb = elbv2.create_load_balancer(Name=f"arena-local-{lb_name}", Subnets=subnets, Type="application")
        lb_arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
        tg_arn = elbv2.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0][
            "TargetGroupArn"
        ]
        elbv2.create_listener(
            LoadBalancerArn=lb_arn,
            Protocol="HTTP",
            Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
        )
        dims[tier] = {
            "LoadBalancer": lb_arn.split(":loadbalancer/", 1)[1],
            "TargetGroup": "targetgroup/" + tg_arn.split(":targetgroup/", 1)[1],
        }
    cloudwatch = boto3.client("cloudwatch", endpoint_url=endpoint)
    for minute, web, api in POINTS:
        for tier, value in (("web", web), ("api", api)):
            tg = [{"Name": "TargetGroup", "Value": dims[tier]["TargetGroup"]}]
            lb = [{"Name": "LoadBalancer", "Value": dims[tier]["LoadBalancer"]}]
            cloudwatch.put_metric_data(
                Namespace="AWS/ApplicationELB",
                MetricData=[
                    {"MetricName": "RequestCount", "Dimensions": tg + lb, "Timestamp": utc(minute), "Value": value},
                    {
                        "MetricName": "ActiveConnectionCount",
                        "Dimensions": lb,
                        "Timestamp": utc(minute),
                        "Value": value / 3,
                    },
                ],
            )
    yield dims
    reset_emulator(endpoint)


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the local inventory's event history, where the review records."""
    root = tmp_path_factory.mktemp("inventory")
    (root / "group_vars" / "all").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "inventories/local/group_vars/all/event_history.yml", root / "group_vars/all")
    return root


def playbook(tmp_path: Path, playbook_path: str, variables: dict[str, Any], *args: str) -> tuple[int, str]:
    """(changed, output) of a run that must succeed."""
    varfile = tmp_path / "vars.json"
    varfile.write_text(json.dumps(variables))
    result = run(
        ["ansible-playbook", "-i", LAB_INVENTORY, playbook_path, "-e", f"@{varfile}", *args],
        base_env({"ANSIBLE_INVENTORY_UNPARSED_WARNING": "False"}),
    )
    output = result.stdout + result.stderr
    recap = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", output)
    assert recap and result.returncode == 0 and recap.group(2) == "0", output[-4000:]
    return int(recap.group(1)), output


def review_vars(inventory: Path, **extra: Any) -> dict[str, Any]:
    return {
        "arena_events": CALENDAR,
        "arena_capacity_model": MODEL,
        "event_review_event": GAME["name"],
        "event_review_now": NOW,
        "event_review_inventory_dir": str(inventory),
        **extra,
    }


def test_review_records_learns_and_refuses_bad_input(
    platform: dict[str, dict[str, str]], inventory: Path, tmp_path: Path, endpoint: str
) -> None:
    history_file = inventory / "group_vars/all/event_history.yml"
    empty = history_file.read_text()
    # --check reads and says what it would write, and writes nothing.
    changed, output = playbook(tmp_path, "playbooks/event_review.yml", review_vars(inventory), "--check", "--diff")
    assert changed == 1 and '+    - event: "IT reviewed game"' in output, output[-3000:]
    assert history_file.read_text() == empty
    changed, output = playbook(tmp_path, "playbooks/event_review.yml", review_vars(inventory))
    assert changed == 1, output[-3000:]
    text = history_file.read_text()
    assert "# Written by playbooks/event_review.yml" in text
    # The file lives in the inventory: it passes the repository's yamllint like every inventory file.
    lint = run([str(VENV_BIN / "yamllint"), "-c", ".yamllint", str(history_file)], base_env())
    assert lint.returncode == 0, lint.stdout + text
    history = yaml.safe_load(text)["arena_event_history"]
    assert history == {
        "basketball": [
            {
                "event": "IT reviewed game",
                "start": "2031-01-14T19:45:00Z",
                "forecast_viewers": 5000,
                "observed_viewers": 6000,
                "ratio": 1.2,
                "reviewed_at": NOW,
                "period_seconds": 60,
                "tiers": {
                    "api": {
                        "peak_requests_per_minute": 22000.0,
                        "viewers": 5500,
                        "ratio": 1.1,
                        "peak_active_connections": pytest.approx(22000 / 3, abs=0.1),
                    },
                    "web": {
                        "peak_requests_per_minute": 9000.0,
                        "viewers": 6000,
                        "ratio": 1.2,
                        "peak_active_connections": 3000.0,
                    },
                },
            }
        ]
    }

    # The same data an hour later: nothing written (the record keeps its reviewed_at).
    changed, output = playbook(
        tmp_path, "playbooks/event_review.yml", review_vars(inventory, event_review_now="2031-01-15T10:00:00Z")
    )
    assert changed == 0, output[-3000:]
    assert history_file.read_text() == text

    # The plan of the next game (5000 forecast) is made for 6000 viewers: web ceil(6000 x 1.5 / 4200) = 3
    # instead of ceil(5000 x 1.5 / 4200) = 2; the concert (no review of its kind) stays at 2.
    plan_vars = {
        "arena_events": [GAME | {"past": True}, NEXT, CONCERT],
        "arena_capacity_model": MODEL,
        "event_scaling_now": NOW,
    }
    plain = plan_messages(tmp_path, plan_vars)
    learnt = plan_messages(tmp_path, plan_vars, "-e", f"@{history_file}")
    assert web_floors(plain) == {"IT next game": 2, "IT concert": 2}
    assert web_floors(learnt) == {"IT next game": 3, "IT concert": 2}
    assert plain.get("Plan | Forecasts adjusted by the event reviews of their kind") is None  # skipped
    assert learnt["Plan | Forecasts adjusted by the event reviews of their kind"] == [
        "event 'IT next game' (basketball): peak_viewers 5000 planned as 6000 (x1.2: highest ratio of the last 1"
        " basketball review(s))"
    ]

    # Bad input, one run (a case per inventory host): nothing read, nothing written.
    refused = bad_input_run(tmp_path, inventory, endpoint)
    for case, message in BAD_INPUT:
        tasks = refused.tasks(case(inventory))
        # The filter's own failure is rescued (the JSON report keeps it as failed); the refusal is the last.
        failed = [(name, result.get("msg")) for name, result in tasks if result.get("failed")]
        assert failed[-1] == ("event_review : Validate | Refuse the event, the calendar or the capacity model", message)
        assert refused.stats(case(inventory))["changed"] == 0
        assert refused.stats(case(inventory))["rescued"] == 1
        actions = {result.get("action") or "" for _, result in tasks}
        assert not any(a.startswith("arena_") for a in actions), actions
    assert history_file.read_text() == text


def plan_messages(tmp_path: Path, variables: dict[str, Any], *args: str) -> dict[str, Any]:
    """event_scaling's plan-only run (--tags event_scaling_validate, no AWS call): each debug task's msg by
    task name (without the role prefix); the run must succeed without a change."""
    varfile = tmp_path / "plan.json"
    varfile.write_text(json.dumps(variables))
    result = run(
        [
            "ansible-playbook",
            "-i",
            LAB_INVENTORY,
            "playbooks/event_scaling.yml",
            "--tags",
            "event_scaling_validate",
            "-e",
            f"@{varfile}",
            *args,
        ],
        base_env({"ANSIBLE_INVENTORY_UNPARSED_WARNING": "False", "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json"}),
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    report, _ = json.JSONDecoder().raw_decode(result.stdout[result.stdout.index("{") :])
    assert report["stats"]["localhost"]["changed"] == 0
    return {
        task["task"]["name"].split(" : ", 1)[-1]: task["hosts"]["localhost"].get("msg")
        for play in report["plays"]
        for task in play["tasks"]
        if "localhost" in task["hosts"]
    }


def web_floors(messages: dict[str, Any]) -> dict[str, int]:
    """The web step-up's min size per event, from the plan table (tier, local time, UTC, min, max, desired,
    kind, events)."""
    floors = {}
    for line in messages["Plan | Actions as of now (tier, local time, UTC, min, max, desired, kind, events)"][1:]:
        columns = line.split()
        if columns[0] == "web" and " event " in line:
            floors[line.split(" event ", 1)[1].strip()] = int(line.split("Z", 1)[1].split()[0])
    return floors


BAD_INPUT = [
    (
        lambda inv: review_vars(inv, event_review_event="IT no such game"),
        "event_review_event: arena_event_review_window: no event 'IT no such game' in the calendar (its events:"
        " ['IT concert', 'IT next game', 'IT reviewed game'])",
    ),
    (
        lambda inv: review_vars(inv, event_review_now="2031-01-14T22:00:00Z"),
        "event_review_event: arena_event_review_window: event 'IT reviewed game' (2031-01-14T20:45 Europe/Madrid,"
        " 2031-01-14T19:45:00Z..2031-01-14T21:45:00Z) is not over at 2031-01-14T22:00:00Z: it is over at"
        " 2031-01-14T22:15:00Z (end + 30 min tail); review it after that",
    ),
]


def bad_input_run(tmp_path: Path, inventory: Path, endpoint: str) -> Any:
    env = base_env(
        {
            "AWS_URL": endpoint,
            "AWS_ENDPOINT_URL": endpoint,
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        }
    )
    workdir = tmp_path / "bad"
    workdir.mkdir()
    return cases_run(
        workdir,
        [playbook_play("playbooks/event_review.yml")],
        [case(inventory) for case, _ in BAD_INPUT],
        env=env,
        group_vars=tuple(sorted((REPO_ROOT / "inventories/local/group_vars/all").glob("*.yml"))),
        check=False,
    )
