#!/usr/bin/env bash
# Run every molecule scenario: roles/<role>/molecule/<scenario> and molecule/<scenario>.
#   MOLECULE_SCENARIOS="roles/base:default .:web"  runs only those (dir:scenario)
#   MOLECULE_DRY_RUN=1                              print the order they would start in, run nothing
#   MOLECULE_JOBS=N                                 scenarios at once (default 2; platform names are
#                                                   unique across the repo, so scenarios never collide)
# Each scenario runs its own full test_sequence (create, converge, check, idempotence, verify,
# destroy ...). All run; any failure fails the stage. Logs: .lab/molecule/<dir>__<scenario>.log;
# for a failed scenario its log tail and its cause (scripts/molecule_digest.py: failing tasks and
# their errors, idempotence, failed tests) are printed; the causes also go to $ARENA_STAGE_WHY when
# set (scripts/test.sh prints them after its summary, where a long run's output ends).
# The role scenarios start from the package layer image (scripts/deps-image.sh, built by make setup;
# built here if it is missing): its name goes to them as ARENA_DEPS_IMAGE. They download nothing, so
# they need neither the host's apt cache nor a network anchor.
source "$(dirname "$0")/lib.sh"
cd "$ARENA_ROOT"
molecule_env
JOBS="${MOLECULE_JOBS:-2}"
LOGDIR="${ARENA_LAB_DIR}/molecule"

scenarios=()
if [[ -n "${MOLECULE_SCENARIOS:-}" ]]; then
  read -r -a scenarios <<< "$MOLECULE_SCENARIOS"
else
  for f in molecule/*/molecule.yml roles/*/molecule/*/molecule.yml; do
    [[ -f "$f" ]] || continue
    if [[ "$f" == molecule/* ]]; then dir=.; else dir="${f%%/molecule/*}"; fi
    scenarios+=("${dir}:$(basename "$(dirname "$f")")")
  done
  # Longest first, so that the last ones do not run alone at the end: by the seconds of this lab's
  # previous run (its summary), else by how long they took on a quiet 2-core machine (2026-12-05:
  # image_cleanup 164 s, hardening about 140 with its one host, the others 70-130); a scenario not
  # known yet counts as 100 s.
  previous="${ARENA_LAB_DIR}/molecule/summary"
  [[ -f "$previous" ]] || previous=/dev/null
  mapfile -t scenarios < <(
    for item in "${scenarios[@]}"; do
      secs="$(awk -v s="$item" '$1 == s && $2 == "passed" {print $3}' "$previous" | tail -n 1)"
      if [[ -z "$secs" ]]; then
        case "$item" in
          roles/image_cleanup:default) secs=164 ;;
          roles/hardening:default) secs=140 ;;
          *) secs=100 ;;
        esac
      fi
      printf '%s %s\n' "$secs" "$item"
    done | sort -k1,1nr -k2,2 | cut -d' ' -f2
  )
fi
# No scenario is a broken listing (the repository has eight), never a pass.
((${#scenarios[@]} > 0)) || die "no molecule scenario to run (MOLECULE_SCENARIOS='${MOLECULE_SCENARIOS:-}')"
# MOLECULE_DRY_RUN=1: print the scenarios in the order they would start, run nothing.
if [[ "${MOLECULE_DRY_RUN:-0}" == 1 ]]; then
  printf '%s\n' "${scenarios[@]}"
  exit 0
fi
ARENA_DEPS_IMAGE="$(scripts/deps-image.sh)" || die "no package layer image (scripts/deps-image.sh failed)"
export ARENA_DEPS_IMAGE
mkdir -p "$LOGDIR"

run_one() {
  local item="$1" dir scen log start rc state
  dir="${item%%:*}"; scen="${item#*:}"
  log="${LOGDIR}/$(echo "$dir" | tr '/.' '__')__${scen}.log"
  start=$SECONDS
  # A fresh state directory for each run: the scenarios' test_sequence starts with create, not with a
  # destroy (an ansible-playbook run, about 2.3 CPU-s), so no state an interrupted run left may say
  # the instance exists; create replaces any container it left (podman run --replace).
  state="${LOGDIR}/state/$(basename "$log" .log)"
  rm -rf "$state"
  mkdir -p "$state"
  (cd "$dir" && MOLECULE_EPHEMERAL_DIRECTORY="$state" molecule test -s "$scen") > "$log" 2>&1 && rc=0 || rc=$?
  printf '%-40s %-7s %4d s\n' "$item" "$([[ $rc -eq 0 ]] && echo passed || echo FAILED)" $((SECONDS - start)) \
    >> "${LOGDIR}/summary"
  if ((rc != 0)); then
    echo "----- ${item} FAILED; last lines of ${log}:"
    tail -n 30 "$log"
    why="$(python3 scripts/molecule_digest.py "$log")"
    printf -- '----- why %s failed:\n%s\n' "$item" "$why"
    [[ -z "${ARENA_STAGE_WHY:-}" ]] || printf 'molecule %s:\n%s\n' "$item" "$why" >> "$ARENA_STAGE_WHY"
  else
    echo "----- ${item} passed in $((SECONDS - start)) s"
  fi
  return "$rc"
}

: > "${LOGDIR}/summary"
echo "running ${#scenarios[@]} scenarios, ${JOBS} at a time; logs in ${LOGDIR}"
for item in "${scenarios[@]}"; do
  while (( $(jobs -rp | wc -l) >= JOBS )); do wait -n || true; done
  run_one "$item" &
done
wait || true
echo
sort "${LOGDIR}/summary"
# The summary is the record: one line per scenario, each passed or FAILED.
(( $(wc -l < "${LOGDIR}/summary") == ${#scenarios[@]} )) || die "a scenario ended without a result"
! grep -q FAILED "${LOGDIR}/summary" || die "some molecule scenarios failed (see above)"
