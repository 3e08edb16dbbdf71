"""scripts/image_gate.py: what the gate seeds for each runtime tier of an image, which listeners it
refuses, and how it reads Lynis (in the container and as on an instance)."""

from __future__ import annotations

import importlib.util
import io
import sys
import types

import pytest
import yaml
from arena_contracts import ENVIRONMENTS, platform_variables, render
from arena_testlib import REPO_ROOT

SPEC = importlib.util.spec_from_file_location("arena_image_gate", REPO_ROOT / "scripts" / "image_gate.py")
gate = importlib.util.module_from_spec(SPEC)
sys.modules["arena_image_gate"] = gate
SPEC.loader.exec_module(gate)

SECRETS = {
    "redis_host": "10.0.2.2",
    "redis_port": "40123",
    "redis_token": "t0ken",
    "smtp_password": "smtp-pw",
    "admin_htpasswd": "gate:$2b$05$" + "x" * 53,
}
LAB = gate.lab_values(SECRETS, "gate")


def tier_file(tier: str) -> dict:
    return yaml.safe_load((REPO_ROOT / "packer" / "tiers" / f"{tier}.yml").read_text())


@pytest.mark.parametrize(
    ("tier", "runtime_tiers"),
    [
        ("web", ["web", "monitoring"]),
        ("api", ["api", "mail", "monitoring"]),
        ("admin", ["admin", "mail", "monitoring"]),
    ],
)
def test_every_runtime_tier_of_the_real_tier_files_is_seeded(tier: str, runtime_tiers: list[str]) -> None:
    seeded = gate.runtime_parameters(tier_file(tier), LAB, "m-1")
    assert list(seeded) == runtime_tiers
    for name in runtime_tiers:
        assert seeded[name]["GATE_MARKER"] == "m-1"
        entry = next(e for e in tier_file(tier)["runtime_config_tiers"] if e["name"] == name)
        assert set(entry["required_keys"]) <= set(seeded[name])


