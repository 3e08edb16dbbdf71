#!/usr/bin/env bash
# Build the lab's execution environment localhost/arena-ee:<release>-<hash> from
# execution-environment.yml (ansible-builder schema 3), on the project's own base image
# localhost/arena-base:<release> (make base-image), with podman. No registry, no Galaxy.
#
# 1. The pins have one source: ansible-core, boto3 and botocore of execution-environment.yml and
#    ee/requirements.txt must equal requirements.txt's; a drift fails here.
# 2. `ansible-builder create` (pinned, in a tool venv of its own: build/ee/tools) reads the file
#    against schema 3 and writes the build context (build/ee/context/_build: the dependency files).
# 3. The lab build: build/ee/context/Containerfile.lab, written below from that context, and not
#    ansible-builder's own Containerfile. What differs from `ansible-builder build` elsewhere:
#      - base image: localhost/arena-base:<release> (Debian, python3 3.11), not images.base_image;
#      - system packages: apt (python3-venv + the bindep.txt packages of platform:dpkg, resolved
#        with bindep on this host, the same Debian release), not dnf + ansible-builder's assemble;
#      - Python: a venv /opt/arena-ee (Debian's python3 is externally managed, PEP 668) with
#        ansible_core, ansible_runner and dependencies.python, pip from PyPI as upstream;
#      - collections: not `ansible-galaxy collection install -r requirements.yml` (Galaxy is not
#        reachable) but the requirements.yml collections copied out of the pinned `ansible` pip
#        package in .venv (requirements.txt), each checked against requirements.yml's range, into
#        /usr/share/ansible/collections as ansible-builder puts them;
#      - no dumb-init, no entrypoint script, runs as root (the lab's podman is root);
#    the same: the pinned versions, the package lists, /runner as the working directory, the
#    ansible-execution-environment=true label.
# 4. No credentials in the image: no AWS_* in its environment, no ~/.aws, no emulator.env (checked
#    after every build and on every run, also when the image is up to date).
#
# The tag is a hash of this script, the base image's id, the EE file, its dependency files and the
# bundled collections' versions; an existing tag is kept (a second run takes seconds), older tags of
# the release are removed.
#   usage: scripts/ee.sh [RELEASE]          build if needed; print the image name on stdout
#          scripts/ee.sh --name [RELEASE]   print the image name it would build (no build)
#   FORCE=1 rebuilds.
source "$(dirname "$0")/lib.sh"

image_args "$@"
REPO="${EE_IMAGE_NAME:-localhost/arena-ee}"
EE_FILE="${ARENA_ROOT}/execution-environment.yml"
BUILDER_PIN="ansible-builder==3.2.0"
WORK="${ARENA_ROOT}/build/ee"
PY="${ARENA_VENV}/bin/python"
cd "$ARENA_ROOT"

# 1. One source of versions; the collections requirements.yml names, as the pinned ansible package
#    bundles them ("namespace.name version" lines).
collections="$("$PY" - "$EE_FILE" <<'PY'
import re, sys, yaml
from pathlib import Path
from importlib.metadata import version
import ansible_collections
from ansible.galaxy.dependency_resolution.versioning import meets_requirements

pins = {}
for line in Path("requirements.txt").read_text().splitlines():
    m = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)", line.strip())
    if m:
        pins[m.group(1).lower()] = m.group(2)
ee = yaml.safe_load(Path(sys.argv[1]).read_text())
deps = ee["dependencies"]
wanted = {"ansible-core": deps["ansible_core"]["package_pip"]}
for line in (Path(sys.argv[1]).parent / deps["python"]).read_text().splitlines():
    if line.strip() and not line.startswith("#"):
        wanted[line.split("==")[0].strip().lower()] = line.strip()
errors = [f"{spec} != requirements.txt {name}=={pins.get(name)}" for name, spec in wanted.items()
          if name in pins and spec != f"{name}=={pins[name]}"]
errors += [f"{spec} is not pinned (==)" for spec in wanted.values() if "==" not in spec]
if version("ansible") != pins["ansible"]:
    errors.append(f".venv has ansible {version('ansible')}, requirements.txt pins {pins['ansible']}: run make venv")
root = Path(ansible_collections.__path__[0])
for item in yaml.safe_load(Path(deps["galaxy"]).read_text())["collections"]:
    ns, name = item["name"].split(".")
    manifest = root / ns / name / "MANIFEST.json"
    if not manifest.is_file():
        errors.append(f"{item['name']} is not in the ansible package")
        continue
    import json
    have = json.loads(manifest.read_text())["collection_info"]["version"]
    if not meets_requirements(have, item.get("version", "*")):
        errors.append(f"{item['name']} {have} does not satisfy requirements.yml {item['version']}")
    print(item["name"], have)
if errors:
    sys.exit("execution-environment.yml: " + "; ".join(errors))
PY
)" || die "the execution environment's pins do not match requirements.txt / requirements.yml"

base_id="$(podman image inspect --format '{{.Id}}' "$BASE" 2>/dev/null)" \
  || die "no base image ${BASE}: run make base-image first"
RECIPE="$(recipe_hash "$0" "$EE_FILE" ee/requirements.txt ee/bindep.txt requirements.yml \
  "base=${base_id}" "release=${RELEASE}" "builder=${BUILDER_PIN}" "collections=${collections}")"
IMAGE="${REPO}:${RELEASE}-${RECIPE:0:12}"
if ((name_only)); then
  echo "$IMAGE"
  exit 0
fi
need_root "ee"

