"""The first-boot program of roles/runtime_config (arena_runtime_config.py) against the emulator's SSM.

Runs the real program as a subprocess (as it runs under systemd) with its settings pointing at
temporary directories, the emulator (AWS_URL, from scripts/with-emulator.sh) and, for the IMDSv2
path, the lab's instance metadata stand-in (scripts/lab/imds.py) on loopback: tokens required, tags
in metadata, the role's credentials.
"""

from __future__ import annotations

import grp
import http.server
import importlib.util
import json
import stat
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from arena_loader import aws_client
from arena_testlib import REPO_ROOT, base_env, run

PROGRAM = REPO_ROOT / "roles" / "runtime_config" / "files" / "arena_runtime_config.py"
API_KEYS = ["REDIS_AUTH_TOKEN", "REDIS_HOST", "REDIS_PORT", "REDIS_TLS"]
TOKEN = 'p@ss w"rd$with\\odd chars'


@pytest.fixture(scope="module")
def ssm(emulator_url: str):
    client = aws_client("ssm", endpoint=emulator_url)
    params = {
        "/arena/itest/api/redis_host": ("String", "cache.internal"),
        "/arena/itest/api/redis_port": ("String", "6379"),
        "/arena/itest/api/redis_tls": ("String", "true"),
        "/arena/itest/api/redis_auth_token": ("SecureString", TOKEN),
        "/arena/itest/api/site/title": ("String", "Arena live"),
        "/arena/itest/admin/admin_htpasswd": ("SecureString", "editor:$2y$05$abcdefghijklmnopqrstuv"),
        "/arena/other/api/redis_host": ("String", "must-not-leak"),
    }
    # More than one page (GetParametersByPath returns at most 10 per call).
    params.update({f"/arena/itest/api/extra/item-{n:02d}": ("String", str(n)) for n in range(12)})
    for name, (kind, value) in params.items():
        client.put_parameter(Name=name, Type=kind, Value=value, Overwrite=True)
    return client


def settings(tmp_path: Path, endpoint: str, **overrides: object) -> Path:
    (tmp_path / "out").mkdir(exist_ok=True)
    source = tmp_path / "source.conf"
    data = {
        "tiers": [{"name": "api", "group": "root", "required_keys": API_KEYS}],
        "prefix": "/arena",
        "output_dir": str(tmp_path / "out"),
        "source_file": str(source),
        "ready_file": str(tmp_path / "run" / "ready"),
        "attempts": 2,
        "delay": 0.1,
        "max_delay": 0.2,
        "imds_url": "http://127.0.0.1:9",
        "timeout": 2,
    }
    data.update(overrides)
    if not source.exists():
        source.write_text(
            f"# emulator\nENDPOINT_URL={endpoint}\nENVIRONMENT=itest\nREGION=eu-west-1\n"
            "AWS_ACCESS_KEY_ID=testing\nAWS_SECRET_ACCESS_KEY=testing\n"
        )
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(data))
    return path


def program(config: Path, imds: str | None = None):
    env = base_env(keep_aws=False)
    if imds:
        # botocore's instance-metadata credential provider asks the same stand-in as the program.
        env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = imds
    return run([sys.executable, str(PROGRAM), "--config", str(config)], env, timeout=120)


def test_writes_root_only_env_file_with_mapped_keys(tmp_path: Path, ssm, emulator_url: str) -> None:
    result = program(settings(tmp_path, emulator_url))
    assert result.returncode == 0, result.stderr
    env_file = tmp_path / "out" / "api.env"
    lines = env_file.read_text().splitlines()
    assert lines[0] == "# Written at boot by arena-runtime-config from /arena/itest/api/. Do not edit."
    pairs = dict(line.split("=", 1) for line in lines[1:])
    assert pairs["REDIS_HOST"] == "cache.internal"
    assert pairs["REDIS_PORT"] == "6379"
    assert pairs["REDIS_TLS"] == "true"
    # SecureString decrypted; quoted and escaped for systemd's EnvironmentFile.
    assert pairs["REDIS_AUTH_TOKEN"] == '"p@ss w\\"rd$with\\\\odd chars"'
    assert pairs["SITE_TITLE"] == '"Arena live"'
    assert len([k for k in pairs if k.startswith("EXTRA_ITEM_")]) == 12  # all pages read
    assert "must-not-leak" not in env_file.read_text()
    info = env_file.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == 0 and info.st_gid == 0
    assert (tmp_path / "run" / "ready").read_text() == "api\n"
    assert TOKEN not in result.stderr  # values are never logged
    assert "/arena/itest/api/: 17 parameters" in result.stderr


def test_group_readable_when_a_service_group_is_given(tmp_path: Path, ssm, emulator_url: str) -> None:
    group = grp.getgrnam("nogroup")
    config = settings(tmp_path, emulator_url, tiers=[{"name": "admin", "group": "nogroup"}])
    result = program(config)
    assert result.returncode == 0, result.stderr
    info = (tmp_path / "out" / "admin.env").stat()
    assert stat.S_IMODE(info.st_mode) == 0o640 and info.st_gid == group.gr_gid
    assert "ADMIN_HTPASSWD=editor:$2y$05$abcdefghijklmnopqrstuv" in (tmp_path / "out" / "admin.env").read_text()


