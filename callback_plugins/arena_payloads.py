# arena-infra: module payloads (AnsiballZ) with their bytecode, kept from one run to the next.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module payloads (AnsiballZ) that carry their bytecode, and are kept across runs while their
sources are unchanged.

A module that runs on a target through a plain connection (local, podman, ssh: not Mitogen) is one
new Python process that imports the module and its module_utils from a zip file the controller
built. Two costs of that, and what this plugin does about each:

**Bytecode.** Python's zip importer cannot cache what it compiles, so every task compiled
ansible.module_utils.basic and the 50-odd files it imports again: about 0.06 of the 0.16 CPU-seconds
a small module takes (ansible.builtin.stat, docs/benchmarks.md). The payload now has a ``.pyc``
beside each ``.py``, which the zip importer loads instead:

- The ``.pyc`` is an *unchecked hash-based* one (PEP 552): the zip importer uses it without
  comparing times. Its code is the controller's own compiled copy of the very file that goes into
  the payload: Python's ``__pycache__`` file when its recorded size and time match the source file
  (as Python's import itself checks), otherwise the controller compiles it. The code objects get the
  file name the payload gives the source, so a traceback names the same file.
- Bytecode is tied to the Python version. The ``.pyc`` carries the controller's magic number; a target
  whose Python differs (the controller is 3.12, the image 3.11) finds a "bad magic" and the zip
  importer falls back to the source, as without this plugin.

**Building.** ansible-core builds a module's payload once per run (``recursive_finder`` parses the
module and, recursively, every module_utils file it imports: 0.1-0.15 CPU-seconds a module) in the
run's own temporary directory (``ansiballz_cache`` under ``DEFAULT_LOCAL_TMP``), so every
``ansible-playbook`` run built again what the last one built: a molecule scenario's converge, check
and idempotence runs the same payloads three times. The plugin keeps the payload ansible-core wrote,
with a manifest, in a directory that outlives the run, and puts it back into the run's cache before
ansible-core looks there; ansible-core finds the file where it always looks and loads it as its own.
An entry is used only when:

- its key matches: the module's own bytes (sha256), its path and name as ansible-core names the
  payload, the compression, ansible-core's version, the controller's Python, this plugin's entry
  format, and the collection and module_utils search paths;
- its manifest still stats the same: every source file that went into the zip (each written member
  carries the file it was read from) with its size and modification time in nanoseconds, and the
  directories of the configured module_utils paths (a file added there could shadow another) - the
  check Python's import makes for a ``.pyc``.

A payload with a member whose origin is unknown (other than ansible-core's two fixed package stubs,
empty package files and the module itself) or with debugger or coverage extensions is not kept.
The directory is ``ARENA_PAYLOAD_CACHE``, else ``$XDG_CACHE_HOME/arena-infra/ansiballz`` (default
``~/.cache``); ``ARENA_PAYLOAD_CACHE=off`` keeps nothing (the bytecode stays). Entries unused for 14
days are removed (checked at most once a day). Writes are atomic (a temporary file, then a rename),
so runs side by side share the directory. With -vvv the plugin says what it used and kept.

Only ansible-core's payload writers (``recursive_finder``, ``_add_module_to_zip``: they get a writer
that adds the ``.pyc`` and records each member's origin) and ``_find_module_utils`` are wrapped; when
ansible-core changes their signatures the plugin patches nothing and says so with -vvv. It needs no
enabling: ansible.cfg names this directory (``callback_plugins``); scripts/lib.sh ``molecule_env``
does the same for molecule.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import inspect
import json
import marshal
import os
import sys
import time
import types
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
except ImportError:  # older ansible-core: bytecode from compiling only, and no payload kept
    _builder = None
    Origin = None

DOCUMENTATION = """
    name: arena_payloads
    type: aggregate
    short_description: Module payloads carry Python bytecode and are kept across runs
    description:
      - Adds an unchecked hash-based C(.pyc) beside each C(.py) of the module payloads (AnsiballZ) the
        run builds, so that a target whose Python matches the controller's imports the bytecode
        instead of compiling every module_utils file for every task. Other targets ignore it.
      - Keeps the payloads in a directory that outlives the run, with a manifest of their source
        files, and gives them to later runs whose module and sources stat the same.
        C(ARENA_PAYLOAD_CACHE) names the directory (default C($XDG_CACHE_HOME/arena-infra/ansiballz));
        C(ARENA_PAYLOAD_CACHE=off) keeps none.
      - Prints nothing and changes no result.
    requirements:
      - the directory of this file in C(callback_plugins) (ansible.cfg) or C(ANSIBLE_CALLBACK_PLUGINS)
"""

