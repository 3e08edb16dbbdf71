#!/usr/bin/env bash
# The bake's idempotence pass (packer/builds.pkr.hcl, second ansible provisioner, the `command` it
# runs instead of ansible-playbook): runs `ansible-playbook "$@"` (playbooks/bake.yml with
# -e bake_phase=idempotence, on the machine the first pass converged) and fails unless it succeeded
# and changed nothing: every host's "changed=" in the play recap must be 0. The changed tasks are
# named on failure. Used for the AWS source and the local one alike (no dependency on lib.sh).
set -uo pipefail
# Packer asks the command for its version first: answered by ansible-playbook itself.
[[ "${1:-}" == --version ]] && exec ansible-playbook --version
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
ansible-playbook "$@" 2>&1 | tee "$out"
rc="${PIPESTATUS[0]}"
((rc == 0)) || exit "$rc"
# Colour codes off (a CI runner may force colour), then the recap lines: "<host> : ok=N changed=N ...".
recap="$(sed -E 's/\x1b\[[0-9;]*m//g' "$out" | grep -E '^[^ ].* : ok=[0-9]+ +changed=[0-9]+' || true)"
if [[ -z "$recap" ]]; then
  echo "bake-idempotence: no play recap in the output of the idempotence pass" >&2
  exit 1
fi
if grep -qE 'changed=[1-9]' <<< "$recap"; then
  echo "bake-idempotence: the second pass over the converged machine changed something (it must not):" >&2
  sed -E 's/\x1b\[[0-9;]*m//g' "$out" | awk '/^TASK \[/ { task = $0 } /^changed: / { print "  " task }' | sort -u >&2
  echo "$recap" >&2
  exit 1
fi
echo "bake-idempotence: second pass changed nothing (${recap})"
