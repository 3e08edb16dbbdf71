"""`--check --diff` shows a diff for every change a custom module reports (issue 14).

For each module in library/ and roles/*/library/, one call that changes something runs in check
mode with Ansible's diff on (``_ansible_diff``), against botocore's Stubber (only the reads are
answered: a write in check mode would find no queued response and fail), or against a temporary
directory for the modules that manage local files. The result must say changed and carry
``diff`` (one ``{before, after}`` or a list of them) whose before and after differ. Secrets (an
ElastiCache AUTH token, an SSM SecureString value, a lock's token) must not appear in it. A module with no case
here fails test_every_module_has_a_case.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from arena_loader import aws_client, load_source
from botocore.stub import Stubber
from stub_answers import auto_scaling_groups

ROOT = Path(__file__).resolve().parents[3]
MODULES = sorted(str(p.relative_to(ROOT)) for p in [*ROOT.glob("library/*.py"), *ROOT.glob("roles/*/library/*.py")])
CHECK_DIFF = {"_ansible_check_mode": True, "_ansible_diff": True}
MASK = "********"
# Cases whose change carries a secret (SECRET), which the diff must show masked.
MASKED = {"library/arena_ssm_parameter.py", "library/arena_elasticache_replication_group.py"}
SECRET = "correct-horse-battery-staple-token"


def load(path: str) -> ModuleType:
    return load_source(path, f"{Path(path).stem}_diff_under_test")


def stubbed(service: str, calls: list[tuple[str, dict[str, Any]]]) -> tuple[Any, Stubber]:
    """A client of `service` whose only answers are `calls` (operation, response), in order.
    A response {"Error": {"Code": code}} is answered as that error."""
    client = aws_client(service)
    stubber = Stubber(client)
    for operation, response in calls:
        if set(response) == {"Error"}:
            stubber.add_client_error(operation, service_error_code=response["Error"]["Code"])
        else:
            stubber.add_response(operation, response)
    stubber.activate()
    return client, stubber


# A case: (module path, module arguments, {service: [(operation, response), ...]}); the arguments
# of the modules that work on local files may name {tmp} (a fresh temporary directory).
Case = tuple[str, dict[str, Any], dict[str, list[tuple[str, dict[str, Any]]]]]


def files_case(tmp: Path) -> Case:
    (tmp / "motd").write_text("old\n")
    os.chmod(tmp / "motd", 0o644)
    item = {"path": str(tmp / "motd"), "content": "new\n", "owner": "root", "group": "root", "mode": "0644"}
    return "library/arena_files.py", {"files": [item], "absent": [str(tmp / "motd")]}, {}


def ssm_case(_tmp: Path) -> Case:
    """A SecureString someone else wrote, overwritten as a plain String: its value stays masked."""
    name = "/arena/staging/images/web"
    stored = {"Name": name, "Type": "SecureString", "Value": SECRET, "Version": 3, "DataType": "text"}
    return (
        "library/arena_ssm_parameter.py",
        {"name": name, "value": "ami-0123456789abcdef0"},
        {
            "ssm": [
                ("describe_parameters", {"Parameters": [{"Name": name, "Type": "SecureString", "DataType": "text"}]}),
                ("get_parameter", {"Parameter": stored}),
                ("list_tags_for_resource", {"TagList": []}),
            ]
        },
    )


GROUP = "arena-staging-web"
LB_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/arena-staging-web/50dc6c495c0c9188"
GROUP_ANSWER = auto_scaling_groups(GROUP)
LT_ID = "lt-0123456789abcdef0"
AMI = "ami-0123456789abcdef0"


def alb_reservation_case(_tmp: Path) -> Case:
    reserved = {
        "MinimumLoadBalancerCapacity": {"CapacityUnits": 100},
        "DecreaseRequestsRemaining": 2,
        "CapacityReservationState": [
            {"AvailabilityZone": "eu-west-1a", "State": {"Code": "provisioned"}, "EffectiveCapacityUnits": 50}
        ],
    }
    return (
        "library/arena_alb_capacity_reservation.py",
        {"load_balancer_arn": LB_ARN, "capacity_units": 40},
        {"elbv2": [("describe_capacity_reservation", reserved)], "service-quotas": []},
    )


def instance_refresh_case(_tmp: Path) -> Case:
    """A group on version 4 of its template; the default is version 5: check mode would refresh."""
    spec = {"LaunchTemplateId": LT_ID, "LaunchTemplateName": GROUP, "Version": "4"}
    group = auto_scaling_groups(
        GROUP, MixedInstancesPolicy={"LaunchTemplate": {"LaunchTemplateSpecification": spec}}, Instances=[]
    )
    version = {"LaunchTemplateId": LT_ID, "VersionNumber": 5, "LaunchTemplateData": {"ImageId": AMI}}
    return (
        "library/arena_autoscaling_instance_refresh.py",
        {"name": GROUP},
        {
            "autoscaling": [
                ("describe_auto_scaling_groups", group),
                ("describe_instance_refreshes", {"InstanceRefreshes": []}),
            ],
            "ec2": [("describe_launch_template_versions", {"LaunchTemplateVersions": [version]})],
            "cloudwatch": [],  # no alarms named: no call
        },
    )


def metric_alarms_case(_tmp: Path) -> Case:
    """An alarm whose threshold differs: check mode would write it."""
    alarm = {
        "AlarmName": "arena-staging-web-unhealthy-hosts",
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Threshold": 1,
        "EvaluationPeriods": 3,
        "Namespace": "AWS/ApplicationELB",
        "MetricName": "UnHealthyHostCount",
        "Statistic": "Maximum",
        "Period": 60,
    }
    return (
        "library/arena_cloudwatch_metric_alarms.py",
        {"alarms": [alarm]},
        {"cloudwatch": [("describe_alarms", {"MetricAlarms": [{**alarm, "Threshold": 2.0}]})]},
    )


def dashboard_case(_tmp: Path) -> Case:
    """A dashboard whose body differs: check mode would write it."""
    name = "arena-staging-event-day"
    widget = {"type": "text", "x": 0, "y": 0, "width": 24, "height": 2, "properties": {"markdown": "old"}}
    new = {"widgets": [{**widget, "properties": {"markdown": "new"}}]}
    answer = {
        "DashboardArn": f"arn:aws:cloudwatch::123456789012:dashboard/{name}",
        "DashboardName": name,
        "DashboardBody": json.dumps({"widgets": [widget]}),
    }
    return (
        "library/arena_cloudwatch_dashboard.py",
        {"name": name, "body": new},
        {"cloudwatch": [("get_dashboard", answer)]},
    )


def log_groups_case(_tmp: Path) -> Case:
    """A group whose retention differs: check mode would set it."""
    return (
        "library/arena_cloudwatch_log_groups.py",
        {"groups": [{"name": "/arena/staging/web/journal", "retention_days": 30}]},
        {
            "logs": [
                (
                    "describe_log_groups",
                    {"logGroups": [{"logGroupName": "/arena/staging/web/journal", "retentionInDays": 14}]},
                )
            ]
        },
    )


def launch_template_release_case(_tmp: Path) -> Case:
    """The default version launches another AMI: check mode would release a version with this one."""
    default = {
        "LaunchTemplateId": LT_ID,
        "VersionNumber": 4,
        "LaunchTemplateData": {"ImageId": "ami-0fedcba9876543210"},
    }
    return (
        "library/arena_launch_template_release.py",
        {"name": GROUP, "image_id": AMI},
        {"ec2": [("describe_launch_template_versions", {"LaunchTemplateVersions": [default]})]},
    )


def image_lifecycle_case(_tmp: Path) -> Case:
    """An old web image no one uses: check mode would deregister it (and deprecate the newest)."""

    def image(n: int, created: str) -> dict[str, Any]:
        return {
            "ImageId": f"ami-000000000000000{n}",
            "Name": f"arena-web-{n}",
            "CreationDate": created,
            "State": "available",
            "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": f"snap-0{n}"}}],
            "Tags": [{"Key": "Project", "Value": "arena"}, {"Key": "Tier", "Value": "web"}],
        }

    not_found = ("get_parameter_history", {"Error": {"Code": "ParameterNotFound"}})
    images = [image(2, "2026-02-01T00:00:00.000Z"), image(1, "2026-01-01T00:00:00.000Z")]
    return (
        "library/arena_image_lifecycle.py",
        {"environment": "staging", "tiers": ["web"], "keep_releases": 1},
        {
            "ec2": [
                ("describe_images", {"Images": images}),
                ("describe_launch_templates", {"LaunchTemplates": []}),
                ("describe_instances", {"Reservations": []}),
            ],
            "autoscaling": [("describe_auto_scaling_groups", {"AutoScalingGroups": []})],
            "ssm": [not_found, not_found],
        },
    )


def scheduled_actions_case(_tmp: Path) -> Case:
    existing = {
        "AutoScalingGroupName": GROUP,
        "ScheduledActionName": "arena-final-up",
        "StartTime": datetime(2027, 6, 1, 18, 0, tzinfo=UTC),
        "MinSize": 4,
        "MaxSize": 20,
    }
    action = {"name": "arena-final-up", "start_time": "2027-06-01T18:30:00Z", "min_size": 8, "max_size": 30}
    return (
        "library/arena_scheduled_actions.py",
        {"autoscaling_group_name": GROUP, "name_prefix": "arena-", "actions": [action], "now": "2027-05-01T00:00:00Z"},
        {"autoscaling": [("describe_scheduled_actions", {"ScheduledUpdateGroupActions": [existing]})]},
    )


def warm_pool_case(_tmp: Path) -> Case:
    pool = {"MinSize": 2, "MaxGroupPreparedCapacity": -1, "PoolState": "Stopped"}
    return (
        "library/arena_warm_pool.py",
        {"autoscaling_group_name": GROUP, "state": "absent"},
        {"autoscaling": [("describe_warm_pool", {"WarmPoolConfiguration": pool, "Instances": []})], "ec2": []},
    )


def fsperms_case(tmp: Path) -> Case:
    (tmp / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    os.chmod(tmp / "shadow", 0o644)
    entry = {"path": str(tmp / "shadow"), "owner": "root", "group": "root", "mode": "0600"}
    return "roles/hardening/library/hardening_fsperms.py", {"permissions": [entry]}, {}


def ses_identity_policy_case(_tmp: Path) -> Case:
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ses"}}]}
    return (
        "library/arena_sesv2_identity_policy.py",
        {"identity": "arena.example", "policy_name": "arena-send", "policy": policy},
        {"sesv2": [("get_email_identity_policies", {"Policies": {}})]},
    )


def ses_configuration_set_case(_tmp: Path) -> Case:
    current = {"ConfigurationSetName": "arena-staging", "DeliveryOptions": {"TlsPolicy": "OPTIONAL"}}
    return (
        "library/arena_sesv2_configuration_set.py",
        {"name": "arena-staging"},
        {
            "sesv2": [("get_configuration_set", current)],
            "ses": [("describe_configuration_set", {"ConfigurationSet": {"Name": "arena-staging"}})],
        },
    )


def ses_email_identity_case(_tmp: Path) -> Case:
    current = {"IdentityType": "DOMAIN", "DkimAttributes": {"SigningEnabled": False}}
    return (
        "library/arena_sesv2_email_identity.py",
        {"identity": "arena.example", "mail_from_domain": "mail.arena.example"},
        {"sesv2": [("get_email_identity", current)]},
    )


def cloudfront_oac_case(_tmp: Path) -> Case:
    empty = {"OriginAccessControlList": {"Marker": "", "MaxItems": 100, "IsTruncated": False, "Quantity": 0}}
    return (
        "library/arena_cloudfront_oac.py",
        {"name": "arena-staging-static"},
        {"cloudfront": [("list_origin_access_controls", empty)]},
    )


def cloudfront_distribution_case(_tmp: Path) -> Case:
    empty = {"DistributionList": {"Marker": "", "MaxItems": 100, "IsTruncated": False, "Quantity": 0}}
    args = {
        "caller_reference": "arena-staging-static",
        "origin_domain_name": "arena-staging-static.s3.eu-west-1.amazonaws.com",
        "origin_access_control_id": "E2QWRUHEXAMPLE",
    }
    return "library/arena_cloudfront_distribution.py", args, {"cloudfront": [("list_distributions", empty)]}


def autoscaling_group_case(_tmp: Path) -> Case:
    args = {
        "name": GROUP,
        "launch_template": GROUP,
        "subnet_ids": ["subnet-0a", "subnet-0b"],
        "min_size": 2,
        "max_size": 40,
        "instance_types": ["m7g.large", "m6g.large"],
        "tags": {"Project": "arena", "Tier": "web"},
    }
    empty = {"AutoScalingGroups": []}
    return "library/arena_autoscaling_group.py", args, {"autoscaling": [("describe_auto_scaling_groups", empty)]}


def security_groups_case(_tmp: Path) -> Case:
    rule = {"ports": [443], "cidr_ip": "0.0.0.0/0", "rule_desc": "viewers"}
    group = {"name": "arena-staging-alb-web", "description": "web ALB", "rules": [rule], "tags": {"Tier": "web"}}
    return (
        "library/arena_ec2_security_groups.py",
        {"vpc_id": "vpc-0123456789abcdef0", "groups": [group]},
        {"ec2": [("describe_security_groups", {"SecurityGroups": []})]},
    )


def lb_attributes_case(_tmp: Path) -> Case:
    attributes = {"Attributes": [{"Key": "idle_timeout.timeout_seconds", "Value": "60"}]}
    return (
        "library/arena_elbv2_lb_attributes.py",
        {"name": "arena-staging-web", "attributes": {"idle_timeout.timeout_seconds": 120}},
        {
            "elbv2": [
                ("describe_load_balancers", {"LoadBalancers": [{"LoadBalancerArn": LB_ARN}]}),
                ("describe_load_balancer_attributes", attributes),
            ]
        },
    )


def iam_roles_case(_tmp: Path) -> Case:
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}}]}
    role = {"name": "arena-staging-web", "assume_role_policy": trust, "managed_policies": ["arn:aws:iam::aws:policy/x"]}
    return (
        "library/arena_iam_instance_roles.py",
        {"roles": [role]},
        {"iam": [("get_role", {"Error": {"Code": "NoSuchEntity"}})]},
    )


def cache_parameter_group_case(_tmp: Path) -> Case:
    return (
        "library/arena_elasticache_parameter_group.py",
        {"name": "arena-staging-redis", "family": "redis7", "parameters": {"maxmemory-policy": "allkeys-lru"}},
        {"elasticache": [("describe_cache_parameter_groups", {"Error": {"Code": "CacheParameterGroupNotFound"}})]},
    )


def offerings_cache_case(tmp: Path) -> Case:
    offered = {"InstanceType": "m7g.large", "LocationType": "availability-zone", "Location": "eu-west-1a"}
    return (
        "library/arena_instance_type_offerings_info.py",
        {"refresh_cache": True, "cache_path": str(tmp / "eu-west-1.json"), "region": "eu-west-1"},
        {"ec2": [("describe_instance_type_offerings", {"InstanceTypeOfferings": [offered]})]},
    )


def replication_group_case(_tmp: Path) -> Case:
    """A group with an AUTH token: the token is masked in the diff."""
    args = {
        "replication_group_id": "arena-staging-redis",
        "availability_zones": ["eu-west-1a", "eu-west-1b"],
        "cache_subnet_group": "arena-staging-cache",
        "auth_token": SECRET,
    }
    missing = {"Error": {"Code": "ReplicationGroupNotFoundFault"}}
    return (
        "library/arena_elasticache_replication_group.py",
        args,
        {"elasticache": [("describe_replication_groups", missing)]},
    )


def group_floor_case(_tmp: Path) -> Case:
    return (
        "library/arena_group_floor.py",
        {"autoscaling_group_name": GROUP, "min_size": 15, "reason": "event 'Final'"},
        {"autoscaling": [("describe_auto_scaling_groups", GROUP_ANSWER)]},
    )


def lock_case(_tmp: Path) -> Case:
    """A free lock taken: the lock's token (the holder's secret to release with) stays out of it."""
    return (
        "library/arena_lock.py",
        {"name": "/arena/staging/lock", "token": SECRET, "purpose": "platform.yml"},
        {"ssm": [("get_parameter", {"Error": {"Code": "ParameterNotFound"}})]},
    )


CASES: dict[str, Callable[[Path], Case]] = {
    "library/arena_lock.py": lock_case,
    "library/arena_group_floor.py": group_floor_case,
    "library/arena_elasticache_replication_group.py": replication_group_case,
    "library/arena_instance_type_offerings_info.py": offerings_cache_case,
    "library/arena_autoscaling_group.py": autoscaling_group_case,
    "library/arena_ec2_security_groups.py": security_groups_case,
    "library/arena_elbv2_lb_attributes.py": lb_attributes_case,
    "library/arena_iam_instance_roles.py": iam_roles_case,
    "library/arena_elasticache_parameter_group.py": cache_parameter_group_case,
    "roles/hardening/library/hardening_fsperms.py": fsperms_case,
    "library/arena_sesv2_identity_policy.py": ses_identity_policy_case,
    "library/arena_sesv2_configuration_set.py": ses_configuration_set_case,
    "library/arena_sesv2_email_identity.py": ses_email_identity_case,
    "library/arena_cloudfront_oac.py": cloudfront_oac_case,
    "library/arena_cloudfront_distribution.py": cloudfront_distribution_case,
    "library/arena_alb_capacity_reservation.py": alb_reservation_case,
    "library/arena_autoscaling_instance_refresh.py": instance_refresh_case,
    "library/arena_launch_template_release.py": launch_template_release_case,
    "library/arena_cloudwatch_metric_alarms.py": metric_alarms_case,
    "library/arena_cloudwatch_log_groups.py": log_groups_case,
    "library/arena_cloudwatch_dashboard.py": dashboard_case,
    "library/arena_image_lifecycle.py": image_lifecycle_case,
    "library/arena_scheduled_actions.py": scheduled_actions_case,
    "library/arena_warm_pool.py": warm_pool_case,
    "library/arena_files.py": files_case,
    "library/arena_ssm_parameter.py": ssm_case,
}


def entries(result: dict[str, Any]) -> list[dict[str, Any]]:
    assert "diff" in result, f"no diff in {result}"
    diff = result["diff"]
    return diff if isinstance(diff, list) else [diff]


@pytest.mark.parametrize("path", sorted(CASES))
def test_check_mode_shows_a_diff(path: str, tmp_path: Path, run_module: Any) -> None:
    case_path, args, calls = CASES[path](tmp_path)
    assert case_path == path
    clients = {service: stubbed(service, answers) for service, answers in calls.items()}
    result = run_module(load(path), {**args, **CHECK_DIFF}, {s: c for s, (c, _stub) in clients.items()})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    for entry in entries(result):
        assert entry["before"] != entry["after"], entry
        assert entry["before"] or entry["after"], entry
    assert SECRET not in json.dumps(result["diff"])
    if path in MASKED:
        assert MASK in json.dumps(result["diff"]), "the secret is neither shown nor masked"
    for _client, stubber in clients.values():
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize("path", sorted(CASES))
def test_no_diff_without_the_diff_flag(path: str, tmp_path: Path, run_module: Any) -> None:
    """Ansible's convention: the diff only when asked for (module._diff)."""
    _case_path, args, calls = CASES[path](tmp_path)
    clients = {service: stubbed(service, answers)[0] for service, answers in calls.items()}
    result = run_module(load(path), {**args, "_ansible_check_mode": True}, clients)
    assert result["changed"] is True and "diff" not in result


