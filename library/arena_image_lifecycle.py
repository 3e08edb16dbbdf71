#!/usr/bin/python
# Copyright: arena-infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: retire the project's old AMIs (deprecate, deregister, delete their snapshots),
never one that a group, an instance or a rollback can still use."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_image_lifecycle
short_description: Deprecate the project's AMIs and deregister old releases no one uses, with their snapshots
description:
  - Lists the account's own AMIs of the project (C(Owners=self), tags C(Project=<project>) and
    C(Tier=<tier>), plus O(filters)) and, per tier, sorts them by C(CreationDate) (newest first; equal
    dates by image id).
  - Keeps the newest O(keep_releases) available images of each tier. An older one is deregistered and
    its EBS snapshots are deleted, unless something can still launch it or roll back to it; then it is
    kept and the result says why. Referenced means any of
    (a) a launch template version an Auto Scaling group uses (C(LaunchTemplate), or
    C(MixedInstancesPolicy.LaunchTemplate) with its overrides; C($Latest) and C($Default) are resolved
    with DescribeLaunchTemplateVersions; warm-pool instances launch from the same template), the launch
    configuration of a group, and the default and latest versions of the project's launch templates
    (tag C(Project)); an ImageId given as C(resolve:ssm:) is resolved (C(ResolveAlias), and
    GetParameters when an answer still carries the alias);
    (b) an instance in state pending, running, stopping or stopped;
    (c) the image parameters C(<parameter_prefix>/<env>/images/<tier>) and
    C(<parameter_prefix>/<env>/images-previous/<tier>) of O(environment) and O(protect_environments),
    with their current values and every value of their history (GetParameterHistory) that was still current
    within the last O(rollback_window_days) days (written in the window, or replaced in it).
  - Images with deregistration protection, and images not in state C(available) (a build still
    pending, a failed one), are left alone and do not count as releases. A lookup that cannot be
    resolved (a group's launch template version that does not exist) fails the run before any change.
  - Deregisters an image before deleting its snapshots (a snapshot of a registered AMI cannot be
    deleted, C(InvalidSnapshot.InUse)); a snapshot that another listed image still uses is kept. A
    snapshot still reported in use just after the deregistration (EC2 is eventually consistent) is
    retried for about half a minute, then kept with a warning.
  - Sets a deprecation time (EnableImageDeprecation) on every kept available image that has none, at
    C(CreationDate) + O(deprecate_after_days), on a whole minute (EC2 rounds seconds to the nearest
    minute), never in the past (EC2 refuses that; an image already older gets now + 1 to 2 minutes),
    at most 10 years ahead (O(deprecate_after_days) <= 3650) and, for a public image, at most 2 years
    after its creation (EC2's limits). A deprecation time already set (by Packer's C(deprecate_at), or
    an earlier run) is left as it is. A deprecated AMI still launches by id.
  - Idempotent (a second run changes nothing); supports check mode (lists what it would do, calls
    only Describe/Get APIs) and diff.
  - Every list call is paginated, every call retried on throttling (amazon.aws AWSRetry).
  - Replaces C(amazon.aws.ec2_ami) with O(state=absent) and C(delete_snapshot) for this job. That module
    deregisters one image given by id, and has no notion of releases, references or deprecation; no
    collection module calls EnableImageDeprecation.
  - Not in the C(group/aws) module-defaults group; pass I(region) and I(endpoint_url) explicitly.
options:
  environment:
    description: Environment whose image parameters protect images (C(<parameter_prefix>/<environment>/...)).
    type: str
    required: true
  protect_environments:
    description:
      - Further environments whose image parameters protect images too. AMIs belong to the account,
        not to an environment, so list every environment that shares the account.
    type: list
    elements: str
    default: []
  tiers:
    description: Tiers (values of the C(Tier) tag) to manage; at least one.
    type: list
    elements: str
    default: [web, api, admin]
  keep_releases:
    description: Newest available images of each tier that are always kept (>= 1).
    type: int
    default: 3
  deprecate_after_days:
    description: Days after its creation when a kept image is deprecated (1 to 3650).
    type: int
    default: 30
  rollback_window_days:
    description:
      - Days back in the image parameters' history in which a value still protects its image (>= 0;
        V(0) protects only the current values).
    type: int
    default: 14
  project:
    description: Value of the C(Project) tag of the images and of the project's launch templates.
    type: str
    default: arena
  parameter_prefix:
    description: Prefix of the image parameters.
    type: str
    default: /arena
  filters:
    description:
      - Further DescribeImages filters (name to value or list of values), ANDed with the
        C(tag:Project) and C(tag:Tier) filters, which they may not replace.
    type: dict
    default: {}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - arena-infra
