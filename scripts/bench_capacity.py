#!/usr/bin/env python3
"""Measured capacity of one lab instance per tier (`make bench-capacity`, scripts/bench-capacity.sh).

wrk (Debian's 4.1.0) drives one path of a launched instance through its nginx, on the port the lab
published on 127.0.0.1, at increasing connection counts. A step is a fixed-length wrk run (`-d`, it
ends by itself); the ramp stops at the first step whose p99 is over the tier's latency target (or
that has errors), at the largest connection count, or when its time bound is spent. The capacity at
the target is the highest requests/s of the steps before that.

The latency target is the one the platform alarms on: roles/platform_monitoring's
`platform_monitoring_thresholds.latency_p99_seconds` (per tier; no inventory overrides it), the p99
of the targets' response time (`<tier>-latency-p99`, filter_plugins/arena_monitoring.py).

    bench_capacity.py target-check URL          exit 2 unless URL is http(s)://127.0.0.1:<port>/...
    bench_capacity.py latency-target TIER       the tier's p99 target, seconds
    bench_capacity.py ramp --tier T --path-name N --url U --out FILE [--method M] [--duration S]
                      [--max-connections C] [--time-bound S] [--threads N] [--cpus X] [--cgroup PATH]
    bench_capacity.py report --out docs/measured-capacity.json [--keep 4] FILE...
                                                 Markdown table; FILE...'s rows added to the JSON as a run
    bench_capacity.py launch-stats JSON          make bench-launch: launch -> healthy of launch.py's instances
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
MONITORING_DEFAULTS = ROOT / "roles" / "platform_monitoring" / "defaults" / "main.yml"
# cgroup v1 controllers of the instance's container (podman inspect .State.CgroupPath below them).
CPUACCT_ROOT = Path("/sys/fs/cgroup/cpuacct")
CPU_ROOT = Path("/sys/fs/cgroup/cpu")
WRK_SCRIPT = ROOT / "scripts" / "bench" / "wrk-viewers.lua"
LOOPBACK = "127.0.0.1"
# wrk's units (src/units.c): times us, ms, s, m, h; counts none, k, M, G (powers of 1000).
TIME_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
COUNT_UNITS = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9}
# A step counts only when (non-2xx answers + socket errors) stay within this share of its requests:
# a 429 or a timeout is a viewer failed, and wrk leaves timed-out requests out of its percentiles.
MAX_ERROR_SHARE = 0.001


class BenchError(ValueError):
    """A bad input or an unusable wrk run; the message names it."""


@dataclass(frozen=True)
class WrkResult:
    """One wrk run, as its --latency output reports it (times in seconds)."""

    threads: int
    connections: int
    requests: int
    duration_s: float
    rps: float
    latency: dict[str, float]  # "50", "75", "90", "99" -> seconds
    non_2xx: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return self.non_2xx + sum(self.socket_errors.values())

    @property
    def p50(self) -> float:
        return self.latency["50"]

    @property
    def p99(self) -> float:
        return self.latency["99"]


def parse_time(text: str) -> float:
    """'354.12us' -> 0.00035412, '1.20ms', '2.00s', '1.00m' (wrk's time units) -> seconds."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)(us|ms|s|m|h)\s*", text)
    if not match:
        raise BenchError(f"bench_capacity: not a wrk time: {text!r}")
    return float(match.group(1)) * TIME_UNITS[match.group(2)]


def parse_count(text: str) -> float:
    """'2.80k' -> 2800.0, '1.05M', '512' (wrk's metric units) -> a number."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)([kMG]?)\s*", text)
    if not match:
        raise BenchError(f"bench_capacity: not a wrk count: {text!r}")
    return float(match.group(1)) * COUNT_UNITS[match.group(2)]


def parse_wrk(text: str) -> WrkResult:
    """A wrk --latency report -> WrkResult; a report without the figures is refused."""
    head = re.search(r"(\d+) threads and (\d+) connections", text)
    total = re.search(r"^\s*(\d+) requests in ([0-9.]+[a-z]+),", text, re.MULTILINE)
    rate = re.search(r"^Requests/sec:\s*([0-9.]+[kMG]?)\s*$", text, re.MULTILINE)
    latency = {
        m.group(1): parse_time(m.group(2))
        for m in re.finditer(r"^\s*(50|75|90|99)%\s+([0-9.]+[a-z]+)\s*$", text, re.MULTILINE)
    }
    if not (head and total and rate) or set(latency) != {"50", "75", "90", "99"}:
        raise BenchError(f"bench_capacity: not a complete wrk --latency report: {text.strip()[-300:]!r}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    socket_errors = (
        dict(zip(("connect", "read", "write", "timeout"), map(int, sockets.groups()), strict=True)) if sockets else {}
    )
    return WrkResult(
        threads=int(head.group(1)),
        connections=int(head.group(2)),
        requests=int(total.group(1)),
        duration_s=parse_time(total.group(2)),
        rps=parse_count(rate.group(1)),
        latency=latency,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=socket_errors,
    )


def loopback_target(url: str) -> str:
    """The URL if wrk may be aimed at it: http or https on 127.0.0.1 with a port; else refused."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("http", "https") or parts.hostname != LOOPBACK or port is None or parts.username:
        raise BenchError(
            f"bench_capacity: refusing target {url!r}: load goes only to http(s)://{LOOPBACK}:<port>/ "
            "(an instance's port the lab published on loopback)"
        )
    return url


def step_ok(result: WrkResult, target_p99: float, max_error_share: float = MAX_ERROR_SHARE) -> bool:
    """Within the target: p99 at or under it, errors within the share, some requests answered."""
    return (
        result.requests > 0 and result.p99 <= target_p99 and result.errors <= max_error_share * max(result.requests, 1)
    )


def best_step(steps: list[WrkResult], target_p99: float, max_error_share: float = MAX_ERROR_SHARE) -> WrkResult | None:
    """The highest requests/s among the steps before the first one over the target (in ramp order)."""
    best: WrkResult | None = None
    for step in steps:
        if not step_ok(step, target_p99, max_error_share):
            break
        if best is None or step.rps > best.rps:
            best = step
    return best


def connection_steps(max_connections: int) -> list[int]:
    """1, 2, 4 ... up to max_connections (included when it is not a power of two)."""
    if max_connections < 1:
        raise BenchError(f"bench_capacity: max connections must be at least 1, got {max_connections}")
    out, n = [], 1
    while n < max_connections:
        out.append(n)
        n *= 2
    return [*out, max_connections]


def latency_target(tier: str, defaults: Path = MONITORING_DEFAULTS) -> float:
    """The tier's p99 target, seconds (platform_monitoring_thresholds.latency_p99_seconds)."""
    import yaml  # noqa: PLC0415 -- the parser and the search need no YAML

    data = yaml.safe_load(defaults.read_text(encoding="utf-8"))
    targets = data["platform_monitoring_thresholds"]["latency_p99_seconds"]
    if tier not in targets:
        raise BenchError(f"bench_capacity: {defaults} has no latency_p99_seconds for tier {tier!r}")
    return float(targets[tier])


def nearest_rank(values: list[float], q: float) -> float:
    """The q-th percentile (0 < q <= 100) by nearest rank: a value that was measured."""
    if not values:
        raise BenchError("bench_capacity: no values for a percentile")
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def launch_stats(booted: list[dict[str, Any]]) -> dict[str, Any]:
    """Instances started at once (launch.py's JSON): per instance launch -> healthy and boot -> healthy
    (p50, p95, max by nearest rank), and from the first launch until the last is healthy."""
    if not booted:
        raise BenchError("bench_capacity: launch-stats got no instances")
    healthy = [b for b in booted if b.get("launch_seconds") is not None]
    first = min(b["launched"] for b in booted)
    out: dict[str, Any] = {
        "instances": len(booted),
        "healthy": len(healthy),
        "launch_span_s": round(max(b["launched"] for b in booted) - first, 2),
        "all_healthy_s": round(max(b["launched"] + b["launch_seconds"] for b in healthy) - first, 2)
        if len(healthy) == len(booted)
        else None,
    }
    for key in ("launch_seconds", "boot_seconds"):
        values = [b[key] for b in healthy]
        for label, q in (("p50", 50), ("p95", 95), ("max", 100)):
            out[f"{key.removesuffix('_seconds')}_{label}_s"] = nearest_rank(values, q) if values else None
    return out


# ---------------------------------------------------------------------------------------------
# Running wrk (the ramp), and the report.
# ---------------------------------------------------------------------------------------------
def run_wrk(url: str, *, connections: int, threads: int, duration: int, timeout: float, method: str) -> WrkResult:
    """One bounded wrk run: -d ends it; the subprocess timeout is the backstop."""
    loopback_target(url)
    cmd = [
        "wrk",
        "--latency",
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{duration}s",
        f"--timeout={timeout:g}s",
        "-s",
        str(WRK_SCRIPT),
        url,
    ]
    env = {**os.environ, "ARENA_WRK_METHOD": method}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 20, env=env, check=False)
    if done.returncode != 0:
        raise BenchError(f"bench_capacity: wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout}")
    return parse_wrk(done.stdout)


