"""The in-image tests (test_ee_playbooks.py) reuse the platform suite's steps and readers
(tests/integration/platform: platform_lab, platform_fixtures): on the import path here, before the
module is imported. They run through `make ee-test` (scripts/with-emulator.sh, lab dir .lab/ee)."""

from __future__ import annotations

import sys

from arena_testlib import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tests" / "integration" / "platform"))
