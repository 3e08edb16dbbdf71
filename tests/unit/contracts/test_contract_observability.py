"""Contract: the tier's instance role allows what the tier's CloudWatch agent writes, and nothing else.

Image side: the agent configuration roles/cloudwatch_agent bakes for the tier, completed by its boot
program with the monitoring settings exactly as roles/platform_monitoring publishes them for the
environment (__platform_monitoring_settings under /arena/<env>/monitoring/, turned into env keys as
roles/runtime_config names them). Platform side: the inline policy of the tier's instance role,
rendered from roles/platform_launch_templates/templates/instance_policy.json.j2 for each inventory.

Evaluated as IAM evaluates identity-based policies (arena_contracts.iam_allows), with the request
context each API presents (the emulator checks IAM by action only: docs: ENVIRONMENT.md):
- CreateLogStream and DescribeLogStreams are authorized on the log group, PutLogEvents on the log
  stream (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html);
  a log group's ARN is written with or without a trailing :*
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/iam-access-control-overview-cwl.html);
- PutMetricData has no resource; its cloudwatch:namespace condition key is the request's namespace
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-namespace.html);
- ec2:DescribeTags has no resource-level permissions
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html);
- an inline role policy is at most 10,240 characters
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from arena_contracts import (
    ENVIRONMENTS,
    REPO,
    TIERS,
    Platform,
    iam_allows,
    platform_side,
    render,
    role_file,
    runtime_config_program,
    tier_facts,
)

CASES = [pytest.param(tier, env, id=f"{tier}-{env}") for env in ENVIRONMENTS for tier in TIERS]
OBSERVABILITY = tier_facts()["arena_observability"]
INSTANCE = "i-0123456789abcdef0"
# Every logs action the agent does not need, that a wider policy (CloudWatchAgentServerPolicy) would allow.
NOT_NEEDED = (
    "logs:CreateLogGroup",
    "logs:PutRetentionPolicy",
    "logs:DeleteLogGroup",
    "logs:DeleteLogStream",
    "logs:DescribeLogGroups",
    "logs:GetLogEvents",
    "logs:FilterLogEvents",
    "logs:PutSubscriptionFilter",
)


@functools.cache
def agent_program() -> ModuleType:
    name = "arena_cloudwatch_agent_config_under_contract"
    spec = importlib.util.spec_from_file_location(
        name, REPO / "roles/cloudwatch_agent/files/arena_cloudwatch_agent_config.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@functools.cache
def baked(tier: str) -> dict[str, Any]:
    """The agent configuration template of the tier's image, as the bake renders it."""
    role = REPO / "roles" / "cloudwatch_agent"
    variables = {**role_file("cloudwatch_agent", "defaults"), **role_file("cloudwatch_agent", "vars")}
    variables.update(role_path=str(role), ansible_search_path=[str(role)], cloudwatch_agent_tier=tier)
    text = render("{{ lookup('ansible.builtin.template', 'amazon-cloudwatch-agent.json.j2') }}", variables)
    return json.loads(text)


def published_settings(platform: Platform) -> dict[str, str]:
    """What the instance's monitoring.env holds: roles/platform_monitoring's parameters of the environment,
    named as roles/runtime_config names keys (the path below the settings path, upper-cased)."""
    variables = {
        **role_file("platform_monitoring", "defaults"),
        **platform.variables,
        **role_file("platform_monitoring", "vars"),
        "role_path": str(REPO / "roles" / "platform_monitoring"),
    }
    path = f"{tier_facts()['arena_runtime']['ssm_prefix']}/{platform.environment}/{OBSERVABILITY['settings_name']}/"
    settings = render("{{ __platform_monitoring_settings }}", variables)
    return {runtime_config_program().parameter_key(path + name, path): str(value) for name, value in settings.items()}


def agent_config(tier: str, settings: dict[str, str]) -> dict[str, Any]:
    """The configuration the agent runs with: the baked template completed by the boot program."""
    program = agent_program()
    checked = program.check_settings(settings, "monitoring.env", OBSERVABILITY["log_group_root"])
    template = {k: v for k, v in baked(tier).items() if k != "comment"}
    return program.render(template, checked)


def group_arn(platform: Platform, group: str, suffix: str = "") -> str:
    return f"arn:aws:logs:{platform.region}:{platform.account}:log-group:{group}{suffix}"


def stream_arn(platform: Platform, group: str) -> str:
    return f"{group_arn(platform, group)}:log-stream:{INSTANCE}"


def check_agent_writes(tier: str, platform: Platform, settings: dict[str, str]) -> None:
    """Every write the agent makes with this configuration is allowed (AssertionError naming the first one not)."""
    policy = platform.instance_policies[tier]
    config = agent_config(tier, settings)
    for group in agent_program().log_group_names(config):
        for action, resource in [
            ("logs:CreateLogStream", group_arn(platform, group)),
            ("logs:CreateLogStream", group_arn(platform, group, ":*")),
            ("logs:DescribeLogStreams", group_arn(platform, group, ":*")),
            ("logs:PutLogEvents", stream_arn(platform, group)),
        ]:
            assert iam_allows(policy, action, resource), (
                f"{tier} in {platform.environment}: {action} on {resource} denied"
            )
    namespace = {"cloudwatch:namespace": config["metrics"]["namespace"]}
    assert iam_allows(policy, "cloudwatch:PutMetricData", "*", namespace), (
        f"{tier}: PutMetricData in {namespace} denied"
    )
    assert iam_allows(policy, "ec2:DescribeTags", "*"), f"{tier}: ec2:DescribeTags denied"


