"""Shared by every role scenario's testinfra verifier (roles/*/molecule/*/tests): pytest loads this
file for any test below roles/. Their `podman://` hosts are entered with nsenter, as the lab's
Ansible connection enters them (tests/arena_testinfra.py)."""

from __future__ import annotations

from arena_testinfra import install

install()
