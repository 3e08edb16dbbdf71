#!/usr/bin/env bash
# Static checks: yamllint, ansible-lint (profile production), ruff, role docs and defaults against
# their argument specs (scripts/role-docs.sh --check), the hardening exceptions table of
# docs/hardening.md against roles/hardening/vars/exceptions.yml, and Packer when packer/ has
# templates (fmt -check, and validate on the 1.6.6-compatible view when its script exists).
source "$(dirname "$0")/lib.sh"
cd "$ARENA_ROOT"
rc=0
run() { echo "--- $*"; "$@" || rc=1; }
run yamllint --strict .
# ansible-lint's syntax checks (one ansible-playbook per playbook) load ansible.cfg's inventory,
# inventories/local, whose aws_ec2 source imports the AWS SDK to find no emulator each time: its static
# file has the same group_vars (as the tests' LAB_INVENTORY). 75 -> 61 CPU-s.
ANSIBLE_INVENTORY="${ARENA_ROOT}/inventories/local/containers.yml" run ansible-lint --offline
run ruff check .
run ruff format --check .
run scripts/role-docs.sh --check
run "$ARENA_VENV/bin/python" scripts/hardening/exceptions.py --check-docs
if compgen -G "packer/*.pkr.hcl" >/dev/null; then
  run packer fmt -check -diff packer/
  if [[ -x scripts/packer-validate.sh ]]; then run scripts/packer-validate.sh; fi
fi
exit "$rc"
