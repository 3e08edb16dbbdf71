"""The image-to-platform contract as data, and the small evaluators the contract tests need.

Two sides, both read from the repository as it is, nothing duplicated by hand:

- the image side of a tier (``image_side``): what its image uses at first boot and serves, from
  packer/tiers/<tier>.yml over the defaults of the roles the bake applies (runtime_config: the SSM
  paths it reads and the instance tag it reads through IMDS; the tier role: the port nginx listens on;
  hardening: the host firewall of the tier's profile) and the image gate's expectations
  (bake_gate_listen_ports, bake_gate_health_*, as scripts/image_gate.py derives them from tiers.yml);
- the platform side of an environment (``platform_side``): the instance policy, launch template,
  security groups, target groups and Auto Scaling tags the platform roles would create, rendered with
  ansible's own templating from the roles' real templates, tasks, defaults and vars and the
  inventory's group_vars (local, staging, production), as a playbook run would render them.

Plus an IAM evaluator for identity-based policies (``iam_allows``: explicit deny wins, else an allow
whose action, resource and conditions match; wildcards as IAM has them) and a model of the instance
metadata service that follows a launch template's MetadataOptions (``InstanceMetadata``, ``serve``):
the emulator enforces IAM by action only and serves no IMDS, so neither can be proven against it.
Nothing here calls AWS.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import importlib.util
import ipaddress
import json
import re
import secrets
import socket
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import ansible_collections.community.aws.plugins.modules.ssm_parameter as ssm_parameter_module
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template

REPO = Path(__file__).resolve().parent.parent
TIERS = ("web", "api", "admin")
ENVIRONMENTS = ("local", "staging", "production")
ACCOUNT = "123456789012"
# inventories/local takes its region from the emulator's AWS_REGION (scripts/emulator.sh default).
LOCAL_REGION = "eu-west-1"

# AWS documentation each contract follows (cited by the tests).
DOC_IAM_RESOURCE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html"
DOC_IAM_EVALUATION = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html"
DOC_SSM_RETRIEVAL = "https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-retrieval-authorization.html"
DOC_SSM_DECRYPTION = "https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-restrict-decryption.html"
DOC_KMS_SSM = "https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html"
DOC_IMDS_TAGS = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/work-with-tags-in-IMDS.html"
DOC_IMDS_V2 = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html"
DOC_ELB_HEALTH = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html"
DOC_SG_RULES = "https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html"

# The tier role whose nginx the load balancer reaches, and the variable that holds its port.
TIER_LISTEN_PORT = {
    "web": ("web", "web_listen_port"),
    "api": ("api", "api_nginx_listen_port"),
    "admin": ("admin", "admin_listen_port"),
}
# The load balancer security group in front of each tier (roles/platform_security_groups).
TIER_LOAD_BALANCER_GROUP = {"web": "public-alb", "api": "internal-alb", "admin": "admin-alb"}
# Roles whose SSM parameters the tiers read at first boot (platform_security_groups: the admin
# allow-list; platform_monitoring: the CloudWatch agent's settings).
PARAMETER_WRITERS = (
    "platform_security_groups",
    "platform_cache",
    "platform_email",
    "platform_static",
    "platform_monitoring",
)
PLATFORM_ROLES = (
    "platform_network",
    "platform_load_balancers",
    "platform_launch_templates",
    "platform_autoscaling",
    *PARAMETER_WRITERS,
)
# The one source of the tier facts (ports, protocols, health paths, runtime paths).
TIERS_FILE = REPO / "tiers.yml"
AWS_MANAGED_SSM_KEY = "alias/aws/ssm"


# ---- templating ---------------------------------------------------------------------------------


@functools.cache
def _loader() -> DataLoader:
    init_plugin_loader()
    return DataLoader()


def load_yaml(path: Path) -> Any:
    """A YAML file as a playbook run loads it: strings are trusted templates."""
    return _loader().load_from_file(str(path), trusted_as_template=True)


def render(expression: Any, variables: Mapping[str, Any]) -> Any:
    """Template a value (a loaded structure or a template string) with these variables."""
    templar = Templar(loader=_loader(), variables=dict(variables))
    if isinstance(expression, str):
        expression = trust_as_template(expression)
    return _plain(templar.template(expression))


def _plain(value: Any) -> Any:
    """Tagged ansible containers as plain Python data."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool | int | float) or value is None:
        return value
    return str(value)


def role_file(role: str, kind: str) -> dict[str, Any]:
    path = REPO / "roles" / role / kind / "main.yml"
    return (load_yaml(path) or {}) if path.exists() else {}