def test_missing_required_key_fails_after_retries_and_removes_stale_files(
    tmp_path: Path, ssm, emulator_url: str
) -> None:
    required = [{"name": "api", "group": "root", "required_keys": [*API_KEYS, "REDIS_REPLICA"]}]
    config = settings(tmp_path, emulator_url, tiers=required)
    (tmp_path / "out" / "api.env").write_text("REDIS_HOST=stale-from-last-boot\n")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "ready").write_text("api\n")
    result = program(config)
    assert result.returncode == 1
    message = "/arena/itest/api/: missing required parameters for keys REDIS_REPLICA"
    assert f"attempt 1/2 failed: {message}" in result.stderr
    assert f"attempt 2/2 failed: {message}" in result.stderr
    assert not (tmp_path / "out" / "api.env").exists()
    assert not (tmp_path / "run" / "ready").exists()


def test_unreachable_endpoint_is_retried_then_fails(tmp_path: Path) -> None:
    result = program(settings(tmp_path, "http://127.0.0.1:9", attempts=3))
    assert result.returncode == 1
    assert result.stderr.count("failed: GetParametersByPath /arena/itest/api/: Could not connect") == 3
    assert "giving up: tier env files and the ready marker removed" in result.stderr


def test_bad_settings_is_a_configuration_error(tmp_path: Path) -> None:
    config = settings(tmp_path, "http://127.0.0.1:9", tiers=[{"name": "Bad Tier"}])
    result = program(config)
    assert result.returncode == 2
    assert f"configuration error: {config}: bad tier name 'Bad Tier'" in result.stderr


def _lab_imds() -> ModuleType:
    """The lab's instance metadata stand-in (scripts/lab/imds.py), the one the launch path serves."""
    spec = importlib.util.spec_from_file_location(
        "lab_imds_for_runtime_config", REPO_ROOT / "scripts" / "lab" / "imds.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LAB_IMDS = _lab_imds()


class RecordingMetadata(LAB_IMDS.Metadata):
    """IMDSv2 with tokens required and tags in metadata, as the launch templates set; records the calls."""

    def __init__(self) -> None:
        super().__init__(
            {
                "metadata_options": {"http_tokens": "required", "instance_metadata_tags": "enabled"},
                "instance": {
                    "account_id": "123456789012",
                    "availability_zone": "eu-west-1a",
                    "image_id": "ami-0123456789abcdef0",
                    "instance_id": "i-0123456789abcdef0",
                    "instance_type": "c6i.xlarge",
                    "pending_time": "2026-12-04T15:00:00Z",
                    "private_ip": "10.20.11.4",
                    "region": "eu-west-1",
                    "hostname": "ip-10-20-11-4.eu-west-1.compute.internal",
                },
                "tags": {"Environment": "itest"},
                "role": {
                    "name": "arena-itest-api-instance",
                    "instance_profile_arn": "arn:aws:iam::123456789012:instance-profile/arena-itest-api-instance",
                    "instance_profile_id": "AIPAEXAMPLE",
                    "credentials": {
                        "Code": "Success",
                        "LastUpdated": "2026-12-04T15:00:00Z",
                        "Type": "AWS-HMAC",
                        "AccessKeyId": "testing",
                        "SecretAccessKey": "testing",
                        "Token": "testing",
                        "Expiration": "2099-01-01T00:00:00Z",
                    },
                },
            }
        )
        self.requests: list[str] = []

    def answer(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, str, str]:
        self.requests.append(f"{method} {path}")
        return super().answer(method, path, headers)


@pytest.fixture
def imds() -> Iterator[tuple[str, RecordingMetadata]]:
    metadata = RecordingMetadata()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), LAB_IMDS.handler_for(metadata))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", metadata
    server.shutdown()
    server.server_close()


def test_environment_region_and_credentials_from_imdsv2(
    tmp_path: Path, ssm, emulator_url: str, imds: tuple[str, RecordingMetadata]
) -> None:
    """As an instance launched from the platform: only the endpoint is given (as scripts/lab/launch.py
    does); region, environment and the role's credentials come from instance metadata."""
    url, metadata = imds
    (tmp_path / "source.conf").write_text(f"ENDPOINT_URL={emulator_url}\n")
    result = program(settings(tmp_path, emulator_url, imds_url=url), imds=url)
    assert result.returncode == 0, result.stderr
    assert metadata.requests[0] == "PUT /latest/api/token"
    assert "GET /latest/meta-data/tags/instance/Environment" in metadata.requests
    assert "GET /latest/meta-data/iam/security-credentials/arena-itest-api-instance" in metadata.requests
    assert "REDIS_HOST=cache.internal" in (tmp_path / "out" / "api.env").read_text()


def test_missing_environment_tag_fails(tmp_path: Path, emulator_url: str, imds: tuple[str, RecordingMetadata]) -> None:
    url, _ = imds
    (tmp_path / "source.conf").write_text(f"ENDPOINT_URL={emulator_url}\n")
    result = program(settings(tmp_path, emulator_url, imds_url=url, environment_tag="Stage", attempts=1), imds=url)
    assert result.returncode == 1
    assert (
        f"attempt 1/1 failed: IMDS answered 404 for {url}/latest/meta-data/tags/instance/Stage "
        "(is the instance tag 'Stage' set and are tags in instance metadata enabled?)"
    ) in result.stderr