"""

EXAMPLES = r"""
- name: Lifecycle | Retire the old images of staging
  arena_image_lifecycle:
    environment: staging
    protect_environments: [local, production]
    tiers: [web, api, admin]
    keep_releases: 3
    deprecate_after_days: 30
    rollback_window_days: 14
    region: "{{ aws_guard_target.region }}"
    endpoint_url: "{{ aws_guard_target.endpoint_url or omit }}"
    profile: "{{ aws_guard_target.profile or omit }}"
  register: image_lifecycle_result

- name: Lifecycle | Only the images of one pipeline run (an extra tag filter)
  arena_image_lifecycle:
    environment: staging
    tiers: [web]
    filters:
      "tag:arena:pipeline": nightly
    region: eu-west-1
"""

RETURN = r"""
tiers:
  description:
    - Per tier, what the run did (in check mode, would do). Images newest first.
  returned: always
  type: dict
  contains:
    kept:
      description: Images kept, each with the reasons (among the last releases, the groups, templates,
        instances and parameters that use it, deregistration protection, state).
      type: list
      elements: dict
      sample: [{image_id: ami-0123456789abcdef0, name: arena-web-42, creation_date: "2027-01-10T09:00:00.000Z",
               reasons: ["instance i-0abc (running)"]}]
    deprecated:
      description: Images given a deprecation time, with it (C(YYYY-MM-DDTHH:MM:SSZ)).
      type: list
      elements: dict
      sample: [{image_id: ami-0123456789abcdef0, name: arena-web-42, deprecate_at: "2027-02-09T09:00:00Z"}]
    deregistered:
      description: Images deregistered, with their snapshots.
      type: list
      elements: dict
      sample: [{image_id: ami-0fedcba9876543210, name: arena-web-38, creation_date: "2026-11-02T09:00:00.000Z",
               snapshots: [snap-0123456789abcdef0]}]
    snapshots_deleted:
      description: Snapshot ids deleted.
      type: list
      elements: str
    snapshots_kept:
      description: Snapshots of deregistered images that were not deleted, with the reason.
      type: list
      elements: dict
summary:
  description: One line per image acted on or kept (C(would ...) in check mode), for a report.
  returned: always
  type: list
  elements: str
  sample:
    - "web: would deregister ami-0fedcba9876543210 arena-web-38 (created 2026-11-02T09:00:00.000Z) and delete snap-0123"