def find_task(tasks_file: Path, module: str) -> dict[str, Any]:
    """The one task of a tasks file (blocks included) that calls `module`."""
    found = [t for t in _walk(load_yaml(tasks_file) or []) if module in t]
    assert len(found) == 1, f"{tasks_file}: expected one {module} task, found {len(found)}"
    return found[0]


def _walk(tasks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for task in tasks:
        yield task
        for section in ("block", "rescue", "always"):
            yield from _walk(task.get(section) or [])


# ---- image side ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuntimePath:
    name: str
    required_keys: tuple[str, ...]


@dataclass(frozen=True)
class Image:
    """What a tier's image uses at first boot and serves."""

    tier: str
    runtime_paths: tuple[RuntimePath, ...]
    runtime_prefix: str
    environment_tag: str
    listen_ports: frozenset[int]
    health_port: int
    health_path: str
    health_scheme: str
    firewall_rules: tuple[dict[str, Any], ...]


def tier_facts() -> dict[str, Any]:
    """tiers.yml as plain data."""
    return yaml.safe_load(TIERS_FILE.read_text())


def image_gate() -> ModuleType:
    """scripts/image_gate.py: what the gate and the lab read of a tier."""
    name = "arena_image_gate_under_contract"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / "image_gate.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def image_variables(tier: str) -> dict[str, Any]:
    """The variables of the bake of a tier: role defaults and vars (role_path: the tier facts' lookup)
    under the tier's bake inputs with the gate's expectations (scripts/image_gate.py tier_settings)."""
    role, _ = TIER_LISTEN_PORT[tier]
    variables: dict[str, Any] = {}
    for name in ("runtime_config", "hardening", role):
        variables.update(role_file(name, "defaults"))
    for name in ("runtime_config", "hardening", role):
        variables.update(role_file(name, "vars"))
    variables.update(load_yaml(REPO / "packer" / "tiers" / f"{tier}.yml"))
    variables.update(image_gate().tier_settings(tier))
    variables["hardening_profile"] = tier
    variables["role_path"] = str(REPO / "roles" / "hardening")
    return variables


@functools.cache
def image_side(tier: str) -> Image:
    _, port_var = TIER_LISTEN_PORT[tier]
    variables = image_variables(tier)
    runtime = render("{{ runtime_config_tiers }}", variables)
    return Image(
        tier=tier,
        runtime_paths=tuple(RuntimePath(t["name"], tuple(t.get("required_keys") or ())) for t in runtime),
        runtime_prefix=render("{{ runtime_config_prefix }}", variables),
        environment_tag=render("{{ runtime_config_environment_tag }}", variables),
        listen_ports=frozenset(
            [int(p) for p in render("{{ bake_gate_listen_ports }}", variables)]
            + [int(render("{{ " + port_var + " }}", variables))]
        ),
        health_port=int(render("{{ bake_gate_health_port }}", variables)),
        health_path=render("{{ bake_gate_health_path }}", variables),
        health_scheme=render("{{ bake_gate_health_scheme | default('http') }}", variables),
        firewall_rules=tuple(render("{{ __hardening_firewall_all_rules }}", variables)),
    )


def runtime_config_program() -> ModuleType:
    """roles/runtime_config/files/arena_runtime_config.py: what first boot runs."""
    name = "arena_runtime_config_under_contract"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "roles/runtime_config/files/arena_runtime_config.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# ---- platform side ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    key_id: str


@dataclass(frozen=True)
class TargetGroup:
    protocol: str
    port: int
    health_check_protocol: str
    health_check_port: str
    health_check_path: str


@dataclass
class Platform:
    """What the platform roles would create in one environment."""

    environment: str
    region: str
    account: str
    variables: dict[str, Any] = field(repr=False)
    instance_policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    launch_templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    autoscaling_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    security_groups: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    target_groups: dict[str, TargetGroup] = field(default_factory=dict)
    vpc_cidr: str = ""
    parameters: dict[str, Parameter] = field(default_factory=dict)
    ssm_transfer_bucket: str = ""

    def instance_tags(self, tier: str) -> dict[str, str]:
        """Tags an instance of the tier gets: the template's, then the group's (propagated at launch)."""
        spec = next(s for s in self.launch_templates[tier]["tag_specifications"] if s["resource_type"] == "instance")
        return {**spec["tags"], **self.autoscaling_tags[tier]}

    def parameter_arn(self, name: str) -> str:
        return f"arn:aws:ssm:{self.region}:{self.account}:parameter{name}"


def platform_variables(environment: str, **overrides: Any) -> dict[str, Any]:
    """Role defaults < the inventory's group_vars < role vars, as a play of the platform roles sees them."""
    variables: dict[str, Any] = {}
    for role in PLATFORM_ROLES:
        variables.update(role_file(role, "defaults"))
    for path in sorted((REPO / "inventories" / environment / "group_vars" / "all").glob("*.yml")):
        variables.update(load_yaml(path) or {})
    for role in PLATFORM_ROLES:
        variables.update(role_file(role, "vars"))
    if environment == "local":
        variables["arena_aws_region"] = LOCAL_REGION
    region = render("{{ arena_aws_region }}", variables)
    variables["aws_guard_target"] = {"region": region, "endpoint_url": "", "profile": ""}
    variables["role_path"] = str(REPO / "roles" / "platform_launch_templates")
    variables["ansible_search_path"] = [variables["role_path"]]
    variables["__platform_launch_templates_account_id"] = ACCOUNT
    variables.update(overrides)
    return variables


def platform_side(environment: str, **overrides: Any) -> Platform:
    """Render the platform of an environment; `overrides` are extra vars (highest precedence)."""
    key = json.dumps(overrides, sort_keys=True, default=str)
    return _platform_side(environment, key)


@functools.cache
def _platform_side(environment: str, overrides_json: str) -> Platform:
    variables = platform_variables(environment, **json.loads(overrides_json))
    region = variables["aws_guard_target"]["region"]
    platform = Platform(environment=environment, region=region, account=ACCOUNT, variables=variables)
    tiers = render("{{ platform_launch_templates_tiers }}", variables)
    roles = REPO / "roles"

    template = find_task(roles / "platform_launch_templates/tasks/present.yml", "amazon.aws.ec2_launch_template")
    targets = find_task(roles / "platform_load_balancers/tasks/present.yml", "community.aws.elb_target_group")
    group = find_task(roles / "platform_autoscaling/tasks/present.yml", "arena_autoscaling_group")
    sg_ids = {t: f"sg-{t}" for t in tiers}
    tier_ports = render("{{ platform_load_balancers_tier_ports }}", variables)
    for tier in tiers:
        tier_vars = {
            **variables,
            "__platform_launch_templates_tier": {"key": tier, "value": tiers[tier]},
            "__platform_launch_templates_sg_ids": sg_ids,
            # What tasks/present.yml reads from each tier's SSM record (an AMI id) before the templates.
            "__platform_launch_templates_images": {t: "ami-0123456789abcdef0" for t in tiers},
        }
        policy = render("{{ lookup('ansible.builtin.template', 'instance_policy.json.j2') }}", tier_vars)
        platform.instance_policies[tier] = json.loads(policy)
        args = template["amazon.aws.ec2_launch_template"]
        platform.launch_templates[tier] = render(args, {**tier_vars, **(template.get("vars") or {})})
        platform.autoscaling_tags[tier] = render(
            group["arena_autoscaling_group"]["tags"],
            {**variables, "__platform_autoscaling_tier": {"key": tier, "value": {}}},
        )
        tg_vars = {**variables, "__platform_load_balancers_tier": {"key": tier, "value": tier_ports[tier]}}
        tg = targets["community.aws.elb_target_group"]
        platform.target_groups[tier] = TargetGroup(
            protocol=render(tg["protocol"], tg_vars),
            port=int(render(tg["port"], tg_vars)),
            health_check_protocol=render(tg["health_check_protocol"], tg_vars),
            health_check_port=str(render(tg["health_check_port"], tg_vars)),
            health_check_path=render(tg["health_check_path"], tg_vars),
        )
    for group_def in render("{{ __platform_security_groups_request }}", variables):
        platform.security_groups[group_def["name"]] = group_def["rules"]
    platform.vpc_cidr = render("{{ platform_network_cidr }}", variables)
    platform.parameters = _published_parameters(variables)
    platform.ssm_transfer_bucket = render("{{ __platform_launch_templates_ssm_transfer_bucket }}", variables)
    return platform


def _published_parameters(variables: dict[str, Any]) -> dict[str, Parameter]:
    """Every SSM parameter the writer roles publish: name, type and the KMS key of a SecureString."""
    default_key = _ssm_parameter_default_key()
    out: dict[str, Parameter] = {}
    for role in PARAMETER_WRITERS:
        for path in sorted((REPO / "roles" / role / "tasks").glob("*.yml")):
            if path.name in {"absent.yml", "validate.yml"}:
                continue
            for task in _walk(load_yaml(path) or []):
                args = task.get("community.aws.ssm_parameter") or task.get("arena_ssm_parameter")
                if not args or args.get("state") == "absent":
                    continue
                loop_var = (task.get("loop_control") or {}).get("loop_var", "item")
                items = task.get("loop") if "loop" in task else [None]
                assert isinstance(items, list), f"{path}: the loop of '{task['name']}' must be a literal list"
                for item in items:
                    item_vars = {**variables, **(task.get("vars") or {}), loop_var: item}
                    name = render(args["name"], item_vars)
                    kind = render(args.get("string_type", "String"), item_vars)
                    key = render(args["key_id"], item_vars) if "key_id" in args else default_key
                    out[name] = Parameter(name=name, type=kind, key_id=key if kind == "SecureString" else "")
    return out


@functools.cache
def _ssm_parameter_default_key() -> str:
    """community.aws.ssm_parameter's own default key_id (from its documentation)."""
    return yaml.safe_load(ssm_parameter_module.DOCUMENTATION)["options"]["key_id"]["default"]


# ---- IAM ---------------------------------------------------------------------------------------


def wildcard(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcards: * any characters (none included), ? exactly one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def arn_matches(pattern: str, arn: str) -> bool:
    """A Resource pattern against an ARN: "*" alone matches all; else wildcards match within each
    colon-separated segment (DOC_IAM_RESOURCE); the resource part may itself contain colons."""
    if pattern == "*":
        return True
    want, have = pattern.split(":", 5), arn.split(":", 5)
    return len(want) == len(have) == 6 and all(wildcard(w, h) for w, h in zip(want, have, strict=True))


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else list(value) if isinstance(value, list) else [value]


def _condition(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool | None:
    """StringEquals / StringLike / Bool / ArnLike (and ...IfExists); None for any other operator."""
    lowered = {k.lower(): v for k, v in context.items()}
    for operator, block in condition.items():
        base = operator.removesuffix("IfExists")
        if base not in {"StringEquals", "StringLike", "Bool", "ArnLike", "ArnEquals"}:
            return None
        for key, wanted in block.items():
            actual = lowered.get(key.lower())
            if actual is None:
                if operator.endswith("IfExists"):
                    continue
                return False
            values = [str(v) for v in _as_list(wanted)]
            if base in {"StringLike", "ArnLike"}:
                if not any(wildcard(v, actual) for v in values):
                    return False
            elif base == "Bool":
                if actual.lower() not in [v.lower() for v in values]:
                    return False
            elif actual not in values:
                return False
    return True


def iam_allows(policy: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str] | None = None) -> bool:
    """An identity-based policy's decision (DOC_IAM_EVALUATION): an explicit Deny that applies wins,
    else an Allow must match action (case-insensitive), resource and every condition. A condition this
    evaluator does not know never allows, and makes a Deny apply (both conservative)."""
    allowed = False
    for statement in _as_list(policy.get("Statement")):
        actions = _as_list(statement.get("Action"))
        if "Action" in statement:
            hits_action = any(wildcard(a, action, ignore_case=True) for a in actions)
        else:
            hits_action = not any(wildcard(a, action, ignore_case=True) for a in _as_list(statement.get("NotAction")))
        if "Resource" in statement:
            hits_resource = any(arn_matches(r, resource) for r in _as_list(statement["Resource"]))
        else:
            hits_resource = not any(arn_matches(r, resource) for r in _as_list(statement.get("NotResource")))
        if not (hits_action and hits_resource):
            continue
        holds = _condition(statement.get("Condition") or {}, context or {})
        if statement.get("Effect") == "Deny" and holds is not False:
            return False
        if statement.get("Effect") == "Allow" and holds is True:
            allowed = True
    return allowed


# ---- instance metadata (IMDS) ---------------------------------------------------------------------

# Tag keys allowed while tags are in instance metadata (DOC_IMDS_TAGS).
IMDS_TAG_KEY = re.compile(r"[A-Za-z0-9+\-=.,_:@]+")


def imds_tag_key_problem(key: str) -> str | None:
    if not IMDS_TAG_KEY.fullmatch(key):
        return f"tag key {key!r} has a character other than letters, digits and + - = . , _ : @ ({DOC_IMDS_TAGS})"
    if key in {".", "..", "_index"}:
        return f"tag key {key!r} may not be only '.', '..' or '_index' ({DOC_IMDS_TAGS})"
    return None


class LaunchRefused(Exception):
    """EC2 would not launch an instance with these settings."""


class InstanceMetadata:
    """What IMDS answers on an instance launched with these MetadataOptions and tags (DOC_IMDS_V2,
    DOC_IMDS_TAGS): tokens by PUT with a TTL of 1-21600 s; with http_tokens=required a GET without a
    valid token gets 401; tags under /latest/meta-data/tags/instance only when instance_metadata_tags
    is enabled (404 otherwise), and then EC2 refuses to launch with a tag key IMDS cannot carry; role
    credentials only when the instance has a profile."""

    def __init__(
        self, options: Mapping[str, Any], tags: Mapping[str, str], region: str, account: str, role: str | None
    ) -> None:
        self.options = dict(options)
        self.tags = dict(tags)
        self.region, self.account, self.role = region, account, role
        self.tokens: set[str] = set()
        self.requests: list[tuple[str, str, int]] = []
        if self.options.get("instance_metadata_tags") == "enabled":
            problems = [p for p in map(imds_tag_key_problem, self.tags) if p]
            if problems:
                raise LaunchRefused("; ".join(problems))

    @property
    def endpoint_enabled(self) -> bool:
        return self.options.get("http_endpoint", "enabled") == "enabled"

    def answer(self, method: str, path: str, headers: Mapping[str, str]) -> tuple[int, str]:
        status, body = self._answer(method, path, {k.lower(): v for k, v in headers.items()})
        self.requests.append((method, path, status))
        return status, body

    def _answer(self, method: str, path: str, headers: Mapping[str, str]) -> tuple[int, str]:
        if method == "PUT":
            return self._token(path, headers)
        token = headers.get("x-aws-ec2-metadata-token")
        required = self.options.get("http_tokens", "optional") == "required"
        if (token is not None and token not in self.tokens) or (token is None and required):
            return 401, ""
        if path == "/latest/dynamic/instance-identity/document":
            return 200, json.dumps({"region": self.region, "accountId": self.account, "instanceId": "i-0contract"})
        if path.startswith("/latest/meta-data/tags/instance"):
            return self._tags(path[len("/latest/meta-data/tags/instance") :].lstrip("/"))
        if path.startswith("/latest/meta-data/iam/security-credentials/"):
            return self._credentials(path[len("/latest/meta-data/iam/security-credentials/") :])
        return 404, ""

    def _token(self, path: str, headers: Mapping[str, str]) -> tuple[int, str]:
        if path != "/latest/api/token":
            return 405, ""
        if "x-forwarded-for" in headers:
            return 403, ""
        ttl = headers.get("x-aws-ec2-metadata-token-ttl-seconds", "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return 400, ""
        token = secrets.token_urlsafe(24)
        self.tokens.add(token)
        return 200, token

    def _tags(self, key: str) -> tuple[int, str]:
        if self.options.get("instance_metadata_tags") != "enabled":
            return 404, ""
        if not key:
            return 200, "\n".join(sorted(self.tags))
        return (200, self.tags[key]) if key in self.tags else (404, "")

    def _credentials(self, name: str) -> tuple[int, str]:
        if not self.role or name not in ("", self.role):
            return 404, ""
        if not name:
            return 200, self.role
        expiry = (datetime.now(UTC) + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
        document = {
            "Code": "Success",
            "Type": "AWS-HMAC",
            "AccessKeyId": "ASIACONTRACTEXAMPLE",
            "SecretAccessKey": "contract-secret",
            "Token": "contract-token",
            "Expiration": expiry,
        }
        return 200, json.dumps(document)


@contextlib.contextmanager
def serve(imds: InstanceMetadata) -> Iterator[str]:
    """Serve `imds` on a free loopback port and yield its base URL. With the endpoint disabled the
    URL points at a closed loopback port: nothing answers, as on an instance."""
    if not imds.endpoint_enabled:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        yield f"http://127.0.0.1:{port}"
        return

    class Handler(http.server.BaseHTTPRequestHandler):
        def _reply(self) -> None:
            status, body = imds.answer(self.command, self.path, dict(self.headers))
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = _reply

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# ---- networks -----------------------------------------------------------------------------------


def covers(sources: list[str], cidr: str) -> bool:
    """Whether one of the source CIDRs contains the whole of `cidr`."""
    network = ipaddress.ip_network(cidr)
    return any(
        network.version == ipaddress.ip_network(s).version and network.subnet_of(ipaddress.ip_network(s))
        for s in sources
    )
