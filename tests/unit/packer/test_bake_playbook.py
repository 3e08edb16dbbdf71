"""playbooks/bake.yml refuses an unknown tier and a tier whose roles do not exist, in its first
tasks, before any change (ansible-playbook --check against localhost; nothing reaches a role)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from arena_testlib import REPO_ROOT, VENV_BIN, base_env, run

TIERS = REPO_ROOT / "packer" / "tiers"


def bake(extra_vars: dict[str, object]) -> tuple[int, str]:
    result = run(
        [
            str(VENV_BIN / "ansible-playbook"),
            "--check",
            "-i",
            "localhost,",
            "-c",
            "local",
            "playbooks/bake.yml",
            "-e",
            json.dumps({"ansible_become": False, "ansible_python_interpreter": str(VENV_BIN / "python"), **extra_vars}),
        ],
        base_env(keep_aws=False),
        timeout=180,
    )
    return result.returncode, re.sub(r"\s+", " ", result.stdout + result.stderr)


@pytest.mark.parametrize("tier", ["", "db", "WEB"])
def test_unknown_tier_is_refused(tier: str) -> None:
    rc, out = bake({"bake_tier": tier})
    assert rc != 0
    assert f"bake_tier must be one of web, api, admin (Packer passes -e bake_tier=<tier>); got '{tier}'" in out
    assert "changed=0" in out
    assert "TASK [base :" not in out


def test_unknown_phase_is_refused() -> None:
    rc, out = bake({"bake_tier": "web", "bake_phase": "twice"})
    assert rc != 0
    assert "bake_phase must be one of all, converge, idempotence, finish; got 'twice'" in out
    assert "changed=0" in out
    assert "TASK [base :" not in out


def test_tier_with_missing_roles_fails_with_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "web.yml").write_text(yaml.safe_dump({"bake_roles": ["web", "cdn_edge", "runtime_config"]}))
    rc, out = bake({"bake_tier": "web", "bake_tiers_dir": str(tmp_path)})
    assert rc != 0
    assert (
        "Cannot bake the web image: its role(s) cdn_edge do not exist yet (no roles/<role>/tasks/main.yml). "
        "The web bake applies base -> hardening -> web -> cdn_edge -> runtime_config -> cloudwatch_agent -> "
        "image_cleanup "
        f"(bake_roles in {tmp_path}/web.yml)." in out
    ), out[-2000:]
    assert "changed=0" in out
    assert "TASK [base :" not in out


@pytest.mark.parametrize("tier", ["web", "api", "admin"])
def test_every_tier_file_lists_roles_and_gate_expectations(tier: str) -> None:
    data = yaml.safe_load((TIERS / f"{tier}.yml").read_text())
    assert data["bake_roles"], tier
    assert "base" not in data["bake_roles"] and "image_cleanup" not in data["bake_roles"]
    assert data["bake_gate_lynis_min"] == (88 if tier == "admin" else 85)


def role_defaults(role: str) -> dict:
    return yaml.safe_load((REPO_ROOT / "roles" / role / "defaults" / "main.yml").read_text())


# The tier port and protocol the load balancer, firewall, gate and tier role use: one source,
# tiers.yml (tests/unit/contracts/test_contract_one_source.py).


@pytest.mark.parametrize("tier", ["web", "api", "admin"])
def test_first_boot_fetches_every_env_file_the_tier_reads(tier: str) -> None:
    """mail_relay reads mail.env: a tier that bakes it must fetch `mail` (the SES SMTP credentials)."""
    data = yaml.safe_load((TIERS / f"{tier}.yml").read_text())
    fetched = {t["name"]: set(t["required_keys"]) for t in data["runtime_config_tiers"]}
    assert tier in fetched
    if "mail_relay" in data["bake_roles"]:
        env_file = role_defaults("mail_relay")["mail_relay_runtime_env_file"]
        assert env_file == "/etc/arena/runtime/mail.env"
        assert fetched.get("mail", set()) >= {"SMTP_USERNAME", "SMTP_PASSWORD"}, tier
    else:
        assert "mail" not in fetched, tier
