"""The config file format (``version: 1``) as pydantic models: the source of the JSON Schema.

Owns the shape of a config document as users write it (YAML, or HCL mapped
onto it): which keys exist, their types, bounds, descriptions and examples,
and :func:`config_json_schema`, the draft-07 JSON Schema published as
``provider-schema/config.schema.json``. The bounds come from :mod:`reconciler.model.rules`,
which holds every rule of one object (names, types, numbers) and of siblings (priorities),
shared with the Terraform provider; references and merging live in ``reconciler.config``.
No I/O here.
"""

from __future__ import annotations

import copy
import json
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from reconciler.model.rules import ENVIRONMENT_NAME_PATTERN, INT32_MAX, LIMIT_MIN, PRIORITY_MIN

SCHEMA_ID = "https://poolform.dev/schema/config.schema.json"
"""Stable ``$id`` of the config schema (an identifier, never fetched)."""

POOL_NAME_PATTERN = r"^[^/%&><]+$"
QUEUE_NAME_PATTERN = r"^[^/%&><]+$"
RESERVED_POOL_PATTERN = r"^[Pp][Rr][Ee][Ff][Ee][Cc][Tt]"
ENV_VAR_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"

class Manage(BaseModel):
    """What this config owns beyond the pools it declares."""

    model_config = ConfigDict(extra="forbid", strict=True, title="Manage")

    prune: bool = Field(
        False,
        description="Delete what this config owns but does not declare: undeclared queues of declared pools, "
        "and undeclared pools whose names match `scope`. Without it nothing undeclared is deleted, except the "
        "queues that go with a declared pool that is replaced (its type changes). `--destroy` deletes the "
        "declared pools with all their queues whatever `prune` says, and never an undeclared pool.",
        examples=[False, True],
    )
    scope: list[str] = Field(
        default_factory=list,
        description="Glob patterns (fnmatch, case-sensitive) of pool names this config owns besides the declared ones.",
        examples=[["team-a-*"], ["etl-*", "ml-*"]],
    )


class InlineTemplate(BaseModel):
    """A base job template written inline; `{}` means an empty template (no template)."""

    model_config = ConfigDict(extra="forbid", strict=True, title="InlineTemplate")

    job_configuration: dict[str, Any] | None = Field(
        None,
        description="What the worker receives; strings may hold `{{ variable }}` placeholders, each declared "
        "in `variables.properties` by its whole name.",
        examples=[{"command": "{{ command }}", "env": "{{ env }}"}],
    )
    variables: dict[str, Any] | None = Field(
        None,
        description="A JSON Schema (Draft 2020-12) object whose `properties` are the job variables; "
        "each `default` must be valid against its property.",
        examples=[{"type": "object", "properties": {"command": {"type": "string", "default": "python app.py"}}}],
    )


class TemplateFile(BaseModel):
    """A base job template read from a JSON or YAML file."""

    model_config = ConfigDict(extra="forbid", strict=True, title="TemplateFile")

    file: str = Field(
        ...,
        min_length=1,
        description="Path of a JSON or YAML file holding `{job_configuration, variables}`, "
        "relative to the config file that names it.",
        examples=["templates/k8s.json"],
    )


class TemplateRef(BaseModel):
    """A named template from `base_job_templates`, with some variable defaults overridden."""

    model_config = ConfigDict(extra="forbid", strict=True, title="TemplateRef")

    template: str = Field(
        ...,
        min_length=1,
        description="Name of an entry of the top-level `base_job_templates` map.",
        examples=["k8s"],
    )
    defaults: dict[str, Any] = Field(
        default_factory=dict,
        description="Variable name -> new `default` for that variable in `variables.properties` "
        "(the variable must be declared by the template).",
        examples=[{"namespace": "etl", "image": "ghcr.io/acme/etl:1.4"}],
    )


def template_form(value: Any) -> str | None:
    """Which template form a mapping is written in: "file", "template" or "inline"."""
    if not isinstance(value, dict):
        return None
    if "file" in value:
        return "file"
    if "template" in value or "defaults" in value:
        return "template"
    return "inline"


def _named_form(value: Any) -> str | None:
    form = template_form(value)
    return "file" if form == "file" else ("inline" if form else None)


PoolTemplate = Annotated[
    Union[
        Annotated[InlineTemplate, Tag("inline")],
        Annotated[TemplateFile, Tag("file")],
        Annotated[TemplateRef, Tag("template")],
    ],
    Discriminator(template_form),
]

NamedTemplate = Annotated[
    Union[
        Annotated[InlineTemplate, Tag("inline")],
        Annotated[TemplateFile, Tag("file")],
    ],
    Discriminator(_named_form),
]




