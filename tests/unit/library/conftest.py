"""Fixtures shared by the custom modules' unit tests: run a module's main() against Stubber clients
wrapped the way AnsibleAWSModule.client wraps them, with AWSRetry's back-off sleeps recorded instead
of slept (so a retry test takes milliseconds, and can say how many retries happened)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args
from ansible_collections.amazon.aws.plugins.module_utils import cloud
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from botocore.stub import Stubber


@pytest.fixture
def retry_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The back-off delays AWSRetry chose, one per retry (its loop calls cloud.time.sleep)."""
    sleeps: list[float] = []
    monkeypatch.setattr(cloud, "time", SimpleNamespace(sleep=sleeps.append))
    return sleeps


RunModule = Callable[[ModuleType, Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]


@pytest.fixture
def run_module(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], retry_sleeps: list[float]
) -> RunModule:
    """Run `module.main()` with `args`; `clients` maps a service name to a (Stubber-wrapped) boto3 client.

    module.client(service, retry_decorator=...) returns that client wrapped in
    RetryingBotoClientWrapper with the module's own decorator, as AnsibleAWSModule does; without a
    decorator it returns the bare client, which refuses aws_retry=True, so a module that forgot
    the decorator fails here. Returns the module's result (exit_json or fail_json) as a dict.
    """

    def run(module: ModuleType, args: Mapping[str, Any], clients: Mapping[str, Any]) -> dict[str, Any]:
        def client(_self: Any, service: str, retry_decorator: Any = None, **_kwargs: Any) -> Any:
            raw = clients[service]
            return raw if retry_decorator is None else RetryingBotoClientWrapper(raw, retry_decorator)

        if hasattr(module, "AnsibleAWSModule"):  # modules of local files (arena_files) make no client
            monkeypatch.setattr(module.AnsibleAWSModule, "client", client)
        # A module's warnings and deprecations are process-wide in Ansible (one module per process
        # there); each run here starts without those of the modules run before it.
        monkeypatch.setattr(ansible_warnings, "_global_warnings", {})
        monkeypatch.setattr(ansible_warnings, "_global_deprecations", {})
        capsys.readouterr()
        with patch_module_args(dict(args)), pytest.raises(SystemExit):
            module.main()
        return json.loads(capsys.readouterr().out)

    return run


# (operation, response, expected parameters) in the order the module calls them.
Call = tuple[str, dict[str, Any], dict[str, Any]]
QueueCalls = Callable[[Stubber, list[Call], "tuple[str, str] | None"], None]


@pytest.fixture
def queue_calls() -> QueueCalls:
    """Queue `calls` on `stubber`; with `fail=(operation, code)`, the first call of that operation is
    answered with that error code first (the module must retry it), then with its response.
    A response of the form {"Error": {"Code": code}} is queued as that error (an expected answer,
    such as the not-found of an existence check)."""

    def queue(stubber: Stubber, calls: list[Call], fail: tuple[str, str] | None) -> None:
        pending = fail
        for operation, response, expected in calls:
            if pending is not None and operation == pending[0]:
                stubber.add_client_error(operation, service_error_code=pending[1], expected_params=expected)
                pending = None
            if set(response) == {"Error"}:
                code = response["Error"]["Code"]
                stubber.add_client_error(operation, service_error_code=code, expected_params=expected)
            else:
                stubber.add_response(operation, response, expected)
        assert pending is None, f"{fail} names no queued call"

    return queue
