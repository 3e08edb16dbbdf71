"""The real playbooks inside the execution environment (make ee, scripts/ee.sh), against the AWS
emulator: a platform's life in one emulator, each playbook run shared by every guarantee it can
prove. The image alone must be enough to run them: the repository is mounted read-only, the
emulator's endpoint and dummy keys are given to each run, never built in (tests/arena_ee.py).

The steps run in file order (module-scoped fixtures, platform_lab.py) and each starts from what the
one before left:

0. the image: no credentials in it, requirements.yml's collections in their ranges;
   playbooks/aws_identity.yml with plain ansible-runner, as AWX runs a job;
1. the create, on a fresh emulator: every security invariant of the core is read back with boto3
   and the services are checked to sit on the core's network (their own posture is read back in
   detail by tests/integration/services);
2. a second run changes nothing but the one documented emulator gap, and so does --check; a run of
   only the platform_launch_templates and platform_autoscaling roles (--tags) changes nothing;
   playbooks/event_scaling.yml lands the local calendar's plan on the groups;
3. the tier instances the Auto Scaling groups launched show up in the dynamic inventory
   (ansible-inventory in the image, as an AWX inventory update runs it);
4. the teardown of the built platform, killed after the NAT gateway is deleted and before its
   address is released; the next teardown finishes it and leaves no tagged resource behind.

The runs after the identity use the lab's executor (Mitogen, tests/arena_ee.py; ARENA_MITOGEN=0:
none); the identity run has none, as AWX runs a job. The interrupted teardown is ansible-playbook in
the image (platform_lab.killed_at says why). Teardowns after creates that failed part-way, and the create
after them in the same emulator, are tests/integration/platform/test_platform_failures.py, on the
host's ansible-playbook, beside this suite in `make test` (each with its own emulator).
Run: make ee-test   (seconds per playbook run are printed at the end of the module)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import arena_ee
import boto3
import yaml
from ansible.galaxy.dependency_resolution.versioning import meets_requirements
from arena_testlib import REPO_ROOT, scheduled_actions
from platform_lab import (
    EMULATOR_GAP_TASKS,
    LAB_INVENTORY,
    MINE,
    PREFIX,
    RUN_TIMEOUT,
    TAGS,
    TIERS,
    TIMINGS,
    assert_tagged,
    changed_tasks,
    groups_by_name,
    killed_at,
    leftovers,
    playbook,
    recap,
    security_groups,
    tags_of,
)

# Before the local calendar's first event (inventories/local/group_vars/all/events.yml).
EVENT_SCALING_NOW = "2027-01-01T00:00:00Z"


def plain(
    step: str, name: str, *args: str, podman_args: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> str:
    """A playbook in the image with plain ansible-runner (no lab executor); it must succeed."""
    started = time.monotonic()
    cmd = ["ansible-playbook", "-i", LAB_INVENTORY, f"playbooks/{name}", *args]
    result = arena_ee.run(cmd, timeout=RUN_TIMEOUT, executor=False, podman_args=podman_args, env=env)
    TIMINGS[step] = round(time.monotonic() - started, 1)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert recap(output)["failed"] == 0, output[-6000:]
    return output


# 0. The image.


def test_image_holds_no_credentials(image: str) -> None:
    env = subprocess.run(
        ["podman", "image", "inspect", "--format", "{{json .Config.Env}}", image],
        capture_output=True,
        text=True,
        check=True,
    )
    assert not [v for v in json.loads(env.stdout) if v.startswith("AWS_")]
    found = subprocess.run(
        [
            "podman", "run", "--rm", "--network", "none", image, "bash", "-c",
            "env | grep '^AWS_'; ls -d ~/.aws /runner/env 2>/dev/null;"
            " find / -xdev -name emulator.env 2>/dev/null; true",
        ],
        capture_output=True,
        text=True,
        check=True,
    )  # fmt: skip
    assert found.stdout == ""


def test_image_has_the_required_collections(image: str) -> None:
    galaxy_list = ["ansible-galaxy", "collection", "list", "--format", "json"]
    listed = subprocess.run(
        ["podman", "run", "--rm", "--network", "none", image, *galaxy_list],
        capture_output=True,
        text=True,
        check=True,
    )
    installed = {name: info["version"] for where in json.loads(listed.stdout).values() for name, info in where.items()}
    required = yaml.safe_load((REPO_ROOT / "requirements.yml").read_text())["collections"]
    # Every collection of requirements.yml, in its range (ansible-core's own ansible._* ones aside).
    assert {name for name in installed if not name.startswith("ansible._")} == {c["name"] for c in required}
    for collection in required:
        assert meets_requirements(installed[collection["name"]], collection["version"]), collection


def test_aws_identity_with_plain_ansible_runner_and_the_project_callbacks(aws: dict[str, Any], tmp_path: Path) -> None:
    """ansible-runner sets ANSIBLE_CALLBACK_PLUGINS (its event callback), which overrides ansible.cfg's
    callback_plugins: the image names the project's (execution-environment.yml), and runner appends
    its own. callback_plugins/arena_payloads.py keeping the run's module payloads in the directory
    it is given shows the project's callbacks ran (arena_preload beside it halves a platform run's
    CPU: docs/awx.md)."""
    tmp_path.chmod(0o777)
    cache = "/runner/payload-cache"
    output = plain(
        "aws_identity",
        "aws_identity.yml",
        podman_args=("-v", f"{tmp_path}:{cache}"),
        env={"ARENA_PAYLOAD_CACHE": cache},
    )
    assert "target: emulator" in output, output[-3000:]
    assert list(tmp_path.iterdir()), "no module payload kept: the project's callback plugins did not run"


# 1. The create, read back.


def test_create_succeeds(aws: dict[str, Any], created: str) -> None:
    assert recap(created)["failed"] == 0
    assert recap(created)["changed"] > 0


def test_network_spans_two_zones(aws: dict[str, Any], vpc: dict[str, Any]) -> None:
    assert_tagged(vpc, "vpc")
    subnets = aws["ec2"].describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
    for kind in ("public", "private"):
        mine = [s for s in subnets if tags_of(s).get("Kind") == kind]
        assert len({s["AvailabilityZone"] for s in mine}) == 2, kind
        assert not any(s["MapPublicIpOnLaunch"] for s in mine)
        for s in mine:
            assert_tagged(s, s["SubnetId"])
    igws = aws["ec2"].describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc["VpcId"]]}])
    assert len(igws["InternetGateways"]) == 1
    nats = aws["ec2"].describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["NatGateways"]
    assert len([n for n in nats if n["State"] == "available"]) == 1  # inventories/local: nat_mode single
    endpoints = aws["ec2"].describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])
    services = {e["ServiceName"].rsplit(".", 1)[1]: e for e in endpoints["VpcEndpoints"]}
    assert set(services) == {"s3", "ssm", "ssmmessages", "ec2messages"}
    assert services["s3"]["VpcEndpointType"] == "Gateway"
    assert len(services["s3"]["RouteTableIds"]) == 2  # both private route tables
    assert services["ssm"]["VpcEndpointType"] == "Interface"


def test_no_world_open_ingress_except_public_alb_web_ports(aws: dict[str, Any], vpc: dict[str, Any]) -> None:
    for name, group in security_groups(aws, vpc).items():
        for perm in group["IpPermissions"]:
            world = [r for r in perm.get("IpRanges", []) if r["CidrIp"] == "0.0.0.0/0"]
            world += [r for r in perm.get("Ipv6Ranges", []) if r["CidrIpv6"] == "::/0"]
            if world:
                assert name == f"{PREFIX}-public-alb", f"{name} is open to the world"
                assert (perm["IpProtocol"], perm["FromPort"], perm["ToPort"]) in {("tcp", 80, 80), ("tcp", 443, 443)}


def test_no_ssh_ingress_anywhere(aws: dict[str, Any], vpc: dict[str, Any]) -> None:
    for name, group in security_groups(aws, vpc).items():
        for perm in group["IpPermissions"]:
            assert perm["IpProtocol"] != "-1", f"{name} allows every protocol"
            assert not perm["FromPort"] <= 22 <= perm["ToPort"], f"{name} allows port 22"


def test_tier_groups_reference_groups_not_cidrs(aws: dict[str, Any], vpc: dict[str, Any]) -> None:
    groups = security_groups(aws, vpc)
    ids = {g["GroupId"]: n.removeprefix(f"{PREFIX}-") for n, g in groups.items()}
    expected = {
        "web": ("public-alb", 80),
        "internal-alb": ("web", 80),
        "api": ("internal-alb", 80),
        "admin": ("admin-alb", 443),  # the admin tier's nginx speaks TLS to its load balancer
        "cache": ("api", 6379),
    }
    for name, (source, port) in expected.items():
        perms = groups[f"{PREFIX}-{name}"]["IpPermissions"]
        assert len(perms) == 1, name
        assert perms[0]["IpRanges"] == [] and perms[0].get("Ipv6Ranges", []) == []
        assert [ids[p["GroupId"]] for p in perms[0]["UserIdGroupPairs"]] == [source], name
        assert perms[0]["FromPort"] == perms[0]["ToPort"] == port, name
    admin_alb = groups[f"{PREFIX}-admin-alb"]["IpPermissions"]
    assert [(p["FromPort"], [r["CidrIp"] for r in p["IpRanges"]]) for p in admin_alb] == [(443, ["192.0.2.0/24"])]
    assert groups["default"]["IpPermissions"] == []
    for name in expected:
        assert_tagged(groups[f"{PREFIX}-{name}"], name)


def test_load_balancers(aws: dict[str, Any], created: str) -> None:
    elbv2 = aws["elbv2"]
    lbs = {lb["LoadBalancerName"]: lb for lb in elbv2.describe_load_balancers()["LoadBalancers"]}
    assert lbs[f"{PREFIX}-public"]["Scheme"] == "internet-facing"
    assert lbs[f"{PREFIX}-internal"]["Scheme"] == "internal"
    assert lbs[f"{PREFIX}-admin"]["Scheme"] == "internet-facing"
    for name in ("public", "internal", "admin"):
        lb = lbs[f"{PREFIX}-{name}"]
        attrs = {
            a["Key"]: a["Value"]
            for a in elbv2.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]
        }
        assert attrs["routing.http.drop_invalid_header_fields.enabled"] == "true", name
        assert attrs["access_logs.s3.enabled"] == "true", name
        assert attrs["access_logs.s3.bucket"].startswith(f"{PREFIX}-alb-logs-"), name
        assert attrs["deletion_protection.enabled"] == "false", name  # local; production turns it on
        tags = elbv2.describe_tags(ResourceArns=[lb["LoadBalancerArn"]])["TagDescriptions"][0]
        assert_tagged(tags, name)
    listeners = {
        listener["Port"]: listener
        for listener in elbv2.describe_listeners(LoadBalancerArn=lbs[f"{PREFIX}-public"]["LoadBalancerArn"])[
            "Listeners"
        ]
    }
    assert set(listeners) == {80, 443}
    redirect = listeners[80]["DefaultActions"][0]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"]["Protocol"] == "HTTPS" and redirect["RedirectConfig"]["StatusCode"] == "HTTP_301"
    assert listeners[443]["Protocol"] == "HTTPS"
    assert listeners[443]["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert listeners[443]["Certificates"][0]["CertificateArn"].startswith("arn:aws:acm:")
    admin = elbv2.describe_listeners(LoadBalancerArn=lbs[f"{PREFIX}-admin"]["LoadBalancerArn"])["Listeners"]
    assert [(x["Port"], x["Protocol"]) for x in admin] == [(443, "HTTPS")]


def test_target_groups_check_healthz_fast(aws: dict[str, Any], created: str) -> None:
    elbv2 = aws["elbv2"]
    tgs = elbv2.describe_target_groups(Names=[f"{PREFIX}-{t}" for t in TIERS])["TargetGroups"]
    assert len(tgs) == 3
    # web and api instances serve plain HTTP (TLS ends at the ALB); admin instances speak TLS on 443.
    assert {
        tg["TargetGroupName"][len(PREFIX) + 1 :]: (tg["Protocol"], tg["Port"], tg["HealthCheckProtocol"]) for tg in tgs
    } == {
        "web": ("HTTP", 80, "HTTP"),
        "api": ("HTTP", 80, "HTTP"),
        "admin": ("HTTPS", 443, "HTTPS"),
    }
    for tg in tgs:
        assert tg["HealthCheckPath"] == "/healthz"
        assert tg["HealthCheckIntervalSeconds"] == 10
        assert tg["HealthyThresholdCount"] == 2
        attrs = {
            a["Key"]: a["Value"]
            for a in elbv2.describe_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"])["Attributes"]
        }
        assert int(attrs["deregistration_delay.timeout_seconds"]) <= 30


def test_every_launch_template_version_in_use_is_hardened(aws: dict[str, Any], created: str) -> None:
    ec2 = aws["ec2"]
    for tier, group in zip(TIERS, [groups_by_name(aws)[f"{PREFIX}-{t}"] for t in TIERS], strict=True):
        spec = group["MixedInstancesPolicy"]["LaunchTemplate"]["LaunchTemplateSpecification"]
        # Pinned to a numbered version (AWS rolls a refresh back only between numbered versions).
        assert spec["Version"].isdigit(), (tier, spec["Version"])
        versions = {spec["Version"]} | {str(i["LaunchTemplate"]["Version"]) for i in group["Instances"]}
        image = aws["ssm"].get_parameter(Name=f"/arena/local/images/{tier}")["Parameter"]["Value"]
        # The emulator's DescribeLaunchTemplates leaves out tags set by CreateTags; DescribeTags has them.
        lt_tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [spec["LaunchTemplateId"]]}])["Tags"]
        assert_tagged({"Tags": lt_tags}, spec["LaunchTemplateName"], tier)
        for version in versions:
            data = ec2.describe_launch_template_versions(LaunchTemplateId=spec["LaunchTemplateId"], Versions=[version])[
                "LaunchTemplateVersions"
            ][0]["LaunchTemplateData"]
            assert data["MetadataOptions"]["HttpTokens"] == "required", (tier, version)
            assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1, (tier, version)
            assert data["ImageId"] == image, (tier, version)  # the AMI id its SSM record names
            root = data["BlockDeviceMappings"][0]
            assert root["Ebs"]["Encrypted"] is True and root["Ebs"]["VolumeType"] == "gp3"
            assert data["NetworkInterfaces"][0]["AssociatePublicIpAddress"] is False
            profile = data["IamInstanceProfile"]  # the module stores the profile's ARN
            assert profile.get("Name") == f"{PREFIX}-{tier}-instance" or profile["Arn"].endswith(
                f":instance-profile/{PREFIX}-{tier}-instance"
            )
            tag_specs = {t["ResourceType"]: tags_of(t) for t in data["TagSpecifications"]}
            assert tag_specs["instance"]["Tier"] == tier and tag_specs["volume"]["Tier"] == tier


def test_launched_volumes_from_the_templates_are_encrypted(aws: dict[str, Any], created: str) -> None:
    ec2 = aws["ec2"]
    instance_ids = [i["InstanceId"] for g in groups_by_name(aws).values() for i in g["Instances"]]
    assert instance_ids
    reservations = ec2.describe_instances(InstanceIds=instance_ids)["Reservations"]
    for instance in (i for r in reservations for i in r["Instances"]):
        assert "PublicIpAddress" not in instance, instance["InstanceId"]
        by_device = {m["DeviceName"]: m["Ebs"]["VolumeId"] for m in instance["BlockDeviceMappings"]}
        # /dev/xvda comes from the launch template (the emulator may add the image's own root device
        # beside it: docs/platform.md).
        volume = ec2.describe_volumes(VolumeIds=[by_device["/dev/xvda"]])["Volumes"][0]
        assert volume["Encrypted"] is True and volume["VolumeType"] == "gp3", instance["InstanceId"]


def test_instance_roles_read_only_their_own_parameters(aws: dict[str, Any], created: str) -> None:
    iam = aws["iam"]
    for tier in TIERS:
        role = f"{PREFIX}-{tier}-instance"
        assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
        doc = iam.get_role_policy(RoleName=role, PolicyName="least-privilege")["PolicyDocument"]
        doc = json.loads(doc) if isinstance(doc, str) else doc
        reads = next(s for s in doc["Statement"] if s["Sid"] == "ReadOwnParameters")
        assert all(r.split(":parameter", 1)[1].startswith(f"/arena/local/{tier}") for r in reads["Resource"])
        assert all(
            s["Resource"] != "*" for s in doc["Statement"] if any(a.startswith("ssm:GetParam") for a in s["Action"])
        )
        profiles = iam.list_instance_profiles_for_role(RoleName=role)["InstanceProfiles"]
        assert [p["InstanceProfileName"] for p in profiles] == [role]


def test_every_tier_and_service_has_its_alarms_notifying_the_alerts_topic(aws: dict[str, Any], created: str) -> None:
    """roles/platform_monitoring on what the platform made: per tier the release canary's alarms (the
    5xx share over its target group, unhealthy hosts: playbooks/rollout.yml names them), latency and the
    capacity shortfall on its group's metrics (collected at one-minute granularity); per load balancer,
    cache node and NAT gateway theirs; mail's reputation; CloudFront's in us-east-1 (where it publishes
    its metrics) with a topic there; the event-at-risk composite over existing alarms. Every alarm
    tells the alerts topic of its region, which has the inventory's subscription."""
    cloudwatch = aws["cloudwatch"]
    listing = cloudwatch.describe_alarms(AlarmNamePrefix=f"{PREFIX}-")
    alarms = {a["AlarmName"]: a for a in listing["MetricAlarms"]}
    names = set(alarms)
    for tier in TIERS:
        kinds = ["target-5xx", "unhealthy-hosts", "latency-p99", "capacity-shortfall"]
        assert {f"{PREFIX}-{tier}-{kind}" for kind in kinds} <= names, (tier, sorted(names))
        share, hosts = alarms[f"{PREFIX}-{tier}-target-5xx"], alarms[f"{PREFIX}-{tier}-unhealthy-hosts"]
        assert [m.get("ReturnData") for m in share["Metrics"]] == [False, False, True]
        assert share["Metrics"][2]["Expression"] == "IF(requests >= 20, 100 * errors / requests, 0)"
        for dims in [share["Metrics"][0]["MetricStat"]["Metric"]["Dimensions"], hosts["Dimensions"]]:
            values = {d["Name"]: d["Value"] for d in dims}
            assert values["TargetGroup"].startswith(f"targetgroup/{PREFIX}-{tier}/"), (tier, values)
            assert values["LoadBalancer"].startswith("app/"), (tier, values)
    for group in groups_by_name(aws).values():
        enabled = {m["Metric"] for m in group["EnabledMetrics"]}
        assert {"GroupMinSize", "GroupInServiceInstances"} <= enabled, group["AutoScalingGroupName"]
    for lb in ("public", "internal", "admin"):
        assert {f"{PREFIX}-lb-{lb}-elb-5xx", f"{PREFIX}-lb-{lb}-rejected-connections"} <= names
    nodes = aws["elasticache"].describe_replication_groups()["ReplicationGroups"][0]["MemberClusters"]
    for node in nodes:
        short = node.removeprefix(f"{PREFIX}-")
        assert {f"{PREFIX}-{short}-{kind}" for kind in ("cpu", "memory", "evictions", "connections")} <= names
    assert {f"{PREFIX}-mail-bounce-rate", f"{PREFIX}-mail-complaint-rate"} <= names
    nats = aws["ec2"].describe_nat_gateways(Filter=[*MINE, {"Name": "state", "Values": ["available"]}])["NatGateways"]
    assert nats and {f"{PREFIX}-{n['NatGatewayId']}-port-allocation" for n in nats} <= names
    east = boto3.client("cloudwatch", region_name="us-east-1").describe_alarms(AlarmNamePrefix=f"{PREFIX}-")
    assert [a["AlarmName"] for a in east["MetricAlarms"]] == [f"{PREFIX}-cdn-5xx"]
    (composite,) = listing["CompositeAlarms"]
    assert composite["AlarmName"] == f"{PREFIX}-event-at-risk"
    ruled = set(re.findall(r'ALARM\("([^"]+)"\)', composite["AlarmRule"]))
    assert f"{PREFIX}-web-target-5xx" in ruled and ruled <= names
    for alarm in [*alarms.values(), composite, *east["MetricAlarms"]]:
        region = alarm["AlarmArn"].split(":")[3]
        topic = f"arn:aws:sns:{region}:123456789012:{PREFIX}-alerts"
        assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic], alarm["AlarmName"]
    subscriptions = aws["sns"].list_subscriptions_by_topic(
        TopicArn=f"arn:aws:sns:eu-west-1:123456789012:{PREFIX}-alerts"
    )
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions["Subscriptions"]] == [
        ("email", "ops@mail.arena.test")
    ]


