"""playbooks/platform.yml and playbooks/teardown.yml against the AWS emulator: the platform's whole
life in one emulator, each playbook run shared by every guarantee it can prove.

The steps run in file order (module-scoped fixtures) and each starts from what the one before left:

1. teardown of the empty environment: succeeds and changes nothing;
2. three creates killed part-way (issue 14), each followed by a teardown that must leave nothing;
3. the create, after those teardowns in the same emulator (nothing left clashes with it): every
   security invariant of the core is read back with boto3 and the services are checked to sit on
   the core's network (their own posture is read back in detail by tests/integration/services);
4. a second run changes nothing but the one documented emulator gap, and so does --check; a run of
   only the platform_launch_templates and platform_autoscaling roles (--tags) changes nothing;
5. the tier instances the Auto Scaling groups launched show up in the dynamic inventory;
6. the teardown of the built platform, killed after the NAT gateway is deleted and before its
   address is released; the next teardown finishes it and leaves no tagged resource behind.

A create fails for real, without hooks in the product: ansible-playbook is killed (SIGKILL, the
whole process group, as a crash or a cancelled CI job would) the moment a given task's banner
appears, so everything before that task is made and nothing after it.
Run: scripts/with-emulator.sh scripts/pytest.sh tests/integration/platform/test_platform.py
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import boto3
import platform_fixtures
import pytest
from arena_testlib import REPO_ROOT, base_env, reset_emulator, run

TIERS = platform_fixtures.TIERS
PREFIX = "arena-local"
TAGS = {"Project": "arena", "Environment": "local", "ManagedBy": "arena-infra"}
MINE = [{"Name": "tag:Project", "Values": ["arena"]}, {"Name": "tag:Environment", "Values": ["local"]}]
# Seconds per step, printed at the end (the suite's cost, by playbook run).
TIMINGS: dict[str, float] = {}
# A full platform run takes about 3 minutes on a quiet 2-core machine; far longer when it is busy.
RUN_TIMEOUT = 1800
# The only task a no-op re-run may report as changed: the emulator drops OriginAccessControlId from
# CloudFront responses, so the distribution always looks different there (docs/platform-services.md);
# the module's idempotence against AWS's response shape is proven by
# tests/unit/library/test_arena_cloudfront.py::test_distribution_second_run_unchanged_when_aws_returns_the_oac.
EMULATOR_GAP_TASKS = ["platform_static : Distribution | Create or update the distribution"]


def timed(step: str, started: float) -> None:
    TIMINGS[step] = round(TIMINGS.get(step, 0) + time.monotonic() - started, 1)


def playbook(name: str, step: str, *extra: str) -> str:
    """Run a playbook to its end; it must succeed. Returns its output."""
    started = time.monotonic()
    cmd = ["ansible-playbook", "-i", "inventories/local", f"playbooks/{name}", *extra]
    result = run(cmd, base_env(), timeout=RUN_TIMEOUT)
    timed(step, started)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    return result.stdout


def killed_at(name: str, banner: str, step: str) -> str:
    """Run a playbook and SIGKILL it (its whole process group) when the banner of a task whose
    name contains `banner` appears. Fails if the run ends before that task."""
    started = time.monotonic()
    env = base_env({"PYTHONUNBUFFERED": "1"})
    cmd = ["ansible-playbook", "-i", "inventories/local", f"playbooks/{name}"]
    with subprocess.Popen(
        cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    ) as proc:
        assert proc.stdout is not None
        output = []
        for line in proc.stdout:
            output.append(line)
            if line.startswith("TASK [") and banner in line:
                os.killpg(proc.pid, signal.SIGKILL)
                break
        proc.wait(timeout=60)
    timed(step, started)
    assert proc.returncode == -signal.SIGKILL, f"{name} ended before '{banner}':\n" + "".join(output)[-4000:]
    return "".join(output)


def recap(stdout: str) -> dict[str, int]:
    match = re.search(r"^localhost\s+:\s+(.*)$", stdout, re.MULTILINE)
    assert match, stdout[-2000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}


def changed_tasks(stdout: str) -> list[str]:
    """Names of the tasks that reported a change (default callback output)."""
    names, current = [], ""
    for line in stdout.splitlines():
        task = re.match(r"TASK \[(.*)\] \*+", line)
        if task:
            current = task.group(1)
        elif line.startswith("changed:") and (not names or names[-1] != current):
            names.append(current)
    return names


def tags_of(resource: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", []) or []}


def assert_tagged(resource: dict[str, Any], what: str, tier: str | None = None) -> None:
    tags = tags_of(resource)
    for key, value in TAGS.items():
        assert tags.get(key) == value, f"{what}: tag {key} is {tags.get(key)!r}"
    if tier:
        assert tags.get("Tier") == tier, f"{what}: Tier is {tags.get('Tier')!r}"


def leftovers(aws: dict[str, Any]) -> dict[str, list[str]]:
    """Everything of environment `local` that costs money or would clash with the next create's
    names, by kind; kinds with nothing left are omitted. The emulator is this module's alone (reset
    at the start), so any Elastic IP or running instance in it is the platform's."""
    ec2, elbv2, iam, ssm = aws["ec2"], aws["elbv2"], aws["iam"], aws["ssm"]
    left: dict[str, list[str]] = {
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs(Filters=MINE)["Vpcs"]],
        "subnets": [s["SubnetId"] for s in ec2.describe_subnets(Filters=MINE)["Subnets"]],
        "security groups": [g["GroupName"] for g in ec2.describe_security_groups(Filters=MINE)["SecurityGroups"]],
        "route tables": [r["RouteTableId"] for r in ec2.describe_route_tables(Filters=MINE)["RouteTables"]],
        "internet gateways": [
            g["InternetGatewayId"] for g in ec2.describe_internet_gateways(Filters=MINE)["InternetGateways"]
        ],
        "nat gateways": [
            n["NatGatewayId"] for n in ec2.describe_nat_gateways(Filter=MINE)["NatGateways"] if n["State"] != "deleted"
        ],
        "vpc endpoints": [
            e["VpcEndpointId"]
            for e in ec2.describe_vpc_endpoints(Filters=MINE)["VpcEndpoints"]
            if e["State"].lower() != "deleted"
        ],
        "elastic ips": [a["AllocationId"] for a in ec2.describe_addresses()["Addresses"]],
        "instances": [
            i["InstanceId"]
            for r in ec2.describe_instances(
                Filters=[{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]
            )["Reservations"]
            for i in r["Instances"]
        ],
        "launch templates": [
            t["LaunchTemplateName"]
            for t in ec2.describe_launch_templates()["LaunchTemplates"]
            if t["LaunchTemplateName"].startswith(PREFIX)
        ],
        "auto scaling groups": [
            g["AutoScalingGroupName"]
            for g in aws["autoscaling"].describe_auto_scaling_groups()["AutoScalingGroups"]
            if g["AutoScalingGroupName"].startswith(PREFIX)
        ],
        "load balancers": [
            lb["LoadBalancerName"]
            for lb in elbv2.describe_load_balancers()["LoadBalancers"]
            if lb["LoadBalancerName"].startswith(PREFIX)
        ],
        "target groups": [
            tg["TargetGroupName"]
            for tg in elbv2.describe_target_groups()["TargetGroups"]
            if tg["TargetGroupName"].startswith(PREFIX)
        ],
        "iam roles": [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(PREFIX)],
        "instance profiles": [
            p["InstanceProfileName"]
            for p in iam.list_instance_profiles()["InstanceProfiles"]
            if p["InstanceProfileName"].startswith(PREFIX)
        ],
        "iam users": [u["UserName"] for u in iam.list_users()["Users"] if u["UserName"].startswith(PREFIX)],
        "s3 buckets": [b["Name"] for b in aws["s3"].list_buckets()["Buckets"] if b["Name"].startswith(PREFIX)],
        "cloudfront distributions": [
            d["Id"] for d in aws["cloudfront"].list_distributions()["DistributionList"].get("Items", [])
        ],
        "cloudfront origin access controls": [
            o["Id"] for o in aws["cloudfront"].list_origin_access_controls()["OriginAccessControlList"].get("Items", [])
        ],
        "elasticache replication groups": [
            g["ReplicationGroupId"] for g in aws["elasticache"].describe_replication_groups()["ReplicationGroups"]
        ],
        "elasticache subnet groups": [
            g["CacheSubnetGroupName"]
            for g in aws["elasticache"].describe_cache_subnet_groups()["CacheSubnetGroups"]
            if g["CacheSubnetGroupName"].startswith(PREFIX)
        ],
        "ses identities": [i["IdentityName"] for i in aws["sesv2"].list_email_identities()["EmailIdentities"]],
        "ses configuration sets": aws["sesv2"].list_configuration_sets()["ConfigurationSets"],
        "sns topics": [t["TopicArn"] for t in aws["sns"].list_topics()["Topics"] if f":{PREFIX}-" in t["TopicArn"]],
        # What the platform published; the image parameters are the fixtures' (platform_fixtures.py).
        "ssm parameters": [
            p["Name"]
            for p in ssm.get_parameters_by_path(Path="/arena/local", Recursive=True)["Parameters"]
            if not p["Name"].startswith("/arena/local/images/")
        ],
    }
    return {kind: found for kind, found in left.items() if found}


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, Any]]:
    # A fresh emulator even when another suite ran before in the same one (with-emulator.sh runs
    # one emulator per command): the services suite leaves emulator-gap leftovers behind, and
    # leftovers() takes every Elastic IP and instance in it for the platform's.
    reset_emulator()
    # What the platform consumes from elsewhere: tier image parameters and a certificate.
    platform_fixtures.seed()
    names = ("ec2", "elbv2", "autoscaling", "iam", "s3", "ssm", "acm", "elasticache", "cloudfront", "sesv2", "sns")
    yield {n: boto3.client(n) for n in names}
    platform_fixtures.clear()
    print(f"\nplatform timings (s): {json.dumps(TIMINGS)}")


