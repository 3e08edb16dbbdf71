"""roles/event_scaling refuses what AWS would refuse before any change (issue 13: the preflight).

- The structure: validation and plan (no API call), then the lookups and the preflight (reads only:
  the modules in check mode, changed_when false), and only then the components that change things;
  the preflight calls the modules with the arguments their apply tasks use.
- The rules task (tasks/preflight_rules.yml) run by Ansible with the readings AWS would give: the
  emulator accepts a warm pool on a mixed-instances group and more than 125 scheduled actions per
  group, and implements neither the LCU reservation nor Service Quotas, so the readings are given
  here in the modules' own result shape (their Stubber tests pin how they are read).
- Warm pools are off in every inventory (every platform group has a mixed instances policy).
AWS pages: https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-quotas.html,
https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutWarmPool.html,
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html#lcu-quotas,
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/request-capacity-unit-reservation.html,
https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html,
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-spot-limits.html.
- Issue 19: the groups' MaxSize as AWS has it and the EC2 vCPU quotas at the events' peaks (on-demand and
  Spot): an event within 48 hours above a quota refuses the run, a later one is a warning naming the quota,
  the value and the event (filter tests: tests/unit/filters/test_arena_event_rules.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from arena_testlib import REPO_ROOT, base_env, plan_action, run

ROLE = REPO_ROOT / "roles" / "event_scaling"
TASKS = ROLE / "tasks"
COMPONENTS = ("scheduled_actions.yml", "warm_pool.yml", "alb_reservation.yml")
LB = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app"
PUBLIC = f"{LB}/arena-production-public/50dc6c495c0c9188"
INTERNAL = f"{LB}/arena-production-internal/6d0ecf831eec9f09"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


# --- structure: nothing changes before the preflight -----------------------------------------------


def test_the_preflight_runs_after_the_lookups_and_before_every_change() -> None:
    main = load(TASKS / "main.yml")
    files = [
        task.get("ansible.builtin.import_tasks")
        or (task.get("ansible.builtin.include_tasks") or {}).get("file")
        or "role:" + task["ansible.builtin.include_role"]["name"]
        for task in main
    ]
    # The environment's run lock (roles/platform_lock) comes after every read and rule, before every change.
    assert files == ["validate.yml", "plan.yml", "lookup.yml", "preflight.yml", "role:platform_lock", *COMPONENTS]
    lookup, preflight, lock = main[2], main[3], main[4]
    # Run whenever any component would call AWS, whichever component --tags selects.
    assert lookup["when"] == preflight["when"] == "__event_scaling_any_component | bool"
    assert "__event_scaling_any_component | bool" in lock["when"]
    for task in (preflight, lock):
        assert set(task["tags"]) >= {
            "event_scaling_scheduled_actions",
            "event_scaling_warm_pool",
            "event_scaling_alb_reservation",
        }
    assert "event_scaling_validate" not in lock["tags"], "a plan-only run takes no lock"


def module_tasks(path: Path) -> dict[str, dict[str, Any]]:
    """Module name -> task, for the arena_* module tasks of a task file."""
    return {key: task for task in load(path) for key in task if key.startswith("arena_")}


def test_the_preflight_only_reads_and_asks_what_the_apply_will_ask() -> None:
    preflight = module_tasks(TASKS / "preflight.yml")
    applied = {name: task for file in COMPONENTS for name, task in module_tasks(TASKS / file).items()}
    # The immediate floor of a late or running event (issue 14) has no preflight read: the one request
    # AWS would refuse, a MinSize above MaxSize, cannot be made, because lookup.yml requires each group's
    # MaxSize to be the model's max_size and the filter refuses an event that needs more than it.
    assert applied.pop("arena_group_floor")["loop"].startswith(
        "{{ event_scaling_plan | selectattr('kind', 'eq', 'immediate')"
    )
    assert (
        set(preflight)
        == set(applied)
        == {
            "arena_scheduled_actions",
            "arena_warm_pool",
            "arena_alb_capacity_reservation",
        }
    )
    for name, task in preflight.items():
        assert task["check_mode"] is True, name  # the modules only read in check mode
        assert task["changed_when"] is False, name
        assert task["failed_when"] == f"{task['register']}.constraints is not defined", name
        assert task[name] == applied[name][name], f"{name}: the preflight must ask what the apply asks"
        assert task["loop"] == applied[name]["loop"], name
        assert task.get("vars") == applied[name].get("vars"), name
    # The pool check runs for state present only (deleting a pool is allowed on any group).
    assert (
        preflight["arena_warm_pool"]["when"]
        == "event_scaling_warm_pool_enabled | bool and event_scaling_state == 'present'"
    )


# --- the rules, run by Ansible with AWS's readings --------------------------------------------------


def looped(var: str, item: Any, constraints: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """One item of a registered loop result, as Ansible registers it."""
    return {var: item, "ansible_loop_var": var, "changed": False, "constraints": constraints, **extra}


def group_item(tier: str, constraints: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """One tier's item of a registered loop over the tiers' groups: the group's name, then `constraints`."""
    return looped(
        "__event_scaling_tier", tier, {"autoscaling_group_name": f"arena-production-{tier}", **constraints}, **extra
    )