"""

import contextlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    import botocore

from ansible.module_utils.arena_diff import diff_field, diff_if_asked
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# Every call passes aws_retry=True and retries, besides AWSRetry's throttling codes (EC2's
# RequestLimitExceeded, Auto Scaling's Throttling), Parameter Store's ThrottlingException:
# https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-throughput.html
# The paginated listings are retried as a whole (functions decorated with the same back-off).
RETRY = AWSRetry.jittered_backoff(catch_extra_error_codes=["ThrottlingException"])
# Instances that still run an image, or can be started again from it (DescribeInstances states).
LIVE_STATES = ["pending", "running", "stopping", "stopped"]
# EnableImageDeprecation: "The upper limit for DeprecateAt is 10 years from now, except for public
# AMIs, where the upper limit is 2 years from the creation date" (10 years >= 3650 days, 2 >= 730).
# https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableImageDeprecation.html
MAX_DEPRECATE_AFTER_DAYS = 3650
PUBLIC_DEPRECATION_LIMIT = timedelta(days=730)
PARAMETER_KINDS = ("images", "images-previous")
GET_PARAMETERS_MAX = 10  # GetParameters takes at most 10 names
DESCRIBE_LAUNCH_CONFIGURATIONS_MAX = 50  # DescribeLaunchConfigurations takes at most 50 names
SHOWN_INSTANCES = 3
SSM_ALIAS = "resolve:ssm:"
RESULT_KEYS = ("kept", "deprecated", "deregistered", "snapshots_deleted", "snapshots_kept")


class LifecycleError(Exception):
    """Bad input, or a reference that cannot be resolved; the message is what the module reports."""


class Clients(NamedTuple):
    ec2: Any
    autoscaling: Any
    ssm: Any


# --- input -------------------------------------------------------------------------------------


def validate(params: dict[str, Any]) -> None:
    if params["keep_releases"] < 1:
        raise LifecycleError(
            f"keep_releases must be >= 1 (the newest releases are always kept), got {params['keep_releases']}"
        )
    days = params["deprecate_after_days"]
    if not 1 <= days <= MAX_DEPRECATE_AFTER_DAYS:
        raise LifecycleError(
            f"deprecate_after_days must be between 1 and {MAX_DEPRECATE_AFTER_DAYS} (EC2 refuses a deprecation "
            f"time more than 10 years ahead), got {days}"
        )
    if params["rollback_window_days"] < 0:
        raise LifecycleError(f"rollback_window_days must be >= 0, got {params['rollback_window_days']}")
    tiers = params["tiers"] or []
    if not tiers or not all(tiers):
        raise LifecycleError(f"tiers must name at least one tier, and no empty one; got {tiers!r}")
    if not params["environment"]:
        raise LifecycleError("environment must not be empty")
    if not params["project"]:
        raise LifecycleError("project must not be empty")
    if not str(params["parameter_prefix"]).startswith("/"):
        raise LifecycleError(f"parameter_prefix must start with '/', got {params['parameter_prefix']!r}")
    reserved = sorted({"tag:Project", "tag:Tier"} & set(params["filters"] or {}))
    if reserved:
        raise LifecycleError(f"filters may not set {', '.join(reserved)}: they come from project and tiers")


def image_filters(params: dict[str, Any]) -> list[dict[str, Any]]:
    """DescribeImages filters: the project's tiers, and the extra ones, sorted by name."""
    filters: dict[str, list[str]] = {"tag:Project": [params["project"]], "tag:Tier": list(params["tiers"])}
    for name, value in (params["filters"] or {}).items():
        filters[name] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return [{"Name": name, "Values": values} for name, values in sorted(filters.items())]


# --- time --------------------------------------------------------------------------------------


