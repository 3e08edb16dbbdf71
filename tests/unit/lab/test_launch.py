"""scripts/lab/launch.py: how the lab reads what EC2 would launch from the platform (pure parts; the
whole path runs in the image gate, scripts/gate.sh)."""

from __future__ import annotations

import base64
import importlib.util
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("lab_launch_under_test", ROOT / "scripts" / "lab" / "launch.py")
assert _spec is not None and _spec.loader is not None
launch = importlib.util.module_from_spec(_spec)
sys.modules["lab_launch_under_test"] = launch
_spec.loader.exec_module(launch)

SPEC = {"LaunchTemplateId": "lt-1", "LaunchTemplateName": "arena-local-web", "Version": "$Latest"}


@pytest.mark.parametrize(
    "group",
    [
        {"AutoScalingGroupName": "g", "LaunchTemplate": SPEC},
        {
            "AutoScalingGroupName": "g",
            "MixedInstancesPolicy": {"LaunchTemplate": {"LaunchTemplateSpecification": SPEC}},
        },
    ],
)
def test_template_spec_of_plain_and_mixed_groups(group: dict) -> None:
    assert launch.template_spec(group) == SPEC


def test_a_group_without_a_launch_template_is_refused() -> None:
    with pytest.raises(launch.LaunchError, match="group g has no launch template"):
        launch.template_spec({"AutoScalingGroupName": "g", "LaunchConfigurationName": "old"})


@pytest.mark.parametrize(
    ("image_id", "parameter"),
    [("resolve:ssm:/arena/local/images/web", "/arena/local/images/web"), ("ami-0123456789abcdef0", None)],
)
def test_image_parameter(image_id: str, parameter: str | None) -> None:
    assert launch.image_parameter(image_id) == parameter


def test_metadata_options_take_ec2_defaults_for_what_the_template_leaves_out() -> None:
    """EC2's documented defaults: endpoint enabled, tokens optional, hop limit 1, tags disabled."""
    assert launch.metadata_options({}) == {
        "http_endpoint": "enabled",
        "http_tokens": "optional",
        "http_put_response_hop_limit": "1",
        "instance_metadata_tags": "disabled",
    }
    assert (
        launch.metadata_options({"MetadataOptions": {"HttpTokens": "required", "InstanceMetadataTags": "enabled"}})[
            "instance_metadata_tags"
        ]
        == "enabled"
    )


def test_user_data_runs_only_as_a_script() -> None:
    script = "#!/bin/sh\necho hi\n"
    assert launch.user_data_text({"UserData": base64.b64encode(script.encode()).decode()}) == script
    assert launch.user_data_text({}) is None
    with pytest.raises(launch.LaunchError, match="only as a '#!' script"):
        launch.user_data_text({"UserData": base64.b64encode(b"#cloud-config\n").decode()})
    with pytest.raises(launch.LaunchError, match="not base64 text"):
        launch.user_data_text({"UserData": "not base64!"})


def test_health_of_a_target_group() -> None:
    group = {
        "Port": 443,
        "Protocol": "HTTPS",
        "HealthCheckProtocol": "HTTPS",
        "HealthCheckPort": "traffic-port",
        "HealthCheckPath": "/healthz",
        "Matcher": {"HttpCode": "200"},
    }
    assert launch.health_of(group) == {"protocol": "https", "port": 443, "path": "/healthz", "codes": "200"}
    assert launch.health_of({**group, "HealthCheckPort": "8081"})["port"] == 8081


@pytest.mark.parametrize(
    ("code", "matcher", "healthy"),
    [
        (200, "200", True),
        (503, "200", False),
        (204, "200,204", True),
        (299, "200-299", True),
        (301, "200-299", False),
        (0, "200", False),
    ],
)
def test_healthy_code(code: int, matcher: str, healthy: bool) -> None:
    assert launch.healthy_code(code, matcher) is healthy


