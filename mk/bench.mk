# Capacity and launch benchmarks of the tier instances (issue 19): one instance per tier driven by wrk
# on 127.0.0.1, and 10 instances of a tier started at once, both launched from the platform in their
# own emulator and lab dir (.lab/bench). Figures and method: docs/measured-capacity.json, and the
# capacity model (docs/live-events.md).
BENCH_LAB := $(or $(ARENA_LAB_DIR),$(CURDIR)/.lab)/bench

.PHONY: bench-capacity bench-launch

bench-capacity: venv ## Requests/s per tier at the p99 latency target, one instance per tier on 0.5 vCPU (wrk, loopback; TIERS=, CPUS=)
	@ARENA_LAB_DIR=$(BENCH_LAB) ARENA_BENCH_CPUS=$(or $(CPUS),0.5) scripts/with-emulator.sh scripts/bench-capacity.sh $(TIERS)

bench-launch: venv ## 10 instances of TIER (default web) started at once from the platform: launch -> healthy p50/p95, all healthy
	@ARENA_LAB_DIR=$(BENCH_LAB) scripts/with-emulator.sh scripts/bench-launch.sh $(or $(TIER),web)
