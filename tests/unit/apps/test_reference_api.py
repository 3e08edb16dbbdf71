"""apps/reference_api: routes, health semantics and runtime settings, with a fake Redis client."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "apps" / "reference_api"))

from arena_api import app as api  # apps/reference_api is put on sys.path above

GOOD_ENV = {"REDIS_HOST": "cache.internal", "REDIS_PORT": "6379", "REDIS_AUTH_TOKEN": "t0ken"}


class FakeRedis:
    def __init__(self, *, up: bool = True) -> None:
        self.up = up
        self.counter = 0

    def ping(self) -> bool:
        if not self.up:
            raise ConnectionError("down")
        return True

    def incr(self, name: str) -> int:
        assert name == api.HITS_KEY
        if not self.up:
            raise ConnectionError("down")
        self.counter += 1
        return self.counter


def call(app: api.App, method: str, path: str) -> tuple[str, dict[str, str], Any]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app({"REQUEST_METHOD": method, "PATH_INFO": path}, start_response))
    assert seen["headers"]["Content-Length"] == str(len(body))
    return seen["status"], seen["headers"], json.loads(body)


@pytest.mark.parametrize(
    ("up", "status", "body"),
    [(True, "200 OK", {"status": "ok"}), (False, "503 Service Unavailable", {"status": "unavailable"})],
)
def test_healthz_follows_redis(up: bool, status: str, body: dict[str, str]) -> None:
    got_status, headers, got_body = call(api.App("1.0.0", lambda: FakeRedis(up=up)), "GET", "/healthz")
    assert (got_status, got_body) == (status, body)
    assert headers["Cache-Control"] == "no-store"


def test_healthz_503_when_settings_missing() -> None:
    app = api.create_app({"ARENA_API_VERSION": "1.0.0"})
    assert call(app, "GET", "/healthz")[0] == "503 Service Unavailable"


def test_hits_increment_and_fail_closed() -> None:
    fake = FakeRedis()
    app = api.App("1.0.0", lambda: fake)
    assert call(app, "POST", "/v1/hits")[2] == {"hits": 1}
    assert call(app, "POST", "/v1/hits")[2] == {"hits": 2}
    fake.up = False
    assert call(app, "POST", "/v1/hits")[:3:2] == ("503 Service Unavailable", {"error": "cache unavailable"})


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/version", "200 OK"),
        ("POST", "/v1/version", "405 Method Not Allowed"),
        ("GET", "/v1/hits", "405 Method Not Allowed"),
        ("GET", "/", "404 Not Found"),
    ],
)
def test_routes(method: str, path: str, status: str) -> None:
    assert call(api.App("2.3.4", FakeRedis), method, path)[0] == status


def test_version() -> None:
    assert call(api.App("2.3.4", FakeRedis), "GET", "/v1/version")[2] == {"version": "2.3.4"}


def test_settings_from_env() -> None:
    settings = api.settings_from_env(GOOD_ENV | {"REDIS_TLS": "false", "REDIS_CA_FILE": "/etc/ca.pem"})
    assert settings == api.RedisSettings("cache.internal", 6379, False, "t0ken", "/etc/ca.pem")
    assert api.settings_from_env(GOOD_ENV).tls is True


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REDIS_HOST": "h"}, "missing runtime settings: REDIS_PORT, REDIS_AUTH_TOKEN"),
        (GOOD_ENV | {"REDIS_PORT": "redis"}, "REDIS_PORT: expected a port number, got 'redis'"),
        (GOOD_ENV | {"REDIS_PORT": "70000"}, "REDIS_PORT: expected 1-65535, got 70000"),
        (GOOD_ENV | {"REDIS_TLS": "maybe"}, "REDIS_TLS: expected true or false, got 'maybe'"),
    ],
)
def test_settings_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(api.ConfigError) as err:
        api.settings_from_env(env)
    assert str(err.value) == message