# Modules that never report a change (they only read), with why; checked below from their source.
NEVER_CHANGED = {
    "library/arena_monitoring_view.py": "reads the platform's dimensions only",
    "library/arena_ec2_vcpu_quotas.py": "reads quotas, instance types and running instances only",
    "library/arena_event_metrics.py": "reads an event's load balancer metrics only",
    "roles/platform_launch_templates/library/arena_kms_autoscaling_key_info.py": "reads the key policy only",
}


def exit_changed_values(path: str) -> list[object]:
    """The `changed=` of every exit_json call in a module's source (a non-literal counts as itself)."""
    values: list[object] = []
    for node in ast.walk(ast.parse((ROOT / path).read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "exit_json":
            changed = [kw.value for kw in node.keywords if kw.arg == "changed"]
            values.append(changed[0].value if changed and isinstance(changed[0], ast.Constant) else ast.dump(node))
    return values


@pytest.mark.parametrize("path", sorted(NEVER_CHANGED))
def test_read_only_modules_never_report_a_change(path: str) -> None:
    values = exit_changed_values(path)
    assert values and all(v is False for v in values), f"{path}: exit_json with {values}"


def test_every_module_has_a_case() -> None:
    """A new module (library/ or a role's library/) without a diff case (or a read-only one not
    listed in NEVER_CHANGED) fails here."""
    assert len(MODULES) >= 19
    assert sorted([*CASES, *NEVER_CHANGED]) == MODULES
    assert exit_changed_values("library/arena_files.py") != [False]  # the check can tell a changing module


def test_the_helper_masks_secret_keys_at_any_depth() -> None:
    arena_diff = importlib.import_module("ansible.module_utils.arena_diff")
    shown = arena_diff.diff(
        {"AuthToken": "old", "nested": [{"password": "p", "port": 6379}], "token": ""},
        {"auth_token": SECRET, "api_key": "k"},
        secret_keys=["api_key"],
    )
    assert shown == {
        "before": {"AuthToken": MASK, "nested": [{"password": MASK, "port": 6379}], "token": ""},
        "after": {"auth_token": MASK, "api_key": MASK},
    }
