#!/usr/bin/env bash
# Launch benchmark (`make bench-launch TIER=web`): ARENA_BENCH_LAUNCH_COUNT (10) instances of one tier
# started at once from the platform, and how long until they are healthy. It is scripts/launch.sh
# with N=10 (the tier's group raised to 10 in the emulator: inventories/local allows 6; production 40):
# the group scaled to 10 in one SetDesiredCapacity, then scripts/lab/launch.py starts the ten from
# the launch template all at once (ARENA_LAB_PARALLEL_BOOT=1: one thread per instance, as EC2 starts
# a scale-out), each watched by its target group's health check from its start. On two shared cores
# ten instances booting together contend for CPU as EC2 instances (vCPUs of their own) do not.
# Reported per instance (nearest-rank p50 / p95 / max):
#   launch -> healthy   launch.py starting the instance's containers -> the health check's 200
#   boot -> healthy     the instance's systemd start -> 200 (the image's part, what the gate holds)
# and from the first launch until all are healthy. The lab has no EC2 instance launch (placement,
# firmware, kernel: tiers.yml arena_boot.instance_launch_seconds); the figures add to it.
# Leaves nothing running (scripts/launch.sh removes its instances).
#   scripts/bench-launch.sh [tier]       run through scripts/with-emulator.sh (make bench-launch does)
source "$(dirname "$0")/lib.sh"
need_root "bench-launch"
cd "$ARENA_ROOT"
export PATH="${ARENA_VENV}/bin:${PATH}"
[[ -n "${AWS_URL:-}" ]] || die "no emulator: run through scripts/with-emulator.sh (make bench-launch does)"
tier="${1:-web}"
[[ $# -le 1 ]] || die "one tier at a time, got: $*"
[[ "$tier" =~ ^(web|api|admin)$ ]] || die "unknown tier '${tier}' (web, api, admin)"
COUNT="${ARENA_BENCH_LAUNCH_COUNT:-10}"

start=$SECONDS
ARENA_LAUNCH_COUNT="$COUNT" ARENA_LAUNCH_RAISE_MAX=1 ARENA_LAUNCH_KEEP=0 ARENA_LAB_PARALLEL_BOOT=1 \
  timeout --kill-after=30 "${ARENA_BENCH_TIMEOUT:-900}" scripts/launch.sh "$tier" >&2 \
  || log "${tier}: not every instance was healthy within the budget (the figures count the healthy ones)"
json="${ARENA_LAB_DIR}/launch-run/${tier}.json"
[[ -s "$json" ]] || die "${tier}: no launch record (${json})"
stats="$(python3 scripts/bench_capacity.py launch-stats "$json")"
f() { jq -r ".$1 // \"-\"" <<< "$stats"; }
echo
echo "| tier | instances healthy | launch -> healthy p50 / p95 / max s | boot -> healthy p50 / p95 / max s | launches spread over s | first launch -> all healthy s |"
echo "|---|---|---|---|---|---|"
echo "| ${tier} | $(f healthy)/$(f instances) | $(f launch_p50_s) / $(f launch_p95_s) / $(f launch_max_s) |" \
  "$(f boot_p50_s) / $(f boot_p95_s) / $(f boot_max_s) | $(f launch_span_s) | $(f all_healthy_s) |"
log "took $((SECONDS - start)) s (platform core and publishing included); load average $(cut -d' ' -f1-3 /proc/loadavg)"
