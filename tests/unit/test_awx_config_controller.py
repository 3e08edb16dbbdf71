"""playbooks/awx_config.yml (roles/awx_config) applied with the awx.awx modules to an in-memory fake
controller (tests/awx_fake_controller.py; no AWX can be installed here): the first run creates every
object of the role's data, a second run changes nothing and sends no write, --check on the
configured controller changes nothing, and a workflow node dropped from the data is deleted.
The fake is a test double: a real AWX validates more (docs/awx.md, "Tested against a fake controller")."""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from arena_testlib import REPO_ROOT, base_env
from awx_fake_controller import FakeController, Mutation

ROLE = REPO_ROOT / "roles" / "awx_config"
DEFAULTS: dict[str, Any] = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
PLAYBOOKS = sorted(f"playbooks/{p.name}" for p in (REPO_ROOT / "playbooks").glob("*.yml"))
SCM_URL = "https://github.com/example/arena-infra.git"
CREDENTIAL = "arena lab emulator"  # made by hand in a real controller: seeded in the fake


@dataclass
class Run:
    stats: dict[str, int]
    changed_tasks: list[str]
    mutations: list[Mutation]
    output: str


def playbook(fake: FakeController, *args: str, extra: dict[str, Any] | None = None) -> Run:
    env = base_env(
        {
            "CONTROLLER_HOST": fake.url,
            "CONTROLLER_OAUTH_TOKEN": fake.token,
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
            # The awx.awx modules import their module_utils relatively, which Mitogen's runner cannot
            # load ("attempted relative import with no known parent package"); ops run plain Ansible.
            "ANSIBLE_STRATEGY": "linear",
        },
        keep_aws=False,
    )
    variables = {"awx_config_project_scm_url": SCM_URL, "awx_config_credentials": [CREDENTIAL]} | (extra or {})
    before = len(fake.mutations)
    result = subprocess.run(
        ["ansible-playbook", str(REPO_ROOT / "playbooks" / "awx_config.yml"), "-e", json.dumps(variables), *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    report = json.JSONDecoder().raw_decode(result.stdout)[0]  # the timer callback prints after the JSON
    changed = [
        task["task"]["name"]
        for play in report["plays"]
        for task in play["tasks"]
        if task["hosts"].get("localhost", {}).get("changed")
    ]
    return Run(report["stats"]["localhost"], changed, fake.mutations[before:], result.stdout)


def new_fake() -> FakeController:
    fake = FakeController(playbooks=PLAYBOOKS).start()
    aws = fake.seed("credential_types", name="Amazon Web Services", kind="cloud")
    fake.seed("credentials", name=CREDENTIAL, credential_type=aws["id"])
    return fake


@pytest.fixture(scope="module")
def runs() -> Iterator[tuple[FakeController, dict[str, Run]]]:
    fake = new_fake()
    try:
        done = {"first": playbook(fake)}
        # The second run is a --check run (test_a_second_run_in_check_mode_changes_and_writes_nothing).
        done["check"] = playbook(fake, "--check")
        yield fake, done
    finally:
        fake.stop()


def unraw(value: Any) -> Any:
    """The role's task arguments as the module receives them: {% raw %} ... {% endraw %} removed."""
    if isinstance(value, dict):
        return {k: unraw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unraw(v) for v in value]
    if isinstance(value, str):
        return value.replace("{% raw %}", "").replace("{% endraw %}", "")
    return value


def credential_type_tasks() -> list[dict[str, Any]]:
    tasks = yaml.safe_load((ROLE / "tasks" / "organization.yml").read_text())
    return [unraw(t["awx.awx.credential_type"]) for t in tasks if "awx.awx.credential_type" in t]


def test_the_first_run_creates_the_organization_credential_types_and_project(runs: Any) -> None:
    fake, done = runs
    assert done["first"].stats["failures"] == 0
    org = fake.one("organizations", name="arena")
    for task in credential_type_tasks():
        made = fake.one("credential_types", name=task["name"])
        assert (made["kind"], made["inputs"], made["injectors"]) == (task["kind"], task["inputs"], task["injectors"])
    project = fake.one("projects", name="arena-infra")
    assert (project["organization"], project["scm_type"], project["scm_url"], project["scm_branch"]) == (
        org["id"],
        "git",
        SCM_URL,
        "main",
    )


@pytest.mark.parametrize("env", DEFAULTS["awx_config_environments"])
def test_the_first_run_creates_each_inventory_with_its_aws_ec2_source(runs: Any, env: str) -> None:
    fake, _ = runs
    inventory = fake.one("inventories", name=f"arena {env}")
    assert inventory["kind"] == ""
    assert yaml.safe_load(inventory["variables"])["arena_environment"] == env
    source = fake.one("inventory_sources", inventory=inventory["id"])
    assert source["name"] == f"arena {env} aws_ec2"
    assert (source["source"], source["source_path"]) == ("scm", f"inventories/{env}/aws_ec2.yml")
    assert source["source_project"] == fake.one("projects", name="arena-infra")["id"]
    assert (source["overwrite"], source["overwrite_vars"], source["update_on_launch"]) == (True, False, False)
    config = yaml.safe_load((REPO_ROOT / source["source_path"]).read_text())
    assert config["plugin"] == "arena_aws_ec2"


@pytest.mark.parametrize("template", DEFAULTS["awx_config_job_templates"], ids=lambda t: t["name"])
def test_the_first_run_creates_every_job_template(runs: Any, template: dict[str, Any]) -> None:
    fake, _ = runs
    made = fake.one("job_templates", name=template["name"])
    assert made["playbook"] == template["playbook"]
    assert made["project"] == fake.one("projects", name="arena-infra")["id"]
    assert made["inventory"] == fake.one("inventories", name="arena staging")["id"]
    assert made["ask_inventory_on_launch"] and made["ask_credential_on_launch"]
    assert made["ask_variables_on_launch"] == template.get("ask_variables_on_launch", False)
    assert json.loads(made["extra_vars"]) == unraw(template.get("extra_vars", {}))
    assert fake.associated("job_templates", made["id"], "credentials") == [
        fake.one("credentials", name=CREDENTIAL)["id"]
    ]
    spec = fake.survey_spec("job_templates", made["id"])
    assert made["survey_enabled"] == bool(template.get("survey"))
    assert spec.get("spec", []) == template.get("survey", [])


def test_the_first_run_chains_the_workflow_nodes_in_order(runs: Any) -> None:
    fake, _ = runs
    workflow = fake.one("workflow_job_templates", name=DEFAULTS["awx_config_workflow"]["name"])
    nodes = {n["id"]: n for n in fake.list("workflow_job_template_nodes", workflow_job_template=workflow["id"])}
    children = {c for n in nodes.values() for c in n["success_nodes"]}
    roots = [n for n in nodes.values() if n["id"] not in children]
    assert len(roots) == 1, roots
    chain, node = [], roots[0]
    while True:
        chain.append(node)
        assert len(node["success_nodes"]) <= 1 and not node["failure_nodes"] and not node["always_nodes"], node
        if not node["success_nodes"]:
            break
        node = nodes[node["success_nodes"][0]]
    wanted = DEFAULTS["awx_config_workflow"]["nodes"]
    assert [n["identifier"] for n in chain] == [n["identifier"] for n in wanted]
    assert len(nodes) == len(wanted)
    for made, data in zip(chain, wanted, strict=True):
        template = made["summary_fields"]["unified_job_template"]
        if data["type"] == "workflow_approval":
            approval = fake.one("workflow_approval_templates", id=made["unified_job_template"])
            assert (approval["name"], approval["timeout"]) == (data["name"], data["timeout"])
        else:
            assert (template["unified_job_type"], template["name"]) == ("job_template", data["name"])


@pytest.mark.parametrize("schedule", DEFAULTS["awx_config_schedules"], ids=lambda s: s["name"])
def test_the_first_run_creates_every_schedule(runs: Any, schedule: dict[str, Any]) -> None:
    fake, _ = runs
    made = fake.one("schedules", name=schedule["name"])
    assert made["rrule"] == schedule["rrule"]
    assert made["unified_job_template"] == fake.one("job_templates", name=schedule["template"])["id"]
    assert made["inventory"] == fake.one("inventories", name=f"arena {schedule['environment']}")["id"]
    assert made["enabled"] is True


def test_a_second_run_in_check_mode_changes_and_writes_nothing(runs: Any) -> None:
    """The second run, in check mode, on the configured controller: changed=0 and no write. The awx.awx
    modules compare in check mode as in a real run and report changed wherever a real run would write
    (that is how the inventories' `kind` and the approval nodes were found), and no task of the role is
    skipped in check mode (as many skipped as in the first run): so this is also the real second run's
    changed=0, without a third import (about 22 CPU-seconds)."""
    _, done = runs
    run = done["check"]
    assert run.stats["changed"] == 0, run.changed_tasks
    assert run.stats["skipped"] == done["first"].stats["skipped"], "a task is skipped in check mode"
    assert [(m.method, m.path) for m in run.mutations] == []


def test_a_node_removed_or_retyped_in_the_data_is_deleted_with_its_edges_and_approval(runs: Any) -> None:
    """Only the workflow's tasks (the tag), on the controller the first run configured (the last test
    of the module: it changes the workflow). gate is dropped; rollout becomes an approval (kept, the
    approval module would rename its job template); a further run changes nothing."""
    fake, _ = runs
    gate = fake.one("workflow_job_template_nodes", identifier="gate")
    rollout = fake.one("workflow_job_template_nodes", identifier="rollout")
    workflow = copy.deepcopy(DEFAULTS["awx_config_workflow"])
    workflow["nodes"] = [n for n in workflow["nodes"] if n["identifier"] != "gate"]
    workflow["nodes"][-1] = {"identifier": "rollout", "type": "workflow_approval", "name": "go", "timeout": 60}

    run = playbook(fake, "--tags", "awx_config_workflow", extra={"awx_config_workflow": workflow})

    deleted = [m.path for m in run.mutations if m.method == "DELETE"]
    assert deleted == [f"/api/v2/workflow_job_template_nodes/{n['id']}/" for n in (gate, rollout)]
    nodes = {n["identifier"]: n for n in fake.list("workflow_job_template_nodes")}
    assert sorted(nodes) == ["bake", "publish", "rollout"]
    assert nodes["bake"]["success_nodes"] == [nodes["publish"]["id"]]
    assert nodes["publish"]["success_nodes"] == [nodes["rollout"]["id"]]
    assert fake.list("workflow_approval_templates", id=gate["unified_job_template"]) == []
    assert fake.one("workflow_approval_templates", id=nodes["rollout"]["unified_job_template"])["name"] == "go"
    assert fake.one("job_templates", id=rollout["unified_job_template"])["name"] == "arena rollout"
    again = playbook(fake, "--tags", "awx_config_workflow", extra={"awx_config_workflow": workflow})
    assert again.stats["changed"] == 0 and again.mutations == [], again.changed_tasks
