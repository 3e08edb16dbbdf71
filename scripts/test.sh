#!/usr/bin/env bash
# `make test`: every stage runs, each is timed, and any failure fails the run.
source "$(dirname "$0")/lib.sh"
cd "$ARENA_ROOT"
report="$(mktemp)"
trap 'rm -f "$report"' EXIT
export ARENA_STAGE_REPORT="$report"
total_start=$SECONDS
failed=0
for stage in ${ARENA_TEST_STAGES:-lint unit molecule integration}; do
  make --no-print-directory "$stage" || failed=1
done
printf '\n%-14s %-8s %10s\n' STAGE RESULT SECONDS
while read -r name status secs; do printf '%-14s %-8s %10s\n' "$name" "$status" "$secs"; done < "$report"
printf '%-14s %-8s %10s\n' total "$([[ $failed -eq 0 ]] && echo passed || echo FAILED)" "$((SECONDS - total_start))"
exit "$failed"
