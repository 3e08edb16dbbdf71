"""arena_sesv2_email_identity, arena_sesv2_configuration_set and arena_sesv2_identity_policy against
botocore's real SES v2 / v1 models (Stubber). Covers what the emulator does not implement: DKIM
signing and MAIL FROM updates, configuration-set option updates."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from arena_loader import library_module
from botocore.stub import Stubber
from stub_answers import expect_lookup

TOPIC = "arn:aws:sns:eu-west-1:123456789012:arena-mail-events"


identity_mod = library_module("arena_sesv2_email_identity")
cset_mod = library_module("arena_sesv2_configuration_set")
policy_mod = library_module("arena_sesv2_identity_policy")


# Clients as AnsibleAWSModule.client hands them out: calls take aws_retry=True (each module's own
# decorators are exercised through main() below).
@pytest.fixture
def v2(stub_client: Any) -> tuple[Any, Stubber]:
    return stub_client("sesv2", AWSRetry.jittered_backoff())


@pytest.fixture
def v1(stub_client: Any) -> tuple[Any, Stubber]:
    return stub_client("ses", AWSRetry.jittered_backoff())


def id_params(**over: Any) -> dict[str, Any]:
    base = {
        "identity": "mail.arena.example",
        "dkim_signing": True,
        "dkim_key_length": "RSA_2048_BIT",
        "mail_from_domain": "bounce.mail.arena.example",
        "behavior_on_mx_failure": "USE_DEFAULT_VALUE",
        "configuration_set": "arena-prod",
        "tags": {"Project": "arena"},
        "state": "present",
    }
    base.update(over)
    return base


def live_identity(**over: Any) -> dict[str, Any]:
    base = {
        "IdentityType": "DOMAIN",
        "VerifiedForSendingStatus": True,
        "DkimAttributes": {"SigningEnabled": True, "Status": "SUCCESS", "Tokens": ["t1", "t2", "t3"]},
        "MailFromAttributes": {
            "MailFromDomain": "bounce.mail.arena.example",
            "MailFromDomainStatus": "SUCCESS",
            "BehaviorOnMxFailure": "USE_DEFAULT_VALUE",
        },
        "ConfigurationSetName": "arena-prod",
    }
    base.update(over)
    return base


def expect_identity(stubber: Stubber, found: dict[str, Any] | None) -> None:
    expect_lookup(stubber, "get_email_identity", {"EmailIdentity": "mail.arena.example"}, found, "NotFoundException")


def test_identity_created_with_2048_bit_dkim_then_mail_from(v2) -> None:
    c, stubber = v2
    expect_identity(stubber, None)
    stubber.add_response(
        "create_email_identity",
        {"IdentityType": "DOMAIN", "VerifiedForSendingStatus": False},
        {
            "EmailIdentity": "mail.arena.example",
            "DkimSigningAttributes": {"NextSigningKeyLength": "RSA_2048_BIT"},
            "Tags": [{"Key": "Project", "Value": "arena"}],
            "ConfigurationSetName": "arena-prod",
        },
    )
    expect_identity(stubber, {k: v for k, v in live_identity().items() if k != "MailFromAttributes"})
    stubber.add_response(
        "put_email_identity_mail_from_attributes",
        {},
        {
            "EmailIdentity": "mail.arena.example",
            "MailFromDomain": "bounce.mail.arena.example",
            "BehaviorOnMxFailure": "USE_DEFAULT_VALUE",
        },
    )
    expect_identity(stubber, live_identity())
    changed, current = identity_mod.ensure_present(c, c, id_params(), check_mode=False)
    assert changed
    assert current["DkimAttributes"]["Tokens"] == ["t1", "t2", "t3"]


def test_identity_in_sync_is_unchanged(v2) -> None:
    c, stubber = v2
    expect_identity(stubber, live_identity())
    assert not identity_mod.ensure_present(c, c, id_params(), check_mode=False)[0]


@pytest.mark.parametrize(
    ("live", "method", "request_"),
    [
        (
            live_identity(DkimAttributes={"SigningEnabled": False}),
            "put_email_identity_dkim_attributes",
            {"EmailIdentity": "mail.arena.example", "SigningEnabled": True},
        ),
        (
            live_identity(ConfigurationSetName="old"),
            "put_email_identity_configuration_set_attributes",
            {"EmailIdentity": "mail.arena.example", "ConfigurationSetName": "arena-prod"},
        ),
        (
            live_identity(
                MailFromAttributes={
                    "MailFromDomain": "bounce.mail.arena.example",
                    "MailFromDomainStatus": "SUCCESS",
                    "BehaviorOnMxFailure": "REJECT_MESSAGE",
                }
            ),
            "put_email_identity_mail_from_attributes",
            {
                "EmailIdentity": "mail.arena.example",
                "MailFromDomain": "bounce.mail.arena.example",
                "BehaviorOnMxFailure": "USE_DEFAULT_VALUE",
            },
        ),
    ],
    ids=["dkim-off", "configuration-set", "mx-failure"],
)
def test_identity_drift_is_corrected(v2, live: dict[str, Any], method: str, request_: dict[str, Any]) -> None:
    c, stubber = v2
    expect_identity(stubber, live)
    stubber.add_response(method, {}, request_)
    expect_identity(stubber, live_identity())
    assert identity_mod.ensure_present(c, c, id_params(), check_mode=False)[0]


def test_identity_check_mode(v2) -> None:
    c, stubber = v2
    expect_identity(stubber, live_identity(DkimAttributes={"SigningEnabled": False}))
    assert identity_mod.ensure_present(c, c, id_params(), check_mode=True)[0]
    expect_identity(stubber, None)
    assert identity_mod.ensure_present(c, c, id_params(), check_mode=True) == (True, {})


def test_identity_absent(v2) -> None:
    c, stubber = v2
    expect_identity(stubber, live_identity())
    stubber.add_response("delete_email_identity", {}, {"EmailIdentity": "mail.arena.example"})
    assert identity_mod.ensure_absent(c, id_params(state="absent"), check_mode=False)
    expect_identity(stubber, None)
    assert not identity_mod.ensure_absent(c, id_params(state="absent"), check_mode=False)


def cs_params(**over: Any) -> dict[str, Any]:
    base = {
        "name": "arena-prod",
        "tls_policy": "REQUIRE",
        "reputation_metrics": True,
        "suppressed_reasons": ["COMPLAINT", "BOUNCE"],
        "event_destinations": [
            {
                "name": "bounces",
                "enabled": True,
                "sns_topic_arn": TOPIC,
                "matching_event_types": ["BOUNCE", "COMPLAINT"],
            }
        ],
        "tags": {"Project": "arena"},
        "state": "present",
    }
    base.update(over)
    return base


LIVE_SET = {
    "ConfigurationSetName": "arena-prod",
    "DeliveryOptions": {"TlsPolicy": "REQUIRE"},
    "ReputationOptions": {"ReputationMetricsEnabled": True},
    "SuppressionOptions": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
}
V1_DEST = {
    "Name": "bounces",
    "Enabled": True,
    "MatchingEventTypes": ["complaint", "bounce"],
    "SNSDestination": {"TopicARN": TOPIC},
}


def expect_v1_destinations(stubber: Stubber, dests: list[dict[str, Any]]) -> None:
    stubber.add_response(
        "describe_configuration_set",
        {"ConfigurationSet": {"Name": "arena-prod"}, "EventDestinations": dests},
        {"ConfigurationSetName": "arena-prod", "ConfigurationSetAttributeNames": ["eventDestinations"]},
    )


def test_configuration_set_created_with_event_destination(v2, v1) -> None:
    c2, s2 = v2
    c1, s1 = v1
    s2.add_client_error(
        "get_configuration_set",
        service_error_code="NotFoundException",
        expected_params={"ConfigurationSetName": "arena-prod"},
    )
    s2.add_response(
        "create_configuration_set",
        {},
        {
            "ConfigurationSetName": "arena-prod",
            "DeliveryOptions": {"TlsPolicy": "REQUIRE"},
            "ReputationOptions": {"ReputationMetricsEnabled": True},
            "SuppressionOptions": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
            "Tags": [{"Key": "Project", "Value": "arena"}],
        },
    )
    s1.add_response(
        "create_configuration_set_event_destination",
        {},
        {
            "ConfigurationSetName": "arena-prod",
            "EventDestination": {**V1_DEST, "MatchingEventTypes": ["bounce", "complaint"]},
        },
    )
    changed, result = cset_mod.ensure_present(c2, c1, cs_params(), check_mode=False)
    assert changed
    assert result["event_destinations"] == ["bounces"]


def test_configuration_set_in_sync_is_unchanged(v2, v1) -> None:
    c2, s2 = v2
    c1, s1 = v1
    s2.add_response("get_configuration_set", LIVE_SET, {"ConfigurationSetName": "arena-prod"})
    expect_v1_destinations(s1, [V1_DEST])
    assert not cset_mod.ensure_present(c2, c1, cs_params(), check_mode=False)[0]


def test_configuration_set_drift_options_and_destinations(v2, v1) -> None:
    c2, s2 = v2
    c1, s1 = v1
    s2.add_response(
        "get_configuration_set",
        {**LIVE_SET, "DeliveryOptions": {"TlsPolicy": "OPTIONAL"}, "SuppressionOptions": {"SuppressedReasons": []}},
        {"ConfigurationSetName": "arena-prod"},
    )
    expect_v1_destinations(s1, [{**V1_DEST, "MatchingEventTypes": ["bounce"]}, {**V1_DEST, "Name": "stale"}])
    s2.add_response(
        "put_configuration_set_delivery_options", {}, {"ConfigurationSetName": "arena-prod", "TlsPolicy": "REQUIRE"}
    )
    s2.add_response(
        "put_configuration_set_suppression_options",
        {},
        {"ConfigurationSetName": "arena-prod", "SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
    )
    s1.add_response(
        "update_configuration_set_event_destination",
        {},
        {
            "ConfigurationSetName": "arena-prod",
            "EventDestination": {**V1_DEST, "MatchingEventTypes": ["bounce", "complaint"]},
        },
    )
    s1.add_response(
        "delete_configuration_set_event_destination",
        {},
        {"ConfigurationSetName": "arena-prod", "EventDestinationName": "stale"},
    )
    assert cset_mod.ensure_present(c2, c1, cs_params(), check_mode=False)[0]


def test_configuration_set_check_mode(v2, v1) -> None:
    c2, s2 = v2
    c1, s1 = v1
    s2.add_response("get_configuration_set", LIVE_SET, {"ConfigurationSetName": "arena-prod"})
    expect_v1_destinations(s1, [])
    assert cset_mod.ensure_present(c2, c1, cs_params(), check_mode=True)[0]


def test_configuration_set_unknown_event_type() -> None:
    with pytest.raises(ValueError, match=r"^event_destinations\[x\]: unknown event types \['BOUNCES'\]$"):
        cset_mod.v1_destination({"name": "x", "sns_topic_arn": TOPIC, "matching_event_types": ["BOUNCES"]})


def test_configuration_set_absent(v2) -> None:
    c2, s2 = v2
    s2.add_response("get_configuration_set", LIVE_SET, {"ConfigurationSetName": "arena-prod"})
    s2.add_response("delete_configuration_set", {}, {"ConfigurationSetName": "arena-prod"})
    assert cset_mod.ensure_absent(c2, cs_params(state="absent"), check_mode=False)


POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "relay",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:user/relay"},
            "Action": ["ses:SendRawEmail"],
            "Resource": "*",
        }
    ],
}


def pol_params(**over: Any) -> dict[str, Any]:
    base = {"identity": "mail.arena.example", "policy_name": "relay", "policy": json.dumps(POLICY), "state": "present"}
    base.update(over)
    return base


def expect_policies(stubber: Stubber, policies: dict[str, str]) -> None:
    stubber.add_response("get_email_identity_policies", {"Policies": policies}, {"EmailIdentity": "mail.arena.example"})


def test_policy_created_then_unchanged_regardless_of_formatting(v2) -> None:
    c, stubber = v2
    expect_policies(stubber, {})
    stubber.add_response(
        "create_email_identity_policy",
        {},
        {"EmailIdentity": "mail.arena.example", "PolicyName": "relay", "Policy": json.dumps(POLICY, sort_keys=True)},
    )
    assert policy_mod.ensure(c, pol_params(), check_mode=False) == (True, POLICY)
    expect_policies(stubber, {"relay": json.dumps(POLICY, indent=2)})
    assert policy_mod.ensure(c, pol_params(), check_mode=False) == (False, POLICY)


def test_policy_updated_and_deleted(v2) -> None:
    c, stubber = v2
    expect_policies(stubber, {"relay": json.dumps({"Version": "2012-10-17", "Statement": []})})
    stubber.add_response(
        "update_email_identity_policy",
        {},
        {"EmailIdentity": "mail.arena.example", "PolicyName": "relay", "Policy": json.dumps(POLICY, sort_keys=True)},
    )
    assert policy_mod.ensure(c, pol_params(), check_mode=False)[0]
    expect_policies(stubber, {"relay": json.dumps(POLICY)})
    stubber.add_response(
        "delete_email_identity_policy", {}, {"EmailIdentity": "mail.arena.example", "PolicyName": "relay"}
    )
    assert policy_mod.ensure(c, pol_params(state="absent"), check_mode=False) == (True, {})


def test_policy_check_mode(v2) -> None:
    c, stubber = v2
    expect_policies(stubber, {})
    assert policy_mod.ensure(c, pol_params(), check_mode=True)[0]


NOT_FOUND = {"Error": {"Code": "NotFoundException"}}
IDENTITY = {"EmailIdentity": "mail.arena.example"}


def identity_creation_calls(*, not_yet_visible: bool = False) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """A new identity naming the configuration set; with not_yet_visible, the first read after
    CreateEmailIdentity answers NotFoundException (SES eventual consistency)."""
    create = {
        "EmailIdentity": "mail.arena.example",
        "DkimSigningAttributes": {"NextSigningKeyLength": "RSA_2048_BIT"},
        "Tags": [{"Key": "Project", "Value": "arena"}],
        "ConfigurationSetName": "arena-prod",
    }
    mail_from = {
        "EmailIdentity": "mail.arena.example",
        "MailFromDomain": "bounce.mail.arena.example",
        "BehaviorOnMxFailure": "USE_DEFAULT_VALUE",
    }
    without_mail_from = {k: v for k, v in live_identity().items() if k != "MailFromAttributes"}
    return [
        ("get_email_identity", NOT_FOUND, IDENTITY),
        ("create_email_identity", {"IdentityType": "DOMAIN", "VerifiedForSendingStatus": False}, create),
        *([("get_email_identity", NOT_FOUND, IDENTITY)] if not_yet_visible else []),
        ("get_email_identity", without_mail_from, IDENTITY),
        ("put_email_identity_mail_from_attributes", {}, mail_from),
        ("get_email_identity", live_identity(), IDENTITY),
    ]


@pytest.mark.parametrize(
    ("fail", "not_yet_visible"),
    [
        # The existence check's NotFoundException is an answer: nothing else is retried.
        (None, False),
        (("get_email_identity", "TooManyRequestsException"), False),
        (("create_email_identity", "ThrottlingException"), False),
        # The configuration set created by the task before is not visible yet:
        # https://docs.aws.amazon.com/ses/latest/dg/troubleshoot-general.html
        (("create_email_identity", "NotFoundException"), False),
        # The identity just created is not visible yet.
        (None, True),
        (("put_email_identity_mail_from_attributes", "NotFoundException"), False),
    ],
    ids=["no-error", "throttled-read", "throttled-create", "new-set", "new-identity", "new-identity-write"],
)
def test_identity_retries_throttling_and_eventual_consistency(
    run_retried: Any, *, fail: Any, not_yet_visible: bool
) -> None:
    calls = identity_creation_calls(not_yet_visible=not_yet_visible)
    retries = 0 if fail is None and not not_yet_visible else 1
    result = run_retried(identity_mod, id_params(), "sesv2", calls, fail, retries=retries)
    assert result["dkim_tokens"] == ["t1", "t2", "t3"]


CREATE_SET = {
    "ConfigurationSetName": "arena-prod",
    "DeliveryOptions": {"TlsPolicy": "REQUIRE"},
    "ReputationOptions": {"ReputationMetricsEnabled": True},
    "SuppressionOptions": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
    "Tags": [{"Key": "Project", "Value": "arena"}],
}
CREATE_DESTINATION = {
    "ConfigurationSetName": "arena-prod",
    "EventDestination": {**V1_DEST, "MatchingEventTypes": ["bounce", "complaint"]},
}


@pytest.mark.parametrize(
    ("api", "fail"),
    [
        ("v2", None),
        ("v2", ("get_configuration_set", "TooManyRequestsException")),
        ("v2", ("create_configuration_set", "ThrottlingException")),
        ("v1", ("create_configuration_set_event_destination", "Throttling")),
        # The set SES v2 has just created is not visible to SES v1 yet:
        # https://docs.aws.amazon.com/ses/latest/dg/troubleshoot-general.html
        ("v1", ("create_configuration_set_event_destination", "ConfigurationSetDoesNotExist")),
    ],
    ids=["no-error", "throttled-read", "throttled-create", "throttled-v1", "new-set-on-v1"],
)
def test_configuration_set_retries_throttling_and_eventual_consistency(
    stub_client: Any, *, run_module: Any, queue_calls: Any, retry_sleeps: list[float], api: str, fail: Any
) -> None:
    v2_calls = [
        ("get_configuration_set", NOT_FOUND, {"ConfigurationSetName": "arena-prod"}),
        ("create_configuration_set", {}, CREATE_SET),
    ]
    v1_calls = [("create_configuration_set_event_destination", {}, CREATE_DESTINATION)]
    (raw_v2, s2), (raw_v1, s1) = stub_client("sesv2"), stub_client("ses")
    queue_calls(s2, v2_calls, fail if api == "v2" else None)
    queue_calls(s1, v1_calls, fail if api == "v1" else None)
    result = run_module(cset_mod, cs_params(), {"sesv2": raw_v2, "ses": raw_v1})
    s2.assert_no_pending_responses()
    s1.assert_no_pending_responses()
    assert result.get("failed") is None, result
    assert result["configuration_set"]["event_destinations"] == ["bounces"]
    assert len(retry_sleeps) == (0 if fail is None else 1)


@pytest.mark.parametrize(
    "fail",
    [
        ("get_email_identity_policies", "TooManyRequestsException"),
        # The identity created by the task before is not visible yet:
        # https://docs.aws.amazon.com/ses/latest/dg/troubleshoot-general.html
        ("get_email_identity_policies", "NotFoundException"),
        # One request per second: https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_CreateEmailIdentityPolicy.html
        ("create_email_identity_policy", "ThrottlingException"),
        ("create_email_identity_policy", "NotFoundException"),
    ],
)
def test_policy_retries_throttling_and_a_new_identity(run_retried: Any, *, fail: tuple[str, str]) -> None:
    create = {**IDENTITY, "PolicyName": "relay", "Policy": json.dumps(POLICY, sort_keys=True)}
    calls = [("get_email_identity_policies", {"Policies": {}}, IDENTITY), ("create_email_identity_policy", {}, create)]
    result = run_retried(policy_mod, pol_params(), "sesv2", calls, fail)
    assert result["policy"] == POLICY
