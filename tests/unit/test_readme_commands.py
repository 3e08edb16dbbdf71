"""Every command README.md shows works as written from a fresh shell after `make setup` (issue 14).

The tools live in the project's virtualenv (.venv/bin), which only make targets put on PATH by
themselves; the README says once, in a shell block, to `source .venv/bin/activate`. This reads every
shell command of README.md (fenced `sh` blocks, and the inline code spans of the text and tables
whose first word is a command) and checks, for each one:

- its executable resolves in a fresh shell (`env -i`, Debian's default PATH) after that activation,
  run from the repository root (or the directory the command `cd`s to);
- every repository path it names exists (`<env>`, `<role>`, `<scenario>` placeholders and globs
  must match something), and every `make` target it runs is defined in Makefile or mk/*.mk;
- a command that needs the virtualenv comes after the activation block.

Paths under .lab/ are written by make targets (`make emulator-up` writes .lab/emulator.env) and are
not checked for existence.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
VENV_BIN = ROOT / ".venv" / "bin"
ACTIVATE = "source .venv/bin/activate"
# A fresh login shell's PATH on Debian 12 as root (/etc/profile, /root/.profile).
FRESH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Commands the README shows that are the operator's own, not set up by `make setup`, each with the
# README sentence that says so (checked below, so the exception cannot hide silently).
OPERATOR_TOOLS = {"aws": "your own AWS CLI"}
# Shell words that are not executables to resolve.
BUILTINS = {"source", "cd", "export"}
# First words that make an inline code span a command (besides the executables in .venv/bin).
COMMAND_WORDS = {"make", "source", "cd", "python", "python3", "aws", "bash", "podman", "packer"}
PLACEHOLDER = re.compile(r"<[a-z_]+>")
REPO_DIRS = (
    "playbooks",
    "roles",
    "inventories",
    "scripts",
    "docs",
    "library",
    "module_utils",
    "packer",
    "molecule",
    "simulation",
    "mk",
    "tests",
    "filter_plugins",
    "connection_plugins",
)
PATH_TOKEN = re.compile(r"(?<![\w./$-])(?:" + "|".join(REPO_DIRS) + r")/[\w./<>*@-]*")


@dataclass(frozen=True)
class Command:
    """One simple command (a `&&`, `;` or `|` part of a README line), where it appears."""

    text: str
    offset: int  # character offset in README.md
    cwd: str  # repository-relative directory it runs in ("" = root)

    @property
    def words(self) -> list[str]:
        words = shlex.split(self.text, comments=True)
        while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
            words = words[1:]
        return words

    @property
    def executable(self) -> str:
        return self.words[0] if self.words else ""


@cache
def readme() -> str:
    return README.read_text()


@cache
def venv_tools() -> frozenset[str]:
    return frozenset(p.name for p in VENV_BIN.iterdir()) if VENV_BIN.is_dir() else frozenset()


def is_command(text: str) -> bool:
    """An inline code span that is a command, not a file name, variable or message; a tool's bare
    name in a sentence (`molecule`) is a name."""
    words = text.split()
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
        words = words[1:]
    return len(words) >= 2 and words[0] in COMMAND_WORDS | venv_tools()


def split_commands(line: str, offset: int, cwd: str) -> tuple[list[Command], str]:
    """The simple commands of one line; `cd DIR` changes the directory of those after it."""
    commands = []
    for raw in re.split(r"&&|\|\||;|\|", line):
        part = raw.strip()
        if not part or part.startswith("#"):
            continue
        command = Command(part, offset, cwd)
        if command.executable == "cd" and len(command.words) > 1:
            cwd = os.path.normpath(os.path.join(cwd, command.words[1]))
        commands.append(command)
    return commands, cwd


def code_blocks() -> list[tuple[int, str]]:
    """(offset, text) of each fenced sh block."""
    return [(m.start(1), m.group(1)) for m in re.finditer(r"```(?:sh|bash|shell)\n(.*?)```", readme(), re.S)]


def inline_spans() -> list[tuple[int, str]]:
    """(offset, text) of each inline code span outside fenced blocks; table pipes escaped as `\\|`."""
    # Blank the fenced blocks out (same length, so offsets stay those of README.md).
    text = re.sub(r"```.*?```", lambda m: " " * len(m.group(0)), readme(), flags=re.S)
    return [(m.start(1), m.group(1).replace("\\|", "|").replace("\n", " ")) for m in re.finditer(r"`([^`]+)`", text)]


@cache
def readme_commands() -> tuple[Command, ...]:
    commands: list[Command] = []
    for offset, block in code_blocks():
        for line in block.replace("\\\n", " ").splitlines():
            commands.extend(split_commands(re.sub(r"\s#.*", "", line).strip(), offset, "")[0])
    for offset, span in inline_spans():
        if is_command(span):
            commands.extend(split_commands(span, offset, "")[0])
    return tuple(sorted(commands, key=lambda c: c.offset))


@cache
def make_targets() -> frozenset[str]:
    targets = set()
    for makefile in [ROOT / "Makefile", *sorted((ROOT / "mk").glob("*.mk"))]:
        targets |= set(re.findall(r"^([a-z][a-z0-9-]*):", makefile.read_text(), re.M))
    return frozenset(targets)


def activation_offset() -> int:
    """Where the README's shell block that activates the virtualenv starts (-1: there is none)."""
    return next((offset for offset, block in code_blocks() if ACTIVATE in block.splitlines()[0]), -1)