@pytest.fixture(scope="module")
def created(aws: dict[str, Any]) -> str:
    """The create, after the teardowns above in the same emulator (on a fresh one when run alone)."""
    return playbook("platform.yml", "create")


@pytest.fixture(scope="module")
def vpc(aws: dict[str, Any], created: str) -> dict[str, Any]:
    vpcs = aws["ec2"].describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{PREFIX}-vpc"]}])["Vpcs"]
    assert len(vpcs) == 1
    return vpcs[0]


def security_groups(aws: dict[str, Any], vpc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    groups = aws["ec2"].describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])
    return {g["GroupName"]: g for g in groups["SecurityGroups"]}


def groups_by_name(aws: dict[str, Any]) -> dict[str, dict[str, Any]]:
    names = [f"{PREFIX}-{t}" for t in TIERS]
    found = aws["autoscaling"].describe_auto_scaling_groups(AutoScalingGroupNames=names)["AutoScalingGroups"]
    return {g["AutoScalingGroupName"]: g for g in found}


# 1-2. Teardown of the empty environment, then after creates that failed part-way.


def test_teardown_of_an_empty_environment_succeeds_and_changes_nothing(aws: dict[str, Any]) -> None:
    stdout = playbook("teardown.yml", "teardown empty")
    assert recap(stdout)["changed"] == 0, stdout[-5000:]
    assert leftovers(aws) == {}


