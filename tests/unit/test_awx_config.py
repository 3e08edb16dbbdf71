"""roles/awx_config (playbooks/awx_config.yml, docs/awx.md): the job templates, the release workflow and
the schedules are data in the role's defaults; they are checked here against the playbooks that exist
and what those playbooks refuse to run without. No controller is reachable here: the playbook's
validate-only run (--tags awx_config_validate) is what runs. Bad input to the role, case by case:
tests/unit/roles/test_awx_config_inputs.py."""

from __future__ import annotations

import ast
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from arena_testlib import REPO_ROOT, base_env
from dateutil.rrule import rrulestr

ROLE = REPO_ROOT / "roles" / "awx_config"
DEFAULTS: dict[str, Any] = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
TEMPLATES: list[dict[str, Any]] = DEFAULTS["awx_config_job_templates"]
BY_NAME = {t["name"]: t for t in TEMPLATES}
BY_PLAYBOOK = {Path(t["playbook"]).name: t for t in TEMPLATES}
WORKFLOW: dict[str, Any] = DEFAULTS["awx_config_workflow"]
SCHEDULES: list[dict[str, Any]] = DEFAULTS["awx_config_schedules"]

# Not ops jobs: bake.yml is what Packer runs on the build machine (CI: ami.yml, rebake.yml), and
# awx_config.yml configures the controller itself, from an operator's machine.
NOT_OPS = {"bake.yml", "awx_config.yml"}
OPS_PLAYBOOKS = sorted(p.name for p in (REPO_ROOT / "playbooks").glob("*.yml") if p.name not in NOT_OPS)
ENVIRONMENTS = ("staging", "production")


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text()) or {}


@cache
def inventory_vars(*, every: bool = True) -> frozenset[str]:
    """Variables the environments' inventories give (group_vars of staging and production): those
    every environment gives, or (every=False) those any gives (a per-environment setting, such as
    production's certificate, is the inventory's business, not an operator's input)."""
    per_env = [
        {name for path in (REPO_ROOT / "inventories" / env / "group_vars").rglob("*.yml") for name in load(path)}
        for env in ENVIRONMENTS
    ]
    return frozenset(set.intersection(*per_env) if every else set.union(*per_env))


def walk(tasks: list[Any] | None) -> Iterator[dict[str, Any]]:
    for task in tasks or []:
        if isinstance(task, dict):
            yield task
            for key in ("block", "rescue", "always"):
                yield from walk(task.get(key))


def plays(playbook: Path) -> Iterator[dict[str, Any]]:
    for play in load(playbook) or []:
        if "ansible.builtin.import_playbook" in play:
            yield from plays(playbook.parent / play["ansible.builtin.import_playbook"])
        else:
            yield play


def asserted_nonempty(var: str, tasks: list[Any] | None) -> bool:
    """An assert of the task list requires `var` set: `var | length > 0`, `var | trim | length > 0`, `var in [...]`."""
    pattern = re.compile(rf"\b{re.escape(var)}\s*(\|\s*(trim\s*\|\s*)?length\s*>\s*0|in\s*\[)")
    return any(
        pattern.search(str(cond))
        for task in walk(tasks)
        for cond in (task.get("ansible.builtin.assert") or {}).get("that", [])
    )


def role_uses(play: dict[str, Any]) -> Iterator[tuple[str, str, set[str]]]:
    """(role, entry point, variables the play passes it) for every role a play runs."""
    for entry in play.get("roles") or []:
        name = entry if isinstance(entry, str) else entry.get("role") or entry["name"]
        given = set() if isinstance(entry, str) else set(entry) | set(entry.get("vars") or {})
        yield name, "main", given
    for key in ("pre_tasks", "tasks", "post_tasks"):
        for task in walk(play.get(key)):
            include = task.get("ansible.builtin.include_role") or task.get("ansible.builtin.import_role")
            if include:
                entry = Path(include.get("tasks_from", "main")).stem
                names = [include["name"]]
                if "{{" in include["name"]:
                    # A loop over a literal list (platform.yml's validation) or over a list of the
                    # play's vars (platform_services.yml's service roles).
                    loop = task.get("loop")
                    if isinstance(loop, list):
                        names = loop
                    else:
                        match = re.match(r"\{\{\s*(\w+)", str(loop))
                        names = (play.get("vars") or {}).get(match.group(1) if match else "") or []
                    assert names, f"{play.get('name')}: cannot resolve role {include['name']}"
                for name in names:
                    yield name, entry, set(task.get("vars") or {})


