#!/usr/bin/env bash
# Run every molecule scenario: roles/<role>/molecule/<scenario> and molecule/<scenario>.
# MOLECULE_SCENARIOS="roles/base:default molecule:web" runs only those.
# Each scenario's full sequence (its own test_sequence: dependency, create, converge, check,
# idempotence, verify, destroy ...) runs; all are run, and any failure fails the stage.
source "$(dirname "$0")/lib.sh"
cd "$ARENA_ROOT"
export ANSIBLE_ROLES_PATH="${ARENA_ROOT}/roles"

scenarios=()
if [[ -n "${MOLECULE_SCENARIOS:-}" ]]; then
  read -r -a scenarios <<< "$MOLECULE_SCENARIOS"
else
  for f in roles/*/molecule/*/molecule.yml molecule/*/molecule.yml; do
    [[ -f "$f" ]] || continue
    dir="${f%/molecule/*}"; [[ "$f" == molecule/* ]] && dir=.
    scen="$(basename "$(dirname "$f")")"
    scenarios+=("${dir}:${scen}")
  done
fi
if ((${#scenarios[@]} == 0)); then
  echo "no molecule scenarios yet"
  exit 0
fi
failed=()
summary=()
for item in "${scenarios[@]}"; do
  dir="${item%%:*}"; scen="${item#*:}"
  echo "--- molecule test -s ${scen} (${dir})"
  start=$SECONDS
  if (cd "$dir" && molecule test -s "$scen"); then res=passed; else res=FAILED; failed+=("$item"); fi
  summary+=("$(printf '%-32s %-7s %4d s' "$item" "$res" $((SECONDS - start)))")
done
printf '%s\n' "${summary[@]}"
((${#failed[@]} == 0)) || die "failed scenarios: ${failed[*]}"