class WorkQueue(BaseModel):
    """A work queue of a pool. Absent fields take the server's create defaults; absent `priority` is unmanaged."""

    model_config = ConfigDict(extra="forbid", strict=True, title="WorkQueue")

    priority: int | None = Field(
        None,
        ge=PRIORITY_MIN,
        le=INT32_MAX,
        description="1 is the highest. Unique within the pool. Absent: not managed (the server's value stands).",
        examples=[1, 5, 10],
    )
    concurrency_limit: int | None = Field(
        None,
        ge=LIMIT_MIN,
        le=INT32_MAX,
        description="Most runs of this queue PENDING or RUNNING at once; 0 blocks delivery; null: no limit.",
        examples=[3, None],
    )
    paused: bool = Field(False, description="A paused queue hands out no runs.", examples=[False, True])
    description: str | None = Field(
        None,
        description='Free text. Absent: "" (for the `default` queue: "The work pool\'s default queue.").',
        examples=["bulk backfills"],
    )


class WorkPool(BaseModel):
    """A work pool. Absent fields take the server's create defaults; absent `base_job_template` is unmanaged."""

    model_config = ConfigDict(extra="forbid", strict=True, title="WorkPool")

    type: str | None = Field(
        None,
        min_length=1,
        description='Worker type; immutable (a change replaces the pool). Absent: "prefect-agent", the server\'s default. '
                    "Must be a known worker type (process, kubernetes, docker, ecs, cloud-run, cloud-run-v2, vertex-ai, "
                    "azure-container-instance, their :push variants, modal:push, coiled:push, prefect:managed); "
                    "anything else is an error with a did-you-mean. A custom worker's type is accepted with the "
                    "--allow-unknown-type flag of validate, plan, apply and render, or in HCL with "
                    "allow_unknown_type = true in the provider \"prefect\" block (which the Terraform provider "
                    "reads too, so a .tf file means the same to both).",
        examples=["process", "kubernetes", "docker", "ecs", "cloud-run"],
    )
    description: str | None = Field(None, description="Free text. Absent: null.", examples=["Production Kubernetes"])
    paused: bool = Field(False, description="A paused pool hands out no runs.", examples=[False, True])
    concurrency_limit: int | None = Field(
        None,
        ge=LIMIT_MIN,
        le=INT32_MAX,
        description="Most runs of the pool PENDING or RUNNING at once; 0 blocks delivery; null: no limit.",
        examples=[20, None],
    )
    base_job_template: PoolTemplate | None = Field(
        None,
        description="Inline `{job_configuration, variables}`, `{file: PATH}`, or "
        "`{template: NAME, defaults: {...}}`. Absent: not managed. `{}`: no template.",
        examples=[{"file": "templates/k8s.json"}, {"template": "k8s", "defaults": {"namespace": "etl"}}],
    )
    queues: dict[str, WorkQueue | None] = Field(
        default_factory=dict,
        description="Queue name -> queue (null or {} declares it with the server's defaults). "
        "Declaring `default` manages the queue every pool has.",
        examples=[{"critical": {"priority": 1, "concurrency_limit": 1}, "low": {"priority": 10}}],
        json_schema_extra={"propertyNames": {"pattern": QUEUE_NAME_PATTERN}},
    )


class Environment(BaseModel):
    """One environment (dev, staging, prod...): its server, where its credentials come from, its overlays.

    Selected with `--env NAME` (validate, plan, apply) or all at once with `plan --all-envs`.
    Credentials are never written here: `api_key_env` and `auth_string_env` NAME environment variables."""

    model_config = ConfigDict(extra="forbid", strict=True, title="Environment")

    description: str | None = Field(None, description="Free text.", examples=["Production workspace"])
    api_url: str | None = Field(
        None,
        min_length=1,
        description="The Prefect API URL of this environment (self-hosted `http://host:4200/api`, or Prefect "
        "Cloud's `https://api.prefect.cloud/api/accounts/{id}/workspaces/{id}`). No user:password in it. "
        "Exclusive with `profile`.",
        examples=["https://prefect.staging.example.com/api",
                  "https://api.prefect.cloud/api/accounts/0ff44498-d380-4d7b-bd68-9b52da03823f/"
                  "workspaces/c1e7f2b4-9a4a-4b55-9d3c-2f1e6f7a8b90"],
    )
    profile: str | None = Field(
        None,
        min_length=1,
        description="A Prefect profile (of profiles.toml, found as the Prefect CLI finds it) whose PREFECT_API_URL, "
        "PREFECT_API_KEY and PREFECT_API_AUTH_STRING this environment uses. Exclusive with `api_url`.",
        examples=["prod"],
    )
    api_key_env: str | None = Field(
        None,
        description="The NAME of the environment variable holding this environment's API key (sent as "
        "`Authorization: Bearer`), never the key itself. It must be set when the environment is used.",
        examples=["PREFECT_API_KEY_PROD"],
        json_schema_extra={"pattern": ENV_VAR_NAME_PATTERN},
    )
    auth_string_env: str | None = Field(
        None,
        description="The NAME of the environment variable holding `user:password` for HTTP basic auth "
        "(a self-hosted server's PREFECT_SERVER_API_AUTH_STRING), never the value itself.",
        examples=["PREFECT_AUTH_STRING_STAGING"],
        json_schema_extra={"pattern": ENV_VAR_NAME_PATTERN},
    )
    files: list[str] = Field(
        default_factory=list,
        description="Overlays read after the `-f` files, as more `-f` would be (later wins), relative to the "
        "file that declares the environment: config files or directories, and `.tfvars`/`.tfvars.json` files "
        "read as `--var-file` for HCL configs.",
        examples=[["overlays/prod.yaml"], ["prod.tfvars"]],
    )
    variables: dict[str, Any] = Field(
        default_factory=dict,
        description="HCL input variables for this environment (as `--var`; `--var` and `--var-file` on the "
        "command line win).",
        examples=[{"image_tag": "1.4.2", "replicas": 3}],
    )