# 4. What must never be in the image (the emulator's env and any AWS credentials are given per run).
check_no_credentials() {
  local env
  env="$(podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$1")"
  ! grep -E '^AWS_' <<< "$env" || die "$1 carries AWS_* in its environment"
  # shellcheck disable=SC2016 # expanded inside the container
  podman run --rm --network none "$1" bash -c '
    found="$(env | grep -E "^AWS_" || true)"
    found+="$(find / -xdev \( -name .aws -o -name emulator.env -o -name credentials.json \) -print 2>/dev/null)"
    [[ -z "$found" ]] || { echo "credentials in the image: $found" >&2; exit 1; }' \
    || die "$1 holds credentials"
}


if podman image exists "$IMAGE" && [[ "${FORCE:-0}" != 1 ]]; then
  check_no_credentials "$IMAGE"
  log "$IMAGE is up to date"
  prune_image_tags "$REPO" "$RELEASE" "$IMAGE"
  echo "$IMAGE"
  exit 0
fi

log "building $IMAGE from ${BASE}"
start=$SECONDS
# 2. ansible-builder, pinned, in a venv of its own (not .venv: the playbooks' toolchain does not need it).
tools="${WORK}/tools"
if [[ "$("${tools}/bin/ansible-builder" --version 2>/dev/null)" != "${BUILDER_PIN#*==}" ]]; then
  rm -rf "$tools"
  python3 -m venv "$tools"
  "${tools}/bin/pip" install --quiet --disable-pip-version-check "$BUILDER_PIN" >&2 \
    || die "cannot install ${BUILDER_PIN} from PyPI"
fi
ctx="${WORK}/context"
rm -rf "$ctx"
"${tools}/bin/ansible-builder" create -f "$EE_FILE" -c "$ctx" --output-filename Containerfile >&2 \
  || die "ansible-builder create rejected ${EE_FILE}"

# 3. The lab's Containerfile, from ansible-builder's context.
system="$("${tools}/bin/bindep" -l newline -f "${ctx}/_build/bindep.txt" | tr '\n' ' ')" \
  || die "bindep cannot read ee/bindep.txt"
# The pinned ansible-core and ansible-runner (first line), then the file's append_final build steps,
# which go after the collections are in place (as upstream's final stage).
{ read -r core runner; final_steps="$(cat)"; } < <("$PY" -c '
import sys, yaml
ee = yaml.safe_load(open(sys.argv[1]))
deps = ee["dependencies"]
print(deps["ansible_core"]["package_pip"], deps["ansible_runner"]["package_pip"])
steps = (ee.get("additional_build_steps") or {}).get("append_final") or []
print("\n".join([steps] if isinstance(steps, str) else steps))' "$EE_FILE")
mkdir -p "${ctx}/collections"
while read -r fqcn _; do
  mkdir -p "${ctx}/collections/${fqcn%%.*}"
  cp -a "$("$PY" -c 'import ansible_collections; print(ansible_collections.__path__[0])')/${fqcn/.//}" \
    "${ctx}/collections/${fqcn%%.*}/"
done <<< "$collections"
find "${ctx}/collections" -name __pycache__ -prune -exec rm -rf {} +
cat > "${ctx}/Containerfile.lab" <<CONTAINERFILE
# Written by scripts/ee.sh: the lab build of execution-environment.yml (see the script's header).
FROM ${BASE}
ARG APT_PROXY=""
ARG PIP_CERT=""
COPY _build/requirements.txt /tmp/ee/requirements.txt
RUN export DEBIAN_FRONTEND=noninteractive \\
 && apt_opts="-qq -y -o Acquire::Retries=5" \\
 && if [ -n "\$APT_PROXY" ]; then apt_opts="\$apt_opts -o Acquire::http::Proxy=\$APT_PROXY"; fi \\
 && apt-get \$apt_opts update \\
 && apt-get \$apt_opts install --no-install-recommends python3-venv ${system} >/dev/null \\
 && python3 -m venv /opt/arena-ee \\
 && /opt/arena-ee/bin/pip install --quiet --no-cache-dir --disable-pip-version-check \\
      \${PIP_CERT:+--cert "\$PIP_CERT"} '${core}' '${runner}' -r /tmp/ee/requirements.txt \\
 && rm -rf /tmp/ee /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb /var/log/apt/* \\
      /var/log/dpkg.log /root/.cache \\
 && mkdir -p /runner
COPY collections/ /usr/share/ansible/collections/ansible_collections/
${final_steps}
ENV PATH=/opt/arena-ee/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /runner
LABEL ansible-execution-environment=true \\
      org.opencontainers.image.title=arena-ee \\
      arena.recipe=${RECIPE} \\
      arena.base=${base_id}
CMD ["bash"]
CONTAINERFILE

# Host networking: the build reaches PyPI and, when it answers, the host's apt-cacher-ng on
# 127.0.0.1; the image itself is never told about the cache. pip in the build trusts what this host's
# pip trusts (its CA bundle, mounted for the build only: an egress proxy's CA is not baked in).
host_ca="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"
ca_args=()
[[ -f "$host_ca" ]] && ca_args=(--volume "${host_ca}:/run/arena-host-ca.crt:ro" --build-arg PIP_CERT=/run/arena-host-ca.crt)
proxy=""
if curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:3142/acng-report.html 2>/dev/null; then
  proxy="http://127.0.0.1:3142"
fi
podman build --quiet --network host --pull=never --build-arg "APT_PROXY=${proxy}" "${ca_args[@]}" \
  -f "${ctx}/Containerfile.lab" -t "$IMAGE" "$ctx" >/dev/null || die "podman build of ${IMAGE} failed"
check_no_credentials "$IMAGE"
log "built $IMAGE in $((SECONDS - start)) s ($(podman image inspect --format '{{.Size}}' "$IMAGE" | numfmt --to=si)B)"
prune_image_tags "$REPO" "$RELEASE" "$IMAGE"
echo "$IMAGE"
