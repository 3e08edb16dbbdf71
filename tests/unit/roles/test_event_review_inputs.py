"""Bad input for roles/event_review: ansible-playbook --check on localhost with bad variables fails in the
validation task with the exact message naming the variable, before any AWS call and with nothing changed.
(The event itself, not in the calendar or not over, is refused by the arena_event_review_window filter:
tests/unit/filters/test_arena_event_review.py, and through the playbook against the emulator:
tests/integration/events/test_event_review.py.)"""

from __future__ import annotations

import pytest
from arena_testlib import capacity_model

# The import is what collects these tests here, on this file's CASES and WRONG_TYPE (F401: ruff sees no use).
from role_input_tests import test_bad_input_fails_in_validation, test_wrong_type_is_caught_by_the_argument_spec  # noqa: F401

ROLE = "event_review"
GOOD: dict = {
    "arena_project": "arena",
    "arena_environment": "local",
    "arena_events": [
        {
            "name": "G",
            "kind": "basketball",
            "start": "2031-01-14T20:45",
            "timezone": "Europe/Madrid",
            "duration_minutes": 120,
            "peak_viewers": 5000,
        }
    ],
    "arena_capacity_model": capacity_model(),
    "event_review_event": "G",
    "event_review_now": "2031-01-15T09:00:00Z",
}
SPEC_TASK = "Validating arguments against arg spec 'main' - Review a finished live event against its forecast"
WRONG_TYPE = ({"event_review_period_seconds": "a minute"}, "event_review_period_seconds")

CASES = [
    pytest.param(
        {"event_review_now": "2031-01-15 09:00"},
        "Validate | Refuse a malformed current time",
        "event_review_now must be empty (the clock) or UTC like 2027-01-13T09:00:00Z, got '2031-01-15 09:00'.",
        id="malformed-now",
    ),
    pytest.param(
        {"event_review_period_seconds": 90},
        "Validate | Refuse a period CloudWatch has no datapoints for",
        "event_review_period_seconds must be a multiple of 60 (load balancer metrics are 1-minute metrics), got 90.",
        id="period-not-minutes",
    ),
    pytest.param(
        {"event_review_history_keep": 3},
        "Validate | Refuse a history that would not hold the reviews the learning rule reads",
        "event_review_history_keep must be >= 5 (the learning rule reads the last 5 reviews), got 3.",
        id="history-too-short",
    ),
    pytest.param(
        {"event_review_inventory_dir": "/nonexistent/inventory"},
        "Validate | Require an inventory directory to record into",
        "event_review_inventory_dir must be an inventory directory with group_vars/all (the record goes to its"
        " group_vars/all/event_history.yml), got '/nonexistent/inventory'.",
        id="no-inventory-dir",
    ),
    pytest.param(
        {"event_review_event": " "},
        "Validate | Require the event to review",
        "event_review_event must name a finished event of the calendar (event_review_events), got ' '"
        ' (make event-review EVENT="<name>").',
        id="no-event",
    ),
]
