"""Preflight rules of the live-event plan: requests AWS refuses and the emulator accepts.

Pure functions, no AWS call. ``roles/event_scaling`` (tasks/preflight.yml) first reads what AWS
holds by running its three modules in check mode; each returns a ``constraints`` mapping (the
facts a rule needs). These filters turn the plan and those facts into refusals: each names the
role variable to change, the rule and the AWS documentation page. An empty list means the plan
passes; the role fails with every refusal at once, before any change. Malformed input raises
``AnsibleFilterError("<filter>: ...")``.

Filters:
    ``arena_event_plan_action_refusals(plan, now[, quota])``: one-off actions the plan alone puts on
    a tier's group after ``now`` against AWS's per-group limit (no read needed).
    ``arena_event_scheduled_action_refusals(results)``: the same limit counted with the actions each
    group already has (``arena_scheduled_actions`` check-mode results).
    ``arena_event_warm_pool_refusals(results)``: warm pool vs a mixed instances policy or Spot
    Instances, and the launch lifecycle hook a warm pool needs (``arena_warm_pool`` results).
    ``arena_event_lcu_refusals(results)``: load balancer capacity reservations: an update while the
    previous request is in progress, a decrease with none left today, and the Region's reserved-LCU
    quota (``arena_alb_capacity_reservation`` results).
    ``arena_event_instance_type_refusals(model, groups, templates, prefix)``: a tier whose group cannot
    launch the capacity model's instance type (``autoscaling_group_info`` and
    ``ec2_launch_template_info`` results): the model's requests per instance are measured for that type.
    ``arena_event_max_size_refusals(plan, groups, prefix)``: an action whose floor is above the group's
    MaxSize as AWS has it, or whose MaxSize differs from the group's (``autoscaling_group_info``).
    ``arena_event_group_instance_types(groups, templates)``: every instance type the groups can launch
    (what ``arena_ec2_vcpu_quotas`` reads the vCPUs of).
    ``arena_event_vcpu_quotas(plan, model, groups, templates, readings, calendar, now, refuse_until,
    prefix)``: the plan's vCPUs per EC2 quota (on-demand and Spot, per instance class) at every step
    of the plan, against the quotas ``arena_ec2_vcpu_quotas`` read: refusals (an event that starts
    its capacity before ``refuse_until``), warnings (later events) and the peaks, as a mapping.

The constants below are repeated in the modules (a module cannot import a filter plugin);
tests/unit/filters/test_arena_event_rules.py checks that both agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

# "Scheduled actions per Auto Scaling group: 125", among the quotas that "cannot be changed".
SCHEDULED_ACTIONS_PER_GROUP = 125
DOC_ASG_QUOTAS = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-quotas.html"

# PutWarmPool: "This operation cannot be called on an Auto Scaling group that has a mixed instances
# policy or a launch template or launch configuration that requests Spot Instances."
WARM_POOL_REFUSAL = (
    "PutWarmPool 'cannot be called on an Auto Scaling group that has a mixed instances policy or a launch"
    " template or launch configuration that requests Spot Instances'"
)
DOC_PUT_WARM_POOL = "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutWarmPool.html"
DOC_WARM_POOL_LIMITS = (
    "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html#warm-pools-limitations"
)
DOC_WARM_POOL_HOOKS = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html"
LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"

# Elastic Load Balancing: "Reserved Application Load Balancer Capacity Units (LCU) per Region",
# default 0, adjustable (Service Quotas code L-8A66D0E6 in the quota table's link).
LCU_QUOTA_SERVICE = "elasticloadbalancing"
LCU_QUOTA_CODE = "L-8A66D0E6"
LCU_QUOTA_NAME = "Reserved Application Load Balancer Capacity Units (LCU) per Region"
DOC_LCU_QUOTAS = (
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html#lcu-quotas"
)
# "To update an existing reservation, the previous request must be provisioned or failed. You can
# increase reserved capacity as many times as you need, however you can only decrease the reserved
# capacity two times per day."
DOC_LCU_REQUEST = (
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/request-capacity-unit-reservation.html"
)
LCU_SETTLED_STATES = ("provisioned", "failed")

# A scheduled action's MinSize, MaxSize and DesiredCapacity (PutScheduledUpdateGroupAction, the request
# shape BatchPutScheduledUpdateGroupAction uses): a MaxSize in it replaces the group's when it runs.
DOC_SCHEDULED_ACTION = "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutScheduledUpdateGroupAction.html"
# "The desired capacity must be equal to or greater than the minimum group size, and equal to or less
# than the maximum group size" (Set scaling limits).
DOC_CAPACITY_LIMITS = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/asg-capacity-limits.html"
# EC2 vCPU quotas per instance class: on-demand ("Running On-Demand Standard (A, C, D, H, I, M, R, T, Z)
# instances", Service Quotas ec2 L-1216C47A) and Spot ("All Standard (A, C, D, H, I, M, R, T, Z) Spot
# Instance Requests", L-34B43A08); library/arena_ec2_vcpu_quotas.py reads them.
DOC_ON_DEMAND_QUOTAS = "https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html"
DOC_SPOT_QUOTAS = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-spot-limits.html"


def _results(value: Any, fname: str) -> list[dict[str, Any]]:
    """Registered loop results (the ``results`` list, or the registered variable itself), skipped items dropped."""
    if isinstance(value, Mapping) and "results" not in value and value.get("skipped"):
        return []  # the whole read task was skipped (its component is off)
    if isinstance(value, Mapping) and "results" in value:
        value = value["results"]
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise AnsibleFilterError(f"{fname}: expected a list of registered results, got {value!r}")
    return [dict(item) for item in value if not item.get("skipped")]


def _constraints(result: Mapping[str, Any], keys: tuple[str, ...], fname: str) -> dict[str, Any]:
    constraints = result.get("constraints")
    if not isinstance(constraints, Mapping):
        raise AnsibleFilterError(
            f"{fname}: a result has no constraints (the module could not read what AWS holds): "
            f"{result.get('msg', result)!r}"
        )
    missing = [key for key in keys if key not in constraints]
    if missing:
        raise AnsibleFilterError(f"{fname}: constraints are missing {', '.join(missing)}: {dict(constraints)!r}")
    return dict(constraints)


def _loop_item(result: Mapping[str, Any], fname: str) -> Any:
    name = result.get("ansible_loop_var", "item")
    if name not in result:
        raise AnsibleFilterError(f"{fname}: a result has no loop item {name!r}: {dict(result)!r}")
    return result[name]


def _count(value: Any, where: str, fname: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise AnsibleFilterError(f"{fname}: {where} must be an integer >= 0, got {value!r}")
    return value


def _units(value: int | float | None) -> str:
    if value is None:
        return "none"
    return str(int(value)) if float(value).is_integer() else str(value)


# --- instance type of the capacity model vs the group ---------------------------------------------


def _template_type(spec: Mapping[str, Any], templates: list[Mapping[str, Any]]) -> list[str]:
    """The instance type of the launch template version a group names ([] when it has none)."""
    found = [
        t
        for t in templates
        if t.get("launch_template_id") == spec.get("launch_template_id")
        or (spec.get("launch_template_name") and t.get("launch_template_name") == spec.get("launch_template_name"))
    ]
    if not found:
        return []
    template = found[0]
    version = str(spec.get("version") or "$Default")
    number = {"$Latest": template.get("latest_version_number"), "$Default": template.get("default_version_number")}.get(
        version, version
    )
    for item in template.get("versions", []):
        if str(item.get("version_number")) == str(number):
            itype = item.get("launch_template_data", {}).get("instance_type")
            return [itype] if itype else []
    return []


def launchable_types(group: Mapping[str, Any], templates: list[Mapping[str, Any]]) -> list[str]:
    """Instance types the group can launch: its mixed instances policy's overrides, otherwise the type
    of its launch template version (autoscaling_group_info keys, snake case)."""
    mixed = group.get("mixed_instances_policy") or {}
    if mixed:
        launch = mixed.get("launch_template") or {}
        overrides = [o["instance_type"] for o in launch.get("overrides") or [] if o.get("instance_type")]
        return overrides or _template_type(launch.get("launch_template_specification") or {}, templates)
    return _template_type(group.get("launch_template") or {}, templates)


def arena_event_launch_template_ids(groups: Any) -> list[str]:
    """Launch template ids whose version must be read to know what a group launches (the groups
    without instance type overrides); sorted, no duplicates."""
    if not isinstance(groups, list):
        raise AnsibleFilterError(f"arena_event_launch_template_ids: expected a list of groups, got {groups!r}")
    ids = set()
    for group in groups:
        mixed = group.get("mixed_instances_policy") or {}
        launch = mixed.get("launch_template") or {}
        if mixed and any(o.get("instance_type") for o in launch.get("overrides") or []):
            continue
        spec = (launch.get("launch_template_specification") if mixed else group.get("launch_template")) or {}
        if spec.get("launch_template_id"):
            ids.add(spec["launch_template_id"])
    return sorted(ids)


def arena_event_instance_type_refusals(model: Any, groups: Any, templates: Any, prefix: str) -> list[str]:
    """Refusals for tiers whose group (``<prefix>-<tier>``) cannot launch the model's instance type."""
    fname = "arena_event_instance_type_refusals"
    if not isinstance(model, Mapping) or not isinstance(model.get("tiers"), Mapping):
        raise AnsibleFilterError(f"{fname}: expected the capacity model, got {model!r}")
    if not isinstance(groups, list) or not isinstance(templates, list):
        raise AnsibleFilterError(
            f"{fname}: expected lists of groups and launch templates, got {groups!r}, {templates!r}"
        )
    by_name = {g.get("auto_scaling_group_name"): g for g in groups if isinstance(g, Mapping)}
    refusals = []
    for tier in sorted(model["tiers"]):
        wanted = model["tiers"][tier].get("instance_type")
        name = f"{prefix}-{tier}"
        if name not in by_name:
            raise AnsibleFilterError(f"{fname}: no group {name} among the groups read")
        types = launchable_types(by_name[name], templates)
        if wanted not in types:
            refusals.append(
                f"event_scaling_capacity_model.tiers.{tier}.instance_type is {wanted}, but {name} launches"
                f" {types or 'no known instance type'} (platform_autoscaling_tiers.{tier}.instance_types): the"
                f" model's requests per instance are measured for {wanted}, so the plan's floors would not carry"
                f" the audience on other types. Put {wanted} first in platform_autoscaling_tiers.{tier}.instance_types"
                f" and run playbooks/platform.yml, or change the model's instance_type."
            )
    return refusals


