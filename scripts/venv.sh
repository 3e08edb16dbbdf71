#!/usr/bin/env bash
# Create or refresh ./.venv from requirements.txt. Re-installs only when requirements.txt
# (or the Python that built the venv) changes: the hash is stamped inside the venv.
source "$(dirname "$0")/lib.sh"

PYTHON="${PYTHON:-python3}"
stamp="${ARENA_VENV}/.arena-requirements.sha256"
want="$(recipe_hash "${ARENA_ROOT}/requirements.txt" "$("$PYTHON" -c 'import sys; print(sys.version)')")"
if [[ -x "${ARENA_VENV}/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  log ".venv is up to date"
  exit 0
fi
start=$SECONDS
[[ -x "${ARENA_VENV}/bin/python" ]] || "$PYTHON" -m venv "$ARENA_VENV"
"${ARENA_VENV}/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip 2>/dev/null
"${ARENA_VENV}/bin/python" -m pip install --quiet --disable-pip-version-check -r "${ARENA_ROOT}/requirements.txt" 2>&1 \
  | grep -v "^WARNING: Location 'file://" || true
"${ARENA_VENV}/bin/python" -m pip check >/dev/null || die "pip check found broken requirements in .venv"
printf '%s\n' "$want" > "$stamp"
log ".venv ready in $((SECONDS - start)) s"
