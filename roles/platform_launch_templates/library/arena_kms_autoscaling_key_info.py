#!/usr/bin/python
# Copyright: arena-infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read a KMS key EC2 Auto Scaling would encrypt volumes with, and say which documented grants its key policy lacks."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arena_kms_autoscaling_key_info
short_description: Check that EC2 Auto Scaling may use a KMS key for encrypted EBS volumes
description:
  - Reads the key (kms DescribeKey) and, for a customer managed key of the caller's account, its
    C(default) key policy (kms GetKeyPolicy), and lists what keeps EC2 Auto Scaling from launching
    instances whose volumes the key encrypts (AWS, "Required AWS KMS key policy for use with
    encrypted volumes",
    U(https://docs.aws.amazon.com/autoscaling/ec2/userguide/key-policy-requirements-EBS-encryption.html)).
  - The key policy must let the Auto Scaling service-linked role use the key (kms:Encrypt,
    kms:Decrypt, kms:ReEncrypt*, kms:GenerateDataKey*, kms:DescribeKey) and create grants for AWS
    resources (kms:CreateGrant with kms:GrantIsForAWSResource true). A grant to the account (root)
    is not enough; the service-linked role's own permissions exclude customer managed keys.
  - The key must be enabled and symmetric (EBS supports no asymmetric key). The AWS managed key
    C(alias/aws/ebs) needs nothing; another service's AWS managed key cannot encrypt volumes.
  - A key of another account is refused; GetKeyPolicy does not work across accounts, so its policy
    cannot be checked (cross-account keys need a grant to the service-linked role, made by hand).
  - Read-only; replaces C(amazon.aws.kms_key_info), which also lists every alias, the grants, tags and
    rotation status of the key (five more calls and permissions), returns nothing when DescribeKey is
    denied, and does not evaluate the policy.
  - Not in the C(group/aws) module-defaults group; pass I(region) and I(endpoint_url) explicitly.
options:
  key_id:
    description: Key id, key ARN, C(alias/<name>) or alias ARN.
    type: str
    required: true
  service_linked_role_name:
    description: Name of the Auto Scaling service-linked role the groups use.
    type: str
    default: AWSServiceRoleForAutoScaling
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - arena-infra
"""

EXAMPLES = r"""
- name: Validate | Read the root volumes' key and its key policy
  arena_kms_autoscaling_key_info:
    key_id: alias/arena-ebs
    region: eu-west-1
  register: key

- name: Validate | Require the grants Auto Scaling needs
  ansible.builtin.assert:
    that: key.problems | length == 0
    fail_msg: "{{ key.problems | join('; ') }}"
"""

RETURN = r"""
key:
  description: The key as DescribeKey reports it (empty when it was not found).
  returned: always
  type: dict
  sample: {arn: "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
           account_id: "123456789012", key_manager: CUSTOMER, key_state: Enabled,
           key_spec: SYMMETRIC_DEFAULT, key_usage: ENCRYPT_DECRYPT}
service_linked_role_arn:
  description: ARN of the service-linked role the policy must name.
  returned: always
  type: str
policy:
  description: The key's default key policy (customer managed keys of the caller's account).
  returned: when read
  type: dict
problems:
  description: What keeps Auto Scaling from using the key; empty when nothing does.
  returned: always
  type: list
  elements: str
"""

import contextlib
import json
import re
from typing import Any

with contextlib.suppress(ImportError):  # a missing botocore is reported by AnsibleAWSModule
    import botocore

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

DOC = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/key-policy-requirements-EBS-encryption.html"
AWS_MANAGED_EBS = "alias/aws/ebs"

# The two key policy statements of the AWS page: each documented action pattern with the concrete
# actions it stands for on a symmetric key, and the request context EBS presents for it.
USE = (
    ("kms:Encrypt", ("kms:Encrypt",)),
    ("kms:Decrypt", ("kms:Decrypt",)),
    ("kms:ReEncrypt*", ("kms:ReEncryptFrom", "kms:ReEncryptTo")),
    ("kms:GenerateDataKey*", ("kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext")),
    ("kms:DescribeKey", ("kms:DescribeKey",)),
)
GRANT = ("kms:CreateGrant (with kms:GrantIsForAWSResource true)", ("kms:CreateGrant",))

# KMS answers throttling with ThrottlingException and asks to retry DependencyTimeoutException and
# KMSInternalException (https://docs.aws.amazon.com/kms/latest/developerguide/throttling.html); AWSRetry
# retries none of them by default (STS's "Throttling" it does).
KMS_RETRY_CODES = ["ThrottlingException", "DependencyTimeoutException", "KMSInternalException"]

# Condition operators evaluated here; a statement with any other one cannot be proven to apply.
NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike"}
OPERATORS = {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "Bool", "ArnEquals", "ArnLike"} | NEGATED


def dns_suffix(region: str) -> str:
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def service_linked_role_arn(partition: str, account: str, name: str) -> str:
    return f"arn:{partition}:iam::{account}:role/aws-service-role/autoscaling.amazonaws.com/{name}"


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def wildcard(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's * (any characters) and ? (one character), nothing else special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def names_principal(principal: Any, role_arn: str) -> bool:
    """Principal "*", {"AWS": "*"} or {"AWS": [..., role_arn, ...]}; an account (root) does not count."""
    if principal == "*":
        return True
    if isinstance(principal, dict):
        listed = as_list(principal.get("AWS"))
        return "*" in listed or role_arn in listed
    return False


def applies_to_principal(statement: dict[str, Any], role_arn: str) -> bool:
    if "Principal" in statement:
        return names_principal(statement["Principal"], role_arn)
    if "NotPrincipal" in statement:
        return not names_principal(statement["NotPrincipal"], role_arn)
    return False


def covers_action(statement: dict[str, Any], action: str) -> bool:
    if "Action" in statement:
        return any(wildcard(p, action, ignore_case=True) for p in as_list(statement["Action"]))
    if "NotAction" in statement:
        return not any(wildcard(p, action, ignore_case=True) for p in as_list(statement["NotAction"]))
    return False


def covers_key(statement: dict[str, Any], key_arn: str) -> bool:
    """In a key policy "*" is the key itself."""
    if "Resource" in statement:
        return any(p == "*" or wildcard(p, key_arn) for p in as_list(statement["Resource"]))
    if "NotResource" in statement:
        return not any(p == "*" or wildcard(p, key_arn) for p in as_list(statement["NotResource"]))
    return False


def condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool | None:
    """True or False for the operators above; None when an operator is not evaluated here."""
    lowered = {k.lower(): v for k, v in context.items()}
    for operator, block in (condition or {}).items():
        base = operator[: -len("IfExists")] if operator.endswith("IfExists") else operator
        if base not in OPERATORS:
            return None
        for key, wanted in block.items():
            actual = lowered.get(key.lower())
            if actual is None:
                if operator.endswith("IfExists") or base in NEGATED:
                    continue
                return False
            values = [str(v) for v in as_list(wanted)]
            if base in {"StringEquals", "ArnEquals", "StringNotEquals", "ArnNotEquals"}:
                hit = actual in values
            elif base in {"StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "Bool"}:
                hit = actual.lower() in [v.lower() for v in values]
            else:  # StringLike, ArnLike and their negations
                hit = any(wildcard(v, actual) for v in values)
            if hit == (base in NEGATED):
                return False
    return True


def decision(policy: dict[str, Any], role_arn: str, key_arn: str, action: str, context: dict[str, str]) -> str:
    """allowed, denied or unproven (only conditions this module does not evaluate would allow it)."""
    allowed, unproven = False, False
    for statement in as_list(policy.get("Statement")):
        if not (applies_to_principal(statement, role_arn) and covers_action(statement, action)):
            continue
        if not covers_key(statement, key_arn):
            continue
        holds = condition_holds(statement.get("Condition") or {}, context)
        if statement.get("Effect") == "Deny" and holds is not False:
            return "denied"  # an explicit deny wins; one that may apply counts as applying
        if statement.get("Effect") == "Allow":
            allowed = allowed or holds is True
            unproven = unproven or holds is None
    if allowed:
        return "allowed"
    return "unproven" if unproven else "denied"


def policy_problems(policy: dict[str, Any], role_arn: str, key_arn: str, region: str) -> list[str]:
    """The documented grants the key policy does not give the service-linked role."""
    base = {
        "aws:PrincipalArn": role_arn,
        "aws:PrincipalAccount": role_arn.split(":")[4],
        "kms:CallerAccount": role_arn.split(":")[4],
        "kms:ViaService": f"ec2.{region}.{dns_suffix(region)}",
    }
    missing, unproven = [], []
    for label, actions, extra in [(label, actions, {}) for label, actions in USE] + [
        (GRANT[0], GRANT[1], {"kms:GrantIsForAWSResource": "true"})
    ]:
        verdicts = {decision(policy, role_arn, key_arn, a, {**base, **extra}) for a in actions}
        if "denied" in verdicts:
            missing.append(label)
        elif "unproven" in verdicts:
            unproven.append(label)
    problems = []
    if missing:
        problems.append(
            f"its key policy does not allow the Auto Scaling service-linked role {role_arn} {', '.join(missing)}"
        )
    if unproven:
        problems.append(
            f"its key policy allows the Auto Scaling service-linked role {role_arn} {', '.join(unproven)} "
            "only under conditions this check does not evaluate"
        )
    return problems


def key_problems(meta: dict[str, Any], account: str) -> list[str]:
    """Problems DescribeKey alone shows (the key's state, type, manager and account)."""
    problems = []
    if meta.get("KeyState") != "Enabled":
        problems.append(f"the key is {meta.get('KeyState')}, not Enabled")
    # The emulator omits KeyUsage; AWS always returns it (ENCRYPT_DECRYPT is CreateKey's default).
    spec, usage = meta.get("KeySpec", "SYMMETRIC_DEFAULT"), meta.get("KeyUsage", "ENCRYPT_DECRYPT")
    if spec != "SYMMETRIC_DEFAULT" or usage != "ENCRYPT_DECRYPT":
        problems.append(f"the key is {spec}/{usage}: EBS encrypts only with symmetric ENCRYPT_DECRYPT keys")
    if meta.get("AWSAccountId") != account:
        problems.append(
            f"the key belongs to account {meta.get('AWSAccountId')}, not {account}: its key policy cannot be read "
            "from here (GetKeyPolicy does not work across accounts); use a key of this account"
        )
    return problems


def is_aws_managed_ebs(key_id: str) -> bool:
    return key_id == AWS_MANAGED_EBS or key_id.endswith(":" + AWS_MANAGED_EBS)


def read(kms: Any, sts: Any, key_id: str, role_name: str, region: str) -> dict[str, Any]:
    """What the module returns, from DescribeKey, GetKeyPolicy (and ListAliases for an AWS managed key)."""
    caller = sts.get_caller_identity(aws_retry=True)
    partition = caller["Arn"].split(":")[1]
    role_arn = service_linked_role_arn(partition, caller["Account"], role_name)
    result: dict[str, Any] = {"key": {}, "service_linked_role_arn": role_arn, "problems": []}
    if is_aws_managed_ebs(key_id):
        return result  # Auto Scaling needs no authorization for the AWS managed EBS key (DOC)
    try:
        meta = kms.describe_key(KeyId=key_id, aws_retry=True)["KeyMetadata"]
    except botocore.exceptions.ClientError as err:
        if err.response.get("Error", {}).get("Code") != "NotFoundException":
            raise
        result["problems"] = [
            f"no such key in {region} (KMS is eventually consistent: a key made moments ago may need a retry)"
        ]
        return result
    result["key"] = {
        "arn": meta["Arn"],
        "account_id": meta.get("AWSAccountId"),
        "key_manager": meta.get("KeyManager"),
        "key_state": meta.get("KeyState"),
        "key_spec": meta.get("KeySpec"),
        "key_usage": meta.get("KeyUsage"),
    }
    problems = key_problems(meta, caller["Account"])
    if problems:  # an unusable key or one whose policy cannot be read: the policy changes nothing
        result["problems"] = problems
        return result
    if meta.get("KeyManager") == "AWS":
        aliases = kms.list_aliases(KeyId=meta["KeyId"], aws_retry=True)["Aliases"]
        if AWS_MANAGED_EBS not in [a["AliasName"] for a in aliases]:
            problems.append(
                f"it is another service's AWS managed key: only {AWS_MANAGED_EBS} or a customer managed key "
                "can encrypt EBS volumes"
            )
        result["problems"] = problems
        return result
    policy = json.loads(kms.get_key_policy(KeyId=meta["Arn"], PolicyName="default", aws_retry=True)["Policy"])
    result["policy"] = policy
    result["problems"] = policy_problems(policy, role_arn, meta["Arn"], region)
    return result


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "key_id": {"type": "str", "required": True},
            "service_linked_role_name": {"type": "str", "default": "AWSServiceRoleForAutoScaling"},
        },
        supports_check_mode=True,
    )
    kms = module.client("kms", retry_decorator=AWSRetry.jittered_backoff(catch_extra_error_codes=KMS_RETRY_CODES))
    sts = module.client("sts", retry_decorator=AWSRetry.jittered_backoff())
    try:
        result = read(kms, sts, module.params["key_id"], module.params["service_linked_role_name"], module.region)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
        module.fail_json_aws(err, msg=f"arena_kms_autoscaling_key_info: cannot read the key {module.params['key_id']}")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
