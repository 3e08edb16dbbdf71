#!/usr/bin/env python3
"""Launch tier instances in the lab from what the platform created in the AWS emulator.

The emulator records Auto Scaling instances but runs none. This launcher boots each recorded
instance of a tier's Auto Scaling group as EC2 would, from the platform's own resources:

1. the group's launch template at the version a launch gets now (the group's `$Latest`,
   `$Default` or version number, resolved by the emulator);
2. its image: `resolve:ssm:<parameter>` read from SSM, the AMI it names read from EC2, and the
   local container image that AMI was registered for (tag `arena:lab-image`, written by
   playbooks/publish_image.yml when it publishes a local bake to the emulator);
3. its instance profile: the role's credentials from the emulator's STS (AssumeRole), served
   through the instance metadata stand-in (scripts/lab/imds.py) exactly as the template's
   MetadataOptions say (token required or not, tags in metadata or not, endpoint on or off);
4. its tags (the instance's, as the emulator recorded them from the group and the template),
   its user data (run once at boot, as cloud-init's scripts-user runs a `#!` script);
5. its target group: the port the load balancer sends traffic to is published on 127.0.0.1, and
   health is probed with the target group's own health check protocol, port, path and matcher.

Each instance is three containers, all named after it: `<name>-net` (the instance's network
namespace, slirp4netns with the host's loopback at 10.0.2.2, the image's network sysctls, the
published port), `<name>-imds` (the metadata stand-in in a namespace of its own, reached at
169.254.169.254 over a veth pair: nothing is added to the instance) and `<name>` (the image,
systemd as PID 1, CAP_NET_ADMIN so its nftables ruleset loads as on an instance, /tmp mounted
with the options of the image's tmp.mount, which systemd skips in a container).
The one lab-only input the image gets is the emulator's endpoint
(`/etc/arena/runtime/source.conf`: ENDPOINT_URL only): on AWS that is the regional endpoint.
Everything else (region, environment, credentials) the image finds itself, as on EC2.

    launch.py up --tiers web,api,admin [--count N] [--name-prefix P] [--json FILE] [--cpus X] [--parallel]
    launch.py scale --tiers web --count N [--raise-max]
                                               set the groups' desired capacity (and have N instances recorded)
    launch.py down --name-prefix P             remove what `up` started
    launch.py tmp-mount IMAGE                  the --tmpfs option IMAGE's instances get (its tmp.mount)
Needs AWS_URL (the emulator on loopback) and AWS_REGION: run through scripts/with-emulator.sh or
after `source .lab/emulator.env`.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import functools
import json
import os
import secrets
import shutil
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LAB_DIR = Path(__file__).resolve().parent
ROOT = LAB_DIR.parent.parent
BASE_IMAGE = os.environ.get("ARENA_LAB_BASE_IMAGE", "localhost/arena-base:bookworm")
LAB_IMAGE_TAG = "arena:lab-image"
# The host's loopback as the instance's network namespace sees it (slirp4netns allow_host_loopback).
HOST_FROM_INSTANCE = "10.0.2.2"
IMDS_ADDRESS = "169.254.169.254"
INSTANCE_SUBNET = "10.0.2.0/24"


class LaunchError(Exception):
    """Why an instance cannot be launched; the message names the resource."""


@dataclass
class Instance:
    """One instance of a tier, as EC2 would start it from the platform."""

    tier: str
    group: str
    instance_id: str
    launch_template: str
    launch_template_version: str
    ami_id: str
    image: str
    instance_type: str
    availability_zone: str
    private_ip: str
    region: str
    account_id: str
    tags: dict[str, str]
    metadata_options: dict[str, str]
    role: dict[str, Any] | None
    user_data: str | None
    traffic_port: int
    health: dict[str, Any]
    security_group_ids: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Planning: read the platform in the emulator (pure functions of API answers, unit-tested).
# ---------------------------------------------------------------------------------------------
def template_spec(group: dict[str, Any]) -> dict[str, str]:
    """The launch template specification of a group (plain or mixed instances policy)."""
    if "LaunchTemplate" in group:
        return group["LaunchTemplate"]
    mixed = group.get("MixedInstancesPolicy", {}).get("LaunchTemplate", {})
    if "LaunchTemplateSpecification" in mixed:
        return mixed["LaunchTemplateSpecification"]
    raise LaunchError(
        f"group {group['AutoScalingGroupName']} has no launch template (launch configurations are not used)"
    )


def image_parameter(image_id: str) -> str | None:
    """'resolve:ssm:/arena/local/images/web' -> '/arena/local/images/web'; an AMI id -> None."""
    prefix = "resolve:ssm:"
    return image_id[len(prefix) :] if image_id.startswith(prefix) else None


def metadata_options(data: dict[str, Any]) -> dict[str, str]:
    """A template's MetadataOptions with EC2's defaults for what it leaves out.

    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_LaunchTemplateInstanceMetadataOptionsRequest.html
    """
    options = data.get("MetadataOptions") or {}
    return {
        "http_endpoint": options.get("HttpEndpoint", "enabled"),
        "http_tokens": options.get("HttpTokens", "optional"),
        "http_put_response_hop_limit": str(options.get("HttpPutResponseHopLimit", 1)),
        "instance_metadata_tags": options.get("InstanceMetadataTags", "disabled"),
    }


def user_data_text(data: dict[str, Any]) -> str | None:
    """The template's user data, decoded; only a `#!` script is run (as cloud-init's scripts-user)."""
    encoded = data.get("UserData")
    if not encoded:
        return None
    try:
        text = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as err:
        raise LaunchError(f"user data of the launch template is not base64 text: {err}") from None
    if not text.startswith("#!"):
        raise LaunchError(
            "the lab runs user data only as a '#!' script (no cloud-config: the local images have no cloud-init)"
        )
    return text


def health_of(target_group: dict[str, Any]) -> dict[str, Any]:
    """How the load balancer probes a target: protocol, port, path, healthy codes."""
    port = target_group.get("HealthCheckPort", "traffic-port")
    return {
        "protocol": target_group.get("HealthCheckProtocol", target_group["Protocol"]).lower(),
        "port": int(target_group["Port"]) if port == "traffic-port" else int(port),
        "path": target_group.get("HealthCheckPath", "/"),
        "codes": target_group.get("Matcher", {}).get("HttpCode", "200"),
    }


def healthy_code(code: int, matcher: str) -> bool:
    """An ALB matcher ('200', '200,204', '200-299') against a status code."""
    for part in matcher.split(","):
        low, _, high = part.strip().partition("-")
        if low and int(low) <= code <= int(high or low):
            return True
    return False


def imds_credentials(credentials: dict[str, Any], now: datetime) -> dict[str, str]:
    """STS credentials in the form IMDS serves them under iam/security-credentials/<role>."""
    expiration = credentials["Expiration"]
    if isinstance(expiration, datetime):
        expiration = expiration.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "Code": "Success",
        "LastUpdated": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Type": "AWS-HMAC",
        "AccessKeyId": credentials["AccessKeyId"],
        "SecretAccessKey": credentials["SecretAccessKey"],
        "Token": credentials["SessionToken"],
        "Expiration": expiration,
    }


class Platform:
    """Read-only view of the emulator's platform (boto3 clients on AWS_URL)."""

    def __init__(self, project: str, environment: str) -> None:
        import boto3  # noqa: PLC0415 -- the pure helpers above are imported by tests without it

        url, region = os.environ.get("AWS_URL", ""), os.environ.get("AWS_REGION", "")
        if not url.startswith(("http://127.0.0.1:", "http://localhost:")) or not region:
            raise LaunchError(f"AWS_URL must be the emulator on loopback and AWS_REGION set (got {url!r}, {region!r})")
        self.url, self.region = url, region
        self.project, self.environment = project, environment
        self._client = {
            s: boto3.client(s, endpoint_url=url, region_name=region)
            for s in ("autoscaling", "ec2", "ssm", "iam", "sts", "elbv2")
        }

    def group_name(self, tier: str) -> str:
        return f"{self.project}-{self.environment}-{tier}"

    def group(self, tier: str) -> dict[str, Any]:
        name = self.group_name(tier)
        groups = self._client["autoscaling"].describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
            "AutoScalingGroups"
        ]
        if not groups:
            raise LaunchError(f"no Auto Scaling group {name}: build the platform first (playbooks/platform.yml)")
        return groups[0]

    def set_capacity(self, tier: str, count: int, raise_max: bool = False) -> None:
        """The group's desired capacity (SetDesiredCapacity), and that many instances recorded.

        raise_max (lab benchmarks only: make bench-launch starts 10 where inventories/local allows 6):
        a count above the group's MaxSize first raises MaxSize to it, as production's larger groups
        (max_size 40) allow; without it such a count is refused.

        The emulator under-launches mixed instances groups (it truncates the on-demand share above the
        base: desired 2 with 1 on-demand base and 30 % on-demand above it records 1 instance, AWS
        launches 2). The shortfall is launched from the group's own template version in its subnet and
        attached to it (RunInstances + AttachInstances), so the group holds what AWS would launch.
        """
        group = self.group(tier)
        name = group["AutoScalingGroupName"]
        if raise_max and count > group["MaxSize"]:
            # The template is repeated: the emulator drops a MixedInstancesPolicy or LaunchTemplate an
            # update leaves out (AWS keeps them). One of its id and name, as UpdateAutoScalingGroup wants.
            spec = dict(template_spec(group))
            if "LaunchTemplateId" in spec:
                spec.pop("LaunchTemplateName", None)
            if "MixedInstancesPolicy" in group:
                policy = json.loads(json.dumps(group["MixedInstancesPolicy"]))
                policy["LaunchTemplate"]["LaunchTemplateSpecification"] = spec
                kept: dict[str, Any] = {"MixedInstancesPolicy": policy}
            else:
                kept = {"LaunchTemplate": spec}
            self._client["autoscaling"].update_auto_scaling_group(AutoScalingGroupName=name, MaxSize=count, **kept)
            print(f"launch.py: {name}: MaxSize {group['MaxSize']} -> {count} (--raise-max)", file=sys.stderr)
            group = self.group(tier)
        if not group["MinSize"] <= count <= group["MaxSize"]:
            raise LaunchError(
                f"{name}: {count} instances is outside MinSize..MaxSize {group['MinSize']}..{group['MaxSize']}"
            )
        autoscaling, ec2 = self._client["autoscaling"], self._client["ec2"]
        autoscaling.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=count)
        group = self.group(tier)
        missing = count - len([m for m in group.get("Instances", []) if m.get("LifecycleState") == "InService"])
        if missing <= 0:
            return
        lt_id, version, _ = self.launch_version(group)
        tags = [{"Key": t["Key"], "Value": t["Value"]} for t in group.get("Tags", []) if t.get("PropagateAtLaunch")]
        launched = ec2.run_instances(
            LaunchTemplate={"LaunchTemplateId": lt_id, "Version": version},
            MinCount=missing,
            MaxCount=missing,
            SubnetId=group["VPCZoneIdentifier"].split(",")[0],
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}] if tags else [],
        )["Instances"]
        autoscaling.attach_instances(AutoScalingGroupName=name, InstanceIds=[i["InstanceId"] for i in launched])

    def resolve_image(self, image_id: str) -> tuple[str, str]:
        """(AMI id, local container image) of a template's ImageId."""
        parameter = image_parameter(image_id)
        ami = image_id
        if parameter:
            try:
                ami = self._client["ssm"].get_parameter(Name=parameter)["Parameter"]["Value"]
            except self._client["ssm"].exceptions.ParameterNotFound:
                raise LaunchError(
                    f"image parameter {parameter} does not exist: publish an image (playbooks/publish_image.yml)"
                ) from None
        images = self._client["ec2"].describe_images(ImageIds=[ami])["Images"]
        if not images:
            raise LaunchError(f"AMI {ami} ({parameter or 'the template'}) does not exist in the emulator")
        tags = {t["Key"]: t["Value"] for t in images[0].get("Tags", [])}
        local = tags.get(LAB_IMAGE_TAG)
        if not local:
            raise LaunchError(
                f"AMI {ami} ({parameter or 'the template'}) has no tag {LAB_IMAGE_TAG}: "
                "it was not published from a local bake"
            )
        return ami, local

    def role_credentials(self, profile: dict[str, str], session: str) -> dict[str, Any] | None:
        name = profile.get("Name") or profile.get("Arn", "").rsplit("/", 1)[-1]
        if not name:
            return None
        try:
            found = self._client["iam"].get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
        except self._client["iam"].exceptions.NoSuchEntityException:
            raise LaunchError(f"instance profile {name} of the launch template does not exist") from None
        if not found["Roles"]:
            raise LaunchError(f"instance profile {name} has no role")
        role = found["Roles"][0]
        credentials = self._client["sts"].assume_role(
            RoleArn=role["Arn"], RoleSessionName=session, DurationSeconds=3600
        )["Credentials"]
        return {
            "name": role["RoleName"],
            "instance_profile_arn": found["Arn"],
            "instance_profile_id": found["InstanceProfileId"],
            "credentials": imds_credentials(credentials, datetime.now(UTC)),
        }

    def launch_version(self, group: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        """(template id, version number, template data) a launch of the group gets now: the group's
        `$Latest`, `$Default` or version number, resolved by EC2. (The emulator's per-instance record
        of the version does not follow later versions, so it is not used.)"""
        ec2 = self._client["ec2"]
        spec = template_spec(group)
        lt_id = (
            spec.get("LaunchTemplateId")
            or ec2.describe_launch_templates(LaunchTemplateNames=[spec["LaunchTemplateName"]])["LaunchTemplates"][0][
                "LaunchTemplateId"
            ]
        )
        resolved = ec2.describe_launch_template_versions(
            LaunchTemplateId=lt_id, Versions=[spec.get("Version", "$Default")]
        )["LaunchTemplateVersions"][0]
        return lt_id, str(resolved["VersionNumber"]), resolved["LaunchTemplateData"]

    def instances(self, tier: str, count: int) -> list[Instance]:
        """The first `count` InService instances of the tier's group, each as EC2 would launch it."""
        group = self.group(tier)
        spec = template_spec(group)
        lt_id, version, data = self.launch_version(group)
        members = [m for m in group.get("Instances", []) if m.get("LifecycleState") == "InService"][:count]
        if len(members) < count:
            raise LaunchError(
                f"{group['AutoScalingGroupName']} has {len(members)} InService instances, "
                f"{count} wanted (launch.py scale)"
            )
        if not group.get("TargetGroupARNs"):
            raise LaunchError(f"{group['AutoScalingGroupName']} has no target group")
        target_group = self._client["elbv2"].describe_target_groups(TargetGroupArns=group["TargetGroupARNs"][:1])[
            "TargetGroups"
        ][0]
        account = self._client["sts"].get_caller_identity()["Account"]
        ec2 = self._client["ec2"]
        result = []
        # The same for every instance of this launch: the image, the security groups, the user data.
        ami, image = self.resolve_image(data["ImageId"])
        groups = [g for nic in data.get("NetworkInterfaces", []) for g in nic.get("Groups", [])] + data.get(
            "SecurityGroupIds", []
        )
        user_data = user_data_text(data)
        for member in members:
            record = ec2.describe_instances(InstanceIds=[member["InstanceId"]])["Reservations"][0]["Instances"][0]
            result.append(
                Instance(
                    tier=tier,
                    group=group["AutoScalingGroupName"],
                    instance_id=member["InstanceId"],
                    launch_template=spec.get("LaunchTemplateName", lt_id),
                    launch_template_version=version,
                    ami_id=ami,
                    image=image,
                    instance_type=member.get("InstanceType") or data.get("InstanceType", ""),
                    availability_zone=member["AvailabilityZone"],
                    private_ip=record.get("PrivateIpAddress", ""),
                    region=self.region,
                    account_id=account,
                    tags={t["Key"]: t["Value"] for t in record.get("Tags", [])},
                    metadata_options=metadata_options(data),
                    role=self.role_credentials(data.get("IamInstanceProfile") or {}, member["InstanceId"]),
                    user_data=user_data,
                    traffic_port=int(target_group["Port"]),
                    health=health_of(target_group),
                    security_group_ids=groups,
                )
            )
        return result


def imds_config(instance: Instance, launch_time: datetime) -> dict[str, Any]:
    """What scripts/lab/imds.py serves to this instance."""
    return {
        "metadata_options": instance.metadata_options,
        "instance": {
            "account_id": instance.account_id,
            "availability_zone": instance.availability_zone,
            "image_id": instance.ami_id,
            "instance_id": instance.instance_id,
            "instance_type": instance.instance_type,
            "pending_time": launch_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "private_ip": instance.private_ip,
            "region": instance.region,
            "hostname": f"ip-{instance.private_ip.replace('.', '-')}.{instance.region}.compute.internal",
            "security_groups": instance.security_group_ids,
        },
        "tags": instance.tags,
        "role": instance.role,
        "user_data": instance.user_data,
    }


def endpoint_source(aws_url: str) -> str:
    """The lab-only source.conf: the emulator's endpoint as the instance reaches it, nothing else."""
    port = aws_url.rsplit(":", 1)[1].rstrip("/")
    return f"# Lab only (scripts/lab/launch.py): the AWS endpoint. Region, environment and credentials come from IMDS.\nENDPOINT_URL=http://{HOST_FROM_INSTANCE}:{port}\n"


def network_sysctls(sysctl_text: str) -> list[str]:
    """`net.*` keys of an image's sysctl.d (what systemd-sysctl applies at boot) as --sysctl options."""
    out = []
    for raw in sysctl_text.splitlines():
        key, sep, value = raw.split("#", 1)[0].strip().partition("=")
        key, value = key.strip(), value.strip()
        if sep and key.startswith(("net.ipv4.", "net.ipv6.")) and value and " " not in value:
            out.append(f"--sysctl={key}={value}")
    return out


# The options of a tmpfs an image's tmp.mount asks for that podman's --tmpfs takes (size and inode
# counts are the instance's memory's; a container's are its runtime's).
TMPFS_OPTIONS = ("nosuid", "nodev", "noexec", "ro", "rw")


def tmp_mount(unit_text: str, enabled: bool) -> list[str]:
    """`--tmpfs=/tmp:...` for an image whose enabled tmp.mount mounts /tmp (roles/hardening mounts):
    systemd mounts it at boot on an instance, and skips it in a container, whose runtime mounts /tmp
    (podman: nosuid,nodev, exec allowed). [] when the image has none or it is not enabled."""
    options = next((line.split("=", 1)[1] for line in unit_text.splitlines() if line.startswith("Options=")), None)
    if not enabled or options is None:
        return []
    kept = [opt for opt in options.split(",") if opt in TMPFS_OPTIONS or opt.startswith("mode=")]
    return [f"--tmpfs=/tmp:{','.join(kept)}"]


# ---------------------------------------------------------------------------------------------
# Booting: podman and the veth pair (root).
# ---------------------------------------------------------------------------------------------
def _run(*args: str, input_text: str | None = None) -> str:
    done = subprocess.run(list(args), capture_output=True, text=True, input=input_text, check=False)
    if done.returncode != 0:
        raise LaunchError(f"{' '.join(args[:4])} ...: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@functools.cache
def image_network_sysctls(image: str) -> list[str]:
    """The `--sysctl` options of an image's network sysctls (read once per image and run)."""
    return network_sysctls(
        _run(
            "podman",
            "run",
            "--rm",
            "--entrypoint",
            "/bin/sh",
            image,
            "-c",
            "cat /etc/sysctl.d/*.conf 2>/dev/null || true",
        )
    )


@functools.cache
def image_tmp_mount(image: str) -> list[str]:
    """The `--tmpfs` option of an image's tmp.mount (read once per image and run)."""
    script = (
        "cat /etc/systemd/system/tmp.mount 2>/dev/null; "
        "test -e /etc/systemd/system/local-fs.target.wants/tmp.mount && echo ARENA_ENABLED=1; true"
    )
    text = _run("podman", "run", "--rm", "--entrypoint", "/bin/sh", image, "-c", script)
    return tmp_mount(text, "ARENA_ENABLED=1" in text.splitlines())


def _pid(container: str) -> str:
    return _run("podman", "inspect", "-f", "{{.State.Pid}}", container)


def plumb_imds(net_container: str, imds_container: str) -> None:
    """A veth pair: the instance's end routes 169.254.169.254, the other end is that address."""
    host_a, host_b = f"arv{secrets.token_hex(4)}", f"arw{secrets.token_hex(4)}"
    _run("ip", "link", "add", host_a, "type", "veth", "peer", "name", host_b)
    try:
        _run("ip", "link", "set", host_a, "netns", _pid(net_container))
        _run("ip", "link", "set", host_b, "netns", _pid(imds_container))
    except LaunchError:
        subprocess.run(["ip", "link", "del", host_a], capture_output=True, check=False)
        raise
    _run(
        "nsenter",
        "-t",
        _pid(net_container),
        "-n",
        "sh",
        "-ec",
        f"ip link set {host_a} name imds0; ip link set imds0 up; ip route add {IMDS_ADDRESS}/32 dev imds0",
    )
    _run(
        "nsenter",
        "-t",
        _pid(imds_container),
        "-n",
        "sh",
        "-ec",
        f"ip link set {host_b} name eth0; ip addr add {IMDS_ADDRESS}/32 dev eth0; ip link set eth0 up; "
        f"ip route add {INSTANCE_SUBNET} dev eth0",
    )


@dataclass
class Booted:
    tier: str
    instance_id: str
    container: str
    image: str
    ami_id: str
    launch_template: str
    launch_template_version: str
    base_url: str
    health_url: str
    health_codes: str
    started: float  # systemd's start in the container, seconds since the epoch
    boot_seconds: float | None = None
    health_status: int | None = None
    # The lab's launch: when launch.py began to start this instance's containers (seconds since the
    # epoch), and from then to healthy (make bench-launch). On EC2 the launch's own part is
    # tiers.yml arena_boot.instance_launch_seconds; boot_seconds above is the image's part.
    launched: float = 0.0
    launch_seconds: float | None = None


# An instance on EC2 boots on vCPUs of its own. Here podman's cgroupfs manager puts every container
# under one cgroup (libpod_parent), which on cgroup v1 weighs as much as a single host process: with
# make test's other stages running, an instance got a few percent of the CPU and its boot took 10-17 s
# (2.7 s on the quiet machine), so the gate timed the host's load, not the image. Lab instances boot in
# a cgroup of their own with the largest CPU weight instead, as if the CPU were theirs. Where that
# cgroup cannot be made (cgroup v2, systemd manager, no cpu controller), instances keep podman's default.
INSTANCE_CGROUP = "arena_lab_instances"
INSTANCE_CPU_SHARES = 262144  # cgroup v1's maximum cpu.shares


@functools.cache
def instance_cgroup() -> tuple[str, ...]:
    """podman options that start an instance in the lab instances' cgroup, () where there is none."""
    shares = Path("/sys/fs/cgroup/cpu") / INSTANCE_CGROUP / "cpu.shares"
    manager = subprocess.run(
        ["podman", "info", "--format", "{{.Host.CgroupManager}}"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if manager != "cgroupfs" or not shares.parent.parent.joinpath("cpu.shares").is_file():
        return ()
    try:
        shares.parent.mkdir(exist_ok=True)
        shares.write_text(str(INSTANCE_CPU_SHARES), encoding="ascii")
    except OSError as err:
        print(f"launch.py: instances keep podman's default cgroup ({err})", file=sys.stderr)
        return ()
    return (f"--cgroup-parent=/{INSTANCE_CGROUP}",)


def container_started(name: str) -> float:
    """When the container's PID 1 (systemd) started, seconds since the epoch."""
    return int(_run("podman", "inspect", "--format", "{{.State.StartedAt.UnixNano}}", name).strip()) / 1e9


def boot(instance: Instance, name: str, workdir: Path, cpus: float | None = None) -> Booted:
    """Start the instance's containers; returns at once (health is awaited separately). cpus limits
    the instance's container to that many CPUs (podman --cpus: a CFS quota), a stated vCPU share."""
    launched = time.time()
    down_one(name)
    work = workdir / name
    work.mkdir(parents=True, exist_ok=True)
    launch_time = datetime.now(UTC)
    port = free_port()
    sysctls = image_network_sysctls(instance.image)
    publish = [f"127.0.0.1:{port}:{instance.traffic_port}"]
    health_port = port
    if instance.health["port"] != instance.traffic_port:
        health_port = free_port()
        publish.append(f"127.0.0.1:{health_port}:{instance.health['port']}")
    _run(
        "podman",
        "run",
        "-d",
        "--name",
        f"{name}-net",
        "--network",
        "slirp4netns:allow_host_loopback=true",
        *[f"-p={p}" for p in publish],
        *sysctls,
        "--label",
        f"arena.lab.instance={instance.instance_id}",
        BASE_IMAGE,
        "sleep",
        "infinity",
    )
    if instance.metadata_options["http_endpoint"] == "enabled":
        (work / "imds.json").write_text(json.dumps(imds_config(instance, launch_time), indent=1), encoding="utf-8")
        shutil.copy(LAB_DIR / "imds.py", work / "imds.py")
        _run(
            "podman",
            "run",
            "-d",
            "--name",
            f"{name}-imds",
            "--network",
            "none",
            "-v",
            f"{work}:/imds:ro,Z",
            BASE_IMAGE,
            "python3",
            "/imds/imds.py",
            "/imds/imds.json",
        )
        plumb_imds(f"{name}-net", f"{name}-imds")
    (work / "source.conf").write_text(endpoint_source(os.environ["AWS_URL"]), encoding="utf-8")
    _run(
        "podman",
        "run",
        "-d",
        "--name",
        name,
        *instance_cgroup(),
        *([f"--cpus={cpus:g}"] if cpus else []),
        "--systemd=always",
        "--network",
        f"container:{name}-net",
        "--cap-add=NET_ADMIN",
        *image_tmp_mount(instance.image),
        "-v",
        f"{work / 'source.conf'}:/etc/arena/runtime/source.conf:ro,Z",
        "--label",
        f"arena.lab.instance={instance.instance_id}",
        instance.image,
    )
    # The boot is timed from systemd's start, as on EC2 after the instance launch
    # (tiers.yml arena_boot.instance_launch_seconds): podman's own set-up is not the image's.
    started = container_started(name)
    if instance.user_data:
        (work / "user-data").write_text(instance.user_data, encoding="utf-8")
        _run("podman", "cp", str(work / "user-data"), f"{name}:/run/arena-user-data")
        _run("podman", "exec", name, "sh", "-c", "chmod 0700 /run/arena-user-data && /run/arena-user-data")
    scheme = instance.health["protocol"] if instance.health["protocol"] in ("http", "https") else "http"
    return Booted(
        tier=instance.tier,
        instance_id=instance.instance_id,
        container=name,
        image=instance.image,
        ami_id=instance.ami_id,
        launch_template=instance.launch_template,
        launch_template_version=instance.launch_template_version,
        base_url=f"{scheme}://127.0.0.1:{port}/",
        health_url=f"{scheme}://127.0.0.1:{health_port}{instance.health['path']}",
        health_codes=instance.health["codes"],
        started=started,
        launched=launched,
    )


_TLS = ssl.create_default_context()
_TLS.check_hostname = False
_TLS.verify_mode = ssl.CERT_NONE  # each instance has its own self-signed pair; the ALB does not verify either


def probe(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=1, context=_TLS) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
    except (urllib.error.URLError, OSError):
        return 0


def watch_health(item: Booted, budget: float) -> None:
    """Probe one instance from its boot until healthy (the target group's matcher) or the budget is
    spent. Healthy means an answer within the budget: one found later leaves boot_seconds None."""
    while True:
        item.health_status = probe(item.health_url)
        elapsed = time.time() - item.started
        if elapsed > budget:
            return
        if healthy_code(item.health_status, item.health_codes):
            item.boot_seconds = round(elapsed, 2)
            item.launch_seconds = round(item.started + elapsed - item.launched, 2) if item.launched else None
            return
        time.sleep(0.05)


def watch(item: Booted, budget: float) -> threading.Thread:
    """A watcher for one instance, started as soon as it boots, so that booting the next instances
    does not count against it."""
    watcher = threading.Thread(target=watch_health, args=(item, budget), daemon=True)
    watcher.start()
    return watcher


def boot_all(
    named: list[tuple[Instance, str]], workdir: Path, cpus: float | None, budget: float, *, parallel: bool
) -> list[tuple[Booted, threading.Thread]]:
    """Boot the instances, each watched from its boot on: one after another, or (parallel, make
    bench-launch) all at once as EC2 launches a scale-out, each from its own thread."""

    def one(instance: Instance, name: str) -> tuple[Booted, threading.Thread]:
        item = boot(instance, name, workdir, cpus=cpus)
        return item, watch(item, budget)

    if not parallel or len(named) < 2:
        return [one(instance, name) for instance, name in named]
    for image in {instance.image for instance, _ in named}:  # read once, not by every thread
        image_network_sysctls(image)
        image_tmp_mount(image)
    instance_cgroup()
    with ThreadPoolExecutor(max_workers=len(named)) as pool:
        futures = [pool.submit(one, instance, name) for instance, name in named]
        return [future.result() for future in futures]


def down_one(name: str) -> None:
    """Remove an instance's containers, the one sharing the network namespace first. One name per call:
    podman 4.3 removes nothing when one of several names does not exist."""
    for container in (name, f"{name}-imds", f"{name}-net"):
        subprocess.run(["podman", "rm", "-f", "-t", "0", container], capture_output=True, check=False)


def down(prefix: str) -> None:
    names = _run("podman", "ps", "-a", "--filter", "label=arena.lab.instance", "--format", "{{.Names}}").split()
    # Each instance's network container (<name>-net) is made first and goes last: one per instance.
    for name in names:
        if name.startswith(prefix + "-") and name.endswith("-net"):
            down_one(name.removesuffix("-net"))


# ---------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    # `tmp-mount IMAGE`: the --tmpfs option an instance of IMAGE gets (scripts/hardening/score.sh).
    sub.add_parser("tmp-mount").add_argument("image")
    for command in ("up", "scale", "down"):
        p = sub.add_parser(command)
        p.add_argument("--name-prefix", default="arena-lab")
        if command != "down":
            p.add_argument("--tiers", default="web,api,admin")
            p.add_argument("--count", type=int, default=1)
            p.add_argument("--project", default="arena")
            p.add_argument("--environment", default="local")
        if command == "up":
            p.add_argument("--budget", type=float, default=60.0, help="seconds to healthy per instance")
            p.add_argument(
                "--cpus",
                type=float,
                default=float(os.environ.get("ARENA_LAB_INSTANCE_CPUS") or 0) or None,
                help="CPUs of each instance's container (podman --cpus; default: ARENA_LAB_INSTANCE_CPUS, or none)",
            )
            p.add_argument("--json", help="write what was booted here")
            p.add_argument("--workdir", default=str(Path(os.environ.get("ARENA_LAB_DIR", ROOT / ".lab")) / "launch"))
    sub.choices["scale"].add_argument("--raise-max", action="store_true", help="raise MaxSize to the count (lab)")
    sub.choices["up"].add_argument(
        "--parallel",
        action="store_true",
        default=os.environ.get("ARENA_LAB_PARALLEL_BOOT") == "1",
        help="boot a tier's instances all at once (default: ARENA_LAB_PARALLEL_BOOT=1)",
    )
    args = parser.parse_args(argv)
    # The commands that need no platform.
    plain = {
        "down": lambda: down(args.name_prefix),
        "tmp-mount": lambda: print(" ".join(image_tmp_mount(args.image))),
    }
    try:
        if args.command in plain:
            plain[args.command]()
            return 0
        platform = Platform(args.project, args.environment)
        tiers = [t for t in args.tiers.split(",") if t]
        if args.command == "scale":
            for tier in tiers:
                platform.set_capacity(tier, args.count, raise_max=args.raise_max)
            return 0
        booted, watchers = [], []
        for tier in tiers:
            named = [
                (instance, f"{args.name_prefix}-{tier}" + (f"-{n}" if args.count > 1 else ""))
                for n, instance in enumerate(platform.instances(tier, args.count), start=1)
            ]
            for item, watcher in boot_all(named, Path(args.workdir), args.cpus, args.budget, parallel=args.parallel):
                booted.append(item)
                watchers.append(watcher)
    except LaunchError as err:
        print(f"launch.py: {err}", file=sys.stderr)
        return 2
    for watcher in watchers:
        watcher.join()
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(b) for b in booted], indent=1), encoding="utf-8")
    print(f"{'TIER':<6} {'INSTANCE':<20} {'AMI':<22} {'TEMPLATE':<22} {'IMAGE':<42} HEALTH")
    for b in booted:
        state = (
            f"{b.health_status} in {b.boot_seconds:.2f} s"
            if b.boot_seconds is not None
            else f"UNHEALTHY ({b.health_status})"
        )
        template = f"{b.launch_template}:{b.launch_template_version}"
        print(f"{b.tier:<6} {b.instance_id:<20} {b.ami_id:<22} {template:<22} {b.image:<42} {state}")
    return 0 if all(b.boot_seconds is not None for b in booted) else 1


if __name__ == "__main__":
    sys.exit(main())
