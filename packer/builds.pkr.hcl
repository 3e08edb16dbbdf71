# One build, two sources: the AMI on AWS and the local container image. Both run the same
# provisioners (playbooks/bake.yml for var.tier, phase by phase); only how ansible reaches the
# machine differs.
build {
  name    = "arena"
  sources = ["source.amazon-ebs.tier", "source.docker.local"]

  # playbooks/bake.yml in three phases on the same machine. The local container is reached through
  # podman, not SSH: the repo's pipelined `podman` connection (connection_plugins/, configured in
  # ansible.cfg), one `podman exec` per task (override.local).
  # 1. base, hardening, the tier's roles and their handlers.
  provisioner "ansible" {
    playbook_file    = "${path.root}/../playbooks/bake.yml"
    use_proxy        = false
    user             = "admin"
    extra_arguments  = concat(local.bake_arguments, ["-e", "bake_phase=converge"])
    ansible_env_vars = local.bake_ansible_env
    override = {
      local = {
        user            = "root"
        extra_arguments = concat(local.bake_arguments, ["-e", "bake_phase=converge"], local.bake_local_arguments)
      }
    }
  }

  # 2. The same roles again: scripts/bake-idempotence.sh fails the build unless nothing changed.
  provisioner "ansible" {
    playbook_file    = "${path.root}/../playbooks/bake.yml"
    command          = "${path.root}/../scripts/bake-idempotence.sh"
    use_proxy        = false
    user             = "admin"
    extra_arguments  = concat(local.bake_arguments, ["-e", "bake_phase=idempotence"])
    ansible_env_vars = local.bake_ansible_env
    override = {
      local = {
        user            = "root"
        extra_arguments = concat(local.bake_arguments, ["-e", "bake_phase=idempotence"], local.bake_local_arguments)
      }
    }
  }

  # 3. image_cleanup, then the AIDE baseline of the finished image.
  provisioner "ansible" {
    playbook_file    = "${path.root}/../playbooks/bake.yml"
    use_proxy        = false
    user             = "admin"
    extra_arguments  = concat(local.bake_arguments, ["-e", "bake_phase=finish"])
    ansible_env_vars = local.bake_ansible_env
    override = {
      local = {
        user            = "root"
        extra_arguments = concat(local.bake_arguments, ["-e", "bake_phase=finish"], local.bake_local_arguments)
      }
    }
  }

  post-processor "docker-tag" {
    only       = ["docker.local"]
    repository = local.local_image
    tags       = [var.image_version]
  }

  post-processor "manifest" {
    output     = "${var.manifest_dir}/${var.tier}/manifest.json"
    strip_path = true
    custom_data = {
      tier          = var.tier
      image_version = var.image_version
      git_sha       = var.git_sha
      role_versions = var.role_versions
      build_time    = local.build_time
      local_image   = "${local.local_image}:${var.image_version}"
    }
  }
}