def test_api_reaches_the_gate_redis_and_admin_gets_a_login() -> None:
    seeded = gate.runtime_parameters(tier_file("api"), LAB, "m")
    assert seeded["api"] == {
        "GATE_MARKER": "m",
        "REDIS_HOST": "10.0.2.2",
        "REDIS_PORT": "40123",
        "REDIS_TLS": "false",
        "REDIS_AUTH_TOKEN": "t0ken",
    }
    assert seeded["mail"]["SMTP_PASSWORD"] == "smtp-pw"
    admin = gate.runtime_parameters(tier_file("admin"), LAB, "m")
    assert admin["admin"]["ADMIN_HTPASSWD"] == SECRETS["admin_htpasswd"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_agent_settings_are_the_ones_platform_monitoring_writes(environment: str) -> None:
    # roles/platform_monitoring's settings as a platform run renders them for the inventory
    # (tiers.yml arena_observability and the role's interval), under their SSM names upper-cased.
    written = render("{{ __platform_monitoring_settings }}", platform_variables(environment))
    assert gate.monitoring_settings(environment) == {name.upper(): str(value) for name, value in written.items()}


def test_every_first_boot_gets_the_agent_settings_as_the_platform_writes_them(monkeypatch) -> None:
    # The gate's value replaces the platform's parameter (same lower-case name, same type) in the lab.
    written: dict[str, tuple[str, str]] = {}

    class FakeSsm:
        def put_parameter(self, *, Name: str, Value: str, Type: str, Overwrite: bool) -> None:
            assert Overwrite
            written[Name] = (Value, Type)

    boto3 = types.ModuleType("boto3")
    boto3.client = lambda *_args, **_kwargs: FakeSsm()
    monkeypatch.setitem(sys.modules, "boto3", boto3)
    monkeypatch.setattr(gate, "bcrypt_line", lambda user, _password: f"{user}:hash")
    monkeypatch.setenv("AWS_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    for name in ("GATE_REDIS_HOST", "GATE_REDIS_PORT", "GATE_REDIS_TOKEN", "GATE_SMTP_PASSWORD", "GATE_ADMIN_PASSWORD"):
        monkeypatch.setenv(name, "1")
    for tier in ("web", "api", "admin"):
        written.clear()
        assert gate.main(["image_gate.py", "seed", tier, "staging", "m"]) == 0
        monitoring = {name: put for name, put in written.items() if name.startswith("/arena/staging/monitoring/")}
        assert monitoring == {
            "/arena/staging/monitoring/GATE_MARKER": ("m", "SecureString"),
            "/arena/staging/monitoring/log_group_prefix": ("/arena/staging", "String"),
            "/arena/staging/monitoring/metrics_namespace": ("Arena/Instances", "String"),
            "/arena/staging/monitoring/metrics_interval_seconds": ("60", "String"),
        }


def test_a_required_key_without_a_lab_value_is_refused_by_name() -> None:
    data = {"runtime_config_tiers": [{"name": "api", "required_keys": ["REDIS_HOST", "QUEUE_URL", "QUEUE_TOKEN"]}]}
    with pytest.raises(gate.GateError) as err:
        gate.runtime_parameters(data, LAB, "m")
    assert str(err.value) == (
        "runtime tier 'api' requires QUEUE_URL, QUEUE_TOKEN, which the gate has no lab value for "
        "(scripts/image_gate.py lab_values)"
    )


def test_an_image_without_runtime_tiers_is_refused() -> None:
    with pytest.raises(gate.GateError, match=r"^runtime_config_tiers is empty"):
        gate.runtime_parameters({"runtime_config_tiers": []}, LAB, "m")


def test_bcrypt_line_is_what_the_admin_boot_step_accepts() -> None:
    line = gate.bcrypt_line("gate", "pw")
    user, hashed = line.split(":", 1)
    assert user == "gate"
    assert hashed.startswith("$2b$05$") and len(hashed) == 60


SS = """\
udp UNCONN 0 0 127.0.0.1:323 0.0.0.0:*
udp UNCONN 0 0 [::1]:323 [::]:*
udp UNCONN 0 0 127.0.0.53%lo:53 0.0.0.0:*
tcp LISTEN 0 4096 0.0.0.0:80 0.0.0.0:*
tcp LISTEN 0 4096 [::]:80 [::]:*
tcp LISTEN 0 100 127.0.0.1:25 0.0.0.0:*
tcp LISTEN 0 100 [::1]:25 [::]:*
tcp LISTEN 0 128 127.0.0.1:8000 0.0.0.0:*
"""


def test_loopback_listeners_do_not_count() -> None:
    assert gate.listening_ports(SS) == ["80"]
    assert gate.unexpected(gate.listening_ports(SS), [80]) == []


@pytest.mark.parametrize(
    ("extra", "listening", "bad"),
    [
        ("tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:*", ["22", "80"], ["22"]),
        ("tcp LISTEN 0 128 *:6379 *:*", ["80", "6379"], ["6379"]),
        ("udp UNCONN 0 0 0.0.0.0:123 0.0.0.0:*", ["80", "udp/123"], ["udp/123"]),
        ("udp UNCONN 0 0 [::]:80 [::]:*", ["80", "udp/80"], ["udp/80"]),
        ("tcp LISTEN 0 128 10.0.2.100%eth0:9100 0.0.0.0:*", ["80", "9100"], ["9100"]),
    ],
)
def test_other_listeners_are_unexpected(extra: str, listening: list[str], bad: list[str]) -> None:
    found = gate.listening_ports(SS + extra + "\n")
    assert found == listening
    assert gate.unexpected(found, [80]) == bad


def test_ports_command_exit_status(monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(SS + "tcp LISTEN 0 1 0.0.0.0:22 0.0.0.0:*\n"))
    assert gate.main(["image_gate.py", "ports", "80"]) == 1
    assert capsys.readouterr().out.strip() == "22,80 22"
    monkeypatch.setattr(sys, "stdin", io.StringIO(SS))
    assert gate.main(["image_gate.py", "ports", "80"]) == 0
    assert capsys.readouterr().out.strip() == "80 -"


LOG = "\n".join(
    [
        "Result: sysctl key kernel.kptr_restrict has a different value than expected in scan profile. "
        "Expected=2, Real=0",
        "Result: sysctl key kernel.sysrq has a different value than expected in scan profile. Expected=0, Real=1",
        "Hardening: assigned maximum (1). Currently having 187 points (out of 235)",
    ]
)


def test_lynis_indexes_in_the_container_and_as_on_an_instance() -> None:
    # kernel.sysrq is not set by the image: it stays lost; kernel.kptr_restrict is re-counted.
    assert gate.lynis_indexes(LOG, "hardening_index=79\n", "kernel.kptr_restrict = 2\n") == (
        79,
        80,
        ["kernel.kptr_restrict"],
    )


@pytest.mark.parametrize(
    ("log", "report", "message"),
    [
        (LOG, "lynis_version=3.0.8\n", "no hardening_index in the Lynis report"),
        ("nothing", "hardening_index=79\n", "Lynis log: no hardening points in the Lynis log"),
    ],
)
def test_lynis_without_figures_is_an_error(log: str, report: str, message: str) -> None:
    with pytest.raises(gate.GateError) as err:
        gate.lynis_indexes(log, report, "")
    assert str(err.value) == message


def test_seed_refuses_to_run_without_the_emulator(monkeypatch, capsys) -> None:
    monkeypatch.delenv("AWS_URL", raising=False)
    assert gate.main(["image_gate.py", "seed", "web", "gate", "m"]) == 2
    assert capsys.readouterr().err.strip() == (
        "image_gate.py: AWS_URL is unset: seed only the emulator (run through scripts/with-emulator.sh)"
    )


def test_seed_names_the_lab_values_it_lacks(monkeypatch, capsys) -> None:
    monkeypatch.setenv("AWS_URL", "http://127.0.0.1:9")
    for name in ("GATE_REDIS_HOST", "GATE_REDIS_PORT", "GATE_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GATE_REDIS_TOKEN", "t")
    monkeypatch.setenv("GATE_ADMIN_PASSWORD", "p")
    assert gate.main(["image_gate.py", "seed", "api", "gate", "m"]) == 2
    assert capsys.readouterr().err.strip() == (
        "image_gate.py: unset: GATE_REDIS_HOST, GATE_REDIS_PORT, GATE_SMTP_PASSWORD (scripts/images-lab.sh sets them)"
    )


def test_lost_points_per_test_most_first() -> None:
    log = "\n".join(
        [
            "2026-11-27 00:00:01 Performing test ID KRNL-6000 (Check sysctl key pairs in scan profile)",
            "2026-11-27 00:00:01 Hardening: assigned partial number of hardening points (0 of 1). Currently ...",
            "2026-11-27 00:00:01 Hardening: assigned partial number of hardening points (0 of 1). Currently ...",
            "2026-11-27 00:00:02 Performing test ID HTTP-6710 (Check nginx SSL configuration settings)",
            "2026-11-27 00:00:02 Hardening: assigned partial number of hardening points (1 of 5). Currently ...",
            "2026-11-27 00:00:03 Performing test ID HTTP-6716 (Check for debug mode on error log in nginx)",
            "2026-11-27 00:00:03 Hardening: assigned maximum number of hardening points for this item (3). ...",
            "2026-11-27 00:00:04 Performing test ID ACCT-9628 (Check for auditd)",
            "2026-11-27 00:00:04 Hardening: assigned partial number of hardening points (0 of 1). Currently ...",
        ]
    )
    assert gate.lost_points(log) == [("HTTP-6710", 4), ("KRNL-6000", 2), ("ACCT-9628", 1)]
