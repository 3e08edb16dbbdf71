#!/usr/bin/env bash
# Capacity benchmark (`make bench-capacity`): requests per second one instance of each tier serves at
# the latency the platform targets (the p99 alarm threshold, roles/platform_monitoring
# latency_p99_seconds), measured with wrk through the instance's nginx.
# Each tier in turn: ONE instance launched from the platform as scripts/launch.sh launches it
# (scripts/images-lab.sh: platform core in the emulator, the baked image published as a lab AMI, the
# tier's group scaled to 1, scripts/lab/launch.py from its launch template; a real redis-server for
# the API), its container limited to ARENA_BENCH_CPUS vCPUs (podman --cpus, default 0.5: on 2 cores a
# whole vCPU leaves wrk and the port forwarding short of CPU, and web and admin then measure the load
# generator), its traffic port published on 127.0.0.1. Then per path (web: the page and /healthz; api: POST /v1/hits, a Redis
# INCR, and /healthz, a Redis PING; admin: /healthz over TLS) scripts/bench_capacity.py ramps wrk over
# 1, 2, 4 ... ARENA_BENCH_MAX_CONNECTIONS connections, ARENA_BENCH_STEP_SECONDS per step, until a
# step's p99 is over the target (or it has errors) or the ramp's time bound (ARENA_BENCH_RAMP_SECONDS)
# is spent. Load goes only to 127.0.0.1 (bench_capacity.py refuses any other target); every wrk run
# ends by itself (-d) and the whole benchmark is killed after ARENA_BENCH_TIMEOUT seconds.
# Prints a Markdown table and adds the run to docs/measured-capacity.json (ARENA_BENCH_CAPACITY_OUT;
# the last 4 runs are kept). Leaves nothing running. Needs the baked images (make bake) and root.
#   scripts/bench-capacity.sh [tier ...]       run through scripts/with-emulator.sh (make bench-capacity)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/images-lab.sh"
need_root "bench-capacity"
cd "$ARENA_ROOT"
TIMEOUT="${ARENA_BENCH_TIMEOUT:-1500}"
[[ "$TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "ARENA_BENCH_TIMEOUT must be seconds, got '${TIMEOUT}'"
# The hard bound: the whole run again under timeout(1), which signals its process group (wrk too).
if [[ -z "${ARENA_BENCH_UNDER_TIMEOUT:-}" ]]; then
  ARENA_BENCH_UNDER_TIMEOUT=1 exec timeout --kill-after=30 "$TIMEOUT" "${ARENA_ROOT}/scripts/bench-capacity.sh" "$@"
fi
export PATH="${ARENA_VENV}/bin:${PATH}" ANSIBLE_CONFIG="${ARENA_ROOT}/ansible.cfg" ANSIBLE_NOCOLOR=1
[[ -n "${AWS_URL:-}" ]] || die "no emulator: run through scripts/with-emulator.sh (make bench-capacity does)"
command -v wrk >/dev/null || die "wrk is not installed (make host)"
CPUS="${ARENA_BENCH_CPUS:-0.5}"
STEP="${ARENA_BENCH_STEP_SECONDS:-5}"
MAX_CONNECTIONS="${ARENA_BENCH_MAX_CONNECTIONS:-256}"
RAMP_SECONDS="${ARENA_BENCH_RAMP_SECONDS:-90}"
OUT="${ARENA_BENCH_CAPACITY_OUT:-${ARENA_ROOT}/docs/measured-capacity.json}"
BUDGET="${ARENA_BOOT_BUDGET:-60}"
[[ "$CPUS" =~ ^[0-9]+(\.[0-9]+)?$ ]] && [[ "$CPUS" != 0 ]] || die "ARENA_BENCH_CPUS must be a CPU count, got '${CPUS}'"
[[ "$STEP" =~ ^[1-9][0-9]?$ ]] || die "ARENA_BENCH_STEP_SECONDS must be 1-99, got '${STEP}'"
parse_tiers "$@"
for tier in "${tiers[@]}"; do image_of "$tier" >/dev/null || die "${tier}: no baked image (make bake first)"; done

PREFIX=ami-cap
work="${ARENA_LAB_DIR}/bench-capacity"
rm -rf "$work"
mkdir -p "$work"
cleanup() {
  python3 scripts/lab/launch.py down --name-prefix "$PREFIX" >/dev/null 2>&1 || true
  podman rm -f -t 0 "${PREFIX}-redis" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'log "stopped (signal or ARENA_BENCH_TIMEOUT ${TIMEOUT} s)"; exit 124' TERM INT

# The paths of a tier: name, method, path on the traffic port ("health": the target group's check).
paths_of() {
  case "$1" in
    web) echo "page GET /" "health GET health" ;;
    api) echo "hits POST /v1/hits" "health GET health" ;;
    admin) echo "health GET health" ;;
  esac
}

start=$SECONDS
images_lab_secrets
images_redis_up "${PREFIX}-redis" "$work"
log "platform core in the emulator"
lab_platform_up "${work}/platform.log"
lab_publish "${work}/publish.log" "${tiers[@]}"
results=()
for tier in "${tiers[@]}"; do
  python3 scripts/image_gate.py seed "$tier" "$LAB_ENVIRONMENT" "capacity-$(date +%s%N)" >/dev/null
  # The group holds its desired capacity (its min_size, at least 1, in the emulator's record): the
  # first of its instances is launched (scripts/launch.sh scales to N first; 1 is below web's minimum).
  ARENA_LAB_INSTANCE_CPUS="$CPUS" lab_launch "$PREFIX" "$tier" 1 "$BUDGET" "${work}/${tier}.json" >/dev/null \
    || die "${tier}: the instance was not healthy within ${BUDGET} s"
  base_url="$(lab_launched "${work}/${tier}.json" base_url)"
  health_url="$(lab_launched "${work}/${tier}.json" health_url)"
  # The instance container's cgroup: the CPU it used in each step, and how often its quota bit.
  cgroup="$(podman inspect -f '{{.State.CgroupPath}}' "$(lab_launched "${work}/${tier}.json" container)")"
  log "${tier}: $(lab_launched "${work}/${tier}.json" instance_id) healthy, ${CPUS} vCPU, ${base_url}"
  # Each path, one ramp after the other.
  read -r -a specs <<< "$(paths_of "$tier")"
  for ((i = 0; i < ${#specs[@]}; i += 3)); do
    name="${specs[i]}" method="${specs[i + 1]}" path="${specs[i + 2]}"
    url="${base_url%/}${path}"
    [[ "$path" == health ]] && url="$health_url"
    python3 scripts/bench_capacity.py target-check "$url" || die "${tier} ${name}: not a loopback target"
    python3 scripts/bench_capacity.py ramp --tier "$tier" --path-name "$name" --method "$method" --url "$url" \
      --duration "$STEP" --max-connections "$MAX_CONNECTIONS" --time-bound "$RAMP_SECONDS" --cpus "$CPUS" \
      --cgroup "$cgroup" --out "${work}/${tier}-${name}.json" || die "${tier} ${name}: the ramp failed"
    results+=("${work}/${tier}-${name}.json")
  done
  python3 scripts/lab/launch.py down --name-prefix "$PREFIX"
done
echo
python3 scripts/bench_capacity.py report --out "$OUT" --duration "$STEP" "${results[@]}"
log "took $((SECONDS - start)) s; results in ${OUT#"${ARENA_ROOT}"/}"