POLICY_RULE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class PolicyRule(BaseModel):
    """A policy rule: every planned object of its `target` must satisfy its JSON Schema (Draft 2020-12).

    Checked by `validate`, `plan` and `apply` against the planned state (see *Policy* below); a
    violation is a diagnostic at the object's file:line with the rule's id and message."""

    model_config = ConfigDict(extra="forbid", strict=True, title="PolicyRule", populate_by_name=True)

    id: str = Field(..., min_length=1, description="A stable name for the rule, unique in the configuration "
                    "(shown with each violation).", examples=["prod-pools-have-a-limit"],
                    json_schema_extra={"pattern": POLICY_RULE_ID_PATTERN})
    message: str = Field(..., min_length=1, description="What a violation says: what to do to comply.",
                         examples=["set concurrency_limit on every pool in prod"])
    description: str | None = Field(None, description="Why the rule exists (shown with each violation).",
                                    examples=["Unbounded pools starve the cluster."])
    target: Literal["pool", "queue", "config"] = Field(
        ..., description="What the schema checks: `pool` (each declared pool, with its queues), `queue` (each "
        "declared queue) or `config` (the whole planned configuration, once).", examples=["pool"])
    environments: list[str] | None = Field(
        None, min_length=1, description="Only when planning one of these environments (`--env`); absent: always.",
        examples=[["prod"]])
    severity: Literal["error", "warning"] = Field(
        "error", description="`error` fails validate, plan and apply; `warning` is reported and the plan goes on.",
        examples=["warning"])
    schema_: dict[str, Any] = Field(
        ..., alias="schema", description="A JSON Schema (Draft 2020-12) the target's document must satisfy. "
        "Only local `$ref`s (`#/...`); `pattern` is RE2 syntax.",
        examples=[{"required": ["concurrency_limit"], "properties": {"concurrency_limit": {"type": "integer"}}}])


class Policy(BaseModel):
    """Policy rules of this configuration: inline, and from rule files. Rules of every config file
    apply (an overlay adds rules, never removes one)."""

    model_config = ConfigDict(extra="forbid", strict=True, title="Policy")

    files: list[str] = Field(
        default_factory=list,
        description="Rule files (`version: 1` and `rules:`), directories of them (their `*.yaml`, `*.yml`, "
        "`*.json`) or glob patterns, relative to this file and inside the configuration's root.",
        examples=[["policies/"], ["policies/*.yaml"]])
    rules: list[PolicyRule] = Field(default_factory=list, description="Rules written here.",
                                    examples=[[{"id": "pinned-images", "target": "pool", "message": "pin the image",
                                                "schema": {"type": "object"}}]])


class PolicyFile(BaseModel):
    """A rule file named by `policy.files`."""

    model_config = ConfigDict(extra="forbid", strict=True, title="PolicyFile")

    version: Literal[1] = Field(..., description="Format version; always 1.", examples=[1])
    rules: list[PolicyRule] = Field(..., description="The rules.")


