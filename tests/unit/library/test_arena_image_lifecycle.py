"""arena_image_lifecycle against botocore's Stubber (the real EC2, Auto Scaling and SSM API models).

The emulator has no AMI deprecation of its own (scripts/lab/emulator_server.py adds it) and no
launch template ResolveAlias, and it cannot back-date an image or a parameter version: this file
pins the exact requests of a run, with images and parameter histories of any age. Every Stubber
call names its expected parameters, so an unexpected write (or one in check mode) fails the test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from botocore.stub import Stubber
from stub_answers import auto_scaling_groups

NOW = datetime(2027, 3, 1, 12, 0, 30, tzinfo=UTC)
SOON = datetime(2027, 3, 1, 12, 2, tzinfo=UTC)  # NOW + 1 minute, on the next whole minute
IMAGE_FILTERS = [
    {"Name": "tag:Project", "Values": ["arena"]},
    {"Name": "tag:Tier", "Values": ["web"]},
]
HISTORY_NAMES = ["/arena/staging/images/web", "/arena/staging/images-previous/web"]


def params(**overrides: Any) -> dict[str, Any]:
    base = {
        "environment": "staging",
        "protect_environments": [],
        "tiers": ["web"],
        "keep_releases": 2,
        "deprecate_after_days": 30,
        "rollback_window_days": 14,
        "project": "arena",
        "parameter_prefix": "/arena",
        "filters": {},
    }
    return {**base, **overrides}


def image(
    image_id: str, created: str, *, snapshots: list[str] | None = None, tier: str = "web", **fields: Any
) -> dict[str, Any]:
    """A DescribeImages entry of the project: one EBS mapping per snapshot, plus an ephemeral one."""
    mappings = [
        {"DeviceName": f"/dev/xvd{chr(97 + i)}", "Ebs": {"SnapshotId": s}} for i, s in enumerate(snapshots or [])
    ]
    return {
        "ImageId": image_id,
        "Name": f"arena-{tier}-{image_id[-2:]}",
        "CreationDate": created,
        "State": "available",
        "Public": False,
        "BlockDeviceMappings": [*mappings, {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"}],
        "Tags": [{"Key": "Project", "Value": "arena"}, {"Key": "Tier", "Value": tier}],
        **fields,
    }


def version(number: int, value: str, modified: datetime) -> dict[str, Any]:
    return {"Name": "p", "Type": "String", "Value": value, "Version": number, "LastModifiedDate": modified}


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T09:00:00+00:00")


class Stubs:
    """The three clients of a run, as the module gets them (retrying wrappers), and their stubbers.
    With `fail = (operation, code)`, the first call of that operation is answered with that error
    first (the module must retry it)."""

    def __init__(self, mod: ModuleType, stub_client: Any) -> None:
        self.ec2, self.ec2_stub = stub_client("ec2", mod.RETRY)
        self.asg, self.asg_stub = stub_client("autoscaling", mod.RETRY)
        self.ssm, self.ssm_stub = stub_client("ssm", mod.RETRY)
        self.clients = mod.Clients(self.ec2, self.asg, self.ssm)
        self.fail: tuple[str, str] | None = None

    def answer(self, stubber: Stubber, operation: str, response: dict[str, Any], expected: dict[str, Any]) -> None:
        if self.fail and self.fail[0] == operation:
            stubber.add_client_error(operation, service_error_code=self.fail[1], expected_params=expected)
            self.fail = None
        if set(response) == {"Error"}:
            stubber.add_client_error(operation, service_error_code=response["Error"], expected_params=expected)
        else:
            stubber.add_response(operation, response, expected)

    def images(self, images: list[dict[str, Any]], filters: list[dict[str, Any]] = IMAGE_FILTERS) -> None:
        expected = {"Owners": ["self"], "Filters": filters, "IncludeDeprecated": True}
        self.answer(self.ec2_stub, "describe_images", {"Images": images}, expected)

    def groups(self, *groups: dict[str, Any]) -> None:
        self.answer(self.asg_stub, "describe_auto_scaling_groups", {"AutoScalingGroups": list(groups)}, {})

    def project_templates(self, *templates: dict[str, Any]) -> None:
        expected = {"Filters": [{"Name": "tag:Project", "Values": ["arena"]}]}
        self.answer(self.ec2_stub, "describe_launch_templates", {"LaunchTemplates": list(templates)}, expected)

    def versions(self, key: dict[str, str], versions: list[str], *entries: dict[str, Any]) -> None:
        expected = {**key, "Versions": versions, "ResolveAlias": True}
        response = {"LaunchTemplateVersions": list(entries)}
        self.answer(self.ec2_stub, "describe_launch_template_versions", response, expected)

    def instances(self, *instances: tuple[str, str, str]) -> None:
        reservations = [
            {"Instances": [{"InstanceId": i, "ImageId": ami, "State": {"Name": state}}]} for i, ami, state in instances
        ]
        expected = {
            "Filters": [{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]
        }
        self.answer(self.ec2_stub, "describe_instances", {"Reservations": reservations}, expected)

    def history(self, name: str, *versions: dict[str, Any]) -> None:
        response = {"Parameters": list(versions)} if versions else {"Error": "ParameterNotFound"}
        self.answer(self.ssm_stub, "get_parameter_history", response, {"Name": name})

    def no_references(self, names: list[str] = HISTORY_NAMES) -> None:
        self.groups()
        self.project_templates()
        self.instances()
        for name in names:
            self.history(name)

    def deprecate(self, image_id: str, when: datetime) -> None:
        expected = {"ImageId": image_id, "DeprecateAt": when}
        self.answer(self.ec2_stub, "enable_image_deprecation", {"Return": True}, expected)

    def deregister(self, image_id: str, *snapshots: str) -> None:
        self.answer(self.ec2_stub, "deregister_image", {"Return": True}, {"ImageId": image_id})
        for snapshot in snapshots:
            self.answer(self.ec2_stub, "delete_snapshot", {}, {"SnapshotId": snapshot})


@pytest.fixture
def stubs(mod: ModuleType, stub_client: Any, retry_sleeps: list[float]) -> Stubs:
    return Stubs(mod, stub_client)


def clients(stubs: Stubs) -> dict[str, Any]:
    """The bare Stubber clients, for main() (run_module wraps them as AnsibleAWSModule.client does)."""
    return {"ec2": stubs.ec2.client, "autoscaling": stubs.asg.client, "ssm": stubs.ssm.client}


# The main case: keep 2 web releases; five older images, four of them still in use.
W7 = image("ami-0000000000000007", "2027-02-20T09:00:15.000Z")
W6 = image("ami-0000000000000006", "2027-02-10T09:00:00.000Z", DeprecationTime="2027-03-12T09:00:00.000Z")
W5 = image("ami-0000000000000005", "2027-02-01T09:00:00.000Z", snapshots=["snap-05"])
W4 = image("ami-0000000000000004", "2027-01-20T09:00:00.000Z", snapshots=["snap-04"])
W3 = image("ami-0000000000000003", "2027-01-10T09:00:00.000Z", snapshots=["snap-03"])
W2 = image("ami-0000000000000002", "2027-01-05T09:00:00.000Z", snapshots=["snap-02"])
W1 = image("ami-0000000000000001", "2027-01-01T09:00:00.000Z", snapshots=["snap-01a", "snap-01b"])
WEB_TEMPLATE = {"LaunchTemplateId": "lt-0web", "LaunchTemplateName": "arena-staging-web"}


def queue_main_references(stubs: Stubs) -> None:
    """W5: the group's template version 3; W4: a running instance (and the parameters); W3: the
    rollback copy replaced 9 days ago (inside the 14-day window); W2: the image parameter's value
    replaced 28 days ago (outside it), so W2 and W1 go."""
    stubs.groups(
        auto_scaling_groups("arena-staging-web", LaunchTemplate={**WEB_TEMPLATE, "Version": "3"})["AutoScalingGroups"][
            0
        ]
    )
    stubs.project_templates()
    stubs.versions(
        {"LaunchTemplateId": "lt-0web"},
        ["3"],
        {**WEB_TEMPLATE, "VersionNumber": 3, "DefaultVersion": True, "LaunchTemplateData": {"ImageId": W5["ImageId"]}},
    )
    stubs.instances(("i-0abc", W4["ImageId"], "running"), ("i-0def", "ami-0ther", "stopped"))
    stubs.history(
        "/arena/staging/images/web",
        version(1, W2["ImageId"], at("2027-01-05")),
        version(2, W4["ImageId"], at("2027-02-01")),
        version(3, W7["ImageId"], at("2027-02-20")),
    )
    stubs.history(
        "/arena/staging/images-previous/web",
        version(1, W3["ImageId"], at("2027-01-10")),
        version(2, W4["ImageId"], at("2027-02-20")),
    )


MAIN_KEPT = [
    (W7, ["among the last 2 releases"]),
    (W6, ["among the last 2 releases"]),
    (W5, ["launch template arena-staging-web version 3, used by Auto Scaling group arena-staging-web"]),
    (
        W4,
        [
            "instance i-0abc (running)",
            "SSM /arena/staging/images/web version 2 (in use until 2027-02-20T09:00:00Z, within the 14-day rollback "
            "window)",
            "SSM /arena/staging/images-previous/web version 2 (current)",
        ],
    ),
    (
        W3,
        [
            "SSM /arena/staging/images-previous/web version 1 (in use until 2027-02-20T09:00:00Z, within the 14-day "
            "rollback window)"
        ],
    ),
]
MAIN_DEPRECATED = [
    (W7, datetime(2027, 3, 22, 9, 1, tzinfo=UTC)),  # created 09:00:15: the next whole minute
    (W5, datetime(2027, 3, 3, 9, 0, tzinfo=UTC)),
    (W4, SOON),  # created + 30 days is past: EC2 refuses a past time
    (W3, SOON),
]


def expected_web() -> dict[str, Any]:
    """The web tier's result of the main case (in check mode too: what the run would do)."""
    return {
        "kept": [
            {"image_id": i["ImageId"], "name": i["Name"], "creation_date": i["CreationDate"], "reasons": r}
            for i, r in MAIN_KEPT
        ],
        "deprecated": [
            {"image_id": i["ImageId"], "name": i["Name"], "deprecate_at": w.strftime("%Y-%m-%dT%H:%M:%SZ")}
            for i, w in MAIN_DEPRECATED
        ],
        "deregistered": [
            {"image_id": i["ImageId"], "name": i["Name"], "creation_date": i["CreationDate"], "snapshots": s}
            for i, s in ((W2, ["snap-02"]), (W1, ["snap-01a", "snap-01b"]))
        ],
        "snapshots_deleted": ["snap-02", "snap-01a", "snap-01b"],
        "snapshots_kept": [],
    }


