#!/usr/bin/env bash
# `make demo`: the local lab end to end. Starts the AWS emulator and a systemd container from the
# base image (the stand-in for an EC2 instance), reaches the container through ansible's podman
# connection, calls AWS (the emulator) through the guarded identity playbook, builds the platform
# core and the platform services in the emulator, applies the event-scaling plan, runs the three
# node tiers in containers (molecule/{web,api,admin}: base + hardening + the tier's roles, with
# Redis and the SMTP sink in side containers), prints a summary of all of it, and removes
# everything it started, also on failure.
source "$(dirname "$0")/lib.sh"
cd "$ARENA_ROOT"
export PATH="${ARENA_VENV}/bin:${PATH}" ANSIBLE_CONFIG="${ARENA_ROOT}/ansible.cfg" ANSIBLE_NOCOLOR=1
export ARENA_LAB_DIR="${ARENA_LAB_DIR}/demo"
IMAGE="localhost/arena-base:${DEBIAN_RELEASE:-bookworm}"
CONTAINER=arena-demo
out="$(mktemp -d)"

TIERS=(web api admin)
# molecule as scripts/molecule.sh runs it (lib.sh molecule_env), without the demo's ANSIBLE_CONFIG.
run_molecule() { (unset ANSIBLE_CONFIG; molecule_env; molecule "$@"); }

cleanup() {
  for tier in "${TIERS[@]}"; do run_molecule destroy -s "$tier" >/dev/null 2>&1 & done
  wait
  podman rm -f -t 2 "$CONTAINER" >/dev/null 2>&1 || true
  scripts/emulator.sh down >/dev/null 2>&1 || true
  rm -rf "$out"
}
trap cleanup EXIT
start=$SECONDS

step() { printf '\n--- %s\n' "$*"; }

step "Tier containers: converging web, api and admin in the background (molecule converge)"
for tier in "${TIERS[@]}"; do
  ( run_molecule converge -s "$tier" > "${out}/tier-${tier}.log" 2>&1
    echo $? > "${out}/tier-${tier}.rc" ) &
done

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

step "Tier containers (waiting for the converges)"
wait
for tier in "${TIERS[@]}"; do
  if [[ "$(cat "${out}/tier-${tier}.rc")" != 0 ]]; then
    tail -40 "${out}/tier-${tier}.log"
    die "molecule converge -s ${tier} failed"
  fi
  echo "${tier}: $(grep -A1 'PLAY RECAP' "${out}/tier-${tier}.log" | grep -m1 -o 'tier-[a-z]* *: ok=.*' | tr -s ' ')"
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
python scripts/demo_tiers.py
cat <<SUMMARY
Took              $((SECONDS - start)) s; cleaning up (containers and emulator)
==========================================================
SUMMARY
