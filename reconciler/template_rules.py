"""Base job template rules as Prefect 3.9.1's server applies them: the one copy shared by the
reference server (``reconciler/server/``) and the reconciler (``reconciler/templates.py``).

Owns: the placeholder syntax and where the server looks for placeholders, the structure
check of a template (create and PATCH), the meta-schema check of ``variables``, the
preprocessing of ``variables`` before values are validated against it, the create-time check
of defaults, and job-variable validation for deployments and flow runs — with Prefect's
message texts and field paths (``'env.FOO'``, ``'items[0]'``). Sources: Prefect 3.9.1's
``server/schemas/actions.py`` (``validate_base_job_template``, ``check_valid_configuration``),
``server/api/validation.py`` and ``utilities/schema_tools/validation.py``.

Must not: import anything else from this package (the server and the client side share only the
HTTP contract and this module; ``tests/test_boundaries.py`` checks it), do I/O, print, or
fetch a remote ``$ref`` (an empty ``referencing`` registry resolves nothing outside the schema).
Block references in defaults (``{"$ref": {"block_document_id": ...}}``) are the caller's: this
module skips them, as Prefect does when it cannot resolve one.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

__all__ = [
    "PLACEHOLDER_RE", "STRUCTURE_MESSAGE", "Failure", "placeholder_names", "placeholder_sites",
    "structure_problem", "preprocess_schema", "without_required", "schema_errors", "schema_problem",
    "template_defaults", "defaults_errors", "defaults_problem", "job_variables_errors",
    "job_variables_problem", "patch_job_variables_problem", "field_message",
]

PLACEHOLDER_RE = re.compile(r"{{\s*([\w\.\-\[\]$]+)\s*}}")
"""``{{ name }}``; Prefect's ``PLACEHOLDER_CAPTURE_REGEX`` group 2."""

STRUCTURE_MESSAGE = "The `base_job_template` must contain both a `job_configuration` key and a `variables` key."

Path = tuple[Any, ...]


@dataclass(frozen=True)
class Failure:
    """Why values (or the schema they are checked against) fail.

    ``message`` is Prefect's sentence ("Validation failed for field 'x'. Failure reason: ...");
    ``reason`` the bare jsonschema message; ``invalid_schema`` says the pool's ``variables``
    are not a valid JSON Schema (``message`` is then "Invalid schema: ...", which Prefect
    answers without a prefix)."""

    message: str
    reason: str
    invalid_schema: bool = False

    def __repr__(self) -> str:
        """jsonschema's ``repr`` of the error, which Prefect's deployment PATCH puts in its 409."""
        return f"<ValidationError: {self.reason!r}>"


# --------------------------------------------------------------- placeholders and structure


def placeholder_names(job_configuration: Mapping[str, Any]) -> set[str]:
    """The placeholders the server finds: each top-level value dumped as JSON (ASCII-escaped),
    then scanned, so nested keys count and top-level keys do not."""
    names: set[str] = set()
    for value in job_configuration.values():
        names.update(PLACEHOLDER_RE.findall(json.dumps(value)))
    return names


