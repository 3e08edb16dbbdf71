#!/usr/bin/env bash
# Build the lab's base image localhost/arena-base:<release> (Debian minbase + python3 + systemd +
# dbus) with debootstrap and `podman import`, then patched from the release's -security and -updates
# suites (below). No registry is needed. The image is labelled with a
# hash of its recipe (this script, the release, the package list); it is rebuilt only when that
# hash changes, or with FORCE=1.
#   usage: scripts/base-image.sh [RELEASE]      (default: $DEBIAN_RELEASE or bookworm)
source "$(dirname "$0")/lib.sh"
need_root "base-image"

RELEASE="${1:-${DEBIAN_RELEASE:-bookworm}}"
[[ "$RELEASE" =~ ^[a-z]+$ ]] || die "DEBIAN_RELEASE must be a Debian codename such as bookworm or trixie, got '$RELEASE'"
[[ -f "/usr/share/debootstrap/scripts/${RELEASE}" ]] || die "debootstrap does not know release '$RELEASE'"
IMAGE="${BASE_IMAGE_NAME:-localhost/arena-base}:${RELEASE}"
INCLUDE="python3,systemd,systemd-sysv,dbus"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Download through the local apt-cacher-ng when it answers (set up by setup-host.sh).
PROXY="${ARENA_APT_PROXY:-http://127.0.0.1:3142}"
if curl -fsS -o /dev/null --max-time 2 "${PROXY}/acng-report.html" 2>/dev/null; then
  FETCH_MIRROR="${PROXY}/${MIRROR#http://}"
else
  FETCH_MIRROR="$MIRROR"
fi

RECIPE="$(recipe_hash "$0" "release=${RELEASE}" "include=${INCLUDE}" "mirror=${MIRROR}")"
current="$(podman image inspect --format '{{index .Labels "arena.recipe"}}' "$IMAGE" 2>/dev/null || true)"
if [[ "$current" == "$RECIPE" && "${FORCE:-0}" != 1 ]]; then
  log "$IMAGE is up to date (recipe ${RECIPE:0:12})"
  exit 0
fi

log "building $IMAGE (recipe ${RECIPE:0:12}) from ${FETCH_MIRROR}"
start=$SECONDS
work="$(mktemp -d /var/tmp/arena-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
rootfs="${work}/rootfs"
debootstrap --variant=minbase --include="$INCLUDE" "$RELEASE" "$rootfs" "$FETCH_MIRROR" \
  > "${work}/debootstrap.log" 2>&1 || { tail -20 "${work}/debootstrap.log" >&2; die "debootstrap failed"; }

# The image's own apt sources point at Debian, not at this host's cache.
rm -f "${rootfs}/etc/apt/sources.list"
cat > "${rootfs}/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: ${MIRROR}
Suites: ${RELEASE} ${RELEASE}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: ${RELEASE}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
# Each container gets its own machine-id at boot; no caches or logs in the image.
: > "${rootfs}/etc/machine-id"
# debootstrap copies this host's /etc/hostname and /etc/resolv.conf into the tree (its chroot needs
# the resolver). Neither belongs in an image, and a bake cannot fix them later: inside a podman
# container both are bind mounts, so the committed layer keeps whatever the base image has. As in
# Debian's own cloud images (debian-cloud-images, config_space/bookworm/scripts/LAST/10-cleanup),
# /etc/hostname is empty: no static name, so DHCP's or cloud-init's applies at boot, else
# "localhost" (hostname(5)). resolv.conf is empty too, not absent: podman mounts its own over it in
# every container, and over a missing file it would leave an empty mount point (mode 0755) in every
# committed image instead. Both 0644, as Debian ships them.
for f in hostname resolv.conf; do
  rm -f "${rootfs}/etc/${f}"
  install -m 0644 /dev/null "${rootfs}/etc/${f}"
done
rm -f "${rootfs}/var/lib/dbus/machine-id"
rm -rf "${rootfs}"/var/lib/apt/lists/* "${rootfs}"/var/cache/apt/*.bin "${rootfs}"/var/cache/apt/archives/*.deb \
       "${rootfs}"/var/log/*.log "${rootfs}"/tmp/* "${rootfs}"/var/tmp/*
# Units that cannot work in a container and would leave systemd "degraded".
for unit in systemd-remount-fs.service getty@tty1.service console-getty.service; do
  ln -sf /dev/null "${rootfs}/etc/systemd/system/${unit}"
done

unpatched="${IMAGE}-unpatched"
tar -C "$rootfs" -c . | podman import --quiet - "$unpatched" >/dev/null

# Patched as its build day leaves it, as Debian's own cloud images are (debian-cloud-images builds
# from the release's -security and -updates suites): the lab's stand-in for the official AMI the
# bake starts from. debootstrap takes the point release only. The bake still patches
# (playbooks/tasks/apt_patch.yml): whatever Debian published after this image was built, as with an
# AMI of last week. Host networking reaches the host's apt-cacher-ng; no service starts.
build="arena-base-patch-$$"
trap 'podman rm -f -t 0 "$build" >/dev/null 2>&1 || true; podman rmi "$unpatched" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
podman run -d --name "$build" --network host "$unpatched" sleep infinity >/dev/null
proxy=""
[[ "$FETCH_MIRROR" == "$MIRROR" ]] || proxy="$PROXY"
# shellcheck disable=SC2016 # expanded inside the build container, not here
podman exec -i -e DEBIAN_FRONTEND=noninteractive -e PROXY="$proxy" "$build" bash -euo pipefail -c '
    apt_opts=(-qq -y -o Acquire::Retries=5)
    [[ -z "$PROXY" ]] || apt_opts+=(-o "Acquire::http::Proxy=$PROXY")
    printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    apt-get "${apt_opts[@]}" update
    apt-get "${apt_opts[@]}" upgrade --with-new-pkgs >/tmp/upgrade.log 2>&1 || { tail -30 /tmp/upgrade.log >&2; exit 1; }
    echo "patched: $(grep -c "^Unpacking " /tmp/upgrade.log || true) packages"
    rm -f /usr/sbin/policy-rc.d
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb /var/log/apt/* \
           /var/log/dpkg.log /var/log/alternatives.log /tmp/* /var/tmp/*
  ' >&2 || die "patching the base image failed"
podman commit --quiet \
  --change "LABEL=arena.recipe=${RECIPE}" \
  --change "LABEL=arena.debian-release=${RELEASE}" \
  --change "LABEL=org.opencontainers.image.title=arena-base" \
  --change 'CMD=["/sbin/init"]' \
  --change "ENV=container=podman" \
  "$build" "$IMAGE" >/dev/null
log "built $IMAGE in $((SECONDS - start)) s"
