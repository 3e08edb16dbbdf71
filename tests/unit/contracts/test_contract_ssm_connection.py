"""Contract: the aws_ssm connection of staging and production moves files through the bucket
roles/platform_launch_templates creates.

Inventory side: ansible_aws_ssm_bucket_name in inventories/<env>/group_vars/all/connection.yml, with
the instance's account id (owner_id, from the aws_ec2 inventory). Platform side:
platform_launch_templates_ssm_transfer_bucket_prefix + "-" + the account id. S3 bucket names are
global and 3-63 characters (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html):
the account id keeps the name ours.
"""

from __future__ import annotations

import pytest
from arena_contracts import ACCOUNT, REPO, load_yaml, platform_side, render


@pytest.mark.parametrize("env", ["staging", "production"])
def test_ssm_connection_uses_the_platform_transfer_bucket(env: str) -> None:
    platform = platform_side(env)
    connection = load_yaml(REPO / "inventories" / env / "group_vars" / "all" / "connection.yml")
    bucket = render(connection["ansible_aws_ssm_bucket_name"], {**platform.variables, "owner_id": ACCOUNT})
    assert bucket == platform.ssm_transfer_bucket
    assert bucket.endswith(f"-{ACCOUNT}") and 3 <= len(bucket) <= 63


def test_transfer_bucket_name_changes_with_the_account() -> None:
    """Two accounts, two names: the name is unique per account, as S3's global namespace needs."""
    one = platform_side("staging").ssm_transfer_bucket
    other = platform_side("staging", __platform_launch_templates_account_id="210987654321").ssm_transfer_bucket
    assert one != other and other.endswith("-210987654321")