def _strings(value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                yield path + (key,), key
            yield from _strings(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, path + (index,))


def placeholder_sites(job_configuration: Mapping[str, Any]) -> dict[str, Path]:
    """:func:`placeholder_names`, each with the path (under ``job_configuration``) of its first
    occurrence. A placeholder cannot span two JSON strings, so scanning each string's JSON form
    finds exactly the names the whole-value scan finds."""
    found: dict[str, Path] = {}
    for key, value in job_configuration.items():
        for path, text in _strings(value, (key,)):
            if "{{" in text:
                for name in PLACEHOLDER_RE.findall(json.dumps(text)):
                    found.setdefault(name, path)
    return found


def structure_problem(template: Any) -> tuple[Path, str] | None:
    """The first structure or placeholder problem of a template as (path, Prefect's message),
    or None. ``{}`` is valid. Beyond Prefect (whose server answers 500 for these): a
    ``job_configuration`` that is not an object, ``variables`` that are not an object,
    ``variables.properties`` that is not an object."""
    if template == {}:
        return None
    if not isinstance(template, dict):
        return (), "The `base_job_template` must be a JSON object."
    job_configuration = template.get("job_configuration")
    variables = template.get("variables")
    if not job_configuration or not variables:
        return (), STRUCTURE_MESSAGE
    if not isinstance(job_configuration, dict):
        return ("job_configuration",), "The `base_job_template`'s `job_configuration` must be a JSON object."
    if not isinstance(variables, dict):
        return ("variables",), ("The `base_job_template`'s `variables` must be a JSON Schema object, "
                                'e.g. {"type": "object", "properties": {}}.')
    properties = variables.get("properties", {})
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        return ("variables", "properties"), ("The `base_job_template`'s `variables.properties` must be a JSON object "
                                             "mapping variable names to schemas.")
    sites = placeholder_sites(job_configuration)
    missing = [name for name in sites if name not in properties]
    if missing:
        return ("job_configuration",) + sites[missing[0]], (
            "The variables specified in the job configuration template must be present as properties in the "
            "variables schema. Your job configuration uses the following undeclared variable(s): "
            + " ,".join(missing) + ".")
    return None


# ------------------------------------------------------------------------ schema handling


def _fix_property(name: str, prop: dict[str, Any], required: Any, allow_none_with_default: bool) -> None:
    if (name not in required and "type" in prop and prop.get("type") != "null"
            and ("default" not in prop or allow_none_with_default)):
        prop["anyOf"] = [{"type": prop["type"]}, {"type": "null"}]
        del prop["type"]
    items = prop.get("items")
    if items and isinstance(items, list) and not prop.get("prefixItems"):
        prop["prefixItems"] = copy.deepcopy(items)
        del prop["items"]


def _fix_properties(properties: Any, required: Any, allow_none_with_default: bool) -> None:
    if not isinstance(properties, dict):
        return
    required = required if isinstance(required, (list, tuple, set, dict, str)) else ()
    for name, prop in properties.items():
        if not isinstance(prop, dict):
            continue
        _fix_property(name, prop, required, allow_none_with_default)
        if "properties" in prop:
            _fix_properties(prop["properties"], prop.get("required", []), allow_none_with_default)


def preprocess_schema(schema: dict[str, Any], *, allow_none_with_default: bool = False) -> dict[str, Any]:
    """Prefect's ``preprocess_schema`` (a copy): a typed property that is not required (and has
    no ``default``, unless ``allow_none_with_default``) becomes ``anyOf: [{type}, {type: null}]``,
    replacing any ``anyOf`` it had; a list-form ``items`` becomes ``prefixItems``; nested
    ``properties`` and those of ``definitions`` the same; a definition with a
    ``block_type_slug`` also accepts ``{"$ref": <block id>}``."""
    schema = copy.deepcopy(schema)
    if "properties" in schema:
        _fix_properties(schema["properties"], schema.get("required", []), allow_none_with_default)
    definitions = schema.get("definitions")
    if isinstance(definitions, dict):
        for definition in list(definitions.values()):
            if not isinstance(definition, dict):
                continue
            if "properties" in definition:
                _fix_properties(definition["properties"], definition.get("required", []), allow_none_with_default)
            if "block_type_slug" in definition and "title" in definition:
                definitions[definition["title"]] = {"oneOf": [definition, _BLOCK_REFERENCE]}
    return schema


_BLOCK_REFERENCE = {
    "type": "object",
    "properties": {"$ref": {"oneOf": [
        {"type": "string", "format": "uuid"},
        {"type": "object", "additionalProperties": {"type": "string"}, "minProperties": 1},
    ]}},
    "required": ["$ref"],
}


def without_required(value: Any) -> Any:
    """A copy with every ``required`` key of every nested object removed (Prefect's
    ``remove_nested_keys(["required"], ...)``: objects only, not lists)."""
    if not isinstance(value, dict):
        return value
    return {k: without_required(v) for k, v in value.items() if k != "required"}


def _registry() -> Any:
    from referencing import Registry

    return Registry()


def _validator(schema: dict[str, Any], *, formats: bool = False) -> Any:
    from jsonschema import Draft202012Validator

    checker = Draft202012Validator.FORMAT_CHECKER if formats else None
    return Draft202012Validator(schema, registry=_registry(), format_checker=checker)


@functools.lru_cache(maxsize=1)
def _meta_validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(Draft202012Validator.META_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_errors(variables: Any) -> list[Any]:
    """Every way ``variables`` fails the Draft 2020-12 meta-schema (jsonschema errors)."""
    return list(_meta_validator().iter_errors(variables))


def schema_problem(variables: Any) -> str | None:
    """Prefect's "Invalid schema: ..." for ``variables`` that are not a valid JSON Schema, or None."""
    from jsonschema.exceptions import best_match

    error = best_match(_meta_validator().iter_errors(variables))
    return None if error is None else f"Invalid schema: {error.message}"


def field_message(error: Any) -> str:
    """Prefect's sentence for one validation error: "Validation failed for field 'a.b[0]'.
    Failure reason: ..." (the JSON path without ``$.``), or "Validation failed. ..." at the root."""
    path = error.json_path
    head = "Validation failed." if path == "$" else f"Validation failed for field {path.replace('$.', '')!r}."
    return f"{head} Failure reason: {error.message}"


def _errors(schema: dict[str, Any], values: Any, *, formats: bool = False) -> list[Any]:
    return list(_validator(schema, formats=formats).iter_errors(values))


def _best(errors: list[Any]) -> Any:
    from jsonschema.exceptions import best_match

    return best_match(errors)


def _unusable(exc: Exception) -> Failure:
    """A schema jsonschema cannot walk: Prefect's text for a ``$ref`` that resolves nowhere."""
    reason = str(exc) or type(exc).__name__
    return Failure(f"Validation failed. Failure reason: {reason}", reason)


# ----------------------------------------------------------------------- defaults


def _is_block_reference(value: Any) -> bool:
    return isinstance(value, dict) and "$ref" in value


def template_defaults(variables: Any) -> dict[str, Any]:
    """The ``default`` of each property that has one (nulls included), block references too."""
    properties = variables.get("properties") if isinstance(variables, Mapping) else None
    if not isinstance(properties, Mapping):
        return {}
    return {name: prop["default"] for name, prop in properties.items() if isinstance(prop, Mapping) and "default" in prop}


def defaults_errors(template: Any) -> list[Any]:
    """Every way the defaults of a template's ``variables`` fail them, as Prefect checks on pool
    create: ``required`` ignored, optional typed properties accept null, block references
    skipped. Assumes ``variables`` passed :func:`schema_problem`. Raises what jsonschema raises
    for a schema it cannot use (an unresolvable ``$ref``)."""
    variables = template.get("variables") if isinstance(template, dict) else None
    if not variables or not isinstance(variables, dict):
        return []
    defaults = {k: v for k, v in template_defaults(variables).items() if not _is_block_reference(v)}
    schema = without_required(preprocess_schema(variables, allow_none_with_default=True))
    return _errors(schema, defaults)


def defaults_problem(template: Any) -> str | None:
    """Why Prefect refuses a template on pool create (422 detail), or None: ``variables`` not a
    valid JSON Schema ("Invalid schema: ..."), or a default that fails it ("Validation failed for
    work pool's job variable defaults: ..."). Memoized on ``variables``' canonical JSON: fleets
    repeat one template per pool and the meta-schema check costs milliseconds."""
    if not isinstance(template, dict) or not template or not template.get("variables"):
        return None
    variables = template["variables"]
    try:
        canonical = json.dumps(variables, sort_keys=True)
    except (TypeError, ValueError):
        return _defaults_problem(variables)
    if canonical not in _DEFAULTS_SEEN:
        if len(_DEFAULTS_SEEN) >= 512:
            _DEFAULTS_SEEN.clear()
        _DEFAULTS_SEEN[canonical] = _defaults_problem(variables)
    return _DEFAULTS_SEEN[canonical]


_DEFAULTS_SEEN: dict[str, str | None] = {}
"""Memo of :func:`defaults_problem` by canonical ``variables`` (a plain dict, so the message
quotes the schema as it was sent, key order kept)."""


def _defaults_problem(variables: Any) -> str | None:
    problem = schema_problem(variables)
    if problem is not None:
        return problem
    prefix = "Validation failed for work pool's job variable defaults: "
    try:
        error = _best(defaults_errors({"variables": variables}))
    except Exception as exc:  # jsonschema's own errors for a schema it cannot use, e.g. a $ref to nowhere
        return prefix + _unusable(exc).message
    return None if error is None else prefix + field_message(error)


# ------------------------------------------------------------------ job variables


def _valid_defaults(variables: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The defaults that are valid on their own (Prefect drops the others), and whether any was dropped."""
    kept: dict[str, Any] = {}
    dropped = False
    schema = without_required(variables)
    for name, value in template_defaults(variables).items():
        if _is_block_reference(value):
            continue
        if _errors(schema, {name: value}, formats=True):
            dropped = True
        else:
            kept[name] = value
    return kept, dropped


def job_variables_errors(template: Any, *layers: Mapping[str, Any] | None, enforce_required: bool) -> list[Any] | Failure:
    """Every way the pool's valid defaults overlaid with ``layers`` (deployment, then flow run;
    top-level keys replace) fail the template's ``variables``: jsonschema errors, best match
    first. ``required`` is checked only with ``enforce_required`` and when no default was
    dropped as invalid. ``[]`` when the template has no ``variables``; a :class:`Failure` when
    ``variables`` cannot be used."""
    variables = template.get("variables") if isinstance(template, dict) else None
    if not variables or not isinstance(variables, dict):
        return []
    problem = schema_problem(variables)
    if problem is not None:
        return Failure(problem, problem[len("Invalid schema: "):], invalid_schema=True)
    try:
        merged, dropped = _valid_defaults(variables)
        for layer in layers:
            if isinstance(layer, Mapping):
                merged.update(layer)
        schema = preprocess_schema(variables, allow_none_with_default=True)
        if not enforce_required or dropped:
            schema = without_required(schema)
        errors = _errors(schema, merged)
    except Exception as exc:  # a $ref that resolves nowhere, a schema jsonschema cannot walk
        return _unusable(exc)
    best = _best(errors)
    return [best] + [e for e in errors if e is not best] if best is not None else []


def job_variables_problem(template: Any, *layers: Mapping[str, Any] | None, enforce_required: bool) -> Failure | None:
    """The failure Prefect reports (its best match), or None; see :func:`job_variables_errors`."""
    errors = job_variables_errors(template, *layers, enforce_required=enforce_required)
    if isinstance(errors, Failure):
        return errors
    if not errors:
        return None
    return Failure(field_message(errors[0]), errors[0].message)


def patch_job_variables_problem(template: Any, job_variables: Mapping[str, Any]) -> Failure | None:
    """A deployment PATCH naming its pool: ``job_variables`` alone (no defaults), optional
    typed properties accept null unless they have a default, ``required`` ignored; the first
    error found (Prefect's ``check_valid_configuration``)."""
    variables = template.get("variables") if isinstance(template, dict) else None
    if variables is None or not isinstance(variables, dict):
        return None
    try:
        schema = without_required(preprocess_schema(variables))
        errors = _errors(schema, dict(job_variables), formats=True)
    except Exception as exc:
        return _unusable(exc)
    return Failure(field_message(errors[0]), errors[0].message) if errors else None
