# Derived values shared by the sources and the build.
locals {
  build_time       = timestamp()
  ami_name         = "arena-${var.tier}-${var.image_version}"
  local_image      = "${var.local_image_repository}-${var.tier}"
  deprecation_time = timeadd(local.build_time, "${var.deprecate_after_days * 24}h")

  # Tags on the AMI and its snapshots; the same facts become OCI labels on the local image.
  image_tags = {
    Project      = "arena"
    Tier         = var.tier
    GitSha       = var.git_sha
    ImageVersion = var.image_version
    BuildTime    = local.build_time
    RoleVersions = var.role_versions
    ManagedBy    = "packer"
  }

  # Arguments of playbooks/bake.yml, the same for every source.
  bake_arguments = concat(
    ["-e", "bake_tier=${var.tier}", "-e", "bake_git_sha=${var.git_sha}", "-e", "bake_apt_proxy=${var.bake_apt_proxy}"],
    var.bake_extra_vars_file == "" ? [] : ["-e", "@${var.bake_extra_vars_file}"],
  )
  # How ansible reaches the local build container (the docker source): the lab podman connection,
  # as root (connection_plugins/podman.py enters it with nsenter).
  bake_local_arguments = [
    "-e", "ansible_connection=podman",
    "-e", "ansible_become=false",
    "-e", "ansible_host=${var.local_container_name}-${var.tier}",
  ]
  bake_ansible_env = [
    "ANSIBLE_CONFIG=${path.root}/../ansible.cfg",
    "ANSIBLE_HOST_KEY_CHECKING=False",
  ]
}
