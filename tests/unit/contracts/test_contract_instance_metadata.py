"""Contract: the launch template's metadata options and tags serve every instance metadata (IMDS)
path the tier's image reads at first boot.

Image side: roles/runtime_config/files/arena_runtime_config.py, run here as on the instance: an
IMDSv2 token (PUT /latest/api/token), the identity document (region) and the instance tag
runtime_config_environment_tag under /latest/meta-data/tags/instance/; then boto3 takes the instance
role's credentials from /latest/meta-data/iam/security-credentials/ (botocore's own
InstanceMetadataFetcher runs here). Platform side: the launch template of
roles/platform_launch_templates (metadata_options, iam_instance_profile, the instance tags of
tag_specifications) and the tags roles/platform_autoscaling propagates at launch, rendered per
inventory.

The emulator serves no IMDS, so arena_contracts.InstanceMetadata answers as AWS documents it:
- with http_tokens required, a GET without a valid token gets 401; tokens come from PUT with a TTL
  of 1-21600 s
  (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html);
- tags are served only when instance_metadata_tags is enabled (404 otherwise), and then EC2 refuses
  to launch an instance with a tag key other than letters, digits and + - = . , _ : @ or one that is
  only ".", ".." or "_index"
  (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/work-with-tags-in-IMDS.html);
- http_endpoint disabled: nothing answers.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from arena_contracts import (
    ENVIRONMENTS,
    TIERS,
    Image,
    InstanceMetadata,
    LaunchRefused,
    Platform,
    image_side,
    imds_tag_key_problem,
    platform_side,
    runtime_config_program,
    serve,
)
from botocore.utils import InstanceMetadataFetcher

CASES = [pytest.param(tier, env, id=f"{tier}-{env}") for env in ENVIRONMENTS for tier in TIERS]


def check_first_boot_metadata(image: Image, platform: Platform) -> None:
    template = platform.launch_templates[image.tier]
    options = template["metadata_options"]
    # The reader is a host process (arena-runtime-config.service), one hop from IMDS.
    assert 1 <= int(options.get("http_put_response_hop_limit", 1)) <= 64, options
    try:
        imds = InstanceMetadata(
            options,
            platform.instance_tags(image.tier),
            platform.region,
            platform.account,
            role=template.get("iam_instance_profile"),  # the profile holds the role of the same name
        )
    except LaunchRefused as err:
        pytest.fail(f"{image.tier} in {platform.environment}: EC2 would not launch the instance: {err}")
    program = runtime_config_program()
    with serve(imds) as url:
        settings = program.Settings(
            tiers=[program.Tier(p.name) for p in image.runtime_paths],
            prefix=image.runtime_prefix,
            source_file="/nonexistent/source.conf",  # no test override: IMDS only
            imds_url=url,
            environment_tag=image.environment_tag,
            timeout=2.0,
        )
        try:
            source = program.resolve_source(settings)
        except program.FetchError as err:
            pytest.fail(f"{image.tier} in {platform.environment}: first boot cannot read IMDS: {err}")
        assert source == {"REGION": platform.region, "ENVIRONMENT": platform.environment}
        fetcher = InstanceMetadataFetcher(timeout=2, num_attempts=1, base_url=url + "/")
        credentials = fetcher.retrieve_iam_role_credentials()
        if not credentials:
            pytest.fail(f"{image.tier} in {platform.environment}: boto3 gets no instance role credentials from IMDS")
    # Every IMDS read was served, none needed IMDSv1.
    assert all(status == 200 for _, _, status in imds.requests), imds.requests


@pytest.mark.parametrize(("tier", "env"), CASES)
def test_first_boot_reads_the_instance_metadata_the_launch_template_serves(tier: str, env: str) -> None:
    check_first_boot_metadata(image_side(tier), platform_side(env))


@pytest.mark.parametrize(("tier", "env"), CASES)
def test_instance_tag_keys_fit_instance_metadata(tier: str, env: str) -> None:
    """Every tag an instance gets (launch template and Auto Scaling group) has a key EC2 accepts
    while tags are in instance metadata; else the group never launches an instance."""
    platform = platform_side(env)
    assert platform.launch_templates[tier]["metadata_options"]["instance_metadata_tags"] == "enabled"
    problems = [p for p in map(imds_tag_key_problem, platform.instance_tags(tier)) if p]
    assert problems == []


def with_options(platform: Platform, tier: str, **options: Any) -> Platform:
    templates = dict(platform.launch_templates)
    templates[tier] = {**templates[tier], "metadata_options": {**templates[tier]["metadata_options"], **options}}
    return dataclasses.replace(platform, launch_templates=templates)


def with_tags(platform: Platform, tier: str, tags: dict[str, str]) -> Platform:
    return dataclasses.replace(platform, autoscaling_tags={**platform.autoscaling_tags, tier: tags})


@pytest.mark.parametrize(
    ("image", "platform", "message"),
    [
        # platform side alone: tags not in instance metadata (404 for the Environment tag)
        pytest.param(
            lambda: image_side("web"),
            lambda: with_options(platform_side("staging"), "web", instance_metadata_tags="disabled"),
            "IMDS answered 404",
            id="tags-disabled",
        ),
        # platform side alone: no IMDS at all
        pytest.param(
            lambda: image_side("api"),
            lambda: with_options(platform_side("production"), "api", http_endpoint="disabled"),
            "IMDS unreachable",
            id="endpoint-disabled",
        ),
        # platform side alone: no instance profile, so no credentials
        pytest.param(
            lambda: image_side("admin"),
            lambda: dataclasses.replace(
                platform_side("local"),
                launch_templates={
                    **platform_side("local").launch_templates,
                    "admin": {**platform_side("local").launch_templates["admin"], "iam_instance_profile": None},
                },
            ),
            "no instance role credentials",
            id="no-instance-profile",
        ),
        # platform side alone: an Auto Scaling tag key IMDS cannot carry
        pytest.param(
            lambda: image_side("web"),
            lambda: with_tags(platform_side("staging"), "web", {"cost/center": "events"}),
            "would not launch",
            id="tag-key-with-slash",
        ),
        # image side alone: the image reads another tag
        pytest.param(
            lambda: dataclasses.replace(image_side("api"), environment_tag="Stage"),
            lambda: platform_side("staging"),
            "IMDS answered 404",
            id="image-reads-stage-tag",
        ),
    ],
)
def test_instance_metadata_contract_fails_when_one_side_changes(image: Any, platform: Any, message: str) -> None:
    with pytest.raises(pytest.fail.Exception, match=message):
        check_first_boot_metadata(image(), platform())


def test_imds_model_refuses_imdsv1_when_tokens_are_required() -> None:
    """The model itself: with http_tokens required, a GET without a token is refused (401)."""
    imds = InstanceMetadata(
        {"http_tokens": "required", "instance_metadata_tags": "enabled"}, {"A": "b"}, "eu-west-1", "1", None
    )
    assert imds.answer("GET", "/latest/meta-data/tags/instance/A", {}) == (401, "")
    status, token = imds.answer("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "21600"})
    assert status == 200
    assert imds.answer("GET", "/latest/meta-data/tags/instance/A", {"X-aws-ec2-metadata-token": token}) == (200, "b")
    assert imds.answer("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "21601"})[0] == 400