def test_imds_credentials_format() -> None:
    """The fields botocore's instance-metadata provider requires (AccessKeyId, SecretAccessKey, Token, Expiration)."""
    got = launch.imds_credentials(
        {
            "AccessKeyId": "A",
            "SecretAccessKey": "S",
            "SessionToken": "T",
            "Expiration": datetime(2026, 12, 4, 16, tzinfo=UTC),
        },
        datetime(2026, 12, 4, 15, tzinfo=UTC),
    )
    assert got == {
        "Code": "Success",
        "LastUpdated": "2026-12-04T15:00:00Z",
        "Type": "AWS-HMAC",
        "AccessKeyId": "A",
        "SecretAccessKey": "S",
        "Token": "T",
        "Expiration": "2026-12-04T16:00:00Z",
    }


def test_endpoint_source_names_only_the_endpoint() -> None:
    """No environment, region or keys: the image finds those through IMDS as on EC2."""
    lines = [line for line in launch.endpoint_source("http://127.0.0.1:42265").splitlines() if not line.startswith("#")]
    assert lines == ["ENDPOINT_URL=http://10.0.2.2:42265"]


def test_network_sysctls_of_an_image() -> None:
    text = (
        "# comment\nnet.ipv4.conf.all.rp_filter = 1\nkernel.kptr_restrict=2\nnet.ipv6.conf.all.accept_ra=0 # trailing\n"
    )
    assert launch.network_sysctls(text) == [
        "--sysctl=net.ipv4.conf.all.rp_filter=1",
        "--sysctl=net.ipv6.conf.all.accept_ra=0",
    ]


def test_tmp_mounted_as_the_images_tmp_mount_says() -> None:
    """systemd skips an image's tmp.mount in a container (roles/hardening mounts), so the lab mounts
    /tmp with its options; only the ones podman's --tmpfs takes, and only when the unit is enabled."""
    unit = "[Mount]\nWhat=tmpfs\nOptions=mode=1777,strictatime,nosuid,nodev,noexec,size=25%%,nr_inodes=1m\n"
    assert launch.tmp_mount(unit, enabled=True) == ["--tmpfs=/tmp:mode=1777,nosuid,nodev,noexec"]
    assert launch.tmp_mount(unit, enabled=False) == []
    assert launch.tmp_mount("", enabled=True) == []


def booted_at(started: float) -> object:
    return launch.Booted(
        tier="web",
        instance_id="i-1",
        container="c",
        image="img",
        ami_id="ami-1",
        launch_template="lt",
        launch_template_version="1",
        base_url="http://127.0.0.1:1/",
        health_url="http://127.0.0.1:1/healthz",
        health_codes="200",
        started=started,
    )


@pytest.mark.parametrize(
    ("answers", "booted_ago", "boot_seconds"),
    [
        # Healthy at the third probe, well within the budget: timed from the instance's own start.
        ([0, 503, 200], 2.0, pytest.approx(2.0, abs=0.5)),
        # The instance answers 200 only after the budget: not healthy (a time over the budget was
        # recorded before, and the gate passed it).
        ([0, 0, 200], 12.0, None),
    ],
)
def test_health_counts_only_within_the_budget(
    monkeypatch: pytest.MonkeyPatch, answers: list[int], booted_ago: float, boot_seconds: object
) -> None:
    item = booted_at(launch.time.time() - booted_ago)
    probes = iter(answers)
    monkeypatch.setattr(launch, "probe", lambda url: next(probes))
    monkeypatch.setattr(launch.time, "sleep", lambda seconds: None)
    launch.watch_health(item, budget=10.0)
    assert item.boot_seconds == boot_seconds
    assert item.health_status == (200 if boot_seconds is not None else 0)


def test_instances_are_watched_from_their_own_boot(monkeypatch: pytest.MonkeyPatch) -> None:
    """Booting the next instances does not count against the first: each has a watcher at once."""
    seen: list[str] = []
    monkeypatch.setattr(launch, "probe", lambda url: seen.append(url) or 200)
    first = booted_at(launch.time.time())
    launch.watch(first, budget=10.0).join(timeout=5)
    assert first.boot_seconds is not None and seen == [first.health_url]
