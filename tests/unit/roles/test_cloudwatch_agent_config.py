"""roles/cloudwatch_agent: the agent configuration each tier image bakes, completed as at boot by the role's
boot program, is a valid configuration of the CloudWatch agent (its own JSON schema, vendored in
tests/vendor/amazon-cloudwatch-agent/ from aws/amazon-cloudwatch-agent commit
ab55b8daa204e95c42c0267ee5aa49ec3b3a7317) that ships the tiers.yml logs to the tier's log groups and
publishes memory and disk usage with the Auto Scaling group dimension; the boot program refuses a
missing or bad setting with a message naming it; and the bake, the tier files and the boot unit are wired
to each other (the template and the unit rendered from the role as the bake renders them)."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from arena_contracts import REPO, TIERS, load_yaml, render, role_file, runtime_config_program, tier_facts
from jsonschema import Draft4Validator

ROLE = REPO / "roles" / "cloudwatch_agent"
SCHEMA = REPO / "tests" / "vendor" / "amazon-cloudwatch-agent" / "schema.json"
PROGRAM_FILE = ROLE / "files" / "arena_cloudwatch_agent_config.py"
OBSERVABILITY = tier_facts()["arena_observability"]
ROOT = OBSERVABILITY["log_group_root"]
# What roles/platform_monitoring publishes under /arena/<env>/monitoring/ for staging.
SETTINGS = {
    "LOG_GROUP_PREFIX": f"{ROOT}/staging",
    "METRICS_NAMESPACE": "Arena/Instances",
    "METRICS_INTERVAL_SECONDS": "60",
}


@functools.cache
def program() -> ModuleType:
    """The boot program, imported from the role's file (registered first, as dataclasses and pickling need)."""
    name = "arena_cloudwatch_agent_config_under_test"
    spec = importlib.util.spec_from_file_location(name, PROGRAM_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def role_variables(tier: str) -> dict[str, Any]:
    """The role's variables as the bake sees them (playbooks/bake.yml passes cloudwatch_agent_tier)."""
    variables: dict[str, Any] = {**role_file("cloudwatch_agent", "defaults"), **role_file("cloudwatch_agent", "vars")}
    variables.update(role_path=str(ROLE), ansible_search_path=[str(ROLE)], cloudwatch_agent_tier=tier)
    return variables


@functools.cache
def baked_text(tier: str) -> str:
    """The template file the tier's image carries (/etc/arena/cloudwatch-agent.template.json)."""
    return render("{{ lookup('ansible.builtin.template', 'amazon-cloudwatch-agent.json.j2') }}", role_variables(tier))


@functools.cache
def unit_text(tier: str) -> str:
    return render(
        "{{ lookup('ansible.builtin.template', 'arena-cloudwatch-agent-config.service.j2') }}", role_variables(tier)
    )


def write_settings(path: Path, values: dict[str, str]) -> Path:
    """The settings file as roles/runtime_config writes it (its own renderer: quoting included)."""
    path.write_text(runtime_config_program().render_env(values, "/arena/staging/monitoring/"), encoding="utf-8")
    return path


def boot(tmp_path: Path, tier: str, values: dict[str, str]) -> tuple[int, Path]:
    """Run the boot program as the unit does, on temp files; returns (exit code, output path)."""
    template = tmp_path / "template.json"
    template.write_text(baked_text(tier), encoding="utf-8")
    settings = write_settings(tmp_path / "monitoring.env", values)
    output = tmp_path / "run" / "amazon-cloudwatch-agent.json"
    output.parent.mkdir(exist_ok=True)
    argv = ["--template", str(template), "--settings", str(settings), "--output", str(output)]
    return program().main([*argv, "--log-group-root", ROOT]), output


@functools.cache
def validator() -> Draft4Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema)


def rendered(tier: str, tmp_path: Path) -> dict[str, Any]:
    rc, output = boot(tmp_path, tier, SETTINGS)
    assert rc == 0
    return json.loads(output.read_text(encoding="utf-8"))


