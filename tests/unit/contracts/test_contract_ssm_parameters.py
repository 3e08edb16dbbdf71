"""Contract: the instance role allows every SSM path and KMS key the tier's image reads at first
boot, and nothing else the image does not read.

Image side: roles/runtime_config/files/arena_runtime_config.py (the program itself runs here) with
the tier's runtime_config_tiers (packer/tiers/<tier>.yml): GetParametersByPath on
"<runtime_config_prefix>/<Environment tag>/<name>/", recursive, WithDecryption. Platform side: the
inline policy of the tier's instance role, rendered from
roles/platform_launch_templates/templates/instance_policy.json.j2 for each inventory; the parameters
(and the KMS key of each SecureString) that platform_cache, platform_email and platform_static
publish, rendered from their tasks.

The emulator checks IAM by action only (docs: ENVIRONMENT.md), so the policy is evaluated here as IAM
evaluates identity-based policies (arena_contracts.iam_allows):
- GetParametersByPath is authorized against the path in the request, not the parameters it returns
  (https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-retrieval-authorization.html);
  whether AWS keeps the request's trailing slash in that resource is not documented, so the path must
  be allowed with and without it;
- wildcards in a Resource ARN match within each colon-separated segment, * also nothing
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html);
- a SecureString under the AWS managed key aws/ssm needs no IAM grant (its key policy lets every
  principal of the account decrypt through SSM,
  https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-restrict-decryption.html); under a
  customer managed key the policy must allow kms:Decrypt on the key ARN, with the request context SSM
  presents: kms:ViaService ssm.<region>.amazonaws.com and the parameter's ARN as encryption context
  PARAMETER_ARN (https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html).

Issue 13, defect 2: api and admin read /arena/<env>/mail/ (SMTP credentials) but the policy allowed
only /arena/<env>/<tier>: AccessDenied at first boot. test_first_boot_reads_are_allowed fails on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from arena_contracts import (
    AWS_MANAGED_SSM_KEY,
    ENVIRONMENTS,
    TIERS,
    Image,
    Parameter,
    Platform,
    RuntimePath,
    iam_allows,
    image_side,
    platform_side,
    runtime_config_program,
)
from botocore.exceptions import ClientError

CASES = [pytest.param(tier, env, id=f"{tier}-{env}") for env in ENVIRONMENTS for tier in TIERS]
CMK = "arn:aws:kms:{region}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


class PolicyCheckedSsm:
    """The SSM client the image's first boot talks to: GetParametersByPath answers with the
    parameters the platform publishes, only as far as the instance policy allows (else
    AccessDeniedException, as SSM answers)."""

    def __init__(self, platform: Platform, policy: dict[str, Any]) -> None:
        self.platform, self.policy = platform, policy
        self.requests: list[dict[str, Any]] = []

    def get_paginator(self, operation: str) -> PolicyCheckedSsm:
        assert operation == "get_parameters_by_path", operation
        return self

    def paginate(self, **request: Any) -> Iterator[dict[str, Any]]:
        self.requests.append(request)
        path = request["Path"]
        for resource in sorted({self.platform.parameter_arn(path), self.platform.parameter_arn(path.rstrip("/"))}):
            if not iam_allows(self.policy, "ssm:GetParametersByPath", resource):
                raise denied("GetParametersByPath", f"ssm:GetParametersByPath on resource: {resource}")
        base = path.rstrip("/") + "/"
        found = [
            p
            for name, p in sorted(self.platform.parameters.items())
            if name.startswith(base) and (request.get("Recursive") or "/" not in name[len(base) :])
        ]
        for parameter in found:
            if parameter.type == "SecureString" and request.get("WithDecryption"):
                reason = decrypt_refused(self.platform, self.policy, parameter)
                if reason:
                    raise denied("GetParametersByPath", reason)
        yield {"Parameters": [{"Name": p.name, "Type": p.type, "Value": "contract-value"} for p in found]}


def denied(operation: str, what: str) -> ClientError:
    message = f"User: arn:aws:sts::123456789012:assumed-role/instance/i-0contract is not authorized to perform: {what}"
    return ClientError({"Error": {"Code": "AccessDeniedException", "Message": message}}, operation)


def decrypt_refused(platform: Platform, policy: dict[str, Any], parameter: Parameter) -> str | None:
    """Why KMS would refuse to decrypt the parameter for the instance role through SSM, or None."""
    if parameter.key_id == AWS_MANAGED_SSM_KEY:
        return None  # aws/ssm: every principal of the account, through SSM (ps-restrict-decryption)
    if ":key/" not in parameter.key_id:
        return f"kms:Decrypt of {parameter.name}: its key {parameter.key_id} is no key ARN an IAM policy can name"
    context = {
        "kms:ViaService": f"ssm.{platform.region}.amazonaws.com",
        "kms:EncryptionContext:PARAMETER_ARN": platform.parameter_arn(parameter.name),
    }
    if iam_allows(policy, "kms:Decrypt", parameter.key_id, context):
        return None
    return f"kms:Decrypt on resource: {parameter.key_id} (parameter {parameter.name})"


def check_first_boot_reads(image: Image, platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the image's first boot (one attempt) against the policy-checked SSM stand-in."""
    program = runtime_config_program()
    environment = platform.instance_tags(image.tier).get(image.environment_tag, "")
    source = tmp_path / "source.conf"
    source.write_text(f"ENVIRONMENT={environment}\nREGION={platform.region}\n", encoding="utf-8")
    ssm = PolicyCheckedSsm(platform, platform.instance_policies[image.tier])
    monkeypatch.setattr(program, "ssm_client", lambda _source, _settings: ssm)
    settings = program.Settings(
        tiers=[program.Tier(p.name, "root", list(p.required_keys)) for p in image.runtime_paths],
        prefix=image.runtime_prefix,
        source_file=str(source),
    )
    try:
        rendered = program.attempt(settings)
    except program.FetchError as err:
        pytest.fail(f"{image.tier} in {platform.environment}: first boot fails: {err}")
    assert sorted(rendered) == sorted(p.name for p in image.runtime_paths)
    assert [(r["Path"], r["Recursive"], r["WithDecryption"]) for r in ssm.requests] == [
        (f"{image.runtime_prefix}/{platform.environment}/{p.name}/", True, True) for p in image.runtime_paths
    ]


