"""arena_instance_type_offerings_info against botocore's Stubber (the real EC2 API model).

DescribeInstanceTypeOfferings
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceTypeOfferings.html):
LocationType availability-zone with a ``location`` filter of the zones (each an Availability Zone of the
current Region), else ``region``; an ``instance-type`` filter; MaxResults 5-1000; NextToken pages. The
tests pin the exact requests, the retry on EC2's throttling, the pages, and the cached copy used offline.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import botocore.exceptions
import pytest
import yaml
from arena_loader import aws_client, library_module
from botocore.stub import Stubber

ROOT = Path(__file__).resolve().parents[3]
CACHE = ROOT / "roles/platform_autoscaling/files/instance_type_offerings/eu-west-1.json"
ZONES = ["eu-west-1a", "eu-west-1b"]


@pytest.fixture(scope="module")
def offerings_module() -> ModuleType:
    return library_module("arena_instance_type_offerings_info")


def ec2() -> Any:
    return aws_client("ec2")


def offering(instance_type: str, zone: str) -> dict[str, str]:
    return {"InstanceType": instance_type, "LocationType": "availability-zone", "Location": zone}


def request(zones: list[str], types: list[str], token: str | None = None) -> dict[str, Any]:
    return {
        "LocationType": "availability-zone",
        "Filters": [{"Name": "location", "Values": zones}, {"Name": "instance-type", "Values": types}],
        "MaxResults": 1000,
        **({"NextToken": token} if token else {}),
    }


def test_reads_every_page_and_names_what_a_zone_lacks(
    offerings_module: ModuleType, run_module: Any, queue_calls: Any, retry_sleeps: list[float]
) -> None:
    """The exact request (zones and types sorted, the largest page), NextToken followed, a throttled
    first call retried (aws_retry=True); c6i.hyper exists nowhere, m6a.large not in eu-west-1b."""
    client = ec2()
    stubber = Stubber(client)
    types = ["c6i.hyper", "c6i.large", "m6a.large"]
    page1 = {"InstanceTypeOfferings": [offering("c6i.large", "eu-west-1a"), offering("m6a.large", "eu-west-1a")],
             "NextToken": "page-2"}  # fmt: skip
    page2 = {"InstanceTypeOfferings": [offering("c6i.large", "eu-west-1b")]}
    queue_calls(
        stubber,
        [
            ("describe_instance_type_offerings", page1, request(ZONES, types)),
            ("describe_instance_type_offerings", page2, request(ZONES, types, "page-2")),
        ],
        ("describe_instance_type_offerings", "RequestLimitExceeded"),
    )
    with stubber:
        result = run_module(
            offerings_module,
            {
                "instance_types": ["m6a.large", "c6i.large", "c6i.hyper", "c6i.large"],
                "zones": ["eu-west-1b", "eu-west-1a"],
                "region": "eu-west-1",
            },
            {"ec2": client},
        )
        stubber.assert_no_pending_responses()
    assert len(retry_sleeps) == 1
    assert result["changed"] is False
    assert result["source"] == "api"
    assert result["missing"] == {"m6a.large": ["eu-west-1b"], "c6i.hyper": ["eu-west-1b", "eu-west-1a"]}


def test_no_zones_checks_the_region(offerings_module: ModuleType, run_module: Any, queue_calls: Any) -> None:
    client = ec2()
    stubber = Stubber(client)
    expected = {
        "LocationType": "region",
        "Filters": [{"Name": "location", "Values": ["eu-west-1"]}, {"Name": "instance-type", "Values": ["t3.small"]}],
        "MaxResults": 1000,
    }
    answer = {
        "InstanceTypeOfferings": [{"InstanceType": "t3.small", "LocationType": "region", "Location": "eu-west-1"}]
    }
    queue_calls(stubber, [("describe_instance_type_offerings", answer, expected)], None)
    with stubber:
        result = run_module(offerings_module, {"instance_types": ["t3.small"], "region": "eu-west-1"}, {"ec2": client})
    assert result["missing"] == {}
    assert result["locations"] == ["eu-west-1"]


class Unreachable:
    """A client whose endpoint does not answer (offline, or the call cannot be made)."""

    def describe_instance_type_offerings(self, **_kwargs: Any) -> Any:
        raise botocore.exceptions.EndpointConnectionError(endpoint_url="https://ec2.eu-west-1.amazonaws.com/")


def test_offline_the_cache_answers_and_says_so(offerings_module: ModuleType, run_module: Any) -> None:
    result = run_module(
        offerings_module,
        {"instance_types": ["c6i.large", "c6i.hyper"], "zones": ZONES, "region": "eu-west-1", "cache_path": str(CACHE)},
        {"ec2": Unreachable()},
    )
    assert result["source"] == "cache"
    assert result["missing"] == {"c6i.hyper": ZONES}
    # Plain strings, or ansible-core 2.19's warning summaries (the form depends on the process's earlier modules).
    warnings = [w if isinstance(w, str) else w["event"]["msg"] for w in result["warnings"]]
    assert warnings == [
        'EC2 unreachable (Could not connect to the endpoint URL: "https://ec2.eu-west-1.amazonaws.com/"): '
        f"instance type offerings read from {CACHE}"
    ]


def test_offline_without_a_cache_of_the_region_fails(
    offerings_module: ModuleType, run_module: Any, tmp_path: Path
) -> None:
    result = run_module(
        offerings_module,
        {"instance_types": ["c6i.large"], "region": "eu-central-1", "cache_path": str(CACHE)},
        {"ec2": Unreachable()},
    )
    assert result["failed"] is True
    assert (
        "holds 'availability-zone' offerings of 'eu-west-1', not the availability-zone offerings of eu-central-1"
        in (result["msg"])
    )
    missing = run_module(
        offerings_module,
        {"instance_types": ["c6i.large"], "region": "eu-west-1", "cache_path": str(tmp_path / "none.json")},
        {"ec2": Unreachable()},
    )
    assert missing["failed"] is True
    assert "No such file or directory" in missing["msg"]


def test_refresh_writes_every_zone_once(
    offerings_module: ModuleType, run_module: Any, queue_calls: Any, tmp_path: Path
) -> None:
    """The refresh reads every zone of the region (no filter), writes one line per zone; a second
    refresh with the same answer changes nothing."""
    path = tmp_path / "eu-west-1.json"
    answer = {"InstanceTypeOfferings": [offering("t3.small", "eu-west-1b"), offering("c6i.large", "eu-west-1a"),
                                        offering("t3.small", "eu-west-1a")]}  # fmt: skip
    full = {"LocationType": "availability-zone", "MaxResults": 1000}
    args = {"refresh_cache": True, "cache_path": str(path), "region": "eu-west-1"}
    for changed in (True, False):
        client = ec2()
        stubber = Stubber(client)
        queue_calls(stubber, [("describe_instance_type_offerings", answer, full)], None)
        with stubber:
            result = run_module(offerings_module, args, {"ec2": client})
        assert result["changed"] is changed
    assert path.read_text() == (
        '{"region": "eu-west-1", "location_type": "availability-zone", "offerings": {\n'
        ' "eu-west-1a": ["c6i.large", "t3.small"],\n'
        ' "eu-west-1b": ["t3.small"]\n'
        "}}\n"
    )


def test_committed_cache_offers_every_configured_instance_type() -> None:
    """The committed copy (read from the emulator's data set, moto 5.2) has the region's zones, and every
    instance type the inventories and role defaults configure is offered in each zone the platform uses."""
    cache = json.loads(CACHE.read_text())
    assert cache["region"] == "eu-west-1"
    assert cache["location_type"] == "availability-zone"
    assert sorted(cache["offerings"]) == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    configured: set[str] = set()
    sources = [
        ROOT / "roles/platform_autoscaling/defaults/main.yml",
        *ROOT.glob("inventories/*/group_vars/all/platform.yml"),
    ]
    for source in sources:
        tiers = (yaml.safe_load(source.read_text()) or {}).get("platform_autoscaling_tiers") or {}
        configured |= {t for tier in tiers.values() for t in tier["instance_types"]}
    assert "c6i.large" in configured
    for zone in ZONES:
        assert configured <= set(cache["offerings"][zone]), configured - set(cache["offerings"][zone])
