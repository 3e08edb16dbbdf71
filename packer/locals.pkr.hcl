# Derived values shared by the sources and the build.
locals {
  build_time       = timestamp()
  local_image      = "${var.local_image_repository}-${var.tier}"
  deprecation_time = timeadd(local.build_time, "${var.deprecate_after_days * 24}h")

  # AMI names are unique per account and region: a re-run of a failed CI job (github.run_attempt)
  # must not collide with the AMI its failed attempt may have registered. At most 6 + 5 + 1 + 64 +
  # 8 + 3 = 87 characters, within EC2's 128 (the amazon plugin refuses longer names at validate).
  ami_name = "arena-${var.tier}-${var.image_version}-attempt${var.build_attempt}"

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

  # User data of the AWS build instance: installs AWS's SSM Agent, which Packer's
  # ssh_interface = "session_manager" needs and the official Debian AMI lacks (Debian does not
  # package it). AWS's .deb comes from the build region's S3 bucket and is installed only if its
  # detached signature is valid by the key ssm_agent_gpg_key with the fingerprint
  # ssm_agent_gpg_fingerprint (gpgv, always on Debian as apt needs it; the armour is undone with
  # base64, gpgv reads binary keyrings only). The agent stays in the image: the fleet is reached
  # through Session Manager too (inventories/*/group_vars/all/connection.yml). Downloads go to a
  # scratch directory in /run (tmpfs), removed on exit. Failures are on the instance's console
  # (aws ec2 get-console-output), and the build then times out waiting for SSM.
  ssm_agent_domain      = substr(var.aws_region, 0, 3) == "cn-" ? "amazonaws.com.cn" : "amazonaws.com"
  ssm_agent_package_url = "https://s3.${var.aws_region}.${local.ssm_agent_domain}/amazon-ssm-${var.aws_region}/latest/debian_amd64/amazon-ssm-agent.deb"
  ssm_agent_user_data   = <<-EOT
    #!/bin/sh
    # arena AMI bake (packer/locals.pkr.hcl): AWS's SSM Agent, signature-checked, for Session Manager.
    set -eu
    url='${local.ssm_agent_package_url}'
    fingerprint='${var.ssm_agent_gpg_fingerprint}'
    say() { echo "arena-ssm-agent: $*" >&2; }

    fetch() {
      tries=1
      while :; do
        if command -v curl >/dev/null 2>&1; then
          curl --fail --silent --show-error --location --proto '=https' --output "$2" "$1" && return 0
        else
          python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' "$1" "$2" && return 0
        fi
        if [ "$tries" -ge 5 ]; then
          say "cannot download $1"
          return 1
        fi
        tries=$((tries + 1))
        sleep 5
      done
    }

    if [ "$(dpkg-query --show --showformat='$${Status}' amazon-ssm-agent 2>/dev/null || true)" = "install ok installed" ]; then
      say "amazon-ssm-agent is installed already"
    else
      work=$(mktemp -d "$${TMPDIR:-/run}/arena-ssm-agent.XXXXXX")
      trap 'rm -rf "$work"' EXIT
      cat > "$work/key.asc" <<'ARENA_SSM_AGENT_KEY'
    ${var.ssm_agent_gpg_key}
    ARENA_SSM_AGENT_KEY
      tr -d '\r' < "$work/key.asc" | awk '
        /^-----BEGIN PGP PUBLIC KEY BLOCK-----/ { body = 1; next }
        body == 1 && /^[[:space:]]*$/ { body = 2; next }
        body == 2 && (/^=/ || /^-----END/) { exit }
        body == 2 { print }
      ' > "$work/key.b64"
      if [ ! -s "$work/key.b64" ] || ! base64 --decode < "$work/key.b64" > "$work/key.gpg" 2>/dev/null; then
        say "REFUSED: no usable SSM Agent signing key (Packer variable ssm_agent_gpg_key); not installing $url"
        exit 1
      fi
      fetch "$url" "$work/amazon-ssm-agent.deb"
      fetch "$url.sig" "$work/amazon-ssm-agent.deb.sig"
      signer=$(gpgv --homedir "$work" --keyring "$work/key.gpg" --status-fd 1 \
        "$work/amazon-ssm-agent.deb.sig" "$work/amazon-ssm-agent.deb" 2>/dev/null | awk '$2 == "VALIDSIG" { print $NF }')
      if [ "$signer" != "$fingerprint" ]; then
        say "REFUSED: $url is not signed by the key $fingerprint (valid signature by: '$signer'); not installing it"
        exit 1
      fi
      say "signature valid (key $fingerprint); installing $url"
      dpkg --install "$work/amazon-ssm-agent.deb"
    fi
    systemctl enable amazon-ssm-agent
    systemctl start amazon-ssm-agent
    say "amazon-ssm-agent running"
  EOT

  # Arguments of playbooks/bake.yml, the same for every source.
  bake_arguments = concat(
    ["-e", "bake_tier=${var.tier}", "-e", "bake_git_sha=${var.git_sha}", "-e", "bake_apt_proxy=${var.bake_apt_proxy}"],
    # The security index the bake's upgrade used, fetched next to the manifest for the image gate.
    ["-e", "bake_patch_index_dir=${abspath(var.manifest_dir)}/${var.tier}/apt"],
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
