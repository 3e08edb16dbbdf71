"""WSGI application of the arena reference API.

Served by gunicorn (`arena_api.app:application`). Configuration comes from the environment the
systemd unit loads from the runtime env file (written at boot from SSM, never baked):

  REDIS_HOST, REDIS_PORT, REDIS_TLS (true/false), REDIS_AUTH_TOKEN, optional REDIS_CA_FILE,
  ARENA_API_VERSION (set by the unit).

Routes:
  GET  /healthz      200 {"status": "ok"} when Redis answers PING, else 503 {"status": "unavailable"}
  GET  /v1/version   200 {"version": ...}
  POST /v1/hits      increments a counter in Redis, 200 {"hits": n}; 503 when Redis is down
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})
HITS_KEY = "arena:api:hits"

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class RedisClient(Protocol):
    def ping(self) -> bool: ...

    def incr(self, name: str) -> int: ...


class ConfigError(ValueError):
    """The runtime environment is incomplete or malformed."""


@dataclass(frozen=True)
class RedisSettings:
    host: str
    port: int
    tls: bool
    auth_token: str
    ca_file: str | None


def parse_bool(name: str, value: str) -> bool:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"{name}: expected true or false, got {value!r}")


def settings_from_env(env: Mapping[str, str]) -> RedisSettings:
    """Read the Redis settings; raise ConfigError naming the variable that is wrong."""
    missing = [k for k in ("REDIS_HOST", "REDIS_PORT", "REDIS_AUTH_TOKEN") if not env.get(k)]
    if missing:
        raise ConfigError(f"missing runtime settings: {', '.join(missing)}")
    try:
        port = int(env["REDIS_PORT"])
    except ValueError:
        raise ConfigError(f"REDIS_PORT: expected a port number, got {env['REDIS_PORT']!r}") from None
    if not 0 < port < 65536:
        raise ConfigError(f"REDIS_PORT: expected 1-65535, got {port}")
    return RedisSettings(
        host=env["REDIS_HOST"],
        port=port,
        tls=parse_bool("REDIS_TLS", env.get("REDIS_TLS", "true")),
        auth_token=env["REDIS_AUTH_TOKEN"],
        ca_file=env.get("REDIS_CA_FILE") or None,
    )


def redis_client(settings: RedisSettings) -> RedisClient:
    """A redis-py client: AUTH token as password, TLS with certificate and host name verified."""
    import redis  # noqa: PLC0415 -- imported here so the unit tests need no redis-py

    kwargs: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "password": settings.auth_token,
        "socket_timeout": 1.0,
        "socket_connect_timeout": 1.0,
        "health_check_interval": 10,
    }
    if settings.tls:
        kwargs |= {"ssl": True, "ssl_cert_reqs": "required", "ssl_check_hostname": True}
        if settings.ca_file:
            kwargs["ssl_ca_certs"] = settings.ca_file
    return redis.Redis(**kwargs)


def _json(start_response: StartResponse, status: str, body: Mapping[str, Any]) -> list[bytes]:
    data = json.dumps(body, sort_keys=True).encode()
    start_response(
        status,
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [data]


class App:
    """The WSGI callable. `client_factory` builds the Redis client lazily (once, then reused)."""

    def __init__(self, version: str, client_factory: Callable[[], RedisClient]) -> None:
        self.version = version
        self._client_factory = client_factory
        self._client: RedisClient | None = None

    def _redis(self) -> RedisClient:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def healthz(self) -> tuple[str, dict[str, Any]]:
        try:
            healthy = bool(self._redis().ping())
        except Exception:  # any failure (settings, network, TLS, AUTH) means unhealthy
            healthy = False
        if healthy:
            return "200 OK", {"status": "ok"}
        return "503 Service Unavailable", {"status": "unavailable"}

    def version_info(self) -> tuple[str, dict[str, Any]]:
        return "200 OK", {"version": self.version}

    def hits(self) -> tuple[str, dict[str, Any]]:
        try:
            count = int(self._redis().incr(HITS_KEY))
        except Exception:  # the client's errors are many; all of them mean "not now"
            return "503 Service Unavailable", {"error": "cache unavailable"}
        return "200 OK", {"hits": count}

    def __call__(self, environ: Mapping[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        route = ROUTES.get(environ.get("PATH_INFO", "/"))
        if route is None:
            return _json(start_response, "404 Not Found", {"error": "not found"})
        methods, handler = route
        if environ.get("REQUEST_METHOD", "GET") not in methods:
            return _json(start_response, "405 Method Not Allowed", {"error": "method not allowed"})
        status, body = getattr(self, handler)()
        return _json(start_response, status, body)


# path -> (allowed methods, App method answering it)
ROUTES: dict[str, tuple[frozenset[str], str]] = {
    "/healthz": (frozenset({"GET", "HEAD"}), "healthz"),
    "/v1/version": (frozenset({"GET", "HEAD"}), "version_info"),
    "/v1/hits": (frozenset({"POST"}), "hits"),
}


def create_app(env: Mapping[str, str] | None = None) -> App:
    environ = os.environ if env is None else env
    version = environ.get("ARENA_API_VERSION", "unknown")

    def factory() -> RedisClient:
        return redis_client(settings_from_env(environ))

    return App(version, factory)


application = create_app()
