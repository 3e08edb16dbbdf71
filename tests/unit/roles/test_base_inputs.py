"""roles/base input validation: bad inputs fail on the validation task, before any change.

Each case runs the role with `ansible-playbook --check` against localhost (connection local, no
container) and reads the result from the json callback: the exact message, the failing task, and
that no task before it reported a change. The AWS case checks, also in check mode, the download
plan the role computes for a region (it never contacts AWS: downloads are skipped in check mode).
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
PLAYBOOK = """\
- name: Apply roles/base
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: base
"""
# Components that would touch the host (even if only in check mode) are off unless a case needs them.
QUIET = {
    "base_packages_enabled": False,
    "base_locale_enabled": False,
    "base_chrony_enabled": False,
    "base_journald_enabled": False,
    "base_unattended_upgrades_enabled": False,
    "base_timezone_enabled": False,
}
FAKE_KEY = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n(test)\n-----END PGP PUBLIC KEY BLOCK-----\n"


def run_role(tmp_path: Path, extra_vars: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    """Run the role in check mode; return the exit code and the task results for localhost."""
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    (tmp_path / "vars.json").write_text(json.dumps(extra_vars))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
    }
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "--check",
            "-i",
            "localhost,",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            "-e",
            f"@{tmp_path / 'vars.json'}",
            str(tmp_path / "play.yml"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # The json report comes first; ansible.cfg's timer callback may print a line after it.
    start = proc.stdout.find("{")
    assert start >= 0, proc.stdout + proc.stderr
    report, _ = json.JSONDecoder().raw_decode(proc.stdout[start:])
    tasks = [
        {"name": task["task"]["name"], **task["hosts"]["localhost"]}
        for task in report["plays"][0]["tasks"]
        if "localhost" in task["hosts"]
    ]
    return proc.returncode, tasks


def failure_message(result: dict[str, Any]) -> str:
    """The message of a failed task, or of its first failed loop item."""
    if "results" in result:
        return next(item["msg"] for item in result["results"] if item.get("failed"))
    return result["msg"]


BAD_INPUTS = [
    pytest.param(
        {"base_timezone_enabled": True, "base_timezone": "Mars/Olympus_Mons"},
        "Validate | Time zone exists",
        "base_timezone 'Mars/Olympus_Mons' is not a time zone: /usr/share/zoneinfo/Mars/Olympus_Mons "
        "is not a zone file on this host.",
        id="timezone-unknown-zone",
    ),
    pytest.param(
        {"base_timezone_enabled": True, "base_timezone": "../../etc/passwd"},
        "Validate | Time zone name is a relative zoneinfo path",
        "base_timezone '../../etc/passwd' is not a time zone name such as Etc/UTC or Europe/Berlin.",
        id="timezone-path-traversal",
    ),
    pytest.param(
        {"base_journald_enabled": True, "base_journald_system_max_use": "lots"},
        "Validate | Journald sizes",
        "base_journald_system_max_use must be a size such as 500M or 2G (digits, then K, M, G or T), got 'lots'.",
        id="journald-size-malformed",
    ),
    pytest.param(
        {"base_journald_enabled": True, "base_journald_max_retention": "forever"},
        "Validate | Journald retention",
        "base_journald_max_retention must be a systemd time span such as 3month, 2week or 90d, got 'forever'.",
        id="journald-retention-malformed",
    ),
    pytest.param(
        {
            "base_packages_enabled": True,
            "base_chrony_enabled": True,
            "base_purge_packages": ["telnet", "curl", "chrony"],
        },
        "Validate | Purge list and required packages do not overlap",
        "base_purge_packages overlaps the packages the role installs (chrony, curl): "
        "a package cannot be both required and purged.",
        id="purge-overlaps-required",
    ),
    pytest.param(
        {"base_locale_enabled": True, "base_locale_lang": "fr_FR.UTF-8"},
        "Validate | Locales are UTF-8 locale names and LANG is one of them",
        "base_locales must hold UTF-8 locale names such as en_US.UTF-8 (got ['en_US.UTF-8']) and "
        "base_locale_lang ('fr_FR.UTF-8') must be C.UTF-8 or one of them.",
        id="locale-lang-not-generated",
    ),
    pytest.param(
        {"base_unattended_upgrades_enabled": True, "base_unattended_upgrades_origins_patterns": ["origin=Debian"]},
        "Validate | Unattended upgrades take security origins only",
        "base_unattended_upgrades_origins_patterns must list security origins only (label=Debian-Security "
        "or a *-security codename), got ['origin=Debian'].",
        id="unattended-non-security-origin",
    ),
    pytest.param(
        {"base_aws_agents_enabled": True, "base_aws_region": "Europe", "base_aws_ssm_agent_gpg_key": FAKE_KEY},
        "Validate | AWS region code",
        "base_aws_region 'Europe' is not an AWS region code such as eu-west-1.",
        id="aws-region-malformed",
    ),
    pytest.param(
        {"base_aws_agents_enabled": True, "base_aws_region": "eu-west-1"},
        "Validate | SSM agent signing key given",
        "base_aws_ssm_agent_gpg_key must hold the ASCII-armoured SSM Agent public key from AWS's "
        '"Verifying the signature of SSM Agent" page: the package is never installed unverified.',
        id="aws-ssm-key-missing",
    ),
    pytest.param(
        {"base_chronyd_enabled": False},
        "Validate | No unknown component toggle",
        "Unknown component toggle(s) base_chronyd_enabled: roles/base knows base_packages_enabled, "
        "base_timezone_enabled, base_locale_enabled, base_chrony_enabled, base_journald_enabled, "
        "base_unattended_upgrades_enabled, base_aws_agents_enabled, base_aws_ssm_agent_enabled, "
        "base_aws_cloudwatch_agent_enabled.",
        id="unknown-component-toggle",
    ),
    pytest.param(
        {"base_journald_enabled": True, "base_journald_storage": "floppy"},
        "Validating arguments against arg spec 'main' - Base layer of every arena host",
        "Validation of arguments failed:\nvalue of base_journald_storage must be one of: "
        "persistent, volatile, auto, none, got: floppy",
        id="argument-spec-choice",
    ),
]


@pytest.mark.parametrize(("extra_vars", "failing_task", "message"), BAD_INPUTS)
def test_bad_input_fails_before_any_change(tmp_path: Path, extra_vars, failing_task, message):
    rc, tasks = run_role(tmp_path, {**QUIET, **extra_vars})
    failed = [task for task in tasks if task.get("failed")]
    assert rc == 2
    # Role tasks are reported as "base : <name>"; the argument-spec check has no role prefix.
    assert [task["name"] for task in failed] in ([f"base : {failing_task}"], [failing_task])
    assert failure_message(failed[0]) == message
    before = tasks[: tasks.index(failed[0])]
    assert [task["name"] for task in before if task.get("changed")] == []


@pytest.mark.parametrize(
    ("region", "domain"),
    [("eu-west-1", "amazonaws.com"), ("cn-north-1", "amazonaws.com.cn")],
)
def test_aws_agents_plan_in_check_mode(tmp_path: Path, region: str, domain: str):
    rc, tasks = run_role(
        tmp_path,
        {**QUIET, "base_aws_agents_enabled": True, "base_aws_region": region, "base_aws_ssm_agent_gpg_key": FAKE_KEY},
    )
    assert rc == 0
    plan_task = next(task for task in tasks if task["name"].endswith("Aws_agents | Plan the downloads"))
    plan = plan_task["ansible_facts"]["base_aws_agents_plan"]
    ssm = f"https://s3.{region}.{domain}/amazon-ssm-{region}/latest/debian_amd64/amazon-ssm-agent.deb"
    cwa = (
        f"https://amazoncloudwatch-agent-{region}.s3.{region}.{domain}/debian/amd64/latest/amazon-cloudwatch-agent.deb"
    )
    assert [(agent["name"], agent["url"], agent["signature_url"], agent["fingerprint"]) for agent in plan] == [
        ("amazon-ssm-agent", ssm, ssm + ".sig", "DE92C7DA3E56E92331D62A36BC1F495C97DD04ED"),
        ("amazon-cloudwatch-agent", cwa, cwa + ".sig", "937616F3450B7D806CBD9725D58167303B789C72"),
    ]
    # Check mode never downloads: every download, verify and install step is skipped.
    steps = [task for task in tasks if any(word in task["name"] for word in ("| Download", "| Install the verified"))]
    assert steps and all(task.get("skipped") for task in steps)
    assert [task["name"] for task in tasks if task.get("changed")] == []
