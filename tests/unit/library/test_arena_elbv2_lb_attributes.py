"""arena_elbv2_lb_attributes: which attributes are set."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def mod() -> ModuleType:
    name = "arena_elbv2_lb_attributes_under_test"
    spec = importlib.util.spec_from_file_location(name, ROOT / "library" / "arena_elbv2_lb_attributes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_only_differing_keys_are_set(mod: ModuleType) -> None:
    current = {"deletion_protection.enabled": "false", "access_logs.s3.bucket": "logs"}
    desired = {"deletion_protection.enabled": False, "access_logs.s3.bucket": "other"}
    assert mod.attribute_changes(current, desired) == {"access_logs.s3.bucket": "other"}


def test_a_key_the_endpoint_omits_is_set(mod: ModuleType) -> None:
    # The emulator leaves access_logs.s3.enabled out until it is set.
    assert mod.attribute_changes({}, {"access_logs.s3.enabled": True}) == {"access_logs.s3.enabled": "true"}


def test_same_values_change_nothing(mod: ModuleType) -> None:
    current = {"routing.http.drop_invalid_header_fields.enabled": "true", "idle_timeout.timeout_seconds": "60"}
    desired = {"routing.http.drop_invalid_header_fields.enabled": True, "idle_timeout.timeout_seconds": 60}
    assert mod.attribute_changes(current, desired) == {}
