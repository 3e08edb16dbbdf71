"""filter_plugins/arena_event_review.py (issue 19): the event to review and its window, the review of its
metrics against the forecast, the history record (replaced, never duplicated, unchanged on the same
figures) and the learning rule that adjusts the next events of a kind.

Figures worked out by hand on arena_testlib's capacity model: lead time 240 + 10 x 3 + 1200 = 1470 s,
tail 30 min; web 1.5 and api 4 requests per viewer per minute; web c6i.large 6000 x 0.7 = 4200 and api
c6i.xlarge 12000 x 0.7 = 8400 planned requests per instance per minute, max_size 40 / 48.
"""

from __future__ import annotations

import copy
from types import ModuleType
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from arena_loader import filter_plugin
from arena_testlib import capacity_model

MODEL: dict[str, Any] = capacity_model()
GAME = {  # 20:45 CET = 19:45Z .. 21:45Z; over at 22:15Z
    "name": "G",
    "kind": "basketball",
    "start": "2031-01-14T20:45",
    "timezone": "Europe/Madrid",
    "duration_minutes": 120,
    "peak_viewers": 5000,
}
NOW = "2031-01-15T09:00:00Z"


@pytest.fixture(scope="module")
def review() -> ModuleType:
    return filter_plugin("arena_event_review")


def event(**changes: Any) -> dict[str, Any]:
    return GAME | changes


# ---- window ---------------------------------------------------------------------------------------


def test_window_is_kick_off_minus_the_lead_time_to_the_end(review: ModuleType) -> None:
    window = review.arena_event_review_window([event()], MODEL, "G", "", NOW)
    assert (window["window_start"], window["window_end"], window["over_at"]) == (
        "2031-01-14T19:20:00Z",  # 19:45 - 24.5 min = 19:20:30, down to the minute
        "2031-01-14T21:45:00Z",
        "2031-01-14T22:15:00Z",
    )
    assert (window["name"], window["kind"], window["peak_viewers"], window["start_utc"]) == (
        "G",
        "basketball",
        5000,
        "2031-01-14T19:45:00Z",
    )


def test_window_starts_after_an_event_that_ended_inside_the_ramp(review: ModuleType) -> None:
    # 18:40 CET = 17:40Z; 55 min ends 18:35Z, before the ramp (19:20:30): no cut.
    first = event(name="First", start="2031-01-14T18:40", duration_minutes=55)
    assert (
        review.arena_event_review_window([first, event()], MODEL, "G", "", NOW)["window_start"]
        == "2031-01-14T19:20:00Z"
    )
    # 110 min ends 19:30Z, inside the ramp: its audience is not this event's.
    first = event(name="First", start="2031-01-14T18:40", duration_minutes=110)
    assert (
        review.arena_event_review_window([first, event()], MODEL, "G", "", NOW)["window_start"]
        == "2031-01-14T19:30:00Z"
    )


def test_a_repeated_name_is_chosen_by_its_local_or_utc_start(review: ModuleType) -> None:
    calendar = [event(), event(start="2031-03-14T20:45")]
    assert (
        review.arena_event_review_window(calendar, MODEL, "G", "2031-03-14T20:45", "2031-04-01T00:00:00Z")["start_utc"]
        == "2031-03-14T19:45:00Z"
    )
    assert review.arena_event_review_window(calendar, MODEL, "G", "2031-01-14T19:45:00Z", NOW)["local_start"] == (
        "2031-01-14T20:45"
    )