display = Display()

# PEP 552 flags: bit 0 hash-based, bit 1 check_source. Hash-based and unchecked: the zip importer
# uses the code without reading the source again.
_UNCHECKED_HASH = (0b01).to_bytes(4, "little")


def _cached_code(path: str, source: bytes) -> types.CodeType | None:
    """The code of Python's own ``__pycache__`` file for `path`, when it is that source's."""
    try:
        cached = importlib.util.cache_from_source(path)
        with open(cached, "rb") as handle:
            data = handle.read()
        stat = os.stat(path)
    except (OSError, NotImplementedError, ValueError):
        return None
    if len(data) < 16 or data[:4] != importlib.util.MAGIC_NUMBER:
        return None
    flags = int.from_bytes(data[4:8], "little")
    if flags & 0b01:  # hash-based: valid when it was made from this source
        valid = data[8:16] == importlib.util.source_hash(source)
    else:  # time-based, as the import system checks it: source mtime and size
        valid = (
            int.from_bytes(data[8:12], "little") == int(stat.st_mtime) & 0xFFFFFFFF
            and int.from_bytes(data[12:16], "little") == stat.st_size & 0xFFFFFFFF
            and stat.st_size == len(source)
        )
    if not valid:
        return None
    try:
        code = marshal.loads(data[16:])
    except (EOFError, ValueError, TypeError):
        return None
    return code if isinstance(code, types.CodeType) else None


def _renamed(code: types.CodeType, filename: str) -> types.CodeType:
    """`code` and every code object inside it, with `filename` as their file name."""
    consts = tuple(
        _renamed(const, filename) if isinstance(const, types.CodeType) else const for const in code.co_consts
    )
    return code.replace(co_filename=filename, co_consts=consts)


