#!/usr/bin/python
"""Ansible module: a plain SSM parameter with its DataType (aws:ec2:image for image ids)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_ssm_parameter
short_description: Create, update or delete a String SSM parameter with its data type (aws:ec2:image)
description:
  - Writes a C(String) or C(StringList) parameter to SSM Parameter Store together with its
    C(DataType). With O(data_type=aws:ec2:image) Parameter Store checks that the value is an AMI the
    account can use, and EC2 resolves C(resolve:ssm:<name>) in launch templates against it.
    C(community.aws.ssm_parameter) cannot set the data type, which is why this module exists.
  - Idempotent; supports check mode. PutParameter is called only when the value, type, data type or
    description differ from what is stored, so an unchanged parameter keeps its version.
  - Tags are managed on every run, not only at creation; PutParameter refuses tags together with
    C(Overwrite), so an existing parameter's tags are changed with AddTagsToResource and
    RemoveTagsFromResource.
  - AWS validates an C(aws:ec2:image) value asynchronously; PutParameter succeeds even for a bad AMI,
    which then never becomes a version. The module therefore waits (O(wait_timeout)) until the new
    version is readable and fails if it does not appear.
  - AWS cannot change a parameter's data type to or from C(aws:ec2:image). The module fails on such
    a change unless O(replace_on_data_type_change=true), which deletes the parameter and creates it
    again (its version history restarts at 1, and a C(resolve:ssm) lookup in between fails).
  - C(SecureString) is refused; secrets are written with C(community.aws.ssm_parameter) and a KMS key.
version_added: 1.0.0
author: arena-infra
options:
  name:
    description: Full parameter name, for example C(/arena/staging/images/web).
    type: str
    required: true
  value:
    description: The value. Required with O(state=present). For C(StringList), comma-separated.
    type: str
  data_type:
    description:
      - V(aws:ec2:image) makes Parameter Store validate the value as an AMI id of the account (only
        with O(string_type=String)); V(text) stores any text.
    type: str
    choices: [text, "aws:ec2:image"]
    default: text
  string_type:
    description: Parameter type. C(SecureString) is refused with an explicit message.
    type: str
    choices: [String, StringList]
    default: String
  description:
    description: Parameter description. Omitted, the stored description is left alone.
    type: str
  tags:
    description: Tags. Omitted, the stored tags are left alone.
    type: dict
  purge_tags:
    description: With O(tags), remove stored tags that O(tags) does not list.
    type: bool
    default: true
  replace_on_data_type_change:
    description:
      - Delete and re-create the parameter when its stored data type differs from O(data_type)
        (AWS cannot convert to or from C(aws:ec2:image)). Off, such a change fails naming both types.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait after writing an C(aws:ec2:image) parameter until the new version is
        readable (AWS validates the AMI asynchronously). V(0) does not wait.
    type: int
    default: 60
  state:
    description: V(present) creates or updates the parameter, V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Publish | Point the image parameter at the new AMI
  arena_ssm_parameter:
    name: /arena/staging/images/web
    value: ami-0123456789abcdef0
    data_type: "aws:ec2:image"
    description: Current web image of staging (launch templates resolve:ssm)
    tags:
      Project: arena
      Environment: staging
      Tier: web
      ManagedBy: ansible
    region: "{{ aws_guard_target.region }}"
    endpoint_url: "{{ aws_guard_target.endpoint_url or omit }}"
    profile: "{{ aws_guard_target.profile or omit }}"

- name: Teardown | Remove the image parameter
  arena_ssm_parameter:
    name: /arena/staging/images/web
    state: absent
    region: eu-west-1
"""

RETURN = r"""
parameter:
  description:
    - The parameter after the run; empty when absent. In check mode, what the run would write
      (C(version) is the version a write would create).
  returned: always
  type: dict
  contains:
    name:
      description: Parameter name.
      type: str
      sample: /arena/staging/images/web
    value:
      description: Parameter value.
      type: str
      sample: ami-0123456789abcdef0
    version:
      description: Parameter version.
      type: int
      sample: 3
    data_type:
      description: Data type.
      type: str
      sample: "aws:ec2:image"
    type:
      description: Parameter type.
      type: str
      sample: String
    description:
      description: Description (empty when none is stored).
      type: str
    tags:
      description: Tags.
      type: dict
      sample: {Project: arena, Tier: web}
"""

import contextlib
import time
from collections.abc import Callable
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    import botocore

