"""roles/api refuses bad inputs before it changes anything, with messages naming the variable."""

from __future__ import annotations

from typing import Any

import pytest

# The import is what collects this test here, under this file's name for it, on this file's CASES (F401: ruff
# sees no use).
from role_input_tests import test_bad_input_fails_in_validation as test_bad_input_rejected  # noqa: F401

ROLE = "api"
GOOD_SHA = "0" * 64


GOOD: dict[str, Any] = {
    "api_version": "1.0.0",
    "api_artifact_url": "file:///srv/fixtures/arena-api-1.0.0.tar.gz",
    "api_artifact_sha256": GOOD_SHA,
}
SPEC_TASK = (
    "Validating arguments against arg spec 'main' - The platform API as a sandboxed systemd service, nginx in front"
)
CHECK_TASK = "validate | Check the inputs"

CASES = [
    pytest.param(
        {"api_runtime_env_manage": True, "api_runtime_env": {"REDIS_HOST": "cache", "REDIS_PORT": "6379"}},
        CHECK_TASK,
        "api_runtime_env is missing REDIS_TLS, REDIS_AUTH_TOKEN (needed with api_runtime_env_manage)",
        id="runtime-env-incomplete",
    ),
    pytest.param(
        {"api_bind_port": 80},
        CHECK_TASK,
        "api_bind_port must be 1024-65535 and differ from api_nginx_listen_port, got 80",
        id="bind-port-clash",
    ),
    pytest.param(
        {"api_wsgi_app": "arena_api/app.py"},
        CHECK_TASK,
        "api_wsgi_app must be module:callable, got 'arena_api/app.py'",
        id="wsgi-app",
    ),
    pytest.param(
        {"api_memory_max": "half"},
        CHECK_TASK,
        "api_memory_max must be a systemd size such as 512M, got 'half'",
        id="memory-max",
    ),
    pytest.param(
        {"api_version": "../1.0"},
        CHECK_TASK,
        "api_version must be a release name (letters, digits, . _ + -), got '../1.0'",
        id="version-path",
    ),
    pytest.param(
        {"api_vpc_cidr": "10.0.0.1/16"},
        CHECK_TASK,
        "api_vpc_cidr '10.0.0.1/16' has host bits set: the network is 10.0.0.0/16 (write that, or the single "
        "address with /32)",
        id="cidr-host-bits",
    ),
    pytest.param(
        {"api_service_state": "restarted"},
        SPEC_TASK,
        "value of api_service_state must be one of: started, stopped, got: restarted",
        id="spec-service-state",
    ),
]
