"""The api tier end to end on one node: /healthz through nginx with Redis (tier-api-side) reached over
TLS with its password, the API unit sandboxed (systemd-analyze security exposure <= 2.0), no sshd.
Shared checks (systemd, first-boot unit, mail over TLS + AUTH, load balancer path, Lynis) are in
molecule/resources/tests."""

from __future__ import annotations

import pytest
import testinfra
from arena_nodelib import http_answers

testinfra_hosts = ["podman://tier-api"]


@pytest.fixture(scope="module")
def answers(host):
    requests = [
        ["healthz", "GET", "http://127.0.0.1/healthz"],
        ["hits1", "POST", "http://127.0.0.1/v1/hits"],
        ["hits2", "POST", "http://127.0.0.1/v1/hits"],
    ]
    return http_answers(host, requests)


def test_healthz_200_through_nginx(answers):
    healthz = answers["healthz"]
    assert (healthz["status"], healthz["headers"]["server"], healthz["body"]) == (200, "nginx", {"status": "ok"})


def test_redis_used_for_real(answers):
    """Two increments of the same key in Redis: the second sees the first."""
    assert answers["hits2"]["body"]["hits"] == answers["hits1"]["body"]["hits"] + 1


def test_redis_speaks_tls_only_with_a_password(host):
    """The side container's redis-server, with the token the node's runtime config holds: PONG over
    TLS with the password; NOAUTH without it; nothing in clear text."""
    token = host.check_output("sed -n 's/^REDIS_AUTH_TOKEN=//p' /etc/arena/runtime/api.env").strip()
    side = testinfra.get_host("podman://tier-api-side")
    cli = "timeout 5 redis-cli -h tier-api-side -p 6379 --no-auth-warning"
    tls = "--tls --cacert /etc/redis/tls/ca.pem"
    assert side.run(f"{cli} {tls} -a {token} PING").stdout.strip() == "PONG"
    assert "NOAUTH" in side.run(f"{cli} {tls} PING").stdout
    assert "PONG" not in side.run(f"{cli} -a {token} PING").stdout


def test_api_holds_its_connection_to_the_side_redis(host):
    """The API's pooled Redis connection goes to tier-api-side:6379, where only TLS is spoken."""
    side = host.check_output("getent hosts tier-api-side").split()[0]
    peers = {line.split()[-1] for line in host.check_output("ss -Htn state established").splitlines()}
    assert f"{side}:6379" in peers


def test_api_unit_exposure_at_most_2(host, capsys):
    out = host.check_output("systemd-analyze security --no-pager arena-api.service")
    line = next(x for x in out.splitlines() if "Overall exposure level" in x)
    exposure = float(line.split(":")[1].split()[0])
    with capsys.disabled():
        print(f"\n[api] arena-api.service {line.strip()}")
    assert exposure <= 2.0


def test_api_only_on_loopback_nginx_public(host):
    assert host.socket("tcp://127.0.0.1:8000").is_listening
    assert not host.socket("tcp://0.0.0.0:8000").is_listening
    assert host.socket("tcp://0.0.0.0:80").is_listening


def test_no_sshd(host):
    assert not host.package("openssh-server").is_installed
    assert not host.socket("tcp://0.0.0.0:22").is_listening
