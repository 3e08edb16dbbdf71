# shellcheck shell=bash
# Helpers shared by scripts/hardening/score.sh and bench.sh. Source it after scripts/lib.sh.

HARD_IMAGE="${HARD_IMAGE:-localhost/arena-base:${DEBIAN_RELEASE:-bookworm}}"

# Start a systemd container NAME with extra podman args; wait until systemd has booted.
hard_start() {
  local name="$1"; shift
  podman rm -f "$name" >/dev/null 2>&1 || true
  podman run -d --name "$name" --systemd=always "$@" >/dev/null
  local i state
  for i in $(seq 1 60); do
    state="$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)"
    [[ "$state" == running || "$state" == degraded ]] && return 0
    sleep 1
  done
  die "$name did not boot (systemd state: ${state:-unknown})"
}

# Point the container's apt at the host's apt-cacher-ng when it answers (lab only, as
# molecule/resources/prepare.yml does); hard_unproxy removes it again before an image is taken.
hard_proxy() {
  podman exec "$1" python3 - <<'PY'
import socket, struct, urllib.request
gw = ""
for line in open("/proc/net/route").readlines()[1:]:
    f = line.split()
    if f[1] == "00000000":
        gw = socket.inet_ntoa(struct.pack("<L", int(f[2], 16)))
try:
    urllib.request.urlopen(f"http://{gw}:3142/acng-report.html", timeout=2)
    open("/etc/apt/apt.conf.d/01arena-lab-proxy", "w").write(f'Acquire::http::Proxy "http://{gw}:3142";\n')
except Exception:
    pass
PY
}
hard_unproxy() { podman exec "$1" rm -f /etc/apt/apt.conf.d/01arena-lab-proxy; }

# ansible-playbook on the container over the podman connection, with base + hardening.
hard_converge() {
  local name="$1"; shift
  ANSIBLE_ROLES_PATH="${ARENA_ROOT}/roles" ansible-playbook -i "${name}," -c podman \
    "${ARENA_ROOT}/scripts/hardening/converge.yml" "$@"
}