from ansible.module_utils.arena_diff import MASK, diff_field, diff_if_asked
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

IMAGE = "aws:ec2:image"
STRING_TYPES = ("String", "StringList")
POLL_SECONDS = 2
# Every call passes aws_retry=True and retries, besides AWSRetry's throttling codes:
# - ThrottlingException ("Rate exceeded"): Parameter Store's throttling error when GetParameter /
#   PutParameter exceed the account's throughput (AWSRetry's own list has only "Throttling");
#   https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-throughput.html
# - TooManyUpdates: "There are concurrent updates for a resource that supports one update at a time"
#   (an error of PutParameter, AddTagsToResource and RemoveTagsFromResource);
#   https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html
RETRY = AWSRetry.jittered_backoff(catch_extra_error_codes=["ThrottlingException", "TooManyUpdates"])


class SsmParameterError(Exception):
    """Bad input or a failed write; the message is what the module reports."""


def validate(params: dict[str, Any]) -> None:
    if params["string_type"] == "SecureString":
        raise SsmParameterError(
            f"{params['name']}: string_type SecureString is refused: this module writes plain parameters "
            "(image ids); write secrets with community.aws.ssm_parameter and a KMS key"
        )
    if params["string_type"] not in STRING_TYPES:
        raise SsmParameterError(f"string_type must be String or StringList, got {params['string_type']!r}")
    if params["state"] == "present" and not params["value"]:
        raise SsmParameterError(f"{params['name']}: value is required (and not empty) with state=present")
    if params["data_type"] == IMAGE and params["string_type"] != "String":
        raise SsmParameterError(
            f"{params['name']}: data_type {IMAGE} needs string_type String, got {params['string_type']}"
        )
    if params["wait_timeout"] < 0:
        raise SsmParameterError(f"wait_timeout must be >= 0, got {params['wait_timeout']}")


def current_parameter(client: Any, name: str) -> dict[str, Any]:
    """The stored parameter in module terms, {} when there is none."""
    found = client.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}], aws_retry=True
    )
    meta = next((p for p in found.get("Parameters", []) if p["Name"] == name), None)
    if meta is None:
        return {}
    stored = client.get_parameter(Name=name, aws_retry=True)["Parameter"]
    tags = client.list_tags_for_resource(ResourceType="Parameter", ResourceId=name, aws_retry=True).get("TagList", [])
    return {
        "name": name,
        "value": stored["Value"],
        "version": stored["Version"],
        "data_type": stored.get("DataType") or meta.get("DataType") or "text",
        "type": stored["Type"],
        "description": meta.get("Description", ""),
        "tags": {t["Key"]: t["Value"] for t in tags},
    }


