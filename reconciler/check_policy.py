"""Check the repository's policy rules against the planned state: violations as diagnostics.

Owns: what a rule sees (:func:`documents`: the planned, normalized pool, queue and config
documents, with the source range of each object), whether a rule itself is usable
(:func:`rule_problems`: a valid Draft 2020-12 schema, only local ``$ref``s, RE2 patterns,
within :data:`MAX_SCHEMA_DEPTH` and :data:`MAX_SCHEMA_NODES`) and :func:`check_policy`: one
diagnostic per rule and object that breaks it, at the object's file:line, coded
``policy_violation``; a rule that cannot be evaluated is an ``invalid_policy`` error, never
skipped.

Patterns (``pattern``, ``patternProperties``) run on RE2 (google-re2), whose matching time is
linear in the input: a rule cannot hang a plan with catastrophic backtracking. ``$ref`` is
resolved inside the rule's schema only (an empty ``referencing`` registry, after
:func:`rule_problems` refused every other reference): nothing is fetched.

Must not: do I/O (no files, no network, no clock), print, or import the CLI, the API client or
the server. Reading rule files is ``reconciler.config.policy``.
"""

from __future__ import annotations

import functools
from typing import Any, Iterator, Sequence

from reconciler.diagnostics import Code, Diagnostics, SourceRange
from reconciler.model.policy import Rule
from reconciler.model.state import UNMANAGED, DesiredState, pool_address, queue_address

MAX_SCHEMA_DEPTH = 32
"""The deepest nesting of a rule's schema (mappings and lists)."""
MAX_SCHEMA_NODES = 10_000
"""Values (mappings, lists, scalars) in one rule's schema."""
MAX_PATTERN_MEMORY = 8 << 20
"""Bytes RE2 may use to compile one pattern (its default); a larger pattern is a bad rule."""

_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_ONE = ("not", "if", "then", "else", "contains", "additionalProperties", "propertyNames", "items",
               "unevaluatedItems", "unevaluatedProperties", "additionalItems", "contentSchema")
_REFS = ("$ref", "$dynamicRef", "$recursiveRef")


# ----------------------------------------------------------------------------- documents

def _pool_document(pool: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": pool.name, "type": pool.type, "description": pool.description,
                           "paused": pool.paused, "concurrency_limit": pool.concurrency_limit}
    if pool.base_job_template is not UNMANAGED:
        doc["base_job_template"] = pool.base_job_template
    doc["queues"] = {name: _queue_document(queue) for name, queue in pool.queues.items()}
    return doc


def _queue_document(queue: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"pool": queue.pool, "name": queue.name, "description": queue.description,
                           "paused": queue.paused, "concurrency_limit": queue.concurrency_limit}
    if queue.priority is not UNMANAGED:
        doc["priority"] = queue.priority
    return doc


def config_document(state: DesiredState, environment: str | None) -> dict[str, Any]:
    """What a ``config`` rule sees: ``{environment, manage: {prune, scope}, work_pools: {name: pool}}``."""
    return {"environment": environment, "manage": {"prune": state.prune, "scope": list(state.scope)},
            "work_pools": {name: _pool_document(pool) for name, pool in state.pools.items()}}


def documents(state: DesiredState, target: str, environment: str | None) -> Iterator[tuple[str | None, Any, Any]]:
    """``(address, document, object)`` for every object a rule of ``target`` checks, in
    declaration order; ``object`` is the DesiredPool/DesiredQueue (None for ``config``)."""
    if target == "config":
        yield None, config_document(state, environment), None
    elif target == "pool":
        for pool in state.pools.values():
            yield pool_address(pool.name), _pool_document(pool), pool
    elif target == "queue":
        for pool in state.pools.values():
            for queue in pool.queues.values():
                yield queue_address(pool.name, queue.name), _queue_document(queue), queue


# ----------------------------------------------------------------------------- rules

def _re2_options() -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False  # RE2 would print its own message on stderr; ours says where
    options.max_mem = MAX_PATTERN_MEMORY
    return options


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    import re2

    return re2.compile(pattern, options=_re2_options())


def pattern_problem(pattern: str) -> str | None:
    """Why RE2 cannot run ``pattern`` (lookarounds, backreferences, too large), or None."""
    try:
        _compiled(pattern)
    except Exception as exc:  # noqa: BLE001 - re2.error carries RE2's reason as bytes
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        return str(reason)
    return None