# --- scheduled actions per group -----------------------------------------------------------------


def arena_event_plan_action_refusals(
    plan: list[dict[str, Any]], now: str, quota: int = SCHEDULED_ACTIONS_PER_GROUP
) -> list[str]:
    """Refusals for tiers whose planned actions after ``now`` alone exceed AWS's per-group limit.

    ``plan`` is the ``arena_scaling_schedule`` output (``tier``, ``start_time`` in UTC ISO text of one
    length, so text order is time order); actions at or before ``now`` are not applied.
    """
    fname = "arena_event_plan_action_refusals"
    if not isinstance(plan, list) or not all(
        isinstance(a, Mapping) and isinstance(a.get("tier"), str) and isinstance(a.get("start_time"), str) for a in plan
    ):
        raise AnsibleFilterError(f"{fname}: plan must be a list of actions with tier and start_time, got {plan!r}")
    if not isinstance(now, str) or not now:
        raise AnsibleFilterError(f"{fname}: now must be a UTC time like 2027-01-01T00:00:00Z, got {now!r}")
    quota = _count(quota, "quota", fname)
    counts: dict[str, int] = {}
    for action in plan:
        if action["start_time"] > now:
            counts[action["tier"]] = counts.get(action["tier"], 0) + 1
    return [
        f"event_scaling_events: the plan puts {count} one-off scheduled actions on the {tier} tier's Auto Scaling"
        f" group after {now}; AWS allows {quota} scheduled actions per Auto Scaling group and does not raise that"
        f" quota ({DOC_ASG_QUOTAS}). Plan fewer events ahead (re-run the playbook as the season goes on)."
        for tier, count in sorted(counts.items())
        if count > quota
    ]


