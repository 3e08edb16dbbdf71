"""The lab's AWS emulator: moto's server with AWS behaviours that moto 5.2 lacks.

Started by scripts/emulator.sh (same arguments as moto_server). Each patch makes the emulator do
what the AWS API reference says, so that create -> teardown -> create works in one emulator as it
does on AWS; none of them makes the emulator accept more than AWS does.

- DeleteCacheSubnetGroup (moto: "not implemented"). AWS deletes the group, refuses one that a cache
  uses (CacheSubnetGroupInUse) and an unknown one (CacheSubnetGroupNotFoundFault):
  https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DeleteCacheSubnetGroup.html
- DeleteReplicationGroup (moto keeps the group "deleting" for ever). On AWS the group is gone when
  the deletion ends; here it ends at once, after the answer that shows it "deleting":
  https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DeleteReplicationGroup.html
- DeleteConfigurationSet (SES; moto keeps the set's event destinations, whose names it holds
  globally, so the next create of the same destination fails with EventDestinationAlreadyExists).
  AWS deletes the set with its destinations:
  https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_DeleteConfigurationSet.html
- ListServiceSpecificCredentials (IAM; moto: "not implemented", and amazon.aws's iam_user absent
  lists them before DeleteUser). moto cannot create such credentials, so a user has none: the answer
  is the empty list, or NoSuchEntity for an unknown user, as AWS answers:
  https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListServiceSpecificCredentials.html
- CreateLaunchTemplateVersion with SourceVersion (moto ignores it and stores only the data given).
  AWS: "the new version inherits the launch parameters from the source version", and the parameters
  given "overwrite any corresponding launch parameters inherited" (a release gives only ImageId):
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateLaunchTemplateVersion.html
- StartInstanceRefresh and DescribeInstanceRefreshes (Auto Scaling; moto: "not implemented"). The
  emulator runs no instances, so a refresh here ends at once in the state AWS leaves a successful
  one in: the group on the DesiredConfiguration (its launch template version), status Successful.
  It refuses what AWS refuses before a refresh starts: AutoRollback without a desired configuration,
  or with a group or desired configuration on $Latest/$Default, or a template whose ImageId is an
  SSM parameter; MaxHealthyPercentage without MinHealthyPercentage or more than 100 above it;
  CheckpointDelay without CheckpointPercentages; checkpoints not ascending or not unique:
  https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_StartInstanceRefresh.html
  https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RefreshPreferences.html
- EnableImageDeprecation (EC2; moto: "not implemented", and DescribeImages has no DeprecationTime).
  The time is rounded to the nearest minute and shown as the image's DeprecationTime; refused, as
  AWS refuses it, when in the past or more than 10 years ahead (for a public image, more than 2
  years after its creation), and for an unknown image (InvalidAMIID.NotFound):
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableImageDeprecation.html
- CreateSnapshot of an encrypted volume (moto leaves out the KMS key) and RegisterImage from a
  snapshot (moto ignores BlockDeviceMappings and gives the AMI a snapshot of its own). AWS: a snapshot
  is encrypted with its volume's key, and an AMI registered from a snapshot launches from it, so a
  release can read the key an image's volumes are encrypted with:
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Snapshot.html
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RegisterImage.html
- RequestCertificate (ACM; moto issues a requested certificate 60 s after the request). AWS keeps
  it PENDING_VALIDATION until its validation is done, which the lab never does, and after 72 hours
  of attempts gives it VALIDATION_TIMED_OUT. With moto's 60 s, a refusal of a pending certificate
  saw an ISSUED one when its run reached the check over a minute late under load (CI, 2026-12-06):
  https://docs.aws.amazon.com/acm/latest/APIReference/API_CertificateDetail.html
- PutCompositeAlarm (CloudWatch; moto: "not implemented", though its alarm model keeps a rule and
  DescribeAlarms answers the alarms with one as CompositeAlarms, without their AlarmRule). Here it is
  moto's PutMetricAlarm, which stores AlarmName, AlarmRule, AlarmDescription, ActionsEnabled,
  AlarmActions, OKActions and Tags, and DescribeAlarms shows the rule; the request is pinned with
  botocore's Stubber in tests/unit/library/test_arena_cloudwatch_metric_alarms.py. Refused as AWS
  refuses it: a rule over 10240 characters:
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutCompositeAlarm.html
"""

