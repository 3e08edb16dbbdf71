"""scripts/bench_capacity.py: wrk's report, the capacity search and the loopback rule, on recorded wrk
output (no containers, no wrk; make bench-capacity runs the whole path)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("bench_capacity_under_test", ROOT / "scripts" / "bench_capacity.py")
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
sys.modules["bench_capacity_under_test"] = bench
_spec.loader.exec_module(bench)

# Recorded from Debian's wrk 4.1.0 (`wrk --latency`), on this machine.
WRK_PLAIN = """\
Running 1s test @ http://127.0.0.1:18089/
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.45ms    1.49ms  16.90ms   89.80%
    Req/Sec     1.54k   298.00     1.87k    60.00%
  Latency Distribution
     50%    0.92ms
     75%    1.87ms
     90%    3.00ms
     99%    7.60ms
  1533 requests in 1.00s, 784.46KB read
Requests/sec:   1529.26
Transfer/sec:    782.55KB
"""
WRK_NON_2XX = """\
Running 2s test @ http://127.0.0.1:18089/nonexist
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.52ms    6.24ms 213.82ms   98.52%
    Req/Sec     1.81k   273.38     2.27k    71.43%
  Latency Distribution
     50%    2.87ms
     75%    4.19ms
     90%    5.67ms
     99%   10.67ms
  3790 requests in 2.10s, 1.88MB read
  Non-2xx or 3xx responses: 3790
Requests/sec:   1804.32
Transfer/sec:      0.89MB
"""
# wrk's other units: microseconds and seconds in the percentiles, k in the rate, socket errors.
WRK_UNITS = """\
Running 5s test @ http://127.0.0.1:40000/
  2 threads and 256 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   412.50ms  300.10ms   1.99s    70.00%
    Req/Sec     1.10M   100.00k    1.20M    80.00%
  Latency Distribution
     50%  850.00us
     75%  400.00ms
     90%    1.20s
     99%    1.95s
  6012345 requests in 5.00s, 2.10GB read
  Socket errors: connect 0, read 3, write 0, timeout 17
