"""The fixture and the parametrization of the role bad-input files: one --check run of the file's role for
all its cases, and the tests of role_input_tests.py given the file's own cases.

A test file names its role and cases at module level, and imports the tests of role_input_tests.py
(or writes its own, asking for ``cases_run``):

- ``ROLE``: the role under test;
- ``GOOD``: the variables every case starts from (optional, default none);
- ``SPEC_TASK``: the name of the role's argument spec check, without the ``<role> : `` prefix (optional);
- ``CASES``: ``pytest.param(overrides, task, message, id=...)`` rows: the task that must fail, without the
  ``<role> : `` prefix, and its whole message (for SPEC_TASK, a fragment of it);
- ``WRONG_TYPE``: ``(overrides, fragment)``, a value of the wrong type and what the argument spec says of it
  (optional: for role_input_tests.test_wrong_type_is_caught_by_the_argument_spec);
- ``SPEC_CASES``: further overrides that only the argument spec refuses, for the file's own tests (optional).

Each case is its own inventory host (arena_testlib.role_input_run); ``cases_run.failure(overrides)``
returns the case's one failed task, its message and its host's stats, with GOOD under the overrides.
A file that builds its cases otherwise (base, image_cleanup) defines its own ``cases_run``.
"""

from __future__ import annotations

from typing import Any

import pytest
import role_input_tests
from arena_testlib import RoleCases, role_input_run


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each CASES row of the importing file is a case of role_input_tests.test_bad_input_fails_in_validation."""
    if metafunc.function is role_input_tests.test_bad_input_fails_in_validation:
        metafunc.parametrize(("overrides", "task", "message"), metafunc.module.CASES)


@pytest.fixture(scope="module")
def cases_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> RoleCases:
    module = request.module
    role: str = module.ROLE
    good: dict[str, Any] = getattr(module, "GOOD", {})
    overrides = [case.values[0] for case in module.CASES] + list(getattr(module, "SPEC_CASES", []))
    if hasattr(module, "WRONG_TYPE"):
        overrides.append(module.WRONG_TYPE[0])
    run = role_input_run(tmp_path_factory.mktemp(role), role, [{**good, **o} for o in overrides])
    return RoleCases(run, good)
