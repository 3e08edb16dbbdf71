"""The tests' Mitogen executor: AWS modules start from a warm botocore instead of a cold one.

Only the playbooks the tests run use this directory (tests/arena_testlib.py ``mitogen_env`` puts it
first on PYTHONPATH beside Mitogen's strategy); ops, ``make demo``, the bake and molecule never do.
Python imports ``sitecustomize`` at start-up, so this runs in every Python process of such a run.

Why: Mitogen runs each module of a collection (amazon.aws, ...) in a child forked from a "fork
parent", a pristine copy of the target interpreter made right after it starts. Each child then
imports boto3 and, for every client it makes, botocore parses the service model and endpoint JSON
files again (0.15-0.2 CPU-s for an EC2 client). That was a quarter of an empty teardown's CPU.

What it does, nothing else:

- In every process: botocore's ``JSONFileLoader.load_file`` keeps what it parsed, per file, for the
  life of the process (installed when ``botocore.loaders`` is first imported; a process that never
  imports botocore pays for nothing). botocore already shares one parsed model between all the
  clients of a session and builds clients without changing it (``botocore.translate`` copies
  before it merges); this shares it between the sessions of one process, which amazon.aws makes
  one per module call. The files are botocore's own data, which do not change during a run.
- In Mitogen's target interpreter only (its process name holds ``(mitogen:``), before it forks
  its fork parent: boto3 imported and the models of the services this repository calls loaded, so
  that every forked module child inherits them. Only third-party code is loaded there, no Ansible
  module_utils: the fork parent stays free of anything a module's own module_utils could clash
  with, as Mitogen intends.
- In the controller: Mitogen waits ``CONNECT_TIMEOUT`` seconds for a target interpreter to start,
  not its default 30 (``mitogen.parent.Options.connect_timeout``; a ``local`` connection passes no
  timeout of its own, and ANSIBLE_TIMEOUT does not reach it). The warm-up above runs while the
  target starts: with make test's five stages on two cores one start took longer than 30 s and its
  play failed UNREACHABLE ("Connection timed out") before its first module. A slow start under load
  is no fault of the playbook under test.

Measured on the quiet machine (docs/benchmarks.md): a platform create 39-41 -> 29-30 CPU-s, its
teardown 29-31 -> 19 CPU-s, the same results. tests/unit/test_mitogen_site.py proves a forked
module child starts with the models loaded.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

# The services the playbooks, roles and custom modules call (amazon.aws, community.aws, library/):
# a service missing here still works, its model is then parsed in each module child.
# Seconds the controller waits for a Mitogen target interpreter to start (Mitogen's default: 30).
CONNECT_TIMEOUT = 180.0

WARM_SERVICES = (
    "acm",
    "autoscaling",
    "cloudfront",
    "ec2",
    "elasticache",
    "elbv2",
    "iam",
    "kms",
    "s3",
    "service-quotas",
    "ses",
    "sesv2",
    "sns",
    "ssm",
    "sts",
)


def _keep_listings(loaders: ModuleType) -> None:
    """Make Loader's directory listings (``list_available_services``, ``determine_latest_version``)
    once per process and search path, not once per Loader: their own cache lives on the Loader, and
    amazon.aws makes a session, so a Loader, per module call. The listing walks every service
    directory of botocore's data (about 420, a ``listdir`` and two ``stat`` calls each): a tenth of
    a platform create's CPU before this (docs/benchmarks.md)."""
    loader_class = loaders.Loader
    for name in ("list_available_services", "determine_latest_version"):
        listing: Callable[..., Any] = getattr(loader_class, name)
        cache: dict[tuple[Any, ...], Any] = {}

        def cached(self: Any, *args: Any, _listing: Callable[..., Any] = listing, _cache: dict = cache) -> Any:
            key = (tuple(self.search_paths), *args)
            try:
                return _cache[key]
            except KeyError:
                value = _cache[key] = _listing(self, *args)
                return value

        cached.arena_cache = cache  # type: ignore[attr-defined]
        cached.__doc__ = listing.__doc__
        setattr(loader_class, name, cached)


def _keep_parsed_files(loaders: ModuleType) -> None:
    """Make JSONFileLoader.load_file parse each file once per process (its cache: ``arena_cache``)."""
    loader_class = loaders.JSONFileLoader
    parse: Callable[[Any, str], Any] = loader_class.load_file
    cache: dict[str, Any] = {}

    def load_file(self: Any, file_path: str) -> Any:
        try:
            return cache[file_path]
        except KeyError:
            data = parse(self, file_path)
            if data is not None:
                cache[file_path] = data
            return data

    load_file.arena_cache = cache  # type: ignore[attr-defined]
    load_file.__doc__ = parse.__doc__
    loader_class.load_file = load_file
    _keep_listings(loaders)


def _wait_longer_for_targets(parent: ModuleType) -> None:
    """Mitogen's connect timeout of a target interpreter: CONNECT_TIMEOUT (the class default)."""
    parent.Options.connect_timeout = CONNECT_TIMEOUT


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Finds module `name` as Python would and runs `patch` on it right after it executes."""

    def __init__(self, name: str, patch: Callable[[ModuleType], None]) -> None:
        self.name, self.patch = name, patch

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # once per process
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            self.patch(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _warm() -> None:
    """Import boto3 and load the models of WARM_SERVICES (Mitogen's target, before its fork parent)."""
    # Imported here, not at the top: every other process that starts with this PYTHONPATH must not
    # pay for boto3 (0.15 CPU-s) unless it uses it.
    import boto3  # noqa: PLC0415, F401  -- imported for the forked children to inherit
    import botocore.exceptions  # noqa: PLC0415  -- as above
    import botocore.session  # noqa: PLC0415  -- as above

    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    session.get_component("endpoint_resolver")  # endpoints.json, partitions
    for service in WARM_SERVICES:
        for type_name in ("service-2", "endpoint-rule-set-1", "paginators-1", "waiters-2"):
            with contextlib.suppress(botocore.exceptions.DataNotFoundError):  # not every service has waiters
                loader.load_service_model(service, type_name)


if "botocore.loaders" not in sys.modules:
    sys.meta_path.insert(0, _PatchOnImport("botocore.loaders", _keep_parsed_files))
if "mitogen.parent" in sys.modules:
    _wait_longer_for_targets(sys.modules["mitogen.parent"])
else:
    sys.meta_path.insert(0, _PatchOnImport("mitogen.parent", _wait_longer_for_targets))
if "(mitogen:" in (getattr(sys, "orig_argv", None) or sys.argv or [""])[0]:
    _warm()
