"""roles/base input validation: bad inputs fail on the validation task, before any change.

One `ansible-playbook --check` run of the role for every case of this file, each case its own
inventory host (connection local, no container); each case reads its own host's results from the
json callback: the exact message, the failing task, and that no task before it reported a change.
The AWS cases check, also in check mode, the download plan the role computes for a region (it never
contacts AWS: downloads are skipped in check mode).
"""

from __future__ import annotations

from typing import Any

import pytest
from arena_testlib import CasesRun, role_input_run

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


AGENT_REGIONS = [("eu-west-1", "amazonaws.com"), ("cn-north-1", "amazonaws.com.cn")]


def agents(region: str) -> dict[str, Any]:
    return {**QUIET, "base_aws_agents_enabled": True, "base_aws_region": region, "base_aws_ssm_agent_gpg_key": FAKE_KEY}


@pytest.fixture(scope="module")
def cases_run(tmp_path_factory: pytest.TempPathFactory) -> CasesRun:
    """One --check run of the role for every case of this file (one inventory host each)."""
    cases = [{**QUIET, **case.values[0]} for case in BAD_INPUTS] + [agents(region) for region, _ in AGENT_REGIONS]
    return role_input_run(tmp_path_factory.mktemp("base"), "base", cases)


def host_tasks(cases_run: CasesRun, extra_vars: dict[str, Any]) -> list[dict[str, Any]]:
    """The task results of one case's host, each with its task name."""
    return [{"name": name, **result} for name, result in cases_run.tasks(extra_vars)]


@pytest.mark.parametrize(("extra_vars", "failing_task", "message"), BAD_INPUTS)
def test_bad_input_fails_before_any_change(cases_run: CasesRun, extra_vars, failing_task, message):
    tasks = host_tasks(cases_run, {**QUIET, **extra_vars})
    failed = [task for task in tasks if task.get("failed")]
    assert cases_run.stats({**QUIET, **extra_vars})["failures"] == 1
    # Role tasks are reported as "base : <name>"; the argument-spec check has no role prefix.
    assert [task["name"] for task in failed] in ([f"base : {failing_task}"], [failing_task])
    assert failure_message(failed[0]) == message
    before = tasks[: tasks.index(failed[0])]
    assert [task["name"] for task in before if task.get("changed")] == []


@pytest.mark.parametrize(("region", "domain"), AGENT_REGIONS)
def test_aws_agents_plan_in_check_mode(cases_run: CasesRun, region: str, domain: str):
    tasks = host_tasks(cases_run, agents(region))
    assert [task["name"] for task in tasks if task.get("failed")] == []
    assert cases_run.stats(agents(region))["failures"] == 0
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
