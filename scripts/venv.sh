#!/usr/bin/env bash
# Create or refresh ./.venv from requirements.txt. Re-installs only when requirements.txt
# (or the Python that built the venv) changes: the hash is stamped inside the venv.
source "$(dirname "$0")/lib.sh"

# Debian's own Python 3.11 (python3-venv: scripts/setup-host.sh), not whichever python3 comes first
# on PATH: Debian builds it with profile-guided and link-time optimisation and links libpython into
# the executable, and everything the lab runs on the host is Python (ansible-playbook and its
# workers, molecule, pytest, the emulator). A Python built from source without those (this machine's
# pyenv 3.11.7, --enable-shared only) used 12-18 % more CPU for the same tests (docs/benchmarks.md).
# PYTHON=... picks another; the venv is made again when its interpreter is not that one.
PYTHON="${PYTHON:-/usr/bin/python3.11}"
# One start of it (this runs in every stage): that it can make a venv, its real path, its version.
interpreter="$("$PYTHON" -c 'import ensurepip, os, sys, venv; print(os.path.realpath(sys.executable), sys.version)' 2>/dev/null)" \
  || die "no Python with venv at $PYTHON: run 'make host' (Debian's python3-venv), or set PYTHON="
python_path="${interpreter%% *}"
stamp="${ARENA_VENV}/.arena-requirements.sha256"
want="$(recipe_hash "${ARENA_ROOT}/requirements.txt" "interpreter ${interpreter}")"
if [[ -x "${ARENA_VENV}/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  log ".venv is up to date"
  exit 0
fi
start=$SECONDS
# A venv is bound to the interpreter it was made from (pyvenv.cfg): another one means a new venv.
if [[ -x "${ARENA_VENV}/bin/python" ]] \
  && [[ "$("${ARENA_VENV}/bin/python" -c 'import os, sys; print(os.path.realpath(sys._base_executable))')" != "$python_path" ]]; then
  log ".venv was made from another Python: making it again from ${python_path}"
  rm -rf "${ARENA_VENV:?}"
fi
[[ -x "${ARENA_VENV}/bin/python" ]] || "$PYTHON" -m venv "$ARENA_VENV"
# uv installs the pinned set with parallel downloads and unpacking: about 1 s from its cache, where
# pip took 46-72 s alone at the start of every clean-clone `make test`. uv's own pin is the one in
# requirements.txt, which pip installs first.
uv_pin="$(grep -E '^uv==' "${ARENA_ROOT}/requirements.txt")" || die "requirements.txt pins no uv (uv==<version>)"
"${ARENA_VENV}/bin/python" -m pip install --quiet --disable-pip-version-check "$uv_pin" 2>&1 \
  | grep -v "^WARNING: Location 'file://" || true
uv=("${ARENA_VENV}/bin/uv" --native-tls)
"${uv[@]}" pip install --quiet --python "${ARENA_VENV}/bin/python" -r "${ARENA_ROOT}/requirements.txt" \
  || die "uv could not install requirements.txt into .venv"
"${uv[@]}" pip check --quiet --python "${ARENA_VENV}/bin/python" >/dev/null \
  || die "uv pip check found broken requirements in .venv"
# Bytecode, on every core. It matters here: this machine sets PYTHONDONTWRITEBYTECODE=1, so a module
# without its .pyc is compiled from source by every process that imports it. The `ansible` package
# bundles about 100 collections (15,000 of the venv's 25,000 files); only those that requirements.yml
# names are used, so only they are compiled (the whole venv: 43 CPU-s; this: 27).
collections="$(grep -oP '^\s*- name:\s*\K[a-z0-9_]+\.[a-z0-9_]+' "${ARENA_ROOT}/requirements.yml" | tr . / | paste -sd '|')"
[[ -n "$collections" ]] || die "requirements.yml names no collection"
"${ARENA_VENV}/bin/python" -m compileall -q -j 0 -x "/ansible_collections/(?!(${collections})/)" \
  "$("${ARENA_VENV}/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" >/dev/null \
  || die "compileall failed in .venv"
printf '%s\n' "$want" > "$stamp"
log ".venv ready in $((SECONDS - start)) s"
