"""playbooks/platform.yml refuses bad input before any change.

The cases run the real playbook's first play (the one whose pre_tasks validate every role and run
the read-only preflight) against a private in-process emulator (the guard requires one that
answers), all in one ansible-playbook run: each case is its own inventory host (the local
inventory's group_vars, then the case's bad variable), the play `hosts: all`. A second run holds
the preflight cases that need images and a certificate in the emulator. Each test asserts on its own
host that the failure comes from a role's validate step (or, for what only AWS can answer, its
read-only preflight) in pre_tasks, that no AWS module ran at all before a validation refusal (only
the guard's and the validation's local actions), and that nothing changed; the emulator is read back
after each run (nothing created). The CIDR rules' many spellings are unit-tested on the filter itself
(test_net_rules.py); the cases here prove each rule is wired in, one host per rule (a run costs
about 6 s of ansible-playbook start-up, a host far less).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry, RetryingBotoClientWrapper
from arena_loader import aws_client
from arena_testlib import CasesRun, cases_run, loopback_env, playbook_play, reset_emulator
from botocore.stub import Stubber
from moto import settings as moto_settings
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parents[3]
PLAYBOOK = "playbooks/platform.yml"
TIERS = {
    "web": {
        "min_size": 2,
        "max_size": 6,
        "desired_capacity": 2,
        "instance_types": ["t3.small", "t3a.small"],
        "on_demand_base": 1,
        "spot_percentage": 70,
        "scaling": {"metric": "requests_per_target"},  # target derived from the capacity model
    },
}
# ansible-core's wrapper around a filter's AnsibleFilterError (the refusal itself follows it).
FILTER_FAILED = "Task failed: The filter plugin '{}' failed: {}: "


# 54 characters: with "-<12-digit account id>" the bucket name would have 67 (S3 allows 63).
TOO_LONG_PREFIX = "arena-local-ssm-transfer-for-the-live-event-platform-x"


def tiers(**web: Any) -> dict[str, Any]:
    return {"platform_autoscaling_tiers": {"web": {**TIERS["web"], **web}}}


SUBNETS = [
    {"kind": "public", "az": "a", "cidr": "10.20.0.0/24"},
    {"kind": "public", "az": "b", "cidr": "10.20.1.0/24"},
    {"kind": "private", "az": "a", "cidr": "10.20.10.0/24"},
    {"kind": "private", "az": "b", "cidr": "10.20.11.0/24"},
]


def subnets(**changes: dict[str, Any]) -> dict[str, Any]:
    """platform_network_subnets with subnet i changed: subnets(s3={'cidr': ...})."""
    return {"platform_network_subnets": [{**s, **changes.get(f"s{i}", {})} for i, s in enumerate(SUBNETS)]}


NET_FAILED = FILTER_FAILED.format("arena_net_vpc_subnets", "arena_net_vpc_subnets")
ALLOW_FAILED = FILTER_FAILED.format("arena_net_allow_list", "arena_net_allow_list")
ACCOUNT = "123456789012"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"


CASES = [
    pytest.param(
        subnets(s3={"az": "a"}),
        NET_FAILED + "platform_network_subnets must place public and private subnets in at least 2 availability zones "
        "each (public zones: ['a', 'b'], private zones: ['a'])",
        id="single-az-subnets",
    ),
    # Issue 14: refused by AWS only after the VPC and subnets existed.
    pytest.param(
        subnets(s3={"cidr": "10.20.10.128/25"}),
        NET_FAILED
        + "platform_network_subnets[2] (private-a) 10.20.10.0/24 and platform_network_subnets[3] (private-b) "
        "10.20.10.128/25 overlap: AWS refuses a subnet CIDR block that overlaps another subnet's in the VPC, see "
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSubnet.html",
        id="overlapping-subnets",
    ),
    # Issue 14: world-open in effect without the literal 0.0.0.0/0.
    pytest.param(
        {"platform_security_groups_admin_cidrs": ["0.0.0.0/1", "128.0.0.0/1"]},
        ALLOW_FAILED + "platform_security_groups_admin_cidrs is world-open: ['0.0.0.0/1', '128.0.0.0/1'] together "
        "cover every IPv4 address (0.0.0.0/0 in effect)",
        id="world-open-admin-halves",
    ),
    # Issue 14: a malformed entry passed the old a.b.c.d/n pattern and reached the security group module,
    # which had already revoked the admin group's rules when AWS refused it.
    pytest.param(
        {"platform_security_groups_admin_cidrs": ["192.0.2.0/24", "198.51.100.300/32"]},
        ALLOW_FAILED + "platform_security_groups_admin_cidrs entry '198.51.100.300/32' is not an IPv4 or IPv6 CIDR "
        "('198.51.100.300/32' does not appear to be an IPv4 or IPv6 network)",
        id="malformed-admin-cidr",
    ),
    # Issue 14: a string counted by its characters passed "two instance types at least".
    pytest.param(
        tiers(instance_types="c6i.large"),
        'platform_autoscaling_tiers.web.instance_types must be a YAML list of instance type names, got "c6i.large".',
        id="instance-types-a-string",
    ),
    pytest.param(
        {"platform_autoscaling_subnet_ids": "subnet-1,subnet-2"},
        "platform_autoscaling_subnet_ids must be a YAML list, not a string: the argument spec would read 'a,b' as a "
        "list, the tasks would use the text.",
        id="list-input-a-string",
    ),
    pytest.param(
        {"platform_load_balancers_certificate_arn": f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/{KEY_ID}"},
        f"platform_load_balancers_certificate_arn 'arn:aws:acm:us-east-1:{ACCOUNT}:certificate/{KEY_ID}' is an ACM "
        "certificate of us-east-1, the load balancers are in eu-west-1: ACM certificates are regional, request or "
        "import one in eu-west-1 (https://docs.aws.amazon.com/acm/latest/userguide/acm-regions.html).",
        id="certificate-of-another-region",
    ),
    pytest.param(
        {"arena_environment": "production", "platform_load_balancers_certificate_arn": ""},
        "platform_load_balancers_certificate_arn is required in production (the HTTPS listeners of the public "
        "and admin load balancers use it); set it in inventories/production/group_vars/all/platform.yml.",
        id="production-without-certificate",
    ),
    pytest.param(
        tiers(min_size=5, max_size=2, desired_capacity=5),
        "platform_autoscaling_tiers.web: min_size (5) must not exceed max_size (2) and desired_capacity must lie "
        "between them.",
        id="min-above-max",
    ),
    pytest.param(
        {"platform_autoscaling_tiers": {**tiers()["platform_autoscaling_tiers"], "db": TIERS["web"]}},
        "platform_autoscaling_tiers names unknown tiers ['db'] (known: web, api, admin).",
        id="unknown-tier-autoscaling",
    ),
    pytest.param(
        {"platform_launch_templates_tiers": {"web": {"instance_type": "t3.small", "volume_size": 16}, "cache": {}}},
        "platform_launch_templates_tiers names unknown tiers ['cache'] (known: web, api, admin).",
        id="unknown-tier-launch-templates",
    ),
    pytest.param(
        tiers(spot_percentage=120),
        "platform_autoscaling_tiers.web.spot_percentage must be 0-100 (got 120) and on_demand_base >= 0.",
        id="spot-share-above-100",
    ),
    pytest.param(
        tiers(spot_percentage=-5),
        "platform_autoscaling_tiers.web.spot_percentage must be 0-100 (got -5) and on_demand_base >= 0.",
        id="spot-share-negative",
    ),
    # The services are part of platform.yml: their input is refused before the core is built.
    pytest.param(
        {"platform_static_public_access": True},
        "platform_static_public_access is true: the site bucket stays private (all public access blocked); "
        "viewers read through CloudFront with Origin Access Control only.",
        id="public-static-bucket",
    ),
    pytest.param(
        {"platform_cache_availability_zones": ["a"]},
        "platform_cache_availability_zones must list two distinct zones or more (got ['a']) with "
        "platform_cache_multi_az and platform_cache_automatic_failover true (got True / True): a single-AZ "
        "cache loses the api tier's sessions with one zone.",
        id="single-az-cache",
    ),
    pytest.param(
        {"platform_load_balancers_tier_protocols": {"web": "HTTP", "api": "HTTP", "admin": "TLS"}},
        "platform_load_balancers_tier_protocols needs exactly the tiers web, api and admin, each HTTP or HTTPS, "
        "got {'web': 'HTTP', 'api': 'HTTP', 'admin': 'TLS'}.",
        id="unknown-target-protocol",
    ),
    pytest.param(
        {"platform_load_balancers_tier_protocols": {"web": "HTTP", "admin": "HTTPS"}},
        "platform_load_balancers_tier_protocols needs exactly the tiers web, api and admin, each HTTP or HTTPS, "
        "got {'web': 'HTTP', 'admin': 'HTTPS'}.",
        id="target-protocol-tier-missing",
    ),
    # Issue 13, defect 4: ALBRequestCountPerTarget's target is requests per target PER MINUTE
    # (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TargetTrackingConfiguration.html);
    # 200 is 21x below the capacity model's 4200.
    pytest.param(
        tiers(scaling={"metric": "requests_per_target", "target": 200}),
        FILTER_FAILED.format("arena_scaling_targets", "arena_scaling_targets")
        + "platform_autoscaling_tiers.web.scaling.target is 200 requests per target per minute, more than 10 % away "
        "from the capacity model's 4200 (6000 requests per minute per c6i.large x (1 - headroom 0.3)). AWS compares "
        "the target with ALBRequestCountPerTarget, the average request count per target in one minute, and the "
        "scheduled floors are planned at 4200: leave scaling.target out to derive it, or change the model's "
        "headroom. AWS: https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TargetTrackingConfiguration.html",
        id="web-target-per-second-sized",
    ),
    # Issue 13, defect 7 (preflight rule): grace period below the boot budget
    # (https://docs.aws.amazon.com/autoscaling/ec2/userguide/health-check-grace-period.html).
    pytest.param(
        {"platform_autoscaling_health_check_grace_period": 120},
        FILTER_FAILED.format("arena_check_grace_period", "arena_check_grace_period")
        + "platform_autoscaling_health_check_grace_period is 120 s, below the boot budget: a new instance needs "
        "boot_to_healthy_seconds (240 s) plus the target group's health checks (20 s) = 260 s before the load "
        "balancer reports it healthy, and EC2 Auto Scaling replaces an instance still unhealthy when the grace "
        "period ends, so every launch would be terminated while it boots. Use at least 260 s (leave it unset: "
        "arena_grace_period derives it). AWS: https://docs.aws.amazon.com/autoscaling/ec2/userguide/"
        "health-check-grace-period.html",
        id="grace-period-below-boot-budget",
    ),
    pytest.param(
        {"platform_autoscaling_instance_warmup": 120},
        FILTER_FAILED.format("arena_check_instance_warmup", "arena_check_instance_warmup")
        + "platform_autoscaling_instance_warmup is 120 s, shorter than the time a new instance needs to serve: "
        "boot_to_healthy_seconds (240 s) plus the target group's health checks (20 s) = 260 s. Until then the load "
        "balancer does not route to it, so a shorter warm-up counts it as serving capacity too early (target "
        "tracking scales out again for the same load; an instance refresh replaces the next instance before this "
        "one serves). Use at least 260 s (leave it unset: arena_instance_warmup derives it). AWS: "
        "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-default-instance-warmup.html",
        id="warmup-below-boot-budget",
    ),
    pytest.param(
        {"arena_capacity_model": None},
        "platform_autoscaling_capacity_model (default: arena_capacity_model) must be the live-event capacity model: "
        "the grace period, the warm-up and the web tier's requests per target derive from it. Set "
        "arena_capacity_model in inventories/<env>/group_vars/all/capacity.yml (docs/live-events.md).",
        id="no-capacity-model",
    ),
    pytest.param(
        {"platform_network_nat_mode": "two"},
        None,  # refused by the argument spec (choices); its message is ansible's
        id="unknown-nat-mode",
    ),
    # Issue 13: the SSM transfer bucket is <prefix>-<account id>; S3 bucket names are global, 3-63
    # characters (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
    pytest.param(
        {"platform_launch_templates_ssm_transfer_bucket_prefix": TOO_LONG_PREFIX},
        "platform_launch_templates_ssm_transfer_bucket_prefix 'arena-local-ssm-transfer-for-the-live-event-platform-x' "
        "gives the bucket name 'arena-local-ssm-transfer-for-the-live-event-platform-x-<12-digit account id>' "
        "(67 characters): S3 bucket names have 3 to 63 characters, only lower-case letters, digits, dots and hyphens, "
        "begin with a letter or digit, have no two adjacent dots and do not begin with xn--, sthree- or amzn-s3-demo- "
        "(https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html). The account id keeps the "
        "name unique in S3's global namespace: the prefix may have at most 50 characters.",
        id="transfer-bucket-name-too-long",
    ),
    # Issue 13: tags are in instance metadata, so EC2 refuses to launch instances whose tag keys
    # IMDS cannot carry (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/work-with-tags-in-IMDS.html).
    pytest.param(
        {
            "platform_launch_templates_tags": {
                "Project": "arena",
                "Environment": "local",
                "ManagedBy": "arena-infra",
                "cost center": "events",
                "team/owner": "ops",
            }
        },
        "platform_launch_templates_tags has keys ['cost center', 'team/owner'] that EC2 refuses on instances with tags "
        "in instance metadata (the launch templates enable them): a key may only contain letters, digits and "
        '+ - = . , _ : @ (no spaces, no /), may not be only ".", ".." or "_index" '
        "(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/work-with-tags-in-IMDS.html), has at most 127 characters "
        "and does not begin with aws: (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html"
        "#tag-restrictions); such instances would fail to launch.",
        id="instance-tag-key-breaks-imds",
    ),
    # Issue 13: kms:Decrypt for a runtime path's customer managed key needs the key ARN.
    pytest.param(
        {"platform_launch_templates_parameter_kms_key_arns": {"mail": "alias/arena-mail"}},
        "platform_launch_templates_parameter_kms_key_arns must map runtime paths the tiers read "
        "(admin, api, mail, monitoring, web) to key ARNs (arn:aws:kms:eu-west-1:<account>:key/<key id>): an IAM policy "
        "names a KMS key by its key ARN only, never by key id, alias name or alias ARN (https://docs.aws.amazon.com/kms/latest/developerguide/"
        "cmks-in-iam-policies.html), and Parameter Store encrypts with a key of its own region "
        "(https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html); "
        "got {'mail': 'alias/arena-mail'}.",
        id="parameter-key-alias",
    ),
    pytest.param(
        {"platform_launch_templates_runtime_paths": {"web": ["web"], "api": ["api", "Mail"]}},
        "platform_launch_templates_runtime_paths must list, for each tier of platform_launch_templates_tiers, the "
        "runtime paths its image reads below platform_launch_templates_parameter_prefix (names [a-z][a-z0-9_-]*, as "
        "runtime_config_tiers in packer/tiers/<tier>.yml); got {'web': ['web'], 'api': ['api', 'Mail']}.",
        id="runtime-paths-tier-missing",
    ),
    # Issue 18: thresholds, subscriptions and retention of roles/platform_monitoring.
    pytest.param(
        {
            "platform_monitoring_thresholds": {
                **yaml.safe_load((ROOT / "roles/platform_monitoring/defaults/main.yml").read_text())[
                    "platform_monitoring_thresholds"
                ],
                "bounce_rate_percent": 5,
            }
        },
        FILTER_FAILED.format("arena_check_monitoring_thresholds", "arena_check_monitoring_thresholds")
        + "platform_monitoring_thresholds.bounce_rate_percent is 5 %, at or above the 5.0 % at which AWS puts the "
        "account under review (https://docs.aws.amazon.com/ses/latest/dg/faqs-enforcement.html): the alarm must "
        "fire before that",
        id="monitoring-bounce-threshold-at-review",
    ),
    pytest.param(
        {"platform_monitoring_subscriptions": [{"protocol": "http", "endpoint": "http://pager.example/hook"}]},
        "platform_monitoring_subscriptions[0]: protocol 'http' with endpoint 'http://pager.example/hook' is not a "
        "subscription alerts can use. Protocols: email, email-json, https, sms, sqs, lambda (not http: alerts would "
        "cross the internet in clear text); the endpoint an e-mail address, an https URL, an E.164 number (+ and 7-15 "
        "digits), or an SQS queue or Lambda function ARN.",
        id="monitoring-subscription-plain-http",
    ),
    pytest.param(
        {"platform_monitoring_log_retention_days": {"journal": 45, "nginx-access": 14, "nginx-error": 30}},
        "platform_monitoring_log_retention_days {'journal': 45, 'nginx-access': 14, 'nginx-error': 30} must give each "
        "log (journal, nginx-access, nginx-error) one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, "
        "731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 days (PutRetentionPolicy, "
        "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html).",
        id="monitoring-retention-not-offered",
    ),
]


GROUP_VARS = tuple(
    ROOT / "inventories/local/group_vars/all" / name
    # the boot budget and the web target derive from the capacity model (platform_autoscaling)
    for name in ("arena.yml", "platform.yml", "services.yml", "capacity.yml")
)


def run_cases(workdir: Path, endpoint: str, cases: list[dict[str, Any]]) -> CasesRun:
    """playbooks/platform.yml's first play, once, one inventory host per case."""
    # The test's own loopback emulator and dummy credentials.
    env = loopback_env(endpoint, "ansible.posix.json")
    return cases_run(workdir, [playbook_play(PLAYBOOK)], cases, env=env, group_vars=GROUP_VARS, check=False)


