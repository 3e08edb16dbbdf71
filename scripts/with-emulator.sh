#!/usr/bin/env bash
# Run a command with a fresh AWS emulator: started before, stopped after (also on failure),
# unless one was already running, which is then reset and left running.
source "$(dirname "$0")/lib.sh"
cd "$ARENA_ROOT"
if scripts/emulator.sh status >/dev/null 2>&1; then
  scripts/emulator.sh reset
else
  scripts/emulator.sh up
  trap 'scripts/emulator.sh down' EXIT
fi
# shellcheck disable=SC1091
source "${ARENA_LAB_DIR}/emulator.env"
set +e
"$@"
rc=$?
set -e
exit "$rc"