def test_run_deprecates_kept_images_and_retires_unused_old_ones(mod: ModuleType, stubs: Stubs) -> None:
    stubs.images([W1, W3, W7, W5, W2, W6, W4])  # any order: the module sorts by CreationDate
    queue_main_references(stubs)
    # Writes, newest image first: deprecations of the kept ones, then deregister before deleting.
    stubs.deprecate(W7["ImageId"], MAIN_DEPRECATED[0][1])
    stubs.deprecate(W5["ImageId"], MAIN_DEPRECATED[1][1])
    stubs.deprecate(W4["ImageId"], SOON)
    stubs.deprecate(W3["ImageId"], SOON)
    stubs.deregister(W2["ImageId"], "snap-02")
    stubs.deregister(W1["ImageId"], "snap-01a", "snap-01b")
    result = mod.run(stubs.clients, params(), check_mode=False, now=NOW)
    assert result["changed"] is True
    assert result["tiers"] == {"web": expected_web()}
    assert result["summary"][-2:] == [
        "web: deregistered ami-0000000000000002 arena-web-02 (created 2027-01-05T09:00:00.000Z), deleted snap-02",
        "web: deregistered ami-0000000000000001 arena-web-01 (created 2027-01-01T09:00:00.000Z), deleted snap-01a, "
        "snap-01b",
    ]
    assert "diff" not in result


