#!/usr/bin/env bash
# `make demo`: the local lab end to end. Starts the AWS emulator and a systemd container from the
# base image (the stand-in for an EC2 instance), reaches the container through ansible's podman
# connection, calls AWS (the emulator) through the guarded identity playbook, builds the platform
# core and the platform services in the emulator, applies the event-scaling plan, bakes the three
# tier images (scripts/bake.sh, in the background from the start) and runs each tier from its image
# as an instance would boot it (runtime configuration from the emulator's SSM, Redis in a side
# container: scripts/images-lab.sh, as the acceptance gate does), prints a summary of all of it, and
# removes everything it started, also on failure. The images stay (localhost/arena-<tier>:<version>).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/images-lab.sh"
cd "$ARENA_ROOT"
export PATH="${ARENA_VENV}/bin:${PATH}" ANSIBLE_CONFIG="${ARENA_ROOT}/ansible.cfg" ANSIBLE_NOCOLOR=1
export ARENA_LAB_DIR="${ARENA_LAB_DIR}/demo"
IMAGE="localhost/arena-base:${DEBIAN_RELEASE:-bookworm}"
CONTAINER=arena-demo
out="$(mktemp -d)"

TIERS=(web api admin)

cleanup() {
  local tier
  for tier in "${TIERS[@]}"; do podman rm -f -t 0 "ami-demo-${tier}" >/dev/null 2>&1 || true; done
  podman rm -f -t 0 ami-demo-redis >/dev/null 2>&1 || true
  net_anchor_down
  podman rm -f -t 2 "$CONTAINER" >/dev/null 2>&1 || true
  scripts/emulator.sh down >/dev/null 2>&1 || true
  rm -rf "$out"
}
net_anchor_up
trap cleanup EXIT
start=$SECONDS

step() { printf '\n--- %s\n' "$*"; }

step "Tier images: baking web, api and admin in the background (scripts/bake.sh)"
( rc=0; scripts/bake.sh "${TIERS[@]}" > "${out}/bake.log" 2>&1 || rc=$?; echo "$rc" > "${out}/bake.rc" ) &

step "AWS emulator"
scripts/emulator.sh up
# shellcheck disable=SC1091
source "${ARENA_LAB_DIR}/emulator.env"

step "Container ${CONTAINER} from ${IMAGE}"
podman rm -f -t 2 "$CONTAINER" >/dev/null 2>&1 || true
podman run -d --name "$CONTAINER" --hostname "$CONTAINER" --systemd=always "$IMAGE" /sbin/init >/dev/null
state=""
for _ in $(seq 1 60); do
  state="$(podman exec "$CONTAINER" systemctl is-system-running 2>/dev/null || true)"
  [[ "$state" == running || "$state" == degraded ]] && break
  sleep 0.5
done
[[ "$state" == running ]] || die "container systemd state is '${state}', expected running"
echo "systemd: ${state}"

step "ansible ping through the podman connection"
ansible lab -m ansible.builtin.ping -o | tee "${out}/ping"
grep -q '"ping": "pong"' "${out}/ping" || die "ping failed"

step "AWS call against the emulator (playbooks/aws_identity.yml)"
ansible-playbook playbooks/aws_identity.yml | tee "${out}/identity"
grep -q "failed=0" "${out}/identity" || die "identity playbook failed"

step "Platform core and services in the emulator (playbooks/platform.yml)"
# What an operator provides before the first run: image ids in SSM and the ALB's certificate.
python tests/integration/platform/platform_fixtures.py seed >/dev/null
ansible-playbook playbooks/platform.yml > "${out}/platform" || { tail -40 "${out}/platform"; die "platform.yml failed"; }
grep -A1 "PLAY RECAP" "${out}/platform" | tail -1

step "Event scaling plan applied to the Auto Scaling groups (playbooks/event_scaling.yml)"
ansible-playbook playbooks/event_scaling.yml > "${out}/events" || { tail -40 "${out}/events"; die "event_scaling.yml failed"; }
grep -A1 "PLAY RECAP" "${out}/events" | tail -1

step "Tier images (waiting for the bake)"
wait
sed -n '/^TIER /,$p' "${out}/bake.log"
[[ "$(cat "${out}/bake.rc")" == 0 ]] || { tail -40 "${out}/bake.log"; die "scripts/bake.sh failed"; }

step "Tiers booted from their images (runtime configuration from the emulator's SSM)"
images_lab_secrets
images_redis_up ami-demo-redis "$out"
images_source_conf "${out}/source.conf" demo
tiers_json="{}"
for tier in "${TIERS[@]}"; do
  image="$(image_of "$tier")" || die "${tier}: no manifest after the bake"
  python scripts/image_gate.py seed "$tier" demo "demo-$(date +%s%N)" >/dev/null || die "${tier}: seeding SSM failed"
  port="$(free_port)" url="" name="ami-demo-${tier}"
  url="$(tier_url "$tier" "$port")"
  mapfile -t instance_args < <(images_instance_args "$image")
  t0=$(date +%s.%N)
  podman run -d --name "$name" --systemd=always --network slirp4netns:allow_host_loopback=true \
    "${instance_args[@]}" -p "127.0.0.1:${port}:$(tier_value "$tier" bake_gate_health_port)" \
    -v "${out}/source.conf:/etc/arena/runtime/source.conf:ro,Z" "$image" >/dev/null
  read -r code secs < <(wait_healthy "$url" "$t0" 30 || true)
  [[ "$code" == 200 ]] || die "${tier}: ${url} answered ${code} after ${secs} s"
  echo "${tier}: ${image} healthy in ${secs} s"
  tiers_json="$(jq -c --arg t "$tier" --arg c "$name" --arg i "$image" --arg u "$(tier_url "$tier" "$port" /)" --arg s "$secs" \
    '.[$t] = {container: $c, image: $i, base_url: $u, boot_seconds: ($s | tonumber)}' <<< "$tiers_json")"
done

account="$(grep -oP "account: '\K[0-9]+" "${out}/identity")"
azs="$(sed -n '/availability_zones:/,/region:/p' "${out}/identity" | grep -oP -- '- \K\S+' | paste -sd, -)"
debian="$(podman exec "$CONTAINER" cat /etc/debian_version)"
cat <<SUMMARY

================ arena-infra demo summary ================
AWS emulator      ${AWS_URL} (region ${AWS_REGION})
AWS account       ${account} (emulated), AZs: ${azs}
Real-AWS guard    passed: target is the emulator
Container host    ${CONTAINER}: Debian ${debian}, systemd ${state}
Ansible           ping via the podman connection: pong
SUMMARY
python scripts/demo_platform.py summary
python scripts/demo_tiers.py --tiers "$tiers_json"
cat <<SUMMARY
Took              $((SECONDS - start)) s; cleaning up (containers and emulator)
==========================================================
SUMMARY