def test_instances_log_groups_and_agent_settings(aws: dict[str, Any], created: str) -> None:
    """What the tier images' CloudWatch agent writes into and reads at boot (tiers.yml
    arena_observability): a log group per tier and log with its retention, the settings in SSM under
    the path the instance role may read; and the event-day dashboard."""
    groups = boto3.client("logs").describe_log_groups(logGroupNamePrefix="/arena/local/")["logGroups"]
    retention = {g["logGroupName"]: g.get("retentionInDays") for g in groups}
    days = {"journal": 30, "nginx-access": 14, "nginx-error": 30}
    assert retention == {f"/arena/local/{t}/{log}": d for t in TIERS for log, d in days.items()}
    settings = aws["ssm"].get_parameters_by_path(Path="/arena/local/monitoring/")["Parameters"]
    assert {p["Name"].rsplit("/", 1)[1]: p["Value"] for p in settings} == {
        "log_group_prefix": "/arena/local",
        "metrics_namespace": "Arena/Instances",
        "metrics_interval_seconds": "60",
    }
    body = json.loads(aws["cloudwatch"].get_dashboard(DashboardName=f"{PREFIX}-event-day")["DashboardBody"])
    text = json.dumps(body)
    for tier in TIERS:
        assert f"targetgroup/{PREFIX}-{tier}/" in text and f"{PREFIX}-{tier}" in text, tier


