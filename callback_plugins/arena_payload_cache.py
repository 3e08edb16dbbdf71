# arena-infra: module payloads (AnsiballZ) kept from one run to the next, checked as Python checks .pyc.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep each module's payload (AnsiballZ) across runs, and use it only while its sources are unchanged.

ansible-core builds a module's payload once per run: it parses the module and, recursively, every
module_utils file it imports, and zips them (``recursive_finder``: 0.1-0.15 CPU-seconds a module,
docs/benchmarks.md). Its cache lives in the run's own temporary directory (``ansiballz_cache`` under
``DEFAULT_LOCAL_TMP``), so every ``ansible-playbook`` run builds again what the last one built: a
molecule scenario's converge, check and idempotence runs build the same 15-25 payloads three times.

This plugin keeps the payload ansible-core wrote, with a manifest, in a directory that outlives
the run, and puts it back into the run's cache before ansible-core looks there. Nothing else of
ansible-core changes: it finds the file where it always looks and loads it as its own.

When an entry is used:

- its key is the module's own bytes (sha256), its path and name as ansible-core names the payload,
  the compression, ansible-core's version, the controller's Python and whether arena_bytecode
  wraps the payload writers (callback_plugins/arena_bytecode.py: the payload then carries
  bytecode), and the collection and module_utils search paths;
- its manifest lists every source file that went into the zip (each written member carries the file
  it was read from) with its size and modification time in nanoseconds, and the directories of the
  configured module_utils paths with theirs (a file added there could shadow another): the entry is
  used only when all of them still stat the same, the check Python's import makes for a ``.pyc``;
- a payload with a member whose origin is unknown (other than ansible-core's two fixed package
  stubs and empty package files) or with debugger or coverage extensions is not kept.

The directory is ``ARENA_PAYLOAD_CACHE``, else ``$XDG_CACHE_HOME/arena-infra/ansiballz`` (default
``~/.cache``). ``ARENA_PAYLOAD_CACHE=off`` turns the plugin off. Entries unused for 14 days are
removed (checked at most once a day). Writes are atomic (a temporary file, then a rename), so runs
side by side share the directory. With -vvv the plugin says what it used and kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import sys
import time
import zipfile
from typing import Any

from ansible import constants as C
from ansible.executor import module_common
from ansible.plugins.callback import CallbackBase
from ansible.release import __version__ as ANSIBLE_VERSION
from ansible.utils.collection_loader import AnsibleCollectionConfig
from ansible.utils.display import Display

try:  # ansible-core >= 2.19 tags what it reads with the file it came from
    from ansible._internal._ansiballz import _builder
    from ansible._internal._datatag._tags import Origin
except ImportError:  # older ansible-core: the plugin patches nothing
    _builder = None
    Origin = None

DOCUMENTATION = """
    name: arena_payload_cache
    type: aggregate
    short_description: Module payloads kept across runs while their sources are unchanged
    description:
      - Keeps the module payloads (AnsiballZ) a run builds in a directory that outlives the run, with a
        manifest of their source files, and gives them to later runs whose module and sources stat the
        same. Prints nothing and changes no result.
      - C(ARENA_PAYLOAD_CACHE) names the directory (default C($XDG_CACHE_HOME/arena-infra/ansiballz));
        C(ARENA_PAYLOAD_CACHE=off) turns it off.
    requirements:
      - the directory of this file in C(callback_plugins) (ansible.cfg) or C(ANSIBLE_CALLBACK_PLUGINS)
"""

display = Display()

FORMAT = 1  # the entry layout below; part of every key
MAX_AGE = 14 * 86400  # entries unused that long are removed
# Members ansible-core writes itself, not from a file: fixed for its version (part of the key).
FIXED_MEMBERS = ("ansible/__init__.py", "ansible/module_utils/__init__.py")


def cache_dir() -> str | None:
    """Where entries live; None when turned off."""
    configured = os.environ.get("ARENA_PAYLOAD_CACHE", "")
    if configured.lower() == "off":
        return None
    if configured:
        return configured
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "arena-infra", "ansiballz")


