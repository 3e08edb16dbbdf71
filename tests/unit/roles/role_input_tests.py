"""The tests of a role bad-input file, written once: a file collects them by importing them (under
its own name for them, if it has one: ``import ... as test_bad_input_rejected``).

They read the importing file's module-level names (conftest.py says what each holds): ROLE,
SPEC_TASK, CASES (conftest's pytest_generate_tests gives each CASES row to
test_bad_input_fails_in_validation, with its id) and WRONG_TYPE. This file is no test file itself
(no test_ prefix), so pytest collects these tests only where a role file imports them.
"""

from __future__ import annotations

from typing import Any

import pytest
from arena_testlib import RoleCases


def test_bad_input_fails_in_validation(
    request: pytest.FixtureRequest, cases_run: RoleCases, overrides: dict[str, Any], task: str, message: str
) -> None:
    failed_task, failed_message, stats = cases_run.failure(overrides)
    assert failed_task == f"{request.module.ROLE} : {task}"
    if task == getattr(request.module, "SPEC_TASK", None):
        # ansible's argument spec check wraps its own text around the role's: the fragment is in it.
        assert message in failed_message
    else:
        assert failed_message == message
    assert stats["changed"] == 0


def test_wrong_type_is_caught_by_the_argument_spec(request: pytest.FixtureRequest, cases_run: RoleCases) -> None:
    overrides, fragment = request.module.WRONG_TYPE
    failed_task, failed_message, stats = cases_run.failure(overrides)
    assert failed_task == f"{request.module.ROLE} : {request.module.SPEC_TASK}"
    assert fragment in failed_message
    assert stats["changed"] == 0