def warm_pools(mixed: bool, hooks: list[str]) -> dict[str, Any]:
    return {
        "results": [
            group_item(
                tier,
                {"mixed_instances_policy": mixed, "spot_request": None, "launch_lifecycle_hooks": hooks},
                msg=f"arena_warm_pool: arena-production-{tier} has a mixed instances policy: ..." if mixed else None,
            )
            for tier in ("web", "api")
        ]
    }


def actions(web_after: int) -> dict[str, Any]:
    return {
        "results": [
            group_item(
                tier,
                {
                    "name_prefix": f"arena-event-{tier}-",
                    "quota": 125,
                    "current": after - 5,
                    "not_managed": after - 8,
                    "after": after,
                },
            )
            for tier, after in (("web", web_after), ("api", 20))
        ]
    }


def reservations(quota: float) -> dict[str, Any]:
    def region() -> dict[str, Any]:
        return {
            "service_code": "elasticloadbalancing",
            "quota_code": "L-8A66D0E6",
            "quota_name": "Reserved Application Load Balancer Capacity Units (LCU) per Region",
            "region": "eu-west-1",
            "value": quota,
            "value_source": "AWS default" if quota == 0 else "applied",
            "reserved_elsewhere": {},
        }

    return {
        "results": [
            looped(
                "__event_scaling_lb_tier",
                {"key": tier, "value": name},
                {
                    "load_balancer_arn": arn,
                    "current_capacity_units": None,
                    "requested_capacity_units": units,
                    "decrease_requests_remaining": 2,
                    "zone_states": [],
                    "region_quota": region(),
                },
            )
            for tier, name, arn, units in (("web", "public", PUBLIC, 40), ("api", "internal", INTERNAL, 107))
        ]
    }


SKIPPED = {"results": [{"skipped": True, "__event_scaling_tier": "web"}], "skipped": True}