def test_check_mode_lists_the_same_and_writes_nothing(mod: ModuleType, stubs: Stubs) -> None:
    """Only the reads are queued: any write call would find no answer and fail."""
    stubs.images([W7, W6, W5, W4, W3, W2, W1])
    queue_main_references(stubs)
    result = mod.run(stubs.clients, params(), check_mode=True, now=NOW, show_diff=True)
    assert result["changed"] is True
    assert result["tiers"] == {"web": expected_web()}
    assert (
        "web: would deregister ami-0000000000000001 arena-web-01 (created 2027-01-01T09:00:00.000Z) and delete "
        "snap-01a, snap-01b" in result["summary"]
    )
    assert "web: would deprecate ami-0000000000000004 at 2027-03-01T12:02:00Z" in result["summary"]
    assert result["diff"]["before"][W1["ImageId"]]["snapshots"] == ["snap-01a", "snap-01b"]
    assert W1["ImageId"] not in result["diff"]["after"]
    assert result["diff"]["after"][W3["ImageId"]]["deprecation_time"] == "2027-03-01T12:02:00Z"


def test_second_run_changes_nothing(mod: ModuleType, stubs: Stubs) -> None:
    """What the first run leaves: W2 and W1 gone, every kept image with a deprecation time."""
    left = [{**i, "DeprecationTime": "2027-03-22T09:01:00.000Z"} for i in (W7, W6, W5, W4, W3)]
    stubs.images(left)
    queue_main_references(stubs)
    result = mod.run(stubs.clients, params(), check_mode=False, now=NOW)
    assert result["changed"] is False
    assert [k["image_id"] for k in result["tiers"]["web"]["kept"]] == [i["ImageId"] for i in left]
    assert result["tiers"]["web"]["deprecated"] == result["tiers"]["web"]["deregistered"] == []


