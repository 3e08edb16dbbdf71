"""Bad input for roles/admin: ansible-playbook --check on localhost with bad variables fails in the
validation task with the exact message, and no task before it changed anything."""

from __future__ import annotations

import pytest

# The import is what collects these tests here, on this file's CASES and WRONG_TYPE (F401: ruff sees no use).
from role_input_tests import test_bad_input_fails_in_validation, test_wrong_type_is_caught_by_the_argument_spec  # noqa: F401

ROLE = "admin"
# The allow-list is no input: it is read at boot (roles/admin/molecule: fails closed without it).
GOOD: dict = {}
SPEC_TASK = "Validating arguments against arg spec 'main' - Admin tier content-management tools behind nginx"


CASES = [
    pytest.param(
        {"admin_real_ip_trusted_cidrs": ["alb"]},
        "Validate | Trusted proxies are networks",
        "admin_real_ip_trusted_cidrs[0] 'alb' is not an IPv4 or IPv6 CIDR ('alb' does not appear to be an IPv4 or "
        "IPv6 network)",
        id="trusted-proxy-not-a-network",
    ),
    pytest.param(
        {"admin_listen_port": 70000},
        "Validate | Listen port and paths",
        "admin_listen_port must be 1..65535, admin_content_dir an absolute path without spaces or ';', "
        "admin_client_max_body_size an nginx size like 50m (got port=70000, "
        "content_dir='/srv/arena-admin/content', client_max_body_size='50m').",
        id="port-out-of-range",
    ),
]
WRONG_TYPE = (
    {"admin_listen_port": "eighty"},
    "argument 'admin_listen_port' is of type str and we were unable to convert to int",
)
