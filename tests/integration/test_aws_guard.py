"""The real-AWS guard, end to end through a real AWS playbook (playbooks/aws_identity.yml).

Every run has HTTP(S)_PROXY pointed at a closed loopback port (tests/conftest.py), so a request
that is not for the local emulator fails at once instead of reaching AWS.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from arena_testlib import base_env, run

PLAYBOOK = ["ansible-playbook", "playbooks/aws_identity.yml"]
REFUSAL = "REFUSED: this play calls AWS APIs and no emulator endpoint is set"


def recap(output: str) -> dict[str, int]:
    match = re.search(r"localhost\s+:\s+(.*)", output)
    assert match, output
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}


def assert_refused_before_any_api_call(result, expect: str = REFUSAL) -> None:
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    assert expect in out, out
    assert "TASK [aws_guard : Guard | Refuse real AWS without an explicit opt-in]" in out
    # Nothing after the guard ran: no API task was even started.
    assert "TASK [Read the caller identity]" not in out
    assert recap(out)["failed"] == 1


def test_refuses_without_an_emulator_endpoint() -> None:
    result = run(PLAYBOOK, base_env(keep_aws=False))
    assert_refused_before_any_api_call(result)
    assert "-e arena_allow_real_aws=true -e arena_aws_profile=<profile> -e arena_aws_region=<region>" in result.stdout


def test_refuses_a_real_aws_endpoint_without_opt_in() -> None:
    # How an AWS endpoint is recognised, spelling by spelling (upper case, dual-stack, trailing dot,
    # query, every partition), is the arena_aws_target filter's, proven in
    # tests/unit/filters/test_arena_aws_target.py. Here: the guard refuses what the filter calls real,
    # with its reason, before any API call. One of the spellings the old host regex took for an
    # emulator, so the whole path from AWS_URL to the refusal is exercised with it.
    env = base_env({"AWS_URL": "https://sts.amazonaws.com.?x=1", "AWS_REGION": "eu-west-1"}, keep_aws=False)
    result = run(PLAYBOOK, env)
    assert_refused_before_any_api_call(result)
    assert "host sts.amazonaws.com is an AWS endpoint (partition aws," in re.sub(r"\s+", " ", result.stdout)


def closed_loopback_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("mode", [[], ["--check"]], ids=["run", "check-mode"])
def test_a_stopped_emulator_fails_in_one_line(mode: list[str]) -> None:
    url = f"http://127.0.0.1:{closed_loopback_port()}"
    env = base_env(
        {
            "AWS_URL": url,
            "AWS_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",  # a task result on one line, as printed
        },
        keep_aws=False,
    )
    result = run([*PLAYBOOK, *mode], env)
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    assert "TASK [aws_guard : Guard | Require a running emulator]" in out
    assert "TASK [Read the caller identity]" not in out  # no AWS task started
    fatal = [line for line in result.stdout.splitlines() if line.startswith("fatal: [localhost]: FAILED! => ")]
    assert len(fatal) == 1, out
    message = json.loads(fatal[0].split(" => ", 1)[1])["msg"]
    hint = "run `make emulator-up` first (then `source .lab/emulator.env`)"
    assert message == f"no AWS emulator answers at {url}: {hint}"
    assert "Traceback" not in out and "EndpointConnectionError" not in out and "Could not connect" not in out
    assert recap(out)["failed"] == 1


@pytest.mark.parametrize(
    "extra",
    [
        ["-e", "arena_allow_real_aws=true", "-e", "arena_aws_region=eu-west-1"],  # no profile
        ["-e", "arena_allow_real_aws=true", "-e", "arena_aws_profile=ops"],  # no region
        ["-e", "arena_aws_profile=ops", "-e", "arena_aws_region=eu-west-1"],  # no opt-in
    ],
    ids=["opt-in-without-profile", "opt-in-without-region", "profile-without-opt-in"],
)
def test_refuses_an_incomplete_opt_in(extra: list[str]) -> None:
    assert_refused_before_any_api_call(run([*PLAYBOOK, *extra], base_env(keep_aws=False)))


def test_passes_with_the_emulator_endpoint(emulator_url: str) -> None:
    result = run(PLAYBOOK, base_env())
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert f"AWS target: emulator {emulator_url} region" in out
    assert "account: '123456789012'" in out  # moto's account: the call really went to the emulator
    assert recap(out)["failed"] == 0


def test_passes_with_the_explicit_opt_in(emulator_url: str, tmp_path: Path) -> None:
    # A named profile as an operator would have for a real account. Its endpoint_url (a botocore
    # profile setting) sends the calls to the emulator, so this test never leaves the machine.
    (tmp_path / "config").write_text(f"[profile arena-test]\nregion = eu-west-1\nendpoint_url = {emulator_url}\n")
    (tmp_path / "credentials").write_text(
        "[arena-test]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
    )
    env = base_env(
        {"AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials")},
        keep_aws=False,
    )
    extra = [
        "-e",
        "arena_allow_real_aws=true",
        "-e",
        "arena_aws_profile=arena-test",
        "-e",
        "arena_aws_region=eu-west-1",
    ]
    result = run([*PLAYBOOK, *extra], env)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "AWS target: real profile arena-test region eu-west-1" in out
    assert "target: real" in out


def test_guard_holds_in_check_mode() -> None:
    assert_refused_before_any_api_call(run([*PLAYBOOK, "--check"], base_env(keep_aws=False)))
