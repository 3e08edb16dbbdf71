"""connection_plugins/podman.py: a task entered with nsenter gets exactly the container's capability
bounding set, and a cached container entry counts only while its PID is still that container's init.
The plugin's behaviour on real containers is proven by every molecule scenario and the local bake,
which connect through it."""

from __future__ import annotations

import os
import subprocess

import pytest
from arena_loader import load_source

podman_connection = load_source("connection_plugins/podman.py")

# `grep CapBnd /proc/<pid>/status` of a podman 4.3 container with the default capabilities, and of
# one started with --cap-add NET_ADMIN (the hardening scenario's firewall hosts).
DEFAULT = 0x800405FB
WITH_NET_ADMIN = 0x800415FB


def test_bounding_set_of_podmans_default_capabilities() -> None:
    assert podman_connection.bounding_set(DEFAULT) == (
        "-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,+net_bind_service,"
        "+sys_chroot,+setfcap"
    )


def test_net_admin_is_kept_only_where_the_container_has_it() -> None:
    assert "+net_admin" in podman_connection.bounding_set(WITH_NET_ADMIN).split(",")
    assert "+net_admin" not in podman_connection.bounding_set(DEFAULT).split(",")


def test_an_unknown_capability_bit_is_refused_rather_than_dropped_silently() -> None:
    with pytest.raises(ValueError, match="capability bits beyond checkpoint_restore"):
        podman_connection.bounding_set(DEFAULT | 1 << 41)


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/setpriv"), reason="needs root and setpriv")
def test_setpriv_gives_the_process_exactly_that_bounding_set() -> None:
    """setpriv names each capability as the plugin does: the child's CapBnd is the container's."""
    status = subprocess.run(
        ["setpriv", "--bounding-set", podman_connection.bounding_set(DEFAULT), "--", "cat", "/proc/self/status"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"CapBnd:\t{DEFAULT:016x}" in status.splitlines()


def test_a_cached_entry_counts_only_while_its_pid_is_that_containers_init() -> None:
    still = podman_connection.still_that_container
    with open("/proc/self/cgroup", encoding="utf-8") as cgroup:
        own_cgroup = cgroup.read().splitlines()[-1].rsplit("/", 1)[-1] or "/"
    assert still({"id": own_cgroup, "pid": os.getpid()})
    assert not still({"id": "libpod-0123456789abcdef", "pid": os.getpid()})  # another container's id
    dead = subprocess.Popen(["true"])
    dead.wait()
    assert not still({"id": own_cgroup, "pid": dead.pid})  # the container is gone
    assert not still({"pid": os.getpid()})  # a malformed entry


@pytest.mark.parametrize(("user", "nsenter"), [(None, True), ("", True), ("root", True), ("0", True), ("admin", False)])
def test_root_named_or_not_is_entered_with_nsenter_another_user_is_not(user: str | None, nsenter: bool) -> None:
    """Packer's provisioner names its user (root for the local bake, ansible_user in its inventory):
    the bake's tasks go through nsenter too, not one `podman exec --user root` each. Any other user
    keeps podman exec, which switches to that user; nsenter would run the task as root."""
    assert podman_connection.runs_as_root(user) is nsenter
