"""An in-memory fake of the AWX / Automation Controller REST API (/api/v2/), for running
playbooks/awx_config.yml (roles/awx_config) with the awx.awx collection bundled in the pinned
`ansible` package (24.6.1) where no controller can be installed.

It serves what that collection's modules send (plugins/module_utils/controller_api.py):

- list views `/api/v2/<resource>/` with AWX's field filters (`name=`, `organization=`, `identifier=`,
  `workflow_job_template=`, `unified_job_template=`, `type=` ..., `or__<field>=` as one OR group,
  `page`/`page_size` pagination with `count`/`next`), an unknown field refused with 400;
- `GET/PATCH/PUT/DELETE /api/v2/<resource>/<id>/` and POST create on the list, every object with
  `id`, `type`, `url`, `related`, `summary_fields` (the named objects its foreign keys point to);
- sub-lists under `related`: associations (`success_nodes`, `failure_nodes`, `always_nodes`,
  `credentials` ...) with AWX's `{"id": N}` / `{"id": N, "disassociate": true}` (204), the children
  `workflow_nodes` of a workflow and `schedules` of a template, `survey_spec`, a project's `update`
  and `workflow_job_template_nodes/<id>/create_approval_template/`;
- `unified_job_templates`: the polymorphic list over projects, inventory sources, job templates,
  workflow job templates and workflow approval templates, which share one id sequence as in AWX;
- bearer-token authentication (401 without it), the `X-API-Product-Name` / `X-API-Product-Version`
  headers the modules compare with the collection's version, and `/api/v2/ping/`.

What AWX validates and the role could get wrong is enforced, with AWX's messages where the source
was read (ansible/awx, awx/api/serializers.py, awx/api/views/__init__.py, awx/main/fields.py,
awx/main/signals.py): required fields, unique names (per organization, inventory, template or
workflow), foreign keys that exist, custom credential types of kind cloud/net only, injector
environment variables AWX refuses (ANSIBLE_*, its blocklist) and injector templates naming an
undefined input, survey specs (`_validate_spec_data`), a job template's playbook among the project's
playbooks, schedule rrules (DTSTART + RRULE, parsed with dateutil) and schedule prompts the template
does not ask for, workflow edges inside one workflow and without cycles. Char fields turn null into
'' as AWX's CharNullField does (an inventory's `kind`); deleting a workflow node deletes its approval
template and edges (signals.delete_approval_templates). Approval templates are serialized with AWX's
fields only (no `identifier`), which is what makes awx.awx.workflow_job_template's approval nodes
report a change on every run.

Not a controller: no jobs run, no project is cloned (a project update succeeds at once and its
playbooks are what the test says), no RBAC, no credential encryption, no activity stream, and many
fields and validations of the real serializers are missing. Every mutating request is recorded in
`FakeController.mutations` (method, path, body, status) for the tests.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from dateutil.rrule import rrulestr

PRODUCT_NAME = "AWX"
PRODUCT_VERSION = "24.6.1"
API = "/api/v2/"
UJT = "unified_job_templates"
PAGE_SIZE = 25

# awx/main/constants.py ENV_BLOCKLIST: environment variables a credential type may not inject.
ENV_BLOCKLIST = frozenset(
    {
        "VIRTUAL_ENV",
        "PATH",
        "PYTHONPATH",
        "JOB_ID",
        "INVENTORY_ID",
        "INVENTORY_SOURCE_ID",
        "INVENTORY_UPDATE_ID",
        "AD_HOC_COMMAND_ID",
        "REST_API_URL",
        "REST_API_TOKEN",
        "MAX_EVENT_RES",
        "CALLBACK_QUEUE",
        "CALLBACK_CONNECTION",
        "CACHE",
        "JOB_CALLBACK_DEBUG",
        "INVENTORY_HOSTVARS",
        "AWX_HOST",
        "PROJECT_REVISION",
        "SUPERVISOR_CONFIG_PATH",
    }
)
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
ASK_PROMPTS = {
    "inventory": "ask_inventory_on_launch",
    "scm_branch": "ask_scm_branch_on_launch",
    "limit": "ask_limit_on_launch",
}


@dataclass(frozen=True)
class Kind:
    """One resource of the API: its type name, writable fields with their defaults (a '' default is
    a char field: null becomes ''), foreign keys, and what AWX checks on write."""

    type: str
    fields: dict[str, Any]
    required: tuple[str, ...] = ("name",)
    unique: tuple[str, ...] = ()
    fks: dict[str, str] = field(default_factory=dict)
    associations: dict[str, str] = field(default_factory=dict)
    children: dict[str, tuple[str, str]] = field(default_factory=dict)
    ujt: bool = False
    creatable: bool = True
    # Serialized, never written by a request (editable=False in AWX's model).
    read_only: dict[str, Any] = field(default_factory=dict)


_ASK = {
    f"ask_{name}_on_launch": False
    for name in (
        "inventory",
        "variables",
        "limit",
        "scm_branch",
        "labels",
        "tags",
        "skip_tags",
    )
}
_JT_ASK = _ASK | {
    f"ask_{name}_on_launch": False
    for name in (
        "diff_mode",
        "job_type",
        "verbosity",
        "credential",
        "execution_environment",
        "forks",
        "instance_groups",
        "job_slice_count",
        "timeout",
    )
}
_PROMPTS = {
    "extra_data": {},
    "inventory": None,
    "scm_branch": None,
    "job_type": None,
    "job_tags": None,
    "skip_tags": None,
    "limit": None,
    "diff_mode": None,
    "verbosity": None,
    "execution_environment": None,
    "forks": None,
    "job_slice_count": None,
    "timeout": None,
}
_PROMPT_FKS = {"inventory": "inventories", "execution_environment": "execution_environments"}

KINDS: dict[str, Kind] = {
    "organizations": Kind(
        "organization",
        {"name": "", "description": "", "max_hosts": 0, "custom_virtualenv": None, "default_environment": None},
        unique=("name",),
        fks={"default_environment": "execution_environments"},
    ),
    "credential_types": Kind(
        "credential_type",
        {"name": "", "description": "", "kind": "", "inputs": {}, "injectors": {}},
        required=("name", "kind"),
        unique=("name", "kind"),
        read_only={"managed": False, "namespace": None},
    ),
    "credentials": Kind(
        "credential",
        {"name": "", "description": "", "organization": None, "credential_type": None, "inputs": {}},
        required=("name", "credential_type"),
        unique=("name", "organization", "credential_type"),
        fks={"organization": "organizations", "credential_type": "credential_types"},
    ),
    "execution_environments": Kind(
        "execution_environment",
        {"name": "", "description": "", "image": "", "organization": None, "pull": "", "credential": None},
        required=("name", "image"),
        fks={"organization": "organizations", "credential": "credentials"},
    ),
    "projects": Kind(
        "project",
        {
            "name": "",
            "description": "",
            "organization": None,
            "scm_type": "",
            "scm_url": "",
            "scm_branch": "",
            "scm_refspec": "",
            "scm_clean": False,
            "scm_delete_on_update": False,
            "scm_track_submodules": False,
            "scm_update_on_launch": False,
            "scm_update_cache_timeout": 0,
            "allow_override": False,
            "timeout": 0,
            "credential": None,
            "signature_validation_credential": None,
            "default_environment": None,
            "custom_virtualenv": None,
            "local_path": "",
        },
        unique=("name", "organization"),
        fks={
            "organization": "organizations",
            "credential": "credentials",
            "signature_validation_credential": "credentials",
            "default_environment": "execution_environments",
        },
        children={"schedules": ("schedules", "unified_job_template")},
        ujt=True,
    ),
    "project_updates": Kind(
        "project_update", {"name": "", "project": None}, fks={"project": "projects"}, creatable=False
    ),
    "inventories": Kind(
        "inventory",
        {
            "name": "",
            "description": "",
            "organization": None,
            "kind": "",
            "host_filter": None,
            "variables": "",
            "prevent_instance_group_fallback": False,
        },
        required=("name", "organization"),
        unique=("name", "organization"),
        fks={"organization": "organizations"},
        children={"inventory_sources": ("inventory_sources", "inventory")},
    ),
    "inventory_sources": Kind(
        "inventory_source",
        {
            "name": "",
            "description": "",
            "inventory": None,
            "source": "",
            "source_path": "",
            "source_vars": "",
            "source_project": None,
            "credential": None,
            "execution_environment": None,
            "overwrite": False,
            "overwrite_vars": False,
            "update_on_launch": False,
            "update_cache_timeout": 0,
            "timeout": 0,
            "verbosity": 1,
            "enabled_var": "",
            "enabled_value": "",
            "host_filter": "",
            "limit": "",
            "scm_branch": "",
            "custom_virtualenv": None,
        },
        required=("name", "inventory", "source"),
        unique=("name", "inventory"),
        fks={
            "inventory": "inventories",
            "source_project": "projects",
            "credential": "credentials",
            "execution_environment": "execution_environments",
        },
        children={"schedules": ("schedules", "unified_job_template")},
        ujt=True,
    ),
    "job_templates": Kind(
        "job_template",
        {
            "name": "",
            "description": "",
            "organization": None,
            "job_type": "run",
            "inventory": None,
            "project": None,
            "playbook": "",
            "scm_branch": "",
            "forks": 0,
            "limit": "",
            "verbosity": 0,
            "extra_vars": "",
            "job_tags": "",
            "force_handlers": False,
            "skip_tags": "",
            "start_at_task": "",
            "timeout": 0,
            "use_fact_cache": False,
            "execution_environment": None,
            "host_config_key": "",
            "survey_enabled": False,
            "become_enabled": False,
            "diff_mode": False,
            "allow_simultaneous": False,
            "custom_virtualenv": None,
            "job_slice_count": 1,
            "webhook_service": "",
            "webhook_credential": None,
            "prevent_instance_group_fallback": False,
        }
        | _JT_ASK,
        required=("name", "playbook"),
        unique=("name", "organization"),
        fks={
            "organization": "organizations",
            "inventory": "inventories",
            "project": "projects",
            "execution_environment": "execution_environments",
            "webhook_credential": "credentials",
        },
        associations={"credentials": "credentials"},
        children={"schedules": ("schedules", "unified_job_template")},
        ujt=True,
    ),
    "workflow_job_templates": Kind(
        "workflow_job_template",
        {
            "name": "",
            "description": "",
            "organization": None,
            "inventory": None,
            "extra_vars": "",
            "survey_enabled": False,
            "allow_simultaneous": False,
            "limit": None,
            "scm_branch": None,
            "job_tags": None,
            "skip_tags": None,
            "webhook_service": "",
            "webhook_credential": None,
        }
        | _ASK,
        unique=("name", "organization"),
        fks={"organization": "organizations", "inventory": "inventories", "webhook_credential": "credentials"},
        children={
            "workflow_nodes": ("workflow_job_template_nodes", "workflow_job_template"),
            "schedules": ("schedules", "unified_job_template"),
        },
        ujt=True,
    ),
    "workflow_job_template_nodes": Kind(
        "workflow_job_template_node",
        {
            "workflow_job_template": None,
            "unified_job_template": None,
            "identifier": "",
            "all_parents_must_converge": False,
        }
        | _PROMPTS,
        required=("workflow_job_template",),
        unique=("identifier", "workflow_job_template"),
        fks={"workflow_job_template": "workflow_job_templates", "unified_job_template": UJT} | _PROMPT_FKS,
        associations={
            "success_nodes": "workflow_job_template_nodes",
            "failure_nodes": "workflow_job_template_nodes",
            "always_nodes": "workflow_job_template_nodes",
            "credentials": "credentials",
        },
    ),
    # Made only by create_approval_template, as in AWX (no list create).
    "workflow_approval_templates": Kind(
        "workflow_approval_template",
        {"name": "", "description": "", "timeout": 0, "execution_environment": None},
        fks={"execution_environment": "execution_environments"},
        ujt=True,
        creatable=False,
    ),
    "schedules": Kind(
        "schedule",
        {"name": "", "description": "", "unified_job_template": None, "rrule": "", "enabled": True} | _PROMPTS,
        required=("name", "unified_job_template", "rrule"),
        unique=("unified_job_template", "name"),
        fks={"unified_job_template": UJT} | _PROMPT_FKS,
        associations={"credentials": "credentials"},
    ),
}
UJT_KINDS = tuple(name for name, kind in KINDS.items() if kind.ujt)
RESOURCE_OF_TYPE = {kind.type: name for name, kind in KINDS.items()}
EDGES = ("success_nodes", "failure_nodes", "always_nodes")


@dataclass
class Mutation:
    method: str
    path: str
    body: Any
    status: int


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


def field_error(name: str, message: str) -> ApiError:
    return ApiError(400, {name: [message]})


class FakeController:
    """The state (objects by resource and id) and the HTTP server in a thread on 127.0.0.1."""

    def __init__(self, token: str = "dummy-token", playbooks: list[str] | None = None) -> None:
        self.token = token
        # What a project update of any project finds (AWX: project.playbook_files after a sync);
        # None: no check of a job template's playbook.
        self.playbooks = None if playbooks is None else sorted(playbooks)
        self.objects: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in KINDS}
        self.associations: dict[tuple[str, int, str], list[int]] = {}
        self.survey_specs: dict[tuple[str, int], dict[str, Any]] = {}
        self.mutations: list[Mutation] = []
        self._ids: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- lifecycle -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeController:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeController:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- state for tests -------------------------------------------------------------------------
    def seed(self, resource: str, **values: Any) -> dict[str, Any]:
        """Create an object directly (e.g. a credential made by hand), not recorded as a mutation."""
        with self._lock:
            return self._serialize(resource, self._create(resource, values))

    def list(self, resource: str, **filters: Any) -> list[dict[str, Any]]:
        """The serialized objects of a resource whose fields equal `filters`."""
        with self._lock:
            return [
                self._serialize(resource, obj)
                for obj in self._all(resource)
                if all(obj.get(k) == v for k, v in filters.items())
            ]

    def one(self, resource: str, **filters: Any) -> dict[str, Any]:
        found = self.list(resource, **filters)
        assert len(found) == 1, f"{resource} {filters}: {len(found)} objects, expected 1"
        return found[0]

    def associated(self, resource: str, obj_id: int, relation: str) -> list[int]:
        with self._lock:
            return list(self.associations.get((resource, obj_id, relation), []))

    def survey_spec(self, resource: str, obj_id: int) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self.survey_specs.get((resource, obj_id), {}))

    def remove(self, resource: str, obj_id: int) -> None:
        """Delete an object behind the modules' back (not recorded)."""
        with self._lock:
            self._delete(resource, obj_id)

    # --- storage ---------------------------------------------------------------------------------
    def _all(self, resource: str) -> list[dict[str, Any]]:
        if resource == UJT:
            return sorted((o for name in UJT_KINDS for o in self.objects[name].values()), key=lambda o: o["id"])
        return list(self.objects[resource].values())

    def _find(self, resource: str, obj_id: int) -> tuple[str, dict[str, Any]] | None:
        names = UJT_KINDS if resource == UJT else (resource,)
        for name in names:
            if obj_id in self.objects[name]:
                return name, self.objects[name][obj_id]
        return None

    def _next_id(self, resource: str) -> int:
        # The unified job templates share one table, hence one id sequence, in AWX.
        sequence = UJT if KINDS[resource].ujt else resource
        self._ids[sequence] = self._ids.get(sequence, 0) + 1
        return self._ids[sequence]

    def _create(self, resource: str, body: dict[str, Any]) -> dict[str, Any]:
        kind = KINDS[resource]
        values = self._clean(resource, body, existing=None)
        obj = copy.deepcopy(kind.fields) | copy.deepcopy(kind.read_only) | values
        if resource == "workflow_job_template_nodes" and not obj["identifier"]:
            obj["identifier"] = str(uuid.uuid4())  # AWX's default
        for name in kind.required:
            if obj.get(name) in (None, ""):
                raise field_error(name, "This field is required.")
        self._validate(resource, obj, None)
        obj |= {"id": self._next_id(resource), "type": kind.type}
        self.objects[resource][obj["id"]] = obj
        return obj

    def _update(self, resource: str, obj: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        values = self._clean(resource, body, existing=obj)
        updated = obj | values
        for name in KINDS[resource].required:
            if updated.get(name) in (None, ""):
                raise field_error(name, "This field may not be blank.")
        self._validate(resource, updated, obj)
        old_ujt = obj.get("unified_job_template")
        obj.update(values)
        if resource == "workflow_job_template_nodes" and old_ujt != obj["unified_job_template"]:
            self._drop_approval(old_ujt)  # signals.delete_approval_node_type_change
        return obj

    def _clean(self, resource: str, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
        """The writable fields of a request body; read-only and unknown ones are ignored (DRF)."""
        kind = KINDS[resource]
        if not isinstance(body, dict):
            raise ApiError(400, {"detail": "JSON parse error - expected an object."})
        values: dict[str, Any] = {}
        for name, given in body.items():
            if name not in kind.fields:
                continue
            # CharNullField / ChoiceNullField: null becomes ''
            value = "" if given is None and kind.fields[name] == "" else given
            if name in kind.fks and value not in (None, ""):
                target = kind.fks[name]
                if not isinstance(value, int) or self._find(target, value) is None:
                    raise field_error(name, f'Invalid pk "{value}" - object does not exist.')
            values[name] = value
        if resource == "credential_types" and existing is None and values.get("kind") not in ("cloud", "net"):
            # serializers.py CredentialTypeSerializer.validate
            raise field_error("kind", f"Must be 'cloud' or 'net', not {values.get('kind')}")
        return values

    def _validate(self, resource: str, obj: dict[str, Any], existing: dict[str, Any] | None) -> None:
        kind = KINDS[resource]
        if kind.unique:
            for other in self.objects[resource].values():
                if other is not existing and all(other.get(k) == obj.get(k) for k in kind.unique):
                    names = ", ".join(kind.unique)
                    raise ApiError(400, {"__all__": [f"{kind.type} with this ({names}) combination already exists."]})
        check = getattr(self, f"_validate_{resource}", None)
        if check:
            check(obj)

    def _validate_credential_types(self, obj: dict[str, Any]) -> None:  # noqa: PLR0912 -- one check per rule
        inputs = obj.get("inputs") or {}
        ids = set()
        for item in inputs.get("fields", []):
            if not isinstance(item, dict) or "id" not in item or "label" not in item:
                raise field_error("inputs", f"{item}: every input field needs an id and a label.")
            ids.add(item["id"])
        for name in inputs.get("required", []):
            if name not in ids:
                raise field_error("inputs", f"required field {name} is not defined in fields.")
        injectors = obj.get("injectors") or {}
        unknown = set(injectors) - {"env", "extra_vars", "file"}
        if unknown:
            raise field_error("injectors", f"Additional properties are not allowed ({sorted(unknown)}).")
        files = {key.partition(".")[2] or "" for key in injectors.get("file", {})}
        for key in injectors.get("file", {}):
            if not re.fullmatch(r"template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?", key):
                raise field_error("injectors", f"{key} is not a valid file injector name.")
        for env_var in injectors.get("env", {}):
            # fields.py CredentialTypeInjectorField.validate_env_var_allowed
            if env_var.startswith("ANSIBLE_"):
                raise field_error(
                    "injectors",
                    f"Environment variable {env_var} may affect Ansible configuration"
                    " so its use is not allowed in credentials.",
                )
            if env_var in ENV_BLOCKLIST:
                raise field_error(
                    "injectors", f"Environment variable {env_var} is not allowed to be used in credentials."
                )
        # AWX renders every injector template with the inputs (and tower.filename.<file>): a name
        # that is neither is refused (fields.py CredentialTypeInjectorField.validate).
        for section in ("env", "extra_vars", "file"):
            for key, template in injectors.get(section, {}).items():
                for name, attribute in re.findall(
                    r"(?:\{\{|\{%\s*(?:if|elif))\s*([A-Za-z_]\w*)(?:\.filename\.(\w+))?", str(template)
                ):
                    if name in ("tower", "awx"):
                        if attribute not in files:
                            raise field_error(
                                "injectors", f"{section}.{key}: {name}.filename.{attribute} is undefined."
                            )
                    elif name not in ids:
                        raise field_error("injectors", f"{section}.{key}: {name} is undefined.")

    def _validate_inventory_sources(self, obj: dict[str, Any]) -> None:
        if obj["source"] == "scm" and not obj.get("source_project"):
            raise field_error("source_project", "Project required for scm type sources.")

    def _validate_job_templates(self, obj: dict[str, Any]) -> None:
        if obj["job_type"] != "check" and not obj.get("project"):
            raise field_error("project", "This field is required.")
        project = self.objects["projects"].get(obj["project"]) if obj.get("project") else None
        if project and project["scm_type"] and self.playbooks is not None and obj["playbook"] not in self.playbooks:
            raise field_error("playbook", "Playbook not found for project.")
        if not obj.get("inventory") and not obj.get("ask_inventory_on_launch"):
            raise field_error("inventory", "Job Template must provide 'inventory' or allow prompting for it.")

    def _validate_projects(self, obj: dict[str, Any]) -> None:
        if obj["scm_type"] and not obj["scm_url"]:
            raise field_error("scm_url", "SCM URL is required.")

    def _validate_schedules(self, obj: dict[str, Any]) -> None:
        rrule = obj["rrule"]
        # serializers.py SchedulePreviewSerializer.validate_rrule
        if len(re.findall(r"DTSTART[;:]", rrule)) != 1:
            raise field_error(
                "rrule", "Valid DTSTART required in rrule. Value should start with: DTSTART:YYYYMMDDTHHMMSSZ"
            )
        if "RRULE:" not in rrule:
            raise field_error("rrule", "RRULE required in rrule.")
        try:
            rrulestr(rrule.replace(" RRULE:", "\nRRULE:"))
        except (ValueError, TypeError) as exc:
            raise field_error("rrule", f"rrule parsing failed validation: {exc}") from exc
        found = self._find(UJT, obj["unified_job_template"])
        template = found[1] if found else {}
        errors = {}
        for name, ask in ASK_PROMPTS.items():
            if obj.get(name) not in (None, "") and not template.get(ask):
                errors[name] = ["Field is not configured to prompt on launch."]
        if obj.get("extra_data") and not (template.get("ask_variables_on_launch") or template.get("survey_enabled")):
            errors["extra_data"] = ["Variables provided, but this template cannot accept variables."]
        if errors:
            raise ApiError(400, errors)

    def _drop_approval(self, ujt_id: int | None) -> None:
        if ujt_id is not None and ujt_id in self.objects["workflow_approval_templates"]:
            self._delete("workflow_approval_templates", ujt_id)

    def _delete(self, resource: str, obj_id: int) -> None:
        obj = self.objects[resource].pop(obj_id)
        for key in [k for k in self.associations if k[:2] == (resource, obj_id)]:
            del self.associations[key]
        self.survey_specs.pop((resource, obj_id), None)
        if resource == "workflow_job_template_nodes":
            for (res, _, rel), ids in self.associations.items():
                if res == resource and rel in EDGES and obj_id in ids:
                    ids.remove(obj_id)
            self._drop_approval(obj["unified_job_template"])  # signals.delete_approval_templates
        for child_resource, fk in KINDS[resource].children.values():
            for child in [o for o in self.objects[child_resource].values() if o.get(fk) == obj_id]:
                self._delete(child_resource, child["id"])

    # --- serialization ---------------------------------------------------------------------------
    def _path(self, resource: str, obj_id: int) -> str:
        return f"{API}{resource}/{obj_id}/"

    def _serialize(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        kind = KINDS[resource]
        out = copy.deepcopy(obj)
        url = self._path(resource, obj["id"])
        related: dict[str, Any] = {}
        summary: dict[str, Any] = {}
        for name, target in kind.fks.items():
            if obj.get(name) is not None:
                found = self._find(target, obj[name])
                if found:
                    related[name] = self._path(found[0], obj[name])
                    summary[name] = {
                        "id": obj[name],
                        "name": found[1].get("name", ""),
                        "description": found[1].get("description", ""),
                    }
                    if target == UJT:
                        summary[name]["unified_job_type"] = found[1]["type"]
        for name in [*kind.associations, *kind.children]:
            related[name] = f"{url}{name}/"
        if resource in ("job_templates", "workflow_job_templates"):
            related["survey_spec"] = f"{url}survey_spec/"
        if resource == "projects":
            related["update"] = f"{url}update/"
        if resource == "workflow_job_template_nodes":
            related["create_approval_template"] = f"{url}create_approval_template/"
            for edge in EDGES:
                out[edge] = list(self.associations.get((resource, obj["id"], edge), []))
        out.update(url=url, related=related, summary_fields=summary)
        return out

    def _page(self, path: str, items: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
        size = min(int(query.get("page_size", PAGE_SIZE)), 200)
        page = int(query.get("page", 1))
        chunk = items[(page - 1) * size : page * size]
        rest = {k: v for k, v in query.items() if k != "page"}
        following = "&".join(f"{k}={v}" for k, v in (rest | {"page": str(page + 1)}).items())
        return {
            "count": len(items),
            "next": f"{path}?{following}" if page * size < len(items) else None,
            "previous": None,
            "results": chunk,
        }

    def _filter(self, resource: str, items: list[dict[str, Any]], query: dict[str, str]) -> list[dict[str, Any]]:
        known = {"id", "type", "name"} | (
            {f for name in UJT_KINDS for f in KINDS[name].fields} | {"organization"}
            if resource == UJT
            else set(KINDS[resource].fields)
        )
        ands, ors = [], []
        for key, value in query.items():
            if key in ("page", "page_size", "order_by"):
                continue
            name = key.removeprefix("or__")
            if name not in known:
                raise ApiError(400, {"detail": f"Invalid field name: {name}"})
            (ors if key.startswith("or__") else ands).append((name, value))

        def matches(obj: dict[str, Any], name: str, value: str) -> bool:
            if name == "type":  # filters.TypeFilterBackend: one or more type names
                return obj["type"] in value.split(",")
            have = obj.get(name)
            if isinstance(have, bool):
                return str(have).lower() == value.lower()
            return ("" if have is None else str(have)) == value if value else have in (None, "")

        return [
            obj
            for obj in items
            if all(matches(obj, n, v) for n, v in ands) and (not ors or any(matches(obj, n, v) for n, v in ors))
        ]

    # --- request handling ------------------------------------------------------------------------
    def handle(self, method: str, raw_path: str, body: Any) -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        path = parts.path if parts.path.endswith("/") else parts.path + "/"
        with self._lock:
            try:
                status, payload = self._route(method, path, query, body)
            except ApiError as err:
                status, payload = err.status, err.body
            if method in ("POST", "PATCH", "PUT", "DELETE"):
                self.mutations.append(Mutation(method, path, copy.deepcopy(body), status))
            return status, payload

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if not path.startswith(API):
            raise ApiError(404, {"detail": "Not found."})
        segments = path[len(API) :].strip("/").split("/")
        if segments == ["ping"] and method == "GET":
            return 200, {"version": PRODUCT_VERSION, "active_node": "awx-fake", "ha": False, "instances": []}
        resource = segments[0]
        if resource not in KINDS and resource != UJT:
            raise ApiError(404, {"detail": "Not found."})
        if len(segments) == 1:
            return self._list_view(method, path, resource, query, body)
        try:
            obj_id = int(segments[1])
        except ValueError as exc:
            raise ApiError(404, {"detail": "Not found."}) from exc
        found = self._find(resource, obj_id)
        if found is None:
            raise ApiError(404, {"detail": "Not found."})
        resource, obj = found
        if len(segments) == 2:
            return self._detail_view(method, resource, obj, body)
        if len(segments) == 3:
            return self._sub_view(method, path, resource, obj, segments[2], query, body)
        raise ApiError(404, {"detail": "Not found."})

    def _list_view(self, method: str, path: str, resource: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if method == "GET":
            items = self._filter(resource, self._all(resource), query)
            serialized = [self._serialize(RESOURCE_OF_TYPE[o["type"]], o) for o in items]
            return 200, self._page(path, serialized, query)
        if method == "POST" and resource != UJT and KINDS[resource].creatable:
            obj = self._create(resource, body)
            update = self._project_update(obj) if resource == "projects" and obj["scm_type"] else None
            payload = self._serialize(resource, obj)
            if update:
                payload["summary_fields"]["current_update"] = update
            return 201, payload
        raise ApiError(405, {"detail": f'Method "{method}" not allowed.'})

    def _project_update(self, project: dict[str, Any]) -> dict[str, Any]:
        """AWX starts an update when a project is created or its source changes; here it succeeds at once."""
        update = self._create("project_updates", {"name": project["name"], "project": project["id"]})
        update |= {
            "status": "successful",
            "failed": False,
            "finished": "2026-01-01T00:00:00Z",
            "scm_revision": "0" * 40,
        }
        project["scm_revision"] = update["scm_revision"]
        return {"id": update["id"], "name": update["name"], "status": "successful", "failed": False}

    def _detail_view(self, method: str, resource: str, obj: dict[str, Any], body: Any) -> tuple[int, Any]:
        if method == "GET":
            return 200, self._serialize(resource, obj)
        if method in ("PATCH", "PUT") and resource != "project_updates":
            source = {k: obj.get(k) for k in ("scm_url", "scm_branch", "scm_refspec", "scm_type")}
            self._update(resource, obj, body)
            changed = source != {k: obj.get(k) for k in source}
            update = self._project_update(obj) if resource == "projects" and obj["scm_type"] and changed else None
            payload = self._serialize(resource, obj)
            if update:
                payload["summary_fields"]["current_update"] = update
            return 200, payload
        if method == "DELETE":
            self._delete(resource, obj["id"])
            return 204, None
        raise ApiError(405, {"detail": f'Method "{method}" not allowed.'})

    def _sub_view(  # noqa: PLR0917 -- the request's parts
        self, method: str, path: str, resource: str, obj: dict[str, Any], name: str, query: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        kind = KINDS[resource]
        if name in kind.associations:
            target = kind.associations[name]
            key = (resource, obj["id"], name)
            if method == "GET":
                items = [self.objects[target][i] for i in self.associations.get(key, [])]
                items = self._filter(target, items, query)
                return 200, self._page(path, [self._serialize(target, o) for o in items], query)
            if method == "POST":
                return self._associate(resource, obj, name, target, body)
        if name in kind.children and method == "GET":
            child, fk = kind.children[name]
            items = self._filter(child, [o for o in self._all(child) if o.get(fk) == obj["id"]], query)
            return 200, self._page(path, [self._serialize(child, o) for o in items], query)
        if name == "survey_spec" and resource in ("job_templates", "workflow_job_templates"):
            return self._survey(method, resource, obj, body)
        if name == "create_approval_template" and resource == "workflow_job_template_nodes" and method == "POST":
            if not isinstance(body, dict) or not body.get("name"):
                raise field_error("name", "This field is required.")
            approval = self._create(
                "workflow_approval_templates", {k: body[k] for k in ("name", "description", "timeout") if k in body}
            )
            old = obj["unified_job_template"]
            obj["unified_job_template"] = approval["id"]
            self._drop_approval(old)
            return 201, self._serialize("workflow_approval_templates", approval)
        if name == "update" and resource == "projects" and method == "POST":
            update = self._project_update(obj)
            return 202, {
                "id": update["id"],
                "project_update": update["id"],
                "url": self._path("project_updates", update["id"]),
            }
        raise ApiError(404 if method == "GET" else 405, {"detail": "Not found."})

    def _associate(self, resource: str, obj: dict[str, Any], name: str, target: str, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("id"), int):
            raise ApiError(400, {"msg": "'id' field is missing."})
        other = self.objects[target].get(body["id"])
        if other is None:
            raise ApiError(400, {"msg": f"Object with id {body['id']} not found."})
        ids = self.associations.setdefault((resource, obj["id"], name), [])
        if body.get("disassociate"):
            if body["id"] in ids:
                ids.remove(body["id"])
            return 204, None
        if name in EDGES:
            if other["workflow_job_template"] != obj["workflow_job_template"]:
                raise ApiError(400, {"Error": "Nodes must be in the same workflow."})
            if self._reaches(other["id"], obj["id"]):
                raise ApiError(400, {"Error": "Cycle detected."})
        if body["id"] not in ids:
            ids.append(body["id"])
        return 204, None

    def _reaches(self, start: int, goal: int) -> bool:
        todo, seen = [start], set()
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(
                    i for e in EDGES for i in self.associations.get(("workflow_job_template_nodes", node, e), [])
                )
        return False

    def _survey(self, method: str, resource: str, obj: dict[str, Any], body: Any) -> tuple[int, Any]:  # noqa: PLR0912
        key = (resource, obj["id"])
        if method == "GET":
            return 200, copy.deepcopy(self.survey_specs.get(key, {}))
        if method == "DELETE":
            self.survey_specs.pop(key, None)
            return 200, None
        if method != "POST":
            raise ApiError(405, {"detail": f'Method "{method}" not allowed.'})
        # views/__init__.py JobTemplateSurveySpec._validate_spec_data
        spec = body if isinstance(body, dict) else {}
        for name, expect, label in (
            ("name", str, "string"),
            ("description", str, "string"),
            ("spec", list, "list of items"),
        ):
            if name not in spec:
                raise ApiError(400, {"error": f"Field '{name}' is missing from survey spec."})
            if not isinstance(spec[name], expect):
                raise ApiError(
                    400, {"error": f"Expected {label} for field '{name}', received {type(spec[name]).__name__} type."}
                )
        if not spec["spec"]:
            raise ApiError(400, {"error": "'spec' doesn't contain any items."})
        variables: set[str] = set()
        for idx, item in enumerate(spec["spec"]):
            if not isinstance(item, dict):
                raise ApiError(400, {"error": f"Survey question {idx} is not a json object."})
            for name in ("type", "question_name", "variable", "required"):
                if name not in item:
                    raise ApiError(400, {"error": f"'{name}' missing from survey question {idx}"})
                wanted, label = (bool, "boolean") if name == "required" else (str, "string")
                if not isinstance(item[name], wanted):
                    raise ApiError(400, {"error": f"'{name}' in survey question {idx} expected to be {label}."})
            if item["variable"] in variables:
                raise ApiError(400, {"error": f"'variable' '{item['variable']}' duplicated in survey question {idx}."})
            variables.add(item["variable"])
            if item["type"] not in SURVEY_TYPES:
                raise ApiError(
                    400,
                    {
                        "error": f"'{item['type']}' in survey question {idx} is not one of "
                        f"'{', '.join(sorted(SURVEY_TYPES))}' allowed question types."
                    },
                )
        self.survey_specs[key] = copy.deepcopy(spec)
        return 200, None


def _handler(fake: FakeController) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _respond(self, status: int, payload: Any) -> None:
            data = b"" if payload is None or status == 204 else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-API-Product-Name", PRODUCT_NAME)
            self.send_header("X-API-Product-Version", PRODUCT_VERSION)
            self.end_headers()
            if data:
                self.wfile.write(data)

        def _dispatch(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not self.path.startswith(f"{API}ping/") and self.headers.get("Authorization") != f"Bearer {fake.token}":
                self._respond(HTTPStatus.UNAUTHORIZED, {"detail": "Authentication credentials were not provided."})
                return
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                self._respond(HTTPStatus.BAD_REQUEST, {"detail": "JSON parse error"})
                return
            status, payload = fake.handle(self.command, self.path, body)
            self._respond(status, payload)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _dispatch

    return Handler
