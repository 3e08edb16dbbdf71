"""The web tier end to end on one node: nginx serves the site and /healthz with the security headers
(after base + hardening), no sshd, the firewall loaded. Shared checks (systemd, first-boot unit,
load balancer path through the firewall, no MTA, Lynis) are in molecule/resources/tests."""

from __future__ import annotations

import pytest
from arena_nodelib import WEB_SECURITY_HEADERS, http_answers

testinfra_hosts = ["podman://tier-web"]

SECURITY_HEADERS = WEB_SECURITY_HEADERS


@pytest.fixture(scope="module")
def answers(host):
    paths = {"index": "/", "healthz": "/healthz", "missing": "/no-such-page"}
    return http_answers(host, [[name, "GET", f"http://127.0.0.1{path}"] for name, path in paths.items()])


def test_site_served(answers):
    assert answers["index"]["status"] == 200
    assert "<h1>Arena live</h1>" in answers["index"]["body"]
    assert answers["index"]["headers"]["server"] == "nginx"


def test_healthz(answers):
    assert (answers["healthz"]["status"], answers["healthz"]["body"]) == (200, "ok\n")


@pytest.mark.parametrize("name", ["index", "healthz", "missing"])
def test_security_headers(answers, name):
    headers = answers[name]["headers"]
    assert {h: headers.get(h) for h in SECURITY_HEADERS} == SECURITY_HEADERS
    assert headers["content-security-policy"].endswith("; frame-ancestors 'none'")


def test_nginx_listens_only_on_80(host):
    listening = {line.split()[3] for line in host.check_output("ss -Hltn").splitlines()}
    public = {addr for addr in listening if not addr.startswith(("127.", "[::1]"))}
    assert public == {"0.0.0.0:80"}


def test_no_sshd(host):
    assert not host.package("openssh-server").is_installed
    assert not host.socket("tcp://0.0.0.0:22").is_listening


def test_firewall_loaded_with_the_web_profile(host):
    assert host.service("nftables").is_running
    ruleset = host.check_output("nft list chain inet arena_filter input")
    assert "policy drop;" in ruleset
    assert "ip saddr 10.0.0.0/8 tcp dport 80 ct state new accept" in ruleset