def parse_time(value: str | datetime) -> datetime:
    """An AWS timestamp (CreationDate is a string, `2027-01-10T09:00:00.000Z`) as an aware datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ceil_minute(value: datetime) -> datetime:
    floor = value.replace(second=0, microsecond=0)
    return floor if floor == value else floor + timedelta(minutes=1)


def deprecation_time(image: dict[str, Any], days: int, now: datetime) -> datetime:
    """When `image` is deprecated: `days` after its creation, on a whole minute (EC2 rounds seconds),
    not later than 2 years after its creation if it is public, and not in the past (EC2 refuses both)."""
    created = parse_time(image["CreationDate"])
    at = ceil_minute(created + timedelta(days=days))
    if image.get("Public"):
        at = min(at, (created + PUBLIC_DEPRECATION_LIMIT).replace(second=0, microsecond=0))
    return max(at, ceil_minute(now + timedelta(minutes=1)))


# --- AWS reads (paginated listings are retried whole) -------------------------------------------


@AWSRetry.jittered_backoff()
def list_images(client: Any, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # The owner sees its deprecated AMIs anyway; IncludeDeprecated says so explicitly.
    paginator = client.get_paginator("describe_images")
    pages = paginator.paginate(Owners=["self"], Filters=filters, IncludeDeprecated=True).build_full_result()
    return pages.get("Images", [])


@AWSRetry.jittered_backoff()
def list_groups(client: Any) -> list[dict[str, Any]]:
    return (
        client.get_paginator("describe_auto_scaling_groups").paginate().build_full_result().get("AutoScalingGroups", [])
    )


@AWSRetry.jittered_backoff()
def list_project_templates(client: Any, project: str) -> list[dict[str, Any]]:
    paginator = client.get_paginator("describe_launch_templates")
    pages = paginator.paginate(Filters=[{"Name": "tag:Project", "Values": [project]}]).build_full_result()
    return pages.get("LaunchTemplates", [])


@AWSRetry.jittered_backoff()
def template_versions(client: Any, key: tuple[str, str], versions: list[str]) -> list[dict[str, Any]]:
    paginator = client.get_paginator("describe_launch_template_versions")
    pages = paginator.paginate(**{key[0]: key[1]}, Versions=versions, ResolveAlias=True).build_full_result()
    return pages.get("LaunchTemplateVersions", [])


@AWSRetry.jittered_backoff()
def list_launch_configurations(client: Any, names: list[str]) -> list[dict[str, Any]]:
    paginator = client.get_paginator("describe_launch_configurations")
    return paginator.paginate(LaunchConfigurationNames=names).build_full_result().get("LaunchConfigurations", [])


@AWSRetry.jittered_backoff()
def live_instances(client: Any) -> list[dict[str, Any]]:
    paginator = client.get_paginator("describe_instances")
    pages = paginator.paginate(Filters=[{"Name": "instance-state-name", "Values": LIVE_STATES}]).build_full_result()
    return [instance for reservation in pages.get("Reservations", []) for instance in reservation.get("Instances", [])]


@AWSRetry.jittered_backoff(catch_extra_error_codes=["ThrottlingException"])
def parameter_history(client: Any, name: str) -> list[dict[str, Any]]:
    """Every stored version of parameter `name`, oldest first; [] when there is no such parameter."""
    try:
        pages = client.get_paginator("get_parameter_history").paginate(Name=name).build_full_result()
    except is_boto3_error_code("ParameterNotFound"):
        return []
    return sorted(pages.get("Parameters", []), key=lambda p: p["Version"])


def parameter_values(client: Any, selectors: list[str]) -> dict[str, str]:
    """The values of SSM parameters named as `resolve:ssm:` does (`name`, `name:version`); an unknown
    one is left out (a template pointing at it cannot launch anything)."""
    values: dict[str, str] = {}
    for start in range(0, len(selectors), GET_PARAMETERS_MAX):
        batch = selectors[start : start + GET_PARAMETERS_MAX]
        found = client.get_parameters(Names=batch, aws_retry=True).get("Parameters", [])
        for parameter in found:
            selected = parameter["Name"] + parameter.get("Selector", "")
            values[selected if selected in batch else parameter["Name"]] = parameter["Value"]
    return values


# --- AWS writes ----------------------------------------------------------------------------------


def deregister_image(client: Any, image_id: str) -> None:
    try:
        client.deregister_image(ImageId=image_id, aws_retry=True)
    except is_boto3_error_code(["InvalidAMIID.Unavailable", "InvalidAMIID.NotFound"]):
        pass  # deregistered meanwhile (by someone else): the state this run wants


@AWSRetry.jittered_backoff(retries=5, delay=2, catch_extra_error_codes=["InvalidSnapshot.InUse"])
def delete_snapshot(client: Any, snapshot_id: str) -> None:
    """Delete a snapshot of an image just deregistered. EC2 is eventually consistent, so the snapshot
    may still read as in use for a moment: InvalidSnapshot.InUse is retried (about 30 s at most)."""
    try:
        client.delete_snapshot(SnapshotId=snapshot_id, aws_retry=True)
    except is_boto3_error_code("InvalidSnapshot.NotFound"):
        pass  # gone already


def enable_deprecation(client: Any, image_id: str, at: datetime) -> None:
    client.enable_image_deprecation(ImageId=image_id, DeprecateAt=at, aws_retry=True)


# --- references ---------------------------------------------------------------------------------


def group_template_specs(group: dict[str, Any]) -> list[dict[str, Any]]:
    """The launch template specifications a group launches from (warm-pool instances included)."""
    specs = [group["LaunchTemplate"]] if group.get("LaunchTemplate") else []
    policy = (group.get("MixedInstancesPolicy") or {}).get("LaunchTemplate") or {}
    if policy.get("LaunchTemplateSpecification"):
        specs.append(policy["LaunchTemplateSpecification"])
    specs.extend(
        o["LaunchTemplateSpecification"] for o in policy.get("Overrides", []) if o.get("LaunchTemplateSpecification")
    )
    return specs


def template_key(spec: dict[str, Any]) -> tuple[str, str]:
    if spec.get("LaunchTemplateId"):
        return ("LaunchTemplateId", spec["LaunchTemplateId"])
    return ("LaunchTemplateName", spec["LaunchTemplateName"])


def pick_version(entries: list[dict[str, Any]], spec: str) -> dict[str, Any] | None:
    """The entry of DescribeLaunchTemplateVersions that `spec` (a number, $Latest, $Default) names."""
    if spec == "$Latest":
        return max(entries, key=lambda e: e["VersionNumber"], default=None)
    if spec == "$Default":
        return next((e for e in entries if e.get("DefaultVersion")), None)
    return next((e for e in entries if str(e["VersionNumber"]) == spec), None)


def add(refs: dict[str, list[str]], image_id: str | None, reason: str) -> None:
    if image_id and reason not in refs[image_id]:
        refs[image_id].append(reason)


def template_uses(
    clients: Clients, project: str
) -> tuple[dict[tuple[str, str], list[tuple[str, str]]], dict[str, list[str]]]:
    """Which launch template versions are in use, by whom: {template: [(version, used by)]}; and
    which launch configurations: {configuration: [group]}."""
    uses: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    configurations: dict[str, list[str]] = defaultdict(list)
    for group in list_groups(clients.autoscaling):
        name = group["AutoScalingGroupName"]
        for spec in group_template_specs(group):
            version = str(spec.get("Version") or "$Default")  # AWS's default when none is given
            alias = "" if version.isdigit() else f" as {version}"
            uses[template_key(spec)].append((version, f"used by Auto Scaling group {name}{alias}"))
        if group.get("LaunchConfigurationName"):
            configurations[group["LaunchConfigurationName"]].append(name)
    for template in list_project_templates(clients.ec2, project):
        key = ("LaunchTemplateId", template["LaunchTemplateId"])
        uses[key] += [("$Default", "its default version"), ("$Latest", "its latest version")]
    return uses, configurations


def template_references(clients: Clients, params: dict[str, Any], refs: dict[str, list[str]]) -> None:
    """(a): the versions groups use, the project templates' default and latest, launch configurations."""
    uses, configurations = template_uses(clients, params["project"])
    aliases: dict[str, list[str]] = defaultdict(list)  # resolve:ssm selector -> reasons
    for key, users in uses.items():
        entries = template_versions(clients.ec2, key, sorted({version for version, _ in users}))
        for version, user in users:
            entry = pick_version(entries, version)
            if entry is None:
                raise LifecycleError(
                    f"launch template {key[1]} has no version {version} ({user}): cannot tell which image it "
                    "launches, so nothing is deregistered"
                )
            reason = f"launch template {entry['LaunchTemplateName']} version {entry['VersionNumber']}, {user}"
            image = entry.get("LaunchTemplateData", {}).get("ImageId", "")
            if image.startswith(SSM_ALIAS):
                aliases[image.removeprefix(SSM_ALIAS)].append(reason)
            else:
                add(refs, image, reason)
    if aliases:
        values = parameter_values(clients.ssm, sorted(aliases))
        for selector, reasons in aliases.items():
            for reason in reasons:
                add(refs, values.get(selector), f"{reason}, via {SSM_ALIAS}{selector}")
    configuration_references(clients.autoscaling, configurations, refs)


