"""arena_aws_ec2: amazon.aws's aws_ec2 inventory behind the real-AWS guard.

An inventory source runs before any play, so before ``roles/aws_guard``; amazon.aws.aws_ec2 would
call DescribeInstances with whatever credentials the environment holds. This plugin is aws_ec2
with one step in front of every query, using the guard's own classifier
(``filter_plugins/arena_aws_target.py``, imported, not copied):

- the endpoint is the emulator (a loopback address or an allow-listed host): it is passed to the
  SDK explicitly (so no ``AWS_ENDPOINT_URL_EC2`` or profile setting can send the call elsewhere)
  and probed first; an emulator that does not answer gives one warning line and no hosts;
- otherwise it is real AWS, and the source refuses (AnsibleParserError, before any client exists)
  unless the guard's opt-in is given, all three parts of it: as extra vars (``-e
  arena_allow_real_aws=true -e arena_aws_profile=<profile> -e arena_aws_region=<region>``) or as
  the environment (``ARENA_ALLOW_REAL_AWS=true ARENA_AWS_PROFILE=<profile>
  ARENA_AWS_REGION=<region>``), each part an extra var wins over its environment variable. Opted
  in, it reads exactly that profile (the environment's access keys are dropped) and that one
  region. ``emulator_only: true`` refuses real AWS even then (the local lab's source).

The environment form is for AWX / Automation Platform: an inventory update runs
``ansible-inventory`` with no extra vars (a credential type's ``extra_vars`` injector does not
apply to it, its ``env`` and ``file`` injectors do), so roles/awx_config's credential type
``arena real AWS opt-in`` injects both forms. As the guard does, the profile falls back to
``AWS_PROFILE`` and the region to ``AWS_REGION`` / ``AWS_DEFAULT_REGION``.

The endpoint is ``arena_aws_endpoint_url`` (extra var), else the source's ``endpoint_url``
(``AWS_URL``), else ``AWS_ENDPOINT_URL``, as the guard reads it. Group vars are not visible to an
inventory source: the opt-in must be given as extra vars or the environment.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import os
import runpy
import socket
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from ansible.errors import AnsibleParserError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.inventory import BaseInventoryPlugin
from ansible.utils.display import Display

# amazon.aws's aws_ec2, imported only when a source of this plugin is parsed: importing it imports
# boto3, about 0.1 CPU-s, and Ansible loads every enabled inventory plugin in every run, also the
# runs whose inventory has no aws_ec2 source (docs/benchmarks.md).
AWS_EC2 = "ansible_collections.amazon.aws.plugins.inventory.aws_ec2"
# aws_ec2's INVENTORY_FILE_SUFFIXES: the file names this plugin verifies, as aws_ec2 does.
INVENTORY_FILE_SUFFIXES = ("aws_ec2.yml", "aws_ec2.yaml")
# The doc fragment left out of this plugin's documentation (_documentation says why).
BOTO3_FRAGMENT = "amazon.aws.boto3"
# What Ansible's plugin loader sets on the plugin it loads (PluginLoader._update_object); the
# source that parses is given the same, so it reads this plugin's options.
LOADER_ATTRIBUTES = ("_original_path", "_load_name", "_redirected_names", "ansible_aliases", "ansible_name")
PLUGIN_LOADER = Path(__file__).resolve().parent.parent / "module_utils" / "arena_plugin_loader.py"
PROBE_TIMEOUT_SECONDS = 3
# The guard's opt-in, its three parts: as extra vars (an operator's -e, an AWX job's credential) and
# as the environment (an AWX inventory update, which gets no extra vars), in the same order. The
# environment names are what roles/awx_config's credential type injects (tests/unit/test_awx_config.py).
OPT_IN_VARS = ("arena_allow_real_aws", "arena_aws_profile", "arena_aws_region")
OPT_IN_ENV = ("ARENA_ALLOW_REAL_AWS", "ARENA_AWS_PROFILE", "ARENA_AWS_REGION")
_OPT_IN_VALUES = ("true", "<profile>", "<region>")
OPT_IN = " ".join(f"-e {name}={value}" for name, value in zip(OPT_IN_VARS, _OPT_IN_VALUES, strict=True))
OPT_IN_ENVIRONMENT = " ".join(f"{name}={value}" for name, value in zip(OPT_IN_ENV, _OPT_IN_VALUES, strict=True))

display = Display()


def aws_ec2_documentation() -> str:
    """aws_ec2's DOCUMENTATION string, read from its source file without importing the module."""
    spec = importlib.util.find_spec(AWS_EC2)
    if spec is None or not spec.origin:
        raise ImportError(f"{AWS_EC2} is not installed (the amazon.aws collection)")
    for node in ast.parse(Path(spec.origin).read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            return ast.literal_eval(node.value)
    raise ImportError(f"{spec.origin} has no DOCUMENTATION")


def _documentation() -> str:
    """aws_ec2's documentation (every option, its fragments) under this plugin's name, plus emulator_only."""
    doc = yaml.safe_load(aws_ec2_documentation())
    doc["name"] = "arena_aws_ec2"
    doc["short_description"] = "EC2 inventory source that refuses real AWS without the guard's opt-in"
    doc["description"] = [
        "amazon.aws.aws_ec2 with the real-AWS guard in front of every query (see roles/aws_guard).",
        "The inventory file must end with C(aws_ec2.{yml|yaml}) and name C(plugin: arena_aws_ec2).",
    ]
    doc["author"] = ["arena-infra"]
    # amazon.aws.boto3 adds no option, only the SDK's minimum versions, which it reads by importing
    # amazon.aws's botocore helpers, and so boto3, wherever this plugin is loaded. Its requirements
    # stand here instead; the SDK itself is imported when a source is parsed.
    doc["extends_documentation_fragment"].remove(BOTO3_FRAGMENT)
    doc["requirements"] = ["boto3 and botocore, the versions amazon.aws requires (its amazon.aws.boto3 fragment)"]
    doc["options"]["emulator_only"] = {
        "description": ["Refuse real AWS even with the opt-in (a source that must only ever read the emulator)."],
        "type": "bool",
        "default": False,
    }
    return yaml.safe_dump(doc, sort_keys=False)


# Built, not written out: the plugin loader reads the module's DOCUMENTATION attribute, so every
# aws_ec2 option of the installed amazon.aws is here without a copy that could drift. ansible-doc
# parses the file's text instead and cannot show it (`ansible-doc -t inventory amazon.aws.aws_ec2`
# documents the same options; emulator_only is described above).
DOCUMENTATION = _documentation()

EXAMPLES = r"""
plugin: arena_aws_ec2
regions:
  - "{{ lookup('ansible.builtin.env', 'AWS_REGION') or 'eu-west-1' }}"
filters:
  tag:Project: arena
  tag:Environment: staging
"""


def load_classifier() -> ModuleType:
    """The guard's classifier module (filter_plugins/arena_aws_target.py), loaded once, by the
    repository's one plugin loader (module_utils/arena_plugin_loader.py), which the filter plugins
    use for their siblings too."""
    try:
        return runpy.run_path(str(PLUGIN_LOADER))["load_filter_file"]("arena_aws_target")
    except (OSError, ImportError) as exc:
        raise AnsibleParserError(
            f"arena_aws_ec2: cannot load the classifier filter_plugins/arena_aws_target.py: {exc}"
        ) from exc


def missing_opt_in(allowed: bool, profile: str, region: str) -> list[str]:
    """The parts of the opt-in not given, each in both forms: ``arena_aws_profile=<profile> (or
    ARENA_AWS_PROFILE)``."""
    parts = zip(OPT_IN_VARS, OPT_IN_ENV, _OPT_IN_VALUES, (allowed, profile, region), strict=True)
    return [f"{var}={value} (or {env})" for var, env, value, given in parts if not given]


class _EmulatorDown(Exception):
    """The endpoint is the emulator and nothing answers there."""


def emulator_answers(host: str, port: int, timeout: float = PROBE_TIMEOUT_SECONDS) -> bool:
    """A TCP connect to the emulator: no AWS call."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class InventoryModule(BaseInventoryPlugin):
    """What Ansible loads: verifies file names as aws_ec2 does, and parses a source with
    guarded_source() (aws_ec2 behind the real-AWS guard), imported then."""

    NAME = "arena_aws_ec2"
    _source: Any = None

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and str(path).endswith(INVENTORY_FILE_SUFFIXES)

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        source = guarded_source()()
        for name in LOADER_ATTRIBUTES:
            if hasattr(self, name):
                setattr(source, name, getattr(self, name))
        self._source = source
        source.parse(inventory, loader, path, cache=cache)

    def update_cache_if_changed(self) -> None:
        # The inventory manager calls this after parse (aws_ec2 is Cacheable).
        if self._source is not None:
            self._source.update_cache_if_changed()


@functools.cache
def guarded_source() -> type:
    """aws_ec2's InventoryModule behind the real-AWS guard (amazon.aws imported here, once)."""
    aws_ec2 = importlib.import_module(AWS_EC2)

    class InventoryModule(_Guard, aws_ec2.InventoryModule):  # the name gives Ansible's plugin_type
        NAME = "arena_aws_ec2"

    return InventoryModule


class _Guard:
    """The guard's steps of the aws_ec2 source (mixed into aws_ec2's InventoryModule)."""

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        try:
            super().parse(inventory, loader, path, cache=cache)
        except _EmulatorDown as down:
            # One line, and a parsed (empty) source: the hosts beside it stay usable.
            display.warning(str(down))

    def _read_config_data(self, path: str) -> Any:
        # aws_ec2 reads its options here, before it makes any client: the guard goes right after.
        config = super()._read_config_data(path)
        self._arena_guard(path)
        return config

    def _extra(self, name: str) -> Any:
        return (self._vars or {}).get(name)

    def _opt_in(self, name: str) -> Any:
        """One part of the opt-in: the extra var ``name`` when it is given, else its environment
        variable (OPT_IN_ENV, in OPT_IN_VARS' order); None when neither is."""
        value = self._extra(name)
        if value is None or value == "":
            value = os.environ.get(OPT_IN_ENV[OPT_IN_VARS.index(name)]) or None
        return value

    def _endpoint(self) -> str:
        for value in (
            self._extra("arena_aws_endpoint_url"),
            self.get_option("endpoint_url"),
            os.environ.get("AWS_ENDPOINT_URL"),
        ):
            if value:
                return str(value)
        return ""

    def _arena_guard(self, path: str) -> None:
        classifier = load_classifier()
        profile = str(self._opt_in("arena_aws_profile") or os.environ.get("AWS_PROFILE") or "")
        region = str(
            self._opt_in("arena_aws_region")
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or ""
        )
        emulator_hosts = self._extra("arena_aws_emulator_hosts") or list(classifier.DEFAULT_EMULATOR_HOSTS)
        endpoint = self._endpoint()
        regions = self.get_option("regions") or []
        try:
            target = classifier.arena_aws_target(endpoint, region or (regions[0] if regions else ""), emulator_hosts)
        except Exception as exc:
            raise AnsibleParserError(f"arena_aws_ec2: {exc}") from exc

        if target["mode"] == "emulator":
            if not emulator_answers(target["host"], target["port"]):
                raise _EmulatorDown(
                    f"no AWS emulator answers at {endpoint}: run `make emulator-up` first "
                    f"(then `source .lab/emulator.env`); no hosts from {path}"
                )
            self.set_option("endpoint_url", endpoint)
            return

        allowed = boolean(self._opt_in("arena_allow_real_aws") or False, strict=False)

        def refusal(why: str, missing: str = "") -> AnsibleParserError:
            return AnsibleParserError(
                f"REFUSED: inventory source {path} would call EC2 DescribeInstances on REAL AWS "
                f"(endpoint '{endpoint}': {target['reason']}) and no opt-in was given, so nothing was queried. "
                f"For the local emulator run `make emulator-up && source .lab/emulator.env`; {why} "
                f"(currently arena_allow_real_aws={allowed}, profile='{profile}', region='{region}').{missing}"
            )

        if self.get_option("emulator_only"):
            raise refusal("this source only ever reads the emulator (emulator_only: true)")
        missing = missing_opt_in(allowed, profile, region)
        if missing:
            raise refusal(
                f"to read a real account on purpose, opt in with all of `{OPT_IN}`, or the environment "
                f"`{OPT_IN_ENVIRONMENT}` (an AWX credential's env injector)",
                f" Missing: {', '.join(missing)}.",
            )
        # Opted in: that profile and that region, not the environment's keys.
        self.set_option("profile", profile)
        self.set_option("regions", [region])
        for option in ("access_key", "secret_key", "session_token"):
            self.set_option(option, "")  # None would fall back to AWS_ACCESS_KEY_ID &c.
        display.vvv(f"arena_aws_ec2: real AWS, profile {profile}, region {region} ({target['reason']})")
