"""roles/web behaviour, over HTTP from inside the node (the node has python3, not curl).

Every testinfra call is an ansible round trip, so the HTTP exchanges run in one probe on the node
(module fixture `probe`) and the tests assert on its answers.
"""

import json

import pytest
from arena_nodelib import WEB_SECURITY_HEADERS

# Runs on the node. argv[1]: JSON list of requests {name, addr, path, count, headers}; "{css}" and
# "{js}" in a path are the fingerprinted asset paths linked from the index page. Prints a JSON map
# name -> {statuses, status, headers, body}, plus "access_log": the access log lines written meanwhile.
PROBE = r"""
import gzip, http.client, json, re, sys, time
specs = json.loads(sys.argv[1])
log = "/var/log/nginx/access.log"
start = sum(1 for _ in open(log))

def fetch(addr, path, count=1, headers=None):
    conn = http.client.HTTPConnection(addr, 80, timeout=5)
    statuses = []
    for _ in range(count):
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        statuses.append(resp.status)
    conn.close()
    hdrs = {k.lower(): v for k, v in resp.getheaders()}
    if hdrs.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    return {"statuses": statuses, "status": resp.status, "headers": hdrs, "body": body.decode()}

index = fetch("127.0.0.1", "/?probe=index")["body"]
assets = {k: re.search(r'"(/assets/app\.[0-9a-f]+\.%s)"' % k, index).group(1) for k in ("css", "js")}
out = {}
for spec in specs:
    path = spec["path"].format(**assets)
    out[spec["name"]] = fetch(spec.get("addr", "127.0.0.1"), path, spec.get("count", 1), spec.get("headers"))
    out[spec["name"]]["path"] = path
time.sleep(1.5)  # access_log flush=1s
out["access_log"] = [json.loads(line) for line in list(open(log))[start:] if line.strip()]
print(json.dumps(out))
"""

SECURITY_HEADERS = WEB_SECURITY_HEADERS


@pytest.fixture(scope="module")
def node_addr(host):
    """The node's own network address: outside web_vpc_cidr (127.0.0.0/8) in this scenario."""
    return host.check_output("hostname -I").split()[0]


@pytest.fixture(scope="module")
def probe(host, node_addr):
    specs = [
        {"name": "index", "path": "/"},
        {"name": "healthz", "path": "/healthz", "headers": {"X-Forwarded-For": "198.51.100.99"}},
        {"name": "missing", "path": "/no-such-page"},
        {"name": "dotfile", "path": "/.git/config"},
        {"name": "css", "path": "{css}"},
        {"name": "js", "path": "{js}"},
        {"name": "css_gzip", "path": "{css}", "headers": {"Accept-Encoding": "gzip"}},
        {"name": "trusted", "path": "/?probe=trusted", "headers": {"X-Forwarded-For": "203.0.113.7"}},
        {
            "name": "untrusted",
            "addr": node_addr,
            "path": "/?probe=untrusted",
            "headers": {"X-Forwarded-For": "203.0.113.8"},
        },
        # rate 5 r/s, burst 10 in this scenario: 60 back-to-back requests from one client.
        {"name": "burst", "path": "/?probe=burst", "count": 60, "headers": {"X-Forwarded-For": "192.0.2.10"}},
        {"name": "other_client", "path": "/?probe=other", "headers": {"X-Forwarded-For": "192.0.2.11"}},
    ]
    return json.loads(host.check_output("python3 -c %s %s", PROBE, json.dumps(specs)))


def log_entries(probe, uri):
    return [e for e in probe["access_log"] if e["uri"] == uri]


def test_nginx_running_and_listening(host):
    assert host.service("nginx").is_running
    assert host.service("nginx").is_enabled
    assert host.socket("tcp://0.0.0.0:80").is_listening


def test_config_passes_nginx_t_and_release_checked(host):
    out = host.check_output(
        "nginx -t 2>&1 && sha256sum /srv/arena-site/artifacts/site-1.0.0.tar.gz"
        " && cat /srv/arena-site/releases/1.0.0.sha256 && readlink /srv/arena-site/current"
    )
    lines = out.splitlines()
    assert "syntax is ok" in lines[0]
    assert lines[2].split()[0] == lines[3]
    assert lines[4] == "/srv/arena-site/releases/1.0.0"


def test_index_served_from_release(probe):
    resp = probe["index"]
    assert resp["status"] == 200
    assert "<h1>Arena live</h1>" in resp["body"]
    assert resp["headers"]["cache-control"] == "no-cache"


def test_server_tokens_off(probe):
    assert probe["index"]["headers"]["server"] == "nginx"


@pytest.mark.parametrize("name", ["index", "healthz", "missing", "dotfile", "css"])
def test_security_headers_always(probe, name):
    headers = probe[name]["headers"]
    for header, value in SECURITY_HEADERS.items():
        assert headers[header] == value, header
    csp = headers["content-security-policy"]
    assert csp.startswith("default-src 'self';")
    assert csp.endswith("; frame-ancestors 'none'")


def test_error_statuses(probe):
    assert probe["missing"]["status"] == 404
    assert probe["dotfile"]["status"] == 404


def test_healthz_cheap_and_not_logged(probe):
    assert probe["healthz"]["status"] == 200
    assert probe["healthz"]["body"] == "ok\n"
    assert probe["healthz"]["headers"]["cache-control"] == "no-store"
    assert not [e for e in probe["access_log"] if e["uri"] == "/healthz"]
    assert log_entries(probe, "/no-such-page"), "other requests are logged"


@pytest.mark.parametrize("name", ["css", "js"])
def test_fingerprinted_assets_cached_long(probe, name):
    resp = probe[name]
    assert resp["status"] == 200
    assert resp["path"].startswith("/assets/app.")
    assert resp["headers"]["cache-control"] == "public, max-age=31536000, immutable"


def test_gzip(probe):
    zipped, plain = probe["css_gzip"], probe["css"]
    assert zipped["headers"]["content-encoding"] == "gzip"
    assert zipped["headers"]["vary"] == "Accept-Encoding"
    assert "content-encoding" not in plain["headers"]
    assert zipped["body"] == plain["body"]
    assert ":root" in plain["body"]


def test_json_access_log_real_ip_from_trusted_proxy(probe):
    (entry,) = log_entries(probe, "/?probe=trusted")
    assert entry["remote_addr"] == "203.0.113.7"
    assert entry["peer_addr"] == "127.0.0.1"
    assert entry["status"] == 200
    assert entry["method"] == "GET"


def test_forwarded_for_ignored_from_untrusted_peer(probe, node_addr):
    (entry,) = log_entries(probe, "/?probe=untrusted")
    assert entry["remote_addr"] == node_addr
    assert entry["x_forwarded_for"] == "203.0.113.8"


def test_rate_limit_per_real_client(probe):
    statuses = probe["burst"]["statuses"]
    assert statuses[:11] == [200] * 11
    assert 429 in statuses
    assert probe["burst"]["headers"]["strict-transport-security"].startswith("max-age=")
    limited = [e for e in log_entries(probe, "/?probe=burst") if e["status"] == 429]
    assert {e["remote_addr"] for e in limited} == {"192.0.2.10"}
    # Another client behind the same proxy is not limited by the first one's burst.
    assert probe["other_client"]["status"] == 200
