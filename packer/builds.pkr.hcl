# One build, two sources: the AMI on AWS and the local container image. Both run the same
# provisioner (playbooks/bake.yml for var.tier); only how ansible reaches the machine differs.
build {
  name    = "arena"
  sources = ["source.amazon-ebs.tier", "source.docker.local"]

  provisioner "ansible" {
    playbook_file   = "${path.root}/../playbooks/bake.yml"
    use_proxy       = false
    user            = "admin"
    extra_arguments = local.bake_arguments
    ansible_env_vars = [
      "ANSIBLE_CONFIG=${path.root}/../ansible.cfg",
      "ANSIBLE_HOST_KEY_CHECKING=False",
    ]
    override = {
      # The local container is reached through podman, not SSH: the repo's pipelined `podman`
      # connection (connection_plugins/, configured in ansible.cfg), one `podman exec` per task.
      local = {
        user = "root"
        extra_arguments = concat(local.bake_arguments, [
          "-e", "ansible_connection=podman",
          "-e", "ansible_become=false",
          "-e", "ansible_host=${var.local_container_name}-${var.tier}",
        ])
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
