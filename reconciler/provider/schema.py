"""Schemas of the provider, its resources and data sources, as plain data.

Attribute names and modes follow the official PrefectHQ provider
(terraform.md §1.1-1.4). ``schema_document()`` renders them in the shape of
``terraform providers schema -json``; ``python -m reconciler.provider.schema``
rewrites ``provider-schema/provider.schema.json``. Planning behaviour that the
protocol cannot express (defaults, keep-prior, replacement, JSON semantics)
is declared here and carried out in ``resources``. No I/O except ``write_schema_file``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROVIDER_ADDRESS = "registry.terraform.io/poolform/prefect"
"""What a bare ``source = "poolform/prefect"`` resolves to."""

STRING: Any = "string"
NUMBER: Any = "number"
BOOL: Any = "bool"


@dataclass(frozen=True)
class Attr:
    name: str
    type: Any
    description: str
    required: bool = False
    optional: bool = False
    computed: bool = False
    sensitive: bool = False
    default: Any = None
    """Planned when the config leaves an optional+computed attribute null."""
    replace: bool = False
    """A change forces replacement."""
    keep_prior: bool = False
    """Computed: planned as the prior value on updates (never "known after apply")."""
    json: bool = False
    """A JSON document in a string: compared semantically, prior text kept when equal."""


@dataclass(frozen=True)
class Block:
    description: str
    attributes: tuple[Attr, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attributes)

    def attr(self, name: str) -> Attr:
        for a in self.attributes:
            if a.name == name:
                return a
        raise KeyError(name)


def _obj(attrs: tuple[Attr, ...]) -> list[Any]:
    return ["object", {a.name: a.type for a in attrs}]


_ACCOUNT = Attr("account_id", STRING, "Account UUID. Accepted for compatibility with the official provider and "
                "not used: objects go to the provider's workspace (a change never replaces anything).", optional=True)
_WORKSPACE = Attr("workspace_id", STRING, "Workspace UUID. Accepted for compatibility with the official provider "
                  "and not used: objects go to the provider's workspace (a change never replaces anything).",
                  optional=True)

PROVIDER = Block(
    "Manage Prefect work pools and work queues on Prefect OSS or any Prefect-compatible server.",
    (
        Attr("endpoint", STRING, "The Prefect API URL, with or without the trailing /api. "
             "Defaults to the PREFECT_API_URL environment variable.", optional=True),
        Attr("api_key", STRING, "API key sent as a Bearer token. Defaults to PREFECT_API_KEY.",
             optional=True, sensitive=True),
        Attr("basic_auth_key", STRING, "user:password for a server with basic auth. Defaults to "
             "PREFECT_API_AUTH_STRING or PREFECT_BASIC_AUTH_KEY. Wins over api_key.",
             optional=True, sensitive=True),
        Attr("account_id", STRING, "Prefect Cloud account UUID. Defaults to PREFECT_CLOUD_ACCOUNT_ID, then to "
             "the endpoint's /accounts/<id>/workspaces/<id> path. With workspace_id, requests go to "
             ".../api/accounts/{account_id}/workspaces/{workspace_id}.", optional=True),
        Attr("workspace_id", STRING, "Prefect Cloud workspace UUID. Defaults to the endpoint's "
             "/accounts/<id>/workspaces/<id> path (no environment variable, as in the official provider).",
             optional=True),
        Attr("allow_unknown_type", BOOL, "Accept a work pool type that is no known worker type (a custom "
             "worker's). Without it such a type is an error at plan time with a did-you-mean, as in "
             "`poolform validate`, which reads this attribute too. Not in the official provider.", optional=True),
    ),
)

WORK_POOL = Block(
    "A Prefect work pool.",
    (
        Attr("id", STRING, "Work pool UUID.", computed=True, keep_prior=True),
        Attr("created", STRING, "When the pool was created (RFC 3339).", computed=True, keep_prior=True),
        Attr("updated", STRING, "When the pool was last updated (RFC 3339). Unknown in a plan only when the "
             "pool itself is being updated.", computed=True),
        _ACCOUNT,
        _WORKSPACE,
        Attr("name", STRING, "Name of the work pool (its identity; a change forces replacement).",
             required=True, replace=True),
        Attr("description", STRING, "Description of the work pool. Removing it clears it on the server.",
             optional=True),
        Attr("type", STRING, "Worker type of the pool (process, kubernetes, docker, ...). Cannot be changed "
             "in place.", optional=True, computed=True, default="prefect-agent", replace=True),
        Attr("paused", BOOL, "Whether the pool is paused.", optional=True, computed=True, default=False),
        Attr("concurrency_limit", NUMBER, "Maximum concurrent flow runs in the pool. Removing it clears it.",
             optional=True),
        Attr("default_queue_id", STRING, "UUID of the pool's default queue.", computed=True, keep_prior=True),
        Attr("base_job_template", STRING, "The base job template as a JSON string (file(), templatefile(), "
             "jsonencode()). Compared as JSON: whitespace and key order never make a diff. Omit it to leave "
             "the server's template unmanaged.", optional=True, computed=True, json=True),
    ),
)

WORK_QUEUE = Block(
    "A work queue in a Prefect work pool. A queue named `default` adopts the pool's default queue; "
    "destroying it resets it to the server's defaults. `priority` is set exactly, without moving sibling queues.",
    (
        Attr("id", STRING, "Work queue UUID.", computed=True, keep_prior=True),
        Attr("created", STRING, "When the queue was created (RFC 3339).", computed=True, keep_prior=True),
        Attr("updated", STRING, "When the queue was last updated (RFC 3339). Unknown in a plan only when the "
             "queue itself is being updated.", computed=True),
        _ACCOUNT,
        _WORKSPACE,
        Attr("work_pool_name", STRING, "Name of the pool that holds the queue (a change forces replacement).",
             required=True, replace=True),
        Attr("name", STRING, "Name of the queue (a change forces replacement).", required=True, replace=True),
        Attr("description", STRING, "Description of the queue. Omitted: \"\" (for the `default` queue: "
             "\"The work pool's default queue.\").", optional=True, computed=True, default=""),
        Attr("is_paused", BOOL, "Whether the queue is paused.", optional=True, computed=True, default=False),
        Attr("concurrency_limit", NUMBER, "Maximum concurrent flow runs from the queue. Removing it clears it.",
             optional=True),
        Attr("priority", NUMBER, "Priority (1 is highest). Omit it to keep the server's choice.",
             optional=True, computed=True),
    ),
)

_POOL_OUT = (
    Attr("id", STRING, "Work pool UUID.", optional=True, computed=True),
    Attr("created", STRING, "Creation time (RFC 3339).", computed=True),
    Attr("updated", STRING, "Last update time (RFC 3339).", computed=True),
    Attr("name", STRING, "Name of the work pool.", optional=True, computed=True),
    Attr("description", STRING, "Description of the work pool.", optional=True, computed=True),
    Attr("type", STRING, "Worker type of the pool.", computed=True),
    Attr("paused", BOOL, "Whether the pool is paused.", computed=True),
    Attr("concurrency_limit", NUMBER, "Concurrency limit of the pool.", optional=True, computed=True),
    Attr("default_queue_id", STRING, "UUID of the default queue.", optional=True, computed=True),
    Attr("base_job_template", STRING, "The base job template as a JSON string.", computed=True),
)

_QUEUE_OUT = (
    Attr("id", STRING, "Work queue UUID.", computed=True),
    Attr("created", STRING, "Creation time (RFC 3339).", computed=True),
    Attr("updated", STRING, "Last update time (RFC 3339).", computed=True),
    Attr("name", STRING, "Name of the queue.", computed=True),
    Attr("description", STRING, "Description of the queue.", computed=True),
    Attr("is_paused", BOOL, "Whether the queue is paused.", computed=True),
    Attr("concurrency_limit", NUMBER, "Concurrency limit of the queue.", computed=True),
    Attr("priority", NUMBER, "Priority of the queue.", computed=True),
)

WORKER_TYPES: dict[str, str] = {
    # attribute of base_job_configs: worker type in the aggregate worker metadata
    "kubernetes": "kubernetes",
    "ecs": "ecs",
    "azure_container_instances": "azure-container-instance",
    "docker": "docker",
    "cloud_run": "cloud-run",
    "cloud_run_v2": "cloud-run-v2",
    "vertex_ai": "vertex-ai",
    "prefect_agent": "prefect-agent",
    "process": "process",
    "azure_container_instances_push": "azure-container-instance:push",
    "cloud_run_push": "cloud-run:push",
    "cloud_run_v2_push": "cloud-run-v2:push",
    "ecs_push": "ecs:push",
    "modal_push": "modal:push",
    "prefect_managed": "prefect:managed",
}

DATA_WORK_POOL = Block("Look up one work pool by name.", _POOL_OUT + (_ACCOUNT, _WORKSPACE))
DATA_WORK_POOLS = Block(
    "List work pools, optionally only those whose ids are in filter_any.",
    (
        _ACCOUNT,
        _WORKSPACE,
        Attr("filter_any", ["list", STRING], "Work pool UUIDs to return (all pools when unset).", optional=True),
        Attr("work_pools", ["list", _obj(tuple(a for a in _POOL_OUT))], "The work pools, by name.", computed=True),
    ),
)
DATA_WORK_QUEUE = Block(
    "Look up one work queue by pool and name.",
    tuple(a for a in _QUEUE_OUT if a.name != "name") + (
        _ACCOUNT,
        _WORKSPACE,
        Attr("work_pool_name", STRING, "Name of the pool that holds the queue.", required=True),
        Attr("name", STRING, "Name of the queue.", required=True),
    ),
)
DATA_WORK_QUEUES = Block(
    "List the queues of a work pool, optionally only those whose ids are in filter_any.",
    (
        _ACCOUNT,
        _WORKSPACE,
        Attr("work_pool_name", STRING, "Name of the pool.", required=True),
        Attr("filter_any", ["list", STRING], "Work queue UUIDs to return (all queues when unset).", optional=True),
        Attr("work_queues", ["set", _obj(_QUEUE_OUT + (Attr("work_pool_name", STRING, "", computed=True),))],
             "The queues of the pool.", computed=True),
    ),
)
DATA_WORKER_METADATA = Block(
    "Default base job templates by worker type, from the server's aggregate worker metadata.",
    (
        _ACCOUNT,
        _WORKSPACE,
        Attr("base_job_configs", ["object", {name: STRING for name in WORKER_TYPES}],
             "Default base job template (JSON string) for each worker type the server knows; an empty string for "
             "others, as the official provider gives. "
             "Keys: " + ", ".join(WORKER_TYPES) + ".", computed=True),
    ),
)

RESOURCES: dict[str, Block] = {"prefect_work_pool": WORK_POOL, "prefect_work_queue": WORK_QUEUE}
DATA_SOURCES: dict[str, Block] = {
    "prefect_work_pool": DATA_WORK_POOL,
    "prefect_work_pools": DATA_WORK_POOLS,
    "prefect_work_queue": DATA_WORK_QUEUE,
    "prefect_work_queues": DATA_WORK_QUEUES,
    "prefect_worker_metadata": DATA_WORKER_METADATA,
}


def _attr_json(a: Attr) -> dict[str, Any]:
    out: dict[str, Any] = {"type": a.type, "description": a.description, "description_kind": "plain"}
    for flag in ("required", "optional", "computed", "sensitive"):
        if getattr(a, flag):
            out[flag] = True
    if not a.description:
        del out["description"]
    return out


def _block_json(block: Block) -> dict[str, Any]:
    return {
        "version": 0,
        "block": {
            "attributes": {a.name: _attr_json(a) for a in sorted(block.attributes, key=lambda a: a.name)},
            "description": block.description,
            "description_kind": "plain",
        },
    }


def schema_document() -> dict[str, Any]:
    """The provider schema as ``terraform providers schema -json`` prints it."""
    return {
        "format_version": "1.0",
        "provider_schemas": {
            PROVIDER_ADDRESS: {
                "provider": _block_json(PROVIDER),
                "resource_schemas": {name: _block_json(b) for name, b in sorted(RESOURCES.items())},
                "data_source_schemas": {name: _block_json(b) for name, b in sorted(DATA_SOURCES.items())},
            }
        },
    }


SCHEMA_FILE = Path(__file__).resolve().parents[2] / "provider-schema" / "provider.schema.json"


def render_schema_file() -> str:
    return json.dumps(schema_document(), indent=2, sort_keys=True) + "\n"


def write_schema_file(path: Path = SCHEMA_FILE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_schema_file(), encoding="utf-8")
    return path


if __name__ == "__main__":  # pragma: no cover
    print(write_schema_file())
