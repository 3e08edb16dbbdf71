#!/usr/bin/env bash
# Converge benchmark of base + hardening (web profile) on a fresh container (make bench-hardening).
# Prints the wall time of the first converge and of a re-run, and the task counts of each.
# Not a test: nothing fails on a slow machine. The container is hard-bench, removed at the end.
#   BENCH_PROFILE=api scripts/hardening/bench.sh     benchmarks another profile
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/lib.sh"
need_root "bench-hardening"
cd "$ARENA_ROOT"
export ANSIBLE_CONFIG="${ARENA_ROOT}/ansible.cfg" PY_COLORS=0 ANSIBLE_FORCE_COLOR=0 NO_COLOR=1
export ANSIBLE_CALLBACKS_ENABLED=ansible.posix.timer,ansible.posix.profile_tasks PROFILE_TASKS_TASK_OUTPUT_LIMIT=all

profile="${BENCH_PROFILE:-web}"
name=hard-bench
out="${ARENA_LAB_DIR}/hardening-bench"
mkdir -p "$out"
trap 'podman rm -f "$name" >/dev/null 2>&1 || true' EXIT

hard_start "$name" --cap-add NET_ADMIN "$HARD_IMAGE" /sbin/init
# Lab set-up, not timed: the apt cache, as molecule's prepare does. The package lists are not
# refreshed here: the roles' own apt calls do it, inside the timed run.
hard_proxy "$name"

run_once() {
  local label="$1" start end
  start=$(date +%s%N)
  hard_converge "$name" -e "hardening_profile=${profile}" > "${out}/${label}.log" 2>&1 \
    || { tail -30 "${out}/${label}.log" >&2; die "${label} converge failed"; }
  end=$(date +%s%N)
  local secs recap
  secs="$(awk -v d=$((end - start)) 'BEGIN{printf "%.1f", d/1e9}')"
  recap="$(grep -E "^${name} +:" "${out}/${label}.log" | tail -1 | sed -E 's/ +/ /g')"
  local ok changed skipped
  ok="$(sed -nE 's/.*ok=([0-9]+).*/\1/p' <<< "$recap")"
  changed="$(sed -nE 's/.*changed=([0-9]+).*/\1/p' <<< "$recap")"
  skipped="$(sed -nE 's/.*skipped=([0-9]+).*/\1/p' <<< "$recap")"
  printf '%-8s %6s s   tasks run (ok)=%s changed=%s skipped=%s\n' "$label" "$secs" "$ok" "$changed" "$skipped"
}

echo "base + hardening (profile ${profile}) on a fresh ${HARD_IMAGE} container; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
run_once first
run_once rerun
echo "tasks in the play (ansible-playbook --list-tasks): $(ANSIBLE_ROLES_PATH="${ARENA_ROOT}/roles" ansible-playbook -i "${name}," \
  scripts/hardening/converge.yml -e "hardening_profile=${profile}" --list-tasks 2>/dev/null | grep -cE 'TAGS: ')"
echo "logs with per-task times (profile_tasks): ${out}/first.log ${out}/rerun.log"
