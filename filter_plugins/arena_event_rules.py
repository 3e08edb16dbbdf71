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
        }