def test_no_old_images_means_no_reference_lookups(mod: ModuleType, stubs: Stubs) -> None:
    """Nothing older than the last releases: only DescribeImages and the deprecations are called."""
    stubs.images([W7, W6])
    stubs.deprecate(W7["ImageId"], MAIN_DEPRECATED[0][1])
    result = mod.run(stubs.clients, params(keep_releases=3), check_mode=False, now=NOW)
    assert [k["reasons"] for k in result["tiers"]["web"]["kept"]] == [["among the last 3 releases"]] * 2


OLD = "2026-06-01T00:00:00.000Z"


def old(n: int, **fields: Any) -> dict[str, Any]:
    """An old image that already has a deprecation time (so only references decide its fate)."""
    return image(f"ami-00000000000000{n:02d}", f"2026-06-{n:02d}T00:00:00.000Z", DeprecationTime=OLD, **fields)


def test_every_kind_of_template_reference_is_resolved(mod: ModuleType, stubs: Stubs) -> None:
    """$Latest, a number, an override without version ($Default), a launch configuration, the project
    template's default (an SSM alias, resolved by GetParameters when ResolveAlias left it) and latest."""
    images = [old(n, snapshots=[f"snap-{n:02d}"]) for n in range(1, 9)]  # 08 is the newest, kept
    lt_a = {"LaunchTemplateId": "lt-0a", "LaunchTemplateName": "arena-a"}
    lt_p = {"LaunchTemplateId": "lt-0p", "LaunchTemplateName": "arena-production-web"}
    stubs.images(images)
    stubs.groups(
        auto_scaling_groups("group-a", LaunchTemplate={**lt_a, "Version": "$Latest"})["AutoScalingGroups"][0],
        auto_scaling_groups(
            "group-b",
            MixedInstancesPolicy={
                "LaunchTemplate": {
                    "LaunchTemplateSpecification": {**lt_a, "Version": "2"},
                    "Overrides": [
                        {"InstanceType": "m7g.large", "LaunchTemplateSpecification": {"LaunchTemplateName": "b-arm"}},
                        {"InstanceType": "m7i.large"},
                    ],
                }
            },
        )["AutoScalingGroups"][0],
        auto_scaling_groups("group-c", LaunchConfigurationName="lc-c")["AutoScalingGroups"][0],
    )
    stubs.project_templates({**lt_p, "DefaultVersionNumber": 1, "LatestVersionNumber": 2})
    stubs.versions(
        {"LaunchTemplateId": "lt-0a"},
        ["$Latest", "2"],
        {**lt_a, "VersionNumber": 2, "DefaultVersion": True, "LaunchTemplateData": {"ImageId": images[1]["ImageId"]}},
        {**lt_a, "VersionNumber": 5, "DefaultVersion": False, "LaunchTemplateData": {"ImageId": images[0]["ImageId"]}},
    )
    stubs.versions(
        {"LaunchTemplateName": "b-arm"},
        ["$Default"],
        {
            "LaunchTemplateId": "lt-0b",
            "LaunchTemplateName": "b-arm",
            "VersionNumber": 1,
            "DefaultVersion": True,
            "LaunchTemplateData": {"ImageId": images[2]["ImageId"]},
        },
    )
    stubs.versions(
        {"LaunchTemplateId": "lt-0p"},
        ["$Default", "$Latest"],
        {
            **lt_p,
            "VersionNumber": 1,
            "DefaultVersion": True,
            "LaunchTemplateData": {"ImageId": "resolve:ssm:/arena/production/images/web"},
        },
        {**lt_p, "VersionNumber": 2, "DefaultVersion": False, "LaunchTemplateData": {"ImageId": images[5]["ImageId"]}},
    )
    stubs.ssm_stub.add_response(
        "get_parameters",
        {"Parameters": [{"Name": "/arena/production/images/web", "Type": "String", "Value": images[4]["ImageId"]}]},
        {"Names": ["/arena/production/images/web"]},
    )
    stubs.asg_stub.add_response(
        "describe_launch_configurations",
        {
            "LaunchConfigurations": [
                {
                    "LaunchConfigurationName": "lc-c",
                    "ImageId": images[3]["ImageId"],
                    "InstanceType": "t3.micro",
                    "CreatedTime": NOW,
                }
            ]
        },
        {"LaunchConfigurationNames": ["lc-c"]},
    )
    stubs.instances()
    for name in HISTORY_NAMES:
        stubs.history(name)
    stubs.deregister(images[6]["ImageId"], "snap-07")
    result = mod.run(stubs.clients, params(keep_releases=1), check_mode=False, now=NOW)
    kept = {k["image_id"][-2:]: k["reasons"] for k in result["tiers"]["web"]["kept"]}
    assert kept == {
        "08": ["the newest release"],
        "06": ["launch template arena-production-web version 2, its latest version"],
        "05": [
            "launch template arena-production-web version 1, its default version, via "
            "resolve:ssm:/arena/production/images/web"
        ],
        "04": ["launch configuration lc-c used by Auto Scaling group group-c"],
        "03": ["launch template b-arm version 1, used by Auto Scaling group group-b as $Default"],
        "02": ["launch template arena-a version 2, used by Auto Scaling group group-b"],
        "01": ["launch template arena-a version 5, used by Auto Scaling group group-a as $Latest"],
    }
    assert result["tiers"]["web"]["snapshots_deleted"] == ["snap-07"]


