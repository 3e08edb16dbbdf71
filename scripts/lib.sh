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

# image_args [--name] [RELEASE]: the arguments of the scripts that build a tagged image on the base
# image (deps-image.sh, ee.sh): sets name_only (1: print the image name, build nothing), RELEASE (the
# Debian codename; DEBIAN_RELEASE, bookworm) and BASE (the base image of that release).
image_args() {
  name_only=0
  if [[ "${1:-}" == --name ]]; then
    name_only=1
    shift
  fi
  RELEASE="${1:-${DEBIAN_RELEASE:-bookworm}}"
  [[ "$RELEASE" =~ ^[a-z]+$ ]] || die "DEBIAN_RELEASE must be a Debian codename such as bookworm or trixie, got '$RELEASE'"
  BASE="localhost/arena-base:${RELEASE}"
}

# prune_image_tags REPO RELEASE IMAGE: the older tags of REPO for RELEASE removed once IMAGE exists
# (one in use by a running container stays until the next run).
prune_image_tags() {
  local old
  for old in $(podman images --format '{{.Repository}}:{{.Tag}}' --filter "reference=${1}:${2}-*"); do
    [[ "$old" == "$3" ]] && continue
    podman rmi "$old" >/dev/null 2>&1 && log "removed the old ${old}" || log "kept ${old} (in use)"
  done
  return 0
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

# podman's default network: netavark deletes its bridge (podman0, the host's 10.88.0.1, where
# containers reach the apt cache) when the last container leaves it and makes it again for the next
# one. With containers coming and going in parallel (molecule scenarios, bakes) that churn raced
# twice in a day: a running container lost its network mid-run (apt: "Could not connect to
# 10.88.0.1:3142 ... connection timed out", nothing in apt-cacher-ng's log). An idle anchor
# container on the network keeps the bridge up for the whole run.
# net_anchor_up starts the anchor unless it runs; net_anchor_down removes it only if this script's
# net_anchor_up started it, so a run nested in another (a bake inside make demo) leaves it up.
# Used by what reaches the host's apt cache through the bridge: scripts/bake.sh, scripts/demo.sh. The
# molecule scenarios download nothing (scripts/deps-image.sh) and need no anchor. On the CNI backend
# these machines run, a bridge outlives its last container (probe 2026-12-04: cni-podman1 still up
# after its only container left); the anchor guards the netavark case and costs a second or two.
NET_ANCHOR=arena-net-anchor
NET_ANCHOR_STARTED=0
net_anchor_up() {
  [[ "$(podman container inspect -f '{{.State.Running}}' "$NET_ANCHOR" 2>/dev/null)" == true ]] && return 0
  podman rm -f -t 0 "$NET_ANCHOR" >/dev/null 2>&1 || true
  podman run -d --name "$NET_ANCHOR" --network podman "localhost/arena-base:${DEBIAN_RELEASE:-bookworm}" \
    sleep infinity >/dev/null
  NET_ANCHOR_STARTED=1
}
net_anchor_down() {
  ((NET_ANCHOR_STARTED)) || return 0
  podman rm -f -t 0 "$NET_ANCHOR" >/dev/null 2>&1 || true
  NET_ANCHOR_STARTED=0
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

# mitogen_exports: the executor of the playbooks the tests run (Mitogen's linear strategy), as
# `export` lines for eval. Its one source is tests/arena_testlib.py mitogen_env(); ARENA_MITOGEN=0
# prints nothing (plain Ansible). For the playbooks that only build a test's lab (scripts/images.sh:
# the gate's platform and image publishing); never for the bake, make demo or what ops run.
mitogen_exports() {
  "${ARENA_VENV}/bin/python" -c '
import shlex, sys
sys.path.insert(0, sys.argv[1])
from arena_testlib import mitogen_env
for key, value in mitogen_env().items():
    print(f"export {key}={shlex.quote(value)}")
' "${ARENA_ROOT}/tests"
}

# What molecule needs in this repo (scripts/molecule.sh, scripts/demo.sh): exported into the caller.
molecule_env() {
  export ANSIBLE_ROLES_PATH="${ARENA_ROOT}/roles"
  # molecule-podman connects with the short name `podman`: this makes it the pipelined lab plugin.
  export ANSIBLE_CONNECTION_PLUGINS="${ARENA_ROOT}/connection_plugins"
  # arena_preload: filter and test plugins loaded once per run, not in every task's worker.
  export ANSIBLE_CALLBACK_PLUGINS="${ARENA_ROOT}/callback_plugins"
  # Shared custom modules (library/, e.g. arena_files used by roles/base and roles/hardening).
  export ANSIBLE_LIBRARY="${ARENA_ROOT}/library"
  # Their shared code (module_utils/, which ansible.cfg names; molecule does not read ansible.cfg).
  export ANSIBLE_MODULE_UTILS="${ARENA_ROOT}/module_utils"
  # The shared filters (filter_plugins/, e.g. arena_aws_target of the aws_guard role that scenarios
  # against the emulator run).
  export ANSIBLE_FILTER_PLUGINS="${ARENA_ROOT}/filter_plugins"
}
