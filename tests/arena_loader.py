"""One way for tests to import the repository's plugin and module files, and to make AWS clients.

Modules in library/, filter plugins and scripts are files, not packages: tests import them by path.
Each file is executed once per process under one name (sys.modules caches it), so every test file
that needs ``arena_autoscaling_group`` gets the same module object, and a dataclass or pickle in it
resolves its own module. (importable: pytest.ini adds tests/ to the path.)
"""

from __future__ import annotations

import runpy
from pathlib import Path
from types import ModuleType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


# The plugins' own loader (module_utils/arena_plugin_loader.py), reached the way they reach it; run once.
_LOADER = runpy.run_path(str(REPO_ROOT / "module_utils" / "arena_plugin_loader.py"))


def load_source(path: Path | str, name: str | None = None) -> ModuleType:
    """The module of the file at ``path`` (relative to the repository root, or absolute), executed
    once under ``name`` (default: ``<stem>_under_test``)."""
    path = REPO_ROOT / path
    return _LOADER["load_file"](path, name or f"{path.stem}_under_test")


def library_module(stem: str, name: str | None = None) -> ModuleType:
    """A custom module of ``library/`` (``stem`` without ``.py``)."""
    return load_source(REPO_ROOT / "library" / f"{stem}.py", name)


def filter_plugin(stem: str) -> ModuleType:
    """A filter plugin file of ``filter_plugins/``, by the plugins' own loader
    (module_utils/arena_plugin_loader.py): the module object its sibling plugins use."""
    return _LOADER["load_filter_file"](stem)


def aws_client(service: str, region: str = "eu-west-1", *, endpoint: str | None = None) -> Any:
    """A boto3 client with dummy credentials: for botocore's Stubber (it never leaves the process), or
    for the loopback emulator at `endpoint`."""
    import boto3  # noqa: PLC0415 -- only the tests that stub AWS need boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