def test_a_version_that_cannot_be_resolved_stops_the_run_before_any_change(mod: ModuleType, stubs: Stubs) -> None:
    stubs.images([old(2), old(1)])
    stubs.groups(
        auto_scaling_groups("group-a", LaunchTemplate={**WEB_TEMPLATE, "Version": "9"})["AutoScalingGroups"][0]
    )
    stubs.project_templates()
    stubs.versions({"LaunchTemplateId": "lt-0web"}, ["9"])
    with pytest.raises(mod.LifecycleError) as caught:
        mod.run(stubs.clients, params(keep_releases=1), check_mode=False, now=NOW)
    assert str(caught.value) == (
        "launch template lt-0web has no version 9 (used by Auto Scaling group group-a): cannot tell which image it "
        "launches, so nothing is deregistered"
    )


@pytest.mark.parametrize(
    ("window", "protected"),
    [(14, True), (1, True), (0, False)],
    ids=["inside-14-days", "inside-1-day", "window-0-current-only"],
)
def test_rollback_window(mod: ModuleType, stubs: Stubs, window: int, protected: bool) -> None:
    """A value replaced an hour ago protects its image within any window but 0 (current values only);
    one replaced 20 days ago protects within no window of up to 14 days."""
    images = [old(3), old(2), old(1)]
    stubs.images(images)
    stubs.groups()
    stubs.project_templates()
    stubs.instances()
    stubs.history(
        "/arena/staging/images/web",
        version(1, images[2]["ImageId"], NOW - timedelta(days=40)),
        version(2, images[1]["ImageId"], NOW - timedelta(days=20)),
        version(3, images[0]["ImageId"], NOW - timedelta(hours=1)),
    )
    stubs.history("/arena/staging/images-previous/web")
    if not protected:
        stubs.deregister(images[1]["ImageId"])
    stubs.deregister(images[2]["ImageId"])
    result = mod.run(stubs.clients, params(keep_releases=1, rollback_window_days=window), check_mode=False, now=NOW)
    kept = [k["image_id"] for k in result["tiers"]["web"]["kept"]]
    assert (images[1]["ImageId"] in kept) is protected
    assert images[2]["ImageId"] not in kept


