"""Fixtures of the cache interruption lab (cache_lab.py) for test_cache_interrupt.py and
test_cache_rotation.py: the proxy, the cache-role-only play, a fresh emulator with platform core's
cache inputs (`core`; test_platform_services.py has a `core` of its own, which wins there).
"""

from cache_lab import cache_play, core, proxy

__all__ = ["cache_play", "core", "proxy"]
