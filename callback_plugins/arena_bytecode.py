# arena-infra: module payloads (AnsiballZ) that carry their Python bytecode as well as their source.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Put each Python file's bytecode beside its source in the module payloads (AnsiballZ) of a run.

A module that runs on a target through a plain connection (local, podman, ssh: not Mitogen) is one
new Python process that imports the module and its module_utils from a zip file. Python's zip
importer cannot cache what it compiles, so every task compiles ansible.module_utils.basic and the
50-odd files it imports again: about 0.06 of the 0.16 CPU-seconds a small module takes (measured
with ansible.builtin.stat, docs/benchmarks.md). With a ``.pyc`` beside each ``.py`` in the zip, the
zip importer loads the bytecode instead.

How, without changing what a module does:

- The ``.pyc`` is an *unchecked hash-based* one (PEP 552): the zip importer uses it without
  comparing times. Its code is the controller's own compiled copy of the very file that goes into
  the payload: Python's ``__pycache__`` file when its recorded size and time match the source file
  (as Python's import itself checks), otherwise the controller compiles it. The code objects get the
  file name the payload gives the source, so a traceback names the same file.
- Bytecode is tied to the Python version. The ``.pyc`` carries the controller's magic number; a target
  whose Python differs (the controller is 3.12, the image 3.11) finds a "bad magic" and the zip
  importer falls back to the source, as without this plugin.
- Only the zip's writer is wrapped (``ansible.executor.module_common.recursive_finder`` and
  ``_add_module_to_zip`` get a writer that adds the ``.pyc`` after each ``.py``). When ansible-core
  changes those functions' signatures, the plugin patches nothing and says so with -vvv.

The payload is built once per module and run (ansible-core's ``ansiballz_cache``), so the cost is
paid once per module; the saving on every task. It needs no enabling: ansible.cfg names this
directory (``callback_plugins``); scripts/lib.sh ``molecule_env`` does the same for molecule.
"""

from __future__ import annotations

import importlib.util
import inspect
import marshal
import os
import types
import zipfile
from typing import Any

from ansible.executor import module_common
from ansible.plugins.callback import CallbackBase
from ansible.utils.display import Display

try:  # ansible-core >= 2.19 tags what it reads with the file it came from
    from ansible._internal._datatag._tags import Origin
except ImportError:
    Origin = None  # absent on older ansible-core: payloads then get compiled bytecode only

DOCUMENTATION = """
    name: arena_bytecode
    type: aggregate
    short_description: Module payloads carry Python bytecode beside their source
    description:
      - Adds an unchecked hash-based C(.pyc) beside each C(.py) of the module payloads (AnsiballZ) the
        run builds, so that a target whose Python matches the controller's imports the bytecode
        instead of compiling every module_utils file for every task. Other targets ignore it.
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


class _WithBytecode:
    """A payload zip writer that writes a ``.pyc`` after each ``.py``; everything else is the zip's."""

    def __init__(self, zf: zipfile.ZipFile) -> None:
        self._zf = zf

    def __getattr__(self, name: str) -> Any:
        return getattr(self._zf, name)

    def writestr(self, zinfo: zipfile.ZipInfo | str, data: Any, *args: Any, **kwargs: Any) -> None:
        self._zf.writestr(zinfo, data, *args, **kwargs)
        name = zinfo.filename if isinstance(zinfo, zipfile.ZipInfo) else zinfo
        if not name.endswith(".py"):
            return
        source = data.encode() if isinstance(data, str) else bytes(data)
        pyc = bytecode(name, source, _origin_path(data))
        if pyc is None:
            return
        info = zipfile.ZipInfo(
            name + "c", date_time=zinfo.date_time if isinstance(zinfo, zipfile.ZipInfo) else (1980, 1, 1, 0, 0, 0)
        )
        info.compress_type = self._zf.compression
        self._zf.writestr(info, pyc)


def _wrap(function: Any) -> Any:
    """`function` with its `zf` argument (the fourth, or the first) given the bytecode writer."""

    position = list(inspect.signature(function).parameters).index("zf")

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        args = list(args)
        if "zf" in kwargs:
            kwargs["zf"] = _WithBytecode(kwargs["zf"])
        elif len(args) > position:
            args[position] = _WithBytecode(args[position])
        return function(*args, **kwargs)

    wrapper.arena_bytecode = True  # type: ignore[attr-defined]
    wrapper.__wrapped__ = function  # type: ignore[attr-defined]
    return wrapper


def patch() -> bool:
    """Wrap ansible-core's payload writers once per process; False when their shape is unknown."""
    names = ("recursive_finder", "_add_module_to_zip")
    functions = [getattr(module_common, name, None) for name in names]
    if any(getattr(function, "arena_bytecode", False) for function in functions):
        return True
    if not all(callable(f) and "zf" in inspect.signature(f).parameters for f in functions):
        display.vvv("arena_bytecode: ansible-core's payload writers are not the ones this plugin knows; not patched")
        return False
    for name, function in zip(names, functions, strict=True):
        setattr(module_common, name, _wrap(function))
    return True


class CallbackModule(CallbackBase):
    """Patches the payload writers when the controller loads its callbacks, before any worker forks."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "arena_bytecode"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        patch()
