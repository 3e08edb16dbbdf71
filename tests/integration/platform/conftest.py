"""Fixtures of the platform suite here (test_platform_failures.py) and of the in-image one
(tests/ee/test_ee_platform.py): defined once in platform_lab.py (each module gets the emulator to
itself, reset before and after it, with what the platform consumes from elsewhere seeded, and its own
create)."""

from platform_lab import aws, created, vpc

__all__ = ["aws", "created", "vpc"]