def concrete(cwd: str) -> Path:
    """The command's directory; a placeholder (`roles/<role>`) stands for the first that matches."""
    pattern = PLACEHOLDER.sub("*", cwd)
    if "*" not in pattern:
        return ROOT / pattern
    matches = sorted(p for p in ROOT.glob(pattern) if p.is_dir())
    assert matches, f"no directory matches {cwd}"
    return matches[0]


def resolves(executable: str, cwd: str) -> bool:
    """`command -v` in a fresh shell after the activation, in the command's directory."""
    script = f"{ACTIVATE} && cd {shlex.quote(str(concrete(cwd)))} && command -v {shlex.quote(executable)}"
    proc = subprocess.run(
        ["bash", "-c", script],
        cwd=ROOT,
        env={"PATH": FRESH_PATH, "HOME": os.environ.get("HOME", "/root")},
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode == 0


def path_matches(token: str, cwd: str) -> bool:
    """A repository path exists; placeholders and globs must match at least one."""
    pattern = PLACEHOLDER.sub("*", token.rstrip(".,:)"))
    base = concrete(cwd)
    return bool(list(base.glob(pattern.rstrip("/")))) if "*" in pattern else (base / pattern).exists()


def test_the_readme_has_commands_of_each_kind() -> None:
    """The extraction finds the commands (a parser that finds nothing would pass everything)."""
    executables = {c.executable for c in readme_commands()}
    assert {"make", "ansible-playbook", "molecule", "source", "aws"} <= executables
    assert len(readme_commands()) >= 40


def test_the_activation_is_a_shell_block_before_the_first_venv_command() -> None:
    start = activation_offset()
    assert start >= 0, f"README.md has no ```sh block that starts with `{ACTIVATE}`"
    early = [c.text for c in readme_commands() if c.executable in venv_tools() and c.offset < start]
    assert not early, f"commands that need .venv before the `{ACTIVATE}` block: {early}"


def test_operator_tools_are_said_to_be_the_operators() -> None:
    for tool, phrase in OPERATOR_TOOLS.items():
        assert any(c.executable == tool for c in readme_commands()), f"{tool} is no longer in README.md"
        assert phrase in readme(), f"README.md shows `{tool}` without saying it is {phrase!r}"


@pytest.mark.parametrize("command", readme_commands(), ids=lambda c: c.text[:60])
def test_the_executable_resolves_after_activation(command: Command) -> None:
    executable = command.executable
    if executable in BUILTINS or executable in OPERATOR_TOOLS:
        return
    assert VENV_BIN.is_dir(), ".venv is missing: run `make venv`"
    assert resolves(executable, command.cwd), (
        f"`{executable}` (in `{command.text}`) is not found in a fresh shell after `{ACTIVATE}`"
    )


@pytest.mark.parametrize("command", readme_commands(), ids=lambda c: c.text[:60])
def test_referenced_paths_and_make_targets_exist(command: Command) -> None:
    words = command.words
    if command.executable == "make":
        targets = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        assert targets, f"`{command.text}`: no target"
        for target in targets:
            pattern = re.compile(target.replace("*", "[a-z0-9-]+") + "$")
            assert any(pattern.match(t) for t in make_targets()), f"`{command.text}`: no make target {target}"
    for word in (w.replace("$PWD/", "") for w in words):
        for token in PATH_TOKEN.findall(word) or ([word] if word.startswith("../") else []):
            assert path_matches(token, command.cwd), f"`{command.text}`: {token} does not exist"


def test_every_path_in_the_readme_exists() -> None:
    """Paths named outside commands too (`playbooks/teardown.yml`, `roles/base` ...)."""
    missing = [
        token
        for _offset, span in [*inline_spans(), *code_blocks()]
        for token in PATH_TOKEN.findall(span)
        if not path_matches(token, "")
    ]
    assert not missing, f"README.md names paths that do not exist: {sorted(set(missing))}"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "source .lab/emulator.env && ansible-playbook -i inventories/local playbooks/platform.yml",
            [("source .lab/emulator.env", ""), ("ansible-playbook -i inventories/local playbooks/platform.yml", "")],
        ),
        (
            "cd roles/base; ANSIBLE_ROLES_PATH=$PWD/.. molecule test -s default",
            [("cd roles/base", ""), ("ANSIBLE_ROLES_PATH=$PWD/.. molecule test -s default", "roles/base")],
        ),
    ],
)
def test_commands_are_split_and_follow_cd(line: str, expected: list[tuple[str, str]]) -> None:
    commands, _cwd = split_commands(line, 0, "")
    assert [(c.text, c.cwd) for c in commands] == expected


def test_a_missing_path_or_target_is_found() -> None:
    assert not path_matches("playbooks/no_such_playbook.yml", "")
    assert path_matches("inventories/<env>", "")
    assert "platform-up" in make_targets() and "no-such-target" not in make_targets()
    assert not resolves("no-such-tool-arena", "")
