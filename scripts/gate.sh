#!/usr/bin/env bash
# Image acceptance gate: boot each baked image in a fresh container and check that
#   1. systemd reaches `running` with zero failed units;
#   2. the health endpoint answers 200 within the boot budget (ARENA_BOOT_BUDGET, seconds);
#   3. only the tier's expected TCP ports listen on non-loopback addresses;
#   4. the image holds no SSH host keys, and the booted container has its own (when sshd is there),
#      and a fresh machine-id;
#   5. first boot read its runtime config from the AWS emulator (SSM /arena/gate/<tier>/...);
#   6. the Lynis hardening index reaches the tier's minimum (85, admin 88).
# Expectations per tier come from packer/tiers/<tier>.yml (bake_gate_*). Any failure fails the gate.
#   scripts/gate.sh                  gate web, api and admin (images from build/images/<tier>/manifest.json)
#   scripts/gate.sh web              one tier
# Needs the emulator: run through scripts/with-emulator.sh (make gate does).
source "$(dirname "$0")/lib.sh"
cd "$ARENA_ROOT"
export PATH="${ARENA_VENV}/bin:${PATH}"
BUDGET="${ARENA_BOOT_BUDGET:-10}"
out_root="${ARENA_BAKE_DIR:-${ARENA_ROOT}/build/images}"
[[ -n "${AWS_URL:-}" ]] || die "no emulator: run through scripts/with-emulator.sh (AWS_URL is unset)"
emulator_port="${AWS_URL##*:}"

