#!/usr/bin/env bash
# Boot benchmark: seconds from `podman run` to the health endpoint's first 200, for
#   baked      a container from the baked image localhost/arena-<tier>:<version> (ARENA_BENCH_RUNS, default 5)
#   configure  a container from the base image that applies playbooks/bake.yml for the tier at
#              first boot, the "configure at boot" alternative (ARENA_BENCH_CONFIGURE_RUNS, default 1)
# Prints a Markdown table (medians and the ratio) for docs/benchmarks-images.md.
# First boot reads the runtime config from the emulator: run through scripts/with-emulator.sh.
#   scripts/bench-boot.sh [tier ...]
source "$(dirname "$0")/lib.sh"
cd "$ARENA_ROOT"
export PATH="${ARENA_VENV}/bin:${PATH}" ANSIBLE_CONFIG="${ARENA_ROOT}/ansible.cfg"
[[ -n "${AWS_URL:-}" ]] || die "no emulator: run through scripts/with-emulator.sh"
RUNS="${ARENA_BENCH_RUNS:-5}"
CONFIGURE_RUNS="${ARENA_BENCH_CONFIGURE_RUNS:-1}"
TIMEOUT="${ARENA_BENCH_TIMEOUT:-900}"
out_root="${ARENA_BAKE_DIR:-${ARENA_ROOT}/build/images}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tiers=("$@")
((${#tiers[@]})) || tiers=(web api admin)

cat > "${work}/source.conf" <<CONF
ENDPOINT_URL=http://10.0.2.2:${AWS_URL##*:}
ENVIRONMENT=bench
REGION=${AWS_REGION}
AWS_ACCESS_KEY_ID=testing
AWS_SECRET_ACCESS_KEY=testing
CONF

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"} else if (NR%2) {print a[(NR+1)/2]} else {print (a[NR/2]+a[NR/2+1])/2}}'; }

# Wait for 200 on 127.0.0.1:<port>/healthz; print seconds since t0, or fail after TIMEOUT.
wait_healthy() {
  local port="$1" t0="$2" elapsed
  while :; do
    elapsed="$(echo "$(date +%s.%N) - $t0" | bc)"
    if [[ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:${port}/healthz" || true)" == 200 ]]; then
      printf '%.2f\n' "$elapsed"; return 0
    fi
    (( $(echo "$elapsed > $TIMEOUT" | bc) )) && return 1
    sleep 0.05
  done
}

seed() {
  python3 - "$1" <<'PY'
import os, sys, boto3
ssm = boto3.client("ssm", endpoint_url=os.environ["AWS_URL"], region_name=os.environ["AWS_REGION"])
for key, value in {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": "6379", "REDIS_TLS": "false", "REDIS_AUTH_TOKEN": "bench"}.items():
    ssm.put_parameter(Name=f"/arena/bench/{sys.argv[1]}/{key}", Value=value, Type="SecureString", Overwrite=True)
PY
}

run_container() {  # name image port [command...]
  local name="$1" image="$2" port="$3"; shift 3
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  podman run -d --name "$name" --systemd=always --network slirp4netns:allow_host_loopback=true \
    -p "127.0.0.1:${port}:80" -v "${work}/source.conf:/etc/arena/runtime/source.conf:ro,Z" "$image" "$@" >/dev/null
}

rows=()
for tier in "${tiers[@]}"; do
  seed "$tier"
  image="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["builds"][-1]["custom_data"]["local_image"])' \
    "${out_root}/${tier}/manifest.json")" || die "${tier}: no manifest, run make bake first"
  baked=()
  for n in $(seq 1 "$RUNS"); do
    port="$(free_port)" t0=$(date +%s.%N)
    run_container "ami-bench-${tier}" "$image" "$port"
    if s="$(wait_healthy "$port" "$t0")"; then baked+=("$s"); else log "${tier}: baked run ${n} never healthy"; fi
    podman rm -f -t 0 "ami-bench-${tier}" >/dev/null
  done
  configured=()
  for n in $(seq 1 "$CONFIGURE_RUNS"); do
    port="$(free_port)" t0=$(date +%s.%N) name="ami-bench-cab-${tier}"
    run_container "$name" localhost/arena-base:bookworm "$port" /sbin/init
    if ansible-playbook playbooks/bake.yml -i "${name}," -c containers.podman.podman \
        -e "bake_tier=${tier}" -e ansible_become=false -e "@${out_root}/${tier}/bake-vars.yml" \
        > "${work}/configure-${tier}-${n}.log" 2>&1 \
       && podman exec "$name" systemctl restart arena-runtime-config.service \
       && s="$(wait_healthy "$port" "$t0")"; then
      configured+=("$s")
    else
      log "${tier}: configure-at-boot run ${n} failed (tail of its log follows)"; tail -5 "${work}/configure-${tier}-${n}.log" >&2
    fi
    podman rm -f -t 0 "$name" >/dev/null
  done
  mb="$(printf '%s\n' "${baked[@]}" | median)" mc="$(printf '%s\n' "${configured[@]}" | median)"
  ratio="$(awk -v b="$mb" -v c="$mc" 'BEGIN { if (b > 0 && c > 0) printf "%.0f", c / b; else print "n/a" }')"
  rows+=("| ${tier} | ${#baked[@]}/${RUNS} | ${mb} | ${#configured[@]}/${CONFIGURE_RUNS} | ${mc} | ${ratio}x |")
done
echo
echo "| tier | baked runs | baked median s | configure-at-boot runs | configure-at-boot median s | ratio |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