WINDOW_REFUSALS = [
    pytest.param(
        [event()],
        "Nope",
        "",
        NOW,
        "arena_event_review_window: no event 'Nope' in the calendar (its events: ['G'])",
        id="not-in-the-calendar",
    ),
    pytest.param(
        [event(), event(start="2031-03-14T20:45")],
        "G",
        "",
        "2031-04-01T00:00:00Z",
        "arena_event_review_window: event 'G' is in the calendar 2 times (['2031-01-14T20:45 Europe/Madrid',"
        " '2031-03-14T20:45 Europe/Madrid']): name the one to review by its start",
        id="repeated-name-without-start",
    ),
    pytest.param(
        [event()],
        "G",
        "2031-01-15T20:45",
        NOW,
        "arena_event_review_window: event 'G' has no entry starting '2031-01-15T20:45' (its entries:"
        " ['2031-01-14T20:45 Europe/Madrid'])",
        id="no-entry-at-that-start",
    ),
    pytest.param(
        [event()],
        "G",
        "",
        "2031-01-14T22:14:59Z",
        "arena_event_review_window: event 'G' (2031-01-14T20:45 Europe/Madrid, 2031-01-14T19:45:00Z.."
        "2031-01-14T21:45:00Z) is not over at 2031-01-14T22:14:59Z: it is over at 2031-01-14T22:15:00Z"
        " (end + 30 min tail); review it after that",
        id="inside-the-tail",
    ),
    pytest.param([event()], " ", "", NOW, "arena_event_review_window: the event name is empty", id="empty-name"),
    pytest.param(
        [event(peak_viewer=3)],
        "G",
        "",
        NOW,
        "arena_events: event 'G' has unknown keys ['peak_viewer']",
        id="bad-calendar",
    ),
]


@pytest.mark.parametrize(("calendar", "name", "start", "now", "message"), WINDOW_REFUSALS)
def test_window_refusals(review: ModuleType, calendar: list, name: str, start: str, *, now: str, message: str) -> None:
    with pytest.raises(AnsibleFilterError) as error:
        review.arena_event_review_window(calendar, MODEL, name, start, now)
    assert error.value.message == message


# ---- review ---------------------------------------------------------------------------------------

WINDOW = {
    "name": "G",
    "kind": "basketball",
    "start_utc": "2031-01-14T19:45:00Z",
    "peak_viewers": 5000,
    "window_start": "2031-01-14T19:20:00Z",
    "window_end": "2031-01-14T21:45:00Z",
}


def series(*values: float) -> list[dict[str, Any]]:
    return [{"timestamp": f"2031-01-14T20:{i:02d}:00Z", "value": v} for i, v in enumerate(values)]


def metrics(web: list, api: list, connections: list | None = None, period: int = 60) -> dict[str, Any]:
    def tier(name: str, points: list) -> dict[str, Any]:
        return {
            "load_balancer": f"app/arena-{name}/1",
            "target_group": f"targetgroup/arena-{name}/2",
            "request_count": points,
            "active_connection_count": connections or [],
        }

    return {
        "period": period,
        "start_time": "2031-01-14T19:20:00Z",
        "end_time": "2031-01-14T21:45:00Z",
        "tiers": {"web": tier("web", web), "api": tier("api", api)},
    }


def test_review_takes_the_busiest_minute_per_tier_and_the_highest_tier(review: ModuleType) -> None:
    # web peak 9000 rpm / 1.5 = 6000 viewers; api peak 22000 / 4 = 5500 viewers.
    record = review.arena_event_review(
        metrics(series(100, 9000, 8000), series(22000, 300), series(4000, 6200)), WINDOW, MODEL
    )
    assert record == {
        "event": "G",
        "start": "2031-01-14T19:45:00Z",
        "forecast_viewers": 5000,
        "observed_viewers": 6000,
        "ratio": 1.2,
        "period_seconds": 60,
        "tiers": {
            "api": {
                "peak_requests_per_minute": 22000.0,
                "viewers": 5500,
                "ratio": 1.1,
                "peak_active_connections": 6200.0,
            },
            "web": {
                "peak_requests_per_minute": 9000.0,
                "viewers": 6000,
                "ratio": 1.2,
                "peak_active_connections": 6200.0,
            },
        },
    }


def test_review_of_a_coarser_period_counts_requests_per_minute(review: ModuleType) -> None:
    # 5-minute Sum 45000 = 9000 a minute on average.
    record = review.arena_event_review(metrics(series(45000), series(40000), period=300), WINDOW, MODEL)
    assert (
        record["tiers"]["web"]["peak_requests_per_minute"],
        record["observed_viewers"],
        record["period_seconds"],
    ) == (
        9000.0,
        6000,
        300,
    )


