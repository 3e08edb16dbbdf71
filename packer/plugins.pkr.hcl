# Plugin requirements for modern Packer (>= 1.9): `packer init packer/` installs them.
# MODERN-ONLY FILE: Packer 1.6.6 has no `required_plugins` (nor `packer init`); its built-in
# amazon-ebs, docker and ansible components are used instead. scripts/packer-validate.sh leaves this
# file out of the derived 1.6.6 view (packer/.derived/).
packer {
  required_version = ">= 1.9.0"
  required_plugins {
    amazon = {
      version = ">= 1.3.0, < 2.0.0"
      source  = "github.com/hashicorp/amazon"
    }
    ansible = {
      version = ">= 1.1.0, < 2.0.0"
      source  = "github.com/hashicorp/ansible"
    }
    docker = {
      version = ">= 1.0.8, < 2.0.0"
      source  = "github.com/hashicorp/docker"
    }
  }
}
