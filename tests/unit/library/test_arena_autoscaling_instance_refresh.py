"""arena_autoscaling_instance_refresh against botocore's Stubber (the real Auto Scaling, EC2 and
CloudWatch API models): the exact StartInstanceRefresh request of a release (DesiredConfiguration with
a numbered launch template version, checkpoints, alarms, automatic rollback), and what is refused
before it.

AWS rules pinned here (RefreshPreferences,
https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RefreshPreferences.html, and
DesiredConfiguration, .../API_DesiredConfiguration.html):
- AutoRollback needs a desired configuration, a group on a numbered version (not $Latest or $Default)
  and a template whose ImageId is an AMI id, not an SSM parameter;
- MinHealthyPercentage 0-100; MaxHealthyPercentage 100-200 and at most 100 above the minimum;
- CheckpointPercentages unique and ascending, each 1-100 (the last 100 to replace every instance);
  CheckpointDelay 0-172800 and only with checkpoints;
- a launch template specification names the template by id or by name, not both.
The emulator's stand-in refresh (scripts/lab/emulator_server.py) is exercised by the release test in
tests/integration/images/test_publish_rollback.py.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from stub_answers import auto_scaling_groups

GROUP = "arena-staging-web"
LT_ID = "lt-0123456789abcdef0"
REFRESH_ID = "08b91cf7-8fa6-48af-b6a6-d227f40f1b9b"
ALARMS = ["arena-staging-web-target-5xx", "arena-staging-web-unhealthy-hosts"]
AMI = "ami-0123456789abcdef0"


def params(**overrides: Any) -> dict[str, Any]:
    base = {
        "name": GROUP,
        "launch_template_version": "$Default",
        "min_healthy_percentage": 90,
        "max_healthy_percentage": 150,
        "instance_warmup": 260,
        "checkpoint_percentages": [10, 100],
        "checkpoint_delay": 600,
        "alarms": ALARMS,
        "skip_matching": True,
        "auto_rollback": True,
    }
    return {**base, **overrides}


def policy(version: str) -> dict[str, Any]:
    return {
        "LaunchTemplate": {
            "LaunchTemplateSpecification": {"LaunchTemplateId": LT_ID, "LaunchTemplateName": GROUP, "Version": version},
            "Overrides": [{"InstanceType": "c6i.large"}, {"InstanceType": "c6a.large"}],
        },
        "InstancesDistribution": {
            "OnDemandBaseCapacity": 1,
            "OnDemandPercentageAboveBaseCapacity": 30,
            "SpotAllocationStrategy": "price-capacity-optimized",
        },
    }


def group(version: str = "4", instance_versions: tuple[str, ...] = ("4", "4")) -> dict[str, Any]:
    instances = [
        {
            "InstanceId": f"i-0{n}",
            "AvailabilityZone": "eu-west-1a",
            "LifecycleState": "InService",
            "HealthStatus": "Healthy",
            "ProtectedFromScaleIn": False,
            "LaunchTemplate": {"LaunchTemplateId": LT_ID, "LaunchTemplateName": GROUP, "Version": v},
        }
        for n, v in enumerate(instance_versions)
    ]
    return auto_scaling_groups(GROUP, MaxSize=6, MixedInstancesPolicy=policy(version), Instances=instances)


def template_version(number: int, image: str = AMI) -> dict[str, Any]:
    return {
        "LaunchTemplateVersions": [
            {"LaunchTemplateId": LT_ID, "VersionNumber": number, "LaunchTemplateData": {"ImageId": image}}
        ]
    }


EXPECTED_PREFS = {
    "MinHealthyPercentage": 90,
    "MaxHealthyPercentage": 150,
    "SkipMatching": True,
    "AutoRollback": True,
    "InstanceWarmup": 260,
    "CheckpointPercentages": [10, 100],
    "CheckpointDelay": 600,
    "AlarmSpecification": {"Alarms": ALARMS},
}
# The group's whole mixed instances policy, its specification by id alone and on version 5.
EXPECTED_DESIRED = {
    "MixedInstancesPolicy": {
        **policy("5"),
        "LaunchTemplate": {
            "LaunchTemplateSpecification": {"LaunchTemplateId": LT_ID, "Version": "5"},
            "Overrides": [{"InstanceType": "c6i.large"}, {"InstanceType": "c6a.large"}],
        },
    }
}


def release_calls(grp: dict[str, Any] | None = None, start: bool = True) -> dict[str, list]:
    """The calls of a release of version 5 ($Default) onto a group on version 4, per service."""
    calls = {
        "autoscaling": [
            ("describe_auto_scaling_groups", grp or group(), {"AutoScalingGroupNames": [GROUP]}),
            ("describe_instance_refreshes", {"InstanceRefreshes": []}, {"AutoScalingGroupName": GROUP}),
        ],
        "ec2": [
            (
                "describe_launch_template_versions",
                template_version(5),
                {"LaunchTemplateId": LT_ID, "Versions": ["$Default"]},
            )
        ],
        "cloudwatch": [
            (
                "describe_alarms",
                {"MetricAlarms": [{"AlarmName": a} for a in ALARMS]},
                {"AlarmNames": ALARMS, "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]},
            )
        ],
    }
    if start:
        calls["autoscaling"].append(
            (
                "start_instance_refresh",
                {"InstanceRefreshId": REFRESH_ID},
                {
                    "AutoScalingGroupName": GROUP,
                    "Strategy": "Rolling",
                    "DesiredConfiguration": EXPECTED_DESIRED,
                    "Preferences": EXPECTED_PREFS,
                },
            )
        )
    return calls


@pytest.fixture
def stubbed_clients(mod: ModuleType, stub_client: Any, queue_calls: Any, retry_sleeps: list[float]) -> Any:
    """``stubbed_clients(calls, fail=None, raw=False)`` -> clients answering `calls` ({service: [call, ...]}):
    wrapped as the module's own clients (each call must pass aws_retry=True), or raw for main()."""

    def make(calls: dict[str, list], fail: tuple[str, str] | None = None, raw: bool = False) -> dict[str, Any]:
        clients = {}
        for service in ("autoscaling", "ec2", "cloudwatch"):
            client, stubber = stub_client(service, None if raw else mod.RETRY, strict=not raw)
            queued = calls.get(service, [])
            queue_calls(stubber, queued, fail if fail and fail[0] in {c[0] for c in queued} else None)
            clients[service] = client
        return clients

    return make


