#!/usr/bin/env bash
# `make demo`: the local lab end to end. Starts the AWS emulator and a systemd container from the
# base image (the stand-in for an EC2 instance), reaches the container through ansible's podman
# connection, calls AWS (the emulator) through the guarded identity playbook, builds the platform
# core and the platform services in the emulator, applies the event-scaling plan, bakes the three
# tier images (scripts/bake.sh, in the background from the start), publishes them to the emulator and
# launches each tier from its Auto Scaling group's launch template (scripts/lab/launch.py: image
# through SSM, instance metadata and role credentials, runtime configuration from the emulator's SSM,
# Redis in a side container; the path the acceptance gate uses), prints a summary of all of it, and
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
  python3 scripts/lab/launch.py down --name-prefix ami-demo >/dev/null 2>&1 || true
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

step "Tiers launched from the platform's Auto Scaling groups (scripts/lab/launch.py)"
# Each baked image is published to the emulator (a lab AMI behind /arena/local/images/<tier>), and the
# group's instance boots from its launch template: image through SSM, instance metadata as the template
# says (IMDSv2, tags), the instance role's credentials from the emulator's STS, the target group's
# health check. First boot reads the runtime configuration from the emulator's SSM.
images_lab_secrets
images_redis_up ami-demo-redis "$out"
lab_publish "${out}/publish.log" "${TIERS[@]}"
launched=()
for tier in "${TIERS[@]}"; do
  python scripts/image_gate.py seed "$tier" "$LAB_ENVIRONMENT" "demo-$(date +%s%N)" >/dev/null || die "${tier}: seeding SSM failed"
  lab_launch ami-demo "$tier" 1 30 "${out}/${tier}.json" | tail -n +2 || die "${tier}: not healthy after 30 s"
  launched+=("${out}/${tier}.json")
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
python scripts/demo_tiers.py "${launched[@]}"
cat <<SUMMARY
Took              $((SECONDS - start)) s; cleaning up (containers and emulator)
==========================================================
SUMMARY