def arena_event_scheduled_action_refusals(results: Any) -> list[str]:
    """Refusals for groups that would hold more scheduled actions than AWS allows after the apply.

    ``constraints`` of ``arena_scheduled_actions``: ``autoscaling_group_name``, ``name_prefix``,
    ``quota``, ``current`` (actions the group holds now, every name), ``not_managed`` (names outside
    the prefix) and ``after`` (what it would hold once the plan is applied).
    """
    fname = "arena_event_scheduled_action_refusals"
    keys = ("autoscaling_group_name", "name_prefix", "quota", "current", "not_managed", "after")
    refusals = []
    for result in _results(results, fname):
        c = _constraints(result, keys, fname)
        quota, after, not_managed = (_count(c[key], key, fname) for key in ("quota", "after", "not_managed"))
        if after > quota:
            refusals.append(
                f"event_scaling_events: after this plan {c['autoscaling_group_name']} would hold {after} scheduled"
                f" actions ({not_managed} that event_scaling does not manage, named outside '{c['name_prefix']}',"
                f" and {after - not_managed} of its own); AWS allows {quota} per Auto Scaling group and does not"
                f" raise that quota ({DOC_ASG_QUOTAS}). Delete actions that are no longer needed or plan fewer"
                " events ahead."
            )
    return refusals


# --- warm pools ----------------------------------------------------------------------------------


