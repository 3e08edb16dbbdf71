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
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html#lcu-quotas);
- the group's MaxSize as AWS has it: a floor above it
  (https://docs.aws.amazon.com/autoscaling/ec2/userguide/asg-capacity-limits.html), or an action that would
  change it (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutScheduledUpdateGroupAction.html);
- EC2 vCPU quotas per instance class, on-demand and Spot, at every step of the plan
  (https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html,
  https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-spot-limits.html).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from arena_loader import library_module
from arena_testlib import plan_action

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
        ("arena_ec2_vcpu_quotas", ("DOC_ON_DEMAND_QUOTAS", "DOC_SPOT_QUOTAS")),
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
        "arena_event_max_size_refusals": rules.arena_event_max_size_refusals,
        "arena_event_group_instance_types": rules.arena_event_group_instance_types,
        "arena_event_vcpu_quotas": rules.arena_event_vcpu_quotas,
    }


# --- the group's MaxSize as AWS has it -------------------------------------------------------------

SCHEDULED_ACTION = "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutScheduledUpdateGroupAction.html"
CAPACITY_LIMITS = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/asg-capacity-limits.html"
ON_DEMAND_QUOTAS = "https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html"
SPOT_QUOTAS = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-spot-limits.html"
GAME = "Arena Basket vs Real Madrid"
FINAL = "Final"
WEB_TYPES = ("c6i.large", "c6a.large", "m6i.large", "m6a.large")
API_TYPES = ("c6i.xlarge", "c6a.xlarge")


def asg(tier: str, types: tuple[str, ...], base: int, percentage: int, max_size: int) -> dict[str, Any]:
    """A platform group as autoscaling_group_info returns it (snake case), mixed instances policy included."""
    return {
        "auto_scaling_group_name": f"arena-production-{tier}",
        "max_size": max_size,
        "mixed_instances_policy": {
            "launch_template": {
                "launch_template_specification": {"launch_template_id": f"lt-{tier}", "version": "3"},
                "overrides": [{"instance_type": t} for t in types],
            },
            "instances_distribution": {
                "on_demand_base_capacity": base,
                "on_demand_percentage_above_base_capacity": percentage,
                "spot_allocation_strategy": "price-capacity-optimized",
            },
        },
    }


# Production (inventories/production/group_vars/all/platform.yml): web on-demand base 2, 70 % Spot above
# it; api base 2, 50 % Spot.
GROUPS = [asg("web", WEB_TYPES, 2, 30, 40), asg("api", API_TYPES, 2, 50, 48)]
MODEL = {"tiers": {"web": {"min_size": 2, "max_size": 40}, "api": {"min_size": 2, "max_size": 48}}}


def step(tier: str, at: str, size: int, events: list[str], kind: str = "event") -> dict[str, Any]:
    return plan_action(tier, at, size, events, kind)


# The game: web 15, api 20; the final: web 30, api 40 (arena_scaling_schedule's shape, both tiers).
PLAN = [
    step("api", "2027-01-12T19:20:00Z", 20, [GAME]),
    step("web", "2027-01-12T19:20:00Z", 15, [GAME]),
    step("api", "2027-01-12T22:15:00Z", 2, [], "baseline"),
    step("web", "2027-01-12T22:15:00Z", 2, [], "baseline"),
    step("api", "2027-02-01T18:20:00Z", 40, [FINAL]),
    step("web", "2027-02-01T18:20:00Z", 30, [FINAL]),
    step("api", "2027-02-01T21:45:00Z", 2, [], "baseline"),
    step("web", "2027-02-01T21:45:00Z", 2, [], "baseline"),
]
CALENDAR = [
    {
        "name": GAME,
        "timezone": "Europe/Madrid",
        "local_start": "2027-01-12T20:45",
        "start_utc": "2027-01-12T19:45:00Z",
        "end_utc": "2027-01-12T21:45:00Z",
    },
    {
        "name": FINAL,
        "timezone": "Europe/Madrid",
        "local_start": "2027-02-01T20:45",
        "start_utc": "2027-02-01T19:45:00Z",
        "end_utc": "2027-02-01T21:15:00Z",
    },
]


def test_actions_within_the_groups_max_size_pass(rules: ModuleType) -> None:
    assert rules.arena_event_max_size_refusals(PLAN, {"results": GROUPS}, "arena-production") == []