# Each create is killed at the banner of the first task it must not run; the teardown after it must
# leave nothing. Chosen so every role's absent path meets its resources half made: the network with
# its NAT gateway and address but no routes; the core up to the launch templates (load balancers,
# target groups, log bucket, instance roles, SSM transfer bucket); the services with the cache and
# static content made and the relay's IAM user made without its policy or key.
CREATE_FAILURES = {
    "network: NAT gateway and its address, no routes": "platform_network : Routes | Route the public subnets",
    "core: up to the instance roles, no launch templates": "platform_launch_templates : Templates | Launch template",
    "services: cache and static made, relay user without policy": "platform_email : Smtp | Allow the user to send",
}


@pytest.mark.parametrize("banner", CREATE_FAILURES.values(), ids=CREATE_FAILURES.keys())
def test_teardown_after_a_failed_create_leaves_nothing(aws: dict[str, Any], banner: str) -> None:
    killed_at("platform.yml", banner, "creates killed")
    made = leftovers(aws)
    assert made, "the killed create made nothing: the test would prove nothing"
    playbook("teardown.yml", "teardowns after them")
    assert leftovers(aws) == {}, f"left behind (the create had made {sorted(made)})"


# 3. The create. Every step above created and tore down in this emulator (scripts/lab/emulator_server.py
# deletes cache subnet groups, replication groups and SES event destinations as AWS does: plain moto
# kept them and the next create failed on them): nothing left clashes with a create.
def test_create_succeeds_after_the_teardowns_in_the_same_emulator(aws: dict[str, Any], created: str) -> None:
    assert recap(created)["failed"] == 0
    assert recap(created)["changed"] > 0
    assert {"vpcs", "load balancers", "auto scaling groups", "s3 buckets", "ses identities"} <= set(leftovers(aws))


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
        versions = {spec["Version"]} | {i["LaunchTemplate"]["Version"] for i in group["Instances"]}
        # The emulator's DescribeLaunchTemplates leaves out tags set by CreateTags; DescribeTags has them.
        lt_tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [spec["LaunchTemplateId"]]}])["Tags"]
        assert_tagged({"Tags": lt_tags}, spec["LaunchTemplateName"], tier)
        for version in versions:
            data = ec2.describe_launch_template_versions(LaunchTemplateId=spec["LaunchTemplateId"], Versions=[version])[
                "LaunchTemplateVersions"
            ][0]["LaunchTemplateData"]
            assert data["MetadataOptions"]["HttpTokens"] == "required", (tier, version)
            assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1, (tier, version)
            assert data["ImageId"] == f"resolve:ssm:/arena/local/images/{tier}"
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
        # /dev/xvda comes from the launch template; the emulator adds its own unencrypted
        # /dev/sda1 because it does not resolve resolve:ssm image ids (docs/platform.md).
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


# 4. Re-runs on the built platform.


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


def inventory_graph(inventory: str) -> dict[str, set[str]]:
    result = run(["ansible-inventory", "-i", inventory, "--graph"], base_env())
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


# 6. The teardown of the built platform, interrupted, then finished by the next one.
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
    left = aws["ssm"].get_parameters_by_path(Path="/arena/local", Recursive=True)["Parameters"]
    assert sorted(p["Name"] for p in left) == [f"/arena/local/images/{t}" for t in sorted(TIERS)]  # the fixtures'
    assert [u["UserName"] for u in aws["iam"].list_users()["Users"] if u["UserName"].startswith(PREFIX)] == []
