"""Service Quotas reads shared by the arena modules: a quota's value as it applies to the account.

GetServiceQuota answers the value applied to the account; while none has been applied (the quota
was never raised) it answers NoSuchResourceException and GetAWSDefaultServiceQuota gives AWS's
default, which then holds
(https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_GetServiceQuota.html,
https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_GetAWSDefaultServiceQuota.html).
``client`` is a service-quotas client from AnsibleAWSModule.client with a retry decorator: every
call passes ``aws_retry=True``.

Modules reach this file as ``ansible.module_utils.arena_service_quotas`` (ansible.cfg's
``module_utils``); used by arena_alb_capacity_reservation and arena_ec2_vcpu_quotas.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

APPLIED = "applied"
AWS_DEFAULT = "AWS default"


def read_quota(client: Any, service_code: str, quota_code: str) -> tuple[float, str]:
    """(value, source): the applied value, or AWS's default while none is applied."""
    try:
        quota = client.get_service_quota(ServiceCode=service_code, QuotaCode=quota_code, aws_retry=True)
        return quota["Quota"]["Value"], APPLIED
    except is_boto3_error_code("NoSuchResourceException"):
        quota = client.get_aws_default_service_quota(ServiceCode=service_code, QuotaCode=quota_code, aws_retry=True)
        return quota["Quota"]["Value"], AWS_DEFAULT
