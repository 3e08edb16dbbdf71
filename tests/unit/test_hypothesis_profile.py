"""tests/conftest.py: the property tests do not fail on wall-clock time.

`make test` runs its stages side by side on two cores; a Hypothesis test there failed a clean clone
because a strategy's first draw took 0.94 s of wall time (the too_slow health check). Every property
test runs under the "arena" profile: no deadline, no too_slow check, the examples as Hypothesis'
defaults. A test file's own @settings may still raise max_examples.
"""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def test_the_suite_profile_has_no_wall_clock_checks() -> None:
    assert settings.default.deadline is None
    assert HealthCheck.too_slow in settings.default.suppress_health_check
    assert settings.default.max_examples == settings.get_profile("default").max_examples


@st.composite
def slow_values(draw: st.DrawFn) -> int:
    time.sleep(0.3)  # a busy machine: each draw takes long in wall time
    return draw(st.integers(0, 9))


@settings(max_examples=5)
@given(value=slow_values())
def test_slow_input_generation_and_a_slow_example_pass(value: int) -> None:
    time.sleep(0.25)  # over Hypothesis' default 200 ms deadline
    assert 0 <= value <= 9
