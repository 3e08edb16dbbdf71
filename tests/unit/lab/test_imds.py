"""scripts/lab/imds.py, the lab's instance metadata stand-in: it must answer as EC2's IMDS does for the
launch template's metadata options, because the images' first boot and botocore's credential
provider are the clients (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html,
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/work-with-tags-in-IMDS.html)."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from botocore.utils import InstanceMetadataFetcher

ROOT = Path(__file__).resolve().parents[3]


def load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


imds = load("lab_imds_under_test", ROOT / "scripts" / "lab" / "imds.py")
runtime_config = load(
    "arena_runtime_config_under_test", ROOT / "roles" / "runtime_config" / "files" / "arena_runtime_config.py"
)

CREDENTIALS = {
    "Code": "Success",
    "LastUpdated": "2026-12-04T15:00:00Z",
    "Type": "AWS-HMAC",
    "AccessKeyId": "ASIAEXAMPLE",
    "SecretAccessKey": "secret",
    "Token": "session-token",
    "Expiration": "2099-12-04T16:00:00Z",
}


def config(**options: str) -> dict[str, Any]:
    return {
        "metadata_options": {
            "http_endpoint": "enabled",
            "http_tokens": "required",
            "instance_metadata_tags": "enabled",
            **options,
        },
        "instance": {
            "account_id": "123456789012",
            "availability_zone": "eu-west-1b",
            "image_id": "ami-0123456789abcdef0",
            "instance_id": "i-0123456789abcdef0",
            "instance_type": "c6i.large",
            "pending_time": "2026-12-04T15:00:00Z",
            "private_ip": "10.20.11.4",
            "region": "eu-west-1",
            "hostname": "ip-10-20-11-4.eu-west-1.compute.internal",
            "security_groups": ["sg-1"],
        },
        "tags": {"Environment": "local", "Tier": "web", "aws:autoscaling:groupName": "arena-local-web"},
        "role": {
            "name": "arena-local-web-instance",
            "instance_profile_arn": "arn:aws:iam::123456789012:instance-profile/arena-local-web-instance",
            "instance_profile_id": "AIPAEXAMPLE",
            "credentials": CREDENTIALS,
        },
        "user_data": None,
    }


def token(metadata: Any) -> str:
    status, _, value = metadata.answer("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "300"})
    assert status == 200
    return value


def get(metadata: Any, path: str, with_token: str | None = None) -> tuple[int, str]:
    headers = {"X-aws-ec2-metadata-token": with_token} if with_token is not None else {}
    status, _, body = metadata.answer("GET", path, headers)
    return status, body


def test_tokens_required_refuses_a_get_without_or_with_a_bad_token() -> None:
    metadata = imds.Metadata(config())
    assert get(metadata, "/latest/meta-data/instance-id")[0] == 401
    assert get(metadata, "/latest/meta-data/instance-id", "forged")[0] == 401
    assert get(metadata, "/latest/meta-data/instance-id", token(metadata)) == (200, "i-0123456789abcdef0")


def test_tokens_optional_answers_without_a_token_but_not_with_a_bad_one() -> None:
    metadata = imds.Metadata(config(http_tokens="optional"))
    assert get(metadata, "/latest/meta-data/instance-id") == (200, "i-0123456789abcdef0")
    assert get(metadata, "/latest/meta-data/instance-id", "forged")[0] == 401


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 400),
        ({"X-aws-ec2-metadata-token-ttl-seconds": "0"}, 400),
        ({"X-aws-ec2-metadata-token-ttl-seconds": "21601"}, 400),
        ({"X-aws-ec2-metadata-token-ttl-seconds": "21600"}, 200),
        ({"X-aws-ec2-metadata-token-ttl-seconds": "60", "X-Forwarded-For": "10.0.0.9"}, 403),
    ],
)
def test_token_request_rules(headers: dict[str, str], status: int) -> None:
    assert imds.Metadata(config()).answer("PUT", "/latest/api/token", headers)[0] == status


def test_token_expires() -> None:
    now = [100.0]
    metadata = imds.Metadata(config(), clock=lambda: now[0])
    value = token(metadata)
    now[0] += 301
    assert get(metadata, "/latest/meta-data/instance-id", value)[0] == 401


def test_tags_only_when_the_template_enables_them() -> None:
    enabled = imds.Metadata(config())
    assert get(enabled, "/latest/meta-data/tags/instance/Environment", token(enabled)) == (200, "local")
    assert get(enabled, "/latest/meta-data/tags/instance", token(enabled))[1].splitlines() == [
        "Environment",
        "Tier",
        "aws:autoscaling:groupName",
    ]
    disabled = imds.Metadata(config(instance_metadata_tags="disabled"))
    assert get(disabled, "/latest/meta-data/tags/instance/Environment", token(disabled))[0] == 404
    assert "tags/" not in get(disabled, "/latest/meta-data/", token(disabled))[1]


def test_identity_document_and_user_data() -> None:
    metadata = imds.Metadata(config())
    status, body = get(metadata, "/latest/dynamic/instance-identity/document", token(metadata))
    assert status == 200
    document = json.loads(body)
    assert (document["region"], document["instanceId"], document["accountId"]) == (
        "eu-west-1",
        "i-0123456789abcdef0",
        "123456789012",
    )
    assert get(metadata, "/latest/user-data", token(metadata))[0] == 404


def test_no_instance_profile_no_iam() -> None:
    metadata = imds.Metadata({**config(), "role": None})
    assert get(metadata, "/latest/meta-data/iam/security-credentials/", token(metadata))[0] == 404


@pytest.fixture
def server() -> Iterator[tuple[str, Any]]:
    metadata = imds.Metadata(config())
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), imds.handler_for(metadata))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", metadata
    httpd.shutdown()
    httpd.server_close()


def test_botocore_gets_the_role_credentials(server: tuple[str, Any]) -> None:
    """botocore's own instance-metadata credential provider (what boto3 uses on the instance)."""
    url, _ = server
    fetched = InstanceMetadataFetcher(timeout=2, num_attempts=1, base_url=url).retrieve_iam_role_credentials()
    assert fetched["role_name"] == "arena-local-web-instance"
    assert (fetched["access_key"], fetched["secret_key"], fetched["token"]) == (
        "ASIAEXAMPLE",
        "secret",
        "session-token",
    )


def test_first_boot_reads_region_and_environment(server: tuple[str, Any]) -> None:
    """roles/runtime_config's first boot against the stand-in: region from the identity document,
    environment from the Environment instance tag."""
    url, _ = server
    settings = runtime_config.Settings(tiers=[runtime_config.Tier(name="web")], imds_url=url, timeout=2)
    assert runtime_config.imds_source(settings) == {"REGION": "eu-west-1", "ENVIRONMENT": "local"}


def test_first_boot_fails_when_tags_are_not_in_metadata() -> None:
    """The defect of a launch template with instance_metadata_tags disabled: AWS answers 404 and first
    boot cannot name its environment."""
    metadata = imds.Metadata(config(instance_metadata_tags="disabled"))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), imds.handler_for(metadata))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        settings = runtime_config.Settings(
            tiers=[runtime_config.Tier(name="web")], imds_url=f"http://127.0.0.1:{httpd.server_address[1]}", timeout=2
        )
        with pytest.raises(runtime_config.FetchError, match=r"IMDS answered 404 .*tags in instance metadata enabled"):
            runtime_config.imds_source(settings)
    finally:
        httpd.shutdown()
        httpd.server_close()