def arena_event_warm_pool_refusals(results: Any) -> list[str]:
    """Refusals for warm pools on groups AWS would refuse them on, or without a launch lifecycle hook.

    ``constraints`` of ``arena_warm_pool`` (state present): ``autoscaling_group_name``,
    ``mixed_instances_policy`` (bool), ``spot_request`` (what requests Spot Instances, or None) and
    ``launch_lifecycle_hooks`` (names of the hooks on autoscaling:EC2_INSTANCE_LAUNCHING).
    """
    fname = "arena_event_warm_pool_refusals"
    keys = ("autoscaling_group_name", "mixed_instances_policy", "spot_request", "launch_lifecycle_hooks")
    keep_off = "Keep event_scaling_warm_pool_enabled false until the live-event design changes."
    refusals = []
    for result in _results(results, fname):
        c = _constraints(result, keys, fname)
        group = c["autoscaling_group_name"]
        if c["mixed_instances_policy"]:
            refusals.append(
                f"event_scaling_warm_pool_enabled: {group} has a mixed instances policy (every platform group"
                f" has one: library/arena_autoscaling_group.py); {WARM_POOL_REFUSAL} ({DOC_PUT_WARM_POOL};"
                f" {DOC_WARM_POOL_LIMITS}). {keep_off}"
            )
        if c["spot_request"]:
            refusals.append(
                f"event_scaling_warm_pool_enabled: {group} requests Spot Instances ({c['spot_request']});"
                f" {WARM_POOL_REFUSAL} ({DOC_PUT_WARM_POOL}; {DOC_WARM_POOL_LIMITS}). {keep_off}"
            )
        if not c["launch_lifecycle_hooks"]:
            refusals.append(
                f"event_scaling_warm_pool_enabled: {group} has no lifecycle hook for {LAUNCHING}; a warm pool"
                " needs one: AWS stops instances as they enter the pool without waiting for their user data"
                f" to finish ({DOC_WARM_POOL_HOOKS}). Add the hook to the group before enabling the warm pool."
            )
    return refusals


# --- load balancer capacity reservations -----------------------------------------------------------


def _lb_name(arn: str) -> str:
    """arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<id> -> <name>."""
    parts = arn.split(":loadbalancer/", 1)[-1].split("/")
    return parts[1] if len(parts) == 3 else arn


def _describe(units: int | None) -> str:
    return "no reservation" if units is None else f"{units} LCU"


def arena_event_lcu_refusals(results: Any) -> list[str]:
    """Refusals for LCU reservation changes AWS would refuse.

    ``constraints`` of ``arena_alb_capacity_reservation``: ``load_balancer_arn``,
    ``current_capacity_units`` and ``requested_capacity_units`` (None: no reservation / reset),
    ``decrease_requests_remaining``, ``zone_states`` ([{availability_zone, state}]) and, on an
    increase, ``region_quota`` (``region``, ``value``, ``reserved_elsewhere``: {ARN: LCU} of the
    Region's other Application Load Balancers). The loop item of each result is the
    ``event_scaling_alb_reservation.load_balancers`` entry ({key: tier, value: name}).
    """
    fname = "arena_event_lcu_refusals"
    keys = (
        "load_balancer_arn",
        "current_capacity_units",
        "requested_capacity_units",
        "decrease_requests_remaining",
        "zone_states",
    )
    refusals: list[str] = []
    ours: list[tuple[str, str, int | None, int | None]] = []  # (tier, arn, current, requested)
    quota: dict[str, Any] | None = None
    increase = False
    for result in _results(results, fname):
        c = _constraints(result, keys, fname)
        item = _loop_item(result, fname)
        tier = item.get("key") if isinstance(item, Mapping) else item
        variable = f"event_scaling_alb_reservation.load_balancers.{tier}"
        arn, current, requested = c["load_balancer_arn"], c["current_capacity_units"], c["requested_capacity_units"]
        name = _lb_name(arn)
        ours.append((str(tier), arn, current, requested))
        if requested == current:
            continue
        busy = [z for z in c["zone_states"] if z.get("state") not in LCU_SETTLED_STATES]
        if busy:
            zones = ", ".join(f"{z.get('state')} in {z.get('availability_zone')}" for z in busy)
            refusals.append(
                f"{variable}: the LCU reservation of {name} is {zones}; AWS updates a reservation only when the"
                f" previous request is provisioned or failed ({DOC_LCU_REQUEST}). This run would change it from"
                f" {_describe(current)} to {_describe(requested)}: re-run once it is provisioned (most requests"
                " take minutes, some a few hours)."
            )
        if (requested or 0) > (current or 0):
            increase = True
            if isinstance(c.get("region_quota"), Mapping):
                quota = dict(c["region_quota"])
        elif c["decrease_requests_remaining"] == 0:
            target = "reset it" if requested is None else f"lower it to {requested} LCU"
            refusals.append(
                f"{variable}: the LCU reservation of {name} is {current} LCU and this run would {target}, a"
                " decrease; AWS has no decrease request left today for it (DecreaseRequestsRemaining 0; 'you"
                f" can only decrease the reserved capacity two times per day': {DOC_LCU_REQUEST}). Re-run"
                f" tomorrow; it stays reserved (and billed) at {current} LCU until then."
            )
    if increase:
        refusals.extend(_quota_refusals(ours, quota, fname))
    return refusals