def test_review_of_a_zero_forecast_records_no_ratio(review: ModuleType) -> None:
    record = review.arena_event_review(metrics(series(1500), series(4000)), WINDOW | {"peak_viewers": 0}, MODEL)
    assert (record["observed_viewers"], record["ratio"], record["tiers"]["web"]["ratio"]) == (1000, None, None)


def test_review_without_datapoints_names_the_event_and_the_metric(review: ModuleType) -> None:
    with pytest.raises(AnsibleFilterError) as error:
        review.arena_event_review(metrics(series(9000), []), WINDOW, MODEL)
    assert error.value.message == (
        "arena_event_review: event 'G': no RequestCount datapoints for tier api (TargetGroup targetgroup/arena-api/2)"
        " in 2031-01-14T19:20:00Z..2031-01-14T21:45:00Z: nothing to compare with the forecast. Was the platform"
        " serving the event in that window (the right entry, the right environment)?"
    )


def test_review_without_a_tier_read_names_it(review: ModuleType) -> None:
    read = metrics(series(9000), series(1))
    del read["tiers"]["api"]
    with pytest.raises(AnsibleFilterError) as error:
        review.arena_event_review(read, WINDOW, MODEL)
    assert error.value.message == "arena_event_review: event 'G': no metrics were read for tier api (read: ['web'])"


# ---- history --------------------------------------------------------------------------------------


def record(name: str = "G", start: str = "2031-01-14T19:45:00Z", ratio: float | None = 1.2, **extra: Any) -> dict:
    return {
        "event": name,
        "start": start,
        "forecast_viewers": 5000,
        "observed_viewers": 6000,
        "ratio": ratio,
        **extra,
    }


def test_history_record_is_added_replaced_and_unchanged_on_the_same_figures(review: ModuleType) -> None:
    first = review.arena_event_history_record({}, "basketball", record(), "2031-01-15T09:00:00Z")
    assert first == {"basketball": [record(reviewed_at="2031-01-15T09:00:00Z")]}
    # Same figures, later review: nothing changes (reviewed_at included).
    assert review.arena_event_history_record(first, "basketball", record(), "2031-01-16T09:00:00Z") == first
    # Other figures: replaced, no duplicate.
    again = review.arena_event_history_record(first, "basketball", record(ratio=1.3), "2031-01-16T09:00:00Z")
    assert again == {"basketball": [record(ratio=1.3, reviewed_at="2031-01-16T09:00:00Z")]}
    # The event's kind changed in the calendar: moved, not duplicated.
    moved = review.arena_event_history_record(again, "concert", record(ratio=1.3), "2031-01-16T09:00:00Z")
    assert moved == {"concert": [record(ratio=1.3, reviewed_at="2031-01-16T09:00:00Z")]}


def test_history_keeps_the_last_records_by_start(review: ModuleType) -> None:
    history: dict = {}
    for day in range(10, 17):
        history = review.arena_event_history_record(
            history, "basketball", record(start=f"2031-01-{day}T19:45:00Z"), NOW, 5
        )
    assert [r["start"][:10] for r in history["basketball"]] == [f"2031-01-{d}" for d in range(12, 17)]


@pytest.mark.parametrize(
    ("history", "message"),
    [
        ([], "arena_event_history must be a mapping of event kind to records, got []"),
        (
            {"basketball": [{"event": "G"}]},
            "arena_event_history.basketball[0] is missing ['start', 'forecast_viewers',"
            " 'observed_viewers', 'ratio', 'reviewed_at'] / has unknown keys []",
        ),
        (
            {"basketball": [record(reviewed_at=NOW, ratio=-1)]},
            "arena_event_history.basketball[0].ratio must be a number >= 0 or null, got -1",
        ),
        (
            {"basketball": [record(reviewed_at="yesterday")]},
            "arena_event_history.basketball[0].reviewed_at must be UTC like 2027-01-12T19:45:00Z, got 'yesterday'",
        ),
    ],
    ids=["not-a-mapping", "missing-keys", "negative-ratio", "bad-time"],
)
def test_a_malformed_history_is_refused(review: ModuleType, history: Any, message: str) -> None:
    with pytest.raises(AnsibleFilterError) as error:
        review.arena_forecast_adjust([event()], history, MODEL)
    assert error.value.message == f"arena_forecast_adjust: {message}"


