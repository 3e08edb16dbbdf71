"""`make demo` helper: read the platform the demo built in the emulator.

demo_platform.py summary   print what exists in the emulator, tagged Project=arena
"""

from __future__ import annotations

import sys

import boto3

OPERATORS = {
    "GreaterThanOrEqualToThreshold": ">=",
    "GreaterThanThreshold": ">",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
}
TAGS = [{"Name": "tag:Project", "Values": ["arena"]}, {"Name": "tag:Environment", "Values": ["local"]}]


def name_of(resource: dict) -> str:
    return next((t["Value"] for t in resource.get("Tags", []) if t["Key"] == "Name"), "")


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
        actions = boto3.client("autoscaling").describe_scheduled_actions(AutoScalingGroupName=g["AutoScalingGroupName"])
        for a in sorted(actions["ScheduledUpdateGroupActions"], key=lambda a: a["StartTime"])[:4]:
            sizes = f"min {a.get('MinSize')} desired {a.get('DesiredCapacity', '-')}"
            print(f"  scheduled       {a['ScheduledActionName']:<40} {sizes}")
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
    monitoring()


def monitoring() -> None:
    """roles/platform_monitoring: the alerts topics, every alarm (here and CloudFront's in us-east-1),
    the event-at-risk composite with how many alarms it watches, the dashboard, the tiers' log groups."""
    for region in ("eu-west-1", "us-east-1"):
        for t in boto3.client("sns", region_name=region).list_topics()["Topics"]:
            if t["TopicArn"].endswith(":arena-local-alerts"):
                subs = boto3.client("sns", region_name=region).list_subscriptions_by_topic(TopicArn=t["TopicArn"])
                endpoints = ", ".join(s["Endpoint"] for s in subs["Subscriptions"]) or "no subscription"
                print(f"Alerts topic      {t['TopicArn']:<52} {endpoints}")
        listing = boto3.client("cloudwatch", region_name=region).describe_alarms(AlarmNamePrefix="arena-local-")
        for a in sorted(listing["MetricAlarms"], key=lambda a: a["AlarmName"]):
            threshold = f"{OPERATORS.get(a['ComparisonOperator'], a['ComparisonOperator'])} {a['Threshold']:g}"
            print(f"Alarm             {a['AlarmName']:<52} {threshold:<14} {region}")
        for a in listing["CompositeAlarms"]:
            watched = a["AlarmRule"].count("ALARM(")
            print(f"Composite alarm   {a['AlarmName']:<52} any of {watched} alarms")
    for d in boto3.client("cloudwatch").list_dashboards()["DashboardEntries"]:
        print(f"Dashboard         {d['DashboardName']:<52} (make dashboard renders it: docs/event-day-dashboard.png)")
    groups = boto3.client("logs").describe_log_groups(logGroupNamePrefix="/arena/local/")["logGroups"]
    for g in groups:
        print(f"Log group         {g['logGroupName']:<52} {g.get('retentionInDays', 'never')} days")


if __name__ == "__main__":
    if sys.argv[1:] == ["summary"]:
        summary()
    else:
        sys.exit(__doc__)
