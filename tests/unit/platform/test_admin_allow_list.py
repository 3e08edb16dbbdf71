"""The admin allow-list is one list: roles/platform_security_groups writes the environment's
platform_security_groups_admin_cidrs both to the admin load balancer's security group and to the SSM
parameter the admin instances render nginx's allow list from at boot (<prefix>/<env>/admin/allowed_cidrs,
StringList; roles/admin's scenario proves the instance side). Teardown removes the parameter.

The role runs with ansible-playbook against a private in-process emulator (moto's server on loopback),
on a VPC made here, with the real list of inventories/local plus a second network.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import yaml
from arena_testlib import REPO_ROOT, base_env, run
from moto.server import ThreadedMotoServer

REGION = "eu-west-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
PARAMETER = "/arena/local/admin/allowed_cidrs"  # tiers.yml arena_runtime.ssm_prefix, environment local
ADMIN_PORT = yaml.safe_load((REPO_ROOT / "tiers.yml").read_text())["arena_tiers"]["admin"]["listener_port"]


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def client(emulator: str, service: str):
    return boto3.client(service, endpoint_url=emulator, region_name=REGION, **CREDENTIALS)


def security_groups(tmp_path: Path, emulator: str, vpc_id: str, state: str, cidrs: list[str]) -> None:
    """Run roles/platform_security_groups as playbooks/platform.yml would, with these admin CIDRs."""
    variables = {
        "ansible_python_interpreter": sys.executable,
        "arena_project": "arena",
        "arena_environment": "local",
        "aws_guard_target": {"region": REGION, "endpoint_url": emulator, "profile": ""},
        "platform_security_groups_state": state,
        "platform_security_groups_vpc_id": vpc_id,
        "platform_security_groups_admin_cidrs": cidrs,
    }
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    (tmp_path / "play.yml").write_text(
        "- hosts: localhost\n  gather_facts: false\n  roles: [platform_security_groups]\n"
    )
    env = base_env(
        {
            "AWS_URL": emulator,
            "AWS_ENDPOINT_URL": emulator,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "ANSIBLE_ROLES_PATH": str(REPO_ROOT / "roles"),
        }
    )
    cmd = [
        "ansible-playbook",
        "-i",
        "localhost,",
        "-c",
        "local",
        str(tmp_path / "play.yml"),
        "-e",
        f"@{tmp_path / 'vars.json'}",
    ]
    result = run(cmd, env, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def admin_alb_cidrs(emulator: str, vpc_id: str) -> list[tuple[int, str]]:
    groups = client(emulator, "ec2").describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["arena-local-admin-alb"]}]
    )["SecurityGroups"]
    return sorted((p["FromPort"], r["CidrIp"]) for g in groups for p in g["IpPermissions"] for r in p["IpRanges"])


def test_one_list_for_the_admin_load_balancer_and_the_admin_instances(tmp_path: Path, emulator: str) -> None:
    inventory = yaml.safe_load((REPO_ROOT / "inventories/local/group_vars/all/platform.yml").read_text())
    cidrs = [*inventory["platform_security_groups_admin_cidrs"], "198.51.100.0/24"]
    vpc_id = client(emulator, "ec2").create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ssm = client(emulator, "ssm")

    security_groups(tmp_path, emulator, vpc_id, "present", cidrs)
    parameter = ssm.get_parameter(Name=PARAMETER)["Parameter"]
    assert (parameter["Type"], parameter["Value"]) == ("StringList", ",".join(cidrs))
    assert admin_alb_cidrs(emulator, vpc_id) == sorted((ADMIN_PORT, c) for c in cidrs)

    security_groups(tmp_path, emulator, vpc_id, "absent", cidrs)
    assert ssm.get_parameters(Names=[PARAMETER])["InvalidParameters"] == [PARAMETER]