@pytest.mark.parametrize(("tier", "env"), CASES)
def test_the_agents_writes_are_allowed(tier: str, env: str) -> None:
    platform = platform_side(env)
    check_agent_writes(tier, platform, published_settings(platform))


@pytest.mark.parametrize(("tier", "env"), CASES)
def test_the_instance_role_writes_nothing_else(tier: str, env: str) -> None:
    """Least privilege: no other tier's or environment's log group, no group administration (the platform
    creates the groups with their retention), no other namespace, no metric without one."""
    platform = platform_side(env)
    policy = platform.instance_policies[tier]
    root = OBSERVABILITY["log_group_root"]
    own = [f"{root}/{env}/{tier}/{name}" for name in OBSERVABILITY["logs"]]
    others = [
        f"{root}/{other_env}/{other_tier}/{name}"
        for other_env in ENVIRONMENTS
        for other_tier in TIERS
        for name in OBSERVABILITY["logs"]
        if (other_env, other_tier) != (env, tier)
    ]
    others += [f"{root}/{env}/{tier}", f"{root}/{env}/{tier}-canary/journal", f"{root}/{env}", "/aws/lambda/x"]
    for group in others:
        for action, resource in [
            ("logs:CreateLogStream", group_arn(platform, group, ":*")),
            ("logs:DescribeLogStreams", group_arn(platform, group, ":*")),
            ("logs:PutLogEvents", stream_arn(platform, group)),
        ]:
            assert not iam_allows(policy, action, resource), f"{tier} in {env}: {action} on {resource} allowed"
    for group in own:
        for action in NOT_NEEDED:
            for resource in (group_arn(platform, group), group_arn(platform, group, ":*"), "*"):
                assert not iam_allows(policy, action, resource), f"{tier} in {env}: {action} on {resource} allowed"
    for namespace in ("AWS/EC2", "Arena/Other", "CWAgent"):
        assert not iam_allows(policy, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": namespace}), namespace
    assert not iam_allows(policy, "cloudwatch:PutMetricData", "*")
    for action in ("cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "ec2:CreateTags", "ec2:DescribeInstances"):
        assert not iam_allows(policy, action, "*"), f"{tier} in {env}: {action} allowed"


@pytest.mark.parametrize(("tier", "env"), CASES)
def test_the_agents_statements_are_exactly_these(tier: str, env: str) -> None:
    platform = platform_side(env)
    policy = platform.instance_policies[tier]
    groups = group_arn(platform, f"{OBSERVABILITY['log_group_root']}/{env}/{tier}/*")
    agent = [
        s for s in policy["Statement"] if any(a.split(":")[0] in {"logs", "cloudwatch", "ec2"} for a in s["Action"])
    ]
    assert agent == [
        {
            "Sid": "ShipOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            "Resource": [groups, f"{groups}:log-stream:*"],
        },
        {
            "Sid": "PublishInstanceMetrics",
            "Effect": "Allow",
            "Action": ["cloudwatch:PutMetricData"],
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": OBSERVABILITY["metrics_namespace"]}},
        },
        {"Sid": "ReadInstanceTags", "Effect": "Allow", "Action": ["ec2:DescribeTags"], "Resource": "*"},
    ]
    # IAM counts the policy's characters without white space.
    assert len(json.dumps(policy, separators=(",", ":"))) <= 10240


# ---- the contract fails when one side changes alone -------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "change"),
    [
        # image side: the settings name another environment's groups (the platform wrote a wrong prefix)
        pytest.param("web", {"LOG_GROUP_PREFIX": "/arena/production"}, id="prefix-of-another-environment"),
        # image side: the settings name another namespace than the one the role may publish to
        pytest.param("api", {"METRICS_NAMESPACE": "Arena/Tiers"}, id="another-namespace"),
    ],
)
def test_the_contract_fails_when_the_settings_change_alone(tier: str, change: dict[str, str]) -> None:
    platform = platform_side("staging")
    with pytest.raises(AssertionError, match="denied"):
        check_agent_writes(tier, platform, {**published_settings(platform), **change})


def test_the_contract_fails_when_an_image_ships_another_tiers_logs() -> None:
    """platform side alone: the web instance role against the api image's configuration."""
    platform = platform_side("staging")
    settings = published_settings(platform)
    web_only = Platform(
        environment=platform.environment,
        region=platform.region,
        account=platform.account,
        variables=platform.variables,
        instance_policies={"api": platform.instance_policies["web"]},
    )
    with pytest.raises(
        AssertionError, match=r"logs:CreateLogStream on arn:aws:logs:[^ ]*:log-group:/arena/staging/api/[a-z-]+ denied"
    ):
        check_agent_writes("api", web_only, settings)


def test_the_settings_are_the_ones_the_boot_program_requires() -> None:
    platform = platform_side("local")
    assert set(published_settings(platform)) == set(agent_program().REQUIRED_KEYS)
    assert Path(REPO / "roles" / "platform_monitoring").is_dir()