def configuration_references(client: Any, configurations: dict[str, list[str]], refs: dict[str, list[str]]) -> None:
    """(a), the legacy way: the image of a group's launch configuration."""
    names = sorted(configurations)
    for start in range(0, len(names), DESCRIBE_LAUNCH_CONFIGURATIONS_MAX):
        for config in list_launch_configurations(client, names[start : start + DESCRIBE_LAUNCH_CONFIGURATIONS_MAX]):
            name = config["LaunchConfigurationName"]
            for group in configurations[name]:
                add(refs, config.get("ImageId"), f"launch configuration {name} used by Auto Scaling group {group}")


def instance_references(client: Any, refs: dict[str, list[str]]) -> None:
    """(b): instances that run, or can be started again, from an image."""
    by_image: dict[str, list[str]] = defaultdict(list)
    for instance in live_instances(client):
        by_image[instance["ImageId"]].append(f"{instance['InstanceId']} ({instance['State']['Name']})")
    for image_id, shown in by_image.items():
        more = f" and {len(shown) - SHOWN_INSTANCES} more" if len(shown) > SHOWN_INSTANCES else ""
        add(
            refs,
            image_id,
            f"{'instance' if len(shown) == 1 else 'instances'} {', '.join(shown[:SHOWN_INSTANCES])}{more}",
        )


