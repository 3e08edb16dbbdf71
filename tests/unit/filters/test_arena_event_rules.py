"""filter_plugins/arena_event_rules.py: the event-scaling preflight rules, one test group per rule.

Each rule is an AWS constraint the emulator does not enforce; each refusal must name the role
variable, the rule and the AWS documentation page, and the tests assert the exact text:
- scheduled actions per Auto Scaling group: 125, not adjustable
  (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-quotas.html);
- PutWarmPool on a group with a mixed instances policy or Spot Instances
  (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutWarmPool.html,
  https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html#warm-pools-limitations)
  and the launch lifecycle hook a warm pool needs
  (https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html);
- LCU reservation: update only once provisioned or failed, two decreases a day
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/request-capacity-unit-reservation.html),
  and the Region quota, default 0
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html#lcu-quotas).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from arena_loader import library_module

ROOT = Path(__file__).resolve().parents[3]
ASG_QUOTAS = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-quotas.html"
PUT_WARM_POOL = "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutWarmPool.html"
WARM_POOL_LIMITS = (
    "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html#warm-pools-limitations"
)
WARM_POOL_HOOKS = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html"
LCU_REQUEST = (
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/request-capacity-unit-reservation.html"
)
LCU_QUOTAS = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html#lcu-quotas"
REFUSAL = (
    "PutWarmPool 'cannot be called on an Auto Scaling group that has a mixed instances policy or a launch"
    " template or launch configuration that requests Spot Instances'"
)
LB = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app"
PUBLIC = f"{LB}/arena-production-public/50dc6c495c0c9188"
INTERNAL = f"{LB}/arena-production-internal/6d0ecf831eec9f09"
BILLING = f"{LB}/billing-public/0c0fe1e5b3e2e0a1"


# --- scheduled actions planned per group (no read) -------------------------------------------------


def planned(tier: str, count: int, day: int = 1) -> list[dict[str, Any]]:
    return [
        {"tier": tier, "start_time": f"2031-{(index // 28) % 12 + 1:02d}-{index % 28 + 1:02d}T19:{day:02d}:00Z"}
        for index in range(count)
    ]


@pytest.mark.parametrize(
    ("plan", "refused"),
    [
        pytest.param(planned("web", 125), [], id="125-is-the-limit"),
        pytest.param(planned("web", 126), [("web", 126)], id="126-refused"),
        pytest.param(planned("web", 126) + planned("api", 130, 30), [("api", 130), ("web", 126)], id="every-tier"),
        pytest.param(
            [{"tier": "web", "start_time": "2030-12-31T23:59:00Z"}] * 10 + planned("web", 125),
            [],
            id="past-not-counted",
        ),
    ],
)
def test_plan_alone_above_125_actions_per_group_is_refused(
    rules: ModuleType, plan: list[dict[str, Any]], refused: list[tuple[str, int]]
) -> None:
    assert rules.arena_event_plan_action_refusals(plan, "2031-01-01T00:00:00Z") == [
        f"event_scaling_events: the plan puts {count} one-off scheduled actions on the {tier} tier's Auto Scaling"
        f" group after 2031-01-01T00:00:00Z; AWS allows 125 scheduled actions per Auto Scaling group and does not"
        f" raise that quota ({ASG_QUOTAS}). Plan fewer events ahead (re-run the playbook as the season goes on)."
        for tier, count in refused
    ]


@pytest.mark.parametrize(
    ("plan", "now", "message"),
    [
        (
            {"tier": "web"},
            "2031-01-01T00:00:00Z",
            "arena_event_plan_action_refusals: plan must be a list of actions with tier and start_time,"
            " got {'tier': 'web'}",
        ),
        (
            [{"tier": "web"}],
            "2031-01-01T00:00:00Z",
            "arena_event_plan_action_refusals: plan must be a list of actions with tier and start_time,"
            " got [{'tier': 'web'}]",
        ),
        ([], "", "arena_event_plan_action_refusals: now must be a UTC time like 2027-01-01T00:00:00Z, got ''"),
    ],
)
def test_plan_rule_bad_input(rules: ModuleType, plan: Any, now: Any, message: str) -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        rules.arena_event_plan_action_refusals(plan, now)
    assert caught.value.message == message


# --- scheduled actions with what the groups hold (module check-mode results) -----------------------


def counted(group: str, current: int, not_managed: int, after: int) -> dict[str, Any]:
    constraints = {
        "autoscaling_group_name": group,
        "name_prefix": f"arena-event-{group.rsplit('-', 1)[-1]}-",
        "quota": 125,
        "current": current,
        "not_managed": not_managed,
        "after": after,
    }
    return {
        "constraints": constraints,
        "changed": True,
        "__event_scaling_tier": "web",
        "ansible_loop_var": "__event_scaling_tier",
    }


def test_groups_above_125_actions_after_the_plan_are_refused(rules: ModuleType) -> None:
    """The actions the role does not own count too: 121 ops actions + 5 planned = 126."""
    results = {
        "results": [
            counted("arena-production-web", current=121, not_managed=121, after=126),
            counted("arena-production-api", current=125, not_managed=100, after=125),
            {"skipped": True, "__event_scaling_tier": "admin"},
        ]
    }
    assert rules.arena_event_scheduled_action_refusals(results) == [
        "event_scaling_events: after this plan arena-production-web would hold 126 scheduled actions (121 that"
        " event_scaling does not manage, named outside 'arena-event-web-', and 5 of its own); AWS allows 125 per"
        f" Auto Scaling group and does not raise that quota ({ASG_QUOTAS}). Delete actions that are no longer"
        " needed or plan fewer events ahead."
    ]


@pytest.mark.parametrize(
    ("results", "message"),
    [
        (
            [{"msg": "arena_scheduled_actions: AWS call failed for arena-production-web: AccessDenied"}],
            "arena_event_scheduled_action_refusals: a result has no constraints (the module could not read what AWS"
            " holds): 'arena_scheduled_actions: AWS call failed for arena-production-web: AccessDenied'",
        ),
        (
            [{"constraints": {"autoscaling_group_name": "g"}}],
            "arena_event_scheduled_action_refusals: constraints are missing name_prefix, quota, current, not_managed,"
            " after: {'autoscaling_group_name': 'g'}",
        ),
        ("nope", "arena_event_scheduled_action_refusals: expected a list of registered results, got 'nope'"),
        (
            [counted("g", 1, 0, -1)],
            "arena_event_scheduled_action_refusals: after must be an integer >= 0, got -1",
        ),
    ],
)
def test_scheduled_action_rule_bad_input(rules: ModuleType, results: Any, message: str) -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        rules.arena_event_scheduled_action_refusals(results)
    assert caught.value.message == message


# --- warm pools ------------------------------------------------------------------------------------


def pool_check(mixed: bool = False, spot: str | None = None, hooks: tuple[str, ...] = ("boot",)) -> dict[str, Any]:
    return {
        "constraints": {
            "autoscaling_group_name": "arena-production-web",
            "mixed_instances_policy": mixed,
            "spot_request": spot,
            "launch_lifecycle_hooks": list(hooks),
        },
        "__event_scaling_tier": "web",
        "ansible_loop_var": "__event_scaling_tier",
    }


KEEP_OFF = "Keep event_scaling_warm_pool_enabled false until the live-event design changes."
MIXED = (
    "event_scaling_warm_pool_enabled: arena-production-web has a mixed instances policy (every platform group has"
    f" one: library/arena_autoscaling_group.py); {REFUSAL} ({PUT_WARM_POOL}; {WARM_POOL_LIMITS}). {KEEP_OFF}"
)
SPOT = (
    "event_scaling_warm_pool_enabled: arena-production-web requests Spot Instances (launch template arena-web"
    f" version 3: InstanceMarketOptions.MarketType spot); {REFUSAL} ({PUT_WARM_POOL}; {WARM_POOL_LIMITS}). {KEEP_OFF}"
)
NO_HOOK = (
    "event_scaling_warm_pool_enabled: arena-production-web has no lifecycle hook for"
    " autoscaling:EC2_INSTANCE_LAUNCHING; a warm pool needs one: AWS stops instances as they enter the pool without"
    f" waiting for their user data to finish ({WARM_POOL_HOOKS}). Add the hook to the group before enabling the"
    " warm pool."
)


@pytest.mark.parametrize(
    ("check", "refusals"),
    [
        pytest.param(pool_check(), [], id="on-demand-with-hook"),
        pytest.param(pool_check(mixed=True), [MIXED], id="mixed-instances-policy"),
        pytest.param(
            pool_check(spot="launch template arena-web version 3: InstanceMarketOptions.MarketType spot"),
            [SPOT],
            id="spot-launch-template",
        ),
        pytest.param(pool_check(hooks=()), [NO_HOOK], id="no-launch-hook"),
        pytest.param(pool_check(mixed=True, hooks=()), [MIXED, NO_HOOK], id="platform-group-every-reason"),
    ],
)
def test_warm_pool_on_a_group_aws_refuses_is_refused(
    rules: ModuleType, check: dict[str, Any], refusals: list[str]
) -> None:
    assert rules.arena_event_warm_pool_refusals([check, {"skipped": True}]) == refusals


def test_warm_pool_rule_bad_input(rules: ModuleType) -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        rules.arena_event_warm_pool_refusals([{"constraints": {"autoscaling_group_name": "g"}}])
    assert caught.value.message == (
        "arena_event_warm_pool_refusals: constraints are missing mixed_instances_policy, spot_request,"
        " launch_lifecycle_hooks: {'autoscaling_group_name': 'g'}"
    )


# --- load balancer capacity reservations -----------------------------------------------------------


def reservation(
    tier: str,
    arn: str,
    current: int | None,
    requested: int | None,
    *,
    decreases: int = 2,
    states: tuple[str, ...] = ("provisioned", "provisioned"),
    quota: float | None = None,
    elsewhere: dict[str, int] | None = None,
) -> dict[str, Any]:
    zones = ("eu-west-1a", "eu-west-1b")
    region_quota = None
    if quota is not None:
        region_quota = {
            "service_code": "elasticloadbalancing",
            "quota_code": "L-8A66D0E6",
            "quota_name": "Reserved Application Load Balancer Capacity Units (LCU) per Region",
            "region": "eu-west-1",
            "value": quota,
            "value_source": "applied",
            "reserved_elsewhere": elsewhere or {},
        }
    return {
        "constraints": {
            "load_balancer_arn": arn,
            "current_capacity_units": current,
            "requested_capacity_units": requested,
            "decrease_requests_remaining": decreases,
            "zone_states": []
            if current is None
            else [{"availability_zone": z, "state": s} for z, s in zip(zones, states, strict=True)],
            "region_quota": region_quota,
        },
        "__event_scaling_lb_tier": {"key": tier, "value": arn.split("/")[-2].rsplit("-", 1)[-1]},
        "ansible_loop_var": "__event_scaling_lb_tier",
    }


def quota_refusal(value: str, needed: int, parts: str, planned: int, others: int) -> str:
    return (
        f"event_scaling_alb_reservation: the plan reserves {planned} LCU in eu-west-1 ({parts}) and the Region's other"
        f" Application Load Balancers hold {others}; the quota 'Reserved Application Load Balancer Capacity Units"
        f" (LCU) per Region' is {value} there (AWS default 0: {LCU_QUOTAS}). Ops must request in Service Quotas"
        f" (Elastic Load Balancing, quota code L-8A66D0E6) in eu-west-1 a value of at least {needed}: aws"
        " service-quotas request-service-quota-increase --service-code elasticloadbalancing --quota-code L-8A66D0E6"
        f" --desired-value {needed} --region eu-west-1. Until it is granted,"
        " -e event_scaling_alb_reservation_enabled=false applies the rest of the plan without the reservation."
    )


def test_quota_zero_refuses_the_whole_plan_with_what_ops_must_request(rules: ModuleType) -> None:
    """Each load balancer alone could pass a per-call check; the Region quota is for their sum."""
    results = [
        reservation("web", PUBLIC, None, 40, quota=0.0, elsewhere={INTERNAL: 20}),
        reservation("api", INTERNAL, 20, 107, quota=0.0, elsewhere={PUBLIC: 0}),
    ]
    assert rules.arena_event_lcu_refusals(results) == [
        quota_refusal("0", 147, "web 40 on arena-production-public, api 107 on arena-production-internal", 147, 0)
    ]


def test_other_load_balancers_reservations_count_against_the_quota(rules: ModuleType) -> None:
    results = [
        reservation("web", PUBLIC, None, 40, quota=150.0, elsewhere={BILLING: 60, INTERNAL: 107}),
        reservation("api", INTERNAL, 107, 107),
    ]
    assert rules.arena_event_lcu_refusals(results) == [
        quota_refusal("150", 207, "web 40 on arena-production-public, api 107 on arena-production-internal", 147, 60)
    ]


@pytest.mark.parametrize(
    "results",
    [
        pytest.param([reservation("web", PUBLIC, None, 40, quota=147.0, elsewhere={})] * 1, id="quota-met"),
        pytest.param([reservation("web", PUBLIC, 40, 40), reservation("api", INTERNAL, 107, 107)], id="no-change"),
        pytest.param([reservation("web", PUBLIC, 40, 30, decreases=1)], id="decrease-with-requests-left"),
        pytest.param(
            [reservation("web", PUBLIC, 40, 50, states=("failed", "provisioned"), quota=500.0)], id="after-a-failure"
        ),
        pytest.param([reservation("web", PUBLIC, 40, 40, states=("pending", "pending"))], id="pending-but-unchanged"),
    ],
)
def test_reservations_aws_accepts_pass(rules: ModuleType, results: list[dict[str, Any]]) -> None:
    assert rules.arena_event_lcu_refusals(results) == []


@pytest.mark.parametrize("state", ["pending", "rebalancing"])
@pytest.mark.parametrize(
    ("requested", "change"),
    [(60, "from 40 LCU to 60 LCU"), (30, "from 40 LCU to 30 LCU"), (None, "from 40 LCU to no reservation")],
    ids=["increase", "decrease", "reset"],
)
def test_update_while_the_previous_request_is_in_progress_is_refused(
    rules: ModuleType, state: str, requested: int | None, change: str
) -> None:
    results = [reservation("web", PUBLIC, 40, requested, states=(state, "provisioned"), quota=500.0)]
    assert rules.arena_event_lcu_refusals(results) == [
        f"event_scaling_alb_reservation.load_balancers.web: the LCU reservation of arena-production-public is {state}"
        " in eu-west-1a; AWS updates a reservation only when the previous request is provisioned or failed"
        f" ({LCU_REQUEST}). This run would change it {change}: re-run once it is provisioned (most requests take"
        " minutes, some a few hours)."
    ]


@pytest.mark.parametrize(("requested", "target"), [(30, "lower it to 30 LCU"), (None, "reset it")])
def test_decrease_without_requests_left_today_is_refused(rules: ModuleType, requested: int | None, target: str) -> None:
    results = [reservation("api", INTERNAL, 107, requested, decreases=0)]
    assert rules.arena_event_lcu_refusals(results) == [
        f"event_scaling_alb_reservation.load_balancers.api: the LCU reservation of arena-production-internal is 107"
        f" LCU and this run would {target}, a decrease; AWS has no decrease request left today for it"
        " (DecreaseRequestsRemaining 0; 'you can only decrease the reserved capacity two times per day':"
        f" {LCU_REQUEST}). Re-run tomorrow; it stays reserved (and billed) at 107 LCU until then."
    ]


def test_increase_with_no_decreases_left_passes(rules: ModuleType) -> None:
    assert rules.arena_event_lcu_refusals([reservation("web", PUBLIC, 40, 60, decreases=0, quota=500.0)]) == []


def test_lcu_rule_bad_input(rules: ModuleType) -> None:
    increase_without_quota = reservation("web", PUBLIC, None, 40)
    with pytest.raises(AnsibleFilterError) as caught:
        rules.arena_event_lcu_refusals([increase_without_quota])
    assert caught.value.message == (
        "arena_event_lcu_refusals: an increase without region_quota (region, value, reserved_elsewhere): None"
    )


# --- the module copies of the rules' constants -----------------------------------------------------


@pytest.mark.parametrize(
    ("module", "names"),
    [
        (
            "arena_warm_pool",
            ("WARM_POOL_REFUSAL", "DOC_PUT_WARM_POOL", "DOC_WARM_POOL_LIMITS", "DOC_WARM_POOL_HOOKS", "LAUNCHING"),
        ),
        ("arena_scheduled_actions", ("DOC_ASG_QUOTAS",)),
        (
            "arena_alb_capacity_reservation",
            ("LCU_QUOTA_SERVICE", "LCU_QUOTA_CODE", "LCU_QUOTA_NAME", "DOC_LCU_QUOTAS", "DOC_LCU_REQUEST"),
        ),
    ],
)
def test_modules_and_filters_state_the_same_rules(rules: ModuleType, module: str, names: tuple[str, ...]) -> None:
    loaded = library_module(module)
    assert {name: getattr(loaded, name) for name in names} == {name: getattr(rules, name) for name in names}
    if module == "arena_scheduled_actions":
        assert loaded.QUOTA == rules.SCHEDULED_ACTIONS_PER_GROUP == 125
    if module == "arena_alb_capacity_reservation":
        assert loaded.SETTLED_STATES == rules.LCU_SETTLED_STATES


def test_filter_module_exposes_every_rule(rules: ModuleType) -> None:
    assert rules.FilterModule().filters() == {
        "arena_event_plan_action_refusals": rules.arena_event_plan_action_refusals,
        "arena_event_scheduled_action_refusals": rules.arena_event_scheduled_action_refusals,
        "arena_event_warm_pool_refusals": rules.arena_event_warm_pool_refusals,
        "arena_event_lcu_refusals": rules.arena_event_lcu_refusals,
        "arena_event_instance_type_refusals": rules.arena_event_instance_type_refusals,
        "arena_event_launch_template_ids": rules.arena_event_launch_template_ids,
    }
