# arena-infra: load the Jinja filter and test plugins once per run, in the controller, before any task.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load every filter and test plugin once, in the controller process, before the first task.

Ansible runs each task of each host in a worker process forked from the controller. The first
filter or test a worker meets (``x | int``, ``is version``) makes it load *every* filter (or test)
plugin file of the configured paths (ansible-core's ``Jinja2Loader._ensure_non_collection_wrappers``:
ansible.builtin's files and this repository's ``filter_plugins/``), because the controller itself
rarely templates a filter before it forks. Each worker then pays for that import again and throws it
away when it exits. Measured on the hardening role's second pass (73 tasks): 10.2 of 23.4 seconds of
worker CPU went into it, and the pass took 25.7 CPU-seconds instead of 17.3 (docs/benchmarks.md).

This callback does the loading once, in ``v2_playbook_on_start`` (controller, before any fork), so
every worker inherits the loaded plugins. It changes no result and prints nothing. It needs no
enabling: ansible.cfg names this directory (``callback_plugins``); scripts/lib.sh ``molecule_env``
does the same for molecule, which does not read ansible.cfg.
"""

from __future__ import annotations

from ansible.plugins.callback import CallbackBase
from ansible.plugins.loader import filter_loader, test_loader

DOCUMENTATION = """
    name: arena_preload
    type: aggregate
    short_description: Load the filter and test plugins once in the controller, before any task
    description:
      - Loads every Jinja filter and test plugin of the configured paths in the controller process
        when the playbook starts, so that the worker processes forked for each task inherit them
        instead of each loading them again. Prints nothing and changes no result.
    requirements:
      - the directory of this file in C(callback_plugins) (ansible.cfg) or C(ANSIBLE_CALLBACK_PLUGINS)
"""


class CallbackModule(CallbackBase):
    """Loads the filter and test plugins in the controller when the playbook starts."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "arena_preload"
    CALLBACK_NEEDS_ENABLED = False

    def v2_playbook_on_start(self, playbook: object) -> None:
        """Iterate every filter and test plugin: the loader keeps what it loaded for the process."""
        for loader in (filter_loader, test_loader):
            for _plugin in loader.all():
                pass
