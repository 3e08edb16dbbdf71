"""callback_plugins/arena_payloads.py: module payloads carry bytecode, and a target uses it.

End to end: a playbook runs ansible.builtin.stat on localhost through a plain (non-Mitogen)
connection with the repository's ansible.cfg and keeps the payload (ANSIBLE_KEEP_REMOTE_FILES). The
payload is then run again in a Python whose ``compile`` is counted: with the plugin, nothing of the
payload is compiled (every file came as bytecode); with the callback directory replaced by one
without the plugin, every file is, so the test can fail. The fallbacks the plugin relies on are
checked with the zip importer itself: bytecode of another Python version (bad magic) is ignored for
the source, and a ``__pycache__`` file that is not the source's is not used.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import py_compile
import re
import shutil
import subprocess
import sys
import zipfile
import zipimport
from pathlib import Path
from types import ModuleType

from arena_loader import load_source
from arena_testlib import REPO_ROOT, VENV_BIN, base_env, run

arena_payloads = load_source("callback_plugins/arena_payloads.py")

PLAYBOOK = """- name: A module through a plain connection
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Stat
      ansible.builtin.stat:
        path: /
"""
# Runs a kept AnsiballZ payload in this process with the builtin compile() counted; prints the
# payload files it compiled (the zip importer compiles a source it has no usable bytecode for).
COUNT_COMPILES = """
import builtins, runpy, sys
compiled = []
original = builtins.compile
def counting(source, filename, *args, **kwargs):
    if "_payload.zip" in str(filename):
        compiled.append(str(filename).rsplit("_payload.zip/", 1)[-1])
    return original(source, filename, *args, **kwargs)
builtins.compile = counting
sys.argv = [sys.argv[1]]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit:
    pass
print("COMPILED", len(compiled), " ".join(sorted(compiled)), file=sys.stderr)
"""


def kept_payload(tmp_path: Path, callbacks: Path | None) -> Path:
    """Run PLAYBOOK with plain Ansible, keeping its payload; returns the AnsiballZ file."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK, encoding="utf-8")
    remote = tmp_path / f"remote-{callbacks.name if callbacks else 'ansible-cfg'}"
    env = base_env(
        {
            "ANSIBLE_KEEP_REMOTE_FILES": "1",
            "ANSIBLE_PIPELINING": "0",
            "ANSIBLE_REMOTE_TMP": str(remote),
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        }
    )
    for name in ("ANSIBLE_STRATEGY", "ANSIBLE_STRATEGY_PLUGINS", "ANSIBLE_CALLBACK_PLUGINS"):
        env.pop(name, None)  # plain Ansible: Mitogen builds no payload zip
    if callbacks:
        env["ANSIBLE_CALLBACK_PLUGINS"] = str(callbacks)
    result = run(["ansible-playbook", "-i", "localhost,", str(playbook)], env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    payloads = list(remote.glob("ansible-tmp-*/AnsiballZ_stat.py"))
    assert len(payloads) == 1, sorted(remote.rglob("*"))
    return payloads[0]


def payload_zip(payload: Path) -> zipfile.ZipFile:
    match = re.search(r"zip_data='([A-Za-z0-9+/=]+)'", payload.read_text(encoding="utf-8"))
    assert match, "no zip_data in the payload: the AnsiballZ wrapper changed"
    return zipfile.ZipFile(io.BytesIO(base64.b64decode(match[1])))


def compiled_by(payload: Path) -> list[str]:
    result = subprocess.run(
        [str(VENV_BIN / "python"), "-c", COUNT_COMPILES, str(payload)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert '"changed": false' in result.stdout, result.stdout + result.stderr
    line = next(line for line in result.stderr.splitlines() if line.startswith("COMPILED"))
    return line.split()[2:]


def zip_import(archive: Path, name: str) -> ModuleType:
    """Import `name` from `archive` with Python's zip importer, as an AnsiballZ payload does."""
    spec = zipimport.zipimporter(str(archive)).find_spec(name)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_target_with_the_controllers_python_compiles_nothing_of_the_payload(tmp_path: Path) -> None:
    with_plugin = kept_payload(tmp_path, None)
    names = payload_zip(with_plugin).namelist()
    sources = [name for name in names if name.endswith(".py")]
    assert len(sources) > 20, names  # the stat module and ansible's module_utils
    assert sorted(name for name in names if name.endswith(".pyc")) == sorted(name + "c" for name in sources)
    assert compiled_by(with_plugin) == []

    without = tmp_path / "callbacks-without-arena_payloads"
    without.mkdir()
    shutil.copy(REPO_ROOT / "callback_plugins" / "arena_preload.py", without)
    plain = kept_payload(tmp_path, without)
    assert not [name for name in payload_zip(plain).namelist() if name.endswith(".pyc")]
    compiled = set(compiled_by(plain))  # what the stat module imports (some files only on demand)
    assert len(compiled) > 20 and compiled <= set(sources), compiled


def test_bytecode_of_another_python_is_ignored_for_the_source(tmp_path: Path) -> None:
    source = b"VALUE = 'from the source'\n"
    pyc = arena_payloads.bytecode("probe_mod.py", source, None)
    assert pyc is not None
    archive = tmp_path / "payload.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("probe_mod.py", source)
        zf.writestr("probe_mod.pyc", b"\x00\x00\r\n" + pyc[4:])  # another version's magic number
    module = zip_import(archive, "probe_mod")
    assert module.VALUE == "from the source"
    assert module.__file__.endswith("probe_mod.py")  # compiled from the source, not the .pyc


def test_code_names_the_payload_file_and_a_foreign_pycache_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / "mod.py"
    path.write_text("def where():\n    return 1\n", encoding="utf-8")
    py_compile.compile(str(path), cfile=importlib.util.cache_from_source(str(path)))
    source = path.read_bytes()
    assert arena_payloads._cached_code(str(path), source) is not None

    other = b"def where():\n    return 22\n"  # another source than the one __pycache__ was made from
    assert arena_payloads._cached_code(str(path), other) is None
    pyc = arena_payloads.bytecode("ansible/module_utils/mod.py", other, str(path))
    assert pyc is not None
    archive = tmp_path / "payload.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("mod.py", other)
        zf.writestr("mod.pyc", pyc)
    module = zip_import(archive, "mod")
    assert module.where() == 22
    assert module.__file__.endswith("mod.pyc")
    assert module.where.__code__.co_filename == "ansible/module_utils/mod.py"


def test_patch_is_idempotent() -> None:
    assert arena_payloads.patch()
    assert arena_payloads.patch()
    from ansible.executor import module_common  # noqa: PLC0415 -- after the patch

    assert module_common.recursive_finder.arena_payloads
    assert not getattr(module_common.recursive_finder.__wrapped__, "arena_payloads", False)