def check_reads_nothing_else(image: Image, platform: Platform) -> None:
    """Least privilege: of every path any tier reads, in this environment and the others, only the
    image's own paths are readable; no other parameter read action; no S3 object of the transfer bucket."""
    policy = platform.instance_policies[image.tier]
    reads = {p.name for p in image.runtime_paths}
    names = {p.name for t in TIERS for p in image_side(t).runtime_paths} | set(TIERS) | {"images"}
    for env in ENVIRONMENTS:
        root = f"{image.runtime_prefix}/{env}"
        for name in sorted(names):
            for path in (f"{root}/{name}", f"{root}/{name}/"):
                allowed = iam_allows(policy, "ssm:GetParametersByPath", platform.parameter_arn(path))
                assert allowed == (env == platform.environment and name in reads), (
                    f"{image.tier} in {platform.environment}: GetParametersByPath {path} "
                    f"{'allowed' if allowed else 'denied'}, the image reads {sorted(reads)}"
                )
        for path in (root, f"{root}/", image.runtime_prefix, "/"):
            assert not iam_allows(policy, "ssm:GetParametersByPath", platform.parameter_arn(path)), path
    for name in sorted(platform.parameters):
        for action in ("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParameterHistory"):
            assert not iam_allows(policy, action, platform.parameter_arn(name)), f"{image.tier}: {action} {name}"
    assert not iam_allows(policy, "s3:GetObject", f"arn:aws:s3:::{platform.ssm_transfer_bucket}/any"), image.tier


