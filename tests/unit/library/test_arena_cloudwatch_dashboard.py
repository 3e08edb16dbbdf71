"""arena_cloudwatch_dashboard against botocore's Stubber (the real CloudWatch API model, every request
pinned) and against moto in process: a dashboard is written only when missing or when its parsed body
differs, tags only on create, check mode writes nothing, DashboardValidationMessages fail the task,
absent tolerates a dashboard that is already gone, and what PutDashboard refuses is refused first
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html)."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest
from arena_loader import aws_client, filter_plugin
from arena_testlib import RequireRetry

SERVICE = "cloudwatch"  # the client of the `stubbed` fixture (conftest.py)
STRICT_RETRY = True
NAME = "arena-staging-event-day"
ARN = f"arn:aws:cloudwatch::123456789012:dashboard/{NAME}"
BODY = {
    "start": "-PT6H",
    "widgets": [
        {"type": "text", "x": 0, "y": 0, "width": 24, "height": 2, "properties": {"markdown": "# staging"}},
        {
            "type": "metric",
            "x": 0,
            "y": 2,
            "width": 8,
            "height": 6,
            "properties": {"region": "eu-west-1", "metrics": [["AWS/ApplicationELB", "RequestCount"]], "period": 60},
        },
    ],
}
# What the module sends: compact JSON, keys sorted.
SENT = json.dumps(BODY, sort_keys=True, separators=(",", ":"))
TAGS = {"Project": "arena", "Environment": "staging"}
SENT_TAGS = [{"Key": "Environment", "Value": "staging"}, {"Key": "Project", "Value": "arena"}]


def params(**overrides: Any) -> dict[str, Any]:
    return {"state": "present", "name": NAME, "body": BODY, "tags": TAGS, **overrides}


def expect_get(stub: Any, body: Any) -> None:
    """GetDashboard answers ``body`` (a string as AWS stores it), or ResourceNotFound when None."""
    if body is None:
        stub.add_client_error(
            "get_dashboard", service_error_code="ResourceNotFound", expected_params={"DashboardName": NAME}
        )
    else:
        answer = {"DashboardArn": ARN, "DashboardName": NAME, "DashboardBody": body}
        stub.add_response("get_dashboard", answer, {"DashboardName": NAME})


def test_a_missing_dashboard_is_created_with_its_tags(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    expect_get(stub, None)
    stub.add_response(
        "put_dashboard",
        {"DashboardValidationMessages": []},
        {"DashboardName": NAME, "DashboardBody": SENT, "Tags": SENT_TAGS},
    )
    result = mod.run(client, params(), check_mode=False)
    assert (result["changed"], result["before"], result["after"]) == (True, {}, BODY)
    assert "arn" not in result


def test_the_same_body_in_another_key_order_and_spacing_changes_nothing(mod: ModuleType, stubbed: Any) -> None:
    """GetDashboard answers the body as the console or another tool wrote it: parsed, it is the same."""
    client, stub = stubbed
    reordered = {"widgets": [dict(reversed(list(w.items()))) for w in BODY["widgets"]], "start": "-PT6H"}
    expect_get(stub, json.dumps(reordered, indent=2))
    result = mod.run(client, params(), check_mode=False)
    assert (result["changed"], result["arn"]) == (False, ARN)


def test_a_changed_body_is_written_without_tags(mod: ModuleType, stubbed: Any) -> None:
    """PutDashboard ignores tags on an update: none are sent."""
    client, stub = stubbed
    old = {**BODY, "start": "-PT3H"}
    expect_get(stub, json.dumps(old))
    stub.add_response("put_dashboard", {}, {"DashboardName": NAME, "DashboardBody": SENT})
    result = mod.run(client, params(), check_mode=False)
    assert (result["changed"], result["before"]["start"], result["after"]["start"]) == (True, "-PT3H", "-PT6H")


def test_check_mode_reports_the_change_without_writing(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed  # only the read is queued: a put would find no answer and fail
    expect_get(stub, None)
    assert mod.run(client, params(), check_mode=True)["changed"] is True


def test_validation_messages_fail_naming_their_path(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    expect_get(stub, None)
    messages = [{"DataPath": "/widgets/1/properties/metrics/0", "Message": "Should NOT have more than 4 items"}]
    stub.add_response(
        "put_dashboard",
        {"DashboardValidationMessages": messages},
        {"DashboardName": NAME, "DashboardBody": SENT, "Tags": SENT_TAGS},
    )
    with pytest.raises(mod.DashboardError, match=r"/widgets/1/properties/metrics/0: Should NOT have more") as caught:
        mod.run(client, params(), check_mode=False)
    assert caught.value.messages == messages


def test_absent_deletes_an_existing_dashboard(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    expect_get(stub, SENT)
    stub.add_response("delete_dashboards", {}, {"DashboardNames": [NAME]})
    result = mod.run(client, params(state="absent", body=None), check_mode=False)
    assert (result["changed"], result["before"], result["after"]) == (True, BODY, {})


def test_absent_on_a_missing_dashboard_changes_nothing(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    expect_get(stub, None)
    assert mod.run(client, params(state="absent", body=None), check_mode=False)["changed"] is False


def test_absent_tolerates_a_dashboard_deleted_meanwhile(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    expect_get(stub, SENT)
    stub.add_client_error(
        "delete_dashboards", service_error_code="ResourceNotFound", expected_params={"DashboardNames": [NAME]}
    )
    assert mod.run(client, params(state="absent", body=None), check_mode=False)["changed"] is True


def test_absent_in_check_mode_deletes_nothing(mod: ModuleType, stubbed: Any) -> None:
    client, stub = stubbed
    expect_get(stub, SENT)
    assert mod.run(client, params(state="absent", body=None), check_mode=True)["changed"] is True


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "arena staging"}, "name 'arena staging' must be 1-255 characters of A-Z, a-z, 0-9, - and _"),
        ({"name": "x" * 256}, "must be 1-255 characters"),
        ({"body": {"widget": []}}, "body must be a mapping with a widgets list"),
    ],
)
def test_what_put_dashboard_refuses_is_refused_before_any_call(
    mod: ModuleType, stubbed: Any, change: dict[str, Any], message: str
) -> None:
    client, _ = stubbed  # nothing queued
    with pytest.raises(mod.DashboardError, match=message):
        mod.run(client, params(**change), check_mode=False)


@pytest.mark.parametrize("operation", ["get_dashboard", "put_dashboard"])
def test_throttled_call_is_retried(mod: ModuleType, run_retried: Any, operation: str) -> None:
    calls = [
        ("get_dashboard", {"DashboardArn": ARN, "DashboardName": NAME, "DashboardBody": "{}"}, {"DashboardName": NAME}),
        ("put_dashboard", {}, {"DashboardName": NAME, "DashboardBody": SENT}),
    ]
    result = run_retried(mod, params(), "cloudwatch", calls, (operation, "Throttling"))
    assert (result["changed"], result["name"], result["arn"]) == (True, NAME, ARN)


def test_main_fails_with_the_validation_messages(mod: ModuleType, run_with_calls: Any) -> None:
    messages = [{"DataPath": "/widgets/0/width", "Message": "Should be <= 24"}]
    calls = [
        ("get_dashboard", {"Error": {"Code": "ResourceNotFound"}}, {"DashboardName": NAME}),
        (
            "put_dashboard",
            {"DashboardValidationMessages": messages},
            {"DashboardName": NAME, "DashboardBody": SENT, "Tags": SENT_TAGS},
        ),
    ]
    result = run_with_calls(mod, params(), "cloudwatch", calls)
    assert result["failed"] is True
    assert result["validation_messages"] == messages
    assert "/widgets/0/width: Should be <= 24" in result["msg"]


def test_main_reports_a_refused_body(mod: ModuleType, run_with_calls: Any) -> None:
    calls = [
        ("get_dashboard", {"Error": {"Code": "ResourceNotFound"}}, {"DashboardName": NAME}),
        (
            "put_dashboard",
            {"Error": {"Code": "InvalidParameterInput"}},
            {"DashboardName": NAME, "DashboardBody": SENT, "Tags": SENT_TAGS},
        ),
    ]
    result = run_with_calls(mod, params(), "cloudwatch", calls)
    assert result["failed"] is True
    assert result["msg"].startswith(f"arena_cloudwatch_dashboard: PutDashboard refused {NAME}")


def test_against_moto_create_rerun_update_check_and_delete(mod: ModuleType) -> None:
    """The whole life of the event-day dashboard (the filter's body) in moto: each step's change and
    what GetDashboard then holds."""
    from moto import mock_aws  # noqa: PLC0415 -- only this test needs moto in process

    view = {
        "environment": "staging",
        "region": "eu-west-1",
        "name_prefix": "arena-staging",
        "metrics_namespace": "Arena/Instances",
        "tiers": {
            "web": {
                "load_balancer": "app/arena-staging-public/50dc6c495c0c9188",
                "target_group": "targetgroup/arena-staging-web/73e2d6bc24d8a067",
                "group": "arena-staging-web",
            }
        },
    }
    events = [{"name": "Final", "start_utc": "2027-03-28T19:45:00Z"}]
    body = filter_plugin("arena_dashboard").arena_dashboard_body(view, events, {"now": "2027-03-27T12:00:00Z"})
    with mock_aws():
        raw = aws_client("cloudwatch")
        client = RequireRetry(raw, mod.RETRY)
        steps = [
            (params(body=body), False, True),
            (params(body=body), False, False),
            (params(body={**body, "start": "-PT3H"}), True, True),  # check mode: nothing written
            (params(body={**body, "start": "-PT3H"}), False, True),
            (params(state="absent", body=None), False, True),
            (params(state="absent", body=None), False, False),
        ]
        stored = []
        for args, check, changed in steps:
            assert mod.run(client, args, check_mode=check)["changed"] is changed, (args["state"], check)
            names = [d["DashboardName"] for d in raw.list_dashboards()["DashboardEntries"]]
            stored.append(
                json.loads(raw.get_dashboard(DashboardName=NAME)["DashboardBody"])["start"] if names else None
            )
    assert stored == ["-PT6H", "-PT6H", "-PT6H", "-PT3H", None, None]


def test_check_mode_with_diff_shows_before_and_after(mod: ModuleType, run_with_calls: Any) -> None:
    """What tests/unit/library/test_check_diff.py asks of every module: --check --diff shows the change."""
    old = {**BODY, "start": "-PT3H"}
    calls = [
        (
            "get_dashboard",
            {"DashboardArn": ARN, "DashboardName": NAME, "DashboardBody": json.dumps(old)},
            {"DashboardName": NAME},
        )
    ]
    result = run_with_calls(mod, {**params(), "_ansible_check_mode": True, "_ansible_diff": True}, "cloudwatch", calls)
    assert result["changed"] is True
    assert (result["diff"]["before"]["start"], result["diff"]["after"]["start"]) == ("-PT3H", "-PT6H")
    quiet = run_with_calls(mod, {**params(), "_ansible_check_mode": True}, "cloudwatch", calls)
    assert quiet["changed"] is True and "diff" not in quiet