def parameter_names(params: dict[str, Any]) -> list[str]:
    prefix = params["parameter_prefix"].rstrip("/")
    environments = list(dict.fromkeys([params["environment"], *(params["protect_environments"] or [])]))
    return [
        f"{prefix}/{env}/{kind}/{tier}" for env in environments for tier in params["tiers"] for kind in PARAMETER_KINDS
    ]


def parameter_references(client: Any, params: dict[str, Any], now: datetime, refs: dict[str, list[str]]) -> None:
    """(c): the image parameters' current values, and every value still current within the rollback
    window: a value written before the window but replaced inside it was in use inside it."""
    window = params["rollback_window_days"]
    since = now - timedelta(days=window)
    for name in parameter_names(params):
        history = parameter_history(client, name)
        for index, version in enumerate(history):
            if index == len(history) - 1:
                add(refs, version["Value"], f"SSM {name} version {version['Version']} (current)")
                continue
            replaced = parse_time(history[index + 1]["LastModifiedDate"])
            if replaced >= since:
                add(
                    refs,
                    version["Value"],
                    f"SSM {name} version {version['Version']} (in use until {iso(replaced)}, within the "
                    f"{window}-day rollback window)",
                )


def find_references(clients: Clients, params: dict[str, Any], now: datetime) -> dict[str, list[str]]:
    refs: dict[str, list[str]] = defaultdict(list)
    template_references(clients, params, refs)
    instance_references(clients.ec2, refs)
    parameter_references(clients.ssm, params, now, refs)
    return refs


# --- plan and run --------------------------------------------------------------------------------


def tag(image: dict[str, Any], key: str) -> str | None:
    return next((t["Value"] for t in image.get("Tags", []) if t["Key"] == key), None)