def cgroup_cpu(cgroup: str | None) -> tuple[float, int, int] | None:
    """(CPU seconds used, CFS periods, periods throttled) of a container's cgroup, None without one."""
    if not cgroup:
        return None
    try:
        used = int((CPUACCT_ROOT / cgroup.lstrip("/") / "cpuacct.usage").read_text(encoding="ascii")) / 1e9
        stat = dict(
            line.split()
            for line in (CPU_ROOT / cgroup.lstrip("/") / "cpu.stat").read_text(encoding="ascii").splitlines()
        )
    except (OSError, ValueError):
        return None
    return used, int(stat.get("nr_periods", 0)), int(stat.get("nr_throttled", 0))


def cpu_between(before: tuple[float, int, int] | None, after: tuple[float, int, int] | None, wall: float) -> dict:
    """The instance's CPU over a step: vCPUs used on average, share of CFS periods it was throttled."""
    if before is None or after is None or wall <= 0:
        return {"instance_vcpu": None, "throttled": None}
    periods = after[1] - before[1]
    return {
        "instance_vcpu": round((after[0] - before[0]) / wall, 2),
        "throttled": round((after[2] - before[2]) / periods, 2) if periods > 0 else 0.0,
    }


def step_row(step: WrkResult, cpu: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "connections": step.connections,
        "rps": round(step.rps, 1),
        "p50_ms": round(step.p50 * 1e3, 2),
        "p99_ms": round(step.p99 * 1e3, 2),
        "errors": step.errors,
        **(cpu or {}),
    }