def test_autoscaling_groups(aws: dict[str, Any], created: str) -> None:
    groups = groups_by_name(aws)
    assert len(groups) == 3
    for tier in TIERS:
        group = groups[f"{PREFIX}-{tier}"]
        assert len(set(group["AvailabilityZones"])) == 2, tier
        assert len(group["VPCZoneIdentifier"].split(",")) == 2, tier
        assert group["HealthCheckType"] == "ELB", tier
        # The boot budget of inventories/local's capacity model: boot_to_healthy 240 s + 2 health checks x 10 s.
        assert group["HealthCheckGracePeriod"] == 260, tier
        assert len(group["TargetGroupARNs"]) == 1 and f"/{PREFIX}-{tier}/" in group["TargetGroupARNs"][0]
        policy = group["MixedInstancesPolicy"]
        assert len(policy["LaunchTemplate"]["Overrides"]) >= 2, tier
        assert policy["InstancesDistribution"]["OnDemandBaseCapacity"] >= 1, tier
        tags = {t["Key"]: (t["Value"], t["PropagateAtLaunch"]) for t in group["Tags"]}
        assert tags["Tier"] == (tier, True)
        # The emulator launches fewer instances than desired for some mixed-instance splits; at
        # least one per tier is what the inventory test needs.
        assert 1 <= len(group["Instances"]) <= group["DesiredCapacity"], tier
    for tier in ("web", "api"):
        group = groups[f"{PREFIX}-{tier}"]
        assert group["CapacityRebalance"] is True
        assert group["MixedInstancesPolicy"]["InstancesDistribution"]["OnDemandPercentageAboveBaseCapacity"] < 100
    policies = aws["autoscaling"].describe_policies(AutoScalingGroupName=f"{PREFIX}-web")["ScalingPolicies"]
    metric = policies[0]["TargetTrackingConfiguration"]["PredefinedMetricSpecification"]
    assert metric["PredefinedMetricType"] == "ALBRequestCountPerTarget"
    assert re.fullmatch(rf"app/{PREFIX}-public/\w+/targetgroup/{PREFIX}-web/\w+", metric["ResourceLabel"])
    # Requests per target per minute, from the capacity model (6000/min x (1 - 0.3 headroom)), not 200.
    assert policies[0]["TargetTrackingConfiguration"]["TargetValue"] == 4200.0
    api = aws["autoscaling"].describe_policies(AutoScalingGroupName=f"{PREFIX}-api")["ScalingPolicies"]
    assert api[0]["TargetTrackingConfiguration"]["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
        "ASGAverageCPUUtilization"
    )