def test_parameters_of_every_protected_environment_are_read(mod: ModuleType, stubs: Stubs) -> None:
    """AMIs belong to the account: production's current image protects it in a staging run."""
    images = [old(2), old(1)]
    stubs.images(images)
    stubs.groups()
    stubs.project_templates()
    stubs.instances()
    for name in HISTORY_NAMES:
        stubs.history(name)
    stubs.history("/arena/production/images/web", version(1, images[1]["ImageId"], NOW - timedelta(days=90)))
    stubs.history("/arena/production/images-previous/web")
    result = mod.run(stubs.clients, params(keep_releases=1, protect_environments=["production"]), False, NOW)
    assert result["changed"] is False
    assert result["tiers"]["web"]["kept"][1]["reasons"] == ["SSM /arena/production/images/web version 1 (current)"]


def test_protection_pending_and_shared_snapshots(mod: ModuleType, stubs: Stubs) -> None:
    """A pending build is no release (kept, not deprecated); deregistration protection keeps an image;
    a snapshot that a kept image also uses is not deleted."""
    pending = image("ami-00000000000000p9", "2026-07-01T00:00:00.000Z", State="pending")
    newest = old(4, snapshots=["snap-shared"])
    protected = old(3, DeregistrationProtection="enabled-with-cooldown")
    retired = old(2, snapshots=["snap-shared", "snap-02"])
    stubs.images([pending, newest, protected, retired])
    stubs.no_references()
    stubs.deregister(retired["ImageId"], "snap-02")
    result = mod.run(stubs.clients, params(keep_releases=1), check_mode=False, now=NOW)
    web = result["tiers"]["web"]
    assert [(k["image_id"], k["reasons"]) for k in web["kept"]] == [
        (pending["ImageId"], ["state pending: not a finished release"]),
        (newest["ImageId"], ["the newest release"]),
        (protected["ImageId"], ["deregistration protection enabled-with-cooldown"]),
    ]
    assert web["deprecated"] == []
    assert web["snapshots_deleted"] == ["snap-02"]
    assert web["snapshots_kept"] == [
        {"snapshot_id": "snap-shared", "image_id": retired["ImageId"], "reason": f"also used by {newest['ImageId']}"}
    ]


def test_extra_filters_and_tiers_go_to_describe_images(mod: ModuleType, stubs: Stubs) -> None:
    filters = [
        {"Name": "tag:Project", "Values": ["arena"]},
        {"Name": "tag:Tier", "Values": ["web", "api"]},
        {"Name": "tag:arena:test", "Values": ["abc"]},
    ]
    stubs.images([], filters)
    result = mod.run(stubs.clients, params(tiers=["web", "api"], filters={"tag:arena:test": "abc"}), False, NOW)
    assert result == {
        "changed": False,
        "tiers": {t: {key: [] for key in mod.RESULT_KEYS} for t in ("web", "api")},
        "summary": ["web: no images", "api: no images"],
    }


