#!/usr/bin/env bash
# Lynis hardening index of base + hardening, per profile (make score).
#   usage: scripts/hardening/score.sh [PROFILE...]      (default: web api admin)
# For each profile: converge base + hardening on a fresh container, commit it as an image (what a
# bake produces), boot a fresh container from that image, install Lynis there only, run
# `lynis audit system`, print hardening_index. Everything it creates is named hard-score-*.
#
# The scoring container gets CAP_NET_ADMIN (so nftables.service loads the ruleset at boot, as on an
# instance), /tmp mounted as the image's tmp.mount says (systemd skips that unit in a container) and,
# with SCORE_APPLY_SYSCTL=1 (default), podman --sysctl for the image's *network*
# sysctl keys (net.ipv4.*, net.ipv6.*): these are per network namespace, and podman applying them at start stands in for
# systemd-sysctl, which a container's read-only /proc/sys skips. Kernel-global keys (kernel.*, fs.*)
# keep the host's values: the score never changes the shared host. SCORE_APPLY_SYSCTL=0 scores
# without them. SCORE_KEEP=1 keeps the images localhost/hard-score:<profile>; SCORE_REUSE=1 scores
# such a kept image again without converging.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/lib.sh"
need_root "score"
cd "$ARENA_ROOT"
export ANSIBLE_CONFIG="${ARENA_ROOT}/ansible.cfg" PY_COLORS=0 ANSIBLE_FORCE_COLOR=0 NO_COLOR=1

profiles=("$@")
((${#profiles[@]})) || profiles=(web api admin)
out="${ARENA_LAB_DIR}/hardening-score"
mkdir -p "$out"
keydir="$(mktemp -d)"
trap 'rm -rf "$keydir"' EXIT
ssh-keygen -q -t ed25519 -N "" -C hard-score -f "${keydir}/id_ed25519"

declare -A index instance
for profile in "${profiles[@]}"; do
  [[ "$profile" =~ ^(web|api|admin)$ ]] || die "unknown profile '$profile' (web, api, admin)"
  build="hard-score-${profile}-build" run="hard-score-${profile}" image="localhost/hard-score:${profile}"
  if [[ "${SCORE_REUSE:-0}" == 1 ]] && podman image exists "$image"; then
    log "${profile}: SCORE_REUSE=1, scoring the existing ${image}"
  else
    log "${profile}: converging base + hardening on ${build}"
    hard_start "$build" --cap-add NET_ADMIN "$HARD_IMAGE" /sbin/init
    hard_proxy "$build"
    extra=(-e "hardening_profile=${profile}" -e hardening_converge_aide_baseline=true -e hardening_converge_patch=true)
    if [[ "$profile" == admin ]]; then
      # The admin tier with its sshd on (the tightest, real configuration), for a throw-away key.
      jq -n --arg key "$(cat "${keydir}/id_ed25519.pub")" '{hardening_sshd_enabled: true,
        hardening_sshd_allow_groups: ["arena-ssh"], hardening_sshd_allowed_cidrs: ["10.88.0.1/32"],
        hardening_sshd_users: [{name: "arena-admin", authorized_keys: [$key]}]}' > "${keydir}/admin.json"
      extra+=(-e "@${keydir}/admin.json")
    fi
    hard_converge "$build" "${extra[@]}" > "${out}/${profile}-converge.log" 2>&1 \
      || { tail -30 "${out}/${profile}-converge.log" >&2; die "${profile}: converge failed"; }
    hard_unproxy "$build"
    podman commit --quiet "$build" "$image" >/dev/null
    podman rm -f "$build" >/dev/null
  fi

  sysctl_args=()
  podman run --rm --entrypoint /bin/sh "$image" -c 'cat /etc/sysctl.d/*.conf 2>/dev/null' > "${out}/${profile}-sysctl.txt" || true
  if [[ "${SCORE_APPLY_SYSCTL:-1}" == 1 ]]; then
    while IFS= read -r kv; do sysctl_args+=(--sysctl "$kv"); done < <(
      sed -nE 's/^[[:space:]]*(net\.(ipv4|ipv6)\.[^[:space:]=]+)[[:space:]]*=[[:space:]]*([^[:space:]]+).*/\1=\3/p' \
        "${out}/${profile}-sysctl.txt")
  fi
  # /tmp as the image's tmp.mount mounts it on an instance (systemd skips the unit in a container),
  # as the lab's launcher does (scripts/lab/launch.py).
  read -r -a tmp_args < <(python3 "${ARENA_ROOT}/scripts/lab/launch.py" tmp-mount "$image")
  log "${profile}: scoring a fresh container of the image (${#sysctl_args[@]} network sysctl args, /tmp: ${tmp_args[*]:-the runtime default})"
  hard_start "$run" --cap-add NET_ADMIN "${sysctl_args[@]}" "${tmp_args[@]}" "$image" /sbin/init
  state="$(podman exec "$run" systemctl is-system-running || true)"
  hard_proxy "$run"
  podman exec "$run" sh -c 'DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq --no-install-recommends lynis procps' \
    > "${out}/${profile}-lynis-install.log" 2>&1 || die "${profile}: installing lynis failed"
  hard_unproxy "$run"
  podman exec "$run" lynis audit system --quick --no-colors > "${out}/${profile}-lynis.txt" 2>&1 || true
  podman cp "${run}:/var/log/lynis-report.dat" "${out}/${profile}-lynis-report.dat"
  podman cp "${run}:/var/log/lynis.log" "${out}/${profile}-lynis.log"
  index[$profile]="$(sed -n 's/^hardening_index=//p' "${out}/${profile}-lynis-report.dat")"
  read -r inst _ _ inst_keys < <(python3 "${ARENA_ROOT}/scripts/hardening/instance_index.py" \
    "${out}/${profile}-lynis.log" "${out}/${profile}-sysctl.txt")
  instance[$profile]="$inst"
  log "${profile}: systemd ${state}, hardening_index=${index[$profile]} (instance: ${inst}; re-counted keys: ${inst_keys})"
  podman rm -f "$run" >/dev/null
  [[ "${SCORE_KEEP:-0}" == 1 ]] || podman rmi "$image" >/dev/null
done

echo "Lynis hardening index (base + hardening; reports in ${out}):"
for profile in "${profiles[@]}"; do
  printf '  %-6s hardening_index=%s   as on an instance (image sysctl.d applied): %s\n' \
    "$profile" "${index[$profile]}" "${instance[$profile]}"
done
# The controls the tiers deliberately do not meet, with the reason (roles/hardening/vars/exceptions.yml).
echo
python3 "${ARENA_ROOT}/scripts/hardening/exceptions.py" "${profiles[@]}"
