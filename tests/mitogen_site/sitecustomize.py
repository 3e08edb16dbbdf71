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
  one per module call. Its listings of the data directories (``Loader.list_available_services``,
  ``determine_latest_version``) are kept the same way, per search path. The files are botocore's own
  data, which do not change during a run.
- In every process, too: what botocore builds for each client from a model it shares, once per
  process instead of once per session. ``ClientCreator._create_methods`` (a function per API
  operation, about 600 for EC2, each with its lazy docstring) is kept per shared model (each client
  class gets its own copy of the dict, which the ``creating-client-class`` handlers may extend), and
  every ``EventAliaser`` with botocore's default aliases shares one alias cache (a session registers
  about 150 handlers, each name aliased again per session). Both are pure functions of what they
  are keyed by.
- In Mitogen's target interpreter only (its process name holds ``(mitogen:``), before it forks
  its fork parent: boto3 imported, the models of the services this repository calls loaded, and a
  client of each made through a boto3 session (amazon.aws makes its clients so: boto3's data
  directory is on that loader's search path, which keys the listings), so that every forked module
  child inherits them. Only third-party code is loaded there, no Ansible
  module_utils: the fork parent stays free of anything a module's own module_utils could clash
  with, as Mitogen intends.
- In the controller: Mitogen waits ``CONNECT_TIMEOUT`` seconds for a target interpreter to start,
  not its default 30 (``mitogen.parent.Options.connect_timeout``; a ``local`` connection passes no
  timeout of its own, and ANSIBLE_TIMEOUT does not reach it). The warm-up above runs while the
  target starts: with make test's five stages on two cores one start took longer than 30 s and its
  play failed UNREACHABLE ("Connection timed out") before its first module. A slow start under load
  is no fault of the playbook under test.

Measured on the quiet machine (docs/benchmarks.md): a platform create 39-41 -> 29-30 CPU-s, its
teardown 29-31 -> 19 CPU-s, the same results; with the client methods and the alias cache, a
platform create 29.4-29.7 -> 27.7-28.3 CPU-s, and an EC2 client of a new boto3 session 5 ms
instead of 117-207 ms (the first one: 147 ms). tests/unit/test_mitogen_site.py proves a forked
module child starts with the models loaded.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Hashable, Sequence
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


def _keep_per_process(cls: type, name: str, key: Callable[..., Hashable]) -> None:
    """Make method `name` of `cls` answer each key once per process (its cache: ``arena_cache``).
    An answer of None (botocore: no such file) is not kept."""
    method: Callable[..., Any] = getattr(cls, name)
    cache: dict[Hashable, Any] = {}

    def cached(self: Any, *args: Any) -> Any:
        k = key(self, *args)
        try:
            return cache[k]
        except KeyError:
            value = method(self, *args)
            if value is not None:
                cache[k] = value
            return value

    cached.arena_cache = cache  # type: ignore[attr-defined]
    cached.__doc__ = method.__doc__
    setattr(cls, name, cached)


def _keep_botocore_data(loaders: ModuleType) -> None:
    """What botocore reads from its data directory, once per process instead of once per session:
    amazon.aws makes a session, so a Loader, per module call, and botocore's own caches live on the
    Loader. ``JSONFileLoader.load_file`` parses each file once; ``Loader.list_available_services`` and
    ``determine_latest_version`` list the directories once per search path (the listing walks about
    420 service directories, about 600 ``listdir`` calls and 12 ms a Loader; docs/benchmarks.md)."""
    _keep_per_process(loaders.JSONFileLoader, "load_file", lambda _self, path: path)
    for name in ("list_available_services", "determine_latest_version"):
        _keep_per_process(loaders.Loader, name, lambda self, *args: (tuple(self.search_paths), *args))


def _keep_client_methods(client: ModuleType) -> None:
    """``ClientCreator._create_methods`` once per shared service model and process; a copy each time.
    The model's description is kept in the entry, so the id in the key cannot be another's."""
    creator = client.ClientCreator
    method = creator._create_methods
    cache: dict[Hashable, tuple[Any, dict[str, Any]]] = {}

    def cached(self: Any, service_model: Any) -> dict[str, Any]:
        description = service_model._service_description
        key = (id(description), service_model.service_name, service_model.api_version)
        entry = cache.get(key)
        if entry is None or entry[0] is not description:
            entry = cache[key] = (description, method(self, service_model))
        return dict(entry[1])

    cached.arena_cache = cache  # type: ignore[attr-defined]
    creator._create_methods = cached


def _share_alias_cache(hooks: ModuleType) -> None:
    """One alias cache per process for every ``EventAliaser`` with botocore's default aliases."""
    aliaser = hooks.EventAliaser
    init = aliaser.__init__
    shared: dict[str, str] = {}

    def __init__(self: Any, event_emitter: Any, event_aliases: Any = None) -> None:
        init(self, event_emitter, event_aliases)
        if self._event_aliases is hooks.EVENT_ALIASES:
            self._alias_name_cache = shared

    aliaser.__init__ = __init__
    aliaser.arena_alias_cache = shared


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
    import boto3.session  # noqa: PLC0415  -- imported for the forked children to inherit
    import botocore.exceptions  # noqa: PLC0415  -- as above
    import botocore.session  # noqa: PLC0415  -- as above

    session = boto3.session.Session(
        aws_access_key_id="warm-up", aws_secret_access_key="warm-up", region_name="us-east-1"
    )._session  # as amazon.aws makes them; explicit keys: no credential chain (IMDS) is asked
    loader = session.get_component("data_loader")
    session.get_component("endpoint_resolver")  # endpoints.json, partitions
    for service in WARM_SERVICES:
        for type_name in ("service-2", "endpoint-rule-set-1", "paginators-1", "waiters-2"):
            with contextlib.suppress(botocore.exceptions.DataNotFoundError):  # not every service has waiters
                loader.load_service_model(service, type_name)
        session.create_client(service)  # its methods and aliases, for every later client of it


for _name, _patch in (
    ("botocore.loaders", _keep_botocore_data),
    ("botocore.client", _keep_client_methods),
    ("botocore.hooks", _share_alias_cache),
):
    if _name not in sys.modules:
        sys.meta_path.insert(0, _PatchOnImport(_name, _patch))
if "mitogen.parent" in sys.modules:
    _wait_longer_for_targets(sys.modules["mitogen.parent"])
else:
    sys.meta_path.insert(0, _PatchOnImport("mitogen.parent", _wait_longer_for_targets))
if "(mitogen:" in (getattr(sys, "orig_argv", None) or sys.argv or [""])[0]:
    _warm()
