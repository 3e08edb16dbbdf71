"""An interrupted cache run converges on re-run: the api tier authenticates to Redis (issue 14).

AWS hands a replication group its AUTH token only at creation (or in a rotation) and never returns
it, and creation takes 10-15 minutes. platform_cache therefore stores the token in SSM before the
group can receive it, tags the group with the stored token (parameter version and time) it holds,
and rotates a group that holds another one (ModifyReplicationGroup AuthToken +
AuthTokenUpdateStrategy=ROTATE, ApplyImmediately, on an available group:
https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyReplicationGroup.html,
https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth.html#auth-modifyng-token).

Each test runs the cache role as playbooks/platform_services.yml applies it (its services play with
only platform_cache: the same guard and module_defaults, read from the playbook) and kills it
(SIGKILL, the playbook and every process under it) at one step: the run goes through a loopback
proxy in front of the emulator that kills the playbook when a given AWS request arrives, either
before passing it on (AWS never saw it) or after AWS answered (AWS did it, the run never heard). No
hook in the product code. The re-run must then succeed, and:

  - the token the api tier reads (SSM SecureString) is one the group accepts. The emulator keeps no
    token, so the proxy keeps what AWS would: the token of CreateReplicationGroup, plus each ROTATE's
    (both stay valid) or a SET's alone;
  - for real: a redis-server whose default user holds exactly those tokens, and the api app's own
    Redis client (apps/reference_api, Debian's python3-redis as in the image) configured from SSM,
    answers /healthz 200. A wrong token gets 503 (test_health_check_refuses_a_wrong_token).

Not run here, because they are proven once elsewhere: the other services' validation play
(test_services_inputs.py) and the environment's run lock, whose takeover after a killed run is
tests/integration/platform/test_lock.py::test_the_lock_of_a_killed_run_on_this_host_is_taken_over.
Each run costs a third less that way, and what is interrupted is the cache role's own steps.

Needs the emulator (scripts/with-emulator.sh), redis-server and python3-redis (scripts/setup-host.sh).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cache_lab import (
    CACHE,
    NEEDS_EMULATOR,
    PREFIX,
    TOKEN_PARAM,
    Call,
    Interrupt,
    Proxy,
    api_health,
    assert_converged,
    client,
    complete,
    elasticache,
    kill_points,
    play,
    ssm_put,
)

pytestmark = NEEDS_EMULATOR


@kill_points(
    ("before-token-stored", ssm_put(TOKEN_PARAM), False),
    ("token-stored-before-create", elasticache("CreateReplicationGroup"), False),
    ("create-accepted-during-wait", elasticache("CreateReplicationGroup"), True),
    ("created-before-endpoint-published", ssm_put(f"{PREFIX}/redis_host"), False),
)
def test_interrupted_create_converges(
    proxy: Proxy, core: Path, tmp_path: Path, trigger: Callable[[Call], bool], after: bool
) -> None:
    play(proxy, core, interrupt=Interrupt(trigger, after))
    out = complete(proxy, core)
    token = assert_converged(proxy, tmp_path, out)
    # One token from the first run to the last: the group was never rotated, no second random token.
    assert proxy.tokens[CACHE] == [token]
    assert not [c for c in proxy.calls if c.action == "ModifyReplicationGroup"]
    host = client("ssm").get_parameter(Name=f"{PREFIX}/redis_host")["Parameter"]["Value"]
    group = client("elasticache").describe_replication_groups(ReplicationGroupId=CACHE)["ReplicationGroups"][0]
    assert host == group["NodeGroups"][0]["PrimaryEndpoint"]["Address"]


def test_health_check_refuses_a_wrong_token(tmp_path: Path) -> None:
    """The health check can fail: a token the server does not hold gets 503."""
    assert api_health(tmp_path, ["the-token-the-group-holds-0123"], "some-other-token-0123456789")[0] == (
        "503 Service Unavailable"
    )