# ---- the configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize("tier", TIERS)
def test_rendered_config_validates_against_the_agents_schema(tier: str, tmp_path: Path) -> None:
    config = rendered(tier, tmp_path)
    errors = sorted(validator().iter_errors(config), key=lambda e: list(e.absolute_path))
    assert [f"{list(e.absolute_path)}: {e.message}" for e in errors] == []
    assert "comment" not in config
    assert "@" not in json.dumps(config).replace("${aws:", "")  # every placeholder filled in


def test_the_schema_refuses_what_the_agent_refuses(tmp_path: Path) -> None:
    """The vendored schema is the one that knows journald, and it is strict where it matters."""
    config = rendered("web", tmp_path)
    config["logs"]["logs_collected"]["journald"]["collect_list"][0]["unit"] = "nginx"  # the field is "units"
    assert not validator().is_valid(config)
    config = rendered("web", tmp_path)
    config["metrics"]["metrics_collected"]["mem"] = {}  # measurement is required
    assert not validator().is_valid(config)


@pytest.mark.parametrize("tier", TIERS)
def test_logs_go_to_the_tiers_own_groups(tier: str, tmp_path: Path) -> None:
    logs = rendered(tier, tmp_path)["logs"]
    group = f"{ROOT}/staging/{tier}"
    assert logs["logs_collected"]["journald"] == {
        "collect_list": [{"log_group_name": f"{group}/journal", "log_stream_name": "{instance_id}", "priority": "info"}]
    }
    assert logs["logs_collected"]["files"] == {
        "collect_list": [
            {
                "file_path": OBSERVABILITY["logs"]["nginx-access"]["path"],
                "log_group_name": f"{group}/nginx-access",
                "log_stream_name": "{instance_id}",
            },
            {
                "file_path": OBSERVABILITY["logs"]["nginx-error"]["path"],
                "log_group_name": f"{group}/nginx-error",
                "log_stream_name": "{instance_id}",
            },
        ]
    }
    # The platform sets each group's retention: the agent must not (it would call PutRetentionPolicy).
    assert "retention_in_days" not in json.dumps(logs)


@pytest.mark.parametrize("tier", TIERS)
def test_metrics_carry_the_auto_scaling_group(tier: str, tmp_path: Path) -> None:
    config = rendered(tier, tmp_path)
    metrics = config["metrics"]
    assert metrics["namespace"] == "Arena/Instances"
    assert metrics["append_dimensions"]["AutoScalingGroupName"] == "${aws:AutoScalingGroupName}"
    assert metrics["aggregation_dimensions"] == [["AutoScalingGroupName"]]
    assert metrics["metrics_collected"]["mem"] == {"measurement": ["mem_used_percent"]}
    disk = metrics["metrics_collected"]["disk"]
    assert (disk["measurement"], disk["resources"]) == (["disk_used_percent"], ["/"])
    assert config["agent"]["metrics_collection_interval"] == 60  # an integer, as the schema wants


@pytest.mark.parametrize("tier", TIERS)
def test_nothing_environment_specific_is_baked(tier: str, tmp_path: Path) -> None:
    baked = json.loads(baked_text(tier))
    groups = program().log_group_names(baked)
    assert sorted(groups) == sorted(f"@LOG_GROUP_PREFIX@/{tier}/{name}" for name in OBSERVABILITY["logs"])
    assert baked["metrics"]["namespace"] == "@METRICS_NAMESPACE@"
    assert baked["agent"]["metrics_collection_interval"] == "@METRICS_INTERVAL_SECONDS@"
    assert not re.search(r"staging|production|Arena/Instances", baked_text(tier))
    # The bake's own check of the template (the template task's validate) accepts it.
    (tmp_path / "t.json").write_text(baked_text(tier), encoding="utf-8")
    assert program().main(["--check-template", str(tmp_path / "t.json")]) == 0


# ---- the boot program ----------------------------------------------------------------------------