def _stat(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _search_dirs() -> list[str]:
    """The configured module_utils directories and every directory under them."""
    found = []
    for root in C.DEFAULT_MODULE_UTILS_PATH or []:
        for current, _dirs, _files in os.walk(root):
            found.append(current)
    return sorted(found)


def _collection_paths() -> list[str]:
    return [str(path) for path in AnsibleCollectionConfig.collection_paths or []]


def payload_name(module_name: str, module_path: str, compression: str, task_vars: dict[str, Any]) -> str | None:
    """The file name ansible-core gives the payload in the run's cache (``_find_module_utils``:
    ``<module fqn>-<compression>-<extensions>``); None when the payload has extensions (debugger,
    coverage), which this plugin does not keep."""
    try:
        fqn = module_common._get_ansible_module_fqn(module_path)
    except ValueError:
        fqn = f"ansible.legacy.{module_name}"
    if _builder.ExtensionManager.create(task_vars=task_vars).extension_names:
        return None
    return f"{fqn}-{compression}-none"


def _writer_patches() -> list[str]:
    """The plugins that wrap ansible-core's payload writers in this process (arena_bytecode puts
    bytecode in the zip: a payload built with it differs from one built without)."""
    found = set()
    for name in ("recursive_finder", "_add_module_to_zip"):
        function = getattr(module_common, name, None)
        while function is not None:
            found.update(flag for flag in ("arena_bytecode",) if getattr(function, flag, False))
            function = getattr(function, "__wrapped__", None)
    return sorted(found)


def entry_key(name: str, module_path: str, module_data: bytes) -> str:
    parts = {
        "writers": _writer_patches(),
        "format": FORMAT,
        "ansible": ANSIBLE_VERSION,
        "python": sys.version,
        "name": name,
        "path": os.path.realpath(module_path),
        "module": hashlib.sha256(module_data).hexdigest(),
        "module_utils": list(C.DEFAULT_MODULE_UTILS_PATH or []),
        "collections": _collection_paths(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _write_atomic(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    part = f"{path}.{os.getpid()}-part"
    with open(part, "wb") as handle:
        handle.write(data)
    os.replace(part, path)


def _entry_path(directory: str, key: str) -> str:
    return os.path.join(directory, key[:2], key)


def load_entry(directory: str, key: str) -> bytes | None:
    """The payload file of entry `key` when every file of its manifest still stats the same."""
    path = _entry_path(directory, key)
    try:
        with open(path, "rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            manifest = json.loads(handle.read(size))
            payload = handle.read()
    except (OSError, ValueError):
        return None
    if manifest.get("format") != FORMAT or not payload:
        return None
    if any(_stat(source) != recorded for source, recorded in manifest["files"]):
        return None
    if manifest["dirs"] != [[current, _stat(current)] for current in _search_dirs()]:
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # used: kept another MAX_AGE
    return payload


def store_entry(directory: str, key: str, sources: set[str], payload: bytes) -> None:
    files = [[source, _stat(source)] for source in sorted(sources)]
    if any(recorded is None for _source, recorded in files):
        return
    manifest = json.dumps(
        {"format": FORMAT, "files": files, "dirs": [[current, _stat(current)] for current in _search_dirs()]}
    ).encode()
    _write_atomic(_entry_path(directory, key), len(manifest).to_bytes(8, "little") + manifest + payload)


def prune(directory: str, now: float | None = None) -> int:
    """Remove entries unused for MAX_AGE, at most once a day; returns how many went."""
    now = time.time() if now is None else now
    stamp = os.path.join(directory, ".pruned")
    last = _stat(stamp)
    if last is not None and now - last[1] / 1e9 < 86400:
        return 0
    removed = 0
    for current, _dirs, files in os.walk(directory):
        for name in files:
            path = os.path.join(current, name)
            recorded = _stat(path)
            if name != ".pruned" and recorded is not None and now - recorded[1] / 1e9 > MAX_AGE:
                with contextlib.suppress(OSError):
                    os.unlink(path)
                    removed += 1
    with contextlib.suppress(OSError):
        _write_atomic(stamp, b"")
    return removed


class _Build:
    """What the payload writers of the current build in this process wrote: origins and odd members."""

    sources: set[str] | None = None
    unknown: bool = False
    module_member: str = ""  # the module itself: its bytes are part of the key


_build = _Build()


class _Recorder:
    """A payload zip writer that records the file each member was read from; the rest is the zip's."""

    def __init__(self, zf: zipfile.ZipFile) -> None:
        self._zf = zf

    def __getattr__(self, name: str) -> Any:
        return getattr(self._zf, name)

    def writestr(self, zinfo: zipfile.ZipInfo | str, data: Any, *args: Any, **kwargs: Any) -> None:
        self._zf.writestr(zinfo, data, *args, **kwargs)
        if _build.sources is None:
            return
        name = zinfo.filename if isinstance(zinfo, zipfile.ZipInfo) else zinfo
        origin = Origin.get_tag(data) if Origin else None
        if origin and origin.path:
            _build.sources.add(origin.path)
        elif name.endswith(".py") and name not in (*FIXED_MEMBERS, _build.module_member) and len(data):
            _build.unknown = True


def _recording(function: Any) -> Any:
    """`function` (a payload writer taking `zf`) with its zip given the recorder."""
    position = list(inspect.signature(function).parameters).index("zf")

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        args = list(args)
        if "zf" in kwargs:
            kwargs["zf"] = _Recorder(kwargs["zf"])
        elif len(args) > position:
            args[position] = _Recorder(args[position])
        return function(*args, **kwargs)

    wrapper.arena_payload_cache = True  # type: ignore[attr-defined]
    wrapper.__wrapped__ = function  # type: ignore[attr-defined]
    return wrapper


def _cached_find(function: Any) -> Any:
    """`_find_module_utils` that first puts a kept payload where ansible-core looks, and keeps the
    one it builds."""

    def wrapper(**kwargs: Any) -> Any:
        directory = cache_dir()
        name = None
        if directory:
            try:
                name = payload_name(
                    kwargs["module_name"], kwargs["module_path"], kwargs["module_compression"], kwargs["task_vars"]
                )
            except Exception as error:  # an unknown shape of ansible-core's must never fail a task: no cache
                display.vvv(f"arena_payload_cache: not used ({error!r})")
        if not name:
            return function(**kwargs)
        target = os.path.join(C.DEFAULT_LOCAL_TMP, "ansiballz_cache", name)
        if os.path.exists(target):  # built or placed earlier in this run
            return function(**kwargs)
        key = entry_key(name, kwargs["module_path"], kwargs["b_module_data"])
        payload = load_entry(directory, key)
        if payload is not None:
            _write_atomic(target, payload)
            display.vvv(f"arena_payload_cache: {name} from {_entry_path(directory, key)}")
            return function(**kwargs)
        _build.sources, _build.unknown = set(), False
        # The module's own member (``_add_module_to_zip``): the fqn's dots as slashes.
        _build.module_member = name.removesuffix(f"-{kwargs['module_compression']}-none").replace(".", "/") + ".py"
        try:
            result = function(**kwargs)
            sources, unknown = _build.sources, _build.unknown
        finally:
            _build.sources = None
        if sources and not unknown and os.path.exists(target):
            sources.add(os.path.realpath(kwargs["module_path"]))
            try:
                with open(target, "rb") as handle:
                    store_entry(directory, key, sources, handle.read())
                display.vvv(f"arena_payload_cache: {name} kept ({len(sources)} source files)")
            except OSError as error:
                display.vvv(f"arena_payload_cache: {name} not kept ({error})")
        return result

    wrapper.arena_payload_cache = True  # type: ignore[attr-defined]
    wrapper.__wrapped__ = function  # type: ignore[attr-defined]
    return wrapper


def patch() -> bool:
    """Wrap ansible-core's payload builder and writers once per process; False when their shape is
    not the one this plugin knows (then nothing is patched)."""
    if getattr(module_common._find_module_utils, "arena_payload_cache", False):
        return True
    writers = [getattr(module_common, name, None) for name in ("recursive_finder", "_add_module_to_zip")]
    find = getattr(module_common, "_find_module_utils", None)
    known = (
        Origin is not None
        and _builder is not None
        and callable(find)
        and {"module_name", "b_module_data", "module_path", "task_vars", "module_compression"}
        <= set(inspect.signature(find).parameters)
        and all(callable(w) and "zf" in inspect.signature(w).parameters for w in writers)
    )
    if not known:
        display.vvv("arena_payload_cache: ansible-core's payload builder is not the one this plugin knows; not patched")
        return False
    module_common.recursive_finder = _recording(module_common.recursive_finder)
    module_common._add_module_to_zip = _recording(module_common._add_module_to_zip)
    module_common._find_module_utils = _cached_find(find)
    return True


class CallbackModule(CallbackBase):
    """Patches the payload builder when the controller loads its callbacks, before any worker forks."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "arena_payload_cache"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        directory = cache_dir()
        if directory and patch():
            with contextlib.suppress(OSError):
                prune(directory)
