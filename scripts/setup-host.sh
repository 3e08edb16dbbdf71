#!/usr/bin/env bash
# Host packages and podman configuration for the local lab. Idempotent: a second run
# checks installed packages with dpkg and returns in well under a second.
source "$(dirname "$0")/lib.sh"
need_root "setup-host"

# podman: containers; runc: the only OCI runtime that works here (crun fails on hybrid cgroups);
# debootstrap: builds the base image; packer: AMI templates (validate, local bake);
# lynis: hardening score; hyperfine/time: benchmarks; apt-cacher-ng: local package cache.
# No container DNS (the CNI dnsname plugin): the scenarios with a side container name it themselves
# (/etc/hosts, or DNS the side container serves), so nothing depends on what podman's networks carry.
# redis-server, python3-redis: the cache interruption test (tests/integration/services/
# test_cache_interrupt.py) runs the api app's own Redis client (Debian's python3-redis, as the image
# has it) against a real redis-server holding the tokens the replication group was given.
# wrk: the load generator of make bench-capacity (scripts/bench-capacity.sh; loopback targets only).
PACKAGES=(podman runc slirp4netns uidmap fuse-overlayfs debootstrap packer lynis
          hyperfine time bc jq make git curl ca-certificates apt-cacher-ng python3-venv iproute2
          redis-server python3-redis wrk)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "host packages present"
fi

# Podman settings from shared/ENVIRONMENT.md, as a drop-in so that any settings already in
# /etc/containers/containers.conf are kept (drop-ins are read after it and win per key).
conf_dir=/etc/containers/containers.conf.d
conf="${conf_dir}/50-arena.conf"
want="$(cat <<'CONF'
# Managed by arena-infra scripts/setup-host.sh
[containers]
# podman's default ulimits exceed this host's hard limits (setrlimit RLIMIT_NOFILE fails)
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
# crun fails here with "cgroups in hybrid mode not supported"
runtime = "runc"
CONF
)"
if [[ ! -f "$conf" ]] || [[ "$(cat "$conf")" != "$want" ]]; then
  install -d -m 0755 "$conf_dir"
  printf '%s\n' "$want" > "$conf"
  log "wrote $conf"
fi

# apt-cacher-ng serves the containers' package downloads from a local cache. It listens on
# every interface by default; containers reach it through their network's gateway.
# Its default Debian backends come from a list of country mirrors that this network cannot reach:
# pin the backend to deb.debian.org.
acng_backend=/etc/apt-cacher-ng/backends_debian
acng_restart=0
if [[ "$(cat "$acng_backend" 2>/dev/null)" != "http://deb.debian.org/debian/" ]]; then
  echo "http://deb.debian.org/debian/" > "$acng_backend"
  acng_restart=1
fi
if ((acng_restart)) || ! curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:3142/acng-report.html 2>/dev/null; then
  if systemctl is-system-running >/dev/null 2>&1; then
    systemctl restart apt-cacher-ng || true
  else
    /etc/init.d/apt-cacher-ng restart >/dev/null 2>&1 || true
  fi
fi
runtime="$(podman info --format '{{.Host.OCIRuntime.Name}}')"
[[ "$runtime" == "runc" ]] || die "podman uses '$runtime', expected runc: check $conf"
log "host ready (podman $(podman version --format '{{.Client.Version}}'), runtime $runtime)"
