"""`make demo` helper: read the platform the demo built in the emulator.

demo_platform.py services-vars FILE   write the platform-core outputs that platform_services.yml
                                      needs (VPC, private subnets, cache security group) to FILE
demo_platform.py summary              print what exists in the emulator, tagged Project=arena
"""

from __future__ import annotations

import json
import sys

import boto3

TAGS = [{"Name": "tag:Project", "Values": ["arena"]}, {"Name": "tag:Environment", "Values": ["local"]}]


def name_of(resource: dict) -> str:
    return next((t["Value"] for t in resource.get("Tags", []) if t["Key"] == "Name"), "")


def services_vars(path: str) -> None:
    ec2 = boto3.client("ec2")
    vpcs = ec2.describe_vpcs(Filters=TAGS)["Vpcs"]
    if len(vpcs) != 1:
        sys.exit(f"demo_platform: expected one arena VPC in the emulator, found {len(vpcs)}")
    vpc_id = vpcs[0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[*TAGS, {"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    private = sorted(s["SubnetId"] for s in subnets if "-private-" in name_of(s))
    groups = ec2.describe_security_groups(Filters=[*TAGS, {"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
    cache = [g["GroupId"] for g in groups if g["GroupName"].endswith("-cache")]
    if len(private) < 2 or len(cache) != 1:
        sys.exit(f"demo_platform: need 2 private subnets and 1 cache group, found {private} and {cache}")
    with open(path, "w", encoding="utf-8") as out:
        json.dump(
            {
                "platform_cache_vpc_id": vpc_id,
                "platform_cache_subnet_ids": private,
                "platform_cache_security_group_ids": cache,
            },
            out,
        )


def summary() -> None:
    ec2 = boto3.client("ec2")
    vpc = ec2.describe_vpcs(Filters=TAGS)["Vpcs"][0]
    subnets = ec2.describe_subnets(Filters=[*TAGS, {"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
    print(f"VPC               {vpc['VpcId']} {vpc['CidrBlock']}")
    for s in sorted(subnets, key=name_of):
        print(f"  subnet          {name_of(s):<28} {s['AvailabilityZone']} {s['CidrBlock']}")
    for lb in boto3.client("elbv2").describe_load_balancers()["LoadBalancers"]:
        print(f"Load balancer     {lb['LoadBalancerName']:<28} {lb['Scheme']:<16} {lb['DNSName']}")
    for g in boto3.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]:
        azs = ",".join(sorted(g["AvailabilityZones"]))
        print(f"Auto Scaling      {g['AutoScalingGroupName']:<28} min {g['MinSize']} max {g['MaxSize']} {azs}")
    for rg in boto3.client("elasticache").describe_replication_groups()["ReplicationGroups"]:
        endpoint = (rg.get("NodeGroups") or [{}])[0].get("PrimaryEndpoint", {})
        address = f"{endpoint.get('Address', '?')}:{endpoint.get('Port', '?')}"
        print(f"ElastiCache       {rg['ReplicationGroupId']:<28} {address}")
    for d in boto3.client("cloudfront").list_distributions().get("DistributionList", {}).get("Items", []):
        print(f"CloudFront        {d['Id']:<28} {d['DomainName']}")
    for i in boto3.client("sesv2").list_email_identities()["EmailIdentities"]:
        print(f"SES identity      {i['IdentityName']:<28} {i['IdentityType']}")
    params = boto3.client("ssm").get_parameters_by_path(Path="/arena/local", Recursive=True)["Parameters"]
    print(f"SSM parameters    {len(params)} under /arena/local/ (first-boot configuration)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["services-vars"] and len(sys.argv) == 3:
        services_vars(sys.argv[2])
    elif sys.argv[1:] == ["summary"]:
        summary()
    else:
        sys.exit(__doc__)
