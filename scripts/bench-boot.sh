#!/usr/bin/env bash
# Boot benchmark: seconds from `podman run` to the health endpoint's first 200, for
#   baked      an instance of the tier's Auto Scaling group launched from the platform (scripts/lab/launch.py:
#              launch template, image published as a lab AMI, instance metadata, role credentials, the
#              target group's health check) (ARENA_BENCH_RUNS, default 5)
#   configure  the "configure at boot" alternative (ARENA_BENCH_CONFIGURE_RUNS, default 1): a container
#              from the base image that applies playbooks/bake.yml for the tier at first boot (over the
#              repo's pipelined `podman` connection, apt through the host's cache as the bake does),
#              then continues into the configured system (a restart: ~2 s of a figure in minutes).
# The baked runs boot as the gate and the demo launch an instance (scripts/images-lab.sh); the
# configure-at-boot baseline is a plain container (CAP_NET_ADMIN, the emulator as SSM through the
# role's test-only source override), since there is no image to launch. A real redis-server serves
# the API in both (ami-bench-redis).
# Prints a Markdown table (medians and the ratio) for docs/benchmarks-images.md.
# First boot reads the runtime config from the emulator: run through scripts/with-emulator.sh.
#   scripts/bench-boot.sh [tier ...]
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/images-lab.sh"
cd "$ARENA_ROOT"
export PATH="${ARENA_VENV}/bin:${PATH}" ANSIBLE_CONFIG="${ARENA_ROOT}/ansible.cfg" ANSIBLE_NOCOLOR=1
[[ -n "${AWS_URL:-}" ]] || die "no emulator: run through scripts/with-emulator.sh"
RUNS="${ARENA_BENCH_RUNS:-5}"
CONFIGURE_RUNS="${ARENA_BENCH_CONFIGURE_RUNS:-1}"
TIMEOUT="${ARENA_BENCH_TIMEOUT:-900}"
BUDGET="${ARENA_BOOT_BUDGET:-60}"
out_root="${ARENA_BAKE_DIR:-${ARENA_ROOT}/build/images}"
parse_tiers "$@"

work="$(mktemp -d)"
cleanup() {
  local tier
  python3 scripts/lab/launch.py down --name-prefix ami-bench >/dev/null 2>&1 || true
  for tier in "${tiers[@]}"; do podman rm -f -t 0 "ami-bench-cab-${tier}" >/dev/null 2>&1 || true; done
  podman rm -f -t 0 ami-bench-redis >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

images_lab_secrets
images_redis_up ami-bench-redis "$work"
mkdir -p "$out_root"
lab_platform_up "${out_root}/bench-platform.log"
: > "${out_root}/bench-publish.log"
lab_publish "${out_root}/bench-publish.log" "${tiers[@]}"
# The configure-at-boot node writes the same override itself (runtime_config_source_override): the
# role removes a source.conf it was not given, which a bind mount would not allow.
jq -n --arg url "http://10.0.2.2:${AWS_URL##*:}" --arg region "$AWS_REGION" \
  '{runtime_config_source_override: {endpoint_url: $url, environment: "bench", region: $region,
    access_key_id: "testing", secret_access_key: "testing"}}' > "${work}/override.json"
# The configure-at-boot node is on slirp4netns: the host's apt-cacher-ng is 10.0.2.2:3142 there.
cab_proxy=""
curl -fsS -m 5 -o /dev/null http://127.0.0.1:3142/acng-report.html 2>/dev/null && cab_proxy="http://10.0.2.2:3142"

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "-"} else if (NR%2) {print a[(NR+1)/2]} else {printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}}'; }

rows=()
for tier in "${tiers[@]}"; do
  image="$(image_of "$tier")" || die "${tier}: no manifest, run make bake first"
  marker="bench-$(date +%s%N)"
  python3 scripts/image_gate.py seed "$tier" "$LAB_ENVIRONMENT" "$marker" >/dev/null || die "${tier}: seeding failed"
  python3 scripts/image_gate.py seed "$tier" bench "$marker" >/dev/null || die "${tier}: seeding failed"
  health_port="$(tier_value "$tier" bake_gate_health_port)"
  baked=()
  for n in $(seq 1 "$RUNS"); do
    if lab_launch ami-bench "$tier" 1 "$BUDGET" "${work}/launched.json" >/dev/null; then
      baked+=("$(lab_launched "${work}/launched.json" boot_seconds)")
    else
      log "${tier}: baked run ${n} not healthy within ${BUDGET} s"
    fi
    python3 scripts/lab/launch.py down --name-prefix ami-bench
  done

  configured=()
  for n in $(seq 1 "$CONFIGURE_RUNS"); do
    port="$(free_port)" name="ami-bench-cab-${tier}" logf="${out_root}/${tier}/configure-at-boot-${n}.log"
    url="$(tier_url "$tier" "$port")"
    podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
    podman run -d --name "$name" --systemd=always --network slirp4netns:allow_host_loopback=true \
      --cap-add=NET_ADMIN -p "127.0.0.1:${port}:${health_port}" "$IMAGES_BASE_IMAGE" /sbin/init >/dev/null
    # Timed from systemd's start, as scripts/lab/launch.py times a baked instance.
    t0="$(podman inspect --format '{{.State.StartedAt.UnixNano}}' "$name" | awk '{ printf "%.9f", $1 / 1e9 }')"
    if ansible-playbook playbooks/bake.yml -i "${name}," -c podman \
        -e "bake_tier=${tier}" -e ansible_become=false -e "bake_apt_proxy=${cab_proxy}" \
        -e "@${out_root}/${tier}/bake-vars.yml" -e "@${work}/override.json" > "$logf" 2>&1 \
       && podman restart -t 5 "$name" >/dev/null \
       && read -r _ s < <(wait_healthy "$url" "$t0" "$TIMEOUT"); then
      configured+=("$s")
    else
      log "${tier}: configure-at-boot run ${n} failed (${logf#"${ARENA_ROOT}"/}; its tail follows)"
      tail -5 "$logf" >&2
    fi
    podman rm -f -t 0 "$name" >/dev/null
  done
  mb="$(printf '%s\n' "${baked[@]}" | sed '/^$/d' | median)"
  mc="$(printf '%s\n' "${configured[@]}" | sed '/^$/d' | median)"
  ratio=n/a
  if ((${#baked[@]} && ${#configured[@]})); then
    ratio="$(awk -v b="$mb" -v c="$mc" 'BEGIN { printf "%.0fx", c / b }')"
  fi
  rows+=("| ${tier} | ${#baked[@]}/${RUNS} | ${mb} | $(printf '%s ' "${baked[@]}")| ${#configured[@]}/${CONFIGURE_RUNS} | ${mc} | ${ratio} |")
  log "${tier}: baked median ${mb} s, configure-at-boot ${mc} s"
done
echo
echo "| tier | baked runs | baked median s | baked runs s | configure-at-boot runs | configure-at-boot median s | ratio |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