def wanted_parameter(params: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    description = params["description"]
    tags = params["tags"]
    if tags is None:
        tags = current.get("tags", {})
    elif not params["purge_tags"]:
        tags = current.get("tags", {}) | tags
    return {
        "name": params["name"],
        "value": params["value"],
        "data_type": params["data_type"],
        "type": params["string_type"],
        "description": current.get("description", "") if description is None else description,
        "tags": {str(k): str(v) for k, v in tags.items()},
    }


def diff_view(parameter: dict[str, Any]) -> dict[str, Any]:
    """What --diff shows of a parameter ({} for none); a SecureString's value (one written by
    another tool) is masked."""
    view = {k: parameter[k] for k in ("value", "data_type", "type", "description", "tags") if k in parameter}
    if view.get("type") == "SecureString":
        view["value"] = MASK
    return view


def put_request(wanted: dict[str, Any], *, create: bool) -> dict[str, Any]:
    request: dict[str, Any] = {
        "Name": wanted["name"],
        "Value": wanted["value"],
        "Type": wanted["type"],
        "DataType": wanted["data_type"],
    }
    if wanted["description"]:
        request["Description"] = wanted["description"]
    if create:
        if wanted["tags"]:
            request["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(wanted["tags"].items())]
    else:
        request["Overwrite"] = True  # PutParameter refuses Tags together with Overwrite
    return request


def tag_calls(name: str, have: dict[str, str], want: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []
    added = {k: v for k, v in sorted(want.items()) if have.get(k) != v}
    if added:
        calls.append(
            (
                "add_tags_to_resource",
                {
                    "ResourceType": "Parameter",
                    "ResourceId": name,
                    "Tags": [{"Key": k, "Value": v} for k, v in added.items()],
                },
            )
        )
    removed = sorted(set(have) - set(want))
    if removed:
        calls.append(
            ("remove_tags_from_resource", {"ResourceType": "Parameter", "ResourceId": name, "TagKeys": removed})
        )
    return calls


def wait_for_version(
    client: Any, wanted: dict[str, Any], version: int, timeout: int, sleep: Callable[[float], None]
) -> None:
    """Poll until `version` of the parameter is readable: AWS validates aws:ec2:image asynchronously."""
    waited = 0.0
    while True:
        try:
            stored = client.get_parameter(Name=wanted["name"], aws_retry=True)["Parameter"]
        except client.exceptions.ParameterNotFound:
            stored = {}
        if stored.get("Version", 0) >= version:
            if stored.get("Value") != wanted["value"]:
                raise SsmParameterError(
                    f"{wanted['name']}: version {stored['Version']} reads {stored.get('Value')!r}, "
                    f"not {wanted['value']!r} (written by someone else meanwhile?)"
                )
            return
        if waited >= timeout:
            raise SsmParameterError(
                f"{wanted['name']}: version {version} ({wanted['value']}) was not readable after {timeout} s: "
                f"Parameter Store rejects an {IMAGE} value that is not an AMI this account can use "
                "(check the AMI id, its region and its launch permissions)"
            )
        sleep(POLL_SECONDS)
        waited += POLL_SECONDS


def run(
    client: Any,
    params: dict[str, Any],
    check_mode: bool,
    sleep: Callable[[float], None] = time.sleep,
    show_diff: bool = False,
) -> dict[str, Any]:
    """The whole module without AnsibleModule: returns the result (with `diff` when `show_diff`),
    raises SsmParameterError."""
    validate(params)
    name = params["name"]
    current = current_parameter(client, name)
    if params["state"] == "absent":
        if not current:
            return {"changed": False, "parameter": {}}
        if not check_mode:
            client.delete_parameter(Name=name, aws_retry=True)
        return {"changed": True, "parameter": {}, **diff_field(show_diff, diff_view(current), {})}

    wanted = wanted_parameter(params, current)
    replace = bool(current) and current["data_type"] != wanted["data_type"]
    if replace and not params["replace_on_data_type_change"]:
        raise SsmParameterError(
            f"{name} is stored with data_type {current['data_type']}; AWS cannot change it to "
            f"{wanted['data_type']}: delete the parameter first or set replace_on_data_type_change=true"
        )
    create = not current or replace
    fields = ("value", "data_type", "type", "description")
    write = create or any(current[key] != wanted[key] for key in fields)
    calls: list[tuple[str, dict[str, Any]]] = []
    if replace:
        calls.append(("delete_parameter", {"Name": name}))
    if write:
        calls.append(("put_parameter", put_request(wanted, create=create)))
    if not create:
        calls.extend(tag_calls(name, current["tags"], wanted["tags"]))

    version = 1 if create else current["version"] + (1 if write else 0)
    changes = diff_field(show_diff, diff_view(current), diff_view(wanted))
    if check_mode or not calls:
        return {"changed": bool(calls), "parameter": wanted | {"version": version}, **changes}
    for method, request in calls:
        response = getattr(client, method)(aws_retry=True, **request)
        if method == "put_parameter":
            version = response["Version"]
    if write and wanted["data_type"] == IMAGE and params["wait_timeout"] > 0:
        wait_for_version(client, wanted, version, params["wait_timeout"], sleep)
    return {"changed": True, "parameter": wanted | {"version": version}, **changes}


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "value": {"type": "str"},
            "data_type": {"type": "str", "choices": ["text", IMAGE], "default": "text"},
            # No `choices` here: validate() refuses SecureString with a message that says why and
            # what to use instead, which Ansible's generic choices error would not.
            "string_type": {"type": "str", "default": "String"},
            "description": {"type": "str"},
            "tags": {"type": "dict"},
            "purge_tags": {"type": "bool", "default": True},
            "replace_on_data_type_change": {"type": "bool", "default": False},
            "wait_timeout": {"type": "int", "default": 60},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        supports_check_mode=True,
    )
    client = module.client("ssm", retry_decorator=RETRY)
    try:
        result = run(client, module.params, module.check_mode, show_diff=module._diff)
    except SsmParameterError as error:
        module.fail_json(msg=f"arena_ssm_parameter: {error}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg=f"arena_ssm_parameter: AWS call failed for {module.params['name']}")
    module.exit_json(**diff_if_asked(module, result))


if __name__ == "__main__":
    main()