def test_boot_writes_the_configuration_atomically_0640(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old_umask = os.umask(0)
    try:
        rc, output = boot(tmp_path, "api", SETTINGS)
    finally:
        os.umask(old_umask)
    assert rc == 0
    assert stat.S_IMODE(output.stat().st_mode) == 0o640
    assert sorted(p.name for p in output.parent.iterdir()) == [output.name]  # no temporary file left
    groups = ", ".join(f"{ROOT}/staging/api/{name}" for name in ("journal", "nginx-access", "nginx-error"))
    assert capsys.readouterr().err == (
        f"arena-cloudwatch-agent-config: {output} written: logs to {groups}; metrics to Arena/Instances every 60 s\n"
    )


def test_settings_quoted_by_the_runtime_configuration_are_read_back(tmp_path: Path) -> None:
    """roles/runtime_config double-quotes a value outside its safe set (a space here): the same value."""
    rc, output = boot(tmp_path, "web", {**SETTINGS, "METRICS_NAMESPACE": 'Arena "Event" Instances'})
    assert rc == 0
    assert json.loads(output.read_text())["metrics"]["namespace"] == 'Arena "Event" Instances'


MISSING = "{settings}: missing {keys} (SSM parameters under <prefix>/<environment>/monitoring/)"


@pytest.mark.parametrize("key", ["LOG_GROUP_PREFIX", "METRICS_NAMESPACE", "METRICS_INTERVAL_SECONDS"])
def test_a_missing_key_is_refused_by_name(key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "run" / "amazon-cloudwatch-agent.json"
    stale.parent.mkdir()
    stale.write_text("{}")  # a configuration of an earlier boot
    rc, output = boot(tmp_path, "web", {k: v for k, v in SETTINGS.items() if k != key})
    assert rc == 1
    assert not output.exists()
    message = MISSING.format(settings=tmp_path / "monitoring.env", keys=key)
    assert capsys.readouterr().err == (
        f"arena-cloudwatch-agent-config: {message}; {output} removed, the CloudWatch agent is not started\n"
    )


PREFIX_MESSAGE = (
    "LOG_GROUP_PREFIX must be /arena/<environment> (e.g. /arena/staging; the instance role may write only the "
    "log groups below it), got {value!r}"
)
NAMESPACE_MESSAGE = (
    "METRICS_NAMESPACE must be 1-255 printable ASCII characters, not beginning with ':' or 'AWS/', got {value!r}"
)
INTERVAL_MESSAGE = (
    "METRICS_INTERVAL_SECONDS must be 1, 5, 10, 30 or a multiple of 60 up to 172800 (seconds), got {value!r}"
)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("LOG_GROUP_PREFIX", "/other/staging", PREFIX_MESSAGE),
        ("LOG_GROUP_PREFIX", "/arena", PREFIX_MESSAGE),
        ("LOG_GROUP_PREFIX", "/arena/Staging", PREFIX_MESSAGE),
        ("LOG_GROUP_PREFIX", "/arena/staging/web", PREFIX_MESSAGE),
        ("LOG_GROUP_PREFIX", "/arenastaging", PREFIX_MESSAGE),
        ("METRICS_NAMESPACE", "AWS/EC2", NAMESPACE_MESSAGE),
        ("METRICS_NAMESPACE", ":Arena", NAMESPACE_MESSAGE),
        ("METRICS_NAMESPACE", "Arena/Instances\u00e9", NAMESPACE_MESSAGE),
        ("METRICS_NAMESPACE", "x" * 256, NAMESPACE_MESSAGE),
        ("METRICS_INTERVAL_SECONDS", "45", INTERVAL_MESSAGE),
        ("METRICS_INTERVAL_SECONDS", "0", INTERVAL_MESSAGE),
        ("METRICS_INTERVAL_SECONDS", "-60", INTERVAL_MESSAGE),
        ("METRICS_INTERVAL_SECONDS", "sixty", INTERVAL_MESSAGE),
        ("METRICS_INTERVAL_SECONDS", "172860", INTERVAL_MESSAGE),
    ],
)
def test_a_bad_value_is_refused_by_name(
    key: str, value: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, output = boot(tmp_path, "admin", {**SETTINGS, key: value})
    assert rc == 1
    assert not output.exists()
    err = capsys.readouterr().err
    assert err == (
        f"arena-cloudwatch-agent-config: {tmp_path / 'monitoring.env'}: {message.format(value=value)}; "
        f"{output} removed, the CloudWatch agent is not started\n"
    )


@pytest.mark.parametrize("interval", ["1", "5", "10", "30", "60", "300", "172800"])
def test_intervals_an_alarm_can_evaluate_are_accepted(interval: str, tmp_path: Path) -> None:
    rc, output = boot(tmp_path, "web", {**SETTINGS, "METRICS_INTERVAL_SECONDS": interval})
    assert rc == 0
    assert json.loads(output.read_text())["agent"]["metrics_collection_interval"] == int(interval)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("LOG_GROUP_PREFIX /arena/staging\n", "{path}:1: not a KEY=value line"),
        ("METRICS_NAMESPACE=a\nMETRICS_NAMESPACE=b\n", "{path}:2: METRICS_NAMESPACE is set twice"),
    ],
)
def test_a_malformed_settings_file_is_refused(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "monitoring.env"
    path.write_text(text)
    with pytest.raises(program().Refused, match=f"^{re.escape(message.format(path=path))}$"):
        program().read_settings(str(path))


def test_no_settings_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = tmp_path / "template.json"
    template.write_text(baked_text("web"))
    missing = tmp_path / "monitoring.env"
    argv = ["--template", str(template), "--settings", str(missing), "--output", str(tmp_path / "out.json")]
    assert program().main([*argv, "--log-group-root", ROOT]) == 1
    assert capsys.readouterr().err.startswith(
        f"arena-cloudwatch-agent-config: cannot read the monitoring settings {missing} (No such file or directory); "
        "arena-runtime-config.service writes them at boot from SSM <prefix>/<environment>/monitoring/;"
    )


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            '{"metrics": {"namespace": "@METRICS_NAMESPACES@"}}',
            "template .metrics.namespace: unknown placeholder(s) @METRICS_NAMESPACES@",
        ),
        (
            '{"logs": {"x": [{"log_group_name": "@LOG_GROUP_PREFIX@/web/a b"}]}}',
            "log group name(s) ['/check/sample/web/a b']",
        ),
        ("{not json", "cannot read the template"),
        ("[]", "not a JSON object"),
    ],
)
def test_the_bake_check_refuses_a_bad_template(
    template: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "t.json"
    path.write_text(template)
    assert program().main(["--check-template", str(path)]) == 1
    assert message in capsys.readouterr().err


def test_runs_as_the_unit_runs_it(tmp_path: Path) -> None:
    """The file itself, started by python3 as ExecStart does: exit 1 and the key named on stderr."""
    template = tmp_path / "template.json"
    template.write_text(baked_text("web"))
    settings = write_settings(tmp_path / "monitoring.env", {"LOG_GROUP_PREFIX": f"{ROOT}/staging"})
    argv = ["--template", template, "--settings", settings, "--output", tmp_path / "o.json", "--log-group-root", ROOT]
    result = subprocess.run(
        [sys.executable, PROGRAM_FILE, *argv], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert "missing METRICS_NAMESPACE, METRICS_INTERVAL_SECONDS" in result.stderr


# ---- the wiring: boot unit, tier files, bake -------------------------------------------------------


def unit_settings(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


@pytest.mark.parametrize("tier", TIERS)
def test_the_boot_unit_runs_the_program_on_the_baked_files(tier: str, tmp_path: Path) -> None:
    unit = unit_settings(unit_text(tier))
    variables = role_variables(tier)
    ctl = render("{{ __cloudwatch_agent_ctl }}", variables)
    assert unit["Requires"] == unit["After"] == ["arena-runtime-config.service"]
    assert unit["Wants"] == unit["Before"] == ["amazon-cloudwatch-agent.service"]
    assert unit["ConditionPathExists"] == [ctl]
    render_line, apply_line = unit["ExecStart"]
    argv = shlex.split(render_line)
    assert argv[:2] == ["/usr/bin/python3", render("{{ __cloudwatch_agent_program }}", variables)]
    options = dict(zip(argv[2::2], argv[3::2], strict=True))
    assert options == {
        "--template": render("{{ __cloudwatch_agent_template }}", variables),
        "--settings": f"{tier_facts()['arena_runtime']['env_dir']}/{OBSERVABILITY['settings_name']}.env",
        "--output": render("{{ __cloudwatch_agent_rendered }}", variables),
        "--log-group-root": ROOT,
    }
    assert options["--output"].startswith(f"/run/{unit['RuntimeDirectory'][0]}/")
    assert shlex.split(apply_line) == [ctl, "-a", "fetch-config", "-m", "ec2", "-c", f"file:{options['--output']}"]
    # The program accepts exactly these options (on temp files).
    template = tmp_path / "t.json"
    template.write_text(baked_text(tier))
    settings = write_settings(tmp_path / "m.env", SETTINGS)
    swapped = {**options, "--template": str(template), "--settings": str(settings), "--output": str(tmp_path / "o")}
    assert program().main([x for pair in swapped.items() for x in pair]) == 0


def test_the_agent_requires_the_boot_unit() -> None:
    dropin = render(
        "{{ lookup('ansible.builtin.template', 'amazon-cloudwatch-agent-arena.conf.j2') }}", role_variables("web")
    )
    unit = unit_settings(dropin)
    assert unit["Requires"] == unit["After"] == unit["PartOf"] == ["arena-cloudwatch-agent-config.service"]


@pytest.mark.parametrize("tier", TIERS)
def test_every_tier_reads_the_settings_the_program_requires(tier: str) -> None:
    """packer/tiers/<tier>.yml: runtime_config fetches `monitoring` with exactly the keys the boot program
    requires (runtime_config fails the first boot without them), into the file the unit reads; and
    runtime_config, whose unit the boot unit requires, is baked."""
    data = yaml.safe_load((REPO / "packer" / "tiers" / f"{tier}.yml").read_text())
    entry = next(t for t in data["runtime_config_tiers"] if t["name"] == OBSERVABILITY["settings_name"])
    assert entry["group"] == "root"
    assert tuple(entry["required_keys"]) == program().REQUIRED_KEYS
    assert "runtime_config" in data["bake_roles"]
    output_dir = render(
        "{{ runtime_config_output_dir }}",
        {
            **role_file("runtime_config", "defaults"),
            **role_file("runtime_config", "vars"),
            "role_path": str(REPO / "roles" / "runtime_config"),
        },
    )
    assert render("{{ cloudwatch_agent_settings_file }}", role_variables(tier)) == f"{output_dir}/monitoring.env"


def test_the_bake_applies_the_role_to_every_tier_after_its_roles() -> None:
    play = load_yaml(REPO / "playbooks" / "bake.yml")[0]
    names = [t["name"] for t in play["tasks"]]
    task = next(
        t for t in play["tasks"] if (t.get("ansible.builtin.include_role") or {}).get("name") == "cloudwatch_agent"
    )
    assert (
        names.index("Bake | Apply the tier's roles")
        < names.index(task["name"])
        < names.index("Bake | Clean and verify the image")
    )
    assert task["vars"] == {"cloudwatch_agent_tier": "{{ bake_tier }}"}
    assert task["when"] == "__bake_converges | bool"


# ---- the tier roles' nginx writes where tiers.yml says -------------------------------------------

NGINX_TEMPLATE = {
    "web": "roles/web/templates/nginx.conf.j2",
    "api": "roles/api/templates/nginx.conf.j2",
    "admin": "roles/admin/templates/nginx.conf.j2",
}


def nginx_log_paths(tier: str) -> dict[str, str]:
    """The access and error log paths of the tier role's nginx.conf (their variables resolved)."""
    text = (REPO / NGINX_TEMPLATE[tier]).read_text()
    variables = {**role_file(tier, "defaults"), **role_file(tier, "vars"), "role_path": str(REPO / "roles" / tier)}
    found = {}
    for kind in ("access", "error"):
        match = re.search(rf"^\s*{kind}_log\s+(\{{\{{.*?\}}\}}|\S+)", text, re.MULTILINE)
        assert match, f"{NGINX_TEMPLATE[tier]}: no {kind}_log"
        found[f"nginx-{kind}"] = render(match[1], variables)
    return found


@pytest.mark.parametrize("tier", TIERS)
def test_the_shipped_nginx_files_are_the_ones_nginx_writes(tier: str) -> None:
    shipped = {name: log["path"] for name, log in OBSERVABILITY["logs"].items() if log["source"] == "file"}
    assert nginx_log_paths(tier) == shipped