@pytest.mark.parametrize(
    ("created", "days", "public", "expected"),
    [
        ("2027-02-20T09:00:00.000Z", 30, False, datetime(2027, 3, 22, 9, 0, tzinfo=UTC)),
        ("2027-02-20T09:00:29.000Z", 30, False, datetime(2027, 3, 22, 9, 1, tzinfo=UTC)),
        ("2027-01-01T00:00:00.000Z", 30, False, SOON),
        ("2027-02-28T00:00:00.000Z", 3650, False, datetime(2037, 2, 25, 0, 0, tzinfo=UTC)),
        ("2027-02-28T00:00:10.000Z", 1000, True, datetime(2029, 2, 27, 0, 0, tzinfo=UTC)),
        ("2024-01-01T00:00:00.000Z", 1000, True, SOON),
    ],
    ids=["whole-minute", "seconds-round-up", "past-becomes-now", "ten-years", "public-two-years", "public-old"],
)
def test_deprecation_time(mod: ModuleType, created: str, days: int, public: bool, expected: datetime) -> None:
    got = mod.deprecation_time({"CreationDate": created, "Public": public}, days, NOW)
    assert got == expected
    assert got.second == 0
    assert NOW < got <= NOW + timedelta(days=3652)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"keep_releases": 0}, "keep_releases must be >= 1 (the newest releases are always kept), got 0"),
        (
            {"deprecate_after_days": 0},
            "deprecate_after_days must be between 1 and 3650 (EC2 refuses a deprecation time more than 10 years "
            "ahead), got 0",
        ),
        (
            {"deprecate_after_days": 3651},
            "deprecate_after_days must be between 1 and 3650 (EC2 refuses a deprecation time more than 10 years "
            "ahead), got 3651",
        ),
        ({"rollback_window_days": -1}, "rollback_window_days must be >= 0, got -1"),
        ({"tiers": []}, "tiers must name at least one tier, and no empty one; got []"),
        ({"tiers": ["web", ""]}, "tiers must name at least one tier, and no empty one; got ['web', '']"),
        ({"environment": ""}, "environment must not be empty"),
        ({"parameter_prefix": "arena"}, "parameter_prefix must start with '/', got 'arena'"),
        (
            {"filters": {"tag:Tier": "web", "tag:Project": "x"}},
            "filters may not set tag:Project, tag:Tier: they come from project and tiers",
        ),
    ],
)
def test_bad_input_is_refused_before_any_call(
    mod: ModuleType, stubs: Stubs, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(mod.LifecycleError) as caught:
        mod.run(stubs.clients, params(**overrides), check_mode=False, now=NOW)
    assert str(caught.value) == message


def test_main_reports_bad_input_naming_the_parameter(mod: ModuleType, stubs: Stubs, run_module: Any) -> None:
    result = run_module(mod, params(keep_releases=0, region="eu-west-1"), clients(stubs))
    assert result["failed"] is True
    assert (
        result["msg"]
        == "arena_image_lifecycle: keep_releases must be >= 1 (the newest releases are always kept), got 0"
    )


RETIRED = old(1, snapshots=["snap-01"])
NEWEST = old(2)


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        ("describe_images", "RequestLimitExceeded"),
        ("describe_auto_scaling_groups", "Throttling"),
        ("describe_launch_templates", "RequestLimitExceeded"),
        ("describe_instances", "RequestLimitExceeded"),
        ("get_parameter_history", "ThrottlingException"),
        ("deregister_image", "RequestLimitExceeded"),
        ("delete_snapshot", "RequestLimitExceeded"),
        ("delete_snapshot", "InvalidSnapshot.InUse"),  # EC2 not yet consistent just after the deregister
    ],
)
def test_main_retries_throttling(
    mod: ModuleType, stubs: Stubs, run_module: Any, retry_sleeps: list[float], *, operation: str, code: str
) -> None:
    """main() as Ansible runs it: the first call of `operation` is answered with `code`, retried once
    (a paginated listing as a whole), and the run ends as it would have without it."""
    stubs.fail = (operation, code)
    stubs.images([NEWEST, RETIRED])
    stubs.no_references()
    stubs.deregister(RETIRED["ImageId"], "snap-01")
    result = run_module(mod, params(keep_releases=1, region="eu-west-1"), clients(stubs))
    assert result.get("failed") is None, result
    assert result["tiers"]["web"]["snapshots_deleted"] == ["snap-01"]
    assert len(retry_sleeps) == 1


def test_snapshot_still_in_use_after_the_retries_is_kept_with_a_warning(
    mod: ModuleType, stubs: Stubs, run_module: Any, retry_sleeps: list[float]
) -> None:
    stubs.images([NEWEST, RETIRED])
    stubs.no_references()
    stubs.deregister(RETIRED["ImageId"])
    for _ in range(5):  # the first try and 4 retries
        stubs.answer(stubs.ec2_stub, "delete_snapshot", {"Error": "InvalidSnapshot.InUse"}, {"SnapshotId": "snap-01"})
    result = run_module(mod, params(keep_releases=1, region="eu-west-1"), clients(stubs))
    assert result["changed"] is True
    assert result["tiers"]["web"]["snapshots_deleted"] == []
    reason = "still in use after the image was deregistered (InvalidSnapshot.InUse): delete it later"
    assert result["tiers"]["web"]["snapshots_kept"] == [
        {"snapshot_id": "snap-01", "image_id": RETIRED["ImageId"], "reason": reason}
    ]
    shown = [w["event"]["msg"] if isinstance(w, dict) else w for w in result["warnings"]]
    assert shown == [f"snapshot snap-01 of {RETIRED['ImageId']} {reason}"]
    assert len(retry_sleeps) == 4
