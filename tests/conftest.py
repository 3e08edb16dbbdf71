"""What every test here needs before it imports a module.

The custom modules import the project's ``module_utils/`` as ``ansible.module_utils.<name>``:
Ansible ships those files with a module because ansible.cfg's ``module_utils`` names the directory.
A test imports a module straight from its file, so the directory is added to the package's path
here, as Ansible's own test runner does for a collection's module_utils.
"""

from __future__ import annotations

from pathlib import Path

import ansible.module_utils

MODULE_UTILS = str(Path(__file__).resolve().parents[1] / "module_utils")
if MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(MODULE_UTILS)
