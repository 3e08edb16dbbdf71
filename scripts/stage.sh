#!/usr/bin/env bash
# Run one test stage and report its wall time:  scripts/stage.sh NAME CMD [ARGS...]
# Appends "NAME STATUS SECONDS" to $ARENA_STAGE_REPORT when set (scripts/test.sh collects them).
source "$(dirname "$0")/lib.sh"
name="$1"; shift
start=$(date +%s%N)
printf '\n===== stage %s =====\n' "$name"
set +e
"$@"
rc=$?
set -e
ds=$(( ($(date +%s%N) - start) / 100000000 ))
secs="$((ds / 10)).$((ds % 10))"
status=$([[ $rc -eq 0 ]] && echo passed || echo FAILED)
printf '===== stage %s %s in %s s =====\n' "$name" "$status" "$secs"
[[ -n "${ARENA_STAGE_REPORT:-}" ]] && printf '%s %s %s\n' "$name" "$status" "$secs" >> "$ARENA_STAGE_REPORT"
exit "$rc"