def _quota_refusals(
    ours: list[tuple[str, str, int | None, int | None]], quota: dict[str, Any] | None, fname: str
) -> list[str]:
    if quota is None or not {"region", "value", "reserved_elsewhere"} <= set(quota):
        raise AnsibleFilterError(
            f"{fname}: an increase without region_quota (region, value, reserved_elsewhere): {quota!r}"
        )
    arns = {arn for _, arn, _, _ in ours}
    elsewhere = quota["reserved_elsewhere"]
    if not isinstance(elsewhere, Mapping):
        raise AnsibleFilterError(f"{fname}: region_quota.reserved_elsewhere must be a mapping, got {elsewhere!r}")
    others = sum(units for arn, units in elsewhere.items() if arn not in arns)
    planned = sum(requested or 0 for _, _, _, requested in ours)
    needed = planned + others
    if needed <= quota["value"]:
        return []
    region = quota["region"]
    parts = ", ".join(f"{tier} {requested or 0} on {_lb_name(arn)}" for tier, arn, _, requested in ours)
    return [
        f"event_scaling_alb_reservation: the plan reserves {planned} LCU in {region} ({parts}) and the Region's"
        f" other Application Load Balancers hold {others}; the quota '{LCU_QUOTA_NAME}' is"
        f" {_units(quota['value'])} there (AWS default 0: {DOC_LCU_QUOTAS}). Ops must request in Service Quotas"
        f" (Elastic Load Balancing, quota code {LCU_QUOTA_CODE}) in {region} a value of at least {needed}:"
        f" aws service-quotas request-service-quota-increase --service-code {LCU_QUOTA_SERVICE}"
        f" --quota-code {LCU_QUOTA_CODE} --desired-value {needed} --region {region}. Until it is granted,"
        " -e event_scaling_alb_reservation_enabled=false applies the rest of the plan without the reservation."
    ]


# --- the group's MaxSize -------------------------------------------------------------------------


def _groups_by_name(groups: Any, fname: str) -> dict[str, dict[str, Any]]:
    if isinstance(groups, Mapping) and "results" in groups:
        groups = groups["results"]
    if not isinstance(groups, list) or not all(isinstance(g, Mapping) for g in groups):
        raise AnsibleFilterError(f"{fname}: expected the groups autoscaling_group_info read, got {groups!r}")
    return {g.get("auto_scaling_group_name"): dict(g) for g in groups}


def _plan(plan: Any, fname: str) -> list[dict[str, Any]]:
    keys = ("tier", "start_time", "min_size", "max_size", "events")
    if not isinstance(plan, list) or not all(isinstance(a, Mapping) and all(k in a for k in keys) for a in plan):
        raise AnsibleFilterError(f"{fname}: plan must be a list of actions with {', '.join(keys)}, got {plan!r}")
    return [dict(a) for a in plan]


def _events_text(events: list[str]) -> str:
    return ", ".join(repr(name) for name in events) if events else "the return to the baseline"


def arena_event_max_size_refusals(plan: Any, groups: Any, prefix: str) -> list[str]:
    """Refusals for actions AWS would refuse or that would fight the group's MaxSize.

    AWS refuses a MinSize above the MaxSize of the request, and an action's MaxSize replaces the
    group's when it runs: every action must keep the group's MaxSize as AWS has it (read from the
    group, ``autoscaling_group_info``), and its floor must fit under it.
    """
    fname = "arena_event_max_size_refusals"
    actions = _plan(plan, fname)
    by_name = _groups_by_name(groups, fname)
    refusals = []
    for action in actions:
        tier = action["tier"]
        name = f"{prefix}-{tier}"
        if name not in by_name:
            raise AnsibleFilterError(f"{fname}: no group {name} among the groups read")
        group_max = _count(by_name[name].get("max_size"), f"max_size of {name}", fname)
        variable = f"event_scaling_capacity_model.tiers.{tier}.max_size"
        when = f"at {action['start_time']} ({_events_text(action['events'])})"
        if action["min_size"] > group_max:
            refusals.append(
                f"{variable}: the plan raises {name}'s floor to {action['min_size']} {when}, above the group's"
                f" MaxSize {group_max} as AWS has it; AWS keeps a group's minimum at or below its maximum"
                f" ({DOC_CAPACITY_LIMITS}): the immediate floor (MinSize only) is refused, and a scheduled action"
                " reaches it only by raising the MaxSize playbooks/platform.yml set. Raise"
                f" platform_autoscaling_tiers.{tier}.max_size and run playbooks/platform.yml, or plan a smaller"
                " audience."
            )
        if action["max_size"] != group_max:
            refusals.append(
                f"{variable}: the action {action.get('name', tier)} {when} sets MaxSize {action['max_size']}, but"
                f" {name} has MaxSize {group_max}; the action would replace it when it runs"
                f" ({DOC_SCHEDULED_ACTION}). Keep the model's max_size equal to"
                f" platform_autoscaling_tiers.{tier}.max_size."
            )
    return refusals


