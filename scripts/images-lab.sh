# shellcheck shell=bash
# Shared by scripts/gate.sh, scripts/bench-boot.sh, scripts/demo.sh and scripts/launch.sh (source after
# scripts/lib.sh): what a booted tier image needs around it in the lab, and how it is launched.
#   - the platform core in the emulator (playbooks/platform.yml --skip-tags platform_services): the
#     launch templates, instance roles and Auto Scaling groups the tiers are launched from, the tiers'
#     log groups and CloudWatch agent settings their first boot reads, and the release canary's alarms
#     a rollout watches;
#   - the baked images published to it (playbooks/publish_image.yml registers a local bake as an AMI
#     of the emulator and points /arena/local/images/<tier> at it);
#   - a real redis-server for the API tier (stands in for ElastiCache; plain TCP with a password: the
#     TLS path is proven by roles/api's and molecule/api's scenarios), in a side container published
#     on 127.0.0.1 and reached from the tier container as 10.0.2.2;
#   - the runtime configuration each image reads at first boot, seeded into the emulator's SSM;
#   - instances launched by scripts/lab/launch.py from the groups' launch templates, with the
#     instance metadata stand-in (scripts/lab/imds.py) following the templates' metadata options.
# Everything created here is named ami-*.

IMAGES_REDIS_IMAGE="localhost/ami-lab-redis:bookworm"
IMAGES_BASE_IMAGE="localhost/arena-base:bookworm"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The local image of a baked tier (the manifest's last run).
image_of() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["builds"][-1]["custom_data"]["local_image"])' \
    "${ARENA_BAKE_DIR:-${ARENA_ROOT}/build/images}/$1/manifest.json" 2>/dev/null
}

# A value of packer/tiers/<tier>.yml, or a gate expectation from the tier facts of tiers.yml
# (bake_gate_listen_ports, bake_gate_health_port/_path/_scheme), as JSON.
tier_value() {
  python3 "${ARENA_ROOT}/scripts/image_gate.py" tier-value "$1" "$2"
}

# The host's apt-cacher-ng as seen from a container on podman's default network, or nothing. It is
# probed on loopback: the gateway address exists on the host only while a container is attached.
images_apt_proxy() {
  local gateway
  gateway="$(podman network inspect podman --format '{{range .Subnets}}{{.Gateway}}{{end}}' 2>/dev/null || true)"
  if [[ -n "$gateway" ]] && curl -fsS -m 5 -o /dev/null http://127.0.0.1:3142/acng-report.html 2>/dev/null; then
    echo "http://${gateway}:3142"
  fi
}

