# shellcheck shell=bash
# Shared helpers for arena-infra's scripts. Source it; do not run it.
set -euo pipefail

ARENA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ARENA_LAB_DIR="${ARENA_LAB_DIR:-${ARENA_ROOT}/.lab}"
ARENA_VENV="${ARENA_VENV:-${ARENA_ROOT}/.venv}"
export ARENA_ROOT ARENA_LAB_DIR ARENA_VENV

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need_root() {
  [[ "$(id -u)" -eq 0 ]] || die "$1 needs root (apt, podman as root). Run it with sudo."
}

# sha256 of the given files' contents and of any extra strings, in order.
recipe_hash() {
  local f
  {
    for f in "$@"; do
      if [[ -f "$f" ]]; then cat "$f"; else printf '%s\n' "$f"; fi
    done
  } | sha256sum | cut -d' ' -f1
}

# Tier arguments of the image scripts (bake, gate, bench-boot): sets the global array `tiers` to the
# arguments, or to all three without any; an unknown tier is an error.
parse_tiers() {
  tiers=("$@")
  ((${#tiers[@]})) || tiers=(web api admin)
  local tier
  for tier in "${tiers[@]}"; do
    [[ "$tier" =~ ^(web|api|admin)$ ]] || die "unknown tier '$tier' (web, api, admin)"
  done
}

# What molecule needs in this repo (scripts/molecule.sh, scripts/demo.sh): exported into the caller.
molecule_env() {
  export ANSIBLE_ROLES_PATH="${ARENA_ROOT}/roles"
  # molecule-podman connects with the short name `podman`: this makes it the pipelined lab plugin.
  export ANSIBLE_CONNECTION_PLUGINS="${ARENA_ROOT}/connection_plugins"
  # Shared custom modules (library/, e.g. arena_files used by roles/base and roles/hardening).
  export ANSIBLE_LIBRARY="${ARENA_ROOT}/library"
}