@pytest.mark.parametrize(("tier", "env"), CASES)
def test_first_boot_reads_are_allowed(tier: str, env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every GetParametersByPath of the image (and the decryption of every SecureString it gets) is
    allowed by the tier's instance policy, and every key the image requires is published."""
    check_first_boot_reads(image_side(tier), platform_side(env), tmp_path, monkeypatch)


@pytest.mark.parametrize(("tier", "env"), CASES)
def test_instance_role_reads_nothing_the_image_does_not(tier: str, env: str) -> None:
    check_reads_nothing_else(image_side(tier), platform_side(env))


# ---- each contract fails when one side changes alone -------------------------------------------

WITHOUT_MAIL = {"platform_launch_templates_runtime_paths": {"web": ["web"], "api": ["api"], "admin": ["admin", "mail"]}}
WITH_ADMIN = {
    "platform_launch_templates_runtime_paths": {
        "web": ["web"],
        "api": ["api", "mail", "admin"],
        "admin": ["admin", "mail"],
    }
}


def image_reading_also(image: Image, name: str, *required: str) -> Image:
    return dataclasses.replace(image, runtime_paths=(*image.runtime_paths, RuntimePath(name, required)))


def with_customer_key(platform: Platform, path_name: str) -> Platform:
    """The writer side encrypts the path's SecureStrings with a customer managed key instead of aws/ssm."""
    key = CMK.format(region=platform.region)
    prefix = f"/arena/{platform.environment}/{path_name}/"
    parameters = {
        n: dataclasses.replace(p, key_id=key) if n.startswith(prefix) and p.type == "SecureString" else p
        for n, p in platform.parameters.items()
    }
    return dataclasses.replace(platform, parameters=parameters)


@pytest.mark.parametrize(
    ("image", "platform"),
    [
        # platform side alone: the api policy without the mail path (defect 2 as it was)
        pytest.param(
            lambda: image_side("api"), lambda: platform_side("staging", **WITHOUT_MAIL), id="policy-without-mail"
        ),
        # image side alone: the web image reads one more path
        pytest.param(
            lambda: image_reading_also(image_side("web"), "cdn"), lambda: platform_side("staging"), id="image-reads-cdn"
        ),
        # image side alone: the admin image requires a mail key the platform does not publish
        pytest.param(
            lambda: image_reading_also(
                dataclasses.replace(image_side("admin"), runtime_paths=image_side("admin").runtime_paths[:1]),
                "mail",
                "SMTP_FROM",
            ),
            lambda: platform_side("production"),
            id="image-requires-smtp-from",
        ),
        # writer side alone: the SMTP password under a customer managed key the policy does not grant
        pytest.param(
            lambda: image_side("api"),
            lambda: with_customer_key(platform_side("staging"), "mail"),
            id="mail-under-a-customer-key",
        ),
    ],
)
def test_first_boot_contract_fails_when_one_side_changes(
    image: Any, platform: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(pytest.fail.Exception, match="first boot fails"):
        check_first_boot_reads(image(), platform(), tmp_path, monkeypatch)


def test_customer_key_of_a_runtime_path_is_granted_through_ssm_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """platform_launch_templates_parameter_kms_key_arns grants kms:Decrypt on the key, with
    kms:ViaService ssm.<region> and the tier's own parameter ARNs as encryption context: the first boot
    passes, and the grant neither works outside SSM nor for another tier's parameters."""
    key = CMK.format(region="eu-west-1")
    platform = with_customer_key(
        platform_side("staging", platform_launch_templates_parameter_kms_key_arns={"mail": key}), "mail"
    )
    check_first_boot_reads(image_side("api"), platform, tmp_path, monkeypatch)
    policy = platform.instance_policies["api"]
    mail = platform.parameter_arn("/arena/staging/mail/smtp_password")
    assert iam_allows(
        policy,
        "kms:Decrypt",
        key,
        {"kms:ViaService": "ssm.eu-west-1.amazonaws.com", "kms:EncryptionContext:PARAMETER_ARN": mail},
    )
    assert not iam_allows(policy, "kms:Decrypt", key, {"kms:EncryptionContext:PARAMETER_ARN": mail})
    assert not iam_allows(
        policy,
        "kms:Decrypt",
        key,
        {
            "kms:ViaService": "ssm.eu-west-1.amazonaws.com",
            "kms:EncryptionContext:PARAMETER_ARN": platform.parameter_arn("/arena/staging/admin/x"),
        },
    )
    # web reads no path under that key: no grant at all
    assert not any(s["Action"] == ["kms:Decrypt"] for s in platform.instance_policies["web"]["Statement"])


@pytest.mark.parametrize(
    ("image", "platform"),
    [
        # platform side alone: api may also read the admin path
        pytest.param(
            lambda: image_side("api"), lambda: platform_side("local", **WITH_ADMIN), id="policy-grants-admin-to-api"
        ),
        # image side alone: the admin image no longer reads mail
        pytest.param(
            lambda: dataclasses.replace(image_side("admin"), runtime_paths=image_side("admin").runtime_paths[:1]),
            lambda: platform_side("local"),
            id="admin-image-stops-reading-mail",
        ),
    ],
)
def test_least_privilege_contract_fails_when_one_side_changes(image: Any, platform: Any) -> None:
    with pytest.raises(AssertionError, match="GetParametersByPath"):
        check_reads_nothing_else(image(), platform())
