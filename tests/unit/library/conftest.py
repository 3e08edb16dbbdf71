"""Fixtures shared by the custom modules' unit tests: the module under test (``mod``), Stubber clients
wrapped the way AnsibleAWSModule.client wraps them (``stub_client``), a module's main() run against
them (``run_module``, ``queue_calls``), with AWSRetry's back-off sleeps recorded instead of slept
(``retry_sleeps``: a retry test takes milliseconds, and can say how many retries happened).

The answers several files queue on those stubbers (a DescribeAutoScalingGroups answer ...) are plain
functions in stub_answers.py: a test file imports them by name (a conftest is not importable without
ambiguity, every directory's being ``conftest``), and its module-level case builders can call them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args
from ansible_collections.amazon.aws.plugins.module_utils import cloud
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from arena_loader import aws_client, library_module
from arena_testlib import RequireRetry
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


@pytest.fixture(scope="module")
def mod(request: pytest.FixtureRequest) -> ModuleType:
    """The module a test file is named after: tests/unit/library/test_<name>.py tests library/<name>.py
    (loaded once per process, tests/arena_loader.py)."""
    return library_module(Path(request.module.__file__).stem.removeprefix("test_"))


StubClient = Callable[..., tuple[Any, Stubber]]


@pytest.fixture
def stub_client() -> Iterator[StubClient]:
    """``stub_client(service, retry=None, *, region="eu-west-1", strict=False)`` -> ``(client, stubber)``.

    A boto3 client of ``service`` (dummy credentials) under an active Stubber. With ``retry`` (the
    module's decorator), the client is handed out as AnsibleAWSModule.client hands it out:
    RetryingBotoClientWrapper, whose calls take ``aws_retry=True``; ``strict=True`` wraps it in
    RequireRetry instead, which also fails a call made without ``aws_retry=True``. Without ``retry``,
    the bare client. At teardown no stubber may have a response left: every queued call was made.
    """
    stubbers: list[Stubber] = []
    with ExitStack() as stack:

        def make(service: str, retry: Any = None, *, region: str = "eu-west-1", strict: bool = False) -> Any:
            raw = aws_client(service, region)
            stubber = stack.enter_context(Stubber(raw))
            stubbers.append(stubber)
            if retry is None:
                return raw, stubber
            return (RequireRetry(raw, retry) if strict else RetryingBotoClientWrapper(raw, retry)), stubber

        yield make
        for stubber in stubbers:
            stubber.assert_no_pending_responses()


RunWithCalls = Callable[..., dict[str, Any]]


@pytest.fixture
def run_with_calls(run_module: RunModule, queue_calls: QueueCalls, stub_client: StubClient) -> RunWithCalls:
    """``run_with_calls(module, args, service, calls, fail=None, *, region="eu-west-1")``: the result of
    ``module.main()`` with ``args`` against a stubbed ``service`` client that answers ``calls`` in
    order (``fail`` as in ``queue_calls``); every queued call must have been made."""

    def run(
        module: ModuleType,
        args: Mapping[str, Any],
        service: str,
        calls: list[Call],
        fail: tuple[str, str] | None = None,
        *,
        region: str = "eu-west-1",
    ) -> dict[str, Any]:
        raw, stubber = stub_client(service, region=region)
        queue_calls(stubber, calls, fail)
        result = run_module(module, args, {service: raw})
        stubber.assert_no_pending_responses()
        return result

    return run


@pytest.fixture
def run_retried(run_with_calls: RunWithCalls, retry_sleeps: list[float]) -> RunWithCalls:
    """``run_retried(module, args, service, calls, fail, *, retries=1, region="eu-west-1")``: the result of
    ``run_with_calls``, a run that succeeded after exactly ``retries`` back-offs (``fail``'s error is
    answered first, as in ``queue_calls``): what every retry test of a module's main() asserts first."""

    def run(
        module: ModuleType,
        args: Mapping[str, Any],
        service: str,
        calls: list[Call],
        fail: tuple[str, str] | None,
        *,
        retries: int = 1,
        region: str = "eu-west-1",
    ) -> dict[str, Any]:
        result = run_with_calls(module, args, service, calls, fail, region=region)
        assert result.get("failed") is None, result
        assert len(retry_sleeps) == retries
        return result

    return run


@pytest.fixture
def stubbed(
    request: pytest.FixtureRequest, mod: ModuleType, stub_client: StubClient, retry_sleeps: list[float]
) -> tuple[Any, Stubber]:
    """``(client, stubber)`` of the module under test: the test file names the client's ``SERVICE``
    (and ``REGION`` when not eu-west-1; ``STRICT_RETRY = True`` for RequireRetry), wrapped with the
    module's own ``RETRY`` decorator. Back-off sleeps are recorded, not slept (``retry_sleeps``)."""
    test_file = request.module
    return stub_client(
        test_file.SERVICE,
        mod.RETRY,
        region=getattr(test_file, "REGION", "eu-west-1"),
        strict=getattr(test_file, "STRICT_RETRY", False),
    )


class _SpecCaptured(Exception):
    """Raised by the fake AnsibleAWSModule to stop main() once it has the module's spec."""


@pytest.fixture
def module_spec(monkeypatch: pytest.MonkeyPatch) -> Callable[[ModuleType], dict[str, Any]]:
    """``module_spec(module)``: the keyword arguments ``module.main()`` gives AnsibleAWSModule (or
    AnsibleModule, for the modules of local files): ``argument_spec``, ``supports_check_mode`` ...;
    main() is stopped there, before any client or change."""

    def capture(module: ModuleType) -> dict[str, Any]:
        captured: dict[str, Any] = {}

        def fake(**kwargs: Any) -> None:
            captured.update(kwargs)
            raise _SpecCaptured

        monkeypatch.setattr(
            module, "AnsibleAWSModule" if hasattr(module, "AnsibleAWSModule") else "AnsibleModule", fake
        )
        with pytest.raises(_SpecCaptured):
            module.main()
        return captured

    return capture
