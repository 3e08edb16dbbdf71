#!/usr/bin/env bash
# Bake tier images locally: Packer's docker builder (driving podman through
# scripts/docker-podman-shim) runs playbooks/bake.yml on localhost/arena-base and commits
# localhost/arena-<tier>:<version>; then a CycloneDX SBOM is written next to the Packer manifest.
#   scripts/bake.sh                 bake web, api and admin in parallel, print a summary table
#   scripts/bake.sh web admin       bake only these
# Outputs per tier in build/images/<tier>/: manifest.json, sbom.cdx.json, bake.log, bake-vars.yml, apt/ (the
# security index the bake patched from: playbooks/tasks/apt_patch.yml).
# Environment: ARENA_IMAGE_VERSION (default <UTC date>-<short git sha>), ARENA_BAKE_DIR.
source "$(dirname "$0")/lib.sh"
cd "$ARENA_ROOT"
export PATH="${ARENA_ROOT}/scripts/docker-podman-shim:${ARENA_VENV}/bin:${PATH}"
export ANSIBLE_CONFIG="${ARENA_ROOT}/ansible.cfg" CHECKPOINT_DISABLE=1 PACKER_NO_COLOR=1 ANSIBLE_NOCOLOR=1
# Per-task times in bake.log (the slowest tasks are listed at the end of the run).
export ANSIBLE_CALLBACKS_ENABLED=ansible.posix.timer,ansible.posix.profile_tasks PROFILE_TASKS_TASK_OUTPUT_LIMIT=25

parse_tiers "$@"
command -v packer >/dev/null || die "packer is not installed (make setup)"
podman image exists localhost/arena-base:bookworm || die "no localhost/arena-base:bookworm (make base-image)"
net_anchor_up
trap net_anchor_down EXIT

out_root="${ARENA_BAKE_DIR:-${ARENA_ROOT}/build/images}"
git_sha="$(git rev-parse HEAD 2>/dev/null || echo 0000000000000000000000000000000000000000)"
version="${ARENA_IMAGE_VERSION:-$(date -u +%Y%m%d)-${git_sha:0:12}}"
[[ "$version" =~ ^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$ ]] || die "ARENA_IMAGE_VERSION '$version' is not a valid image tag"

