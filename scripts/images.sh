#!/usr/bin/env bash
# `make images` (a `make test` stage): bake the three tier images, then gate them. The gate launches
# each image from the platform in its emulator (scripts/gate.sh), so that platform core is built in
# the background while the bake runs (its emulator has its own lab dir, .lab/images); the bake and
# the gate are reported as stages of their own. The gate checks the three images side by side.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/images-lab.sh"
cd "$ARENA_ROOT"
export PATH="${ARENA_VENV}/bin:${PATH}" ANSIBLE_CONFIG="${ARENA_ROOT}/ansible.cfg" ANSIBLE_NOCOLOR=1
out_root="${ARENA_BAKE_DIR:-${ARENA_ROOT}/build/images}"
mkdir -p "$out_root"

scripts/emulator.sh up
trap 'scripts/emulator.sh down' EXIT
# shellcheck disable=SC1091
source "${ARENA_LAB_DIR}/emulator.env"

# Meanwhile also the gate's Redis image (built once per base image; a no-op when it is current).
# The lab's own playbooks (this platform, the gate's publishing) run under the tests' executor
# (mitogen_exports in lib.sh); the bake runs plain Ansible, as CI and ops bake.
lab_executor="$(mitogen_exports)" || die "cannot read the tests' playbook executor (tests/arena_testlib.py)"
( eval "$lab_executor"; lab_platform_up "${out_root}/gate-platform.log" && images_redis_image ) &
platform_pid=$!
rc=0
scripts/stage.sh bake scripts/bake.sh || rc=1
wait "$platform_pid" || { log "the gate's platform could not be built (${out_root}/gate-platform.log)"; rc=1; }
((rc == 0)) || exit 1
( eval "$lab_executor"; ARENA_GATE_PLATFORM_READY=1 scripts/stage.sh gate scripts/gate.sh )
