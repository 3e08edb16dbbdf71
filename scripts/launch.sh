#!/usr/bin/env bash
# `make launch N=<count>`: N instances of each tier launched from the platform, as EC2 launches them,
# and their health. In the emulator (its own lab dir): the platform core (playbooks/platform.yml),
# the baked images published to it (playbooks/publish_image.yml: lab AMIs behind
# /arena/local/images/<tier>), each tier's Auto Scaling group scaled to N, then every instance the
# emulator records booted by scripts/lab/launch.py from its launch template (image through SSM,
# instance metadata as the template's options say, role credentials from STS, first boot reading its
# runtime configuration from SSM) and probed with its target group's health check.
# Leaves nothing running unless ARENA_LAUNCH_KEEP=1 (then `make launch-down` removes it all).
#   scripts/launch.sh [tier ...]        N from ARENA_LAUNCH_COUNT (default 2)
# ARENA_LAUNCH_RAISE_MAX=1 raises a group's MaxSize to N first (make bench-launch: 10 where the local
# inventory allows 6). Each instance's times are in ${ARENA_LAB_DIR}/launch-run/<tier>.json:
# boot_seconds (systemd start -> healthy) and launch_seconds (launch.py starting it -> healthy).
# Needs the baked images (make bake). Run through scripts/with-emulator.sh (make launch does).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/images-lab.sh"
need_root "launch"
cd "$ARENA_ROOT"
export PATH="${ARENA_VENV}/bin:${PATH}" ANSIBLE_CONFIG="${ARENA_ROOT}/ansible.cfg" ANSIBLE_NOCOLOR=1
[[ -n "${AWS_URL:-}" ]] || die "no emulator: run through scripts/with-emulator.sh (make launch does)"
COUNT="${ARENA_LAUNCH_COUNT:-2}"
[[ "$COUNT" =~ ^[1-9][0-9]?$ ]] || die "N (ARENA_LAUNCH_COUNT) must be a count from 1 to 99, got '${COUNT}'"
BUDGET="${ARENA_BOOT_BUDGET:-60}"
scale_opts=()
if [[ "${ARENA_LAUNCH_RAISE_MAX:-0}" == 1 ]]; then scale_opts=(--raise-max); fi
parse_tiers "$@"
for tier in "${tiers[@]}"; do image_of "$tier" >/dev/null || die "${tier}: no baked image (make bake first)"; done

work="${ARENA_LAB_DIR}/launch-run"
rm -rf "$work"
mkdir -p "$work"
cleanup() {
  [[ "${ARENA_LAUNCH_KEEP:-0}" == 1 ]] && { log "ARENA_LAUNCH_KEEP=1: instances kept (make launch-down removes them)"; return 0; }
  python3 scripts/lab/launch.py down --name-prefix ami-launch >/dev/null 2>&1 || true
  podman rm -f -t 0 ami-launch-redis >/dev/null 2>&1 || true
}
trap cleanup EXIT

start=$SECONDS
images_lab_secrets
images_redis_up ami-launch-redis "$work"
log "platform core in the emulator"
lab_platform_up "${work}/platform.log"
lab_publish "${work}/publish.log" "${tiers[@]}"
rc=0
for tier in "${tiers[@]}"; do
  python3 scripts/image_gate.py seed "$tier" "$LAB_ENVIRONMENT" "launch-$(date +%s%N)" >/dev/null
  python3 scripts/lab/launch.py scale --tiers "$tier" --count "$COUNT" --environment "$LAB_ENVIRONMENT" \
    "${scale_opts[@]}"
  log "${tier}: ${COUNT} instance(s) launched from arena-${LAB_ENVIRONMENT}-${tier}"
  lab_launch ami-launch "$tier" "$COUNT" "$BUDGET" "${work}/${tier}.json" || rc=1
done
log "took $((SECONDS - start)) s"
exit "$rc"