# Role versions: a content hash of each role directory (the same files give the same version).
role_version() {
  (cd "roles/$1" && find . -type f -not -path './molecule/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) \
    | sha256sum | cut -c1-12
}
role_versions=""
for role in base hardening web api admin mail_relay runtime_config cloudwatch_agent image_cleanup; do
  [[ -f "roles/${role}/tasks/main.yml" ]] && role_versions+="${role_versions:+,}${role}=$(role_version "$role")"
done

# The host's apt-cacher-ng, reached from build containers through the podman network's gateway.
# It listens on all addresses (scripts/setup-host.sh) and is probed on loopback: the gateway address
# only exists on the host while some container is attached to the network.
apt_proxy=""
gateway="$(podman network inspect podman --format '{{range .Subnets}}{{.Gateway}}{{end}}' 2>/dev/null || true)"
if [[ -n "$gateway" ]] && curl -fsS -m 5 -o /dev/null http://127.0.0.1:3142/acng-report.html 2>/dev/null; then
  apt_proxy="http://${gateway}:3142"
fi
[[ -n "$apt_proxy" ]] || log "no apt cache on 127.0.0.1:3142: baking straight from Debian's mirror (slower)"

python3 apps/build_artifacts.py --out "${ARENA_ROOT}/build/artifacts" >/dev/null
scripts/packer-validate.sh --derive 2>/dev/null

# Lab release inputs of each tier (what CI would take from the release): the fixture artifacts,
# copied into the build container and fetched from there by file://.
write_vars() {
  local tier="$1" file="$2" site_sha api_sha
  site_sha="$(cat build/artifacts/arena-site-1.0.0.tar.gz.sha256)"
  api_sha="$(cat build/artifacts/arena-api-1.0.0.tar.gz.sha256)"
  {
    echo "---"
    echo "# Written by scripts/bake.sh: lab release inputs of the ${tier} bake."
    echo "bake_fixture_files:"
    echo "  - {src: ${ARENA_ROOT}/build/artifacts/arena-site-1.0.0.tar.gz, dest: arena-site-1.0.0.tar.gz}"
    echo "  - {src: ${ARENA_ROOT}/build/artifacts/arena-api-1.0.0.tar.gz, dest: arena-api-1.0.0.tar.gz}"
    echo "web_site_version: 1.0.0"
    echo "web_site_artifact_url: file:///srv/arena-bake-fixtures/arena-site-1.0.0.tar.gz"
    echo "web_site_artifact_sha256: ${site_sha}"
    echo "api_version: 1.0.0"
    echo "api_artifact_url: file:///srv/arena-bake-fixtures/arena-api-1.0.0.tar.gz"
    echo "api_artifact_sha256: ${api_sha}"
    echo "mail_relay_domain: arena.example"
    echo "# The lab VPC, where the admin load balancer's nodes live: their X-Forwarded-For is trusted."
    echo "admin_real_ip_trusted_cidrs: [10.0.0.0/16]"
  } > "$file"
}

bake_one() {
  local tier="$1" dir="${out_root}/$1" start rc=0
  mkdir -p "$dir"
  rm -rf "${dir}/manifest.json" "${dir}/sbom.cdx.json" "${dir}/apt"
  write_vars "$tier" "${dir}/bake-vars.yml"
  start=$SECONDS
  podman rm -f -t 0 "ami-bake-${tier}" >/dev/null 2>&1 || true
  packer build -color=false -force -only=arena.docker.local \
    -var "tier=${tier}" -var "image_version=${version}" -var "git_sha=${git_sha}" \
    -var "role_versions=${role_versions}" -var "kms_key_id=alias/unused-by-the-local-bake" \
    -var "local_container_name=ami-bake" -var "manifest_dir=${out_root}" \
    -var "bake_extra_vars_file=${dir}/bake-vars.yml" -var "bake_apt_proxy=${apt_proxy}" \
    "${ARENA_ROOT}/packer/.derived" > "${dir}/bake.log" 2>&1 || rc=$?
  echo $((SECONDS - start)) > "${dir}/bake.seconds"
  if ((rc == 0)) && [[ -f "${dir}/manifest.json" ]]; then
    python3 scripts/sbom.py --image "localhost/arena-${tier}:${version}" --tier "$tier" --git-sha "$git_sha" \
      --role-versions "$role_versions" --out "${dir}/sbom.cdx.json" >> "${dir}/bake.log" 2>&1 || rc=$?
  else
    ((rc)) || rc=1
  fi
  return "$rc"
}

declare -A pids
for tier in "${tiers[@]}"; do
  bake_one "$tier" & pids[$tier]=$!
done
failed=0
declare -A results
for tier in "${tiers[@]}"; do
  if wait "${pids[$tier]}"; then results[$tier]=ok; else results[$tier]=FAILED; failed=1; fi
done

printf '\n%-6s %-40s %9s %9s %-7s %s\n' TIER IMAGE SIZE BAKE_S RESULT SBOM
for tier in "${tiers[@]}"; do
  dir="${out_root}/${tier}" image="localhost/arena-${tier}:${version}" size="-" sbom="-"
  if [[ ${results[$tier]} == ok ]]; then
    size="$(podman image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0fMB", $1/1000000}')"
    sbom="${dir#"${ARENA_ROOT}"/}/sbom.cdx.json"
  else
    image="(see ${dir#"${ARENA_ROOT}"/}/bake.log)"
  fi
  printf '%-6s %-40s %9s %9s %-7s %s\n' "$tier" "$image" "$size" "$(cat "${dir}/bake.seconds")" "${results[$tier]}" "$sbom"
done
if ((failed)); then
  for tier in "${tiers[@]}"; do
    [[ ${results[$tier]} == ok ]] && continue
    log "${tier}: last lines of build/images/${tier}/bake.log:"
    grep -E 'fatal|FAILED|Error|error|msg' "${out_root}/${tier}/bake.log" | tail -5 >&2 || true
  done
fi
exit "$failed"