Requests/sec: 1.20M
Transfer/sec:    430.00MB
"""


def step(connections: int, rps: float, p99: float, errors: int = 0, requests: int = 10000) -> bench.WrkResult:
    return bench.WrkResult(
        threads=min(connections, 2),
        connections=connections,
        requests=requests,
        duration_s=5.0,
        rps=rps,
        latency={"50": p99 / 4, "75": p99 / 2, "90": p99 / 1.5, "99": p99},
        non_2xx=errors,
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("354.12us", 354.12e-6), ("0.92ms", 0.92e-3), ("10.67ms", 10.67e-3), ("1.95s", 1.95), ("1.50m", 90.0)],
)
def test_parse_time_wrk_units(text: str, seconds: float) -> None:
    assert bench.parse_time(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("text", "value"), [("2.80k", 2800.0), ("1.05M", 1.05e6), ("1529.26", 1529.26), ("3G", 3e9)])
def test_parse_count_wrk_units(text: str, value: float) -> None:
    assert bench.parse_count(text) == pytest.approx(value)


@pytest.mark.parametrize(
    ("func", "text", "message"),
    [
        (bench.parse_time, "12", "bench_capacity: not a wrk time: '12'"),
        (bench.parse_time, "3ns", "bench_capacity: not a wrk time: '3ns'"),
        (bench.parse_count, "2.8x", "bench_capacity: not a wrk count: '2.8x'"),
    ],
)
def test_parse_refuses_unknown_units(func, text: str, message: str) -> None:
    with pytest.raises(bench.BenchError) as err:
        func(text)
    assert str(err.value) == message


def test_parse_wrk_plain_report() -> None:
    result = bench.parse_wrk(WRK_PLAIN)
    assert (result.threads, result.connections, result.requests) == (1, 2, 1533)
    assert result.rps == pytest.approx(1529.26)
    assert result.p50 == pytest.approx(0.92e-3)
    assert result.p99 == pytest.approx(7.60e-3)
    assert result.duration_s == pytest.approx(1.0)
    assert result.errors == 0


def test_parse_wrk_counts_non_2xx_as_errors() -> None:
    result = bench.parse_wrk(WRK_NON_2XX)
    assert result.non_2xx == 3790
    assert result.errors == 3790
    assert not bench.step_ok(result, target_p99=1.0)


def test_parse_wrk_units_and_socket_errors() -> None:
    result = bench.parse_wrk(WRK_UNITS)
    assert result.rps == pytest.approx(1.2e6)
    assert result.latency == pytest.approx({"50": 850e-6, "75": 0.4, "90": 1.2, "99": 1.95})
    assert result.socket_errors == {"connect": 0, "read": 3, "write": 0, "timeout": 17}
    assert result.errors == 20
    # 20 errors in 6 012 345 requests is within the 0.1 % share; the p99 decides.
    assert bench.step_ok(result, target_p99=2.0)
    assert not bench.step_ok(result, target_p99=1.0)


def test_parse_wrk_refuses_an_incomplete_report() -> None:
    cut = WRK_PLAIN.split("  Latency Distribution", maxsplit=1)[0]
    with pytest.raises(bench.BenchError, match=r"^bench_capacity: not a complete wrk --latency report: "):
        bench.parse_wrk(cut)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/", "http://127.0.0.1:41234/v1/hits", "https://127.0.0.1:443/healthz"]
)
def test_loopback_target_accepts_loopback(url: str) -> None:
    assert bench.loopback_target(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.2.2:80/",
        "http://192.0.2.10:80/",
        "http://127.0.0.2:80/",
        "http://localhost:80/",
        "http://[::1]:80/",
        "http://127.0.0.1.example.com:80/",
        "http://127.0.0.1/",
        "ftp://127.0.0.1:21/",
        "http://user@127.0.0.1:80/",
        "127.0.0.1:80",
    ],
)
def test_loopback_target_refuses_anything_else(url: str) -> None:
    with pytest.raises(bench.BenchError) as err:
        bench.loopback_target(url)
    assert str(err.value) == (
        f"bench_capacity: refusing target {url!r}: load goes only to http(s)://127.0.0.1:<port>/ "
        "(an instance's port the lab published on loopback)"
    )


def test_target_check_command_refuses_a_remote_target(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["target-check", "http://203.0.113.7:80/"]) == 2
    assert "refusing target 'http://203.0.113.7:80/'" in capsys.readouterr().err
    assert bench.main(["target-check", "http://127.0.0.1:8080/"]) == 0


def test_best_step_picks_the_last_step_under_the_target() -> None:
    steps = [step(1, 900, 0.004), step(2, 1700, 0.008), step(4, 1850, 0.1), step(8, 1860, 0.6), step(16, 1900, 1.2)]
    assert bench.best_step(steps, target_p99=0.5).connections == 4
    assert bench.best_step(steps, target_p99=1.0).connections == 8


def test_best_step_stops_at_the_first_step_over_the_target() -> None:
    # A later step under the target again (noise) does not count: the ramp stopped before it.
    steps = [step(1, 900, 0.004), step(2, 1700, 0.7), step(4, 2500, 0.2)]
    assert bench.best_step(steps, target_p99=0.5).connections == 1


def test_best_step_takes_the_highest_rate_on_a_plateau() -> None:
    steps = [step(1, 10000, 0.001), step(2, 20000, 0.001), step(4, 30500, 0.002), step(8, 29800, 0.004)]
    assert bench.best_step(steps, target_p99=1.0).connections == 4


def test_best_step_stops_at_errors() -> None:
    steps = [step(1, 40, 0.01), step(2, 90, 0.01), step(4, 100, 0.01, errors=900)]
    assert bench.best_step(steps, target_p99=1.0).connections == 2


def test_best_step_none_when_the_first_step_is_over() -> None:
    assert bench.best_step([step(1, 10, 2.5)], target_p99=1.0) is None
    assert bench.best_step([], target_p99=1.0) is None


@given(
    st.lists(
        st.tuples(st.floats(1, 1e5), st.floats(1e-5, 3.0), st.integers(0, 50)),
        min_size=1,
        max_size=12,
    ),
    st.floats(0.01, 2.0),
)
def test_best_step_is_within_target_and_before_the_first_miss(raw, target: float) -> None:
    steps = [step(2**i, rps, p99, errors) for i, (rps, p99, errors) in enumerate(raw)]
    best = bench.best_step(steps, target)
    first_miss = next((i for i, s in enumerate(steps) if not bench.step_ok(s, target)), len(steps))
    if best is None:
        assert first_miss == 0
    else:
        assert bench.step_ok(best, target)
        assert steps.index(best) < first_miss
        assert best.rps == max(s.rps for s in steps[:first_miss])


@pytest.mark.parametrize(("limit", "steps"), [(1, [1]), (8, [1, 2, 4, 8]), (100, [1, 2, 4, 8, 16, 32, 64, 100])])
def test_connection_steps(limit: int, steps: list[int]) -> None:
    assert bench.connection_steps(limit) == steps


def test_latency_target_is_the_alarm_threshold() -> None:
    # roles/platform_monitoring defaults: latency_p99_seconds web 1.0, api 0.5, admin 2.0.
    assert bench.latency_target("web") == 1.0
    assert bench.latency_target("api") == 0.5
    with pytest.raises(bench.BenchError, match="no latency_p99_seconds for tier 'cdn'"):
        bench.latency_target("cdn")


def test_launch_stats_nearest_rank() -> None:
    booted = [{"launched": 100.0 + i, "launch_seconds": 2.0 + i / 10, "boot_seconds": 1.0 + i / 10} for i in range(10)]
    stats = bench.launch_stats(booted)
    assert stats["instances"] == stats["healthy"] == 10
    assert stats["launch_p50_s"] == pytest.approx(2.4)
    assert stats["launch_p95_s"] == stats["launch_max_s"] == pytest.approx(2.9)
    assert stats["boot_p50_s"] == pytest.approx(1.4)
    assert stats["launch_span_s"] == pytest.approx(9.0)
    assert stats["all_healthy_s"] == pytest.approx(9.0 + 2.9)


def test_launch_stats_no_all_healthy_when_one_failed() -> None:
    booted = [
        {"launched": 1.0, "launch_seconds": 2.0, "boot_seconds": 1.0},
        {"launched": 2.0, "launch_seconds": None, "boot_seconds": None},
    ]
    stats = bench.launch_stats(booted)
    assert (stats["healthy"], stats["all_healthy_s"]) == (1, None)


@pytest.mark.parametrize(
    ("used", "cpus", "bound"),
    [
        (0.99, 1.0, "instance CPU"),
        (0.46, 0.5, "instance CPU"),
        (0.59, 1.0, "load generator (lower bound)"),
        (None, 1.0, "unknown (no cgroup figures)"),
    ],
)
def test_bound_by(used: float | None, cpus: float, bound: str) -> None:
    assert bench.bound_by(used, cpus) == bound
