#!/usr/bin/python
# Copyright: arena-infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make a launch template's default version one with a given AMI: a release, or a rollback."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_launch_template_release
short_description: A numbered launch template version with a new AMI id, made the default
description:
  - A release of an image to a launch template. Unless the default version already launches
    I(image_id), creates a version from the default one (C(SourceVersion), every other launch
    parameter inherited, only C(ImageId) given) and makes it the default (ModifyLaunchTemplate).
    A rollback is the same with the previous image; the versions are the release history, and the
    latest version is always the default, so a platform run afterwards finds nothing to change.
  - The Auto Scaling groups stay on their numbered version; arena_autoscaling_instance_refresh moves
    them to the new default with a canary refresh that AWS can roll back.
  - The request carries a client token derived from the template, the source version and the image,
    so a retried request (throttling, a lost answer) cannot create a second version
    (U(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateLaunchTemplateVersion.html)).
  - A template that does not exist yet is no error; nothing is changed and I(status=NoTemplate) is
    returned (the platform creates it from the image's SSM record).
options:
  name:
    description: Name of the launch template.
    type: str
    required: true
  image_id:
    description: The AMI the default version must launch (C(ami-) and 8 or 17 hexadecimal digits).
    type: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - arena-infra
"""

EXAMPLES = r"""
- name: Release ami-0123456789abcdef0 to the web tier's template
  arena_launch_template_release:
    name: arena-staging-web
    image_id: ami-0123456789abcdef0
    region: eu-west-1
"""

RETURN = r"""
status:
  description:
    - Released (a new default version), WouldRelease (check mode), Current (the default launches the
      image already) or NoTemplate.
  returned: always
  type: str
version:
  description: The default version after the run (a number).
  returned: unless status is NoTemplate
  type: str
previous_version:
  description: The default version before the run.
  returned: unless status is NoTemplate
  type: str
previous_image_id:
  description: The AMI the previous default version launched.
  returned: unless status is NoTemplate
  type: str
"""

import contextlib
import hashlib
import re
from typing import Any

with contextlib.suppress(ImportError):  # a missing botocore is reported by AnsibleAWSModule
    import botocore

from ansible.module_utils.arena_diff import with_diff
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# Every call passes aws_retry=True (EC2 answers RequestLimitExceeded above its API rate). A template
# that is not there is an answer, not retried.
RETRY = AWSRetry.jittered_backoff()
AMI_ID = re.compile(r"^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
NOT_FOUND = ("InvalidLaunchTemplateName.NotFoundException", "InvalidLaunchTemplateId.NotFound")


def client_token(template_id: str, source: str, image_id: str) -> str:
    """Idempotency token of CreateLaunchTemplateVersion (at most 64 ASCII characters)."""
    return hashlib.sha256(f"{template_id}/{source}/{image_id}".encode()).hexdigest()[:64]


def run(ec2, params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """Release params['image_id'] to the template unless its default version launches it already."""
    name, image = params["name"], params["image_id"]
    if not AMI_ID.match(image or ""):
        raise ValueError(
            f"arena_launch_template_release: image_id '{image}' is not an AMI id (ami-<8 or 17 hex digits>)"
        )
    try:
        default = ec2.describe_launch_template_versions(LaunchTemplateName=name, Versions=["$Default"], aws_retry=True)[
            "LaunchTemplateVersions"
        ][0]
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] in NOT_FOUND:
            return {"changed": False, "status": "NoTemplate"}
        raise
    number, current = str(default["VersionNumber"]), default["LaunchTemplateData"].get("ImageId", "")
    result = {"previous_version": number, "previous_image_id": current}
    if current == image:
        return {"changed": False, "status": "Current", "version": number, **result}
    if check_mode:
        return {"changed": True, "status": "WouldRelease", "version": number, **result}
    created = ec2.create_launch_template_version(
        LaunchTemplateName=name,
        SourceVersion=number,
        LaunchTemplateData={"ImageId": image},
        ClientToken=client_token(default["LaunchTemplateId"], number, image),
        aws_retry=True,
    )["LaunchTemplateVersion"]
    version = str(created["VersionNumber"])
    ec2.modify_launch_template(LaunchTemplateName=name, DefaultVersion=version, aws_retry=True)
    return {"changed": True, "status": "Released", "version": version, **result}


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={"name": {"type": "str", "required": True}, "image_id": {"type": "str", "required": True}},
        supports_check_mode=True,
    )
    ec2 = module.client("ec2", retry_decorator=RETRY)
    try:
        result = run(ec2, module.params, module.check_mode)
    except ValueError as e:
        module.fail_json(msg=str(e))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"arena_launch_template_release: cannot release to '{module.params['name']}'")
    before = {"default_version": result.get("previous_version"), "image_id": result.get("previous_image_id")}
    after = {"default_version": result.get("version"), "image_id": module.params["image_id"]}
    module.exit_json(**with_diff(module, result, before, after if result["changed"] else before))


if __name__ == "__main__":
    main()
