#!/usr/bin/env bash
# The local AWS emulator (moto server) as a managed service on 127.0.0.1.
#   scripts/emulator.sh up       start on a free port (or $EMULATOR_PORT), wait until ready
#   scripts/emulator.sh down     stop it
#   scripts/emulator.sh status   print whether it runs and where
#   scripts/emulator.sh reset    drop all emulated state
# `up` writes .lab/emulator.env; `source .lab/emulator.env` points ansible, boto3 and the aws CLI
# at the emulator (endpoint, region, dummy credentials).
source "$(dirname "$0")/lib.sh"

PIDFILE="${ARENA_LAB_DIR}/emulator.pid"
ENVFILE="${ARENA_LAB_DIR}/emulator.env"
LOGFILE="${ARENA_LAB_DIR}/emulator.log"
REGION="${EMULATOR_REGION:-eu-west-1}"

running() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

# gone PID: the process has exited. A zombie counts as gone: kill -0 still answers for one until the
# process that adopted the server (init, or a container's first process) reaps it.
gone() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0
  stat="${stat##*) }"
  [[ "${stat%% *}" == Z ]]
}

# stop PID: SIGTERM (moto's handler exits), SIGKILL after 5 s. Returns once the process is gone: a
# SIGKILLed process still exists while the kernel tears down its memory, which under load takes a
# moment (CI saw the server alive right after `down` returned).
stop() {
  local pid="$1"
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do gone "$pid" && return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do gone "$pid" && return 0; sleep 0.1; done
  die "emulator (pid $pid) still running 10 s after SIGKILL"
}

free_port() {
  "${ARENA_VENV}/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case "${1:-status}" in
  up)
    if running && [[ -f "$ENVFILE" ]]; then
      log "emulator already running (pid $(cat "$PIDFILE")): $(grep -m1 AWS_URL "$ENVFILE" | cut -d= -f2)"
      exit 0
    fi
    [[ -x "${ARENA_VENV}/bin/moto_server" ]] || die "moto_server not found in .venv: run 'make setup' first"
    mkdir -p "$ARENA_LAB_DIR"
    port="${EMULATOR_PORT:-$(free_port)}"
    url="http://127.0.0.1:${port}"
    # setsid: the server outlives this script and gets its own process group. moto's server with the
    # AWS behaviours moto lacks that the lab relies on (scripts/lab/emulator_server.py says which).
    setsid "${ARENA_VENV}/bin/python" "${ARENA_ROOT}/scripts/lab/emulator_server.py" -H 127.0.0.1 -p "$port" \
      >"$LOGFILE" 2>&1 < /dev/null &
    echo $! > "$PIDFILE"
    for _ in $(seq 1 100); do
      if curl -fsS -o /dev/null "${url}/moto-api/" 2>/dev/null; then break; fi
      running || die "emulator exited at start; see $LOGFILE"
      sleep 0.1
    done
    curl -fsS -o /dev/null "${url}/moto-api/" || die "emulator did not answer on $url within 10 s; see $LOGFILE"
    cat > "$ENVFILE" <<ENV
# Written by scripts/emulator.sh: the local AWS emulator. Dummy credentials, loopback only.
export AWS_URL=${url}
export AWS_ENDPOINT_URL=${url}
export ARENA_EMULATOR_URL=${url}
export AWS_REGION=${REGION}
export AWS_DEFAULT_REGION=${REGION}
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_SESSION_TOKEN=testing
unset AWS_PROFILE
ENV
    log "emulator up on $url (pid $(cat "$PIDFILE")); source $ENVFILE"
    ;;
  down)
    if running; then
      pid="$(cat "$PIDFILE")"
      stop "$pid"
      log "emulator stopped (pid $pid)"
    else
      log "emulator not running"
    fi
    rm -f "$PIDFILE" "$ENVFILE"
    ;;
  status)
    if running; then
      echo "running (pid $(cat "$PIDFILE")) at $(grep -m1 AWS_URL "$ENVFILE" | cut -d= -f2)"
    else
      echo "stopped"; exit 3
    fi
    ;;
  reset)
    running || die "emulator not running"
    # shellcheck disable=SC1090
    source "$ENVFILE"
    curl -fsS -X POST "${AWS_URL}/moto-api/reset" >/dev/null
    log "emulator state reset"
    ;;
  *) die "usage: $0 up|down|status|reset" ;;
esac