tiers=("$@")
((${#tiers[@]})) || tiers=(web api admin)

tier_value() { python3 -c 'import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))[sys.argv[2]]))' "packer/tiers/$1.yml" "$2"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

gate_one() {
  local tier="$1" name="ami-gate-$1" image dir="${out_root}/$1" work fails=() port t0 code elapsed health="-" lynis="-"
  image="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["builds"][-1]["custom_data"]["local_image"])' \
    "${dir}/manifest.json" 2>/dev/null)" || { echo "${tier}|-|no manifest: run make bake|FAILED"; return 1; }
  work="$(mktemp -d)"
  local ports health_port health_path lynis_min marker
  ports="$(tier_value "$tier" bake_gate_listen_ports | tr -d '[] ')"
  health_port="$(tier_value "$tier" bake_gate_health_port)"
  health_path="$(tier_value "$tier" bake_gate_health_path | tr -d '"')"
  lynis_min="$(tier_value "$tier" bake_gate_lynis_min)"

  # 4a. No host keys in the image itself.
  if [[ -n "$(podman run --rm --entrypoint /bin/sh "$image" -c 'ls /etc/ssh/ssh_host_* 2>/dev/null')" ]]; then
    fails+=("baked host keys")
  fi

  # 5. Runtime config in the emulator, and the test-only source override mounted at boot.
  marker="gate-$(date +%s%N)"
  python3 - "$tier" "$marker" <<'PY'
import os, sys, boto3
tier, marker = sys.argv[1], sys.argv[2]
ssm = boto3.client("ssm", endpoint_url=os.environ["AWS_URL"], region_name=os.environ["AWS_REGION"])
values = {"GATE_MARKER": marker, "REDIS_HOST": "127.0.0.1", "REDIS_PORT": "6379", "REDIS_TLS": "false",
          "REDIS_AUTH_TOKEN": "gate-token"}
for key, value in values.items():
    ssm.put_parameter(Name=f"/arena/gate/{tier}/{key}", Value=value, Type="SecureString", Overwrite=True)
PY
  cat > "${work}/source.conf" <<CONF
ENDPOINT_URL=http://10.0.2.2:${emulator_port}
ENVIRONMENT=gate
REGION=${AWS_REGION}
AWS_ACCESS_KEY_ID=testing
AWS_SECRET_ACCESS_KEY=testing
CONF

  port="$(free_port)"
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  t0=$(date +%s.%N)
  podman run -d --name "$name" --systemd=always --network slirp4netns:allow_host_loopback=true \
    -p "127.0.0.1:${port}:${health_port}" -v "${work}/source.conf:/etc/arena/runtime/source.conf:ro,Z" \
    "$image" >/dev/null
  # 2. Health 200 within the budget.
  code=000
  while :; do
    code="$(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:${port}${health_path}" || true)"
    elapsed="$(echo "$(date +%s.%N) - $t0" | bc)"
    [[ "$code" == 200 ]] && break
    (( $(echo "$elapsed > $BUDGET" | bc) )) && break
    sleep 0.1
  done
  health="${code} in $(printf '%.2f' "$elapsed") s"
  [[ "$code" == 200 ]] || fails+=("health ${code} after ${BUDGET} s")

  # 1. systemd running, zero failed units.
  local state failed_units
  state="$(timeout 60 podman exec "$name" systemctl is-system-running --wait 2>/dev/null || true)"
  failed_units="$(podman exec "$name" systemctl list-units --failed --no-legend --plain 2>/dev/null | awk '{print $1}' | paste -sd, -)"
  [[ "$state" == running ]] || fails+=("systemd ${state:-unknown} (failed: ${failed_units:-none})")

  # 3. Only the expected non-loopback listeners.
  local listening unexpected
  listening="$(podman exec "$name" ss -Hltn 2>/dev/null | awk '{print $4}' \
    | grep -vE '^(127\.[0-9.]+|\[::1\]|::1):[0-9]+$' | sed -E 's/.*:([0-9]+)$/\1/' | sort -un | paste -sd, -)"
  unexpected="$(comm -23 <(tr ',' '\n' <<< "$listening" | sed '/^$/d' | sort) <(tr ',' '\n' <<< "$ports" | sort))"
  [[ -z "$unexpected" ]] || fails+=("unexpected ports: $(paste -sd, - <<< "$unexpected")")

  # 4b. A fresh machine-id, and own host keys when sshd is installed.
  podman exec "$name" grep -qE '^[0-9a-f]{32}$' /etc/machine-id || fails+=("no machine-id")
  if podman exec "$name" test -x /usr/sbin/sshd; then
    podman exec "$name" test -s /etc/ssh/ssh_host_ed25519_key.pub || fails+=("host keys not generated at boot")
  fi

  # 5. The first-boot unit fetched the runtime config from the emulator.
  if ! podman exec "$name" grep -qs "GATE_MARKER=${marker}" "/etc/arena/runtime/${tier}.env"; then
    fails+=("runtime config not read from the emulator")
  fi

  # 6. Lynis (the host's copy; the image does not ship it).
  podman cp /usr/share/lynis "${name}:/usr/share/lynis" && podman cp /usr/sbin/lynis "${name}:/usr/sbin/lynis" \
    && podman exec "$name" mkdir -p /etc/lynis && podman cp /etc/lynis/default.prf "${name}:/etc/lynis/default.prf"
  podman exec "$name" lynis audit system --quick --no-colors --report-file /tmp/lynis-report.dat >/dev/null 2>&1 || true
  lynis="$(podman exec "$name" sed -n 's/^hardening_index=//p' /tmp/lynis-report.dat 2>/dev/null || true)"
  if [[ -z "$lynis" ]] || ((lynis < lynis_min)); then fails+=("lynis ${lynis:-none} < ${lynis_min}"); fi

  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
  local result=passed
  ((${#fails[@]} == 0)) || result="FAILED: $(IFS=';'; echo "${fails[*]}")"
  echo "${tier}|${image}|${health}|${state:-?}|${listening:-none}|${lynis:-?}|${result}"
  ((${#fails[@]} == 0))
}

rc=0
rows=()
for tier in "${tiers[@]}"; do
  [[ "$tier" =~ ^(web|api|admin)$ ]] || die "unknown tier '$tier'"
  row="$(gate_one "$tier")" || rc=1
  rows+=("$row")
done
printf '\n%-6s %-38s %-14s %-9s %-8s %-6s %s\n' TIER IMAGE HEALTH SYSTEMD PORTS LYNIS RESULT
for row in "${rows[@]}"; do
  IFS='|' read -r t i h s p l r <<< "$row"
  printf '%-6s %-38s %-14s %-9s %-8s %-6s %s\n' "$t" "$i" "$h" "$s" "$p" "$l" "$r"
done
exit "$rc"
