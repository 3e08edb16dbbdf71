"""Static checks of the real Packer templates (packer/*.pkr.hcl), parsed with python-hcl2.

Every amazon-ebs source must keep the image's security posture: IMDSv2 only, an encrypted gp3 root
with a KMS key, never public or shared, reached through SSM Session Manager (no SSH port), an
official Debian source AMI with a pinned owner. The real files are modern Packer; the derived
1.6.6 view (scripts/packer-validate.sh) is checked separately.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKER = ROOT / "packer"
TEMPLATES = sorted(PACKER.glob("*.pkr.hcl"))
DEBIAN_OWNER = "136693071363"


def unquote(value: Any) -> Any:
    """python-hcl2 keeps the quotes of string literals: '"gp3"' -> 'gp3'."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@cache
def parsed() -> dict[str, list[Any]]:
    blocks: dict[str, list[Any]] = {}
    for path in TEMPLATES:
        with path.open() as handle:
            for key, value in hcl2.load(handle).items():
                blocks.setdefault(key, []).extend(value)
    return blocks


def sources(kind: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for block in parsed().get("source", []):
        for source_type, named in block.items():
            if unquote(source_type) != kind:
                continue
            for name, body in named.items():
                found.append((unquote(name), body))
    return found


def variables() -> dict[str, dict[str, Any]]:
    return {unquote(name): body for block in parsed()["variable"] for name, body in block.items()}


def only_block(body: dict[str, Any], key: str) -> dict[str, Any]:
    blocks = body.get(key)
    assert isinstance(blocks, list) and len(blocks) == 1, f"{key}: expected exactly one block, got {blocks!r}"
    return blocks[0]


AMAZON = sources("amazon-ebs")
AMAZON_IDS = [name for name, _ in AMAZON]


def test_templates_are_one_file_per_block_type() -> None:
    names = {path.name for path in TEMPLATES}
    assert {"plugins.pkr.hcl", "variables.pkr.hcl", "sources.pkr.hcl", "builds.pkr.hcl"} <= names
    assert AMAZON, "no amazon-ebs source found: the parsing is broken"


@pytest.mark.parametrize(("name", "body"), AMAZON, ids=AMAZON_IDS)
def test_imdsv2_only(name: str, body: dict[str, Any]) -> None:
    assert unquote(body.get("imds_support")) == "v2.0", f"{name}: imds_support must be v2.0"
    options = only_block(body, "metadata_options")
    assert unquote(options.get("http_tokens")) == "required", f"{name}: metadata_options.http_tokens"
    assert options.get("http_put_response_hop_limit") == 1, f"{name}: hop limit must be 1"


@pytest.mark.parametrize(("name", "body"), AMAZON, ids=AMAZON_IDS)
def test_root_volume_encrypted_gp3_with_kms_key(name: str, body: dict[str, Any]) -> None:
    assert body.get("encrypt_boot") is True, f"{name}: encrypt_boot"
    assert body.get("kms_key_id") == "${var.kms_key_id}", f"{name}: kms_key_id must be the variable"
    mappings = body.get("launch_block_device_mappings") or []
    assert mappings, f"{name}: no launch_block_device_mappings"
    for mapping in mappings:
        assert mapping.get("encrypted") is True, f"{name}: {mapping.get('device_name')} not encrypted"
        assert unquote(mapping.get("volume_type")) == "gp3", f"{name}: volume_type"
        assert mapping.get("kms_key_id") == "${var.kms_key_id}", f"{name}: block device kms_key_id"


@pytest.mark.parametrize(("name", "body"), AMAZON, ids=AMAZON_IDS)
def test_never_public_nor_shared(name: str, body: dict[str, Any]) -> None:
    for key in ("ami_groups", "ami_users", "snapshot_groups", "snapshot_users"):
        assert body.get(key) == [], f"{name}: {key} must be an explicit empty list"
    assert "ami_org_arns" not in body and "ami_ou_arns" not in body, f"{name}: shared with an organisation"


@pytest.mark.parametrize(("name", "body"), AMAZON, ids=AMAZON_IDS)
def test_session_manager_without_ssh_port(name: str, body: dict[str, Any]) -> None:
    assert unquote(body.get("ssh_interface")) == "session_manager", f"{name}: ssh_interface"
    assert body.get("temporary_iam_instance_profile_policy_document") or body.get("iam_instance_profile"), (
        f"{name}: session manager needs an instance profile"
    )
    for key in ("temporary_security_group_source_cidrs", "temporary_security_group_source_public_ip", "ssh_port"):
        assert key not in body, f"{name}: {key} would open SSH"
    assert body.get("associate_public_ip_address") in (None, False), f"{name}: public IP"


@pytest.mark.parametrize(("name", "body"), AMAZON, ids=AMAZON_IDS)
def test_official_debian_source_with_pinned_owner(name: str, body: dict[str, Any]) -> None:
    ami_filter = only_block(body, "source_ami_filter")
    assert ami_filter.get("most_recent") is True
    assert ami_filter.get("owners") == ["${var.source_ami_owner}"], f"{name}: owner must be the variable"
    owner = variables()["source_ami_owner"]
    assert unquote(owner["default"]) == DEBIAN_OWNER
    assert "source_ami" not in body, f"{name}: a fixed source_ami bypasses the filter"


@pytest.mark.parametrize(("name", "body"), AMAZON, ids=AMAZON_IDS)
def test_spot_build_deprecation_and_tags(name: str, body: dict[str, Any]) -> None:
    assert body.get("spot_instance_types") == "${var.spot_instance_types}"
    assert body.get("deprecate_at"), f"{name}: deprecate_at"
    assert body.get("ami_regions") == "${var.ami_regions}"
    for key in ("tags", "snapshot_tags"):
        assert "local.image_tags" in body[key] and "SourceAmi" in body[key], f"{name}: {key}"
    locals_ = {k: v for block in parsed()["locals"] for k, v in block.items()}
    for tag in ("Project", "Tier", "GitSha", "BuildTime", "RoleVersions"):
        assert tag in locals_["image_tags"], f"image_tags lacks {tag}"


def test_every_variable_is_typed_and_described() -> None:
    for name, body in variables().items():
        assert body.get("type"), f"variable {name} has no type"
        assert len(unquote(body.get("description", ""))) > 10, f"variable {name} has no description"


def test_one_build_runs_the_same_provisioners_for_every_source() -> None:
    """playbooks/bake.yml in three phases on the same machine, for the AMI and the local image alike:
    converge, the idempotence pass through scripts/bake-idempotence.sh (fails unless changed=0),
    finish (cleanup + AIDE baseline)."""
    (build,) = parsed()["build"]
    declared = {f"source.{kind}.{name}" for kind in ("amazon-ebs", "docker") for name, _ in sources(kind)}
    assert {unquote(s) for s in build["sources"]} == declared
    provisioners = [p['"ansible"'] for p in build["provisioner"]]
    phases = []
    for ansible in provisioners:
        assert unquote(ansible["playbook_file"]) == "${path.root}/../playbooks/bake.yml"
        assert ansible["use_proxy"] is False
        assert "only" not in ansible and "except" not in ansible, "every provisioner must run for every source"
        (phase,) = re.findall(r"bake_phase=(\w+)", str(ansible["extra_arguments"]))
        local = ansible["override"]["local"]
        assert re.findall(r"bake_phase=(\w+)", str(local["extra_arguments"])) == [phase], "local override: same phase"
        phases.append((phase, unquote(ansible.get("command", "ansible-playbook"))))
    assert phases == [
        ("converge", "ansible-playbook"),
        ("idempotence", "${path.root}/../scripts/bake-idempotence.sh"),
        ("finish", "ansible-playbook"),
    ]


def test_local_source_commits_with_init_entrypoint() -> None:
    ((_name, body),) = sources("docker")
    assert body["pull"] is False and body["commit"] is True
    assert "/sbin/init" in body["changes"]


@pytest.fixture(scope="module")
def derived_dir() -> Iterator[Path]:
    """The derived view in a directory of this run's own (make lint derives packer/.derived meanwhile)."""
    out = PACKER / f".derived-test-{os.getpid()}"
    env = {**os.environ, "ARENA_PACKER_DERIVED": str(out)}
    subprocess.run([str(ROOT / "scripts" / "packer-validate.sh"), "--derive"], check=True, capture_output=True, env=env)
    yield out
    shutil.rmtree(out, ignore_errors=True)


def test_derived_view_drops_only_modern_settings(derived_dir: Path) -> None:
    out = derived_dir
    assert not (out / "plugins.pkr.hcl").exists()
    text = "\n".join(p.read_text() for p in sorted(out.glob("*.pkr.hcl")))
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    for modern in ("imds_support", "metadata_options", "deprecate_at ", "regex("):
        assert modern not in code, modern
    # Everything else survives: the security settings 1.6.6 understands are still there.
    for kept in ("encrypt_boot", "ssh_interface", "ami_users", "kms_key_id", "spot_instance_types"):
        assert kept in code, kept
    assert "${path.root}/../../playbooks/bake.yml" in code
    # The real files keep the modern settings.
    assert "imds_support" in (PACKER / "sources.pkr.hcl").read_text()


@pytest.mark.skipif(shutil.which("packer") is None, reason="packer is not installed")
def test_packer_fmt_is_clean() -> None:
    result = subprocess.run(["packer", "fmt", "-check", str(PACKER)], check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("packer") is None, reason="packer is not installed")
@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("tier", "db", "The tier variable must be one of web, api, admin."),
        ("kms_key_id", "1234", "The kms_key_id variable must be a KMS key ARN"),
        ("root_volume_size", "4", "The root_volume_size variable must be between 8 and 64 GiB."),
        ("source_ami_owner", "self", "The source_ami_owner variable must be a 12-digit AWS account id"),
    ],
)
def test_bad_variables_are_rejected(var: str, value: str, message: str, derived_dir: Path) -> None:
    good = {"tier": "web", "image_version": "1.0.0", "git_sha": "0000000", "kms_key_id": "alias/arena"}
    good[var] = value
    args = [arg for key, val in good.items() for arg in ("-var", f"{key}={val}")]
    env_path = f"{ROOT / '.venv' / 'bin'}:/usr/bin:/bin"
    result = subprocess.run(
        ["packer", "validate", *args, str(derived_dir)],
        check=False,
        capture_output=True,
        text=True,
        env={"PATH": env_path, "CHECKPOINT_DISABLE": "1"},
    )
    assert result.returncode != 0
    assert message in re.sub(r"\s+", " ", result.stdout + result.stderr)