def test_release_starts_a_canary_refresh_onto_the_numbered_default_version(mod: ModuleType, stubbed_clients) -> None:
    result = mod.run(stubbed_clients(release_calls()), params(), check_mode=False)
    assert result == {
        "changed": True,
        "instance_refresh_id": REFRESH_ID,
        "status": "Pending",
        "launch_template_version": "5",
        "previous_version": "4",
        "preferences": EXPECTED_PREFS,
        "desired_configuration": EXPECTED_DESIRED,
    }


def test_check_mode_starts_nothing(mod: ModuleType, stubbed_clients) -> None:
    result = mod.run(stubbed_clients(release_calls(start=False)), params(), check_mode=True)
    assert (result["changed"], result["status"], result["launch_template_version"]) == (True, "WouldStart", "5")


def test_group_and_instances_on_the_version_are_left_alone(mod: ModuleType, stubbed_clients) -> None:
    calls = release_calls(group("5", ("5", "5")), start=False)
    result = mod.run(stubbed_clients(calls), params(), check_mode=False)
    assert (result["changed"], result["status"]) == (False, "UpToDate")


def test_an_instance_on_an_older_version_is_refreshed(mod: ModuleType, stubbed_clients) -> None:
    """The group is on the version already (a platform run set it) but one instance is not."""
    calls = release_calls(group("5", ("5", "4")))
    calls["autoscaling"][-1][2]["DesiredConfiguration"] = EXPECTED_DESIRED
    assert mod.run(stubbed_clients(calls), params(), check_mode=False)["status"] == "Pending"


@pytest.mark.parametrize("status", ["Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"])
def test_running_refresh_is_reported_not_duplicated(mod: ModuleType, stubbed_clients, status: str) -> None:
    running = {"InstanceRefreshId": REFRESH_ID, "AutoScalingGroupName": GROUP, "Status": status}
    calls = {
        "autoscaling": [
            ("describe_auto_scaling_groups", group(), {"AutoScalingGroupNames": [GROUP]}),
            ("describe_instance_refreshes", {"InstanceRefreshes": [running]}, {"AutoScalingGroupName": GROUP}),
        ]
    }
    result = mod.run(stubbed_clients(calls), params(), check_mode=False)
    assert (result["changed"], result["instance_refresh_id"], result["status"]) == (False, REFRESH_ID, status)


