"""playbooks/platform.yml refuses bad input before any AWS call.

Each case runs the real playbook with one bad variable. The AWS endpoint points at a closed
loopback port, so an API call could not succeed anyway; the tests also assert that the failure
comes from a role's validate step in pre_tasks, that no AWS module ran at all (only the guard's
and the validation's local actions) and that nothing changed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

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


def tiers(**web: Any) -> dict[str, Any]:
    return {"platform_autoscaling_tiers": {"web": {**TIERS["web"], **web}}}


CASES = [
    pytest.param(
        {
            "platform_network_subnets": [
                {"kind": "public", "az": "a", "cidr": "10.20.0.0/24"},
                {"kind": "public", "az": "b", "cidr": "10.20.1.0/24"},
                {"kind": "private", "az": "a", "cidr": "10.20.10.0/24"},
                {"kind": "private", "az": "a", "cidr": "10.20.11.0/24"},
            ]
        },
        "platform_network_subnets must place public and private subnets in at least two availability zones each "
        "(public zones: ['a', 'b'], private zones: ['a']).",
        id="single-az-subnets",
    ),
    pytest.param(
        {"platform_security_groups_admin_cidrs": ["192.0.2.0/24", "0.0.0.0/0"]},
        "platform_security_groups_admin_cidrs must not contain 0.0.0.0/0 or ::/0 (the admin load balancer is "
        "reachable only from allow-listed networks): ['192.0.2.0/24', '0.0.0.0/0'].",
        id="world-open-admin-ipv4",
    ),
    pytest.param(
        {"platform_security_groups_admin_cidrs": ["::/0"]},
        "platform_security_groups_admin_cidrs must not contain 0.0.0.0/0 or ::/0 (the admin load balancer is "
        "reachable only from allow-listed networks): ['::/0'].",
        id="world-open-admin-ipv6",
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
]


def run_playbook(extra_vars: dict[str, Any]) -> dict[str, Any]:
    env = {
        **os.environ,
        # Nowhere to go: a closed loopback port and dummy credentials.
        "AWS_URL": "http://127.0.0.1:9",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.timer",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
    }
    env.pop("AWS_PROFILE", None)
    cmd = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        "localhost,",
        "-e",
        "@inventories/local/group_vars/all/arena.yml",
        "-e",
        "@inventories/local/group_vars/all/platform.yml",
        "-e",
        "@inventories/local/group_vars/all/services.yml",
        # the boot budget and the web target derive from the capacity model (platform_autoscaling)
        "-e",
        "@inventories/local/group_vars/all/capacity.yml",
        "-e",
        json.dumps(extra_vars),
        PLAYBOOK,
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode != 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "{" in proc.stdout, proc.stderr[-2000:]
    # The timer callback prints its line after the JSON document.
    report, _ = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{") :])
    return report


def failed_tasks(report: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for play in report["plays"]:
        for task in play["tasks"]:
            result = task["hosts"].get("localhost", {})
            for item in result.get("results", [result]):
                if item.get("failed"):
                    out.append((task["task"]["name"], item.get("msg", "")))
    return out


LOCAL_ACTIONS = {
    "ansible.builtin.include_role",
    "ansible.builtin.set_fact",
    "ansible.builtin.assert",
    "ansible.builtin.debug",
    "ansible.builtin.validate_argument_spec",
    "validate_argument_spec",
}


def actions(report: dict[str, Any]) -> list[str]:
    return [
        task["hosts"]["localhost"].get("action", "")
        for play in report["plays"]
        for task in play["tasks"]
        if "localhost" in task["hosts"]
    ]


@pytest.mark.parametrize(("extra_vars", "message"), CASES)
def test_bad_input_refused_before_any_api_call(extra_vars: dict[str, Any], message: str | None) -> None:
    report = run_playbook(extra_vars)
    failures = failed_tasks(report)
    assert len(failures) >= 1
    name, msg = failures[0]
    assert name.startswith("platform_") and " : Validate | " in name, name
    if message is not None:
        assert msg == message
    else:
        assert "platform_network_nat_mode" in msg
    # Refused in pre_tasks: no AWS module ran (only the guard's and the validation's own
    # actions did), and nothing changed.
    assert set(actions(report)) <= LOCAL_ACTIONS, set(actions(report)) - LOCAL_ACTIONS
    assert report["stats"]["localhost"]["changed"] == 0
