"""arena_cloudwatch_log_groups against botocore's Stubber (the real CloudWatch Logs API model): one
listing under the groups' common prefix, a group created when missing and its retention set when it
differs, nothing on a second run, and what the API refuses refused before any call
(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html,
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html).
Against the emulator: tests/ee/test_ee_platform.py (the tiers' groups)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

SERVICE = "logs"  # the client of the `stubbed` fixture (conftest.py)
STRICT_RETRY = True
GROUPS = [
    {"name": "/arena/staging/web/journal", "retention_days": 30},
    {"name": "/arena/staging/web/nginx-access", "retention_days": 14},
]
TAGS = {"Project": "arena", "Environment": "staging"}


def params(**overrides: Any) -> dict[str, Any]:
    return {"state": "present", "groups": GROUPS, "tags": TAGS, **overrides}


def expect_listing(stub: Any, groups: list[dict[str, Any]], prefix: str = "/arena/staging/web/") -> None:
    stub.add_response("describe_log_groups", {"logGroups": groups}, {"logGroupNamePrefix": prefix})


def test_missing_group_created_with_tags_and_retention(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    expect_listing(stub, [{"logGroupName": "/arena/staging/web/journal", "retentionInDays": 30}])
    stub.add_response("create_log_group", {}, {"logGroupName": GROUPS[1]["name"], "tags": TAGS})
    stub.add_response("put_retention_policy", {}, {"logGroupName": GROUPS[1]["name"], "retentionInDays": 14})
    result = mod.run(client, params(), check_mode=False)
    assert (result["created"], result["retention_set"]) == ([GROUPS[1]["name"]], [GROUPS[1]["name"]])


def test_groups_as_listed_change_nothing(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    listed = [{"logGroupName": g["name"], "retentionInDays": g["retention_days"]} for g in GROUPS]
    expect_listing(stub, [*listed, {"logGroupName": "/arena/staging/web/journal-old"}])
    assert mod.run(client, params(), check_mode=False)["changed"] is False


def test_a_changed_retention_is_set_and_check_mode_only_reports(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    listed = [{"logGroupName": g["name"], "retentionInDays": 7} for g in GROUPS]
    expect_listing(stub, listed)
    result = mod.run(client, params(), check_mode=True)
    assert (result["changed"], result["created"], len(result["retention_set"])) == (True, [], 2)


def test_absent_deletes_what_exists(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    expect_listing(stub, [{"logGroupName": GROUPS[0]["name"]}])
    stub.add_response("delete_log_group", {}, {"logGroupName": GROUPS[0]["name"]})
    assert mod.run(client, params(state="absent"), check_mode=False)["deleted"] == [GROUPS[0]["name"]]


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ([{"name": "/arena/staging/web/journal", "retention_days": 45}], r"retention_days 45 is not one of \[1, 3, 5"),
        ([{"name": "/arena/staging/web journal", "retention_days": 30}], r"a log group name is 1-512 characters"),
        ([GROUPS[0], GROUPS[0]], r"must be unique"),
    ],
)
def test_what_the_api_refuses_is_refused_before_any_call(
    mod: ModuleType, stubbed: Any, groups: list[dict[str, Any]], message: str
) -> None:
    client, _ = stubbed  # nothing queued
    with pytest.raises(mod.GroupError, match=message):
        mod.run(client, params(groups=groups), check_mode=False)


def test_throttled_call_is_retried(mod: ModuleType, run_retried: Any) -> None:
    calls = [
        (
            "describe_log_groups",
            {"logGroups": [{"logGroupName": g["name"], "retentionInDays": g["retention_days"]} for g in GROUPS]},
            {"logGroupNamePrefix": "/arena/staging/web/"},
        )
    ]
    result = run_retried(mod, params(), "logs", calls, ("describe_log_groups", "ThrottlingException"))
    assert result["changed"] is False
