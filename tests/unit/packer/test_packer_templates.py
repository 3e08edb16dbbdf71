"""Checks of the real Packer templates (packer/*.pkr.hcl), parsed with python-hcl2, and of what
Packer 1.6.6 makes of their derived view (packer validate, packer console).

Every amazon-ebs source must keep the image's security posture: IMDSv2 only, an encrypted gp3 root
with a KMS key, never public or shared, reached through SSM Session Manager with the agent installed
by the user data only when AWS's signature is valid (no inbound port), an official Debian source AMI
with a pinned owner, an AMI name unique per CI attempt. The real files are modern Packer; the derived
1.6.6 view (scripts/packer-validate.sh) is checked separately.
"""

from __future__ import annotations

import hashlib
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
from arena_testlib import github_workflow

ROOT = Path(__file__).resolve().parents[3]
PACKER = ROOT / "packer"
TEMPLATES = sorted(PACKER.glob("*.pkr.hcl"))
DEBIAN_OWNER = "136693071363"
# The required variables of a valid bake; tests override one or two.
GOOD_VARS = {"tier": "web", "image_version": "1.0.0", "git_sha": "0000000", "kms_key_id": "alias/arena"}
# EC2 CreateImage/RegisterImage: "3-128 alphanumeric characters, parentheses (()), square brackets
# ([]), spaces ( ), periods (.), slashes (/), dashes (-), single quotes ('), at-signs (@), or
# underscores(_)".
AMI_NAME = re.compile(r"[A-Za-z0-9()\[\] ./'@_-]{3,128}")
needs_packer = pytest.mark.skipif(shutil.which("packer") is None, reason="packer is not installed")


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


def packer_env() -> dict[str, str]:
    """packer validate needs ansible-playbook (the venv's) on PATH; no update check."""
    return {"PATH": f"{ROOT / '.venv' / 'bin'}:/usr/bin:/bin", "CHECKPOINT_DISABLE": "1"}


def var_args(**overrides: str) -> list[str]:
    return [arg for key, val in {**GOOD_VARS, **overrides}.items() for arg in ("-var", f"{key}={val}")]


def packer_console(derived_dir: Path, expression: str, **overrides: str) -> str:
    """What Packer 1.6.6 evaluates `expression` to in the derived view (a string, as it prints it)."""
    result = subprocess.run(
        ["packer", "console", *var_args(**overrides), str(derived_dir)],
        input=expression + "\n",
        check=False,
        capture_output=True,
        text=True,
        env=packer_env(),
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


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
def test_session_manager_with_the_agent_from_user_data_and_no_inbound_port(name: str, body: dict[str, Any]) -> None:
    """The official Debian AMI has no SSM Agent: session_manager works only because the user data
    installs it (its behaviour: test_user_data_installs_the_agent_only_when_signed_by_the_pinned_key).
    With session_manager the amazon plugin adds no ingress rule to its temporary security group;
    a given group, source CIDRs (default 0.0.0.0/0), the runner's IP or a public IP would all open
    the SSH port again."""
    assert unquote(body.get("communicator")) == "ssh" and unquote(body.get("ssh_interface")) == "session_manager", (
        f"{name}: ssh_interface"
    )
    assert body.get("user_data") == "${local.ssm_agent_user_data}", f"{name}: the agent must come from the user data"
    assert "user_data_file" not in body, f"{name}: user_data_file would replace the agent's user data"
    document = only_block(body, "temporary_iam_instance_profile_policy_document")
    actions = {unquote(action) for statement in document["Statement"] for action in statement["Action"]}
    assert {
        "ssm:UpdateInstanceInformation",
        "ssmmessages:CreateControlChannel",
        "ssmmessages:OpenDataChannel",
    } <= actions
    for key in (
        "temporary_security_group_source_cidrs",
        "temporary_security_group_source_public_ip",
        "security_group_id",
        "security_group_ids",
        "security_group_filter",
        "ssh_port",
    ):
        assert key not in body, f"{name}: {key} would open or choose an SSH ingress"
    assert body.get("associate_public_ip_address") in (None, False), f"{name}: public IP"
    assert "0.0.0.0/0" not in str(body), f"{name}: a world-open CIDR"


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


@needs_packer
def test_packer_fmt_is_clean() -> None:
    result = subprocess.run(["packer", "fmt", "-check", str(PACKER)], check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


BAD_ATTEMPT = "The build_attempt variable must be a whole number from 1 to 999 (github.run_attempt)."


@needs_packer
@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("tier", "db", "The tier variable must be one of web, api, admin."),
        ("kms_key_id", "1234", "The kms_key_id variable must be a KMS key ARN"),
        ("root_volume_size", "4", "The root_volume_size variable must be between 8 and 64 GiB."),
        ("source_ami_owner", "self", "The source_ami_owner variable must be a 12-digit AWS account id"),
        ("build_attempt", "0", BAD_ATTEMPT),
        ("build_attempt", "-1", BAD_ATTEMPT),
        ("build_attempt", "1.5", BAD_ATTEMPT),
        ("build_attempt", "1000", BAD_ATTEMPT),
        ("build_attempt", "two", "The received arg value for build_attempt is not compatible with the variable's type"),
        (
            "ssm_agent_gpg_key",
            "DE92C7DA3E56E92331D62A36BC1F495C97DD04ED",
            "The ssm_agent_gpg_key variable must be empty or one ASCII-armoured public key block",
        ),
        pytest.param(
            "ssm_agent_gpg_key",
            "-----BEGIN PGP PUBLIC KEY BLOCK-----\nARENA_SSM_AGENT_KEY\nreboot\n-----END PGP PUBLIC KEY BLOCK-----",
            "The ssm_agent_gpg_key variable must be empty or one ASCII-armoured public key block",
            id="ssm_agent_gpg_key-ends-the-user-data-here-document",
        ),
        (
            "ssm_agent_gpg_fingerprint",
            "de92c7da3e56e92331d62a36bc1f495c97dd04ed",
            "The ssm_agent_gpg_fingerprint variable must be a 40-digit upper-case hex fingerprint.",
        ),
    ],
)
def test_bad_variables_are_rejected(var: str, value: str, message: str, derived_dir: Path) -> None:
    result = subprocess.run(
        ["packer", "validate", *var_args(**{var: value}), str(derived_dir)],
        check=False,
        capture_output=True,
        text=True,
        env=packer_env(),
    )
    assert result.returncode != 0
    assert message in re.sub(r"\s+", " ", result.stdout + result.stderr)


