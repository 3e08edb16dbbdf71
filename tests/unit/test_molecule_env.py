"""molecule gets what ansible.cfg gives every other run (scripts/lib.sh molecule_env, .config/molecule).

molecule does not read the repository's ansible.cfg, so molecule_env exports its path settings as
ANSIBLE_* variables, and the base configuration every scenario merges (.config/molecule/config.yml)
carries its other settings that apply to a scenario's runs. A directory that ansible.cfg names and
molecule_env forgets (or the other way round) makes the role scenarios run with something else than
the bake and the tests: the collection's podman connection instead of the lab's, or every worker
loading every filter plugin again without the arena_preload callback.
"""

from __future__ import annotations

import configparser
import subprocess

import yaml
from arena_testlib import REPO_ROOT

# ansible.cfg [defaults] key -> the environment variable ansible reads for it.
PATH_SETTINGS = {
    "roles_path": "ANSIBLE_ROLES_PATH",
    "library": "ANSIBLE_LIBRARY",
    "module_utils": "ANSIBLE_MODULE_UTILS",
    "filter_plugins": "ANSIBLE_FILTER_PLUGINS",
    "connection_plugins": "ANSIBLE_CONNECTION_PLUGINS",
    "callback_plugins": "ANSIBLE_CALLBACK_PLUGINS",
}
# ansible.cfg [defaults] keys that are not paths and that molecule's generated ansible.cfg must carry
# too (from provisioner.config_options of the base configuration).
VALUE_SETTINGS = ("internal_poll_interval",)
MOLECULE_BASE_CONFIG = REPO_ROOT / ".config" / "molecule" / "config.yml"


def ansible_cfg() -> configparser.ConfigParser:
    """The repository's ansible.cfg, as ansible reads it (ini)."""
    config = configparser.ConfigParser()
    config.read(REPO_ROOT / "ansible.cfg")
    return config


def molecule_env() -> dict[str, str]:
    """The ANSIBLE_* variables molecule_env exports, from a clean shell."""
    script = f'source "{REPO_ROOT}/scripts/lib.sh" && molecule_env && env -0'
    out = subprocess.run(["bash", "-c", script], env={"PATH": "/usr/bin:/bin"}, capture_output=True, check=True)
    pairs = (item.split("=", 1) for item in out.stdout.decode().split("\0") if "=" in item)
    return {key: value for key, value in pairs if key.startswith("ANSIBLE_")}


def test_molecule_env_names_every_directory_that_ansible_cfg_names() -> None:
    config = ansible_cfg()
    exported = molecule_env()
    for key, variable in PATH_SETTINGS.items():
        assert config.has_option("defaults", key), f"ansible.cfg no longer sets {key}: update PATH_SETTINGS"
        directory = REPO_ROOT / config.get("defaults", key)
        assert directory.is_dir(), f"ansible.cfg {key} = {directory}: no such directory"
        assert exported.get(variable) == str(directory), (
            f"molecule_env exports {variable}={exported.get(variable)!r}; ansible.cfg {key} is {directory}"
        )


def test_molecule_base_config_carries_ansible_cfg_settings() -> None:
    config = ansible_cfg()
    base = yaml.safe_load(MOLECULE_BASE_CONFIG.read_text())
    defaults = base["provisioner"]["config_options"]["defaults"]
    for key in VALUE_SETTINGS:
        assert config.has_option("defaults", key), f"ansible.cfg no longer sets {key}: update VALUE_SETTINGS"
        assert str(defaults.get(key)) == config.get("defaults", key), (
            f"{MOLECULE_BASE_CONFIG.relative_to(REPO_ROOT)} sets {key}={defaults.get(key)!r}; "
            f"ansible.cfg sets {config.get('defaults', key)!r}"
        )
