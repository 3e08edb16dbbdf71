"""The one fixture of the role bad-input files: one --check run of the file's role for all its cases.

A test file names its role and cases at module level and asks for ``cases_run``:

- ``ROLE``: the role under test;
- ``GOOD``: the variables every case starts from (optional, default none);
- ``CASES``: ``pytest.param(overrides, ...)`` rows, the overrides first;
- ``SPEC_CASES``: further overrides that only the argument spec refuses (optional).

Each case is its own inventory host (arena_testlib.role_input_run); ``cases_run.failure(overrides)``
returns the case's one failed task, its message and its host's stats, with GOOD under the overrides.
A file that builds its cases otherwise (base, image_cleanup) defines its own ``cases_run``.
"""

from __future__ import annotations

from typing import Any

import pytest
from arena_testlib import RoleCases, role_input_run


@pytest.fixture(scope="module")
def cases_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> RoleCases:
    module = request.module
    role: str = module.ROLE
    good: dict[str, Any] = getattr(module, "GOOD", {})
    overrides = [case.values[0] for case in module.CASES] + list(getattr(module, "SPEC_CASES", []))
    run = role_input_run(tmp_path_factory.mktemp(role), role, [{**good, **o} for o in overrides])
    return RoleCases(run, good)