def newest_first(images: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(images, key=lambda i: (parse_time(i["CreationDate"]), i["ImageId"]), reverse=True)


def snapshot_ids(image: dict[str, Any]) -> list[str]:
    return [m["Ebs"]["SnapshotId"] for m in image.get("BlockDeviceMappings", []) if m.get("Ebs", {}).get("SnapshotId")]


def protection(image: dict[str, Any]) -> str | None:
    """Deregistration protection (`enabled-with-cooldown` ...) that makes DeregisterImage fail."""
    value = image.get("DeregistrationProtection") or "disabled"
    return None if value == "disabled" else value


def plan(
    images: list[dict[str, Any]], params: dict[str, Any], find: Any
) -> tuple[dict[str, list[str]], list[dict[str, Any]]]:
    """Reasons to keep each kept image, and the images to deregister (references are looked up, by
    `find()`, only when some image is older than the last releases)."""
    keep = params["keep_releases"]
    reasons: dict[str, list[str]] = {}
    older: list[dict[str, Any]] = []
    for tier in params["tiers"]:
        rank = 0
        for image in newest_first(i for i in images if tag(i, "Tier") == tier):
            if image.get("State") != "available":
                reasons[image["ImageId"]] = [f"state {image.get('State')}: not a finished release"]
            elif rank < keep:
                rank += 1
                reasons[image["ImageId"]] = ["the newest release" if keep == 1 else f"among the last {keep} releases"]
            else:
                older.append(image)
    refs = find() if older else {}
    deregister = []
    for image in older:
        why = list(refs.get(image["ImageId"], []))
        if protection(image):
            why.append(f"deregistration protection {protection(image)}")
        if why:
            reasons[image["ImageId"]] = why
        else:
            deregister.append(image)
    return reasons, deregister


def run(
    clients: Clients, params: dict[str, Any], check_mode: bool, now: datetime, show_diff: bool = False
) -> dict[str, Any]:
    """The whole module without AnsibleModule: returns the result (with `diff` when `show_diff`),
    raises LifecycleError. Writes tier by tier, image by image (newest first): EnableImageDeprecation
    of a kept image, or DeregisterImage of a retired one followed by DeleteSnapshot of its snapshots."""
    validate(params)
    images = [i for i in list_images(clients.ec2, image_filters(params)) if tag(i, "Tier") in params["tiers"]]
    reasons, deregister = plan(images, params, lambda: find_references(clients, params, now))
    gone = {i["ImageId"] for i in deregister}
    # A snapshot that an image staying registered uses too cannot be deleted (and must not be).
    still_used = {s: i["ImageId"] for i in images if i["ImageId"] not in gone for s in snapshot_ids(i)}
    tiers: dict[str, dict[str, list[Any]]] = {}
    shown: dict[str, dict[str, Any]] = {"before": {}, "after": {}}
    summary: list[str] = []
    for tier in params["tiers"]:
        out = tiers[tier] = {key: [] for key in RESULT_KEYS}
        for image in newest_first(i for i in images if tag(i, "Tier") == tier):
            # --diff: a retired image is absent after, a deprecated one carries its deprecation time.
            if image["ImageId"] in gone:
                retire(clients.ec2, image, still_used=still_used, check_mode=check_mode, out=out, summary=summary)
                shown["before"][image["ImageId"]] = image_view(image)
                continue
            at = keep(
                clients.ec2,
                image,
                reasons=reasons[image["ImageId"]],
                params=params,
                now=now,
                check_mode=check_mode,
                out=out,
                summary=summary,
            )
            if at:
                shown["before"][image["ImageId"]] = image_view(image)
                shown["after"][image["ImageId"]] = {**image_view(image), "deprecation_time": at}
        if not any(out.values()):
            summary.append(f"{tier}: no images")
    changed = bool(shown["before"])
    return {
        "changed": changed,
        "tiers": tiers,
        "summary": summary,
        **diff_field(show_diff and changed, shown["before"], shown["after"]),
    }


def image_view(image: dict[str, Any]) -> dict[str, Any]:
    """An image as --diff shows it."""
    return {
        "tier": tag(image, "Tier"),
        "name": image.get("Name", ""),
        "deprecation_time": image.get("DeprecationTime"),
        "snapshots": snapshot_ids(image),
    }


def retire(
    client: Any,
    image: dict[str, Any],
    *,
    still_used: dict[str, str],
    check_mode: bool,
    out: dict[str, list[Any]],
    summary: list[str],
) -> None:
    """Deregister an image, then delete its snapshots (a snapshot of a registered AMI cannot be)."""
    image_id, name, tier = image["ImageId"], image.get("Name", ""), tag(image, "Tier")
    snapshots = snapshot_ids(image)
    for snapshot in snapshots:
        if snapshot in still_used:
            reason = f"also used by {still_used[snapshot]}"
            out["snapshots_kept"].append({"snapshot_id": snapshot, "image_id": image_id, "reason": reason})
    deleted = [s for s in snapshots if s not in still_used]
    if not check_mode:
        deregister_image(client, image_id)
        deleted = delete_snapshots(client, image_id, deleted, out["snapshots_kept"])
    out["deregistered"].append(
        {"image_id": image_id, "name": name, "creation_date": image["CreationDate"], "snapshots": snapshots}
    )
    out["snapshots_deleted"].extend(deleted)
    if check_mode:
        also = f" and delete {', '.join(deleted)}" if deleted else ""
        summary.append(f"{tier}: would deregister {image_id} {name} (created {image['CreationDate']}){also}")
    else:
        also = f", deleted {', '.join(deleted)}" if deleted else ""
        summary.append(f"{tier}: deregistered {image_id} {name} (created {image['CreationDate']}){also}")


def keep(
    client: Any,
    image: dict[str, Any],
    *,
    reasons: list[str],
    params: dict[str, Any],
    now: datetime,
    check_mode: bool,
    out: dict[str, list[Any]],
    summary: list[str],
) -> str | None:
    """Report a kept image, and give it a deprecation time when it is available and has none (returns
    that time)."""
    image_id, name, tier = image["ImageId"], image.get("Name", ""), tag(image, "Tier")
    out["kept"].append({"image_id": image_id, "name": name, "creation_date": image["CreationDate"], "reasons": reasons})
    summary.append(f"{tier}: keep {image_id} {name} ({'; '.join(reasons)})")
    if image.get("State") != "available" or image.get("DeprecationTime"):
        return None
    at = deprecation_time(image, params["deprecate_after_days"], now)
    if not check_mode:
        enable_deprecation(client, image_id, at)
    out["deprecated"].append({"image_id": image_id, "name": name, "deprecate_at": iso(at)})
    summary.append(f"{tier}: {'would deprecate' if check_mode else 'deprecated'} {image_id} at {iso(at)}")
    return iso(at)


def delete_snapshots(client: Any, image_id: str, snapshots: list[str], kept: list[dict[str, Any]]) -> list[str]:
    """Delete the snapshots of a deregistered image; one still in use after the retries is kept."""
    deleted = []
    for snapshot in snapshots:
        try:
            delete_snapshot(client, snapshot)
        except is_boto3_error_code("InvalidSnapshot.InUse"):
            kept.append(
                {
                    "snapshot_id": snapshot,
                    "image_id": image_id,
                    "reason": "still in use after the image was deregistered (InvalidSnapshot.InUse): delete it later",
                }
            )
        else:
            deleted.append(snapshot)
    return deleted


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "environment": {"type": "str", "required": True},
            "protect_environments": {"type": "list", "elements": "str", "default": []},
            "tiers": {"type": "list", "elements": "str", "default": ["web", "api", "admin"]},
            "keep_releases": {"type": "int", "default": 3},
            "deprecate_after_days": {"type": "int", "default": 30},
            "rollback_window_days": {"type": "int", "default": 14},
            "project": {"type": "str", "default": "arena"},
            "parameter_prefix": {"type": "str", "default": "/arena"},
            "filters": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    ec2 = module.client("ec2", retry_decorator=RETRY)
    autoscaling = module.client("autoscaling", retry_decorator=RETRY)
    ssm = module.client("ssm", retry_decorator=RETRY)
    try:
        result = run(
            Clients(ec2, autoscaling, ssm), module.params, module.check_mode, datetime.now(UTC), show_diff=module._diff
        )
    except LifecycleError as error:
        module.fail_json(msg=f"arena_image_lifecycle: {error}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="arena_image_lifecycle: AWS call failed")
    for tier in result["tiers"].values():
        for snapshot in tier["snapshots_kept"]:
            if "InvalidSnapshot.InUse" in snapshot["reason"]:
                module.warn(f"snapshot {snapshot['snapshot_id']} of {snapshot['image_id']} {snapshot['reason']}")
    module.exit_json(**diff_if_asked(module, result))


if __name__ == "__main__":
    main()
