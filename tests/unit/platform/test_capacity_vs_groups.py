"""Every environment's Auto Scaling groups agree with its live-event capacity model.

Bounds and instance types are compared here; the web tier's target-tracking target and the groups'
grace period and warm-ups are derived from the model by the role (filter_plugins/arena_scaling_rules.py),
checked through Ansible below.

playbooks/event_scaling.yml sets MaxSize to the model's max_size and refuses groups whose max_size
differs; the model's capacity per instance is measured for one instance type, so the group must be
able to launch that type. Read from the inventories' group_vars, falling back to the role defaults
as Ansible would.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from arena_testlib import REPO_ROOT, VENV_BIN, base_env, run


def group_vars(env: str) -> dict:
    merged: dict = {}
    for path in sorted((REPO_ROOT / "inventories" / env / "group_vars" / "all").glob("*.yml")):
        merged.update(yaml.safe_load(path.read_text()) or {})
    return merged


def role_default(role: str, name: str) -> object:
    return yaml.safe_load((REPO_ROOT / "roles" / role / "defaults" / "main.yml").read_text())[name]


ENVS = sorted(p.name for p in (REPO_ROOT / "inventories").iterdir() if (p / "group_vars" / "all").is_dir())


def test_every_environment_is_checked() -> None:
    assert {"local", "staging", "production"} <= set(ENVS)


@pytest.mark.parametrize("env", ENVS)
def test_groups_match_the_capacity_model(env: str) -> None:
    gv = group_vars(env)
    model = gv["arena_capacity_model"]
    groups = gv.get("platform_autoscaling_tiers", role_default("platform_autoscaling", "platform_autoscaling_tiers"))
    templates = gv.get(
        "platform_launch_templates_tiers", role_default("platform_launch_templates", "platform_launch_templates_tiers")
    )
    for tier, plan in model["tiers"].items():
        group = groups[tier]
        assert (group["min_size"], group["max_size"]) == (plan["min_size"], plan["max_size"]), (env, tier)
        assert plan["instance_type"] in model["instance_types"], (env, tier)
        assert group["instance_types"][0] == plan["instance_type"], (env, tier, group["instance_types"])
        assert templates[tier]["instance_type"] == plan["instance_type"], (env, tier)


@pytest.mark.parametrize("env", ENVS)
def test_lead_time_counts_the_load_balancers_health_check(env: str) -> None:
    """The lead time adds interval x healthy threshold: the target groups' own values."""
    gv = group_vars(env)
    health = gv["arena_capacity_model"]["health_check"]
    interval = gv.get(
        "platform_load_balancers_health_check_interval",
        role_default("platform_load_balancers", "platform_load_balancers_health_check_interval"),
    )
    threshold = gv.get(
        "platform_load_balancers_healthy_threshold",
        role_default("platform_load_balancers", "platform_load_balancers_healthy_threshold"),
    )
    assert (health["interval_seconds"], health["healthy_threshold"]) == (interval, threshold), env


def test_the_check_fails_on_a_mismatch() -> None:
    """The comparison above is not vacuous: the role defaults alone do not fit production's model."""
    model = group_vars("production")["arena_capacity_model"]
    defaults = role_default("platform_autoscaling", "platform_autoscaling_tiers")
    assert defaults["web"]["max_size"] != model["tiers"]["web"]["max_size"]


DERIVED_PLAYBOOK = """\
- name: What platform_autoscaling derives from the environment's capacity model
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Validate the role's input as playbooks/platform.yml does (no AWS call)
      ansible.builtin.include_role:
        name: platform_autoscaling
        tasks_from: validate.yml
        public: true
    - name: Write what the groups and policies would get
      ansible.builtin.copy:
        dest: "{{ out }}"
        mode: "0644"
        content: >-
          {{ {'grace': platform_autoscaling_health_check_grace_period,
              'warmup': platform_autoscaling_instance_warmup,
              'refresh_warmup': platform_autoscaling_refresh_preferences.instance_warmup,
              'targets': __platform_autoscaling_targets | default({})} | to_json }}
"""


@pytest.mark.parametrize("env", ENVS)
def test_role_derives_target_and_boot_budget_from_the_model(env: str, tmp_path: Path) -> None:
    """Issue 13: the role's defaults (and each environment's platform.yml) give the groups the grace
    period and warm-up of the model's boot budget (boot_to_healthy 240 s + health checks 20 s), and web
    the model's requests per target per minute, through Ansible as playbooks/platform.yml runs them.
    Before: grace and warm-ups 120 s, web target 200 (AWS: per target per minute,
    https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TargetTrackingConfiguration.html;
    https://docs.aws.amazon.com/autoscaling/ec2/userguide/health-check-grace-period.html)."""
    playbook = tmp_path / "derived.yml"
    playbook.write_text(DERIVED_PLAYBOOK)
    out = tmp_path / "derived.json"
    gv_dir = REPO_ROOT / "inventories" / env / "group_vars" / "all"
    var_files = [f"@{gv_dir / name}" for name in ("arena.yml", "capacity.yml", "platform.yml")]
    result = run(
        [
            str(VENV_BIN / "ansible-playbook"),
            "-i",
            "localhost,",
            *[arg for path in var_files for arg in ("-e", path)],
            "-e",
            f"out={out}",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            str(playbook),
        ],
        base_env(keep_aws=False),
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    derived = json.loads(out.read_text())
    assert derived == {
        "grace": 260,
        "warmup": 260,
        "refresh_warmup": 260,
        "targets": {"web": 4200.0, "api": 50.0, "admin": 60.0},
    }, env
