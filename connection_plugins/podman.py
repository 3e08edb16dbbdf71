# arena-infra lab connection: containers.podman.podman with pipelining.
#
# Named `podman` on purpose: the short name `podman` (what molecule-podman puts in its inventory,
# and what `-c podman` means) resolves to the configured connection_plugins directories
# (ansible.legacy) before ansible-core's redirect to containers.podman.podman. Wherever this
# directory is configured (ansible.cfg, scripts/molecule.sh), the lab's containers are driven with
# pipelining; elsewhere the collection plugin does the same job, only slower. The FQCN
# containers.podman.podman always means the collection plugin.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's podman connection, with Ansible pipelining.

containers.podman.podman runs every module as four or five ``podman exec`` calls (make a temp dir,
copy the module, chmod, run it, remove the dir), because it never passes stdin to ``podman exec``
and so declares ``has_pipelining = False``. Each ``podman exec`` costs about 0.3 s here. This
plugin passes ``-i`` when Ansible pipes the module on stdin, so a module runs in one ``podman
exec``: the same effect as SSH pipelining on an instance, three to four times fewer round trips.
File transfers (template, copy) are the collection plugin's own.

Run as root (the lab's podman is rootful), a command for root in the container (no remote user, or
``root``/``0`` as Packer's provisioner names it for the local bake) enters the container with
``nsenter`` instead of ``podman exec``: the same namespaces (mount, UTS, IPC, network, PID,
cgroup), the container's environment and working directory, and the container's capability
bounding set (``setpriv``), so a task can do exactly what ``podman exec`` would let it do. What it
does not get is podman's seccomp filter and the container's cgroup (both only limit; nothing in the
lab relies on them). The reason is cost: Ansible connects once per task, and the collection plugin
then runs ``podman mount`` and ``podman exec``, about 0.2 s of CPU per task on this machine, where
``nsenter`` costs 0.003 s. What the container is (id, init PID, environment, bounding set, mount
point) is looked up with one ``podman inspect`` and kept in a per-user cache file per container
name; an entry counts only while its PID is still that container's init (its cgroup names the
container id), so a removed or recreated container is looked up again. ARENA_PODMAN_EXEC=podman turns this off.
"""

from __future__ import annotations

DOCUMENTATION = """
    name: podman
    short_description: Run tasks in an existing podman container, with pipelining
    description:
      - containers.podman.podman with C(has_pipelining=True); modules are piped to
        C(podman exec -i) on stdin. Used by the lab (molecule scenarios, score and bench scripts).
    options:
      remote_addr:
        description: The name or ID of the container.
        default: inventory_hostname
        vars:
          - name: ansible_host
          - name: inventory_hostname
          - name: ansible_podman_host
      remote_user:
        description: User (name or UID) that runs commands in the container.
        ini:
          - section: defaults
            key: remote_user
        env:
          - name: ANSIBLE_REMOTE_USER
        vars:
          - name: ansible_user
      podman_extra_args:
        description: Extra arguments for the podman command line.
        default: ''
        ini:
          - section: defaults
            key: podman_extra_args
        vars:
          - name: ansible_podman_extra_args
        env:
          - name: ANSIBLE_PODMAN_EXTRA_ARGS
      podman_executable:
        description: The podman executable.
        default: podman
        vars:
          - name: ansible_podman_executable
        env:
          - name: ANSIBLE_PODMAN_EXECUTABLE
      pipelining:
        description: Pipe modules to C(podman exec -i) instead of copying them into the container.
        type: boolean
        default: true
        env:
          - name: ANSIBLE_PIPELINING
        ini:
          - section: connection
            key: pipelining
        vars:
          - name: ansible_pipelining
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile

from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible.plugins.connection import ConnectionBase, ensure_connect
from ansible.utils.display import Display
from ansible_collections.containers.podman.plugins.connection.podman import (
    Connection as PodmanConnection,
)

display = Display()

# Linux capability numbers (linux/capability.h), as setpriv names them.
CAPABILITIES = [
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
]


def bounding_set(mask: int) -> str:
    """setpriv's --bounding-set argument for a CapBnd mask: drop all, add back the mask's bits."""
    kept = [name for bit, name in enumerate(CAPABILITIES) if mask >> bit & 1]
    unknown = mask >> len(CAPABILITIES)
    if unknown:
        raise ValueError(f"capability bits beyond {CAPABILITIES[-1]} in CapBnd {mask:#x}")
    return ",".join(["-all", *(f"+{name}" for name in kept)])


def _cache_file(container: str) -> str:
    directory = os.path.join(tempfile.gettempdir(), f"arena-podman-connection-{os.getuid()}")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    return os.path.join(directory, re.sub(r"[^A-Za-z0-9_.-]", "_", container) + ".json")


def still_that_container(entry: dict) -> bool:
    """True while the entry's PID is the init of the container it was looked up for."""
    try:
        with open(f"/proc/{entry['pid']}/cgroup", encoding="utf-8") as cgroup:
            return entry["id"] in cgroup.read()
    except (OSError, KeyError):
        return False