@needs_packer
def test_ami_name_is_unique_per_attempt_and_always_fits(derived_dir: Path) -> None:
    """A retried CI job (github.run_attempt 2) must not reuse the name of the attempt that failed;
    the longest name the variables' validations allow still fits EC2's rules (and the local image
    tag does not change with the attempt)."""
    first, second = (packer_console(derived_dir, "local.ami_name", build_attempt=n).strip() for n in ("1", "2"))
    assert (first, second) == ("arena-web-1.0.0-attempt1", "arena-web-1.0.0-attempt2")
    default = packer_console(derived_dir, "local.ami_name").strip()
    assert default == first, "build_attempt defaults to 1"
    longest = packer_console(
        derived_dir, "local.ami_name", tier="admin", image_version="9" * 64, build_attempt="999"
    ).strip()
    assert AMI_NAME.fullmatch(longest), f"{longest!r} ({len(longest)} characters) breaks EC2's AMI name rules"
    result = subprocess.run(
        ["packer", "validate", *var_args(tier="admin", image_version="9" * 64, build_attempt="999"), str(derived_dir)],
        check=False,
        capture_output=True,
        text=True,
        env=packer_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (build,) = parsed()["build"]
    (docker_tag,) = [p['"docker-tag"'] for p in build["post-processor"] if '"docker-tag"' in p]
    assert docker_tag["tags"] == ["${var.image_version}"], "the local image tag carries no attempt"


def test_workflow_passes_the_run_attempt_and_the_agent_key() -> None:
    """Wherever CI passes image_version it passes build_attempt=github.run_attempt too; the SSM
    Agent key comes from a repository variable, and a step refuses a missing key or Session Manager
    plugin before Packer starts."""
    job = github_workflow("ami.yml")["jobs"]["bake"]
    runs = [step.get("run", "") for step in job["steps"]]
    packer_runs = [run for run in runs if "image_version=" in run]
    assert len(packer_runs) == 2, "packer validate and packer build"
    for run in packer_runs:
        assert "-var build_attempt=${{ github.run_attempt }}" in run, run
    assert job["env"]["PKR_VAR_ssm_agent_gpg_key"] == "${{ vars.SSM_AGENT_GPG_KEY }}"
    (preflight,) = [i for i, run in enumerate(runs) if "session-manager-plugin --version" in run]
    assert '[ -z "${PKR_VAR_ssm_agent_gpg_key}" ]' in runs[preflight] and "exit 1" in runs[preflight]
    assert preflight < runs.index(packer_runs[0]), "the preflight runs before packer"


@needs_packer
@pytest.mark.parametrize(
    ("region", "url"),
    [
        (
            "eu-central-1",
            "https://s3.eu-central-1.amazonaws.com/amazon-ssm-eu-central-1/latest/debian_amd64/amazon-ssm-agent.deb",
        ),
        (
            "cn-north-1",
            "https://s3.cn-north-1.amazonaws.com.cn/amazon-ssm-cn-north-1/latest/debian_amd64/amazon-ssm-agent.deb",
        ),
    ],
)
def test_agent_package_comes_from_the_build_regions_bucket(region: str, url: str, derived_dir: Path) -> None:
    assert packer_console(derived_dir, "local.ssm_agent_package_url", aws_region=region).strip() == url


# --- The user data that installs the SSM Agent, run for real with stand-ins for the network ----------
# Rendered by Packer 1.6.6 from the derived view (escapes, here-document, interpolated key), then run
# with `sh` against a package signed by throw-away keys: curl, dpkg, dpkg-query and systemctl are
# stand-ins that log what they are asked; gpgv, awk, base64 and mktemp are the real ones.

FAKE_TOOLS = {
    # Serves the URL's basename from the fixtures directory and logs the URL.
    "curl": """#!/bin/sh
out=; prev=; url=
for arg in "$@"; do [ "$prev" = --output ] && out=$arg; prev=$arg; url=$arg; done
echo "$url" >> "$ARENA_TEST_LOG/curl"
cp "$ARENA_TEST_FIXTURES/$(basename "$url")" "$out"
""",
    "dpkg-query": """#!/bin/sh
[ -n "${ARENA_TEST_INSTALLED:-}" ] && printf 'install ok installed' && exit 0
exit 1
""",
    # Logs the action and the digest of the package it was given.
    "dpkg": """#!/bin/sh
echo "$1 $(sha256sum "$2" | cut -d' ' -f1)" >> "$ARENA_TEST_LOG/dpkg"
""",
    "systemctl": """#!/bin/sh
echo "$*" >> "$ARENA_TEST_LOG/systemctl"
""",
}


@pytest.fixture(scope="module")
def signing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two throw-away signing keys (A stands for AWS's, B for anybody else's) and a package."""
    if not (shutil.which("gpg") and shutil.which("gpgv")):
        pytest.skip("gpg and gpgv are needed")
    base = tmp_path_factory.mktemp("signing")
    home = base / "gnupg"
    home.mkdir(mode=0o700)
    gpg = ["gpg", "--batch", "--quiet", "--homedir", str(home)]
    keys: dict[str, dict[str, str]] = {}
    try:
        for name in ("A", "B"):
            uid = f"arena test signer {name} <{name.lower()}@example.invalid>"
            subprocess.run([*gpg, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"], check=True)
            listing = subprocess.run(
                [*gpg, "--with-colons", "--list-keys", uid], check=True, capture_output=True, text=True
            )
            fingerprint = next(line.split(":")[9] for line in listing.stdout.splitlines() if line.startswith("fpr:"))
            armour = subprocess.run(
                [*gpg, "--armor", "--export", fingerprint], check=True, capture_output=True, text=True
            )
            keys[name] = {"fingerprint": fingerprint, "armour": armour.stdout}
        package = base / "package.deb"
        package.write_bytes(b"!<arch>\nnot really a package\n")

        def sign(name: str, target: Path) -> None:
            signer = keys[name]["fingerprint"]
            subprocess.run(
                [*gpg, "--local-user", signer, "--detach-sign", "--output", str(target), str(package)], check=True
            )

        yield {"keys": keys, "package": package, "sign": sign}
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False, capture_output=True)


def run_user_data(
    derived_dir: Path,
    tmp_path: Path,
    *,
    key: str,
    fingerprint: str,
    package: Path,
    sign: Any,
    signer: str,
    tampered: bool = False,
    installed: bool = False,
) -> tuple[subprocess.CompletedProcess[str], dict[str, list[str]]]:
    script = tmp_path / "user-data"
    script.write_text(
        packer_console(
            derived_dir,
            "local.ssm_agent_user_data",
            aws_region="eu-central-1",
            ssm_agent_gpg_key=key,
            ssm_agent_gpg_fingerprint=fingerprint,
        )
    )
    fixtures, logs, tools, scratch = (tmp_path / d for d in ("fixtures", "logs", "bin", "run"))
    for directory in (fixtures, logs, tools, scratch):
        directory.mkdir()
    (fixtures / "amazon-ssm-agent.deb").write_bytes(package.read_bytes() + (b"tampered" if tampered else b""))
    sign(signer, fixtures / "amazon-ssm-agent.deb.sig")
    for name, text in FAKE_TOOLS.items():
        (tools / name).write_text(text)
        (tools / name).chmod(0o755)
    env = {
        "PATH": f"{tools}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "TMPDIR": str(scratch),
        "ARENA_TEST_LOG": str(logs),
        "ARENA_TEST_FIXTURES": str(fixtures),
        **({"ARENA_TEST_INSTALLED": "1"} if installed else {}),
    }
    result = subprocess.run(["sh", str(script)], check=False, capture_output=True, text=True, env=env, timeout=120)
    calls = {tool: (logs / tool).read_text().splitlines() if (logs / tool).exists() else [] for tool in FAKE_TOOLS}
    assert list(scratch.iterdir()) == [], "the scratch directory (key, package, signature) must be removed"
    return result, calls


AGENT_URL = "https://s3.eu-central-1.amazonaws.com/amazon-ssm-eu-central-1/latest/debian_amd64/amazon-ssm-agent.deb"


@needs_packer
def test_user_data_installs_the_agent_signed_by_the_pinned_key(
    derived_dir: Path, tmp_path: Path, signing: dict[str, Any]
) -> None:
    a = signing["keys"]["A"]
    result, calls = run_user_data(
        derived_dir,
        tmp_path,
        key=a["armour"],
        fingerprint=a["fingerprint"],
        package=signing["package"],
        sign=signing["sign"],
        signer="A",
    )
    assert result.returncode == 0, result.stderr
    assert calls["curl"] == [AGENT_URL, AGENT_URL + ".sig"]
    digest = hashlib.sha256(signing["package"].read_bytes()).hexdigest()
    assert calls["dpkg"] == [f"--install {digest}"]
    assert calls["systemctl"] == ["enable amazon-ssm-agent", "start amazon-ssm-agent"]
    assert f"signature valid (key {a['fingerprint']})" in result.stderr


REFUSALS = {
    "tampered package": {
        "key": "A",
        "signer": "A",
        "tampered": True,
        "message": "is not signed by the key {A} (valid signature by: '')",
    },
    "signed by another key": {
        "key": "A",
        "signer": "B",
        "message": "is not signed by the key {A} (valid signature by: '')",
    },
    # A substituted key variable is caught by the pinned fingerprint.
    "substituted key and signer": {
        "key": "B",
        "signer": "B",
        "message": "is not signed by the key {A} (valid signature by: '{B}')",
    },
    "no key": {
        "key": "",
        "signer": "A",
        "message": "REFUSED: no usable SSM Agent signing key (Packer variable ssm_agent_gpg_key)",
    },
}


@needs_packer
@pytest.mark.parametrize("case", REFUSALS)
def test_user_data_refuses_an_agent_it_cannot_verify(
    case: str, derived_dir: Path, tmp_path: Path, signing: dict[str, Any]
) -> None:
    refusal, keys = REFUSALS[case], signing["keys"]
    result, calls = run_user_data(
        derived_dir,
        tmp_path,
        key=keys[refusal["key"]]["armour"] if refusal["key"] else "",
        fingerprint=keys["A"]["fingerprint"],
        package=signing["package"],
        sign=signing["sign"],
        signer=refusal["signer"],
        tampered=refusal.get("tampered", False),
    )
    assert result.returncode != 0, case
    message = refusal["message"].format(A=keys["A"]["fingerprint"], B=keys["B"]["fingerprint"])
    assert message in result.stderr, result.stderr
    assert calls["dpkg"] == [] and calls["systemctl"] == [], f"{case}: nothing may be installed or started"
    if not refusal["key"]:
        assert calls["curl"] == [], "no key: nothing is downloaded"


@needs_packer
def test_user_data_keeps_an_installed_agent(derived_dir: Path, tmp_path: Path, signing: dict[str, Any]) -> None:
    a = signing["keys"]["A"]
    result, calls = run_user_data(
        derived_dir,
        tmp_path,
        key=a["armour"],
        fingerprint=a["fingerprint"],
        package=signing["package"],
        sign=signing["sign"],
        signer="A",
        installed=True,
    )
    assert result.returncode == 0, result.stderr
    assert calls["curl"] == [] and calls["dpkg"] == []
    assert calls["systemctl"] == ["enable amazon-ssm-agent", "start amazon-ssm-agent"]
