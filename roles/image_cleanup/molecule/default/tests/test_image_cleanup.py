"""image_cleanup on a dirty build container: nothing per-machine is left, the verification really
fails the bake on a secret-looking file, and a container booted from the cleaned image generates
its own host keys and machine-id (two boots, two identities)."""

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
    ],
)
def test_trace_removed(host, path: str) -> None:
    assert not host.file(path).exists


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


def test_verification_fails_on_a_leftover(host) -> None:
    host.run("touch /etc/ssh/ssh_host_ed25519_key")
    try:
        failed = run_cleanup_verify([])
        assert failed.returncode != 0
        assert "image_cleanup: per-machine or build leftovers remain in the image: /etc/ssh/ssh_host_ed25519_key" in (
            failed.stdout
        )
    finally:
        host.run("rm -f /etc/ssh/ssh_host_ed25519_key")


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
    podman("commit", "-q", CONTAINER, image)
    try:
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
        assert identities[0][0] != identities[1][0], "two boots, one machine-id"
        assert identities[0][1] != identities[1][1], "two boots, one host key"
        assert identities[0][2] != identities[1][2], "two boots, one snakeoil certificate"
    finally:
        for name in names:
            podman("rm", "-f", "-t", "0", name, check=False)
        podman("rmi", "-f", image, check=False)