class ConfigDocument(BaseModel):
    """A poolform config file. Several files merge in order (later wins)."""

    model_config = ConfigDict(extra="forbid", strict=True, title="poolform config")

    version: Literal[1] = Field(..., description="Format version; always 1.", examples=[1])
    manage: Manage = Field(
        default_factory=Manage,
        description="Ownership: what may be deleted.",
        examples=[{"prune": False, "scope": ["team-a-*"]}],
    )
    policy: Policy | None = Field(
        None,
        description="Policy rules checked against the planned state (inline `rules` and rule `files`).",
        examples=[{"files": ["policies/"]}],
    )
    base_job_templates: dict[str, NamedTemplate] = Field(
        default_factory=dict,
        description="Named base job templates, inline or `{file: PATH}`, shared by pools through "
        "`base_job_template: {template: NAME}`.",
        examples=[{"k8s": {"file": "templates/k8s.json"}}],
    )
    work_pools: dict[str, WorkPool | None] = Field(
        default_factory=dict,
        description="Pool name -> pool (null declares it with the server's defaults). "
        "Names starting with `prefect` are reserved by the server.",
        examples=[{"k8s-prod": {"type": "kubernetes", "queues": {"critical": {"priority": 1}}}}],
        json_schema_extra={"propertyNames": {"pattern": POOL_NAME_PATTERN, "not": {"pattern": RESERVED_POOL_PATTERN}}},
    )
    environments: dict[str, Environment] = Field(
        default_factory=dict,
        description="Environment name -> its server, credentials (names of environment variables) and overlays. "
        "`--env NAME` selects one; `plan --all-envs` plans each against its own server.",
        examples=[{"staging": {"api_url": "https://prefect.staging.example.com/api",
                               "auth_string_env": "PREFECT_AUTH_STRING_STAGING", "files": ["overlays/staging.yaml"]},
                   "prod": {"profile": "prod", "files": ["overlays/prod.yaml"]}}],
        json_schema_extra={"propertyNames": {"pattern": ENVIRONMENT_NAME_PATTERN}},
    )


POOL_KEYS: tuple[str, ...] = tuple(WorkPool.model_fields)
QUEUE_KEYS: tuple[str, ...] = tuple(WorkQueue.model_fields)
TOP_KEYS: tuple[str, ...] = tuple(ConfigDocument.model_fields)
MANAGE_KEYS: tuple[str, ...] = tuple(Manage.model_fields)
ENVIRONMENT_KEYS: tuple[str, ...] = tuple(Environment.model_fields)
POLICY_KEYS: tuple[str, ...] = tuple(Policy.model_fields)
POLICY_FILE_KEYS: tuple[str, ...] = tuple(PolicyFile.model_fields)
RULE_KEYS: tuple[str, ...] = tuple(f.alias or name for name, f in PolicyRule.model_fields.items())
TEMPLATE_FORM_KEYS: dict[str, tuple[str, ...]] = {
    "inline": tuple(InlineTemplate.model_fields),
    "file": tuple(TemplateFile.model_fields),
    "template": tuple(TemplateRef.model_fields),
}

_NOT_DRAFT7 = {"prefixItems", "$defs", "dependentRequired", "dependentSchemas", "unevaluatedProperties",
               "unevaluatedItems", "$anchor", "$dynamicRef", "$dynamicAnchor", "discriminator"}


def _to_draft7(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$defs":
                out["definitions"] = _to_draft7(value)
            elif key == "$ref" and isinstance(value, str):
                out[key] = value.replace("#/$defs/", "#/definitions/")
            elif key in _NOT_DRAFT7:
                continue
            elif key in ("properties", "definitions", "patternProperties"):
                out[key] = {k: _to_draft7(v) for k, v in value.items()}
            else:
                out[key] = _to_draft7(value)
        return out
    if isinstance(node, list):
        return [_to_draft7(v) for v in node]
    return node


def config_json_schema() -> dict[str, Any]:
    """The config's JSON Schema, draft-07 keywords only (editors' yaml-language-server supports draft-07)."""
    schema = ConfigDocument.model_json_schema(ref_template="#/definitions/{model}")
    schema = _to_draft7(schema)
    ordered = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": SCHEMA_ID,
        "title": "poolform config",
        "description": "Prefect work pools, work queues and base job templates as code (poolform, version 1).",
    }
    ordered.update({k: v for k, v in schema.items() if k not in ordered})
    return copy.deepcopy(ordered)


def config_schema_text() -> str:
    """:func:`config_json_schema` as the exact text checked in at ``provider-schema/config.schema.json``."""
    return json.dumps(config_json_schema(), indent=2, sort_keys=False) + "\n"


POLICY_SCHEMA_ID = "https://poolform.dev/schema/policy.schema.json"
"""Stable ``$id`` of the rule file schema (an identifier, never fetched)."""


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema of a rule file (``policy.files``), draft-07 keywords only, as the config's."""
    schema = _to_draft7(PolicyFile.model_json_schema(ref_template="#/definitions/{model}"))
    ordered = {"$schema": "http://json-schema.org/draft-07/schema#", "$id": POLICY_SCHEMA_ID,
               "title": "poolform policy rules",
               "description": "A rule file named by a poolform config's `policy.files` (version 1)."}
    ordered.update({k: v for k, v in schema.items() if k not in ordered})
    return copy.deepcopy(ordered)


def policy_schema_text() -> str:
    """:func:`policy_json_schema` as the exact text checked in at ``provider-schema/policy.schema.json``."""
    return json.dumps(policy_json_schema(), indent=2, sort_keys=False) + "\n"