# Build the Redis image once per base image (label ami.base-id); later runs reuse it.
images_redis_image() {
  local base_id proxy
  base_id="$(podman image inspect --format '{{.Id}}' "$IMAGES_BASE_IMAGE")" || die "no ${IMAGES_BASE_IMAGE} (make base-image)"
  if [[ "$(podman image inspect --format '{{index .Labels "ami.base-id"}}' "$IMAGES_REDIS_IMAGE" 2>/dev/null)" == "$base_id" ]]; then
    return 0
  fi
  log "building ${IMAGES_REDIS_IMAGE} (redis-server from Debian, once)"
  proxy="$(images_apt_proxy)"
  podman rm -f -t 0 ami-lab-redis-build >/dev/null 2>&1 || true
  # policy-rc.d: the package must not try to start its service in the build container.
  podman run --name ami-lab-redis-build -e "APT_PROXY=${proxy}" "$IMAGES_BASE_IMAGE" /bin/sh -ec '
    printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d
    [ -z "$APT_PROXY" ] || echo "Acquire::http::Proxy \"$APT_PROXY\";" > /etc/apt/apt.conf.d/01ami-proxy
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
    rm -f /usr/sbin/policy-rc.d /etc/apt/apt.conf.d/01ami-proxy
    rm -rf /var/lib/apt/lists/*' >/dev/null || die "installing redis-server in ami-lab-redis-build failed"
  podman commit --quiet --change "LABEL ami.base-id=${base_id}" ami-lab-redis-build "$IMAGES_REDIS_IMAGE" >/dev/null
  podman rm -f -t 0 ami-lab-redis-build >/dev/null
}

# images_redis_up NAME WORKDIR: start redis-server with the password in $GATE_REDIS_TOKEN on
# 127.0.0.1:<free port>; sets GATE_REDIS_PORT. The password goes in a mounted config file, not argv.
images_redis_up() {
  local name="$1" work="$2" i
  images_redis_image
  GATE_REDIS_PORT="$(free_port)"
  export GATE_REDIS_PORT
  printf 'bind 0.0.0.0\nport 6379\nprotected-mode no\nsave ""\nappendonly no\nrequirepass %s\n' "$GATE_REDIS_TOKEN" \
    > "${work}/redis.conf"
  chmod 0644 "${work}/redis.conf"
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  podman run -d --name "$name" -p "127.0.0.1:${GATE_REDIS_PORT}:6379" -v "${work}/redis.conf:/etc/redis/ami.conf:ro,Z" \
    "$IMAGES_REDIS_IMAGE" redis-server /etc/redis/ami.conf >/dev/null
  for i in $(seq 1 50); do
    [[ "$(podman exec -e "REDISCLI_AUTH=${GATE_REDIS_TOKEN}" "$name" redis-cli ping 2>/dev/null)" == PONG ]] && return 0
    sleep 0.2
  done
  die "${name}: redis-server did not answer"
}

# Random lab secrets for one run (exported for scripts/image_gate.py seed).
images_lab_secrets() {
  GATE_REDIS_TOKEN="$(openssl rand -hex 16)"
  GATE_SMTP_PASSWORD="$(openssl rand -hex 16)"
  GATE_ADMIN_PASSWORD="$(openssl rand -hex 12)"
  GATE_REDIS_HOST=10.0.2.2
  export GATE_REDIS_TOKEN GATE_SMTP_PASSWORD GATE_ADMIN_PASSWORD GATE_REDIS_HOST
}

# The environment of the lab platform: inventories/local (arena_environment), the Environment tag its
# instances carry, so the one their first boot reads from SSM.
LAB_ENVIRONMENT=local

# lab_platform_up LOG: the platform core in the running emulator, with what an operator provides
# before the first run (placeholder image parameters and the ALB's certificate). Quiet; LOG on failure.
lab_platform_up() {
  python3 "${ARENA_ROOT}/tests/integration/platform/platform_fixtures.py" seed >/dev/null
  ansible-playbook -i "${ARENA_ROOT}/inventories/local" "${ARENA_ROOT}/playbooks/platform.yml" \
    --skip-tags platform_services > "$1" 2>&1 || { tail -30 "$1" >&2; die "the lab platform (platform.yml core) failed: $1"; }
}

# lab_publish LOG TIER...: each tier's local bake released as an operator releases an AMI: registered
# as an AMI of the emulator, published (a new default launch template version with its AMI id, and
# /arena/local/images/<tier>), then rolled out (playbooks/rollout.yml: the group's instance refresh
# onto that version, which the emulator ends at once). The platform must be up (lab_platform_up).
lab_publish() {
  local logf="$1" tier
  shift
  for tier in "$@"; do
    ansible-playbook -i "${ARENA_ROOT}/inventories/local" "${ARENA_ROOT}/playbooks/publish_image.yml" \
      -e "publish_image_env=${LAB_ENVIRONMENT}" -e "publish_image_tier=${tier}" \
      -e "publish_image_manifest=${ARENA_BAKE_DIR:-${ARENA_ROOT}/build/images}/${tier}/manifest.json" \
      -e "release_freeze_override=lab: a local bake published to the emulator" >> "$logf" 2>&1 \
      || { tail -30 "$logf" >&2; die "${tier}: publishing the local image failed: $logf"; }
    ansible-playbook -i "${ARENA_ROOT}/inventories/local" "${ARENA_ROOT}/playbooks/rollout.yml" \
      -e "{\"platform_autoscaling_refresh_tiers\": [\"${tier}\"]}" \
      -e "release_freeze_override=lab: a local bake rolled out in the emulator" >> "$logf" 2>&1 \
      || { tail -30 "$logf" >&2; die "${tier}: rolling the local image out failed: $logf"; }
  done
}

# lab_launch PREFIX TIER COUNT BUDGET JSON: launch COUNT instances of TIER from its Auto Scaling group
# (scripts/lab/launch.py), wait up to BUDGET s for the target group's health check; JSON gets the result.
lab_launch() {
  python3 "${ARENA_ROOT}/scripts/lab/launch.py" up --name-prefix "$1" --tiers "$2" --count "$3" --budget "$4" \
    --environment "$LAB_ENVIRONMENT" --json "$5"
}

# lab_launched JSON FIELD [INDEX]: one field of a launched instance (launch.py's JSON).
lab_launched() {
  python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[int(sys.argv[3])][sys.argv[2]]; print("" if v is None else v)' \
    "$1" "$2" "${3:-0}"
}

# tier_url TIER PORT [PATH]: the tier's URL on a published host port: bake_gate_health_scheme
# (the tier's protocol in tiers.yml: admin https) and PATH (default the health path, bake_gate_health_path).
tier_url() {
  local scheme path="${3:-}"
  scheme="$(tier_value "$1" bake_gate_health_scheme | tr -d '"')"
  [[ -n "$path" ]] || path="$(tier_value "$1" bake_gate_health_path | tr -d '"')"
  echo "${scheme}://127.0.0.1:$2${path}"
}

# wait_healthy URL T0 LIMIT: poll until 200; print "<code> <seconds since T0>"; 1 if never 200.
# TLS is not verified (-k): each instance has its own self-signed certificate, as behind the ALB.
wait_healthy() {
  local url="$1" t0="$2" limit="$3" code elapsed
  while :; do
    code="$(curl -ks -o /dev/null -m 1 -w '%{http_code}' "$url" || true)"
    elapsed="$(echo "$(date +%s.%N) - $t0" | bc)"
    if [[ "$code" == 200 ]]; then printf '200 %.2f\n' "$elapsed"; return 0; fi
    if (($(echo "$elapsed > $limit" | bc))); then printf '%s %.2f\n' "$code" "$elapsed"; return 1; fi
    sleep 0.05
  done
}