def ramp(args: argparse.Namespace) -> dict[str, Any]:
    url = loopback_target(args.url)
    target = latency_target(args.tier) if args.target is None else args.target
    started, steps, cpus = time.monotonic(), [], []
    stop = "largest connection count reached"
    for connections in connection_steps(args.max_connections):
        if time.monotonic() - started + args.duration > args.time_bound:
            stop = f"time bound ({args.time_bound:g} s) reached"
            break
        before, wall = cgroup_cpu(args.cgroup), time.monotonic()
        step = run_wrk(
            url,
            connections=connections,
            threads=args.threads,
            duration=args.duration,
            timeout=max(2 * target, 1.0),
            method=args.method,
        )
        cpu = cpu_between(before, cgroup_cpu(args.cgroup), time.monotonic() - wall)
        steps.append(step)
        cpus.append(cpu)
        print(
            f"  {args.tier} {args.path_name:<7} c={connections:<4} {step.rps:>9.1f} req/s "
            f"p50 {step.p50 * 1e3:8.2f} ms  p99 {step.p99 * 1e3:8.2f} ms  errors {step.errors}  "
            f"instance {cpu['instance_vcpu']} vCPU, throttled {cpu['throttled']}",
            file=sys.stderr,
        )
        if not step_ok(step, target):
            stop = "p99 over target" if step.p99 > target else "errors"
            break
    best = best_step(steps, target)
    at_best = cpus[steps.index(best)] if best else {}
    return {
        "tier": args.tier,
        "path": args.path_name,
        "method": args.method,
        "url_path": urlsplit(url).path,
        "cpus": args.cpus,
        "target_p99_ms": round(target * 1e3, 1),
        "rps": round(best.rps, 1) if best else None,
        "rps_per_vcpu": round(best.rps / args.cpus, 1) if best and args.cpus else None,
        "p50_ms": round(best.p50 * 1e3, 2) if best else None,
        "p99_ms": round(best.p99 * 1e3, 2) if best else None,
        "connections": best.connections if best else None,
        "instance_vcpu": at_best.get("instance_vcpu"),
        "throttled": at_best.get("throttled"),
        "stop": stop,
        "steps": [step_row(s, c) for s, c in zip(steps, cpus, strict=True)],
    }


# The instance's quota is the bottleneck when it used this share of it (else wrk and the lab's port
# forwarding, on the same cores, ran out first: the rate is a lower bound of the instance's).
SATURATED_SHARE = 0.9


def bound_by(instance_vcpu: float | None, cpus: float) -> str:
    """What limited the step: the instance's CPU share, the load generator side, or unknown."""
    if instance_vcpu is None:
        return "unknown (no cgroup figures)"
    if instance_vcpu >= SATURATED_SHARE * cpus:
        return "instance CPU"
    return "load generator (lower bound)"