def test_a_floor_above_the_groups_max_size_is_refused(rules: ModuleType) -> None:
    """The group as AWS has it (MaxSize 25, changed by hand) rules, not the model: the final's web floor of
    30 is refused, and every web action would put MaxSize 40 back."""
    groups = [asg("web", WEB_TYPES, 2, 30, 25), GROUPS[1]]
    refusals = rules.arena_event_max_size_refusals(PLAN, groups, "arena-production")
    raises, keeps = refusals[2:4]  # the final's web action: its floor, then its MaxSize
    assert raises == (
        "event_scaling_capacity_model.tiers.web.max_size: the plan raises arena-production-web's floor to 30 at"
        " 2027-02-01T18:20:00Z ('Final'), above the group's MaxSize 25 as AWS has it; AWS keeps a group's minimum at"
        f" or below its maximum ({CAPACITY_LIMITS}): the immediate floor (MinSize only) is refused, and a scheduled"
        " action reaches it only by raising the MaxSize playbooks/platform.yml set. Raise"
        " platform_autoscaling_tiers.web.max_size and run playbooks/platform.yml, or plan a smaller audience."
    )
    assert keeps == (
        "event_scaling_capacity_model.tiers.web.max_size: the action arena-event-web-20270201T1820Z at"
        " 2027-02-01T18:20:00Z ('Final') sets MaxSize 40, but arena-production-web has MaxSize 25; the action would"
        f" replace it when it runs ({SCHEDULED_ACTION}). Keep the model's max_size equal to"
        " platform_autoscaling_tiers.web.max_size."
    )
    # Every web action sets MaxSize 40 (four), one floor is above 25; the api group is untouched.
    assert [r.split(" ")[2] for r in refusals] == ["action", "action", "plan", "action", "action"]
    assert all("arena-production-web" in r for r in refusals)


def test_max_size_rule_bad_input(rules: ModuleType) -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        rules.arena_event_max_size_refusals(PLAN, [GROUPS[0]], "arena-production")
    assert caught.value.message == "arena_event_max_size_refusals: no group arena-production-api among the groups read"


# --- EC2 vCPU quotas at the events' peaks -----------------------------------------------------------


def vcpu_quota(code: str, name: str, value: float | None, source: str = "applied") -> dict[str, Any]:
    return {"service_code": "ec2", "quota_code": code, "quota_name": name, "value": value, "value_source": source}


OD_NAME = "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances"
SPOT_NAME = "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests"