# ---- learning -------------------------------------------------------------------------------------


def history(*ratios: float | None, kind: str = "basketball") -> dict[str, list[dict[str, Any]]]:
    return {
        kind: [
            record(name=f"R{i}", start=f"2030-12-{i + 10:02d}T19:45:00Z", ratio=ratio, reviewed_at=NOW)
            for i, ratio in enumerate(ratios)
        ]
    }


RULE = [
    pytest.param((), 5000, 1.0, id="no-review"),
    pytest.param((1.2,), 6000, 1.2, id="one-above"),
    pytest.param((0.8, 1.3, 0.9), 6500, 1.3, id="highest-of-the-last-five"),
    pytest.param((1.9, 1.0, 1.0, 1.0, 1.0, 1.0), 5000, 1.0, id="older-than-the-last-five-forgotten"),
    pytest.param((10.0,), 10000, 2.0, id="one-broken-review-bounded-to-x2"),
    pytest.param((0.5, 0.6), 5000, 1.0, id="two-below-never-lower"),
    pytest.param((0.8, 0.9, 0.85), 4500, 0.9, id="three-below-agree-highest-of-them"),
    pytest.param((0.2, 0.3, 0.1), 3500, 0.7, id="lowering-bounded-to-x0.7"),
    pytest.param((None, 1.5), 7500, 1.5, id="zero-forecast-review-skipped"),
]


@pytest.mark.parametrize(("ratios", "planned", "factor"), RULE)
def test_learning_rule(review: ModuleType, ratios: tuple, planned: int, factor: float) -> None:
    calendar = [event(), event(name="Concert", kind="concert", start="2031-01-20T21:00")]
    adjusted = review.arena_forecast_adjust(calendar, history(*ratios), MODEL)
    assert adjusted[0] == event(peak_viewers=planned)
    assert adjusted[1] == calendar[1]  # another kind: unchanged
    rows = review.arena_forecast_adjustments(calendar, history(*ratios), MODEL)
    assert [(r["event"], r["factor"], r["planned_viewers"]) for r in rows] == (
        [("G", factor, planned)] if ratios else []
    )


def test_learning_notes_say_why(review: ModuleType) -> None:
    rows = review.arena_forecast_adjustments([event()], history(0.8, 10.0), MODEL)
    assert rows == [
        {
            "event": "G",
            "kind": "basketball",
            "forecast_viewers": 5000,
            "planned_viewers": 10000,
            "factor": 2.0,
            "reviews": 2,
            "capped": False,
            "note": "event 'G' (basketball): peak_viewers 5000 planned as 10000 (x2: highest ratio of the last 2"
            " basketball review(s), bounded to x2)",
        }
    ]


def test_learning_never_plans_above_max_size(review: ModuleType) -> None:
    # api carries 48 x 8400 / 4 = 100800 viewers, web 40 x 4200 / 1.5 = 112000: at most 100800.
    adjusted = review.arena_forecast_adjust([event(peak_viewers=60000)], history(2.0), MODEL)
    assert adjusted[0]["peak_viewers"] == 100800
    (row,) = review.arena_forecast_adjustments([event(peak_viewers=60000)], history(2.0), MODEL)
    assert row["capped"] is True and row["note"].endswith(
        "; held to 100800, the most every tier's max_size carries: raise max_size to plan more"
    )
    # A forecast already above it stays as it is (the plan refuses it, naming max_size).
    assert review.arena_forecast_adjust([event(peak_viewers=120000)], history(2.0), MODEL)[0]["peak_viewers"] == 120000


def test_past_events_and_a_bad_calendar_are_left_to_the_plan(review: ModuleType) -> None:
    calendar = [event(past=True)]
    assert review.arena_forecast_adjust(calendar, history(1.5), MODEL) == calendar
    broken = [event(timezone="Europe/Madird")]
    assert review.arena_forecast_adjust(broken, history(1.5), MODEL) is broken


def test_the_calendar_is_not_changed_in_place(review: ModuleType) -> None:
    calendar = [event()]
    before = copy.deepcopy(calendar)
    review.arena_forecast_adjust(calendar, history(1.5), MODEL)
    assert calendar == before
