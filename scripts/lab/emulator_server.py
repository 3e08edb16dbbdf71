"""The lab's AWS emulator: moto's server with four AWS behaviours that moto 5.2 lacks.

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
"""

from __future__ import annotations

import sys
from typing import Any

from moto import server
from moto.core.responses import ActionResult, EmptyResult
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


def patch() -> None:
    ElastiCacheBackend.delete_cache_subnet_group = delete_cache_subnet_group
    ElastiCacheResponse.delete_cache_subnet_group = delete_cache_subnet_group_response
    ElastiCacheBackend.delete_replication_group = delete_replication_group
    SESBackend.delete_configuration_set = delete_configuration_set
    IamResponse.list_service_specific_credentials = list_service_specific_credentials


def main(argv: list[str]) -> None:
    patch()
    server.main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
