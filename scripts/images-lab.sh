# shellcheck shell=bash
# Shared by scripts/gate.sh and scripts/bench-boot.sh (source after scripts/lib.sh): what a booted
# tier image needs around it in the lab, and how it is started.
#   - a real redis-server for the API tier (stands in for ElastiCache; plain TCP with a password: the
#     TLS path is proven by roles/api's and molecule/api's scenarios), in a side container published
#     on 127.0.0.1 and reached from the tier container as 10.0.2.2;
#   - the first-boot source override (emulator endpoint, environment) mounted into the container;
#   - the network sysctls of the image's sysctl.d applied by podman (what systemd-sysctl does at boot
#     on an instance; a container's /proc/sys is read-only), and CAP_NET_ADMIN so that the image's
#     nftables ruleset loads at boot as on an instance.
# Everything created here is named ami-*.

IMAGES_REDIS_IMAGE="localhost/ami-lab-redis:bookworm"
IMAGES_BASE_IMAGE="localhost/arena-base:bookworm"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The local image of a baked tier (the manifest's last run).
image_of() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["builds"][-1]["custom_data"]["local_image"])' \
    "${ARENA_BAKE_DIR:-${ARENA_ROOT}/build/images}/$1/manifest.json" 2>/dev/null
}

# A value of packer/tiers/<tier>.yml, as JSON.
tier_value() {
  python3 -c 'import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))[sys.argv[2]]))' \
    "${ARENA_ROOT}/packer/tiers/$1.yml" "$2"
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

# images_source_conf FILE ENVIRONMENT: the first-boot override (runtime_config_source_override).
images_source_conf() {
  cat > "$1" <<CONF
ENDPOINT_URL=http://10.0.2.2:${AWS_URL##*:}
ENVIRONMENT=$2
REGION=${AWS_REGION}
AWS_ACCESS_KEY_ID=testing
AWS_SECRET_ACCESS_KEY=testing
CONF
}

# images_instance_args IMAGE: podman arguments that make a container boot as an instance would
# (network sysctls of the image's sysctl.d, nftables loadable). Prints one argument per line.
images_instance_args() {
  echo "--cap-add=NET_ADMIN"
  podman run --rm --entrypoint /bin/sh "$1" -c 'cat /etc/sysctl.d/*.conf 2>/dev/null' \
    | sed -nE 's/^[[:space:]]*(net\.(ipv4|ipv6)\.[^[:space:]=]+)[[:space:]]*=[[:space:]]*([^[:space:]]+).*/--sysctl=\1=\3/p'
}

# tier_url TIER PORT [PATH]: the tier's URL on a published host port: bake_gate_health_scheme
# (default http; admin: https) and PATH (default the health path, bake_gate_health_path).
tier_url() {
  local scheme path="${3:-}"
  scheme="$(python3 -c 'import sys,yaml; print(yaml.safe_load(open(sys.argv[1])).get("bake_gate_health_scheme", "http"))' \
    "${ARENA_ROOT}/packer/tiers/$1.yml")"
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