from __future__ import annotations

import copy
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from moto import server
from moto.acm.models import CertBundle
from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.responses import AutoScalingResponse
from moto.cloudwatch.exceptions import ValidationError as CloudWatchValidationError
from moto.cloudwatch.models import Alarm
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.ec2.exceptions import InvalidAMIIdError, InvalidParameterValue
from moto.ec2.models import ec2_backends
from moto.ec2.models.elastic_block_store import EBSBackend
from moto.ec2.responses.amis import AmisResponse
from moto.ec2.responses.launch_templates import LaunchTemplates
from moto.elasticache.exceptions import CacheSubnetGroupNotFound, ElastiCacheException
from moto.elasticache.models import ElastiCacheBackend
from moto.elasticache.responses import ElastiCacheResponse
from moto.iam.responses import IamResponse
from moto.ses.models import SESBackend


class CacheSubnetGroupInUse(ElastiCacheException):
    code = 400

    def __init__(self, name: str) -> None:
        super().__init__("CacheSubnetGroupInUse", f"Cache subnet group {name} is currently in use.")


def delete_cache_subnet_group(self: ElastiCacheBackend, cache_subnet_group_name: str) -> None:
    if cache_subnet_group_name not in self.cache_subnet_groups:
        raise CacheSubnetGroupNotFound(cache_subnet_group_name)
    users = [
        *(g.cache_subnet_group_name for g in self.replication_groups.values()),
        *(c.cache_subnet_group_name for c in self.cache_clusters.values()),
    ]
    if cache_subnet_group_name in users:
        raise CacheSubnetGroupInUse(cache_subnet_group_name)
    del self.cache_subnet_groups[cache_subnet_group_name]


def delete_cache_subnet_group_response(self: ElastiCacheResponse) -> EmptyResult:
    self.elasticache_backend.delete_cache_subnet_group(self._get_param("CacheSubnetGroupName"))
    return EmptyResult()


_delete_replication_group = ElastiCacheBackend.delete_replication_group


def delete_replication_group(self: ElastiCacheBackend, replication_group_id: str, *args: Any, **kwargs: Any) -> Any:
    group = _delete_replication_group(self, replication_group_id, *args, **kwargs)
    self.replication_groups.pop(replication_group_id, None)
    return group


_delete_configuration_set = SESBackend.delete_configuration_set


def delete_configuration_set(self: SESBackend, configuration_set_name: str) -> None:
    _delete_configuration_set(self, configuration_set_name)
    destination = self.config_set_event_destination.pop(configuration_set_name, None)
    if destination:
        self.event_destinations.pop(destination.get("Name", ""), None)


def list_service_specific_credentials(self: IamResponse) -> ActionResult:
    user_name = self._get_param("UserName")
    if user_name:
        self.backend.get_user(user_name)  # NoSuchEntity for an unknown user
    return ActionResult({"ServiceSpecificCredentials": []})


_create_launch_template_version = LaunchTemplates.create_launch_template_version


def create_launch_template_version(self: LaunchTemplates) -> ActionResult:
    source = self._get_param("SourceVersion")
    if not source:
        return _create_launch_template_version(self)
    name, template_id = self._get_param("LaunchTemplateName"), self._get_param("LaunchTemplateId")
    template = (
        self.ec2_backend.get_launch_template(template_id)
        if template_id
        else self.ec2_backend.get_launch_template_by_name(name)
    )
    data = {**copy.deepcopy(template.get_version(source).data), **self._get_param("LaunchTemplateData", {})}
    self.error_on_dryrun()
    version = template.create_version(data, self._get_param("VersionDescription"))
    return ActionResult(
        {
            "LaunchTemplateVersion": {
                "CreateTime": version.create_time,
                "CreatedBy": f"arn:{self.partition}:iam::{self.current_account}:root",
                "DefaultVersion": template.is_default(version),
                "LaunchTemplateData": version.data,
                "LaunchTemplateId": template.id,
                "LaunchTemplateName": template.name,
                "VersionDescription": version.description,
                "VersionNumber": version.number,
            }
        }
    )