def _walk(schema: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Every subschema (mapping) of ``schema`` with its path, keyword by keyword (values of
    ``const``, ``enum``, ``default`` and ``examples`` are data, not schemas)."""
    if not isinstance(schema, dict):
        return
    yield path, schema
    for key in _SCHEMA_MAPS:
        if isinstance(schema.get(key), dict):
            for name, sub in schema[key].items():
                yield from _walk(sub, path + (key, name))
    for key in _SCHEMA_LISTS:
        if isinstance(schema.get(key), list):
            for i, sub in enumerate(schema[key]):
                yield from _walk(sub, path + (key, i))
    for key in _SCHEMA_ONE:
        if key in schema:
            yield from _walk(schema[key], path + (key,))


def _measure(value: Any) -> tuple[int, int]:
    """(depth, nodes) of a JSON value, without recursion, stopping once over the bounds."""
    depth, nodes = 0, 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        nodes += 1
        depth = max(depth, level)
        if depth > MAX_SCHEMA_DEPTH or nodes > MAX_SCHEMA_NODES:
            break
        if isinstance(node, dict):
            stack.extend((v, level + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, level + 1) for v in node)
    return depth, nodes


def _pointer_target(schema: Any, ref: str) -> bool:
    """Whether a local reference ``#`` or ``#/a/b`` names a value of ``schema``."""
    from urllib.parse import unquote

    pointer = unquote(ref[1:])
    if pointer == "":
        return True
    if not pointer.startswith("/"):
        return False  # "#name" anchors: only $anchor, which is refused with $id
    node = schema
    for part in pointer[1:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def rule_problems(schema: Any) -> list[tuple[tuple[Any, ...], str, str]]:
    """Why a rule's schema cannot be used: ``(path in the schema, summary, detail)``; empty when it can."""
    depth, nodes = _measure(schema)
    if depth > MAX_SCHEMA_DEPTH:
        return [((), f"the rule's schema is nested too deeply (over {MAX_SCHEMA_DEPTH} levels)",
                 "Flatten it; a rule checks one object, whose own nesting is bounded too.")]
    if nodes > MAX_SCHEMA_NODES:
        return [((), f"the rule's schema is too large (over {MAX_SCHEMA_NODES:,} values)", "Split it into several rules.")]
    if not isinstance(schema, dict):
        return [((), "the rule's schema must be a mapping", "Write a JSON Schema object, e.g. {required: [name]}.")]
    problems: list[tuple[tuple[Any, ...], str, str]] = []
    dialect = schema.get("$schema")
    if dialect is not None and str(dialect).rstrip("#") != _SCHEMA_DIALECT:
        problems.append((("$schema",), f"unsupported $schema {dialect!r}",
                         f"Rules are JSON Schema Draft 2020-12: leave $schema out or write {_SCHEMA_DIALECT}."))
    for path, sub in _walk(schema):
        for key in ("$id", "$anchor", "$dynamicAnchor"):
            if key in sub:
                problems.append((path + (key,), f"{key} is not allowed in a rule's schema",
                                 "Refer to parts of the schema with a local JSON pointer ($ref: '#/$defs/NAME')."))
        for key in _REFS:
            ref = sub.get(key)
            if ref is None:
                continue
            if not isinstance(ref, str) or not ref.startswith("#"):
                problems.append((path + (key,), f"{key} {ref!r} refers outside the rule's schema",
                                 "Only local references ('#/$defs/NAME') are resolved; nothing is fetched. Copy the "
                                 "schema you need under $defs."))
            elif not _pointer_target(schema, ref):
                problems.append((path + (key,), f"{key} {ref!r} names nothing in the rule's schema",
                                 "Point it at a part of this schema, e.g. '#/$defs/NAME'."))
        pattern = sub.get("pattern")
        if isinstance(pattern, str) and (reason := pattern_problem(pattern)) is not None:
            problems.append((path + ("pattern",), f"the pattern {pattern!r} cannot be used: {reason}",
                             "Patterns run on RE2 (linear time): no lookarounds or backreferences. Express a "
                             "negative condition with `not: {pattern: ...}`."))
        if isinstance(sub.get("patternProperties"), dict):
            for key in sub["patternProperties"]:
                if (reason := pattern_problem(str(key))) is not None:
                    problems.append((path + ("patternProperties", key), f"the pattern {key!r} cannot be used: {reason}",
                                     "Patterns run on RE2 (linear time): no lookarounds or backreferences."))
    if problems:
        return problems
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    error = best_match(Draft202012Validator(Draft202012Validator.META_SCHEMA).iter_errors(schema))
    if error is not None:
        return [(tuple(error.absolute_path), f"the rule's schema is not a valid JSON Schema: {error.message}",
                 "Rules are JSON Schema Draft 2020-12 (json-schema.org).")]
    return []


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not _compiled(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: dict[str, Any], instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        compiled = _compiled(pattern)
        for key, value in instance.items():
            if compiled.search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


@functools.lru_cache(maxsize=1)
def _validator_class() -> Any:
    from jsonschema import Draft202012Validator, validators

    return validators.extend(Draft202012Validator, {"pattern": _pattern, "patternProperties": _pattern_properties})


def _validator(schema: dict[str, Any]) -> Any:
    from referencing import Registry

    return _validator_class()(schema, registry=Registry())  # empty: nothing outside the schema resolves, or is fetched


# ----------------------------------------------------------------------------- check

def _where(rule_target: str, obj: Any, state: DesiredState, path: Sequence[Any]) -> tuple[str | None, SourceRange | None]:
    """The address and source range a violation points at: the object's (for ``config``, the pool or
    ``manage`` the failing path is under, else the configuration's first file)."""
    if rule_target == "config":
        if len(path) >= 2 and path[0] == "work_pools" and path[1] in state.pools:
            pool = state.pools[path[1]]
            if len(path) >= 4 and path[2] == "queues" and path[3] in pool.queues:
                queue = pool.queues[path[3]]
                return queue.address, queue.source
            return pool.address, pool.source
        return None, state.manage_source if path[:1] == ("manage",) and state.manage_source else state.source
    if rule_target == "pool" and path[:1] == ("base_job_template",) and obj.template_source is not None:
        return obj.address, obj.template_source
    if rule_target == "pool" and len(path) >= 2 and path[0] == "queues" and path[1] in obj.queues:
        queue = obj.queues[path[1]]
        return queue.address, queue.source
    return obj.address, obj.source


def _named_key(document: Any, path: tuple[Any, ...], error: Any) -> tuple[Any, ...]:
    """A failing key (``propertyNames``) is reported at the mapping; point at the key's own value."""
    if "propertyNames" in error.relative_schema_path or "propertyNames" in error.schema_path:
        node = document
        for part in path:
            node = node[part] if isinstance(node, (dict, list)) else None
        if isinstance(node, dict) and isinstance(error.instance, str) and error.instance in node:
            return path + (error.instance,)
    return path


def _json_path(path: Sequence[Any]) -> str:
    """``base_job_template.variables.properties.image.default``, ``scope[0]``; the whole object: ``(the object)``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(the object)"


MAX_SHOWN = 80
"""Characters of a value shown in a violation's detail (a pool's whole document could be quoted)."""


def _message(error: Any) -> str:
    """jsonschema's message with the failing value as JSON (``null``, ``"x"``), cut to :data:`MAX_SHOWN`."""
    import json

    message = str(error.message)
    shown = json.dumps(error.instance, ensure_ascii=False, default=str)
    if len(shown) > MAX_SHOWN:
        shown = shown[:MAX_SHOWN - 1] + "…"
    instance = repr(error.instance)
    if instance in message:
        message = message.replace(instance, shown, 1)
    return message if len(message) <= 4 * MAX_SHOWN else message[:4 * MAX_SHOWN - 1] + "…"


def check_policy(state: DesiredState, rules: Sequence[Rule], environment: str | None = None) -> Diagnostics:
    """Every violation of ``rules`` by the planned ``state`` in ``environment`` (None: no ``--env``):
    one diagnostic per rule and object, an error or a warning as the rule says, at the object's
    source, in the order of those sources. A rule that cannot be evaluated is an error at the rule. Rules whose ``environments``
    do not include ``environment`` are not evaluated."""
    from jsonschema.exceptions import best_match
    from referencing.exceptions import Unresolvable

    diags = Diagnostics()
    for rule in rules:
        if not rule.applies_in(environment):
            continue
        validator = _validator(rule.schema)
        for address, document, obj in documents(state, rule.target, environment):
            try:
                errors = list(validator.iter_errors(document))
            except (RecursionError, Unresolvable) as exc:
                diags.error(f"policy rule {rule.id!r} cannot be evaluated: {type(exc).__name__}",
                            "Its schema refers to itself without descending into the object, or to something "
                            "that does not resolve. Fix the rule.", range=rule.where, code=Code.INVALID_POLICY)
                break
            if not errors:
                continue
            error = best_match(errors)
            path = _named_key(document, tuple(error.absolute_path), error)
            at_address, where = _where(rule.target, obj, state, path)
            more = len(errors) - 1
            detail = f"{_json_path(path)}: {_message(error)}."
            if more:
                detail += f" ({more} more failure{'s' if more != 1 else ''} of this rule here.)"
            if rule.description:
                detail += f" {rule.description}"
            detail += f" Rule {rule.id!r}" + (f" at {rule.where}" if rule.where else "") + "."
            add = diags.error if rule.severity == "error" else diags.warning
            add(f"policy {rule.id}: {rule.message}", detail, address=at_address or address, range=where,
                path=path, code=Code.POLICY_VIOLATION)
    diags.items.sort(key=lambda d: (d.range is not None, d.range.filename if d.range else "",
                                    d.range.start.line if d.range else 0, d.range.start.column if d.range else 0))
    return diags
