"""The JSON Schema (Draft 2020-12) of the plan document, ``format_version`` "1.0".

Published so that CI policies can validate plans (``poolform plan --json``); tests
validate every plan the planner makes against it. A value, no I/O.
"""

from __future__ import annotations

from typing import Any

_PATH = {"type": "array", "items": {"type": ["string", "integer"]}}
_BODY = {"type": "object"}
_NAME = {"type": "string"}


def _step(op: str, required: list[str], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"op": {"const": op}, "address": {"type": "string"}, "pool": _NAME}
    props.update(extra or {})
    return {"type": "object", "required": ["op", "address", "pool", *required], "properties": props,
            "additionalProperties": False}


PLAN_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://poolform.dev/schemas/plan-1.0.json",
    "title": "poolform plan document",
    "type": "object",
    "required": ["format_version", "poolform_version", "api_url", "created_at", "mode", "targets", "complete",
                 "applyable", "errored", "resource_changes", "side_effects", "unmanaged", "steps", "observed",
                 "diagnostics", "summary"],
    "additionalProperties": False,
    "properties": {
        "format_version": {"const": "1.0"},
        "poolform_version": {"type": "string"},
        "api_url": {"type": "string"},
        "created_at": {"type": ["string", "null"]},
        "mode": {"enum": ["normal", "destroy"]},
        "targets": {"type": "array", "items": {"type": "string"}},
        "complete": {"type": "boolean"},
        "applyable": {"type": "boolean"},
        "errored": {"type": "boolean"},
        "resource_changes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["address", "type", "pool", "name", "change", "action_reason", "reason_detail", "destructive"],
                "additionalProperties": False,
                "properties": {
                    "address": {"type": "string"},
                    "type": {"enum": ["work_pool", "work_queue"]},
                    "pool": _NAME,
                    "name": _NAME,
                    "change": {
                        "type": "object",
                        "required": ["actions", "before", "after", "changed_paths"],
                        "additionalProperties": False,
                        "properties": {
                            "actions": {"enum": [["create"], ["update"], ["delete"], ["delete", "create"], ["no-op"]]},
                            "before": {"type": ["object", "null"]},
                            "after": {"type": ["object", "null"]},
                            "changed_paths": {"type": "array", "items": _PATH},
                        },
                    },
                    "action_reason": {"enum": ["create_because_missing", "update_because_config_differs",
                                               "replace_because_cannot_update", "delete_because_pruned",
                                               "delete_because_destroy_mode", "delete_because_pool_replaced", "no_op"]},
                    "reason_detail": {"type": "string"},
                    "destructive": {"type": "boolean"},
                },
            },
        },
        "side_effects": {
            "type": "array",
            "items": {"type": "object", "required": ["address", "path", "before", "after"],
                      "properties": {"address": {"type": "string"}, "path": _PATH}},
        },
        "unmanaged": {
            "type": "array",
            "items": {"type": "object", "required": ["address", "reason"],
                      "properties": {"address": {"type": "string"}, "reason": {"type": "string"}}},
        },
        "ignored": {
            "description": "Config entries poolform did not read because they cannot declare a pool or queue "
                           "(HCL resources and data sources of other providers), with where they are.",
            "type": "array",
            "items": {"type": "object", "required": ["address", "reason"],
                      "properties": {"address": {"type": "string"}, "mode": {"enum": ["managed", "data"]},
                                     "type": {"type": "string"}, "reason": {"type": "string"},
                                     "range": {"type": "object"}}},
        },
        "steps": {
            "type": "array",
            "items": {
                "oneOf": [
                    _step("create_pool", ["body"], {"body": _BODY}),
                    _step("update_pool", ["body"], {"body": _BODY}),
                    _step("delete_pool", []),
                    _step("create_queue", ["queue", "body"], {"queue": _NAME, "body": _BODY}),
                    _step("update_queue", ["queue", "body"], {"queue": _NAME, "body": _BODY}),
                    _step("delete_queue", ["queue"], {"queue": _NAME}),
                    _step("converge_priorities", ["priorities"],
                          {"priorities": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1}}}),
                ]
            },
        },
        "observed": {"type": "object", "additionalProperties": {"type": ["string", "null"],
                                                                 "pattern": "^sha256:[0-9a-f]{64}$"}},
        "diagnostics": {"type": "array", "items": {"type": "object", "required": ["severity", "summary"],
                                                   "properties": {"severity": {"enum": ["error", "warning"]}}}},
        "summary": {
            "type": "object",
            "required": ["add", "change", "destroy", "replace", "unmanaged"],
            "additionalProperties": {"type": "integer", "minimum": 0},
        },
    },
}


def plan_json_schema() -> dict[str, Any]:
    """A copy of :data:`PLAN_SCHEMA`."""
    import copy

    return copy.deepcopy(PLAN_SCHEMA)
