"""scripts/deps_packages.py: the package layer image's apt calls come from the roles' own apt tasks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from arena_loader import load_source

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "deps_packages.py"
deps = load_source(SCRIPT, "deps_packages")


def _role(
    root: Path, name: str, tasks: dict[str, list], defaults: dict | None = None, variables: dict | None = None
) -> None:
    role = root / "roles" / name
    (role / "tasks").mkdir(parents=True)
    for file_name, content in tasks.items():
        (role / "tasks" / file_name).write_text(yaml.safe_dump(content))
    if defaults is not None:
        (role / "defaults").mkdir()
        (role / "defaults" / "main.yml").write_text(yaml.safe_dump(defaults))
    if variables is not None:
        (role / "vars").mkdir()
        (role / "vars" / "main.yml").write_text(yaml.safe_dump(variables))


def test_apt_tasks_templated_per_variant_blocks_and_recommends(tmp_path: Path) -> None:
    _role(
        tmp_path,
        "demo",
        {
            "main.yml": [
                {"name": "a", "ansible.builtin.apt": {"name": "{{ demo_packages }}", "install_recommends": False}},
                {"name": "purge", "ansible.builtin.apt": {"name": ["telnet"], "state": "absent", "purge": True}},
                {"name": "refresh", "ansible.builtin.apt": {"update_cache": True}},
                {"name": "deb", "ansible.builtin.apt": {"deb": "/tmp/x.deb"}},
                {
                    "name": "b",
                    "vars": {"__demo_extra": "{{ ['sshd-pkg'] if demo_ssh else [] }}"},
                    "block": [{"name": "c", "apt": {"name": "{{ ['nginx'] + __demo_extra }}"}}],
                },
            ]
        },
        defaults={"demo_ssh": False, "demo_packages": "{{ __demo_base }}"},
        variables={"__demo_base": ["curl", "less"]},
    )
    config = {"roles": {"demo": [{}, {"demo_ssh": True}]}, "lab_packages": ["redis-server", "curl"]}
    assert deps.apt_calls(tmp_path, config) == [
        "install curl redis-server",
        "no-recommends curl less",
        "recommends nginx",
        "recommends nginx sshd-pkg",
    ]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "no roles in the variant file"),
        ({"roles": {"nosuch": [{}]}}, "role 'nosuch' has no tasks directory under"),
        ({"roles": {"demo": [{}]}}, "roles/demo/tasks/main.yml: cannot evaluate '{{ demo_undefined }}'"),
    ],
)
def test_bad_input_is_refused(tmp_path: Path, config: dict, message: str) -> None:
    _role(tmp_path, "demo", {"main.yml": [{"name": "a", "ansible.builtin.apt": {"name": "{{ demo_undefined }}"}}]})
    with pytest.raises(deps.DepsError) as caught:
        deps.apt_calls(tmp_path, config)
    assert message in str(caught.value)


def test_repository_list_covers_the_hardening_scenario_and_the_lab() -> None:
    result = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, check=True, timeout=120)
    lines = result.stdout.splitlines()
    assert lines == sorted(lines)
    hardening_admin = [line for line in lines if "openssh-server" in line.split() and "fail2ban" in line.split()]
    assert hardening_admin and hardening_admin[0].startswith("no-recommends ")
    # The base role's list, with the scenario's needrestart option and without it.
    assert any(line.startswith("no-recommends ") and "needrestart" in line.split() for line in lines)
    assert "recommends nginx" in lines  # roles/web: apt's default, recommends included
    install = next(line for line in lines if line.startswith("install "))
    assert {"python3-apt", "redis-server", "telnet"} <= set(install.split()[1:])
