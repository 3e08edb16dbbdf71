#!/usr/bin/env bash
# make dashboard: the event-day dashboard (issue 18) rendered as docs/event-day-dashboard.png from a
# lab of its own, with nothing left running:
#   1. a fresh AWS emulator in a private lab directory (not .lab/: a running `make emulator-up` lab is
#      neither reset nor stopped), stopped again on exit, failure or interrupt (trap);
#   2. the platform built in it with the local inventory (playbooks/platform.yml, which makes the
#      <prefix>-event-day dashboard through roles/platform_monitoring);
#   3. scripts/dashboard.py: GetDashboard (made with the same filter and module if the role did not),
#      sample metrics of a replayed event, GetMetricData, the PNG.
# Extra ansible-playbook arguments: DASHBOARD_PLAYBOOK_ARGS (e.g. "--skip-tags platform_monitoring").
# Mitogen runs the playbook, as for the tests' labs (scripts/lib.sh mitogen_exports; ARENA_MITOGEN=0:
# plain Ansible).
source "$(dirname "$0")/lib.sh"
cd "$ARENA_ROOT"
export PATH="${ARENA_VENV}/bin:${PATH}"  # as make runs it: the venv's ansible-playbook and python
out="${1:-docs/event-day-dashboard.png}"
started=$(date +%s)

ARENA_LAB_DIR="$(mktemp -d "${TMPDIR:-/tmp}/arena-dashboard.XXXXXX")"
export ARENA_LAB_DIR
child=""
cleanup() {
  if [[ -n "$child" ]] && kill -0 "$child" 2>/dev/null; then kill "$child" 2>/dev/null || true; wait "$child" || true; fi
  scripts/emulator.sh down >/dev/null 2>&1 || true
  rm -rf "$ARENA_LAB_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# A step runs in the background and is waited for: bash runs a trap only between commands, and `wait`
# returns at once on a signal (a foreground child would delay the clean-up until it ended).
step() {
  "$@" &
  child=$!
  wait "$child"
}

scripts/emulator.sh up
# shellcheck disable=SC1091
source "${ARENA_LAB_DIR}/emulator.env"
lab_executor="$(mitogen_exports)" || die "cannot read the tests' playbook executor (tests/arena_testlib.py)"
eval "$lab_executor"

"${ARENA_VENV}/bin/python" tests/integration/platform/platform_fixtures.py seed >/dev/null
log "building the platform in the emulator (playbooks/platform.yml)"
# shellcheck disable=SC2086 # DASHBOARD_PLAYBOOK_ARGS is a list of words
if ! step ansible-playbook -i inventories/local ${DASHBOARD_PLAYBOOK_ARGS:-} playbooks/platform.yml \
  >"${ARENA_LAB_DIR}/platform.log" 2>&1; then
  grep -E -A12 '^fatal|FAILED!' "${ARENA_LAB_DIR}/platform.log" | head -40 >&2 || tail -30 "${ARENA_LAB_DIR}/platform.log" >&2
  die "playbooks/platform.yml failed (its output above)"
fi
step "${ARENA_VENV}/bin/python" scripts/dashboard.py --out "$out"
log "done in $(($(date +%s) - started)) s"