def container_entry(name: str, podman) -> dict | None:
    """What entering the running container NAME takes: its id, init PID, environment, working
    directory, bounding set and mount point; from the per-user cache while still valid, else from
    one `podman container inspect` and one `podman mount`. None when it is not running.

    podman(subcommand) runs `podman <subcommand...> NAME` and returns (rc, stdout bytes). Shared by
    this plugin and the molecule verifiers' testinfra backend (tests/arena_testinfra.py)."""
    cache = _cache_file(name)
    try:
        with open(cache, encoding="utf-8") as cached:
            entry = json.load(cached)
        if still_that_container(entry):
            return entry
    except (OSError, ValueError):
        pass
    rc, out = podman(["container", "inspect"])
    if rc != 0:
        return None
    info = json.loads(out)[0] if out.strip().startswith(b"[") else None
    if not info or not info.get("State", {}).get("Running"):
        return None
    pid = info["State"]["Pid"]
    with open(f"/proc/{pid}/status", encoding="utf-8") as status:
        mask = int(re.search(r"^CapBnd:\s*([0-9a-f]+)$", status.read(), re.MULTILINE).group(1), 16)
    rc, mount_point = podman(["mount"])
    entry = {
        "id": info["Id"],
        "pid": pid,
        "env": info["Config"].get("Env") or [],
        "workdir": info["Config"].get("WorkingDir") or "/",
        "bounding_set": bounding_set(mask),
        "mount_point": to_native(mount_point).strip() if rc == 0 else "",
    }
    with open(f"{cache}.{os.getpid()}", "w", encoding="utf-8") as new:
        json.dump(entry, new)
    os.replace(f"{cache}.{os.getpid()}", cache)
    return entry


def nsenter_argv(entry: dict, argv: list[str]) -> list[str]:
    """argv run in the container of ENTRY as `podman exec` would run it, as root: its namespaces,
    environment, working directory and capability bounding set.

    nsenter opens the --wd directory before it enters the namespaces, so the container's working
    directory is named through the init's root (/proc/PID/root/...): a bare `--wd=/` would be the
    host's root, outside the container's, where getcwd() fails and relative paths reach the host."""
    pid = entry["pid"]
    workdir = f"/proc/{pid}/root/{entry['workdir'].lstrip('/')}"
    return [
        "nsenter", "--target", str(pid), "--all", f"--wd={workdir}", "--",
        "env", "-i", *entry["env"],
        "setpriv", "--bounding-set", entry["bounding_set"], "--",
        *argv,
    ]  # fmt: skip


def runs_as_root(user: str | None) -> bool:
    """No user (podman exec then runs as the image's user: root in every lab image), or root named by
    name or UID: what nsenter runs as.
    Packer's ansible provisioner always names one (its `user`, root for the local bake), so the bake
    needs "root" to count as well; any other user goes through `podman exec --user`."""
    return str(user or "root").strip() in ("root", "0")


def nsenter_usable() -> bool:
    """nsenter needs root (the lab's podman is rootful) and util-linux's nsenter and setpriv;
    ARENA_PODMAN_EXEC=podman turns it off."""
    return (
        os.environ.get("ARENA_PODMAN_EXEC", "nsenter") != "podman"
        and os.geteuid() == 0
        and shutil.which("nsenter") is not None
        and shutil.which("setpriv") is not None
    )


class Connection(PodmanConnection):
    """containers.podman.podman, plus stdin for pipelined modules, entered with nsenter as root."""

    transport = "podman"
    has_pipelining = True
    # What _container() found at connect time; None: commands go through `podman exec`.
    _entry: dict | None = None

    def _nsenter_wanted(self) -> bool:
        return runs_as_root(self.user) and nsenter_usable()

    def _container(self) -> dict | None:
        """The container's entry (container_entry), looked up with this connection's podman."""
        return container_entry(self._container_id, lambda subcommand: self._podman(subcommand)[:2])

    def _connect(self):
        if not self._nsenter_wanted():
            return super()._connect()
        self._entry = self._container()
        if self._entry is None:  # not running: let the collection plugin report it its own way
            return super()._connect()
        mount_point = self._entry["mount_point"]
        # Bytes, as the collection plugin keeps it (put_file and fetch_file join bytes paths to it).
        self._mount_point = to_bytes(mount_point) if mount_point and os.listdir(mount_point) else None
        self._connected = True
        return self

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        """Run cmd in the container; stdin (a pipelined module) is passed on."""
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        argv = shlex.split(to_native(cmd, errors="surrogate_or_strict"))
        entry = self._entry
        if entry is None:
            args = ["exec"]
            if in_data is not None:
                args.append("-i")
            if self.user:
                args.extend(("--user", self.user))
            return self._podman(args, argv, in_data)
        local_cmd = nsenter_argv(entry, argv)
        display.vvv(f"NSENTER {local_cmd}", host=self._container_id)
        proc = subprocess.Popen(
            [to_bytes(arg, errors="surrogate_or_strict") for arg in local_cmd],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        stdout, stderr = proc.communicate(input=in_data)
        return proc.returncode, stdout, stderr
