"""A run limited to one component (--tags <role>_<component>) still validates the role first: every
tier role imports tasks/validate.yml first, tagged always. One --check run for all roles: each case is
its own inventory host that applies one role (the play's roles are conditional on the case's
arena_case_role), the run selects one component tag of each role, and each case must fail in its
role's validation (one bad input each, from the role's bad-input tests) with nothing changed."""

from __future__ import annotations

from typing import Any

import pytest
from arena_testlib import REPO_ROOT, CasesRun, base_env, cases_run

# role: (the case's variables, the component tag the run selects, the validation task that must refuse it)
CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    "web": (
        {
            "web_site_version": "1.0.0",
            "web_site_artifact_url": "file:///srv/fixtures/arena-site-1.0.0.tar.gz",
            "web_site_artifact_sha256": "ABC123",
        },
        "web_site",
        "web : validate | Check the inputs",
    ),
    "api": (
        {
            "api_version": "1.0.0",
            "api_artifact_url": "file:///srv/fixtures/arena-api-1.0.0.tar.gz",
            "api_artifact_sha256": "0" * 64,
            "api_bind_port": 80,
        },
        "api_service",
        "api : validate | Check the inputs",
    ),
    "admin": ({"admin_fail2ban_maxretry": 0}, "admin_nginx", "admin : Validate | fail2ban thresholds"),
    "mail_relay": (
        {"mail_relay_domain": "arena.example", "mail_relay_tls_ca_file": "ca.pem"},
        "mail_relay_postfix",
        "mail_relay : Validate | TLS is required and verified",
    ),
    "runtime_config": ({"runtime_config_tiers": []}, "runtime_config_install", "runtime_config : Validate | "),
    "hardening": (
        {"hardening_profile": "web", "hardening_umask": "0x27"},
        "hardening_sshd",
        "hardening : Validate | Password ageing, timeouts, sizes and ports",
    ),
    "image_cleanup": ({"image_cleanup_extra_paths": ["/etc"]}, "image_cleanup_apt", "image_cleanup : Validate | "),
    "base": ({"base_chronyd_enabled": False}, "base_chrony", "base : Validate | No unknown component toggle"),
}


def case(role: str) -> dict[str, Any]:
    return {**CASES[role][0], "arena_case_role": role}


@pytest.fixture(scope="module")
def tagged_run(tmp_path_factory: pytest.TempPathFactory) -> CasesRun:
    play = {
        "name": "Apply each case's role",
        "hosts": "all",
        "gather_facts": False,
        "roles": [{"role": role, "when": f"arena_case_role == '{role}'"} for role in CASES],
    }
    env = base_env(
        {"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_ROLES_PATH": str(REPO_ROOT / "roles")},
        keep_aws=False,
    )
    tags = ",".join(tag for _, tag, _ in CASES.values())
    return cases_run(
        tmp_path_factory.mktemp("tags"), [play], [case(role) for role in CASES], env=env, args=("--tags", tags)
    )


@pytest.mark.parametrize("role", list(CASES))
def test_a_component_run_validates_first(tagged_run: CasesRun, role: str) -> None:
    name, _, stats = tagged_run.failure(case(role))
    assert name.startswith(CASES[role][2]), name
    assert stats["changed"] == 0