def test_services_sit_on_the_core_network(aws: dict[str, Any], vpc: dict[str, Any]) -> None:
    """platform.yml passed core's ids to the services: the cache is in the private subnets behind
    the cache group; static content and e-mail are up and published for the tiers."""
    ec2 = aws["ec2"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
    private = {s["SubnetId"] for s in subnets if tags_of(s).get("Kind") == "private"}
    cache = aws["elasticache"]
    subnet_group = cache.describe_cache_subnet_groups(CacheSubnetGroupName=f"{PREFIX}-cache")["CacheSubnetGroups"][0]
    assert subnet_group["VpcId"] == vpc["VpcId"]
    assert {s["SubnetIdentifier"] for s in subnet_group["Subnets"]} == private
    group = cache.describe_replication_groups(ReplicationGroupId=f"{PREFIX}-cache")["ReplicationGroups"][0]
    assert (group["MultiAZ"], group["AutomaticFailover"]) == ("enabled", "enabled")
    assert group["AtRestEncryptionEnabled"] is True and group["TransitEncryptionEnabled"] is True
    ssm = aws["ssm"]
    endpoint = group["NodeGroups"][0]["PrimaryEndpoint"]
    assert ssm.get_parameter(Name="/arena/local/api/redis_host")["Parameter"]["Value"] == endpoint["Address"]
    dist_id = ssm.get_parameter(Name="/arena/local/web/static_distribution_id")["Parameter"]["Value"]
    config = aws["cloudfront"].get_distribution_config(Id=dist_id)["DistributionConfig"]
    # Bucket names are global: the platform suffixes the account id (the emulator's is 123456789012).
    assert config["Origins"]["Items"][0]["DomainName"].startswith(f"{PREFIX}-static-123456789012.s3.")
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    identity = aws["sesv2"].get_email_identity(EmailIdentity="mail.arena.test")
    assert identity["DkimAttributes"]["SigningEnabled"] is True
    assert ssm.get_parameter(Name="/arena/local/mail/smtp_port")["Parameter"]["Value"] == "587"


# 2. Re-runs on the built platform.


def test_rerun_changes_nothing_but_the_documented_gap(created: str) -> None:
    stdout = playbook("platform.yml", "rerun")
    result = recap(stdout)
    assert changed_tasks(stdout) == EMULATOR_GAP_TASKS, stdout[-6000:]
    assert result["changed"] == len(EMULATOR_GAP_TASKS), stdout[-6000:]
    assert result["failed"] == 0


def test_check_mode_on_the_built_platform_changes_nothing_but_the_documented_gap(created: str) -> None:
    # Ids that collection modules without check mode do not return (elb_target_group) are looked up.
    stdout = playbook("platform.yml", "check", "--check")
    assert changed_tasks(stdout) == EMULATOR_GAP_TASKS, stdout[-6000:]
    assert recap(stdout)["failed"] == 0


# Issue 14: a run of one role on a built platform. Its inputs from the earlier roles (the private
# subnets, target groups, public load balancer, security groups, account) are facts those roles
# publish only when they run: the role finds each by the names and tags the platform gives them
# (read-only), and changes nothing. One run selects both roles: neither takes a fact the other
# publishes (the groups name their launch templates), so each looks up exactly what it looks up
# alone, and no other role may have run anything but its input validation.
TAGGED_ROLES = ("platform_launch_templates", "platform_autoscaling")


def test_a_run_of_single_roles_by_tag_on_the_built_platform_changes_nothing(created: str) -> None:
    stdout = playbook("platform.yml", "tags", "--tags", ",".join(TAGGED_ROLES))
    result = recap(stdout)
    assert result["failed"] == 0, stdout[-6000:]
    assert changed_tasks(stdout) == [], stdout[-6000:]
    assert result["changed"] == 0
    # Each role ran (its groups or templates were compared, not skipped), after the validation of every role.
    for role in TAGGED_ROLES:
        assert f"TASK [{role} : " in stdout, role
    assert "TASK [platform_network : Validate | " in stdout
    ran = set(re.findall(r"^TASK \[(platform_\w+) : (?!Validat)", stdout, re.MULTILINE))
    assert ran <= {*TAGGED_ROLES, "platform_lock"}, ran


def test_event_scaling_plans_the_local_calendar(created: str) -> None:
    output = playbook("event_scaling.yml", "event_scaling", "-e", f"event_scaling_now={EVENT_SCALING_NOW}")
    assert recap(output)["changed"] > 0
    for tier in ("web", "api"):
        actions = scheduled_actions(os.environ["AWS_URL"], f"{PREFIX}-{tier}")
        assert any(name.startswith("arena-event-") for name in actions), (tier, actions)


# 3. The dynamic inventory, read in the image as an AWX inventory update reads it.


def inventory_graph(inventory: str) -> dict[str, set[str]]:
    result = arena_ee.run(["ansible-inventory", "-i", inventory, "--graph"], timeout=300, executor=False)
    assert result.returncode == 0, result.stderr
    groups: dict[str, set[str]] = {}
    current = ""
    for line in result.stdout.splitlines():
        name = line.strip(" |-")
        if name.startswith("@"):
            current = name[1:].rstrip(":")
            groups.setdefault(current, set())
        elif name and current:
            groups[current].add(name)
    return groups


def test_asg_instances_appear_in_the_dynamic_inventory_by_tier(aws: dict[str, Any], created: str) -> None:
    graph = inventory_graph("inventories/local")
    for tier, group in groups_by_name(aws).items():
        instances = {i["InstanceId"] for i in group["Instances"]}
        tier_name = tier.removeprefix(f"{PREFIX}-")
        assert instances and instances <= graph.get(f"tier_{tier_name}", set()), (tier, graph)


def test_staging_inventory_groups_staging_instances_only(aws: dict[str, Any], created: str) -> None:
    ec2 = aws["ec2"]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    tags = [{"Key": k, "Value": v} for k, v in {**TAGS, "Environment": "staging", "Tier": "api"}.items()]
    staged = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, TagSpecifications=[{"ResourceType": "instance", "Tags": tags}]
    )["Instances"][0]["InstanceId"]
    try:
        graph = inventory_graph("inventories/staging/aws_ec2.yml")
        assert staged in graph.get("tier_api", set())
        local = {i["InstanceId"] for g in groups_by_name(aws).values() for i in g["Instances"]}
        assert not local & set().union(*graph.values())
    finally:
        ec2.terminate_instances(InstanceIds=[staged])


