"""scripts/hardening/instance_index.py: only KRNL-6000 keys the image sets to Lynis' value are re-counted."""

from __future__ import annotations

from types import ModuleType

import pytest
from arena_loader import load_source

DIFFERS = "Result: sysctl key {} has a different value than expected in scan profile. Expected={}, Real={}"
LOG = "\n".join(
    [
        "Performing test ID KRNL-6000 (Check sysctl key pairs in scan profile)",
        DIFFERS.format("kernel.kptr_restrict", 2, 0),
        DIFFERS.format("fs.protected_fifos", 2, 0),
        DIFFERS.format("kernel.sysrq", 0, 1),
        "Result: sysctl key kernel.dmesg_restrict contains equal expected and current value (1)",
        "Hardening: assigned partial number of hardening points (0 of 1). Currently having 150 points (out of 200)",
        "Hardening: assigned maximum (1). Currently having 170 points (out of 210)",
    ]
)


@pytest.fixture(scope="module")
def mod() -> ModuleType:
    return load_source("scripts/hardening/instance_index.py", "instance_index")


def test_recounts_only_keys_the_image_sets_to_the_expected_value(mod: ModuleType) -> None:
    sysctl = "# comment\nkernel.kptr_restrict = 2\nfs/protected_fifos=2\nkernel.sysrq = 1\n"
    index, points, total, keys = mod.instance_index(LOG, sysctl)
    # kernel.sysrq is set to the wrong value by this image: not re-counted.
    assert keys == ["fs.protected_fifos", "kernel.kptr_restrict"]
    assert (points, total) == (172, 210)
    assert index == 81


def test_later_files_win(mod: ModuleType) -> None:
    assert mod.sysctl_values("kernel.sysrq = 1\n; other\n-kernel.sysrq=0\n") == {"kernel.sysrq": "0"}


def test_nothing_set_means_the_container_index(mod: ModuleType) -> None:
    assert mod.instance_index(LOG, "")[:2] == (80, 170)


def test_a_log_without_points_is_an_error(mod: ModuleType) -> None:
    with pytest.raises(ValueError, match="no hardening points"):
        mod.instance_index("Performing test ID KRNL-6000\n", "")


AUDITD_LOG = "\n".join(
    [
        "Performing test ID ACCT-9628 (Check for auditd)",
        "Test: Check auditd status",
        "Result: auditd not active",
        "Hardening: assigned partial number of hardening points (0 of 1). Currently having 99 points (out of 120)",
        "Performing test ID ACCT-9630 (Check for auditd rules)",
        "Hardening: assigned maximum (1). Currently having 160 points (out of 200)",
    ]
)


def test_auditd_is_not_recounted(mod: ModuleType) -> None:
    """Issue 17: nothing but the kernel-global sysctl keys is re-counted, not even auditd, which an
    instance runs and a container cannot."""
    assert mod.instance_index(AUDITD_LOG, "") == (80, 160, 200, [])
