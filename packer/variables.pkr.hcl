# Inputs of the image build. Every variable is typed, described and validated where a bad value is
# possible. Lines or blocks marked `modern-only` use what Packer 1.6.6 cannot parse (regex());
# scripts/packer-validate.sh drops them from the derived 1.6.6 view, the real files keep them.

variable "tier" {
  type        = string
  description = "Tier to bake: web, api or admin. Selects the hardening profile and the tier role(s) in playbooks/bake.yml."
  validation {
    condition     = contains(["web", "api", "admin"], var.tier)
    error_message = "The tier variable must be one of web, api, admin."
  }
}

variable "image_version" {
  type        = string
  description = "Image version: the AMI name suffix and the local image tag (for example 2026.11.26-1 or a git describe)."
  validation {
    condition     = length(var.image_version) > 0 && length(var.image_version) <= 64
    error_message = "The image_version variable must be 1 to 64 characters long."
  }
  # modern-only:begin
  validation {
    condition     = can(regex("^[0-9A-Za-z][0-9A-Za-z._-]*$", var.image_version))
    error_message = "The image_version variable may hold only letters, digits, '.', '_' and '-' (it is an image tag)."
  }
  # modern-only:end
}

variable "build_attempt" {
  type        = number
  description = "Attempt of the CI run that bakes (github.run_attempt): part of the AMI name, so that a re-run does not collide with the AMI name its failed attempt registered (AMI names are unique per account and region)."
  default     = 1
  validation {
    condition     = var.build_attempt >= 1 && var.build_attempt <= 999 && floor(var.build_attempt) == var.build_attempt
    error_message = "The build_attempt variable must be a whole number from 1 to 999 (github.run_attempt)."
  }
}

variable "git_sha" {
  type        = string
  description = "Git commit of the repository that baked the image (tag GitSha, label arena.git-sha)."
  validation {
    condition     = length(var.git_sha) >= 7 && length(var.git_sha) <= 40
    error_message = "The git_sha variable must be a 7 to 40 character commit id."
  }
}

variable "role_versions" {
  type        = string
  description = "Versions of the roles applied (role=version,...), recorded as tag RoleVersions and label arena.role-versions."
  default     = "unknown"
}

variable "aws_region" {
  type        = string
  description = "Region the AMI is built in."
  default     = "eu-west-1"
}

variable "ami_regions" {
  type        = list(string)
  description = "Further regions the finished AMI is copied to (encrypted with each region's default EBS key unless region_kms_key_ids is set)."
  default     = []
}

variable "region_kms_key_ids" {
  type        = map(string)
  description = "KMS key per copy region (region => key ARN) for the AMI copies in ami_regions."
  default     = {}
}

variable "kms_key_id" {
  type        = string
  description = "KMS key (ARN or alias/...) that encrypts the root volume and the AMI snapshots: alias/aws/ebs for the AWS managed EBS key (EC2 Auto Scaling needs no grant for it), or a customer managed key whose key policy grants the Auto Scaling service-linked role (docs/ami-pipeline.md)."
  validation {
    condition     = substr(var.kms_key_id, 0, 12) == "arn:aws:kms:" || substr(var.kms_key_id, 0, 6) == "alias/"
    error_message = "The kms_key_id variable must be a KMS key ARN (arn:aws:kms:...) or an alias (alias/...)."
  }
}

variable "source_ami_owner" {
  type        = string
  description = "Account that owns the source AMI: 136693071363 publishes the official Debian images."
  default     = "136693071363"
  validation {
    condition     = length(var.source_ami_owner) == 12
    error_message = "The source_ami_owner variable must be a 12-digit AWS account id (never an alias such as self or aws-marketplace)."
  }
}

variable "source_ami_name" {
  type        = string
  description = "Name filter of the source AMI (the newest match is used)."
  default     = "debian-12-amd64-*"
}

variable "spot_instance_types" {
  type        = list(string)
  description = "Spot instance types the build instance may use (the cheapest available one is taken)."
  default     = ["t3.small", "t3a.small", "m6i.large", "m5.large"]
  validation {
    condition     = length(var.spot_instance_types) > 0
    error_message = "The spot_instance_types variable needs at least one instance type."
  }
}

