"""inventory_plugins/arena_aws_ec2.py: Ansible loads every enabled inventory plugin in every run,
also the runs whose inventory has no aws_ec2 source (molecule's, the bake's, `-i host,`). Loading
this one imports no AWS SDK: amazon.aws's aws_ec2 and boto3 are imported when one of its sources is
parsed (tests/integration/test_inventory.py parses them), about 0.05 CPU-s less in each other run."""

from __future__ import annotations

from arena_testlib import VENV_BIN, base_env, run

SDK = {"boto3", "botocore", "ansible_collections.amazon.aws.plugins.inventory.aws_ec2"}


def imported(stderr: str) -> set[str]:
    """Module names from `python -X importtime` lines ("import time: self | cumulative | name")."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def test_a_run_without_an_aws_ec2_source_loads_the_plugin_and_imports_no_sdk() -> None:
    result = run(
        [str(VENV_BIN / "ansible-inventory"), "-i", "localhost,", "--list", "-vvvv"],
        base_env({"PYTHONPROFILEIMPORTTIME": "1"}, keep_aws=False),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # Loaded and asked (ansible.cfg enables it first), and it declined the host list.
    assert "arena_aws_ec2 declined parsing localhost," in result.stdout + result.stderr
    modules = imported(result.stderr)
    assert "ansible.cli.inventory" in modules  # the import trace is there
    assert not SDK & modules, sorted(SDK & modules)
