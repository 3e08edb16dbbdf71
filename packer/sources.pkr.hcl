# Image sources: amazon-ebs for AWS, and a local container (the docker builder driving podman through
# scripts/docker-podman-shim) that runs the same provisioners on the local base image.
# Lines marked `modern-only` are settings Packer 1.6.6 rejects; scripts/packer-validate.sh drops them
# from the derived 1.6.6 view. They stay here: modern Packer in CI builds with all of them.

source "amazon-ebs" "tier" {
  region          = var.aws_region
  ami_name        = local.ami_name
  ami_description = "arena ${var.tier} tier, ${var.image_version} (git ${var.git_sha})"

  # Official Debian 12 images only: the owner is pinned, the newest matching image is used.
  source_ami_filter {
    filters = {
      name                = var.source_ami_name
      architecture        = "x86_64"
      root-device-type    = "ebs"
      virtualization-type = "hvm"
    }
    owners      = [var.source_ami_owner]
    most_recent = true
  }

  # Build on spot capacity: the cheapest of these types that is available.
  spot_instance_types = var.spot_instance_types
  spot_price          = "auto"
  subnet_id           = var.subnet_id == "" ? null : var.subnet_id

  # IMDSv2 only, on the build instance and on every instance launched from the AMI.
  imds_support = "v2.0" # modern-only
  # modern-only:begin
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  # modern-only:end

  # No inbound port at all: Packer reaches the instance through SSM Session Manager (an SSH session
  # to the instance's own sshd, carried by a Session Manager port-forwarding tunnel), with a
  # temporary key pair and a temporary instance profile. With session_manager the amazon plugin
  # adds no ingress rule to its temporary security group. The official Debian AMI has no SSM Agent:
  # the user data installs it, signature-checked (local.ssm_agent_user_data); Packer retries the
  # session until the agent has registered, within ssh_timeout. The runner needs the Session
  # Manager plugin, the subnet outbound HTTPS (variable subnet_id, docs/ami-pipeline.md).
  user_data     = local.ssm_agent_user_data
  communicator  = "ssh"
  ssh_username  = "admin"
  ssh_interface = "session_manager"
  ssh_timeout   = "10m"
  temporary_iam_instance_profile_policy_document {
    Version = "2012-10-17"
    Statement {
      Effect   = "Allow"
      Action   = ["ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"]
      Resource = ["*"]
    }
  }

  # Encrypted gp3 root volume with the given KMS key; the AMI's snapshots inherit it.
  encrypt_boot = true
  kms_key_id   = var.kms_key_id
  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_type           = "gp3"
    volume_size           = var.root_volume_size
    iops                  = 3000
    throughput            = 125
    encrypted             = true
    kms_key_id            = var.kms_key_id
    delete_on_termination = true
  }

  # Copies in further regions, each encrypted too.
  ami_regions        = var.ami_regions
  region_kms_key_ids = var.region_kms_key_ids

  # Never public, never shared with other accounts or groups.
  ami_groups      = []
  ami_users       = []
  snapshot_groups = []
  snapshot_users  = []

  deprecate_at = local.deprecation_time # modern-only

  tags          = merge(local.image_tags, { Name = local.ami_name, SourceAmi = "{{ .SourceAMI }}" })
  snapshot_tags = merge(local.image_tags, { Name = local.ami_name, SourceAmi = "{{ .SourceAMI }}" })
  run_tags      = merge(local.image_tags, { Name = "packer-${local.ami_name}" })
}

source "docker" "local" {
  image  = var.local_base_image
  pull   = false
  commit = true
  # systemd as PID 1 while baking, so the roles manage services as on an instance.
  run_command = ["-d", "--systemd=always", "--name", "${var.local_container_name}-${var.tier}", "{{ .Image }}", "/sbin/init"]
  # The builder bind-mounts its upload directory here. Its default, /packer-files, would leave an
  # empty mount point directory in the committed image; /run is a tmpfs in a --systemd=always
  # container, so a mount point below it never reaches the image (image_cleanup fails the bake on
  # a /packer-files). The ansible provisioner reaches the container through podman, not uploads.
  container_dir = "/run/packer-files"
  # One LABEL per change string (podman's commit takes them one by one).
  changes = concat(
    [for key, value in local.image_tags : "LABEL arena.${lower(key)}=${value}"],
    ["LABEL arena.source-image=${var.local_base_image}", "ENTRYPOINT [\"/sbin/init\"]"],
  )
}
