#!/usr/bin/env bash
# `make test`: every stage runs, each is timed, and any failure fails the run.
#
# Stages run in groups, one group after the other; the stages of a group (joined by commas) run at
# the same time. Default: one group, "images,molecule,integration,ee-test,unit,lint", longest first.
# `ee-test` builds the execution environment on the base image and runs a platform's life in it
# (make ee-test; its emulator has its own lab dir). The bake
# and the molecule scenarios spend much of their time waiting on podman and systemd in containers,
# the integration suite (three workers, an emulator each) and unit are ansible and moto on the CPU:
# together they keep both cores busy from the first second to the last, where groups one after the
# other left a core idle at each group's tail. `images` bakes the three tier images and gates them
# (make images; its emulator has its own lab dir). A stage that runs beside another writes to
# .lab/test/<stage>.log (follow it with `tail -f`); the logs are printed when the group ends.
# ARENA_TEST_STAGES="lint unit molecule integration ee-test images" runs them one after the other, with
# live output; ARENA_TEST_STAGES="lint,unit molecule,integration,images" is the old two groups.
# `make test` itself only needs the host packages and .venv first: the lab's container images
# (base and package layer, make base-image deps-image, 70-80 s on a new machine, much of it
# waiting on the mirror) are built while the stages that need only .venv (lint, unit, integration)
# already run; the stages that boot containers (images, molecule) start once they are built.
source "$(dirname "$0")/lib.sh"
cd "$ARENA_ROOT"
report="$(mktemp)"
why="$(mktemp)"
# No network anchor here: the molecule scenarios download nothing (package layer image), and the
# bake keeps its own for as long as it uses the host's apt cache (scripts/bake.sh).
trap 'rm -f "$report" "$why"' EXIT
export ARENA_STAGE_REPORT="$report"
# Stages append the cause of a failure here (scripts/molecule.sh does); printed at the very end.
export ARENA_STAGE_WHY="$why"
logdir="${ARENA_LAB_DIR}/test"
mkdir -p "$logdir"
# Module payloads kept across the run's ansible-playbook runs (callback_plugins/arena_payloads.py),
# in this run's lab dir: every `make test` starts without them, so its figures do not depend on
# what earlier runs on the machine left in ~/.cache.
export ARENA_PAYLOAD_CACHE="${ARENA_PAYLOAD_CACHE:-${ARENA_LAB_DIR}/ansiballz}"
rm -rf "${ARENA_LAB_DIR}/ansiballz"
# Stages that boot containers from the lab's images (make base-image deps-image), or build on them.
CONTAINER_STAGES="images molecule ee-test"
# wait_for_pid PID LOG: wait for a sibling (not a child: `wait` cannot) to end, then succeed only if
# it left its success line in LOG (the image scripts' own; a failure is reported by its stage).
wait_for_pid() {
  while kill -0 "$1" 2>/dev/null; do sleep 1; done
  grep -q '^LAB IMAGES READY$' "$2" || { echo "the lab's container images were not built: ${2}"; return 1; }
}
# CPU-seconds per stage, where the cgroup v1 cpuacct controller is writable (root on this kind of
# machine): each stage's processes in a cgroup of their own (what they start stays in it, daemons
# such as the emulators too), read when the run ends. The containers' own processes (their systemd
# and services) are podman's (libpod_parent), one line for all. Elsewhere the line is left out.
cpu_root="/sys/fs/cgroup/cpuacct/arena-test-$$"
mkdir "$cpu_root" 2>/dev/null || cpu_root=""
cpu_track() { # STAGE PID
  [[ -n "$cpu_root" ]] || return 0
  mkdir -p "${cpu_root}/$1" && { echo "$2" > "${cpu_root}/$1/cgroup.procs"; } 2>/dev/null || true
}
cpu_ns() { cat "$1/cpuacct.usage" 2>/dev/null || echo 0; }
pods_start="$(cpu_ns /sys/fs/cgroup/cpuacct/libpod_parent)"
read -r _ u n s _ _ q sq _ < /proc/stat
busy_start=$((u + n + s + q + sq))
total_start=$SECONDS
failed=0
for group in ${ARENA_TEST_STAGES:-images,molecule,integration,ee-test,unit,lint}; do
  IFS=, read -r -a stages <<< "$group"
  if ((${#stages[@]} == 1)); then
    make --no-print-directory "${stages[0]}" &
    cpu_track "${stages[0]}" $!
    wait $! || failed=1
    continue
  fi
  log "running ${stages[*]} at the same time; logs in ${logdir}/<stage>.log"
  declare -A pids=()
  # The container images, once, before the first stage of this group that boots containers.
  lab_images=""
  for stage in "${stages[@]}"; do
    if [[ " ${CONTAINER_STAGES} " == *" ${stage} "* ]]; then
      if [[ -z "$lab_images" ]]; then
        # First in line for the CPU (nice -10: what it starts, the build containers included, inherits
        # it): the stages that wait for it are the longest of the run.
        { nice -n -10 scripts/stage.sh lab-images make --no-print-directory base-image deps-image \
            && echo "LAB IMAGES READY"; } > "${logdir}/lab-images.log" 2>&1 &
        lab_images=$!
        cpu_track lab-images "$lab_images"
      fi
      ( wait_for_pid "$lab_images" "${logdir}/lab-images.log" \
          && exec make --no-print-directory "$stage" ) > "${logdir}/${stage}.log" 2>&1 &
    else
      make --no-print-directory "$stage" > "${logdir}/${stage}.log" 2>&1 &
    fi
    pids[$stage]=$!
    cpu_track "$stage" "${pids[$stage]}"
  done
  if [[ -n "$lab_images" ]]; then
    wait "$lab_images" || failed=1
    cat "${logdir}/lab-images.log"
  fi
  for stage in "${stages[@]}"; do
    wait "${pids[$stage]}" || failed=1
  done
  for stage in "${stages[@]}"; do cat "${logdir}/${stage}.log"; done
  unset pids
done
printf '\n%-14s %-8s %10s\n' STAGE RESULT SECONDS
while read -r name status secs; do printf '%-14s %-8s %10s\n' "$name" "$status" "$secs"; done < "$report"
printf '%-14s %-8s %10s\n' total "$([[ $failed -eq 0 ]] && echo passed || echo FAILED)" "$((SECONDS - total_start))"
if [[ -n "$cpu_root" ]]; then
  read -r _ u n s _ _ q sq _ < /proc/stat
  line="CPU-seconds:"
  for dir in "$cpu_root"/*/; do
    line+=" $(basename "$dir") $(($(cpu_ns "$dir") / 1000000000))"
    rmdir "$dir" 2>/dev/null || true
  done
  line+=" containers $((($(cpu_ns /sys/fs/cgroup/cpuacct/libpod_parent) - pods_start) / 1000000000))"
  line+="; the machine busy $(((u + n + s + q + sq - busy_start) / $(getconf CLK_TCK))) of $(((SECONDS - total_start) * $(nproc)))"
  echo "$line"
  rmdir "$cpu_root" 2>/dev/null || true
fi
if [[ -s "$why" ]]; then
  printf '\nWHY (full logs under %s):\n' "$ARENA_LAB_DIR"
  cat "$why"
fi
exit "$failed"