def vcpu_readings(
    on_demand: float | None, spot: float | None, elsewhere: int = 8, types: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A registered arena_ec2_vcpu_quotas result; 8 on-demand vCPUs run outside the groups."""
    source = "applied" if on_demand is not None else "not read"
    return {
        "changed": False,
        "constraints": {
            "region": "eu-west-1",
            "instance_types": types
            or {
                **{t: {"vcpus": 2, "quota_class": "standard"} for t in WEB_TYPES},
                **{t: {"vcpus": 4, "quota_class": "standard"} for t in API_TYPES},
            },
            "quotas": {
                "standard": {
                    "on_demand": vcpu_quota("L-1216C47A", OD_NAME, on_demand, source),
                    "spot": vcpu_quota("L-34B43A08", SPOT_NAME, spot, source),
                }
            },
            "running_elsewhere": {"standard": {"on_demand": elsewhere, "spot": 0}},
        },
    }


def vcpus(rules: ModuleType, readings: dict[str, Any], refuse_until: str = "2027-01-13T00:00:00Z", **extra: Any) -> Any:
    arguments = {
        "model": MODEL,
        "groups": GROUPS,
        "templates": [],
        "readings": readings,
        "calendar": CALENDAR,
        "now": "2027-01-10T00:00:00Z",
        "refuse_until": refuse_until,
        "prefix": "arena-production",
    } | extra
    return rules.arena_event_vcpu_quotas(PLAN, **arguments)


@pytest.mark.parametrize(
    ("instances", "base", "percentage", "split"),
    [
        (15, 2, 30, (6, 10)),  # 2 + ceil(13 x 0.3 = 3.9) on-demand, ceil(13 x 0.7 = 9.1) Spot
        (20, 2, 50, (11, 9)),
        (1, 2, 30, (1, 0)),  # within the base: all on-demand
        (10, 0, 100, (10, 0)),  # AWS's default distribution: no Spot
        (10, 0, 0, (0, 10)),
        (3, 1, 50, (2, 1)),
    ],
)
def test_floors_split_into_on_demand_and_spot(
    rules: ModuleType, instances: int, base: int, percentage: int, split: tuple[int, int]
) -> None:
    assert rules.split_market(instances, base, percentage) == split


def test_a_plan_within_both_quotas_passes_and_reports_its_peaks(rules: ModuleType) -> None:
    """The final: web 30 = 11 on-demand + 20 Spot (x 2 vCPUs), api 40 = 21 + 19 (x 4 vCPUs), plus the 8
    on-demand vCPUs that run elsewhere: 22 + 84 + 8 = 114 on-demand, 40 + 76 = 116 Spot."""
    report = vcpus(rules, vcpu_readings(114.0, 116.0))
    assert (report["refusals"], report["warnings"]) == ([], [])
    assert [
        (q["quota_code"], q["peak"], q["peak_at"], q["peak_events"], q["first_exceeding"]) for q in report["quotas"]
    ] == [
        ("L-1216C47A", 114, "2027-02-01T18:20:00Z", [FINAL], None),
        ("L-34B43A08", 116, "2027-02-01T18:20:00Z", [FINAL], None),
    ]


def request(code: str, value: int) -> str:
    return (
        f"aws service-quotas request-service-quota-increase --service-code ec2 --quota-code {code}"
        f" --desired-value {value} --region eu-west-1"
    )


def test_a_quota_exceeded_only_at_a_later_event_is_a_warning_naming_quota_value_and_event(rules: ModuleType) -> None:
    """The game fits 100 on-demand vCPUs (64), the final three weeks later does not (114): the run goes on,
    the warning says which quota to raise, to what and before which event."""
    report = vcpus(rules, vcpu_readings(100.0, 1000.0))
    assert report["refusals"] == []
    assert report["warnings"] == [
        "event_scaling: event 'Final' (kick-off 2027-02-01T20:45 Europe/Madrid, 2027-02-01T19:45:00Z) needs 114 vCPUs"
        f" of the EC2 quota '{OD_NAME}' (L-1216C47A, eu-west-1) from 2027-02-01T18:20:00Z (api 21 x 4 + web 11 x 2"
        " vCPUs of the planned groups, + 8 of other instances of the class); the quota is 100 (applied;"
        f" {ON_DEMAND_QUOTAS}). Ops must request at least 114 (the plan's peak, at 2027-02-01T18:20:00Z: 'Final')"
        f" before 2027-02-01T18:20:00Z: {request('L-1216C47A', 114)}."
    ]
    assert report["quotas"][0]["first_exceeding"] == {"at": "2027-02-01T18:20:00Z", "need": 114, "events": [FINAL]}


def test_a_quota_exceeded_within_the_refusal_window_refuses_the_run(rules: ModuleType) -> None:
    """60 on-demand vCPUs: the game, whose capacity starts before refuse_until, needs 64 (api 11 x 4 + web
    6 x 2 + 8). The value to request is the plan's peak (the final's 114): one request for the season."""
    report = vcpus(rules, vcpu_readings(60.0, 1000.0))
    assert report["warnings"] == []
    assert report["refusals"] == [
        f"event_scaling_events: event '{GAME}' (kick-off 2027-01-12T20:45 Europe/Madrid, 2027-01-12T19:45:00Z) needs"
        f" 64 vCPUs of the EC2 quota '{OD_NAME}' (L-1216C47A, eu-west-1) from 2027-01-12T19:20:00Z (api 11 x 4 +"
        " web 6 x 2 vCPUs of the planned groups, + 8 of other instances of the class); the quota is 60 (applied;"
        f" {ON_DEMAND_QUOTAS}). Ops must request at least 114 (the plan's peak, at 2027-02-01T18:20:00Z: 'Final')"
        f" before 2027-01-12T19:20:00Z: {request('L-1216C47A', 114)}. Until it is granted, launches above the quota"
        " fail and the groups stay below these floors: re-run once it is granted, or take the events out of the"
        " calendar or lower their audience."
    ]


def test_spot_is_checked_apart_from_on_demand(rules: ModuleType) -> None:
    """The Spot default (5 vCPUs) against the game's 56 Spot vCPUs (api 9 x 4 + web 10 x 2); on-demand fits."""
    report = vcpus(rules, vcpu_readings(1000.0, 5.0))
    assert report["warnings"] == []
    assert report["refusals"] == [
        f"event_scaling_events: event '{GAME}' (kick-off 2027-01-12T20:45 Europe/Madrid, 2027-01-12T19:45:00Z) needs"
        f" 56 vCPUs of the EC2 quota '{SPOT_NAME}' (L-34B43A08, eu-west-1) from 2027-01-12T19:20:00Z (api 9 x 4 + web"
        " 10 x 2 vCPUs of the planned groups, + 0 of other instances of the class); the quota is 5 (applied;"
        f" {SPOT_QUOTAS}). Ops must request at least 116 (the plan's peak, at 2027-02-01T18:20:00Z: 'Final') before"
        f" 2027-01-12T19:20:00Z: {request('L-34B43A08', 116)}. Until it is granted, launches above the quota fail and"
        " the groups stay below these floors: re-run once it is granted, or take the events out of the calendar or"
        " lower their audience."
    ]


