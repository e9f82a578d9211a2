"""Base job template and job-variable checks done by the server (prefect-api.md §5.2, §5.3).

Structure and placeholder checks raise ``ValueError`` (pydantic turns them into
422 validation errors); schema and default checks raise ``TemplateError`` with
Prefect's ``detail`` text.  ``jsonschema`` is imported lazily.  This module must
not import the rest of the package: the server shares only the HTTP contract.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from typing import Any

PLACEHOLDER = re.compile(r"{{\s*([\w\.\-\[\]$]+)\s*}}")


class TemplateError(Exception):
    """A schema or job-variable failure; ``str()`` is the response detail."""


def check_structure(template: dict[str, Any] | None) -> dict[str, Any] | None:
    """Shape and placeholder checks (create and PATCH). Returns the template unchanged."""
    if template is None or template == {}:
        return template
    job_configuration = template.get("job_configuration")
    variables = template.get("variables")
    if not job_configuration or not variables:
        raise ValueError("The `base_job_template` must contain both a `job_configuration` key and a `variables` key.")
    if not isinstance(job_configuration, dict):
        raise ValueError("The `base_job_template`'s `job_configuration` must be a JSON object.")
    if not isinstance(variables, dict):
        raise ValueError("The `base_job_template`'s `variables` must be a JSON Schema object, e.g. {\"type\": \"object\", \"properties\": {}}.")
    properties = variables.get("properties", {})
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise ValueError("The `base_job_template`'s `variables.properties` must be a JSON object mapping variable names to schemas.")
    used: dict[str, None] = {}
    for value in job_configuration.values():
        used.update(dict.fromkeys(PLACEHOLDER.findall(json.dumps(value))))
    missing = [name for name in used if name not in properties]
    if missing:
        raise ValueError(
            "The variables specified in the job configuration template must be present as properties in the "
            "variables schema. Your job configuration uses the following undeclared variable(s): "
            + " ,".join(missing)
            + "."
        )
    return template


def _validator(schema: dict[str, Any]) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema)


def check_schema(variables: dict[str, Any]) -> None:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(variables)
    except SchemaError as exc:
        raise TemplateError(f"Invalid schema: {exc.message}") from None


def preprocess(schema: dict[str, Any]) -> dict[str, Any]:
    """Optional typed properties also accept null (Prefect's preprocessing; errors then read
    "... is not valid under any of the given schemas")."""
    schema = copy.deepcopy(schema)
    required = set(schema.get("required") or [])
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name, prop in properties.items():
            if not isinstance(prop, dict) or name in required or "type" not in prop:
                continue
            kind = prop.pop("type")
            prop["anyOf"] = [{"type": kind}, {"type": "null"}]
    return schema


def _failure(error: Any) -> str:
    path = list(error.path)
    if path:
        return f"Validation failed for field {'.'.join(str(p) for p in path)!r}. Failure reason: {error.message}"
    return f"Validation failed. Failure reason: {error.message}"


def _first_error(schema: dict[str, Any], values: dict[str, Any]) -> Any:
    for error in _validator(schema).iter_errors(values):
        return error
    return None


def check_defaults(template: dict[str, Any]) -> None:
    """Create-time checks: ``variables`` is a valid JSON Schema and every default fits it.

    The outcome depends only on ``variables``; it is memoized on their canonical JSON because
    meta-schema validation costs milliseconds and fleets repeat the same template per pool.
    """
    if not template or not template.get("variables"):
        return
    problem = _defaults_problem(json.dumps(template["variables"], sort_keys=True))
    if problem is not None:
        raise TemplateError(problem)


@functools.lru_cache(maxsize=512)
def _defaults_problem(variables_json: str) -> str | None:
    variables = json.loads(variables_json)
    try:
        check_schema(variables)
    except TemplateError as exc:
        return str(exc)
    defaults = {
        name: prop["default"]
        for name, prop in (variables.get("properties") or {}).items()
        if isinstance(prop, dict) and "default" in prop
    }
    schema = preprocess(variables)
    schema.pop("required", None)
    try:
        error = _first_error(schema, defaults)
    except Exception as exc:  # e.g. a $ref that resolves nowhere
        return f"Invalid schema: {exc}"
    if error is not None:
        return f"Validation failed for work pool's job variable defaults: {_failure(error)}"
    return None


def pool_defaults(template: dict[str, Any]) -> dict[str, Any]:
    variables = (template or {}).get("variables") or {}
    return {
        name: prop["default"]
        for name, prop in (variables.get("properties") or {}).items()
        if isinstance(prop, dict) and "default" in prop
    }


def check_job_variables(
    template: dict[str, Any], *layers: dict[str, Any] | None, enforce_required: bool
) -> Any:
    """First failing jsonschema error for defaults overlaid with ``layers``, else None."""
    variables = (template or {}).get("variables")
    if not variables or not isinstance(variables, dict):
        return None
    schema = preprocess(variables)
    defaults = pool_defaults(template)
    valid_defaults = {}
    for name, value in defaults.items():
        sub = dict(schema)
        sub.pop("required", None)
        if _first_error(sub, {name: value}) is None:
            valid_defaults[name] = value
    if len(valid_defaults) != len(defaults):
        enforce_required = False
    merged = dict(valid_defaults)
    for layer in layers:
        merged.update(layer or {})
    if not enforce_required:
        schema.pop("required", None)
    try:
        return _first_error(schema, merged)
    except Exception as exc:  # an unusable stored schema must not become a 500
        return _Broken(str(exc))


class _Broken:
    def __init__(self, message: str) -> None:
        self.message = f"the pool's variables schema cannot be used: {message}"
        self.path: list[Any] = []

    def __repr__(self) -> str:
        return f"<ValidationError: {self.message!r}>"


def failure_text(error: Any) -> str:
    return _failure(error)
