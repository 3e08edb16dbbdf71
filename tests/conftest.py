"""What every test here needs before it imports a module.

The custom modules import the project's ``module_utils/`` as ``ansible.module_utils.<name>``:
Ansible ships those files with a module because ansible.cfg's ``module_utils`` names the directory.
A test imports a module straight from its file, so the directory is added to the package's path
here, as Ansible's own test runner does for a collection's module_utils.
"""

from __future__ import annotations

from pathlib import Path

import ansible.module_utils
from hypothesis import HealthCheck, settings

MODULE_UTILS = str(Path(__file__).resolve().parents[1] / "module_utils")
if MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(MODULE_UTILS)

# Hypothesis measures wall-clock time: a test over 200 ms (its deadline), or input generation over
# about a second (its too_slow health check), fails. `make test` runs its stages side by side on
# two cores on purpose, so wall time there says how busy the machine is, not how costly a test is:
# a from_regex strategy's first draw took 0.94 s there and failed a clean clone (2026-12-06). The
# examples and their number stay Hypothesis' defaults; only the wall-clock checks are off.
settings.register_profile("arena", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("arena")