variable "subnet_id" {
  type        = string
  description = "Subnet of the build instance. No inbound rule is ever opened (Packer connects through SSM Session Manager), but the instance needs outbound HTTPS to the regional S3, ssm, ssmmessages and ec2messages endpoints (NAT or internet gateway, or VPC endpoints) and to the Debian mirror. Empty = the default VPC."
  default     = ""
}

variable "ssm_agent_gpg_key" {
  type        = string
  description = "AWS source: ASCII-armoured public key of the SSM Agent package signer, as AWS publishes it inline in 'Verifying the signature of SSM Agent' (CI passes it as PKR_VAR_ssm_agent_gpg_key). The build instance's user data installs the agent only when the package's signature is valid by this key and the key's fingerprint is ssm_agent_gpg_fingerprint; empty = the agent is never installed and the AWS build cannot connect. The local source ignores it."
  default     = ""
  validation {
    # The user data embeds the key in a quoted here-document ending at a line ARENA_SSM_AGENT_KEY.
    condition = var.ssm_agent_gpg_key == "" || (
      length(split("-----BEGIN PGP PUBLIC KEY BLOCK-----", var.ssm_agent_gpg_key)) == 2
      && length(split("-----END PGP PUBLIC KEY BLOCK-----", var.ssm_agent_gpg_key)) == 2
      && length(split("ARENA_SSM_AGENT_KEY", var.ssm_agent_gpg_key)) == 1
    )
    error_message = "The ssm_agent_gpg_key variable must be empty or one ASCII-armoured public key block (-----BEGIN PGP PUBLIC KEY BLOCK----- ... -----END PGP PUBLIC KEY BLOCK-----)."
  }
}

variable "ssm_agent_gpg_fingerprint" {
  type        = string
  description = "AWS source: fingerprint (40 upper-case hex digits) of the key that must have signed the SSM Agent package, as AWS documents it (the base role pins the same one)."
  default     = "DE92C7DA3E56E92331D62A36BC1F495C97DD04ED"
  validation {
    condition     = length(var.ssm_agent_gpg_fingerprint) == 40 && upper(var.ssm_agent_gpg_fingerprint) == var.ssm_agent_gpg_fingerprint
    error_message = "The ssm_agent_gpg_fingerprint variable must be a 40-digit upper-case hex fingerprint."
  }
  # modern-only:begin
  validation {
    condition     = can(regex("^[0-9A-F]{40}$", var.ssm_agent_gpg_fingerprint))
    error_message = "The ssm_agent_gpg_fingerprint variable may hold only the hex digits 0-9 and A-F."
  }
  # modern-only:end
}

variable "root_volume_size" {
  type        = number
  description = "Root volume size in GiB (gp3)."
  default     = 8
  validation {
    condition     = var.root_volume_size >= 8 && var.root_volume_size <= 64
    error_message = "The root_volume_size variable must be between 8 and 64 GiB."
  }
}

variable "deprecate_after_days" {
  type        = number
  description = "Days after the build when the AMI is marked deprecated."
  default     = 90
  validation {
    condition     = var.deprecate_after_days >= 1 && var.deprecate_after_days <= 730
    error_message = "The deprecate_after_days variable must be between 1 and 730."
  }
}

variable "local_base_image" {
  type        = string
  description = "Local source: the container image the local bake starts from (make base-image builds it)."
  default     = "localhost/arena-base:bookworm"
}

variable "local_image_repository" {
  type        = string
  description = "Local source: image repository prefix; the result is <prefix>-<tier>:<image_version>."
  default     = "localhost/arena"
}

variable "local_container_name" {
  type        = string
  description = "Local source: name of the build container (the ansible provisioner reaches it by this name)."
  default     = "arena-bake"
}

variable "manifest_dir" {
  type        = string
  description = "Directory of the Packer manifest (manifest.json); the SBOM is written next to it."
  default     = "build/images"
}

variable "bake_extra_vars_file" {
  type        = string
  description = "YAML file of tier role inputs (artifact URLs, versions) passed to playbooks/bake.yml with -e @file. Empty = none."
  default     = ""
}

variable "bake_apt_proxy" {
  type        = string
  description = "Local bake only: apt proxy (the host's apt-cacher-ng) used while baking; removed before the image is committed."
  default     = ""
}
