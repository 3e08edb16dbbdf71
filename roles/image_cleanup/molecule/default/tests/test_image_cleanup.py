"""image_cleanup on a dirty build container: nothing per-machine is left, the verification really
fails the bake on a secret-looking file, and a container booted from the cleaned image generates
its own host keys and machine-id (two boots, two identities) and clears the SSM Agent state the
image still carries before the agent starts."""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest

CONTAINER = "image_cleanup-default"
SCENARIO = Path(__file__).resolve().parents[1]
REPO = SCENARIO.parents[3]


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check, timeout=180)


def test_no_host_keys(host) -> None:
    assert host.run("ls /etc/ssh/ | grep -c ^ssh_host_ || true").stdout.strip() == "0"


def test_machine_id_empty_but_present(host) -> None:
    machine_id = host.file("/etc/machine-id")
    assert machine_id.exists and machine_id.size == 0
    assert not host.file("/var/lib/systemd/random-seed").exists


@pytest.mark.parametrize(
    "path",
    [
        "/root/.ssh/authorized_keys",
        "/home/builder/.ssh/authorized_keys",
        "/root/.bash_history",
        "/home/builder/.python_history",
        "/var/lib/cloud/instances",
        "/var/log/cloud-init.log",
        "/var/log/arena-build.log.1",
        "/tmp/build-scratch",
        "/var/tmp/build-scratch",
        "/etc/apt/apt.conf.d/99arena-deps-offline",
        "/etc/ssl/private/ssl-cert-snakeoil.key",
        "/etc/ssl/certs/ssl-cert-snakeoil.pem",
        # The build host's resolver (no systemd-resolved here: removed, the DHCP client writes one).
        "/etc/resolv.conf",
        # The build instance's SSM Agent state.
        "/var/lib/amazon/ssm/i-0123456789abcdef0",
        "/var/lib/amazon/ssm/credentials",
        "/var/lib/amazon/ssm/Vault",
        "/var/lib/amazon/ssm/runtimeconfig",
    ],
)
def test_trace_removed(host, path: str) -> None:
    assert not host.file(path).exists


def test_ssm_agent_keeps_what_is_not_per_instance(host) -> None:
    assert host.file("/var/lib/amazon/ssm/ipc").is_directory


def test_ssm_agent_state_unit_enabled_before_the_agent(host) -> None:
    unit = host.run("systemctl show -p UnitFileState -p Before -p ConditionPathExists arena-ssm-agent-state.service")
    props = dict(line.split("=", 1) for line in unit.stdout.splitlines())
    assert props["UnitFileState"] == "enabled"
    assert "amazon-ssm-agent.service" in props["Before"].split()
    # Wanted by the agent too: starting the agent alone pulls the reset in first.
    wanted = host.run("systemctl show -p Wants amazon-ssm-agent.service").stdout
    assert "arena-ssm-agent-state.service" in wanted
    assert host.file("/var/lib/arena/ssm-agent-state-reset").is_file


def test_hostname_bind_mount_left_alone(host) -> None:
    """In a container /etc/hostname is podman's bind mount: the role leaves it (a truncate would
    empty the engine's file, not the image's), and the verification does not count it."""
    assert host.file("/etc/hostname").content_string.strip() == CONTAINER


def test_apt_lists_and_caches_empty(host) -> None:
    assert host.run("find /var/lib/apt/lists -type f ! -name lock | wc -l").stdout.strip() == "0"
    assert host.run("find /var/cache/apt -name '*.deb' -o -name '*.bin' | wc -l").stdout.strip() == "0"


def test_active_logs_truncated_not_removed(host) -> None:
    log = host.file("/var/log/arena-build.log")
    assert log.exists and log.size == 0


def test_firstboot_unit_enabled(host) -> None:
    assert host.service("arena-ssh-hostkeys.service").is_enabled
    assert host.service("arena-ssl-snakeoil.service").is_enabled


def test_no_dangling_snakeoil_hash_link(host) -> None:
    assert host.run("find /etc/ssl -lname ssl-cert-snakeoil.pem | wc -l").stdout.strip() == "0"