def rules(tmp_path: Path, readings: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Run tasks/preflight_rules.yml with the registered readings; returns (rc, the rules task's result)."""
    rc, tasks = rules_tasks(tmp_path, readings)
    task = tasks[-1]
    assert task["task"]["name"] == "event_scaling : Preflight | Refuse what AWS would refuse, before any change", task
    return rc, task["hosts"]["localhost"]


def rules_tasks(tmp_path: Path, readings: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    """Run tasks/preflight_rules.yml with the registered readings; returns (rc, every task's report)."""
    playbook = tmp_path / "rules.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.include_role:\n        name: event_scaling\n        tasks_from: preflight_rules.yml\n"
    )
    varfile = tmp_path / "readings.json"
    varfile.write_text(json.dumps(readings))
    env = base_env(
        {"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_ROLES_PATH": str(REPO_ROOT / "roles")},
        keep_aws=False,
    )
    result = run(["ansible-playbook", "-i", "localhost,", "-c", "local", str(playbook), "-e", f"@{varfile}"], env, 120)
    report, _ = json.JSONDecoder().raw_decode(result.stdout[result.stdout.index("{") :])
    return result.returncode, report["plays"][0]["tasks"]


def test_the_platform_plan_is_refused_with_every_reason_at_once(tmp_path: Path) -> None:
    """Warm pools on the platform's groups (mixed instances policy, no launch hook), 126 actions on web
    (121 not the role's), and 147 LCU against the default quota 0: one failure lists every refusal."""
    rc, result = rules(
        tmp_path,
        {
            "event_scaling_preflight_actions": actions(web_after=126),
            "event_scaling_preflight_warm_pools": warm_pools(mixed=True, hooks=[]),
            "event_scaling_preflight_reservations": reservations(quota=0.0),
        },
    )
    assert (rc, result["failed"]) == (2, True)
    mixed = (
        "event_scaling_warm_pool_enabled: arena-production-{tier} has a mixed instances policy (every platform group"
        " has one: library/arena_autoscaling_group.py); PutWarmPool 'cannot be called on an Auto Scaling group that"
        " has a mixed instances policy or a launch template or launch configuration that requests Spot Instances'"
        " (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutWarmPool.html;"
        " https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html#warm-pools-limitations)."
        " Keep event_scaling_warm_pool_enabled false until the live-event design changes."
    )
    no_hook = (
        "event_scaling_warm_pool_enabled: arena-production-{tier} has no lifecycle hook for"
        " autoscaling:EC2_INSTANCE_LAUNCHING; a warm pool needs one: AWS stops instances as they enter the pool"
        " without waiting for their user data to finish"
        " (https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html). Add the hook to"
        " the group before enabling the warm pool."
    )
    assert result["msg"] == [
        "event_scaling_events: after this plan arena-production-web would hold 126 scheduled actions (118 that"
        " event_scaling does not manage, named outside 'arena-event-web-', and 8 of its own); AWS allows 125 per Auto"
        " Scaling group and does not raise that quota"
        " (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-quotas.html). Delete actions that"
        " are no longer needed or plan fewer events ahead.",
        mixed.format(tier="web"),
        no_hook.format(tier="web"),
        mixed.format(tier="api"),
        no_hook.format(tier="api"),
        "event_scaling_alb_reservation: the plan reserves 147 LCU in eu-west-1 (web 40 on arena-production-public,"
        " api 107 on arena-production-internal) and the Region's other Application Load Balancers hold 0; the quota"
        " 'Reserved Application Load Balancer Capacity Units (LCU) per Region' is 0 there (AWS default 0:"
        " https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html#lcu-quotas)."
        " Ops must request in Service Quotas (Elastic Load Balancing, quota code L-8A66D0E6) in eu-west-1 a value of"
        " at least 147: aws service-quotas request-service-quota-increase --service-code elasticloadbalancing"
        " --quota-code L-8A66D0E6 --desired-value 147 --region eu-west-1. Until it is granted,"
        " -e event_scaling_alb_reservation_enabled=false applies the rest of the plan without the reservation.",
    ]


@pytest.mark.parametrize(
    "readings",
    [
        pytest.param(
            {
                "event_scaling_preflight_actions": actions(web_after=125),
                "event_scaling_preflight_warm_pools": warm_pools(mixed=False, hooks=["boot"]),
                "event_scaling_preflight_reservations": reservations(quota=147.0),
            },
            id="what-aws-accepts",
        ),
        pytest.param(
            {
                "event_scaling_preflight_actions": actions(web_after=100),
                "event_scaling_preflight_warm_pools": SKIPPED,
                "event_scaling_preflight_reservations": SKIPPED,
            },
            id="components-off-are-not-checked",
        ),
        pytest.param({}, id="no-readings"),
    ],
)
def test_a_plan_aws_accepts_passes(tmp_path: Path, readings: dict[str, Any]) -> None:
    rc, result = rules(tmp_path, readings)
    assert (rc, result.get("failed", False)) == (0, False), result


# --- warm pools are off everywhere ----------------------------------------------------------------


@pytest.mark.parametrize("inventory", sorted(p.name for p in (REPO_ROOT / "inventories").iterdir() if p.is_dir()))
def test_warm_pools_are_off_in_every_inventory(inventory: str) -> None:
    """With the refusal, a warm pool on the platform's groups could only fail: the role default is off and
    no inventory turns it on."""
    assert load(ROLE / "defaults" / "main.yml")["event_scaling_warm_pool_enabled"] is False
    spec = load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert spec["event_scaling_warm_pool_enabled"]["default"] is False
    values = [
        (path.name, data["event_scaling_warm_pool_enabled"])
        for path in sorted((REPO_ROOT / "inventories" / inventory).rglob("*.yml"))
        if isinstance(data := load(path), dict) and "event_scaling_warm_pool_enabled" in data
    ]
    assert all(value is False for _, value in values), values


# --- issue 19: MaxSize and EC2 vCPU quotas -----------------------------------------------------------


def platform_group(tier: str, itype: str, base: int, percentage: int, max_size: int) -> dict[str, Any]:
    return {
        "auto_scaling_group_name": f"arena-production-{tier}",
        "max_size": max_size,
        "mixed_instances_policy": {
            "launch_template": {"launch_template_specification": {}, "overrides": [{"instance_type": itype}]},
            "instances_distribution": {
                "on_demand_base_capacity": base,
                "on_demand_percentage_above_base_capacity": percentage,
            },
        },
    }


def vcpu_case(on_demand: float, spot: float, web_max: int = 40) -> dict[str, Any]:
    """A game the day after now (web 15, api 20) and a final three weeks later (web 30, api 40), on the
    production groups; 8 on-demand vCPUs run elsewhere. Needs: game 64 on-demand / 56 Spot, final 114 / 116."""
    quota = {"service_code": "ec2", "value_source": "applied"}
    return {
        "event_scaling_now_utc": "2027-01-11T00:00:00Z",
        "event_scaling_platform_name_prefix": "arena-production",
        "event_scaling_capacity_model": {
            "tiers": {"web": {"min_size": 2, "max_size": 40}, "api": {"min_size": 2, "max_size": 48}}
        },
        "event_scaling_groups": {
            "results": [
                platform_group("web", "c6i.large", 2, 30, web_max),
                platform_group("api", "c6i.xlarge", 2, 50, 48),
            ]
        },
        "event_scaling_plan": [
            plan_action("api", "2027-01-12T19:20:00Z", 20, ["Game"]),
            plan_action("web", "2027-01-12T19:20:00Z", 15, ["Game"]),
            plan_action("api", "2027-01-12T22:15:00Z", 2, []),
            plan_action("web", "2027-01-12T22:15:00Z", 2, []),
            plan_action("api", "2027-02-01T18:20:00Z", 40, ["Final"]),
            plan_action("web", "2027-02-01T18:20:00Z", 30, ["Final"]),
            plan_action("api", "2027-02-01T21:45:00Z", 2, []),
            plan_action("web", "2027-02-01T21:45:00Z", 2, []),
        ],
        "event_scaling_calendar": [
            {
                "name": name,
                "timezone": "Europe/Madrid",
                "local_start": f"{day}T20:45",
                "start_utc": f"{day}T19:45:00Z",
                "end_utc": f"{day}T21:45:00Z",
            }
            for name, day in (("Game", "2027-01-12"), ("Final", "2027-02-01"))
        ],
        "event_scaling_vcpu_readings": {
            "changed": False,
            "constraints": {
                "region": "eu-west-1",
                "instance_types": {
                    "c6i.large": {"vcpus": 2, "quota_class": "standard"},
                    "c6i.xlarge": {"vcpus": 4, "quota_class": "standard"},
                },
                "quotas": {
                    "standard": {
                        "on_demand": quota
                        | {
                            "quota_code": "L-1216C47A",
                            "quota_name": "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
                            "value": on_demand,
                        },
                        "spot": quota
                        | {
                            "quota_code": "L-34B43A08",
                            "quota_name": "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests",
                            "value": spot,
                        },
                    }
                },
                "running_elsewhere": {"standard": {"on_demand": 8, "spot": 0}},
            },
        },
    }


def test_a_quota_exceeded_within_48_hours_refuses_and_a_later_one_warns(tmp_path: Path) -> None:
    """On-demand 60 < the game's 64 (tomorrow): refused. Spot 100 covers the game (56), not the final (116,
    three weeks on): a warning with the request to make, and the fact with the peaks."""
    rc, tasks = rules_tasks(tmp_path, vcpu_case(on_demand=60.0, spot=100.0))
    by_name = {task["task"]["name"].split(" : ", 1)[1]: task["hosts"]["localhost"] for task in tasks}
    assert (rc, by_name["Preflight | Refuse what AWS would refuse, before any change"]["failed"]) == (2, True)
    (refusal,) = by_name["Preflight | Refuse what AWS would refuse, before any change"]["msg"]
    assert refusal.startswith(
        "event_scaling_events: event 'Game' (kick-off 2027-01-12T20:45 Europe/Madrid, 2027-01-12T19:45:00Z) needs 64"
        " vCPUs of the EC2 quota 'Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances' (L-1216C47A,"
        " eu-west-1) from 2027-01-12T19:20:00Z"
    )
    assert "--quota-code L-1216C47A --desired-value 114 --region eu-west-1." in refusal
    (warning,) = by_name["Preflight | WARNING EC2 vCPU quotas to raise before later events"]["msg"]
    assert warning.startswith(
        "event_scaling: event 'Final' (kick-off 2027-02-01T20:45 Europe/Madrid, 2027-02-01T19:45:00Z) needs 116"
    )
    assert "--quota-code L-34B43A08 --desired-value 116 --region eu-west-1." in warning
    facts = by_name["Preflight | EC2 vCPU quotas at the plan's peaks"]["ansible_facts"]["event_scaling_vcpu_quotas"]
    assert [(q["quota_code"], q["peak"], q["first_exceeding"]["at"]) for q in facts["quotas"]] == [
        ("L-1216C47A", 114, "2027-01-12T19:20:00Z"),
        ("L-34B43A08", 116, "2027-02-01T18:20:00Z"),
    ]


def test_quotas_that_fit_and_the_groups_max_size_pass(tmp_path: Path) -> None:
    rc, result = rules(tmp_path, vcpu_case(on_demand=114.0, spot=116.0))
    assert (rc, result.get("failed", False)) == (0, False), result


def test_a_floor_above_the_groups_max_size_as_aws_has_it_is_refused(tmp_path: Path) -> None:
    """The web group's MaxSize is 25 in AWS (the model says 40): the final's floor 30 and every web
    action's MaxSize are refused, read from the group."""
    rc, result = rules(tmp_path, vcpu_case(on_demand=1000.0, spot=1000.0, web_max=25))
    assert (rc, result["failed"]) == (2, True)
    assert len(result["msg"]) == 5
    assert all(msg.startswith("event_scaling_capacity_model.tiers.web.max_size: ") for msg in result["msg"])
    assert sum("floor to 30" in msg for msg in result["msg"]) == 1


def test_the_vcpu_lookup_reads_only_and_skips_service_quotas_only_on_the_emulator() -> None:
    (task,) = (t for t in load(TASKS / "lookup.yml") if "arena_ec2_vcpu_quotas" in t)
    assert task["arena_ec2_vcpu_quotas"]["read_quotas"] == "{{ aws_guard_target.mode != 'emulator' }}"
    assert task["register"] == "event_scaling_vcpu_readings"
    assert task["when"] == "event_scaling_scheduled_actions_enabled | bool and event_scaling_state == 'present'"
