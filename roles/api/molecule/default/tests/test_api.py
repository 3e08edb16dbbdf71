"""roles/api behaviour: the sandboxed service, nginx in front, and /healthz against a real Redis
(TLS + AUTH token) on tier-wa-api-redis. Every testinfra call is an ansible round trip, so HTTP
exchanges run in one probe on the node per state and tests assert on the answers."""

import json

import pytest
from arena_nodelib import HTTP_PROBE, http_answers

ENV_FILE = "/etc/arena/runtime/api.env"
# The scenario's other container is the Redis server; the tests are about the API node.
testinfra_hosts = ["ansible://tier-wa-api-default"]

REQUESTS = [
    ["healthz", "GET", "http://127.0.0.1/healthz"],
    ["healthz_direct", "GET", "http://127.0.0.1:8000/healthz"],
    ["version", "GET", "http://127.0.0.1/v1/version"],
    ["hits1", "POST", "http://127.0.0.1/v1/hits"],
    ["hits2", "POST", "http://127.0.0.1/v1/hits"],
    ["missing", "GET", "http://127.0.0.1/nope"],
]


def probe(host, requests=None):
    return http_answers(host, requests or REQUESTS)


def with_env(host, sed_expr):
    """Restart the API with an edited runtime env file, probe /healthz, then restore and restart."""
    script = (
        f"set -e; cp {ENV_FILE} /root/api.env.good; sed -i {sed_expr!r} {ENV_FILE}; "
        "systemctl reset-failed arena-api; systemctl restart arena-api; "
        f"trap 'cp /root/api.env.good {ENV_FILE}; systemctl reset-failed arena-api; systemctl restart arena-api' EXIT; "
        'python3 -c "$1" "$2"'
    )
    out = host.check_output(
        "bash -c %s probe %s %s", script, HTTP_PROBE, json.dumps([["healthz", "GET", "http://127.0.0.1/healthz"]])
    )
    return json.loads(out)["healthz"]


@pytest.fixture(scope="module")
def answers(host):
    return probe(host)


def test_service_running_enabled(host):
    svc = host.service("arena-api")
    assert svc.is_running
    assert svc.is_enabled
    assert host.service("nginx").is_running


def test_sockets(host):
    assert host.socket("tcp://127.0.0.1:8000").is_listening
    assert not host.socket("tcp://0.0.0.0:8000").is_listening
    assert host.socket("tcp://0.0.0.0:80").is_listening


def test_runs_as_dedicated_user(host):
    # gunicorn's master and its workers (the node has no ps): owners of the processes in /proc.
    out = host.check_output(
        "pid=$(systemctl show -p MainPID --value arena-api); "
        "for p in $pid $(cat /proc/$pid/task/*/children); do stat -c %U /proc/$p; done"
    )
    owners = out.split()
    assert len(owners) == 3  # master + api_workers (2)
    assert set(owners) == {"arena-api"}


def test_unit_sandbox(host):
    props = host.check_output(
        "systemctl show arena-api -p NoNewPrivileges -p ProtectSystem -p ProtectHome -p PrivateTmp "
        "-p CapabilityBoundingSet -p RestrictAddressFamilies -p MemoryMax -p User -p EnvironmentFiles "
        "-p Wants -p After"
    )
    values = dict(line.split("=", 1) for line in props.splitlines())
    assert values["NoNewPrivileges"] == "yes"
    assert values["ProtectSystem"] == "strict"
    assert values["ProtectHome"] == "yes"
    assert values["PrivateTmp"] == "yes"
    assert values["CapabilityBoundingSet"] == ""
    assert set(values["RestrictAddressFamilies"].split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    assert values["MemoryMax"] == str(512 * 1024 * 1024)
    assert values["User"] == "arena-api"
    assert values["EnvironmentFiles"].startswith(f"{ENV_FILE} ")
    assert "arena-runtime-config.service" in values["Wants"].split()
    assert "arena-runtime-config.service" in values["After"].split()


def test_exposure_at_most_2(host):
    out = host.check_output("systemd-analyze security --no-pager arena-api.service")
    line = next(x for x in out.splitlines() if "Overall exposure level" in x)
    exposure = float(line.split(":")[1].split()[0])
    print(line)
    assert exposure <= 2.0


def test_env_file_root_only(host):
    env = host.file(ENV_FILE)
    assert env.user == "root"
    assert env.group == "arena-api"
    assert env.mode == 0o640


def test_healthz_ok_with_right_token(answers):
    assert answers["healthz"]["status"] == 200
    assert answers["healthz"]["body"] == {"status": "ok"}
    assert answers["healthz_direct"]["status"] == 200


def test_nginx_in_front(answers):
    headers = answers["version"]["headers"]
    assert headers["server"] == "nginx"
    assert headers["x-content-type-options"] == "nosniff"
    assert answers["version"]["body"] == {"version": "1.0.0"}
    assert answers["missing"]["status"] == 404


def test_hits_counted_in_redis(answers):
    assert answers["hits1"]["status"] == 200
    assert answers["hits2"]["body"]["hits"] == answers["hits1"]["body"]["hits"] + 1


def test_healthz_503_with_wrong_token(host):
    resp = with_env(host, "s/^REDIS_AUTH_TOKEN=.*/REDIS_AUTH_TOKEN=wrong-token/")
    assert resp["status"] == 503
    assert resp["body"] == {"status": "unavailable"}


def test_healthz_503_without_tls(host):
    # The right token in clear text: the server only speaks TLS.
    resp = with_env(host, "s/^REDIS_TLS=.*/REDIS_TLS=false/")
    assert resp["status"] == 503


def test_healthz_503_with_unknown_ca(host):
    # TLS with the system CA store only: the lab CA is not in it, so the server is not trusted.
    resp = with_env(host, "/^REDIS_CA_FILE=/d")
    assert resp["status"] == 503


def test_healthy_again_after_restore(host):
    assert probe(host, [["healthz", "GET", "http://127.0.0.1/healthz"]])["healthz"]["status"] == 200