def _refresh_spec(group: Any, desired: dict[str, Any] | None) -> dict[str, Any]:
    """The launch template specification a refresh leaves the group on."""
    if desired:
        return (
            desired.get("LaunchTemplate")
            or desired["MixedInstancesPolicy"]["LaunchTemplate"]["LaunchTemplateSpecification"]
        )
    return {"LaunchTemplateName": group.launch_template.name, "Version": group.launch_template_version}


def _validate_refresh(self: AutoScalingResponse, group: Any, prefs: dict[str, Any], desired: dict[str, Any] | None):
    checkpoints = prefs.get("CheckpointPercentages") or []
    if "CheckpointDelay" in prefs and not checkpoints:
        raise ValidationError("CheckpointDelay requires CheckpointPercentages.")
    if checkpoints != sorted(set(checkpoints)):
        raise ValidationError("CheckpointPercentages must be unique and in ascending order.")
    if "MaxHealthyPercentage" in prefs:
        low = prefs.get("MinHealthyPercentage")
        if low is None or prefs["MaxHealthyPercentage"] - low > 100:
            raise ValidationError("MaxHealthyPercentage needs MinHealthyPercentage, at most 100 below it.")
    if not prefs.get("AutoRollback"):
        return
    if not desired:
        raise ValidationError("AutoRollback requires a desired configuration.")
    spec = _refresh_spec(group, desired)
    for version in (group.launch_template_version, spec.get("Version", "$Default")):
        if str(version).lower() in ("$latest", "$default"):
            raise ValidationError("AutoRollback is not supported with the $Latest or $Default version.")
    ec2 = ec2_backends[self.current_account][self.region]
    template = (
        ec2.get_launch_template(spec["LaunchTemplateId"])
        if spec.get("LaunchTemplateId")
        else ec2.get_launch_template_by_name(spec["LaunchTemplateName"])
    )
    for version in (group.launch_template_version, spec["Version"]):
        if str(template.get_version(version).data.get("ImageId", "")).startswith("resolve:ssm:"):
            raise ValidationError("AutoRollback is not supported with an SSM parameter as the ImageId.")


def start_instance_refresh(self: AutoScalingResponse) -> ActionResult:
    name = self._get_param("AutoScalingGroupName")
    group = self.autoscaling_backend.describe_auto_scaling_groups([name])
    if not group:
        raise ValidationError(f"AutoScalingGroup name not found - {name}")
    group = group[0]
    prefs, desired = self._get_param("Preferences") or {}, self._get_param("DesiredConfiguration")
    _validate_refresh(self, group, prefs, desired)
    if desired:
        policy = desired.get("MixedInstancesPolicy")
        group.update(
            availability_zones=[],
            desired_capacity=None,
            max_size=None,
            min_size=None,
            launch_config_name=None,
            launch_template=None if policy else desired["LaunchTemplate"],
            vpc_zone_identifier=None,
            health_check_period=None,
            health_check_type=None,
            mixed_instances_policy=policy,
        )
    refresh = {
        "InstanceRefreshId": str(uuid.uuid4()),
        "AutoScalingGroupName": name,
        "Status": "Successful",
        "StatusReason": "The emulator runs no instances: the refresh ends at once.",
        "StartTime": utcnow(),
        "EndTime": utcnow(),
        "PercentageComplete": 100,
        "InstancesToUpdate": 0,
        "Preferences": prefs,
        **({"DesiredConfiguration": desired} if desired else {}),
    }
    refreshes = self.autoscaling_backend.__dict__.setdefault("arena_instance_refreshes", [])
    refreshes.append(refresh)
    return ActionResult({"InstanceRefreshId": refresh["InstanceRefreshId"]})


def describe_instance_refreshes(self: AutoScalingResponse) -> ActionResult:
    name = self._get_param("AutoScalingGroupName")
    wanted = self._get_param("InstanceRefreshIds") or []
    found = [
        r
        for r in reversed(self.autoscaling_backend.__dict__.get("arena_instance_refreshes", []))
        if r["AutoScalingGroupName"] == name and (not wanted or r["InstanceRefreshId"] in wanted)
    ]
    return ActionResult({"InstanceRefreshes": found})


