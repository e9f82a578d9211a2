"""The JSON Schema (Draft 2020-12) of the plan document, built from the plan's vocabularies.

Published as ``provider-schema/plan.schema.json`` (``make schema`` writes it; a test
checks it is fresh) so that CI policies can validate plans (``poolform plan --json``);
tests validate every plan the planner makes against it. Steps come from
``steps.SPECS``, actions and reasons from ``actions.py``, the object forms from
``normalize.POOL_FIELDS``/``QUEUE_FIELDS``. The schema checks shapes only: whether a
document holds together is ``verify.py``'s. A value, no I/O.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.plan.actions import Action, Reason, ResourceType, summarize
from reconciler.model.document import ENVIRONMENT_NAME_PATTERN
from reconciler.plan.document import FORMAT_VERSION, SUPPORTED_FORMAT_VERSIONS, Mode
from reconciler.plan.normalize import POOL_FIELDS, QUEUE_FIELDS
from reconciler.plan.runs import NOTE_KEYS, Effect
from reconciler.plan.steps import SPECS, Field

_SUMMARY_KEYS = tuple(summarize([], []))
_PATH = {"type": "array", "items": {"type": ["string", "integer"]}}
_NAME = {"type": "string", "minLength": 1}
_PRIORITY = {"type": "integer", "minimum": 1}
_FIELD_SCHEMAS: dict[Field, dict[str, Any]] = {
    Field.QUEUE: _NAME,
    Field.BODY: {"type": "object"},
    Field.PRIORITIES: {"type": "object", "additionalProperties": _PRIORITY},
}
_FORM_VALUES: dict[str, dict[str, Any]] = {
    "pool": _NAME,
    "name": _NAME,
    "type": _NAME,
    "description": {"type": ["string", "null"]},
    "paused": {"type": "boolean"},
    "concurrency_limit": {"type": ["integer", "null"], "minimum": 0},
    "base_job_template": {"type": ["object", "null"]},
    "priority": _PRIORITY,
}


def _step(spec_op: Any) -> dict[str, Any]:
    spec = SPECS[spec_op]
    props: dict[str, Any] = {"op": {"const": spec_op.value}, "address": {"type": "string"}, "pool": _NAME}
    props.update({f.value: _FIELD_SCHEMAS[f] for f in spec.fields})
    return {"type": "object", "required": ["op", "address", "pool", *(f.value for f in spec.fields)],
            "properties": props, "additionalProperties": False}


def _form(fields: tuple[str, ...], identity: list[str]) -> dict[str, Any]:
    return {"type": ["object", "null"], "required": identity, "additionalProperties": False,
            "properties": {k: _FORM_VALUES[k] for k in fields}}


_WATERFALL_SIDE: dict[str, Any] = {
    "type": "object", "required": ["paused", "concurrency_limit", "queues"],
    "properties": {
        "paused": {"type": "boolean"},
        "concurrency_limit": {"type": ["integer", "null"]},
        "queues": {"type": "array", "items": {
            "type": "object", "required": ["name", "priority", "concurrency_limit", "paused"],
            "properties": {"name": {"type": "string"}, "priority": {"type": ["integer", "null"]},
                           "concurrency_limit": {"type": ["integer", "null"]}, "paused": {"type": "boolean"},
                           "unmanaged": {"type": "boolean"}}}},
    },
}

PLAN_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": f"https://poolform.dev/schemas/plan-{FORMAT_VERSION}.json",
    "title": "poolform plan document",
    "type": "object",
    "required": ["format_version", "poolform_version", "api_url", "created_at", "mode", "targets", "complete",
                 "applyable", "errored", "resource_changes", "side_effects", "unmanaged", "ignored", "steps",
                 "observed", "diagnostics", "summary", "runs"],
    "if": {"properties": {"format_version": {"const": FORMAT_VERSION}}},
    "then": {"required": ["environment"]},
    "else": {"not": {"required": ["environment"]}},
    "additionalProperties": False,
    "properties": {
        "format_version": {"enum": list(SUPPORTED_FORMAT_VERSIONS)},
        "poolform_version": {"type": "string"},
        "api_url": {"type": "string"},
        "environment": {
            "description": "The config environment the plan was made for (`--env NAME`), or null; "
                           "`poolform apply PLANFILE` refuses another environment. Absent in formats 1.1 and 1.2.",
            "type": ["string", "null"], "pattern": ENVIRONMENT_NAME_PATTERN},
        "created_at": {"type": ["string", "null"]},
        "mode": {"enum": [m.value for m in Mode]},
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
                    "type": {"enum": [t.value for t in ResourceType]},
                    "pool": _NAME,
                    "name": _NAME,
                    "change": {
                        "type": "object",
                        "required": ["actions", "before", "after", "changed_paths"],
                        "additionalProperties": False,
                        "properties": {
                            "actions": {"enum": [a.to_actions() for a in Action]},
                            "before": {"anyOf": [_form(POOL_FIELDS, ["name", "type"]), _form(QUEUE_FIELDS, ["pool", "name"])]},
                            "after": {"anyOf": [_form(POOL_FIELDS, ["name", "type"]), _form(QUEUE_FIELDS, ["pool", "name"])]},
                            "changed_paths": {"type": "array", "items": _PATH},
                        },
                    },
                    "action_reason": {"enum": [r.value for r in Reason]},
                    "reason_detail": {"type": "string"},
                    "destructive": {"type": "boolean"},
                },
            },
        },
        "side_effects": {
            "type": "array",
            "items": {"type": "object", "required": ["address", "path", "before", "after"],
                      "additionalProperties": False,
                      "properties": {"address": {"type": "string"}, "path": {"const": ["priority"]},
                                     "before": _PRIORITY, "after": _PRIORITY}},
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
            "items": {"oneOf": [_step(op) for op in SPECS]},
        },
        "observed": {"type": "object", "additionalProperties": {"type": ["string", "null"],
                                                                 "pattern": "^sha256:[0-9a-f]{64}$"}},
        "diagnostics": {"type": "array", "items": {"type": "object", "required": ["severity", "summary"],
                                                   "properties": {"severity": {"enum": ["error", "warning"]}}}},
        "summary": {
            "type": "object",
            "required": list(_SUMMARY_KEYS),
            "additionalProperties": False,
            "properties": {k: {"type": "integer", "minimum": 0} for k in _SUMMARY_KEYS},
        },
        "runs": {
            "description": "Due SCHEDULED runs (as the server counted them while planning) that a change holds "
                           "back: a pause (they start late on resume), a lowered concurrency limit, or the delete "
                           "of their pool or queue. Absent from 1.1 documents.",
            "type": "array",
            "items": {"type": "object", "required": list(NOTE_KEYS), "additionalProperties": False,
                      "properties": {"address": {"type": "string"}, "effect": {"enum": [e.value for e in Effect]},
                                     "due_runs": {"type": "integer", "minimum": 1},
                                     "start_late_on_resume": {"type": "boolean"}}},
        },
        "waterfalls": {
            "description": "For the views only: each touched pool's pause, limit and queues in waterfall order "
                           "(priority, then name), before (null: created) and after (null: deleted) the apply.",
            "type": "object",
            "additionalProperties": {
                "type": "object", "required": ["before", "after"], "additionalProperties": False,
                "properties": {side: {"anyOf": [{"type": "null"}, _WATERFALL_SIDE]} for side in ("before", "after")},
            },
        },
    },
}


def plan_json_schema() -> dict[str, Any]:
    """A copy of :data:`PLAN_SCHEMA`."""
    import copy

    return copy.deepcopy(PLAN_SCHEMA)


def plan_schema_text() -> str:
    """:data:`PLAN_SCHEMA` as the exact text checked in at ``provider-schema/plan.schema.json``."""
    return json.dumps(PLAN_SCHEMA, indent=2, ensure_ascii=False) + "\n"