def test_rollback_from_a_moving_version_is_refused(mod: ModuleType, stubbed_clients) -> None:
    calls = release_calls(group("$Latest"), start=False)
    del calls["cloudwatch"]
    with pytest.raises(ValueError, match=r"uses its launch template's \$Latest version: AWS cannot roll back"):
        mod.run(stubbed_clients(calls), params(), check_mode=False)


def test_rollback_with_an_image_from_ssm_is_refused(mod: ModuleType, stubbed_clients) -> None:
    calls = release_calls(start=False)
    calls["ec2"][0] = (
        calls["ec2"][0][0],
        template_version(5, "resolve:ssm:/arena/staging/images/web"),
        calls["ec2"][0][2],
    )
    del calls["cloudwatch"]
    with pytest.raises(ValueError, match=r"takes its image from SSM \(resolve:ssm:/arena/staging/images/web\)"):
        mod.run(stubbed_clients(calls), params(), check_mode=False)


def test_a_missing_alarm_is_refused(mod: ModuleType, stubbed_clients) -> None:
    calls = release_calls(start=False)
    calls["cloudwatch"][0] = (
        calls["cloudwatch"][0][0],
        {"MetricAlarms": [{"AlarmName": ALARMS[0]}]},
        calls["cloudwatch"][0][2],
    )
    with pytest.raises(ValueError, match=r"alarms \['arena-staging-web-unhealthy-hosts'\] do not exist"):
        mod.run(stubbed_clients(calls), params(), check_mode=False)


def test_missing_group_is_an_error(mod: ModuleType, stubbed_clients) -> None:
    calls = {
        "autoscaling": [("describe_auto_scaling_groups", {"AutoScalingGroups": []}, {"AutoScalingGroupNames": [GROUP]})]
    }
    with pytest.raises(
        LookupError, match=f"^arena_autoscaling_instance_refresh: Auto Scaling group '{GROUP}' not found$"
    ):
        mod.run(stubbed_clients(calls), params(), check_mode=False)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"min_healthy_percentage": -1}, "min_healthy_percentage -1 is outside 0-100"),
        ({"min_healthy_percentage": 101}, "min_healthy_percentage 101 is outside 0-100"),
        ({"max_healthy_percentage": 99}, "max_healthy_percentage 99 is outside 100-200"),
        ({"max_healthy_percentage": 201}, "max_healthy_percentage 201 is outside 100-200"),
        (
            {"min_healthy_percentage": 50, "max_healthy_percentage": 200},
            "200 is more than 100 above min_healthy_percentage 50",
        ),
        (
            {"checkpoint_percentages": [50, 10, 100]},
            r"checkpoint_percentages \[50, 10, 100\] must be unique, ascending",
        ),
        ({"checkpoint_percentages": [10, 10, 100]}, "must be unique, ascending"),
        ({"checkpoint_percentages": [0, 100]}, "each 1-100"),
        ({"checkpoint_percentages": [10, 50]}, r"must end with 100"),
        ({"checkpoint_percentages": [], "checkpoint_delay": 60}, "checkpoint_delay needs checkpoint_percentages"),
        ({"checkpoint_delay": 172801}, "checkpoint_delay 172801 is outside 0-172800"),
        (
            {"launch_template_version": "latest"},
            "launch_template_version 'latest' is not a number, \\$Default or \\$Latest",
        ),
        ({"alarms": [""]}, "alarms must be names of 1-255 characters"),
    ],
)
def test_bad_input_is_refused_before_any_call(
    mod: ModuleType, stubbed_clients, overrides: dict[str, Any], message: str
) -> None:
    clients = stubbed_clients({})  # nothing queued: any API call would fail the test
    with pytest.raises(ValueError, match=message):
        mod.run(clients, params(**overrides), check_mode=False)


@pytest.mark.parametrize(
    "operation",
    ["describe_auto_scaling_groups", "describe_launch_template_versions", "describe_alarms", "start_instance_refresh"],
)
def test_throttled_call_is_retried_then_succeeds(
    mod: ModuleType, stubbed_clients, run_module: Any, retry_sleeps: list[float], operation: str
) -> None:
    """main() as Ansible runs it (its clients take the module's retry decorator: a bare client refuses
    aws_retry=True): a call answered with Throttling is retried once."""
    clients = stubbed_clients(release_calls(), fail=(operation, "Throttling"), raw=True)
    result = run_module(mod, params(), clients)
    assert result.get("failed") is None, result
    assert (result["changed"], result["instance_refresh_id"], len(retry_sleeps)) == (True, REFRESH_ID, 1)