def test_an_all_on_demand_group_needs_no_spot(rules: ModuleType) -> None:
    """Without a mixed instances policy a group is all on-demand: 15 x 2 + 20 x 4 + 8 = 118 at the game."""
    groups = [{**group, "mixed_instances_policy": {}} for group in GROUPS]
    templates = [
        {
            "launch_template_id": f"lt-{tier}",
            "default_version_number": 1,
            "versions": [{"version_number": 1, "launch_template_data": {"instance_type": itype}}],
        }
        for tier, itype in (("web", "c6i.large"), ("api", "c6i.xlarge"))
    ]
    groups = [
        g | {"launch_template": {"launch_template_id": g["auto_scaling_group_name"].replace("arena-production", "lt")}}
        for g in groups
    ]
    report = vcpus(rules, vcpu_readings(1000.0, 0.0), groups=groups, templates=templates)
    assert [(q["market"], q["peak"]) for q in report["quotas"]] == [("on_demand", 8 + 30 * 2 + 40 * 4), ("spot", 0)]
    assert (report["refusals"], report["warnings"]) == ([], [])


def test_quotas_not_read_warn_with_the_peak(rules: ModuleType) -> None:
    """The emulator implements no EC2 quota: the rule says what the plan needs and does not refuse."""
    report = vcpus(rules, vcpu_readings(None, None))
    assert report["refusals"] == []
    assert report["warnings"] == [
        f"event_scaling: the EC2 vCPU quota '{OD_NAME}' (L-1216C47A, eu-west-1) was not read (not read); the plan"
        " needs up to 114 vCPUs of it at 2027-02-01T18:20:00Z ('Final').",
        f"event_scaling: the EC2 vCPU quota '{SPOT_NAME}' (L-34B43A08, eu-west-1) was not read (not read); the plan"
        " needs up to 116 vCPUs of it at 2027-02-01T18:20:00Z ('Final').",
    ]


@pytest.mark.parametrize(("itype", "qclass"), [("g5.xlarge", "G and VT"), ("q9.large", "unknown")])
def test_an_instance_type_of_a_class_not_read_is_refused_by_name(rules: ModuleType, itype: str, qclass: str) -> None:
    groups = [asg("web", (*WEB_TYPES, itype), 2, 30, 40), GROUPS[1]]
    types = vcpu_readings(1.0, 1.0)["constraints"]["instance_types"] | {itype: {"vcpus": 4, "quota_class": qclass}}
    report = vcpus(rules, vcpu_readings(1000.0, 1000.0, types=types), groups=groups)
    assert report == {
        "refusals": [
            f"event_scaling_capacity_model.tiers.web: arena-production-web can launch {itype}, whose instance family"
            f" counts against the {qclass} class of EC2 vCPU quotas; this preflight reads only the quotas of"
            f" ['standard'] instances ({ON_DEMAND_QUOTAS}; {SPOT_QUOTAS}), so it cannot say whether the events fit."
            f" Remove {itype} from platform_autoscaling_tiers.web.instance_types or add its class to"
            " library/arena_ec2_vcpu_quotas.py."
        ],
        "warnings": [],
        "quotas": [],
    }


def test_the_groups_instance_types_are_what_the_module_reads(rules: ModuleType) -> None:
    assert rules.arena_event_group_instance_types(GROUPS, []) == sorted(WEB_TYPES + API_TYPES)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"readings": {"constraints": {"region": "eu-west-1"}}},
            "arena_event_vcpu_quotas: expected the constraints of arena_ec2_vcpu_quotas (region, instance_types,"
            " quotas, running_elsewhere), got {'region': 'eu-west-1'}",
        ),
        (
            {"refuse_until": ""},
            "arena_event_vcpu_quotas: refuse_until must be a UTC time like 2027-01-01T00:00:00Z, got ''",
        ),
        (
            {"readings": vcpu_readings(1.0, 1.0, types={"c6i.large": {"vcpus": 2, "quota_class": "standard"}})},
            "arena_event_vcpu_quotas: no vCPU reading for c6i.xlarge (arena-production-api): ['c6i.large']",
        ),
    ],
)
def test_vcpu_rule_bad_input(rules: ModuleType, extra: dict[str, Any], message: str) -> None:
    extra = dict(extra)
    readings = extra.pop("readings", vcpu_readings(1.0, 1.0))
    with pytest.raises(AnsibleFilterError) as caught:
        vcpus(rules, readings, **extra)
    assert caught.value.message == message
