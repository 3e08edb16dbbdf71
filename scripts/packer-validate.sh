#!/usr/bin/env bash
# Validate the Packer templates with the Packer installed here (Debian's 1.6.6).
# The real templates in packer/ are modern (Packer >= 1.9 with the amazon, docker and ansible
# plugins). This script derives a 1.6.6-compatible copy into packer/.derived/ (git-ignored):
#   - plugins.pkr.hcl (required_plugins) is left out;
#   - lines ending in `# modern-only` and blocks between `# modern-only:begin` / `# modern-only:end`
#     are dropped;
#   - `${path.root}/../` becomes `${path.root}/../../` (the copy sits one directory deeper).
# It then runs `packer validate` on the copy once per tier. Nothing is ever deleted from packer/.
#   scripts/packer-validate.sh            validate every tier
#   scripts/packer-validate.sh --derive   only write the derived copy (the local bake builds from it)
source "$(dirname "$0")/lib.sh"
cd "$ARENA_ROOT"
export PATH="${ARENA_VENV}/bin:${PATH}"

src="${ARENA_ROOT}/packer"
# ARENA_PACKER_DERIVED: another directory directly under packer/ (the derived files refer to the
# repository as ${path.root}/../../), for a run beside another that writes packer/.derived.
out="${ARENA_PACKER_DERIVED:-${src}/.derived}"
[[ "$(dirname "$out")" == "$src" ]] || die "ARENA_PACKER_DERIVED must be a directory directly under ${src}"

derive() {
  rm -rf "$out"
  mkdir -p "$out"
  local f name
  for f in "$src"/*.pkr.hcl; do
    name="$(basename "$f")"
    [[ "$name" == plugins.pkr.hcl ]] && continue
    awk '
      /#[[:space:]]*modern-only:begin/ { skip = 1; next }
      /#[[:space:]]*modern-only:end/   { skip = 0; next }
      skip { next }
      /#[[:space:]]*modern-only[[:space:]]*$/ { next }
      { gsub(/\$\{path\.root\}\/\.\.\//, "${path.root}/../../"); print }
      END { if (skip) { print "unterminated modern-only:begin in " FILENAME > "/dev/stderr"; exit 1 } }
    ' "$f" > "${out}/${name}"
  done
  # Code lines only (comments may name these settings).
  if grep -nE '^[^#]*(required_plugins|imds_support|metadata_options|deprecate_at[[:space:]]*=|regex(all)?\()' "$out"/*.pkr.hcl; then
    die "the derived view still holds settings Packer 1.6.6 rejects (mark them modern-only in packer/)"
  fi
}

derive
[[ "${1:-}" == --derive ]] && { log "derived view written to ${out}"; exit 0; }

command -v packer >/dev/null || die "packer is not installed (apt-get install packer)"
command -v ansible-playbook >/dev/null || die "ansible-playbook is not on PATH (packer validate needs it): source .venv/bin/activate"
rc=0
for tier in web api admin; do
  if packer validate \
      -var "tier=${tier}" \
      -var "image_version=0.0.0-validate" \
      -var "git_sha=0000000" \
      -var "kms_key_id=alias/arena-ami" \
      "$out"; then
    log "packer validate: ${tier} ok"
  else
    log "packer validate: ${tier} FAILED"
    rc=1
  fi
done
exit "$rc"