def bytecode(name: str, source: bytes, origin: str | None) -> bytes | None:
    """The unchecked hash-based ``.pyc`` of `source` (file `name` in the payload); None when the
    source does not compile on the controller's Python (the target compiles it, as before)."""
    code = _cached_code(origin, source) if origin else None
    if code is None:
        try:
            code = compile(source, name, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            return None
    else:
        code = _renamed(code, name)
    return importlib.util.MAGIC_NUMBER + _UNCHECKED_HASH + importlib.util.source_hash(source) + marshal.dumps(code)


def _origin_path(data: Any) -> str | None:
    """The file a payload source was read from, when ansible-core tagged it with its origin."""
    origin = Origin.get_tag(data) if Origin else None
    return origin.path if origin and origin.path and origin.path.endswith(".py") else None


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


def _search_dirs() -> list[list[Any]]:
    """The configured module_utils directories and every directory under them, each with its stat
    (a file added to one changes its time)."""
    found = []
    for root in C.DEFAULT_MODULE_UTILS_PATH or []:
        for current, _dirs, _files in os.walk(root):
            found.append(current)
    return [[current, _stat(current)] for current in sorted(found)]


def _collection_paths() -> list[str]:
    return [str(path) for path in AnsibleCollectionConfig.collection_paths or []]


def payload_fqn(module_name: str, module_path: str, task_vars: dict[str, Any]) -> str | None:
    """The module's name in its payload as ``_find_module_utils`` gives it (the payload's file in the
    run's cache is ``<fqn>-<compression>-<extensions>``); None when the payload has extensions
    (debugger, coverage), which this plugin does not keep."""
    if _builder.ExtensionManager.create(task_vars=task_vars).extension_names:
        return None
    try:
        return module_common._get_ansible_module_fqn(module_path)
    except ValueError:
        return f"ansible.legacy.{module_name}"


def entry_key(name: str, module_path: str, module_data: bytes) -> str:
    parts = {
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
    if manifest["dirs"] != _search_dirs():
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # used: kept another MAX_AGE
    return payload


def store_entry(directory: str, key: str, sources: set[str], payload: bytes) -> None:
    files = [[source, _stat(source)] for source in sorted(sources)]
    if any(recorded is None for _source, recorded in files):
        return
    manifest = json.dumps({"format": FORMAT, "files": files, "dirs": _search_dirs()}).encode()
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


class _PayloadWriter:
    """A payload zip writer that writes a ``.pyc`` after each ``.py`` and, while a build is recorded,
    notes the file each member was read from; everything else is the zip's."""

    def __init__(self, zf: zipfile.ZipFile) -> None:
        self._zf = zf

    def __getattr__(self, name: str) -> Any:
        return getattr(self._zf, name)

    def writestr(self, zinfo: zipfile.ZipInfo | str, data: Any, *args: Any, **kwargs: Any) -> None:
        self._zf.writestr(zinfo, data, *args, **kwargs)
        name = zinfo.filename if isinstance(zinfo, zipfile.ZipInfo) else zinfo
        origin = _origin_path(data)
        if _build.sources is not None:
            if origin:
                _build.sources.add(origin)
            elif name.endswith(".py") and name not in (*FIXED_MEMBERS, _build.module_member) and len(data):
                _build.unknown = True
        if not name.endswith(".py"):
            return
        source = data.encode() if isinstance(data, str) else bytes(data)
        pyc = bytecode(name, source, origin)
        if pyc is None:
            return
        info = zipfile.ZipInfo(
            name + "c", date_time=zinfo.date_time if isinstance(zinfo, zipfile.ZipInfo) else (1980, 1, 1, 0, 0, 0)
        )
        info.compress_type = self._zf.compression
        self._zf.writestr(info, pyc)


def _with_writer(function: Any) -> Any:
    """`function` (a payload writer) with its `zf` argument (by name, or by position) given the
    _PayloadWriter."""
    position = list(inspect.signature(function).parameters).index("zf")

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        args = list(args)
        if "zf" in kwargs:
            kwargs["zf"] = _PayloadWriter(kwargs["zf"])
        elif len(args) > position:
            args[position] = _PayloadWriter(args[position])
        return function(*args, **kwargs)

    wrapper.arena_payloads = True  # type: ignore[attr-defined]
    wrapper.__wrapped__ = function  # type: ignore[attr-defined]
    return wrapper


def _cached_find(function: Any) -> Any:
    """`_find_module_utils` that first puts a kept payload where ansible-core looks, and keeps the
    one it builds."""

    def wrapper(**kwargs: Any) -> Any:
        directory = cache_dir()
        fqn = None
        if directory:
            try:
                fqn = payload_fqn(kwargs["module_name"], kwargs["module_path"], kwargs["task_vars"])
            except Exception as error:  # an unknown shape of ansible-core's must never fail a task: no cache
                display.vvv(f"arena_payloads: not used ({error!r})")
        if not fqn:
            return function(**kwargs)
        name = f"{fqn}-{kwargs['module_compression']}-none"
        target = os.path.join(C.DEFAULT_LOCAL_TMP, "ansiballz_cache", name)
        if os.path.exists(target):  # built or placed earlier in this run
            return function(**kwargs)
        key = entry_key(name, kwargs["module_path"], kwargs["b_module_data"])
        payload = load_entry(directory, key)
        if payload is not None:
            _write_atomic(target, payload)
            display.vvv(f"arena_payloads: {name} from {_entry_path(directory, key)}")
            return function(**kwargs)
        _build.sources, _build.unknown = set(), False
        _build.module_member = fqn.replace(".", "/") + ".py"  # the module itself (``_add_module_to_zip``)
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
                display.vvv(f"arena_payloads: {name} kept ({len(sources)} source files)")
            except OSError as error:
                display.vvv(f"arena_payloads: {name} not kept ({error})")
        return result

    wrapper.arena_payloads = True  # type: ignore[attr-defined]
    wrapper.__wrapped__ = function  # type: ignore[attr-defined]
    return wrapper


def patch() -> bool:
    """Wrap ansible-core's payload writers (bytecode; origins) and its payload builder (kept payloads)
    once per process; False when their shape is not the one this plugin knows (nothing patched)."""
    if getattr(module_common.recursive_finder, "arena_payloads", False):
        return True
    names = ("recursive_finder", "_add_module_to_zip")
    writers = [getattr(module_common, name, None) for name in names]
    find = getattr(module_common, "_find_module_utils", None)
    if not all(callable(w) and "zf" in inspect.signature(w).parameters for w in writers):
        display.vvv("arena_payloads: ansible-core's payload writers are not the ones this plugin knows; not patched")
        return False
    for name, function in zip(names, writers, strict=True):
        setattr(module_common, name, _with_writer(function))
    if (
        Origin is not None
        and _builder is not None
        and callable(find)
        and {"module_name", "b_module_data", "module_path", "task_vars", "module_compression"}
        <= set(inspect.signature(find).parameters)
    ):
        module_common._find_module_utils = _cached_find(find)
    else:
        display.vvv("arena_payloads: ansible-core's payload builder is not the one this plugin knows; none kept")
    return True


class CallbackModule(CallbackBase):
    """Patches the payload writers and builder when the controller loads its callbacks, before any
    worker forks."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "arena_payloads"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        directory = cache_dir()
        if patch() and directory:
            with contextlib.suppress(OSError):
                prune(directory)