def required_inputs(playbook: str) -> set[str]:
    """What the playbook refuses to run without and nothing gives: the required role inputs (argument
    spec `required: true`) without a role default, a value from the play or the inventory's group_vars;
    and the play's or a tasks_from entry point's empty defaults that its asserts require set."""
    required: set[str] = set()
    for play in plays(REPO_ROOT / "playbooks" / playbook):
        play_vars = set(play.get("vars") or {})
        play_tasks = [t for k in ("pre_tasks", "tasks", "post_tasks") for t in play.get(k) or []]
        for var, value in (play.get("vars") or {}).items():
            if value == "" and asserted_nonempty(var, play_tasks):
                required.add(var)
        for role, entry, given in role_uses(play):
            specs = load(REPO_ROOT / "roles" / role / "meta" / "argument_specs.yml").get("argument_specs", {})
            spec = specs.get(entry) or specs.get("main") or {}
            defaults = load(REPO_ROOT / "roles" / role / "defaults" / "main.yml")
            for var, option in (spec.get("options") or {}).items():
                if option.get("required") and var not in defaults and var not in given | play_vars | inventory_vars():
                    required.add(var)
            if entry != "main":
                entry_tasks = load(REPO_ROOT / "roles" / role / "tasks" / f"{entry}.yml")
                for var, value in defaults.items():
                    if (
                        value == ""
                        and var not in given | play_vars | inventory_vars(every=False)
                        and asserted_nonempty(var, entry_tasks)
                    ):
                        required.add(var)
    return required


def given_inputs(template: dict[str, Any]) -> set[str]:
    return {q["variable"] for q in template.get("survey") or []} | set(template.get("extra_vars") or {})


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t["name"])
def test_every_job_template_runs_a_playbook_that_exists(template: dict[str, Any]) -> None:
    assert re.fullmatch(r"playbooks/[a-z0-9_]+\.yml", template["playbook"]), template
    assert (REPO_ROOT / template["playbook"]).is_file(), template["playbook"]


def test_every_ops_playbook_has_one_job_template() -> None:
    assert len(OPS_PLAYBOOKS) >= 12, OPS_PLAYBOOKS
    assert sorted(BY_PLAYBOOK) == OPS_PLAYBOOKS
    assert len(BY_NAME) == len(TEMPLATES) == len(BY_PLAYBOOK), "one template per playbook, unique names"


def test_the_required_inputs_are_found() -> None:
    """The derivation below is what the next test trusts: it must find what the playbooks say they need."""
    assert required_inputs("event_review.yml") == {"event_review_event"}
    assert required_inputs("publish_image.yml") == {"publish_image_tier"}
    assert required_inputs("rollback_image.yml") == {"rollback_image_tier"}
    assert required_inputs("static_publish.yml") == {"platform_static_site_dir"}
    assert required_inputs("aws_identity.yml") == set()


@pytest.mark.parametrize("playbook", OPS_PLAYBOOKS)
def test_every_required_input_is_asked_or_given(playbook: str) -> None:
    template = BY_PLAYBOOK[playbook]
    required = required_inputs(playbook)
    assert required <= set(template.get("required_vars") or []), (
        f"{template['name']}: required_vars must list {sorted(required)} (the role's own validation checks them)"
    )
    missing = required - given_inputs(template)
    assert not missing or template.get("ask_variables_on_launch"), (
        f"{template['name']}: {sorted(missing)} neither in the survey, nor in extra_vars, nor asked on launch"
    )


@pytest.mark.parametrize("template", [t for t in TEMPLATES if t.get("survey")], ids=lambda t: t["name"])
def test_survey_questions_are_complete(template: dict[str, Any]) -> None:
    for question in template["survey"]:
        assert {"question_name", "variable", "type", "required"} <= set(question), question
        assert question["type"] in {"text", "multiplechoice", "integer"}, question
        if question["type"] == "multiplechoice":
            assert question["choices"], question


def test_the_workflow_is_bake_gate_publish_rollout() -> None:
    nodes = WORKFLOW["nodes"]
    assert [n["identifier"] for n in nodes] == ["bake", "gate", "publish", "rollout"]
    assert [n["type"] for n in nodes[:2]] == ["workflow_approval", "workflow_approval"]
    jobs = [n for n in nodes if n["type"] == "job_template"]
    assert [BY_NAME[n["name"]]["playbook"] for n in jobs] == ["playbooks/publish_image.yml", "playbooks/rollout.yml"]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: s["name"])
def test_schedules_parse_and_run_existing_templates(schedule: dict[str, Any]) -> None:
    assert schedule["template"] in BY_NAME
    assert schedule["environment"] in DEFAULTS["awx_config_environments"]
    rule = rrulestr(schedule["rrule"])
    assert rule[0].tzinfo is not None, "DTSTART carries its zone (AWX requires TZID)"


def test_event_scaling_runs_daily_and_image_lifecycle_on_a_schedule() -> None:
    by_playbook: dict[str, list[str]] = {}
    for schedule in SCHEDULES:
        by_playbook.setdefault(BY_NAME[schedule["template"]]["playbook"], []).append(schedule["rrule"])
    assert by_playbook["playbooks/event_scaling.yml"]
    assert all("FREQ=DAILY" in r for r in by_playbook["playbooks/event_scaling.yml"])
    assert by_playbook["playbooks/image_lifecycle.yml"]


