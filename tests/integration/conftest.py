"""One AWS emulator per pytest-xdist worker.

`make integration` runs the suite through scripts/with-emulator.sh, which starts one emulator and
points AWS_URL at it. Under pytest-xdist (`-n 3 --dist loadfile`: a file's module fixtures stay on
one worker) three files run at the same time, and each resets the emulator it uses
(arena_testlib.reset_emulator), so each worker gets an emulator of its own: the controller starts
it (scripts/emulator.sh up, in a lab dir of its own, on its own free port) before the worker starts
and stops it when the session ends, also when a worker dies; the worker points itself and every
child it starts at it (AWS_URL, AWS_ENDPOINT_URL, ARENA_LAB_DIR ...). Without xdist nothing
changes: the suite uses with-emulator.sh's emulator.

pytest_configure of a conftest is a historic hook: in a worker it runs when this file is loaded,
before any test module of this directory is imported, so module-level reads of AWS_URL or
ARENA_LAB_DIR see the worker's values.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from arena_testlib import REPO_ROOT
from xdist.scheduler import LoadFileScheduling

EMULATOR = REPO_ROOT / "scripts" / "emulator.sh"
SUITE = Path(__file__).resolve().parent
# The files that take longest, first: a worker that started one of them late would end long after
# the others. Seconds on one of three workers, the suite alone on the quiet machine (docs/testing.md).
# The other files follow in collection order.
LONGEST_FIRST = (
    "platform/test_platform_failures.py",  # 419
    "events/test_event_scaling.py",  # 129
    "images/test_publish_rollback.py",  # 128
    "events/test_event_scaling_warm_pool.py",  # 97
    "services/test_cache_interrupt.py",  # 82
    "services/test_platform_services.py",  # 67
    "services/test_cache_rotation.py",  # 62
    "platform/test_lock.py",  # 61
)
WORKER_LAB = "arena_emulator_lab"  # key of the worker's lab dir in xdist's workerinput
_STARTED = pytest.StashKey[list[Path]]()


def _emulator(lab: Path, action: str) -> None:
    result = subprocess.run(
        ["bash", str(EMULATOR), action],
        env={**os.environ, "ARENA_LAB_DIR": str(lab)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"scripts/emulator.sh {action} for {lab}: {result.stderr}"


@pytest.fixture(scope="module")
def emulator_url() -> str:
    """The URL of the emulator this process uses (with-emulator.sh's, or the worker's own)."""
    url = os.environ.get("AWS_URL", "")
    assert url.startswith("http://127.0.0.1:"), "run through scripts/with-emulator.sh (AWS_URL unset)"
    return url


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Controller side (pytest-xdist), before the worker starts: its emulator."""
    url = os.environ.get("AWS_URL", "")
    assert url.startswith("http://127.0.0.1:"), "run through scripts/with-emulator.sh (AWS_URL unset)"
    lab = Path(os.environ.get("ARENA_LAB_DIR") or REPO_ROOT / ".lab") / f"xdist-{node.gateway.id}"
    _emulator(lab, "up")
    node.config.stash.setdefault(_STARTED, []).append(lab)
    node.workerinput[WORKER_LAB] = str(lab)


def pytest_configure(config: pytest.Config) -> None:
    """Worker side: this process and its children use the worker's emulator and lab dir."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return
    lab = workerinput.get(WORKER_LAB)
    if not lab:
        # The controller never loaded this file (e.g. `pytest -n 2 tests`): the workers would share
        # one emulator and reset each other's state.
        raise pytest.UsageError(
            "integration tests under pytest-xdist need an emulator per worker: name tests/integration"
            " (or a path under it) on the command line, so that tests/integration/conftest.py starts them"
        )
    for line in (Path(lab) / "emulator.env").read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            os.environ[key] = value
    os.environ["ARENA_LAB_DIR"] = lab


def pytest_unconfigure(config: pytest.Config) -> None:
    """Controller side: every emulator it started is stopped."""
    for lab in config.stash.get(_STARTED, []):
        _emulator(lab, "down")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """LONGEST_FIRST's files first, in that order; the rest keep their order (a stable sort)."""
    missing = [name for name in LONGEST_FIRST if not (SUITE / name).is_file()]
    if missing:  # a renamed file would silently lose its place
        raise pytest.UsageError(f"tests/integration/conftest.py LONGEST_FIRST names no file: {missing}")
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}

    def key(item: pytest.Item) -> int:
        path = Path(str(item.path))
        return rank.get(path.relative_to(SUITE).as_posix(), len(rank)) if path.is_relative_to(SUITE) else len(rank)

    items.sort(key=key)


class OneFileAtATime(LoadFileScheduling):
    """`--dist loadfile`, with two changes for files that run for minutes:

    - a worker is given its next file when the last test of the one it has is to run (a worker runs
      a test only once it knows the next one, or that none comes: with none pending it would wait
      for ever). xdist gives one as soon as two tests are left: after a long test, that worker then
      runs a file it took early, while another worker has nothing left;
    - files are handed out in collection order (pytest_collection_modifyitems above), not xdist's
      most-tests-first.
    """

    def __init__(self, config: pytest.Config, log: Any = None) -> None:
        config.option.loadscopereorder = False
        super().__init__(config, log)

    def _reschedule(self, node: Any) -> None:
        if self.workqueue and not node.shutting_down and self._pending_of(self.assigned_work[node]) > 1:
            return
        super()._reschedule(node)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadFileScheduling | None:
    return OneFileAtATime(config, log) if config.getoption("dist") == "loadfile" else None
