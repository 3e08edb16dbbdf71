#!/usr/bin/env bash
# Build the lab's package layer image localhost/arena-deps:<release>-<recipe hash> for the role
# scenarios (roles/*/molecule/*): the base image (scripts/base-image.sh) with
#   - every package the roles' apt tasks install, in apt's cache (downloaded, not installed):
#     scripts/deps_packages.py reads them from the roles' own apt tasks, one apt call per task and
#     variant (scripts/deps-packages.yml), and each call is resolved and downloaded here as the role
#     makes it. The roles' apt tasks then really install them in the scenario (maintainer scripts
#     run, units are enabled as the packages do, after roles/hardening's unit conditions), only
#     without the network. Installed beforehand, auditd and acct would fail at every container's
#     boot and the packages' own unit enablement would not be what a fresh install gives;
#   - the packages the scenarios' prepares need, installed, with the units they enabled disabled
#     again (the prepares start what they use);
#   - the package lists of the build, marked fresh by the scenarios' shared prepare;
#   - apt offline (/etc/apt/apt.conf.d/99arena-deps-offline): a package missing from the cache
#     fails the scenario at once instead of being downloaded behind the test's back.
# The bake keeps the bare base image and the network, so it still proves the roles install
# everything themselves from Debian's mirror.
#
# The tag is a hash of this script, the base image's id and the apt calls: a new list or base image
# makes a new tag; an existing tag is kept (a second run takes seconds), older tags are removed.
#
#   usage: scripts/deps-image.sh [RELEASE]       build if needed; print the image name on stdout
#          scripts/deps-image.sh --name [RELEASE] print the image name it would build (no build)
#   FORCE=1 rebuilds.
source "$(dirname "$0")/lib.sh"

image_args "$@"
REPO="${DEPS_IMAGE_NAME:-localhost/arena-deps}"
OFFLINE_CONF=/etc/apt/apt.conf.d/99arena-deps-offline

base_id="$(podman image inspect --format '{{.Id}}' "$BASE" 2>/dev/null)" \
  || die "no base image ${BASE}: run make base-image first"
packages="$("${ARENA_VENV}/bin/python" "${ARENA_ROOT}/scripts/deps_packages.py")" \
  || die "cannot read the roles' package lists (scripts/deps_packages.py)"
[[ -n "$packages" ]] || die "the roles' package list is empty"
RECIPE="$(recipe_hash "$0" "base=${base_id}" "release=${RELEASE}" "packages=${packages}")"
IMAGE="${REPO}:${RELEASE}-${RECIPE:0:12}"
if ((name_only)); then
  echo "$IMAGE"
  exit 0
fi
need_root "deps-image"

if podman image exists "$IMAGE" && [[ "${FORCE:-0}" != 1 ]]; then
  log "$IMAGE is up to date ($(wc -l <<< "$packages") apt calls)"
  prune_image_tags "$REPO" "$RELEASE" "$IMAGE"
  echo "$IMAGE"
  exit 0
fi

log "building $IMAGE: ${BASE} + $(wc -l <<< "$packages") apt calls"
start=$SECONDS
build="arena-deps-build-$$"
trap 'podman rm -f -t 0 "$build" >/dev/null 2>&1 || true' EXIT
# Host networking: the build reaches the host's apt-cacher-ng on 127.0.0.1 when it answers (no
# bridge, no gateway to find); the image itself is never told about the cache.
proxy=""
if curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:3142/acng-report.html 2>/dev/null; then
  proxy="http://127.0.0.1:3142"
fi
podman run -d --name "$build" --network host "$BASE" sleep infinity >/dev/null
# shellcheck disable=SC2016 # expanded inside the build container, not here
podman exec -i -e DEBIAN_FRONTEND=noninteractive -e PROXY="$proxy" -e OFFLINE_CONF="$OFFLINE_CONF" \
  "$build" bash -euo pipefail -c '
    apt_opts=(-qq -y -o Acquire::Retries=5)
    [[ -z "$PROXY" ]] || apt_opts+=(-o "Acquire::http::Proxy=$PROXY")
    # No service starts in the build container.
    printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    apt-get "${apt_opts[@]}" update
    systemctl list-unit-files --state=enabled --no-legend | cut -d" " -f1 | sort > /tmp/enabled.before
    while read -r mode packages; do
      case "$mode" in
        install) opts=(install --no-install-recommends) ;;
        no-recommends) opts=(install --download-only --no-install-recommends) ;;
        recommends) opts=(install --download-only --install-recommends) ;;
        *) echo "unknown apt call: $mode" >&2; exit 1 ;;
      esac
      # shellcheck disable=SC2086 # one word per package
      apt-get "${apt_opts[@]}" "${opts[@]}" $packages >/tmp/apt.log 2>&1 || { tail -30 /tmp/apt.log >&2; exit 1; }
    done
    systemctl list-unit-files --state=enabled --no-legend | cut -d" " -f1 | sort > /tmp/enabled.after
    enabled="$(comm -13 /tmp/enabled.before /tmp/enabled.after | tr "\n" " ")"
    # shellcheck disable=SC2086 # one word per unit
    [[ -z "${enabled// /}" ]] || systemctl disable --quiet $enabled
    echo "installed, units disabled again: ${enabled:-none}; in the cache: $(ls /var/cache/apt/archives/*.deb | wc -l) packages"
    rm -f /usr/sbin/policy-rc.d /tmp/enabled.* /tmp/apt.log
    printf "%s\n" \
      "// Lab only (scripts/deps-image.sh): the role scenarios install from apt'"'"'s cache; a download" \
      "// would mean a package missing from it (scripts/deps-packages.yml, a role'"'"'s apt task)." \
      "Acquire::http::Proxy \"http://127.0.0.1:9/\";" \
      "Acquire::https::Proxy \"http://127.0.0.1:9/\";" > "$OFFLINE_CONF"
    : > /etc/machine-id
    rm -f /var/lib/dbus/machine-id
    rm -rf /tmp/* /var/tmp/* /var/log/apt/*.log /var/log/dpkg.log
  ' <<< "$packages" >&2
podman commit --quiet \
  --change "LABEL=arena.recipe=${RECIPE}" \
  --change "LABEL=arena.base=${base_id}" \
  --change "LABEL=org.opencontainers.image.title=arena-deps" \
  --change 'CMD=["/sbin/init"]' \
  "$build" "$IMAGE" >/dev/null
log "built $IMAGE in $((SECONDS - start)) s"
prune_image_tags "$REPO" "$RELEASE" "$IMAGE"
echo "$IMAGE"