def assert_no_monitoring_left(aws: dict[str, Any]) -> None:
    """The monitoring, removed first: alarms here and in us-east-1, topics, dashboard, log groups."""
    for region in ("eu-west-1", "us-east-1"):
        listing = boto3.client("cloudwatch", region_name=region).describe_alarms(AlarmNamePrefix=f"{PREFIX}-")
        assert listing["MetricAlarms"] == [] and listing["CompositeAlarms"] == [], region
        topics = boto3.client("sns", region_name=region).list_topics()["Topics"]
        assert [t for t in topics if f":{PREFIX}-" in t["TopicArn"]] == [], region
    assert aws["cloudwatch"].list_dashboards()["DashboardEntries"] == []
    assert boto3.client("logs").describe_log_groups(logGroupNamePrefix="/arena/local/")["logGroups"] == []


# 4. The teardown of the built platform, interrupted, then finished by the next one.
def test_an_interrupted_teardown_is_finished_by_the_next_leaving_no_tagged_resource(
    aws: dict[str, Any], created: str
) -> None:
    """The first teardown is killed after the NAT gateway is deleted and before its address is
    released: the address is no longer attached to anything the network role finds by tags, only
    the deleted gateway names it. The second must release it and leave nothing behind."""
    ec2, elbv2 = aws["ec2"], aws["elbv2"]
    # The NAT gateways' addresses carry no tags: note them before, check they are released after.
    vpc_filter = [{"Name": "tag:Name", "Values": [f"{PREFIX}-vpc"]}]
    vpc_ids = [v["VpcId"] for v in ec2.describe_vpcs(Filters=vpc_filter)["Vpcs"]]
    nats = ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": vpc_ids}])["NatGateways"]
    allocations = {a["AllocationId"] for n in nats for a in n["NatGatewayAddresses"]}
    assert allocations
    addresses = ec2.describe_addresses()["Addresses"]
    assert addresses
    killed_at("teardown.yml", "platform_network : Nat | Find the addresses", "teardown killed")
    assert ec2.describe_addresses()["Addresses"] == addresses, "the address was released before the kill"
    playbook("teardown.yml", "teardown")
    assert leftovers(aws) == {}
    assert ec2.describe_vpcs(Filters=MINE)["Vpcs"] == []
    assert ec2.describe_subnets(Filters=MINE)["Subnets"] == []
    assert ec2.describe_security_groups(Filters=MINE)["SecurityGroups"] == []
    assert ec2.describe_route_tables(Filters=MINE)["RouteTables"] == []
    assert ec2.describe_internet_gateways(Filters=MINE)["InternetGateways"] == []
    assert [n for n in ec2.describe_nat_gateways(Filter=MINE)["NatGateways"] if n["State"] != "deleted"] == []
    assert [e for e in ec2.describe_vpc_endpoints(Filters=MINE)["VpcEndpoints"] if e["State"] != "deleted"] == []
    templates = ec2.describe_launch_templates()["LaunchTemplates"]
    assert [t["LaunchTemplateName"] for t in templates if t["LaunchTemplateName"].startswith(PREFIX)] == []
    assert allocations.isdisjoint(a["AllocationId"] for a in ec2.describe_addresses()["Addresses"])
    running = ec2.describe_instances(Filters=[*MINE, {"Name": "instance-state-name", "Values": ["pending", "running"]}])
    assert running["Reservations"] == []
    asgs = aws["autoscaling"].describe_auto_scaling_groups()["AutoScalingGroups"]
    assert [g["AutoScalingGroupName"] for g in asgs if g["AutoScalingGroupName"].startswith(PREFIX)] == []
    lbs = elbv2.describe_load_balancers()["LoadBalancers"]
    assert [lb["LoadBalancerName"] for lb in lbs if lb["LoadBalancerName"].startswith(PREFIX)] == []
    tgs = elbv2.describe_target_groups()["TargetGroups"]
    assert [tg["TargetGroupName"] for tg in tgs if tg["TargetGroupName"].startswith(PREFIX)] == []
    assert [r["RoleName"] for r in aws["iam"].list_roles()["Roles"] if r["RoleName"].startswith(PREFIX)] == []
    profiles = aws["iam"].list_instance_profiles()["InstanceProfiles"]
    assert [p["InstanceProfileName"] for p in profiles if p["InstanceProfileName"].startswith(PREFIX)] == []
    assert [b["Name"] for b in aws["s3"].list_buckets()["Buckets"] if b["Name"].startswith(PREFIX)] == []
    # The services, removed before the core.
    cloudfront = aws["cloudfront"]
    assert cloudfront.list_distributions()["DistributionList"].get("Items", []) == []
    assert cloudfront.list_origin_access_controls()["OriginAccessControlList"].get("Items", []) == []
    assert aws["elasticache"].describe_replication_groups()["ReplicationGroups"] == []
    assert aws["elasticache"].describe_cache_subnet_groups()["CacheSubnetGroups"] == []
    assert aws["sesv2"].list_email_identities()["EmailIdentities"] == []
    assert aws["sesv2"].list_configuration_sets()["ConfigurationSets"] == []
    assert [t for t in aws["sns"].list_topics()["Topics"] if f":{PREFIX}-" in t["TopicArn"]] == []
    assert_no_monitoring_left(aws)
    left = aws["ssm"].get_parameters_by_path(Path="/arena/local", Recursive=True)["Parameters"]
    assert sorted(p["Name"] for p in left) == [f"/arena/local/images/{t}" for t in sorted(TIERS)]  # the fixtures'
    assert [u["UserName"] for u in aws["iam"].list_users()["Users"] if u["UserName"].startswith(PREFIX)] == []
