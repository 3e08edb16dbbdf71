"""Ansible's ``diff`` for the arena modules: ``--diff`` (with ``--check`` too) shows before and after
of every change a module reports (issue 14).

A module builds ``before`` and ``after`` as small dicts in its own terms (the keys it manages, of
each resource it changes; ``{}`` for a resource that does not exist) and passes its result through
:func:`with_diff` just before ``exit_json``; or its inner function (which has no AnsibleModule)
spreads :func:`diff_field` into the result it returns, and ``main`` passes that through
:func:`diff_if_asked`.
Either way the diff stays only when the result says changed and Ansible asked for a diff
(``module._diff``), as Ansible's own modules do; the callback prints dicts as sorted JSON. Secrets
never reach it: values under a secret key (:data:`SECRET_KEYS`, or the module's own) are replaced
with Ansible's own no_log mask, and a module masks any other secret (an SSM SecureString value)
with :data:`MASK` itself.

Modules reach this file as ``ansible.module_utils.arena_diff``: ansible.cfg's ``module_utils``
names this directory (``ANSIBLE_MODULE_UTILS`` where ansible.cfg is not read, as in molecule), and
Ansible ships it with each module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# What Ansible prints for a no_log value.
MASK = "********"
# Keys whose values are secrets in any arena module's before/after (matched case-insensitively).
SECRET_KEYS = frozenset({"auth_token", "authtoken", "password", "secret", "token", "secure_value"})


def masked(value: Any, secret_keys: frozenset[str] = SECRET_KEYS) -> Any:
    """``value`` with every non-empty value under a secret key replaced by :data:`MASK`."""
    if isinstance(value, Mapping):
        return {
            key: MASK if str(key).lower() in secret_keys and item not in (None, "") else masked(item, secret_keys)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [masked(item, secret_keys) for item in value]
    return value


def diff(before: Any, after: Any, secret_keys: Iterable[str] = ()) -> dict[str, Any]:
    """``{"before": ..., "after": ...}`` with secrets masked."""
    keys = SECRET_KEYS | {k.lower() for k in secret_keys}
    return {"before": masked(before, keys), "after": masked(after, keys)}


def with_diff(
    module: Any, result: dict[str, Any], before: Any, after: Any, secret_keys: Iterable[str] = ()
) -> dict[str, Any]:
    """``result`` plus ``diff`` when it reports a change and Ansible runs with ``--diff``."""
    if result.get("changed") and getattr(module, "_diff", False):
        result["diff"] = diff(before, after, secret_keys)
    return result


def diff_field(show: bool, before: Any, after: Any, secret_keys: Iterable[str] = ()) -> dict[str, Any]:
    """``{"diff": diff(before, after)}`` when ``show`` (the module's ``_diff``), else ``{}``: for a
    module's inner function to spread into the result it returns."""
    return {"diff": diff(before, after, secret_keys)} if show else {}


def record(shown: dict[str, Any] | None, before: Any, after: Any, key: str | None = None) -> None:
    """For a module's inner function that takes an optional ``shown`` dict (``None``: nobody asks):
    note before and after of what it changes (under ``key`` when it changes several things), for
    ``main`` to pass to :func:`with_diff` as ``shown.get("before")``, ``shown.get("after")``."""
    if shown is None:
        return
    if key is None:
        shown.update(before=before, after=after)
    else:
        shown.setdefault("before", {})[key] = before
        shown.setdefault("after", {})[key] = after


def diff_if_asked(module: Any, result: dict[str, Any]) -> dict[str, Any]:
    """``result`` as it goes to ``exit_json``: for a module whose inner function (which has no
    AnsibleModule) puts :func:`diff`'s answer in ``result["diff"]``, the diff stays only when the
    result reports a change and Ansible runs with ``--diff``."""
    if not (result.get("changed") and getattr(module, "_diff", False)):
        result.pop("diff", None)
    return result


def with_diffs(
    module: Any, result: dict[str, Any], entries: list[dict[str, Any]], secret_keys: Iterable[str] = ()
) -> dict[str, Any]:
    """``result`` plus a list ``diff`` (one entry per changed item: ``before``, ``after`` and
    optionally ``before_header`` / ``after_header``, e.g. a file's path and content)."""
    if result.get("changed") and getattr(module, "_diff", False):
        result["diff"] = [{**entry, **diff(entry["before"], entry["after"], secret_keys)} for entry in entries]
    return result
