#!/usr/bin/env bash
# Set-up check: containers on a user-defined podman network resolve each other by name, as the
# molecule scenarios need (a tier container reaches its side container, e.g. tier-api-side).
# Debian's podman 4.3 runs the CNI network backend, whose networks get DNS only from the dnsname
# plugin (scripts/setup-host.sh installs it); with netavark it comes from aardvark-dns. A missing
# piece fails here, loudly, instead of as a 503 in a scenario's verify step.
# Also removes the lab's own networks (names from molecule.yml files) that were made before the
# plugin was there: CNI applies the plugin to new networks only.
# Idempotent: the functional check runs once per podman + plugin version (stamp under /var/lib).
source "$(dirname "$0")/lib.sh"
need_root "check-podman-dns"
cd "$ARENA_ROOT"

IMAGE="localhost/arena-base:${DEBIAN_RELEASE:-bookworm}"
backend="$(podman info --format '{{.Host.NetworkBackend}}')"
case "$backend" in
  cni) plugin=/usr/lib/cni/dnsname; package=golang-github-containernetworking-plugin-dnsname ;;
  netavark) plugin=/usr/lib/podman/aardvark-dns; package=aardvark-dns ;;
  *) die "podman network backend '${backend}' is neither cni nor netavark" ;;
esac
[[ -x "$plugin" ]] || die "podman uses the ${backend} backend but ${plugin} is missing: containers on a network \
cannot resolve each other by name (apt-get install ${package}; make host does)"

# The lab's networks made before the plugin: no DNS on them, and podman reuses a network by name.
if [[ "$backend" == cni ]]; then
  for net in $(grep -rhoP '^\s+network:\s*\K[a-z0-9-]+' roles/*/molecule/*/molecule.yml molecule/*/molecule.yml 2>/dev/null | sort -u); do
    conf="/etc/cni/net.d/${net}.conflist"
    [[ -f "$conf" ]] || continue
    grep -q '"dnsname"' "$conf" && continue
    if podman network rm "$net" >/dev/null 2>&1; then
      log "removed podman network ${net}: made before the dnsname plugin (no name resolution)"
    else
      log "WARNING: podman network ${net} has no dnsname plugin and is in use; remove it when idle"
    fi
  done
fi

stamp_dir=/var/lib/arena-infra
stamp="${stamp_dir}/podman-dns.ok"
want="$(recipe_hash "$0" "$backend" "$(podman version --format '{{.Client.Version}}')" \
  "$(dpkg-query -W -f='${Version}' "$package" 2>/dev/null || true)")"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  log "container name resolution checked before (${backend} + $(basename "$plugin"))"
  exit 0
fi

net=arena-dns-check
a=arena-dns-check-a
cleanup() { podman rm -f -t 0 "$a" >/dev/null 2>&1 || true; podman network rm -f "$net" >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup
podman network create "$net" >/dev/null
podman run -d --name "$a" --network "$net" "$IMAGE" sleep 60 >/dev/null
if ! answer="$(podman run --rm --network "$net" "$IMAGE" getent hosts "$a")"; then
  die "a container on podman network ${net} cannot resolve ${a} by name (${backend} backend, ${plugin}): the molecule scenarios with side containers would fail"
fi
install -d -m 0755 "$stamp_dir"
printf '%s\n' "$want" > "$stamp"
log "container name resolution works (${backend} + $(basename "$plugin")): ${a} -> ${answer%% *}"