@dataclass
class Run:
    """One run's per-host report and what the emulator held after it."""

    cases: CasesRun
    made: dict[str, list[str]]


def failed_tasks(run: Run, case: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (name, item.get("msg", ""))
        for name, result in run.cases.tasks(case)
        for item in result.get("results", [result])
        if item.get("failed")
    ]


LOCAL_ACTIONS = {
    "ansible.builtin.include_role",
    "ansible.builtin.set_fact",
    "ansible.builtin.assert",
    "ansible.builtin.debug",
    "ansible.builtin.validate_argument_spec",
    "validate_argument_spec",
    # The guard's TCP probe of the emulator (no API call).
    "ansible.builtin.wait_for",
}


def actions(run: Run, case: dict[str, Any]) -> list[str]:
    """The modules that ran for a case (a skipped task, e.g. a loop over nothing, ran none)."""
    return [result.get("action", "") for _, result in run.cases.tasks(case) if not result.get("skipped")]


def client(endpoint: str, service: str) -> Any:
    return aws_client(service, endpoint=endpoint)


def what_the_platform_made(endpoint: str) -> dict[str, list[str]]:
    """What the emulator holds of what the platform makes: VPCs but the default one, buckets, security
    groups but the default VPC's, launch templates, Auto Scaling groups."""
    ec2 = client(endpoint, "ec2")
    return {
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["false"]}])["Vpcs"]],
        "security groups": [
            g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"] != "default"
        ],
        "launch templates": [t["LaunchTemplateName"] for t in ec2.describe_launch_templates()["LaunchTemplates"]],
        "buckets": [b["Name"] for b in client(endpoint, "s3").list_buckets()["Buckets"]],
        "groups": [
            g["AutoScalingGroupName"]
            for g in client(endpoint, "autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
        ],
    }