def _years_after(when: datetime, years: int) -> datetime:
    try:
        return when.replace(year=when.year + years)
    except ValueError:  # 29 February
        return when.replace(year=when.year + years, day=28)


def enable_image_deprecation(self: AmisResponse) -> ActionResult:
    image_id, value = self._get_param("ImageId"), self._get_param("DeprecateAt")
    self.error_on_dryrun()
    image = self.ec2_backend.amis.get(image_id)
    if image is None:
        raise InvalidAMIIdError(image_id)
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    when = (when + timedelta(seconds=30)).replace(second=0, microsecond=0)  # seconds round to the minute
    now = datetime.now(UTC)
    created = image.creation_date if image.creation_date.tzinfo else image.creation_date.replace(tzinfo=UTC)
    latest = _years_after(created, 2) if image.is_public else _years_after(now, 10)
    if when < now or when > latest:
        raise InvalidParameterValue(
            f"The deprecation time {when:%Y-%m-%dT%H:%M:%SZ} must be in the future and not later than "
            f"{latest:%Y-%m-%dT%H:%M:%SZ}."
        )
    image.deprecation_time = f"{when:%Y-%m-%dT%H:%M:%S}.000Z"
    return ActionResult({"Return": True})


_create_snapshot = EBSBackend.create_snapshot


def create_snapshot(self: EBSBackend, volume_id: str, *args: Any, **kwargs: Any) -> Any:
    """A snapshot of an encrypted volume is encrypted with the volume's KMS key (moto drops the key)."""
    snapshot = _create_snapshot(self, volume_id, *args, **kwargs)
    snapshot.kms_key_id = self.get_volume(volume_id).kms_key_id
    return snapshot


_register_image = AmisResponse.register_image


def register_image(self: AmisResponse) -> ActionResult:
    """RegisterImage from a snapshot: the AMI's root device is that snapshot (moto makes its own)."""
    result = _register_image(self)
    mappings = self._get_param("BlockDeviceMappings") or []
    root = self._get_param("RootDeviceName")
    snapshot = next((m["Ebs"]["SnapshotId"] for m in mappings if (m.get("Ebs") or {}).get("SnapshotId")), None)
    if snapshot:
        image = self.ec2_backend.amis[result.result["ImageId"]]
        image.ebs_snapshot = self.ec2_backend.get_snapshot(snapshot)
        image.root_device_name = root or image.root_device_name
    return result


_check_certificate = CertBundle.check
# "ACM makes repeated attempts to validate a certificate for 72 hours and then times out."
VALIDATION_ATTEMPTS = timedelta(hours=72)


def check_certificate(self: CertBundle) -> None:
    if self.type == "AMAZON_ISSUED" and self.status == "PENDING_VALIDATION":
        if utcnow() - self.created_at > VALIDATION_ATTEMPTS:
            self.status = "VALIDATION_TIMED_OUT"
        return
    _check_certificate(self)


def put_composite_alarm(self: CloudWatchResponse) -> EmptyResult:
    rule = self._get_param("AlarmRule") or ""
    if not 1 <= len(rule) <= 10240:
        raise CloudWatchValidationError(f"AlarmRule must be 1-10240 characters, got {len(rule)}")
    return CloudWatchResponse.put_metric_alarm(self)


def patch() -> None:
    ElastiCacheBackend.delete_cache_subnet_group = delete_cache_subnet_group
    ElastiCacheResponse.delete_cache_subnet_group = delete_cache_subnet_group_response
    ElastiCacheBackend.delete_replication_group = delete_replication_group
    SESBackend.delete_configuration_set = delete_configuration_set
    IamResponse.list_service_specific_credentials = list_service_specific_credentials
    LaunchTemplates.create_launch_template_version = create_launch_template_version
    AutoScalingResponse.start_instance_refresh = start_instance_refresh
    AutoScalingResponse.describe_instance_refreshes = describe_instance_refreshes
    AmisResponse.enable_image_deprecation = enable_image_deprecation
    EBSBackend.create_snapshot = create_snapshot
    AmisResponse.register_image = register_image
    CertBundle.check = check_certificate
    CloudWatchResponse.put_composite_alarm = put_composite_alarm
    Alarm.alarm_rule = property(lambda alarm: alarm.rule)


def main(argv: list[str]) -> None:
    patch()
    server.main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
