"""A cache whose group holds a token SSM does not (the role before issue 14, or the parameter
deleted), an operator's vault token, and --check: the group is rotated (ROTATE, both tokens stay
valid) and the api tier authenticates, also when that run is interrupted around the rotation
(SIGKILL through the proxy of cache_lab.py; test_cache_interrupt.py says how and why).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cache_lab import (
    CACHE,
    LEGACY_TOKEN,
    MUTATING,
    NEEDS_EMULATOR,
    VAULT_TOKEN,
    Call,
    Interrupt,
    Proxy,
    assert_converged,
    complete,
    elasticache,
    kill_points,
    legacy_cache,
    play,
    recap,
    stored_token,
)

pytestmark = NEEDS_EMULATOR


@kill_points(
    ("not-interrupted", None, False),
    ("rotation-not-sent", elasticache("ModifyReplicationGroup"), False),
    ("rotation-sent-not-tagged", elasticache("ModifyReplicationGroup"), True),
)
def test_group_without_stored_token_is_rotated_to_a_new_one(
    proxy: Proxy, core: Path, tmp_path: Path, trigger: Callable[[Call], bool] | None, after: bool
) -> None:
    """A group whose token SSM does not hold (made by the older role and interrupted before it
    published, or the parameter deleted): a new token is stored, then the group rotated to it, also
    when that run is interrupted around the rotation."""
    legacy_cache(proxy, LEGACY_TOKEN, stored=False)
    if trigger is not None:
        play(proxy, core, interrupt=Interrupt(trigger, after))
        pending = stored_token()  # stored before the rotation was sent
    out = complete(proxy, core)
    token = assert_converged(proxy, tmp_path, out)
    assert token != LEGACY_TOKEN
    if trigger is not None:
        assert token == pending
    # ROTATE: the lost token stays valid beside the new one (running instances keep working).
    assert proxy.tokens[CACHE] == [LEGACY_TOKEN, token]
    modify = [c.params for c in proxy.calls if c.action == "ModifyReplicationGroup"]
    assert {(m["AuthTokenUpdateStrategy"], m["ApplyImmediately"]) for m in modify} == {("ROTATE", "true")}
    if trigger is None:
        # Converged: the next run changes nothing, no second rotation.
        again = complete(proxy, core)
        assert recap(again)["changed"] == 0, again[-4000:]
        assert proxy.tokens[CACHE] == [LEGACY_TOKEN, token]


def test_vault_token_wins_in_ssm_and_in_the_group(proxy: Proxy, core: Path, tmp_path: Path) -> None:
    """An operator sets the vault token on a running cache: SSM gets it and the group is rotated to
    it, also when that run is interrupted before the rotation."""
    legacy_cache(proxy, LEGACY_TOKEN, stored=True)
    vault = ["-e", f"platform_cache_auth_token={VAULT_TOKEN}"]
    play(proxy, core, *vault, interrupt=Interrupt(elasticache("ModifyReplicationGroup"), False))
    assert stored_token() == VAULT_TOKEN
    out = complete(proxy, core, *vault)
    assert assert_converged(proxy, tmp_path, out) == VAULT_TOKEN
    assert proxy.tokens[CACHE] == [LEGACY_TOKEN, VAULT_TOKEN]


def test_check_mode_reports_the_rotation_and_writes_nothing(proxy: Proxy, core: Path) -> None:
    legacy_cache(proxy, LEGACY_TOKEN, stored=False)
    seen = len(proxy.calls)
    out = complete(proxy, core, "--check")
    assert recap(out)["changed"] > 0
    assert not [c.action for c in proxy.calls[seen:] if c.action in MUTATING]
    assert proxy.tokens[CACHE] == [LEGACY_TOKEN]