def test_a_bad_rrule_does_not_parse() -> None:
    with pytest.raises(ValueError, match="FREQ"):
        rrulestr("DTSTART;TZID=UTC:20270101T050000 RRULE:FREQ=DAYLY")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_inventory_variables_are_group_vars_all(env: str) -> None:
    """The import copies group_vars/all into the AWX inventory's variables: that must be all there is."""
    group_vars = REPO_ROOT / "inventories" / env / "group_vars"
    assert [p.name for p in group_vars.iterdir()] == ["all"]
    assert load(group_vars / "all" / "arena.yml")["arena_environment"] == env


def credential_type(name: str) -> dict[str, Any]:
    for task in load(ROLE / "tasks" / "organization.yml"):
        args = task.get("awx.awx.credential_type") or {}
        if args.get("name") == name:
            return args
    raise AssertionError(f"no credential type {name!r} in roles/awx_config/tasks/organization.yml")


def plugin_constants(path: str, *names: str) -> dict[str, Any]:
    """Module-level literal constants of a plugin file, read without importing it (importing an
    inventory plugin loads amazon.aws through Ansible's collection loader, which depends on what
    other tests of the process set up)."""
    tree = ast.parse((REPO_ROOT / path).read_text())
    found = {
        target.id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and target.id in names
    }
    assert set(found) == set(names), f"{path}: {sorted(set(names) - set(found))} not literal module constants"
    return found


def test_the_real_aws_credential_gives_the_guard_its_opt_in() -> None:
    """roles/aws_guard opens real AWS only with arena_allow_real_aws, a named profile and a region; the
    inventory source (inventory_plugins/arena_aws_ec2.py) reads the same opt-in from the environment
    too, as an inventory update gets no extra vars: the credential gives both, with the same values."""
    injectors = credential_type("arena real AWS opt-in")["injectors"]
    guard = (REPO_ROOT / "roles" / "aws_guard" / "defaults" / "main.yml").read_text()
    plugin = plugin_constants("inventory_plugins/arena_aws_ec2.py", "OPT_IN_VARS", "OPT_IN_ENV")
    assert set(injectors["extra_vars"]) == {"arena_allow_real_aws", "arena_aws_profile", "arena_aws_region"}
    assert set(injectors["extra_vars"]) == set(plugin["OPT_IN_VARS"])
    assert all(name in guard for name in injectors["extra_vars"])
    assert set(plugin["OPT_IN_ENV"]) == {"ARENA_ALLOW_REAL_AWS", "ARENA_AWS_PROFILE", "ARENA_AWS_REGION"}
    assert {name for name in injectors["env"] if name.startswith("ARENA_")} == set(plugin["OPT_IN_ENV"])
    # Each environment variable the value of its extra var (the plugin pairs them in that order).
    for var, env in zip(plugin["OPT_IN_VARS"], plugin["OPT_IN_ENV"], strict=True):
        assert injectors["env"][env] == injectors["extra_vars"][var], env
    assert injectors["env"]["AWS_SHARED_CREDENTIALS_FILE"] == "{% raw %}{{ tower.filename.credentials }}{% endraw %}"
    assert "{{ secret_access_key }}" in injectors["file"]["template.credentials"]
    fields = {f["id"]: f for f in credential_type("arena real AWS opt-in")["inputs"]["fields"]}
    assert fields["secret_access_key"]["secret"] and fields["session_token"]["secret"]


def test_the_emulator_credential_sets_the_endpoint_the_guard_reads() -> None:
    env = credential_type("arena AWS emulator endpoint")["injectors"]["env"]
    guard = (REPO_ROOT / "roles" / "aws_guard" / "defaults" / "main.yml").read_text()
    assert {"AWS_URL", "AWS_ENDPOINT_URL"} <= set(env)
    assert "'AWS_URL'" in guard and "'AWS_ENDPOINT_URL'" in guard


def test_defaults_and_argument_spec_hold_the_same_data() -> None:
    spec = load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    for name in ("awx_config_job_templates", "awx_config_workflow", "awx_config_schedules"):
        assert spec[name]["default"] == DEFAULTS[name], name


def run_playbook(*args: str, controller_host: str = "https://awx.example.invalid") -> subprocess.CompletedProcess[str]:
    env = base_env(keep_aws=False)
    env["CONTROLLER_HOST"] = controller_host
    return subprocess.run(
        [
            "ansible-playbook",
            str(REPO_ROOT / "playbooks" / "awx_config.yml"),
            "--tags",
            "awx_config_validate",
            "-e",
            "awx_config_project_scm_url=https://github.com/example/arena-infra.git",
            *args,
        ],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_validate_only_run_passes() -> None:
    result = run_playbook()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "failed=0" in result.stdout
    assert "awx.awx." not in result.stdout  # nothing but validation ran


def test_the_playbook_refuses_to_run_without_a_controller_host() -> None:
    result = run_playbook(controller_host="")
    assert result.returncode != 0
    assert "awx_config_controller_host is empty: set CONTROLLER_HOST" in result.stdout + result.stderr