NOTHING = {"vpcs": [], "security groups": [], "launch templates": [], "buckets": [], "groups": []}
# The preflight refusal that needs no emulator state: no image parameters (the validation run's
# emulator holds none); this case passes every validation.
NO_IMAGES: dict[str, Any] = {}


def kms_cases(keys: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The key policy rule's playbook cases, for the keys made in the emulator before the run."""
    return {
        "volume": {"platform_launch_templates_volume_kms_key_id": keys["root_only"]},
        "image": {
            "platform_launch_templates_image_kms_key_id": keys["documented"],
            **tiers(min_size=5, max_size=2, desired_capacity=5),
        },
    }


@pytest.fixture(scope="module")
def keys(emulator: str) -> dict[str, str]:
    """Run-wide: the validation run's emulator state (reset first), two customer managed keys."""
    reset_emulator(emulator)
    return {"root_only": emulator_key(emulator, ROOT_ONLY), "documented": emulator_key(emulator, DOCUMENTED)}


@pytest.fixture(scope="module")
def refusals(emulator: str, keys: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Every validation case, the key policy cases and the missing image parameters: one run."""
    cases = [case.values[0] for case in CASES] + list(kms_cases(keys).values()) + [NO_IMAGES]
    run = run_cases(tmp_path_factory.mktemp("platform"), emulator, cases)
    return Run(run, what_the_platform_made(emulator))


@pytest.mark.parametrize(("extra_vars", "message"), CASES)
def test_bad_input_refused_before_any_api_call(refusals: Run, extra_vars: dict[str, Any], message: str | None) -> None:
    assert refusals.made == NOTHING
    failures = failed_tasks(refusals, extra_vars)
    assert len(failures) >= 1
    name, msg = failures[0]
    assert name.startswith("platform_") and " : Validate | " in name, name
    if message is not None:
        assert msg == message
    else:
        assert "platform_network_nat_mode" in msg
    # Refused in pre_tasks: no AWS module ran (only the guard's and the validation's own
    # actions did), and nothing changed.
    assert set(actions(refusals, extra_vars)) <= LOCAL_ACTIONS, set(actions(refusals, extra_vars)) - LOCAL_ACTIONS
    assert refusals.cases.stats(extra_vars)["changed"] == 0


# ---- The KMS key policy rule (issue 13) ---------------------------------------------------------
# A customer managed key for the root volumes (platform_launch_templates_volume_kms_key_id) or the
# images' snapshots (platform_launch_templates_image_kms_key_id) must let EC2 Auto Scaling's
# service-linked role use it, else no group launches an instance ("Required AWS KMS key policy for use
# with encrypted volumes",
# https://docs.aws.amazon.com/autoscaling/ec2/userguide/key-policy-requirements-EBS-encryption.html).
# validate.yml reads the key (kms DescribeKey, GetKeyPolicy) in pre_tasks, before any change.

KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{KEY_ID}"
SLR = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
KMS_DOC = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/key-policy-requirements-EBS-encryption.html"
ROOT_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ],
}
# The two statements of the AWS page, added to the default policy.
DOCUMENTED = {
    "Version": "2012-10-17",
    "Statement": [
        *ROOT_ONLY["Statement"],
        {
            "Sid": "Allow service-linked role use of the customer managed key",
            "Effect": "Allow",
            "Principal": {"AWS": [SLR]},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
            "Resource": "*",
        },
        {
            "Sid": "Allow attachment of persistent resources",
            "Effect": "Allow",
            "Principal": {"AWS": [SLR]},
            "Action": ["kms:CreateGrant"],
            "Resource": "*",
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": True}},
        },
    ],
}
ALL_GRANTS = (
    "kms:Encrypt, kms:Decrypt, kms:ReEncrypt*, kms:GenerateDataKey*, kms:DescribeKey, "
    "kms:CreateGrant (with kms:GrantIsForAWSResource true)"
)


def kms_refusal(variable: str, key: str, problems: str) -> str:
    """validate.yml's message for a key the rule refuses."""
    return (
        f"{variable} ({key}): {problems}. EC2 Auto Scaling could not launch instances whose volumes this key "
        f'encrypts; see "Required AWS KMS key policy for use with encrypted volumes" ({KMS_DOC}).'
    )


@pytest.fixture(scope="module")
def kms_rule() -> Any:
    """roles/platform_launch_templates/library/arena_kms_autoscaling_key_info.py, imported."""
    path = ROOT / "roles/platform_launch_templates/library/arena_kms_autoscaling_key_info.py"
    spec = importlib.util.spec_from_file_location("arena_kms_autoscaling_key_info_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def statement(**over: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": {"AWS": SLR}, "Action": "kms:*", "Resource": "*", **over}


@pytest.mark.parametrize(
    ("policy", "problems"),
    [
        pytest.param(DOCUMENTED, [], id="documented-statements"),
        pytest.param({"Statement": [statement()]}, [], id="kms-star-to-the-role"),
        pytest.param({"Statement": [statement(Principal="*")]}, [], id="any-principal"),
        pytest.param(
            ROOT_ONLY,
            [f"its key policy does not allow the Auto Scaling service-linked role {SLR} {ALL_GRANTS}"],
            id="account-root-only",
        ),
        pytest.param(
            {"Statement": DOCUMENTED["Statement"][:2]},
            [
                f"its key policy does not allow the Auto Scaling service-linked role {SLR} "
                "kms:CreateGrant (with kms:GrantIsForAWSResource true)"
            ],
            id="no-create-grant",
        ),
        pytest.param(
            {
                "Statement": [
                    *DOCUMENTED["Statement"][:2],
                    {**DOCUMENTED["Statement"][2], "Condition": {"Bool": {"kms:GrantIsForAWSResource": False}}},
                ]
            },
            [
                f"its key policy does not allow the Auto Scaling service-linked role {SLR} "
                "kms:CreateGrant (with kms:GrantIsForAWSResource true)"
            ],
            id="create-grant-only-for-non-aws-resources",
        ),
        pytest.param(
            {"Statement": [*DOCUMENTED["Statement"], statement(Effect="Deny", Action=["kms:ReEncrypt*"])]},
            [f"its key policy does not allow the Auto Scaling service-linked role {SLR} kms:ReEncrypt*"],
            id="explicit-deny-wins",
        ),
        pytest.param(
            {"Statement": [statement(Action="kms:Generate*"), statement(Action=["kms:Encrypt", "kms:ReEncryptFrom"])]},
            [
                f"its key policy does not allow the Auto Scaling service-linked role {SLR} kms:Decrypt, "
                "kms:ReEncrypt*, kms:DescribeKey, kms:CreateGrant (with kms:GrantIsForAWSResource true)"
            ],
            id="partial-actions",
        ),
        pytest.param(
            {"Statement": [statement(Condition={"NumericLessThan": {"kms:GrantConstraintType": 3}})]},
            [
                f"its key policy allows the Auto Scaling service-linked role {SLR} {ALL_GRANTS} only under "
                "conditions this check does not evaluate"
            ],
            id="unevaluated-condition",
        ),
        pytest.param(
            {"Statement": [statement(Condition={"StringEquals": {"kms:ViaService": "ec2.eu-west-1.amazonaws.com"}})]},
            [],
            id="via-ec2-condition",
        ),
    ],
)
def test_key_policy_rule(kms_rule: Any, policy: dict[str, Any], problems: list[str]) -> None:
    """The statements of the AWS page, as AWS evaluates a key policy: the service-linked role (or
    "*") as principal, not the account; an explicit deny wins; the request context EBS presents."""
    assert kms_rule.policy_problems(policy, SLR, KEY_ARN, "eu-west-1") == problems


def stubbed_clients(kms_rule: Any) -> tuple[Any, Any, Any, Any]:
    """kms and sts clients pinned with botocore's Stubber against the real API models, wrapped as
    AnsibleAWSModule hands them out (retries only for calls made with aws_retry=True)."""
    creds = {"region_name": "eu-west-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    kms, sts = boto3.client("kms", **creds), boto3.client("sts", **creds)
    # The module's retry codes, with short delays.
    retry = AWSRetry.jittered_backoff(
        retries=3, delay=0.01, max_delay=0.01, catch_extra_error_codes=kms_rule.KMS_RETRY_CODES
    )
    kms_stub, sts_stub = Stubber(kms), Stubber(sts)
    sts_stub.add_response(
        "get_caller_identity",
        {"UserId": "AIDAEXAMPLE", "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/ops"},
        {},
    )
    return RetryingBotoClientWrapper(kms, retry), RetryingBotoClientWrapper(sts, retry), kms_stub, sts_stub


def key_metadata(**over: Any) -> dict[str, Any]:
    return {
        "KeyMetadata": {
            "AWSAccountId": ACCOUNT,
            "KeyId": KEY_ID,
            "Arn": KEY_ARN,
            "Enabled": True,
            "KeyUsage": "ENCRYPT_DECRYPT",
            "KeyState": "Enabled",
            "Origin": "AWS_KMS",
            "KeyManager": "CUSTOMER",
            "KeySpec": "SYMMETRIC_DEFAULT",
            **over,
        }
    }


def test_key_rule_reads_describe_key_then_the_default_policy(kms_rule: Any) -> None:
    """The exact requests: DescribeKey with what the operator gave (an alias works), GetKeyPolicy with
    the key ARN and PolicyName default; a throttled call is retried (aws_retry=True)."""
    kms, sts, kms_stub, sts_stub = stubbed_clients(kms_rule)
    kms_stub.add_client_error(
        "describe_key", "ThrottlingException", "Rate exceeded", 400, None, {"KeyId": "alias/arena-ebs"}
    )
    kms_stub.add_response("describe_key", key_metadata(), {"KeyId": "alias/arena-ebs"})
    kms_stub.add_client_error(
        "get_key_policy", "ThrottlingException", "Rate exceeded", 400, None, {"KeyId": KEY_ARN, "PolicyName": "default"}
    )
    kms_stub.add_response(
        "get_key_policy",
        {"Policy": json.dumps(ROOT_ONLY), "PolicyName": "default"},
        {"KeyId": KEY_ARN, "PolicyName": "default"},
    )
    with kms_stub, sts_stub:
        result = kms_rule.read(kms, sts, "alias/arena-ebs", "AWSServiceRoleForAutoScaling", "eu-west-1")
        kms_stub.assert_no_pending_responses()
    assert result["service_linked_role_arn"] == SLR
    assert result["key"]["arn"] == KEY_ARN
    assert result["problems"] == [
        f"its key policy does not allow the Auto Scaling service-linked role {SLR} {ALL_GRANTS}"
    ]


@pytest.mark.parametrize(
    ("key_id", "metadata", "aliases", "problems"),
    [
        pytest.param("alias/aws/ebs", None, None, [], id="aws-managed-ebs-key-needs-nothing"),
        pytest.param(
            KEY_ARN,
            key_metadata(KeyState="PendingDeletion", Enabled=False),
            None,
            ["the key is PendingDeletion, not Enabled"],
            id="key-pending-deletion",
        ),
        pytest.param(
            KEY_ARN,
            key_metadata(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT"),
            None,
            ["the key is RSA_2048/ENCRYPT_DECRYPT: EBS encrypts only with symmetric ENCRYPT_DECRYPT keys"],
            id="asymmetric-key",
        ),
        pytest.param(
            "arn:aws:kms:eu-west-1:210987654321:key/" + KEY_ID,
            key_metadata(AWSAccountId="210987654321", Arn="arn:aws:kms:eu-west-1:210987654321:key/" + KEY_ID),
            None,
            [
                f"the key belongs to account 210987654321, not {ACCOUNT}: its key policy cannot be read from here "
                "(GetKeyPolicy does not work across accounts); use a key of this account"
            ],
            id="key-of-another-account",
        ),
        pytest.param(
            KEY_ARN,
            key_metadata(KeyManager="AWS"),
            [
                {
                    "AliasName": "alias/aws/ssm",
                    "AliasArn": f"arn:aws:kms:eu-west-1:{ACCOUNT}:alias/aws/ssm",
                    "TargetKeyId": KEY_ID,
                }
            ],
            [
                "it is another service's AWS managed key: only alias/aws/ebs or a customer managed key can encrypt "
                "EBS volumes"
            ],
            id="aws-managed-key-of-ssm",
        ),
    ],
)
def test_key_rule_reads_only_what_it_needs(
    kms_rule: Any,
    key_id: str,
    metadata: dict[str, Any] | None,
    aliases: list[dict[str, str]] | None,
    problems: list[str],
) -> None:
    """No GetKeyPolicy where the answer cannot change the verdict or cannot be had (another account)."""
    kms, sts, kms_stub, sts_stub = stubbed_clients(kms_rule)
    if metadata is not None:
        kms_stub.add_response("describe_key", metadata, {"KeyId": key_id})
    if aliases is not None:
        kms_stub.add_response("list_aliases", {"Aliases": aliases, "Truncated": False}, {"KeyId": KEY_ID})
    with kms_stub, sts_stub:
        result = kms_rule.read(kms, sts, key_id, "AWSServiceRoleForAutoScaling", "eu-west-1")
        kms_stub.assert_no_pending_responses()
    assert result["problems"] == problems


def test_key_rule_names_a_missing_key(kms_rule: Any) -> None:
    kms, sts, kms_stub, sts_stub = stubbed_clients(kms_rule)
    kms_stub.add_client_error(
        "describe_key", "NotFoundException", "Alias not found", 400, None, {"KeyId": "alias/typo"}
    )
    with kms_stub, sts_stub:
        result = kms_rule.read(kms, sts, "alias/typo", "AWSServiceRoleForAutoScaling", "eu-west-1")
    assert result["problems"] == [
        "no such key in eu-west-1 (KMS is eventually consistent: a key made moments ago may need a retry)"
    ]


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    """A private, in-process emulator on loopback for the playbook runs of this file.

    A requested certificate stays PENDING_VALIDATION for the whole file: moto issues one 60 s after the
    request by default (as AWS does once its DNS validation passes), which a loaded machine's run can
    outlast."""
    validation_wait = moto_settings.ACM_VALIDATION_WAIT
    moto_settings.ACM_VALIDATION_WAIT = 24 * 3600
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    moto_settings.ACM_VALIDATION_WAIT = validation_wait


def emulator_key(endpoint: str, policy: dict[str, Any]) -> str:
    kms = client(endpoint, "kms")
    return kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"]


def test_volume_key_without_the_autoscaling_grants_is_refused_before_any_change(
    refusals: Run, keys: dict[str, str]
) -> None:
    case = kms_cases(keys)["volume"]
    failures = failed_tasks(refusals, case)
    assert failures[0] == (
        "platform_launch_templates : Validate | Require the key policy grants EC2 Auto Scaling's service-linked role "
        "needs",
        kms_refusal(
            "platform_launch_templates_volume_kms_key_id",
            keys["root_only"],
            f"its key policy does not allow the Auto Scaling service-linked role {SLR} {ALL_GRANTS}",
        ),
    )
    # Only the read-only key module called AWS, in pre_tasks; nothing changed.
    assert set(actions(refusals, case)) <= LOCAL_ACTIONS | {"arena_kms_autoscaling_key_info"}
    assert "arena_kms_autoscaling_key_info" in actions(refusals, case)
    assert refusals.cases.stats(case)["changed"] == 0


def test_image_key_with_the_documented_grants_passes_the_rule(refusals: Run, keys: dict[str, str]) -> None:
    """A key with the AWS page's two statements passes; the run then stops at the next role's bad
    input (Auto Scaling, validated after the launch templates), still before any change."""
    case = kms_cases(keys)["image"]
    name, _ = failed_tasks(refusals, case)[0]
    assert name.startswith("platform_autoscaling : Validate | "), name
    assert "arena_kms_autoscaling_key_info" in actions(refusals, case)
    assert refusals.cases.stats(case)["changed"] == 0


# ---- Preconditions only AWS can answer (issue 14) -----------------------------------------------
# Read-only, in the validation phase after every role's validate.yml, before the first change:
# instance types offered in the zones (DescribeInstanceTypeOfferings), the tier images' SSM parameters,
# the certificate (ISSUED, covering the domain). Before, the certificate was looked up by the load
# balancers' role after the 11 changes of the network and security group roles.

READ_ONLY_ACTIONS = LOCAL_ACTIONS | {
    "arena_instance_type_offerings_info",
    "community.aws.acm_certificate_info",
    "arena_kms_autoscaling_key_info",
    "amazon.aws.ec2_ami_info",
}
ACM_DOC = "https://docs.aws.amazon.com/acm/latest/APIReference/API_ListCertificates.html"


# Image parameters that name no AMI of the account (the templates carry each parameter's AMI id).
GONE_IMAGES = {"platform_launch_templates_image_parameter_prefix": "/arena/local/gone-images"}


def seed_images(endpoint: str) -> None:
    """The tier image parameters, each naming an AMI the emulator has; GONE_IMAGES' name none."""
    ec2 = client(endpoint, "ec2")
    image = next(
        i["ImageId"] for i in ec2.describe_images(Owners=["amazon"])["Images"] if i.get("RootDeviceName") == "/dev/xvda"
    )
    for tier in ("web", "api", "admin"):
        client(endpoint, "ssm").put_parameter(
            Name=f"/arena/local/images/{tier}", Value=image, Type="String", Overwrite=True
        )
        client(endpoint, "ssm").put_parameter(
            Name=f"/arena/local/gone-images/{tier}", Value="ami-0000000000000dead", Type="String", Overwrite=True
        )


NOT_OFFERED = tiers(instance_types=["c6i.large", "c6i.hyper"])
NO_CERTIFICATE: dict[str, Any] = {}


@pytest.fixture(scope="module")
def pending_certificate(emulator: str) -> str:
    """Run-wide: the preflight run's emulator state (reset first): the tier images' parameters and a
    requested certificate of the domain, PENDING_VALIDATION."""
    reset_emulator(emulator)
    seed_images(emulator)
    return client(emulator, "acm").request_certificate(DomainName="arena-local.test", ValidationMethod="DNS")[
        "CertificateArn"
    ]


@pytest.fixture(scope="module")
def preflight_refusals(emulator: str, pending_certificate: str, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The preflight cases that need images (and a certificate) in the emulator: one run."""
    cases = [
        NOT_OFFERED,
        NO_CERTIFICATE,
        {"platform_load_balancers_certificate_arn": pending_certificate},
        GONE_IMAGES,
    ]
    run = run_cases(tmp_path_factory.mktemp("platform-preflight"), emulator, cases)
    return Run(run, what_the_platform_made(emulator))


def refused_in_preflight(run: Run, extra_vars: dict[str, Any]) -> tuple[str, str]:
    assert run.made == NOTHING
    assert set(actions(run, extra_vars)) <= READ_ONLY_ACTIONS, set(actions(run, extra_vars)) - READ_ONLY_ACTIONS
    assert run.cases.stats(extra_vars)["changed"] == 0
    return failed_tasks(run, extra_vars)[0]


def test_missing_image_parameter_is_refused_before_any_change(refusals: Run) -> None:
    assert refused_in_preflight(refusals, NO_IMAGES) == (
        "platform_launch_templates : Preflight | Require each tier's image parameter in SSM",
        "platform_launch_templates_image_parameter_prefix /arena/local/images: no SSM parameter "
        "/arena/local/images/web, /arena/local/images/api, /arena/local/images/admin in eu-west-1; it names "
        "each tier's image. Publish the tier images first (playbooks/publish_image.yml).",
    )


def test_image_parameters_naming_no_ami_are_refused_before_any_change(preflight_refusals: Run) -> None:
    """The templates launch the AMI id each parameter names: one the account does not have (deregistered,
    never shared) is refused before any change, naming the parameters (DescribeImages, read-only)."""
    name, msg = refused_in_preflight(preflight_refusals, GONE_IMAGES)
    assert name == "platform_launch_templates : Preflight | Require each to be an available AMI"
    assert msg.startswith(
        "/arena/local/gone-images/web = ami-0000000000000dead, /arena/local/gone-images/api = ami-0000000000000dead, "
        "/arena/local/gone-images/admin = ami-0000000000000dead: not an available AMI of this account in eu-west-1"
    ), msg


def test_instance_type_not_offered_is_refused_before_any_change(preflight_refusals: Run) -> None:
    """c6i.hyper exists nowhere: EC2 offers it in no zone (the emulator answers DescribeInstanceTypeOfferings
    from AWS's data set)."""
    assert refused_in_preflight(preflight_refusals, NOT_OFFERED) == (
        "platform_autoscaling : Preflight | Refuse an instance type EC2 does not offer in every zone of the groups",
        "platform_autoscaling_tiers.web.instance_types: c6i.hyper not in eu-west-1a, eu-west-1b: EC2 does not offer it "
        "there (DescribeInstanceTypeOfferings, api); a type offered nowhere does not exist. Use instance types offered "
        "in every zone of platform_autoscaling_zones.",
    )


def test_no_issued_certificate_for_the_domain_is_refused_before_any_change(preflight_refusals: Run) -> None:
    """The domain's only certificate is the pending one: ListCertificates for ISSUED ones finds none."""
    name, msg = refused_in_preflight(preflight_refusals, NO_CERTIFICATE)
    assert (
        name
        == "platform_load_balancers : Preflight | Require an issued certificate of the domain (when no ARN is given)"
    )
    assert msg == FILTER_FAILED.format(
        "arena_edge_acm_certificate_for_domain", "arena_edge_acm_certificate_for_domain"
    ) + (
        "no ISSUED ACM certificate for platform_load_balancers_certificate_domain 'arena-local.test' in this region "
        "(found: none): an HTTPS listener needs an issued certificate; finish its validation or set "
        f"platform_load_balancers_certificate_arn, see {ACM_DOC}"
    )


def test_given_certificate_pending_validation_is_refused_before_any_change(
    preflight_refusals: Run, pending_certificate: str
) -> None:
    arn = pending_certificate
    assert refused_in_preflight(preflight_refusals, {"platform_load_balancers_certificate_arn": arn}) == (
        "platform_load_balancers : Preflight | Require the given ACM certificate ISSUED and covering the domain",
        f"platform_load_balancers_certificate_arn {arn} is PENDING_VALIDATION for arena-local.test: the HTTPS "
        "listeners need an ISSUED ACM certificate of the region covering platform_load_balancers_certificate_domain "
        "'arena-local.test' (https://docs.aws.amazon.com/acm/latest/APIReference/API_DescribeCertificate.html).",
    )
