"""tests/arena_testinfra.py install(): molecule's `ansible://` hosts over podman are entered with nsenter.

testinfra gives an ansible host its own backend only for ssh, local, docker and lxc connections;
for molecule's podman hosts every command would be an `ansible -m shell` run. install() maps them to
`podman://` hosts, whose backend it makes nsenter's; other connections keep testinfra's mapping.
"""

from __future__ import annotations

import configparser

from arena_testinfra import NsenterPodmanBackend, install
from testinfra.utils import ansible_runner


def inventory(**hostvars: str) -> dict[str, object]:
    return {"_meta": {"hostvars": {"node": hostvars}}, "all": {"hosts": ["node"]}}


def test_a_molecule_podman_host_is_the_container_entered_with_nsenter() -> None:
    install()
    config = configparser.ConfigParser()
    for connection in ("podman", "containers.podman.podman"):
        host = ansible_runner.get_ansible_host(config, inventory(ansible_connection=connection), "node")
        assert host is not None, connection
        assert isinstance(host.backend, NsenterPodmanBackend), connection
        assert host.backend.name == "node"
    named = ansible_runner.get_ansible_host(
        config, inventory(ansible_connection="podman", ansible_host="web-default"), "node"
    )
    assert named is not None
    assert named.backend.name == "web-default"


def test_other_connections_and_users_keep_testinfras_mapping() -> None:
    install()
    config = configparser.ConfigParser()
    ssh = ansible_runner.get_ansible_host(config, inventory(ansible_connection="ssh", ansible_host="10.0.0.9"), "node")
    assert ssh is not None
    assert not isinstance(ssh.backend, NsenterPodmanBackend)
    # A podman host with another user: testinfra's own answer (None: commands go through ansible).
    other_user = inventory(ansible_connection="podman", ansible_user="app")
    assert ansible_runner.get_ansible_host(config, other_user, "node") is None
