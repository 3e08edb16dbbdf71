"""One loader for the controller-side plugins that use another file of the repository.

Ansible puts neither ``filter_plugins/`` nor ``module_utils/`` on ``sys.path``: a filter plugin that
builds on another (``arena_schedule`` on ``arena_calendar`` and ``arena_capacity``) and the
inventory plugin that uses the guard's classifier (``filter_plugins/arena_aws_target.py``) import
those files by path. They all do it here, so each file is executed once per process, under one name
(``_arena_filters_<stem>``, the name the unit tests load it by too: tests/arena_loader.py).

A plugin reaches this file with one line, since it cannot import it by name either::

    load_filter_file = runpy.run_path(str(ROOT / "module_utils" / "arena_plugin_loader.py"))["load_filter_file"]

No module imports it; it is in module_utils because that is where the repository's shared code lives.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

FILTER_PLUGINS = Path(__file__).resolve().parent.parent / "filter_plugins"


def load_file(path: Path, name: str) -> ModuleType:
    """The module of the file at ``path``, executed once per process under ``name`` (sys.modules)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]


def load_filter_file(stem: str) -> ModuleType:
    """The module of ``filter_plugins/<stem>.py``, executed once per process."""
    return load_file(FILTER_PLUGINS / f"{stem}.py", f"_arena_filters_{stem}")
