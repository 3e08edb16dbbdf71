#!/usr/bin/env bash
# Build the lab's base image localhost/arena-base:<release> (Debian minbase + python3 + systemd +
# dbus) with debootstrap and `podman import`. No registry is needed. The image is labelled with a
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

tar -C "$rootfs" -c . | podman import --quiet \
  --change "LABEL=arena.recipe=${RECIPE}" \
  --change "LABEL=arena.debian-release=${RELEASE}" \
  --change "LABEL=org.opencontainers.image.title=arena-base" \
  --change 'CMD=["/sbin/init"]' \
  --change "ENV=container=podman" \
  - "$IMAGE" >/dev/null
log "built $IMAGE in $((SECONDS - start)) s"