def run_cleanup_verify(extra: list[str]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(REPO / "roles"), ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    return subprocess.run(
        [
            "ansible-playbook",
            "-i",
            f"{CONTAINER},",
            # The lab's pipelined podman connection (connection_plugins/, which ansible.cfg names).
            "-c",
            "podman",
            "--tags",
            "image_cleanup_verify",
            str(SCENARIO / "converge.yml"),
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )


def test_verification_fails_on_a_secret_and_passes_without(host) -> None:
    secret = "/opt/arena-leaked-key.pem"
    header = "-----BEGIN OPENSSH " + "PRIVATE KEY-----"
    host.run(f"printf '%s\\nAAAA\\n' '{header}' > {secret}")
    try:
        failed = run_cleanup_verify([])
        assert failed.returncode != 0
        assert "image_cleanup: secret-looking files in the image" in failed.stdout
        assert secret in failed.stdout
        allowed = run_cleanup_verify(["-e", f'{{"image_cleanup_secret_allowlist": ["{secret}"]}}'])
        assert allowed.returncode == 0, allowed.stdout
    finally:
        host.run(f"rm -f {secret}")


LEFTOVERS = {
    "/etc/ssh/ssh_host_ed25519_key": "touch /etc/ssh/ssh_host_ed25519_key",
    "/packer-files": "mkdir /packer-files",
    "/var/lib/aide/aide.db.new": "mkdir -p /var/lib/aide && touch /var/lib/aide/aide.db.new",
    "/var/lib/amazon/ssm/i-0fedcba9876543210": "mkdir /var/lib/amazon/ssm/i-0fedcba9876543210",
    "/etc/resolv.conf (a regular file naming a resolver)": "echo nameserver 10.255.255.53 > /etc/resolv.conf",
}


def test_verification_fails_on_leftovers(host) -> None:
    host.run(" && ".join(LEFTOVERS.values()))
    try:
        failed = run_cleanup_verify([])
        assert failed.returncode != 0
        assert "image_cleanup: per-machine or build leftovers remain in the image: " in failed.stdout
        for leftover in LEFTOVERS:
            assert leftover in failed.stdout, leftover
    finally:
        host.run(
            "rm -rf /etc/ssh/ssh_host_ed25519_key /packer-files /var/lib/aide /etc/resolv.conf "
            "/var/lib/amazon/ssm/i-0fedcba9876543210"
        )


def boot(image: str, name: str) -> None:
    podman("run", "-d", "--name", name, "--systemd=always", image, "/sbin/init")
    deadline = time.monotonic() + 60
    state = ""
    while time.monotonic() < deadline:
        state = podman("exec", name, "systemctl", "is-system-running", check=False).stdout.strip()
        if state in ("running", "degraded"):
            return
        time.sleep(0.5)
    raise AssertionError(f"{name}: system state {state!r} after 60 s")


def test_first_boot_generates_host_keys_and_machine_id() -> None:
    suffix = uuid.uuid4().hex[:8]
    image = f"localhost/ami-image-cleanup-proof:{suffix}"
    names = [f"ami-image-cleanup-boot-{suffix}-{n}" for n in (1, 2)]
    # The agent carried the bake's connection and writes again after the cleanup (at shutdown, say):
    # the image then still holds the build instance's state, which its first boot must remove.
    late_state = "/var/lib/amazon/ssm/i-0fedcba9876543210/document/state/completed"
    podman("exec", CONTAINER, "mkdir", "-p", late_state)
    podman("exec", CONTAINER, "touch", "/var/lib/amazon/ssm/credentials")
    try:
        podman("commit", "-q", CONTAINER, image)
    finally:
        podman(
            "exec", CONTAINER, "rm", "-rf", "/var/lib/amazon/ssm/i-0fedcba9876543210", "/var/lib/amazon/ssm/credentials"
        )
    try:
        # The committed layer (not a running container's bind mounts): no static hostname, no
        # build resolver.
        root = Path(podman("image", "mount", image).stdout.strip())
        try:
            assert (root / "etc/hostname").read_bytes() == b""
            assert not (root / "etc/resolv.conf").exists()
        finally:
            podman("image", "unmount", image, check=False)
        identities = []
        for name in names:
            boot(image, name)
            assert podman("exec", name, "systemctl", "is-system-running", check=False).stdout.strip() == "running"
            machine_id = podman("exec", name, "cat", "/etc/machine-id").stdout.strip()
            assert re.fullmatch(r"[0-9a-f]{32}", machine_id), machine_id
            unit = podman("exec", name, "systemctl", "show", "-p", "Result,ActiveState", "arena-ssh-hostkeys.service")
            assert "Result=success" in unit.stdout and "ActiveState=active" in unit.stdout
            assert podman("exec", name, "systemctl", "is-active", "ssh.service", check=False).stdout.strip() == "active"
            fingerprint = podman("exec", name, "ssh-keygen", "-lf", "/etc/ssh/ssh_host_ed25519_key.pub").stdout
            snakeoil = podman(
                "exec", name, "openssl", "x509", "-noout", "-fingerprint", "-in", "/etc/ssl/certs/ssl-cert-snakeoil.pem"
            ).stdout
            identities.append((machine_id, fingerprint.split()[1], snakeoil.strip()))
            # The stand-in agent recorded its data directory as it started: no instance's state.
            found = podman("exec", name, "cat", "/run/arena-ssm-agent-found").stdout.split()
            assert found == ["ipc"], found
            reset = podman(
                "exec", name, "systemctl", "show", "-p", "Result,ActiveState", "arena-ssm-agent-state.service"
            )
            assert "Result=success" in reset.stdout and "ActiveState=active" in reset.stdout
            gone = podman("exec", name, "test", "-e", "/var/lib/arena/ssm-agent-state-reset", check=False)
            assert gone.returncode == 1, "the reset's marker outlived first boot"
        assert identities[0][0] != identities[1][0], "two boots, one machine-id"
        assert identities[0][1] != identities[1][1], "two boots, one host key"
        assert identities[0][2] != identities[1][2], "two boots, one snakeoil certificate"
    finally:
        for name in names:
            podman("rm", "-f", "-t", "0", name, check=False)
        podman("rmi", "-f", image, check=False)
