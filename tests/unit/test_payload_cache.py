"""callback_plugins/arena_payloads.py: module payloads kept across runs, never a stale one.

End to end: a module of a temporary library that imports a module_utils file of a temporary
module_utils path runs on localhost through a plain (non-Mitogen) connection, in one
ansible-playbook run after another, with the repository's callback plugins and a cache directory
of the test's own. What the module returns is the behaviour: a second run takes the kept payload
(-vvv says so) and answers the same; after the module_utils file or the module changed, or a file
was added to the module_utils path, the payload is built again and the answer is the new one.
Without the plugin's directory in the run, nothing is kept. The pieces the runs cannot show (prune's
age and once-a-day rule, a member of unknown origin) are checked in the plugin's own functions.
"""

from __future__ import annotations

import os
import sys
import time
import zipfile
from io import BytesIO
from pathlib import Path

import pytest
from arena_loader import load_source
from arena_testlib import REPO_ROOT, base_env, run

arena_payloads = load_source("callback_plugins/arena_payloads.py")

MODULE = """#!/usr/bin/python
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.arena_probe_util import VALUE

def main():
    module = AnsibleModule(argument_spec={{}})
    module.exit_json(changed=False, value=VALUE + SUFFIX)

SUFFIX = "{suffix}"

if __name__ == "__main__":
    main()
"""
PLAYBOOK = """- name: The probe module through a plain connection
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Probe
      arena_probe_mod:
      register: probe
    - name: Answer
      ansible.builtin.debug:
        msg: "ANSWER={{ probe.value }}"
"""
NAME = "ansible.legacy.arena_probe_mod"


class Lab:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.library = root / "library"
        self.utils = root / "module_utils"
        self.cache = root / "cache"
        for path in (self.library, self.utils):
            path.mkdir()
        (root / "play.yml").write_text(PLAYBOOK, encoding="utf-8")
        self.module("")
        self.util("one")

    def module(self, suffix: str) -> None:
        (self.library / "arena_probe_mod.py").write_text(MODULE.format(suffix=suffix), encoding="utf-8")

    def util(self, value: str) -> None:
        (self.utils / "arena_probe_util.py").write_text(f"VALUE = {value!r}\n", encoding="utf-8")

    def play(self, callbacks: Path = REPO_ROOT / "callback_plugins") -> tuple[str, str]:
        """Runs the playbook; returns the module's answer and what the plugin said of the payload."""
        env = base_env(
            {
                "ANSIBLE_LIBRARY": str(self.library),
                "ANSIBLE_MODULE_UTILS": str(self.utils),
                "ANSIBLE_CALLBACK_PLUGINS": str(callbacks),
                "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
                "ARENA_PAYLOAD_CACHE": str(self.cache),
            }
        )
        for name in ("ANSIBLE_STRATEGY", "ANSIBLE_STRATEGY_PLUGINS"):
            env.pop(name, None)  # plain Ansible: Mitogen builds no AnsiballZ payload
        result = run(["ansible-playbook", "-vvv", "-i", "localhost,", str(self.root / "play.yml")], env, timeout=120)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-3000:]
        lines = output.splitlines()
        answers = [line.split("ANSWER=", 1)[1].strip().strip("\"'") for line in lines if "ANSWER=" in line]
        assert len(answers) == 1, output[-3000:]
        said = [line for line in lines if f"arena_payloads: {NAME}" in line]
        assert len(said) <= 1, said
        if not said:
            return answers[0], "nothing"
        return answers[0], "kept" if " kept (" in said[0] else "used" if " from " in said[0] else said[0]


def test_a_kept_payload_is_used_until_a_source_changes(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    assert lab.play() == ("one", "kept")
    assert lab.play() == ("one", "used")

    lab.util("two, longer")  # the module_utils file the payload carries
    assert lab.play() == ("two, longer", "kept")
    assert lab.play() == ("two, longer", "used")

    lab.module("+")  # the module itself
    assert lab.play() == ("two, longer+", "kept")

    (lab.utils / "arena_other_util.py").write_text("X = 1\n", encoding="utf-8")  # could shadow another
    assert lab.play() == ("two, longer+", "kept")
    assert lab.play() == ("two, longer+", "used")


def test_without_the_plugin_nothing_is_kept(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    callbacks = tmp_path / "callbacks"
    callbacks.mkdir()
    (callbacks / "arena_preload.py").write_bytes((REPO_ROOT / "callback_plugins" / "arena_preload.py").read_bytes())
    assert lab.play(callbacks) == ("one", "nothing")
    assert not lab.cache.exists()


def test_an_entry_whose_source_changed_is_not_used(tmp_path: Path) -> None:
    source = tmp_path / "util.py"
    source.write_text("A = 1\n", encoding="utf-8")
    arena_payloads.store_entry(str(tmp_path / "c"), "ab" * 32, {str(source)}, b"payload")
    assert arena_payloads.load_entry(str(tmp_path / "c"), "ab" * 32) == b"payload"
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # same size, another time
    assert arena_payloads.load_entry(str(tmp_path / "c"), "ab" * 32) is None
    source.unlink()
    assert arena_payloads.load_entry(str(tmp_path / "c"), "ab" * 32) is None
    # A source that is gone when the payload is built: nothing kept.
    arena_payloads.store_entry(str(tmp_path / "d"), "cd" * 32, {str(source)}, b"payload")
    assert not (tmp_path / "d").exists()


def test_a_member_of_unknown_origin_is_noticed() -> None:
    zf = zipfile.ZipFile(BytesIO(), "w")
    recorder = arena_payloads._PayloadWriter(zf)
    build = arena_payloads._build
    build.sources, build.unknown, build.module_member = set(), False, "ansible/modules/probe.py"
    try:
        recorder.writestr("ansible/__init__.py", b"# ansible-core's own stub\n")
        recorder.writestr("ansible/modules/probe.py", b"print(1)\n")  # the module: its bytes are in the key
        recorder.writestr("ansible_collections/x/__init__.py", b"")
        recorder.writestr("ansible/module_utils/probe.pyc", b"bytecode")
        assert not build.unknown
        recorder.writestr("ansible/module_utils/generated.py", b"X = 1\n")
        assert build.unknown
    finally:
        build.sources = None
    assert sorted(zf.namelist())[0] == "ansible/__init__.py"


def test_prune_removes_old_entries_at_most_once_a_day(tmp_path: Path) -> None:
    directory = tmp_path / "c"
    for key, age_days in (("aa" * 32, 20), ("bb" * 32, 1)):
        arena_payloads.store_entry(str(directory), key, set(), b"payload")
        path = directory / key[:2] / key
        when = time.time() - age_days * 86400
        os.utime(path, (when, when))
    now = time.time()
    assert arena_payloads.prune(str(directory), now) == 1
    assert not (directory / "aa" / ("aa" * 32)).exists()
    assert (directory / "bb" / ("bb" * 32)).exists()
    later = now + 14 * 86400  # the other entry is old now, but the last prune was less than a day ago
    os.utime(directory / ".pruned", (now, now))
    assert arena_payloads.prune(str(directory), now + 3600) == 0
    assert arena_payloads.prune(str(directory), later) == 1


@pytest.mark.parametrize("value", ["off", "OFF"])
def test_off_turns_it_off(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ARENA_PAYLOAD_CACHE", value)
    assert arena_payloads.cache_dir() is None


def test_default_directory_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ARENA_PAYLOAD_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert arena_payloads.cache_dir() == str(tmp_path / "arena-infra" / "ansiballz")