# --- EC2 vCPU quotas at the events' peaks ---------------------------------------------------------


def arena_event_group_instance_types(groups: Any, templates: Any) -> list[str]:
    """Every instance type the groups can launch (sorted, no duplicates)."""
    fname = "arena_event_group_instance_types"
    by_name = _groups_by_name(groups, fname)
    if not isinstance(templates, list):
        raise AnsibleFilterError(f"{fname}: expected a list of launch templates, got {templates!r}")
    return sorted({t for group in by_name.values() for t in launchable_types(group, templates)})


def split_market(instances: int, base: int, percentage: int) -> tuple[int, int]:
    """(on-demand, Spot) instance counts of a mixed instances group at ``instances``, each rounded up.

    The first ``base`` instances are on-demand; above them ``percentage`` % are on-demand and the rest
    Spot. How AWS rounds a fraction is not stated in the pages read, so each market is rounded up on
    its own (the two may add up to one more than ``instances``): neither quota is underestimated.
    """
    above = max(instances - base, 0)
    on_demand = min(instances, base) + -(-above * percentage // 100)
    spot = -(-above * (100 - percentage) // 100)
    return on_demand, spot


def _distribution(group: Mapping[str, Any]) -> tuple[int, int]:
    """(OnDemandBaseCapacity, OnDemandPercentageAboveBaseCapacity); a group without a mixed instances
    policy is all on-demand. AWS's defaults when a key is absent: 0 and 100."""
    mixed = group.get("mixed_instances_policy") or {}
    if not mixed:
        return 0, 100
    distribution = mixed.get("instances_distribution") or {}
    base = distribution.get("on_demand_base_capacity")
    percentage = distribution.get("on_demand_percentage_above_base_capacity")
    return (0 if base is None else int(base)), (100 if percentage is None else int(percentage))


def _vcpu_readings(readings: Any, fname: str) -> dict[str, Any]:
    if isinstance(readings, Mapping) and "constraints" in readings:
        readings = readings["constraints"]
    keys = ("region", "instance_types", "quotas", "running_elsewhere")
    if not isinstance(readings, Mapping) or not all(k in readings for k in keys):
        raise AnsibleFilterError(
            f"{fname}: expected the constraints of arena_ec2_vcpu_quotas ({', '.join(keys)}), got {readings!r}"
        )
    return dict(readings)


def _kick_off(calendar: list[Mapping[str, Any]], name: str, at: str) -> str:
    """'<local start> <zone> (<UTC>)' of the calendar entry ``name`` whose window holds ``at``."""
    entries = sorted(
        (e for e in calendar if e.get("name") == name and str(e.get("end_utc", "")) >= at),
        key=lambda e: str(e.get("start_utc")),
    )
    if not entries:
        return "kick-off unknown"
    entry = entries[0]
    return f"kick-off {entry.get('local_start')} {entry.get('timezone')}, {entry.get('start_utc')}"


def _steps(actions: list[dict[str, Any]], model: Mapping[str, Any]) -> list[tuple[str, dict[str, int], list[str]]]:
    """(time, floor per tier, events in effect) after every action time of the plan."""
    floors = {tier: int(spec["min_size"]) for tier, spec in model["tiers"].items()}
    events: dict[str, list[str]] = {tier: [] for tier in floors}
    steps = []
    for index, action in enumerate(actions):
        floors[action["tier"]] = int(action["min_size"])
        events[action["tier"]] = list(action["events"])
        last = index + 1 == len(actions) or actions[index + 1]["start_time"] != action["start_time"]
        if last:
            names = sorted({name for tier in sorted(events) for name in events[tier]})
            steps.append((action["start_time"], dict(floors), names))
    return steps


def _tier_vcpus(
    model: Mapping[str, Any],
    by_name: dict[str, dict[str, Any]],
    templates: list[Any],
    read: dict[str, Any],
    prefix: str,
) -> tuple[dict[str, tuple[int, int, dict[str, int]]], list[str]]:
    """Per tier (on-demand base, percentage, {quota class: vCPUs per instance}), and refusals for
    instance types whose quota class is not read."""
    fname = "arena_event_vcpu_quotas"
    types, quotas = read["instance_types"], read["quotas"]
    tiers: dict[str, tuple[int, int, dict[str, int]]] = {}
    refusals: list[str] = []
    for tier in sorted(model["tiers"]):
        name = f"{prefix}-{tier}"
        if name not in by_name:
            raise AnsibleFilterError(f"{fname}: no group {name} among the groups read")
        per_class: dict[str, int] = {}
        for itype in launchable_types(by_name[name], templates):
            if itype not in types:
                raise AnsibleFilterError(f"{fname}: no vCPU reading for {itype} ({name}): {sorted(types)}")
            qclass = types[itype].get("quota_class")
            vcpus = _count(types[itype].get("vcpus"), f"vcpus of {itype}", fname)
            if qclass not in quotas:
                refusals.append(
                    f"event_scaling_capacity_model.tiers.{tier}: {name} can launch {itype}, whose instance family"
                    f" counts against the {qclass or 'unknown'} class of EC2 vCPU quotas; this preflight reads only"
                    f" the quotas of {sorted(quotas)} instances ({DOC_ON_DEMAND_QUOTAS}; {DOC_SPOT_QUOTAS}), so it"
                    f" cannot say whether the events fit. Remove {itype} from platform_autoscaling_tiers.{tier}"
                    ".instance_types or add its class to library/arena_ec2_vcpu_quotas.py."
                )
                continue
            per_class[qclass] = max(per_class.get(qclass, 0), vcpus)
        tiers[tier] = (*_distribution(by_name[name]), per_class)
    return tiers, refusals


Need = tuple[str, int, list[str], list[str]]  # (time, vCPUs, events in effect, per-tier parts)


def _needs(
    steps: list[tuple[str, dict[str, int], list[str]]],
    tiers: dict[str, tuple[int, int, dict[str, int]]],
    qclass: str,
    market: str,
    other: int,
) -> list[Need]:
    needs = []
    for at, floors, events in steps:
        need, parts = other, []
        for tier, (base, percentage, per_class) in sorted(tiers.items()):
            if qclass in per_class:
                count = split_market(floors[tier], base, percentage)[0 if market == "on_demand" else 1]
                need += count * per_class[qclass]
                parts.append(f"{tier} {count} x {per_class[qclass]}")
        needs.append((at, need, events, parts))
    return needs


def _quota_message(
    quota: dict[str, Any], region: str, market: str, *, first: Need, peak: Need, other: int, calendar: list[Any]
) -> str:
    at, need, events, parts = first
    label = f"'{quota['quota_name']}' ({quota['quota_code']}, {region})"
    who = (
        ("event " if len(events) == 1 else "events ")
        + ", ".join(f"{name!r} ({_kick_off(calendar, name, at)})" for name in events)
        + (" needs" if len(events) == 1 else " need")
        if events
        else "the plan needs"
    )
    doc = DOC_ON_DEMAND_QUOTAS if market == "on_demand" else DOC_SPOT_QUOTAS
    command = (
        f"aws service-quotas request-service-quota-increase --service-code ec2 --quota-code"
        f" {quota['quota_code']} --desired-value {peak[1]} --region {region}"
    )
    return (
        f"{who} {need} vCPUs of the EC2 quota {label} from {at} ({' + '.join(parts)} vCPUs of the planned groups,"
        f" + {other} of other instances of the class); the quota is {_units(quota['value'])}"
        f" ({quota.get('value_source')}; {doc}). Ops must request at least {peak[1]} (the plan's peak, at"
        f" {peak[0]}: {_events_text(peak[2])}) before {at}: {command}."
    )


def arena_event_vcpu_quotas(
    plan: Any,
    *,
    model: Any,
    groups: Any,
    templates: Any,
    readings: Any,
    calendar: Any,
    now: str,
    refuse_until: str,
    prefix: str,
) -> dict[str, Any]:
    """The plan's vCPUs per EC2 vCPU quota at every step, against the quotas read.

    Per step of the plan (every action time; the immediate floors at ``now`` first) and per tier: the
    floor, split into on-demand and Spot by the group's mixed instances distribution
    (``split_market``), times the largest DefaultVCpus among the group's instance types of each quota
    class (any of them may be launched); plus what the account already runs in that class outside the
    planned groups (``running_elsewhere``). ``readings`` are the constraints of
    ``arena_ec2_vcpu_quotas`` (``instance_types``: type -> {vcpus, quota_class}; ``quotas``: class ->
    {on_demand, spot} -> {quota_code, quota_name, value, value_source}, value None when not read).

    Returns ``refusals`` (a quota exceeded at a step at or before ``refuse_until``: too late to ask
    AWS), ``warnings`` (exceeded only later, or the quotas were not read) and ``quotas`` (per quota:
    value, peak need, when and for which events, the first step that exceeds it). One request covers
    the whole plan: the value named is the plan's peak.
    """
    fname = "arena_event_vcpu_quotas"
    actions = sorted(_plan(plan, fname), key=lambda a: (a["start_time"], a.get("kind") != "immediate", a["tier"]))
    if not isinstance(model, Mapping) or not isinstance(model.get("tiers"), Mapping):
        raise AnsibleFilterError(f"{fname}: expected the capacity model, got {model!r}")
    by_name = _groups_by_name(groups, fname)
    if not isinstance(templates, list) or not isinstance(calendar, list):
        raise AnsibleFilterError(
            f"{fname}: expected lists of launch templates and calendar events, got {templates!r}, {calendar!r}"
        )
    for label, value in (("now", now), ("refuse_until", refuse_until)):
        if not isinstance(value, str) or not value:
            raise AnsibleFilterError(f"{fname}: {label} must be a UTC time like 2027-01-01T00:00:00Z, got {value!r}")
    read = _vcpu_readings(readings, fname)
    tiers, refusals = _tier_vcpus(model, by_name, templates, read, prefix)
    if refusals:
        return {"refusals": refusals, "warnings": [], "quotas": []}
    region, quotas, elsewhere = read["region"], read["quotas"], read["running_elsewhere"]
    steps = _steps(actions, model)
    report: list[dict[str, Any]] = []
    warnings: list[str] = []
    for qclass in sorted(quotas):
        for market in ("on_demand", "spot"):
            quota = dict(quotas[qclass][market])
            other = _count(elsewhere.get(qclass, {}).get(market, 0), f"running_elsewhere.{qclass}.{market}", fname)
            needs = _needs(steps, tiers, qclass, market, other)
            if not needs:
                continue
            peak = max(needs, key=lambda n: n[1])
            first = None if quota["value"] is None else next((n for n in needs if n[1] > quota["value"]), None)
            report.append(
                {
                    "quota_class": qclass,
                    "market": market,
                    "region": region,
                    "quota_code": quota["quota_code"],
                    "quota_name": quota["quota_name"],
                    "value": quota["value"],
                    "value_source": quota.get("value_source"),
                    "running_elsewhere": other,
                    "peak": peak[1],
                    "peak_at": peak[0],
                    "peak_events": peak[2],
                    "first_exceeding": None
                    if first is None
                    else {"at": first[0], "need": first[1], "events": first[2]},
                }
            )
            if quota["value"] is None:
                warnings.append(
                    f"event_scaling: the EC2 vCPU quota '{quota['quota_name']}' ({quota['quota_code']}, {region}) was"
                    f" not read ({quota.get('value_source')}); the plan needs up to {peak[1]} vCPUs of it at"
                    f" {peak[0]} ({_events_text(peak[2])})."
                )
            elif first is not None:
                detail = _quota_message(quota, region, market, first=first, peak=peak, other=other, calendar=calendar)
                if first[0] <= refuse_until:
                    refusals.append(
                        f"event_scaling_events: {detail} Until it is granted, launches above the quota fail and the"
                        " groups stay below these floors: re-run once it is granted, or take the events out of the"
                        " calendar or lower their audience."
                    )
                else:
                    warnings.append(f"event_scaling: {detail}")
    return {"refusals": refusals, "warnings": warnings, "quotas": report}


class FilterModule:
    """Preflight rules of the live-event plan."""

    def filters(self) -> dict[str, Any]:
        return {
            "arena_event_plan_action_refusals": arena_event_plan_action_refusals,
            "arena_event_scheduled_action_refusals": arena_event_scheduled_action_refusals,
            "arena_event_warm_pool_refusals": arena_event_warm_pool_refusals,
            "arena_event_lcu_refusals": arena_event_lcu_refusals,
            "arena_event_instance_type_refusals": arena_event_instance_type_refusals,
            "arena_event_launch_template_ids": arena_event_launch_template_ids,
            "arena_event_max_size_refusals": arena_event_max_size_refusals,
            "arena_event_group_instance_types": arena_event_group_instance_types,
            "arena_event_vcpu_quotas": arena_event_vcpu_quotas,
        }
