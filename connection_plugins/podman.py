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

import shlex

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ConnectionBase, ensure_connect
from ansible_collections.containers.podman.plugins.connection.podman import (
    Connection as PodmanConnection,
)


class Connection(PodmanConnection):
    """containers.podman.podman, plus stdin for pipelined modules."""

    transport = "podman"
    has_pipelining = True

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        """Run cmd in the container; stdin (a pipelined module) goes to ``podman exec -i``."""
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        args = ["exec"]
        if in_data is not None:
            args.append("-i")
        if self.user:
            args.extend(("--user", self.user))
        return self._podman(args, shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)
