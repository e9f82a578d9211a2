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
import hashlib
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

__all__ = [
    "PLACEHOLDER_RE", "STRUCTURE_MESSAGE", "Failure", "placeholder_names", "placeholder_sites",
    "structure_problem", "preprocess_schema", "without_required", "schema_errors", "schema_problem",
    "template_defaults", "defaults_errors", "defaults_problem", "job_variables_errors",
    "job_variables_problem", "patch_job_variables_problem", "field_message", "Prepared", "prepared", "prepare",
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
    work pool's job variable defaults: ..."). Memoized (:func:`prepared`): fleets repeat one
    template per pool and the meta-schema check costs milliseconds, seconds for megabytes."""
    if not isinstance(template, dict) or not template or not template.get("variables"):
        return None
    return prepared(template["variables"]).defaults_problem


def _defaults_failure(variables: Any) -> str | None:
    """The create-time verdict on the defaults of ``variables`` that passed :func:`schema_problem`."""
    prefix = "Validation failed for work pool's job variable defaults: "
    try:
        error = _best(defaults_errors({"variables": variables}))
    except Exception as exc:  # jsonschema's own errors for a schema it cannot use, e.g. a $ref to nowhere
        return prefix + _unusable(exc).message
    return None if error is None else prefix + field_message(error)


# ------------------------------------------------------------------ memo per schema


class Prepared:
    """What checking values against one ``variables`` schema needs, each part computed once, when
    first asked: the meta-schema verdict, the create-time defaults verdict, the defaults valid on
    their own, and the preprocessed schemas. Holds the ``variables`` first seen (messages quote
    them as sent, key order kept). Callers must not mutate what it returns. Two threads asking
    for a part at once may both compute it; neither waits for the other."""

    def __init__(self, variables: dict[str, Any]) -> None:
        self.variables = variables
        self._parts: dict[str, Any] = {}

    def has(self, name: str) -> bool:
        """Whether the part ``name`` is computed already."""
        return name in self._parts

    def _part(self, name: str, compute: Any) -> Any:
        if name not in self._parts:
            self._parts[name] = compute()
        return self._parts[name]

    @property
    def schema_problem(self) -> str | None:
        return self._part("schema_problem", lambda: schema_problem(self.variables))

    @property
    def defaults_problem(self) -> str | None:
        return self._part("defaults_problem", lambda: self.schema_problem or _defaults_failure(self.variables))

    @property
    def valid_defaults(self) -> tuple[dict[str, Any], bool]:
        return self._part("valid_defaults", lambda: _valid_defaults(self.variables))

    @property
    def job_schema(self) -> dict[str, Any]:
        return self._part("job_schema", lambda: preprocess_schema(self.variables, allow_none_with_default=True))

    @property
    def job_schema_without_required(self) -> dict[str, Any]:
        return self._part("job_schema_without_required", lambda: without_required(self.job_schema))

    @property
    def patch_schema(self) -> dict[str, Any]:
        return self._part("patch_schema", lambda: without_required(preprocess_schema(self.variables)))

    def surely_passes(self, strict: bool, kept: dict[str, Any], merged: dict[str, Any]) -> bool:
        """True when ``merged`` (``kept`` = :attr:`valid_defaults` overlaid with job variables) certainly
        passes the job schema (``strict``: ``required`` enforced), found without validating every
        default again: the defaults that pass are known per schema, and only the values the layers
        set are validated. False means "validate it whole" (so errors are Prefect's, in its order)."""
        schema = self.job_schema if strict else self.job_schema_without_required
        plain = {key: value for key, value in schema.items() if key != "required"}
        required = schema.get("required", [])
        if not set(plain) <= _PER_PROPERTY_KEYWORDS or not isinstance(required, list):
            return False
        if any(name not in merged for name in required if isinstance(name, str)):
            return False
        passing = self._part(("passing", strict), lambda: _passing(plain, kept))
        if passing is None:
            return False
        changed = {name: value for name, value in merged.items() if not (name in passing and kept.get(name) is value)}
        return not changed or next(iter(_validator(plain).iter_errors(changed)), None) is None

    warmed = False
    """Whether :meth:`warm` ran to its end."""

    def warm(self) -> None:
        """Compute every part now (a schema jsonschema cannot use leaves the failing part to be
        raised again when asked)."""
        for part in ("defaults_problem", "valid_defaults", "job_schema_without_required", "patch_schema"):
            try:
                getattr(self, part)
            except Exception:  # noqa: BLE001 - the caller that asks for the part reports it
                pass
        try:
            kept, _ = self.valid_defaults
            for strict in (False, True):
                self.surely_passes(strict, kept, kept)
        except Exception:  # noqa: BLE001 - as above
            pass
        self.warmed = True


_PREPARED: "OrderedDict[bytes, tuple[Prepared, int]]" = OrderedDict()
_PREPARED_LOCK = threading.Lock()
_PREPARED_BUDGET = 32_000_000
"""Sum of the canonical JSON sizes of the schemas kept, least recently used dropped first."""


_SEEN: "OrderedDict[int, tuple[Any, Prepared]]" = OrderedDict()
_SEEN_SIZE = 64
"""The ``variables`` objects :func:`prepare` was given most recently, by identity (each held, so
its id stays its own): asked again with the same object (the server keeps one parse per stored
template), :func:`prepared` answers without serializing and digesting the schema again."""


def prepared(variables: dict[str, Any]) -> Prepared:
    """The memo entry for ``variables``, by the digest of their canonical JSON (equal schemas with
    keys in another order share it); a schema that is not JSON gets a fresh, unshared entry."""
    with _PREPARED_LOCK:
        seen = _SEEN.get(id(variables))
        if seen is not None and seen[0] is variables:
            _SEEN.move_to_end(id(variables))
            return seen[1]
    canonical = _canonical(variables)
    if canonical is None:
        return Prepared(variables)
    key = hashlib.sha256(canonical).digest()
    with _PREPARED_LOCK:
        found = _PREPARED.get(key)
        if found is not None:
            _PREPARED.move_to_end(key)
            return found[0]
        entry = Prepared(variables)
        _PREPARED[key] = (entry, len(canonical))
        total = sum(size for _, size in _PREPARED.values())
        while total > _PREPARED_BUDGET and len(_PREPARED) > 1:
            _, (dropped, size) = _PREPARED.popitem(last=False)
            total -= size
            for ident in [i for i, (_, e) in _SEEN.items() if e is dropped]:
                del _SEEN[ident]
        return entry


def _canonical(variables: Any) -> bytes | None:
    try:
        return json.dumps(variables, sort_keys=True).encode("utf-8", "surrogatepass")
    except (TypeError, ValueError):
        return None


def defaults_problem_known(template: Any) -> bool:
    """Whether :func:`defaults_problem` of ``template`` is answered without validating anything (no
    ``variables``, or their verdict is in the memo): asking then costs one digest of the schema, and
    a known ``variables`` object is known by identity afterwards (as :func:`prepare` does it), so the
    next check of the same object costs none: the caller must not change it."""
    variables = template.get("variables") if isinstance(template, dict) else None
    if not variables:
        return True
    canonical = _canonical(variables)
    if canonical is None:
        return False
    with _PREPARED_LOCK:
        found = _PREPARED.get(hashlib.sha256(canonical).digest())
        if found is None or not found[0].has("defaults_problem"):
            return False
        _remember(variables, found[0])  # the caller's next question about this object costs no digest
        return True


def _remember(variables: dict[str, Any], entry: Prepared) -> None:
    """Know ``variables`` by identity from now on (held while kept, so its id stays its own); the
    caller must not change it afterwards. Called with ``_PREPARED_LOCK`` held."""
    _SEEN[id(variables)] = (variables, entry)
    _SEEN.move_to_end(id(variables))
    while len(_SEEN) > _SEEN_SIZE:
        _SEEN.popitem(last=False)


def is_prepared(template: Any) -> bool:
    """Whether :func:`prepare` has nothing left to do for ``template`` (known by identity: the
    same object was prepared before), so a caller may skip handing it to a thread."""
    variables = template.get("variables") if isinstance(template, dict) else None
    if not variables or not isinstance(variables, dict):
        return True
    with _PREPARED_LOCK:
        seen = _SEEN.get(id(variables))
        return seen is not None and seen[0] is variables and seen[1].warmed


def prepare(template: Any) -> None:
    """Compute and keep now everything that checking values against ``template``'s ``variables``
    will need, so that a later check is quick (the server runs this off its event loop), and
    know the object from now on by its identity (:func:`is_prepared`): the caller must not change
    ``template`` afterwards."""
    variables = template.get("variables") if isinstance(template, dict) else None
    if variables and isinstance(variables, dict):
        entry = prepared(variables)
        entry.warm()
        with _PREPARED_LOCK:
            _remember(variables, entry)


# ------------------------------------------------------------------ job variables


_PER_PROPERTY_KEYWORDS = frozenset({
    "type", "properties", "patternProperties", "additionalProperties", "definitions", "$defs",
    "$schema", "$id", "$comment", "title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly",
})
"""Top-level keywords under which an object's properties are judged one by one: whether one
property's value passes never depends on which other properties are present."""


def _valid_defaults(variables: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The defaults that are valid on their own (Prefect drops the others), and whether any was
    dropped. Prefect validates ``{name: default}`` once per default, which costs the number of
    defaults times the number of properties; when the schema judges properties one by one
    (``_PER_PROPERTY_KEYWORDS``), one validation of all defaults together gives the same verdict
    (each error's path starts with the property it is about) in linear time."""
    schema = without_required(variables)
    defaults = {name: value for name, value in template_defaults(variables).items() if not _is_block_reference(value)}
    if set(schema) <= _PER_PROPERTY_KEYWORDS:
        failing: set[Any] | None = set()
        for error in _validator(schema, formats=True).iter_errors(defaults):
            if not error.path:
                failing = None
                break
            failing.add(error.path[0])
        if failing is not None:
            return {name: value for name, value in defaults.items() if name not in failing}, bool(failing)
    kept: dict[str, Any] = {}
    for name, value in defaults.items():
        if not _errors(schema, {name: value}, formats=True):
            kept[name] = value
    return kept, len(kept) != len(defaults)


def _passing(schema: dict[str, Any], values: dict[str, Any]) -> set[str] | None:
    """The names in ``values`` whose value passes ``schema`` (a schema judging properties one by
    one), from one validation of them all; None if an error is not about one property."""
    failing: set[Any] = set()
    for error in _validator(schema).iter_errors(values):
        if not error.path:
            return None
        failing.add(error.path[0])
    return {name for name in values if name not in failing}


def job_variables_errors(template: Any, *layers: Mapping[str, Any] | None, enforce_required: bool) -> list[Any] | Failure:
    """Every way the pool's valid defaults overlaid with ``layers`` (deployment, then flow run;
    top-level keys replace) fail the template's ``variables``: jsonschema errors, best match
    first. ``required`` is checked only with ``enforce_required`` and when no default was
    dropped as invalid. ``[]`` when the template has no ``variables``; a :class:`Failure` when
    ``variables`` cannot be used."""
    variables = template.get("variables") if isinstance(template, dict) else None
    if not variables or not isinstance(variables, dict):
        return []
    known = prepared(variables)
    problem = known.schema_problem
    if problem is not None:
        return Failure(problem, problem[len("Invalid schema: "):], invalid_schema=True)
    try:
        kept, dropped = known.valid_defaults
        merged = dict(kept)
        for layer in layers:
            if isinstance(layer, Mapping):
                merged.update(layer)
        strict = enforce_required and not dropped
        if known.surely_passes(strict, kept, merged):
            return []
        errors = _errors(known.job_schema if strict else known.job_schema_without_required, merged)
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
        errors = _errors(prepared(variables).patch_schema, dict(job_variables), formats=True)
    except Exception as exc:
        return _unusable(exc)
    return Failure(field_message(errors[0]), errors[0].message) if errors else None