def dash(value: Any) -> str:
    return "-" if value is None else f"{value}"


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| tier | path | rps at p99 target | rps per vCPU | p50 ms | p99 ms | p99 target ms | connections "
        "| CPU share | instance CPU used | throttled | bound by | ramp stopped |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        rps = "-" if r["rps"] is None else f"{r['rps']:.0f}"
        per_cpu = "-" if r["rps_per_vcpu"] is None else f"{r['rps_per_vcpu']:.0f}"
        lines.append(
            f"| {r['tier']} | {r['method']} {r['url_path']} | {rps} | {per_cpu} | {r['p50_ms'] or '-'} | "
            f"{r['p99_ms'] or '-'} | {r['target_p99_ms']:g} | {r['connections'] or '-'} | {r['cpus']:g} vCPU | "
            f"{dash(r.get('instance_vcpu'))} | {dash(r.get('throttled'))} | "
            f"{bound_by(r.get('instance_vcpu'), r['cpus'])} | {r['stop']} |"
        )
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return {
        "cores": os.cpu_count(),
        "cpu": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
                if line.startswith("model name")
            ),
            platform.machine(),
        ),
        "load_average_at_end": [round(x, 2) for x in load],
        "wrk": (wrk.stdout or wrk.stderr).splitlines()[0].split(" [")[0] if shutil.which("wrk") else None,
    }


def compact_json(document: Any) -> str:
    """Indented JSON with every object or array that holds no other one on a line of its own."""
    text = json.dumps(document, indent=1)
    return re.sub(r"([\[{])\s*([^\[\]{}]*?)\s*([\]}])", lambda m: m[1] + re.sub(r"\n\s*", " ", m[2]) + m[3], text)


def report(args: argparse.Namespace) -> str:
    rows = [json.loads(Path(f).read_text(encoding="utf-8")) for f in args.files]
    for row in rows:
        row["bound_by"] = bound_by(row.get("instance_vcpu"), row["cpus"])
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT, check=False)
    run = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": commit.stdout.strip() or None,
        "machine": machine(),
        "method": {
            "command": "make bench-capacity",
            "step_seconds": args.duration,
            "threads": args.threads,
            "max_error_share": MAX_ERROR_SHARE,
            "latency_target_source": str(MONITORING_DEFAULTS.relative_to(ROOT))
            + " platform_monitoring_thresholds.latency_p99_seconds",
        },
        "results": rows,
    }
    out = Path(args.out)
    old = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else {}
    runs = [*old.get("runs", []), run][-args.keep :]
    for kept in runs:  # runs recorded before the column existed get it too
        for row in kept["results"]:
            row.setdefault("bound_by", bound_by(row.get("instance_vcpu"), row["cpus"]))
    document = {
        "about": "make bench-capacity: requests/s of one lab instance per tier at the p99 latency target "
        "(scripts/bench_capacity.py); the newest run last",
        "runs": runs,
    }
    out.write_text(compact_json(document) + "\n", encoding="utf-8")
    return markdown(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("target-check").add_argument("url")
    sub.add_parser("latency-target").add_argument("tier")
    p = sub.add_parser("ramp")
    p.add_argument("--tier", required=True)
    p.add_argument("--path-name", required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--method", default="GET", choices=("GET", "POST"))
    p.add_argument("--out", required=True)
    p.add_argument("--duration", type=int, default=5, help="seconds per step (wrk -d)")
    p.add_argument("--max-connections", type=int, default=256)
    p.add_argument("--time-bound", type=float, default=90.0, help="seconds for the whole ramp")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="wrk threads (at most the cores)")
    p.add_argument("--cpus", type=float, default=1.0, help="the instance's CPU share, vCPUs (for the per-vCPU figure)")
    p.add_argument("--target", type=float, help="p99 target in seconds (default: the tier's alarm threshold)")
    p.add_argument("--cgroup", help="the instance container's cgroup (podman inspect .State.CgroupPath): CPU it used")
    r = sub.add_parser("report")
    r.add_argument("--out", required=True)
    r.add_argument("--keep", type=int, default=4, help="runs kept in the JSON")
    r.add_argument("--duration", type=int, default=5)
    r.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    r.add_argument("files", nargs="+")
    sub.add_parser("launch-stats").add_argument("json")
    args = parser.parse_args(argv)
    try:
        if args.command == "target-check":
            loopback_target(args.url)
        elif args.command == "latency-target":
            print(latency_target(args.tier))
        elif args.command == "launch-stats":
            stats = launch_stats(json.loads(Path(args.json).read_text(encoding="utf-8")))
            print(json.dumps(stats))
        elif args.command == "ramp":
            args.threads = max(1, min(args.threads, os.cpu_count() or 1))
            Path(args.out).write_text(json.dumps(ramp(args), indent=1) + "\n", encoding="utf-8")
        else:
            print(report(args))
    except BenchError as err:
        print(err, file=sys.stderr)
        return 2
    except subprocess.TimeoutExpired as err:
        print(f"bench_capacity: wrk did not end within {err.timeout:g} s", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
