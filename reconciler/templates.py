"""Base job template rules (prefect-api.md §5), the one copy shared by config
validation, the planner, ``poolform render`` and the Terraform provider.

Owns: placeholder syntax, the server's structure/placeholder/schema/default
checks (:func:`check_template`), job-variable validation against a pool's
``variables`` (:func:`validate_job_variables`), the worker's rendering of a
job configuration (:func:`render_job_configuration`) and bundled default
templates (:func:`default_template`). Pure: no I/O except reading bundled
package data; nothing here prints.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

PLACEHOLDER_RE = re.compile(r"{{\s*([\w\.\-\[\]$]+)\s*}}")

_BLOCK_PREFIX = "prefect.blocks."
_VARIABLE_PREFIX = "prefect.variables."

_STRUCTURE_MESSAGE = "The `base_job_template` must contain both a `job_configuration` key and a `variables` key."


@dataclass(frozen=True)
class TemplateProblem:
    """One problem with a template; ``path`` is relative to the template's root."""

    path: tuple[str | int, ...]
    summary: str
    detail: str = ""
    severity: str = "error"


def _walk_strings(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                yield path + (key,), key
            yield from _walk_strings(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk_strings(item, path + (index,))


def _placeholder_sites(job_configuration: Mapping[str, Any]) -> dict[str, tuple[str | int, ...]]:
    """Placeholder name -> path of its first occurrence (as the server scans: each top-level value)."""
    found: dict[str, tuple[str | int, ...]] = {}
    for key, value in job_configuration.items():
        for path, text in _walk_strings(value, (key,)):
            if "{{" not in text:
                continue
            for name in PLACEHOLDER_RE.findall(text):
                found.setdefault(name, path)
    return found


def find_placeholders(job_configuration: Mapping[str, Any]) -> set[str]:
    """Every ``{{ name }}`` used in a job configuration, by whole name."""
    if not isinstance(job_configuration, Mapping):
        return set()
    return set(_placeholder_sites(job_configuration))


def unresolved_placeholders(value: Any) -> set[str]:
    """Placeholders a worker resolves against the server (``prefect.blocks.*``, ``prefect.variables.*``)."""
    names: set[str] = set()
    for _, text in _walk_strings(value):
        for name in PLACEHOLDER_RE.findall(text):
            if name.startswith((_BLOCK_PREFIX, _VARIABLE_PREFIX)):
                names.add(name)
    return names


def _undeclared_advice(name: str, properties: Mapping[str, Any]) -> str:
    if name.startswith("$"):
        return (f"Prefect's server refuses `{{{{ {name} }}}}` unless a variable named {name!r} is declared. "
                f"Declare a property {name!r} in variables.properties, or pass the value through `env`.")
    if name.startswith((_BLOCK_PREFIX, _VARIABLE_PREFIX)):
        return (f"Prefect's server checks the whole placeholder name, so `{{{{ {name} }}}}` needs a property named "
                f"{name!r}. Declare a variable (e.g. with the block or variable reference as its default) and use it instead.")
    root = re.split(r"[.\[]", name, maxsplit=1)[0]
    if root != name and root in properties:
        return (f"Prefect's server checks the whole placeholder name, so `{{{{ {name} }}}}` needs a property named "
                f"{name!r} even though {root!r} is declared. Use `{{{{ {root} }}}}` and set the nested value through "
                f"job variables, or declare a property named {name!r}.")
    return f"Add a property named {name!r} to variables.properties, or remove the placeholder."


@functools.lru_cache(maxsize=1)
def _meta_validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(Draft202012Validator.META_SCHEMA)


def _schema_problems(variables: dict[str, Any]) -> list[TemplateProblem]:
    problems = []
    seen: set[tuple[Any, ...]] = set()
    for error in sorted(_meta_validator().iter_errors(variables), key=lambda e: list(map(str, e.absolute_path))):
        path = tuple(error.absolute_path)
        if path in seen:
            continue
        seen.add(path)
        keyword = "/".join(str(p) for p in error.absolute_schema_path)
        problems.append(TemplateProblem(
            ("variables",) + path,
            f"variables is not a valid JSON Schema: {error.message}",
            f"Prefect validates `variables` against the Draft 2020-12 meta-schema (failing rule: {keyword}). "
            "Fix the schema at this path.",
        ))
    return problems


def _default_problems(variables: dict[str, Any], properties: Mapping[str, Any]) -> list[TemplateProblem]:
    from jsonschema import Draft202012Validator

    defaults = {name: prop["default"] for name, prop in properties.items()
                if isinstance(prop, dict) and "default" in prop}
    if not defaults:
        return []
    schema = {k: v for k, v in variables.items() if k != "required"}
    problems = []
    for error in Draft202012Validator(schema).iter_errors(defaults):
        if not error.absolute_path:
            continue
        name = error.absolute_path[0]
        problems.append(TemplateProblem(
            ("variables", "properties", name, "default"),
            f"the default of variable {name!r} does not match its schema: {error.message}",
            f"Prefect refuses the pool on create with \"Validation failed for field '{name}'\". "
            "Change the default or the property's schema.",
        ))
    return problems


def _at(value: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def _describe_float(value: float) -> str:
    return "NaN" if math.isnan(value) else ("-Infinity" if value < 0 else "Infinity")


def _non_finite(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    if isinstance(value, float) and not math.isfinite(value):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _non_finite(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _non_finite(item, path + (index,))


def _check_template(template: Any) -> list[TemplateProblem]:
    if not isinstance(template, dict):
        return [TemplateProblem((), "base_job_template must be a mapping",
                                "Write {job_configuration: {...}, variables: {...}}, or {} for no template.")]
    if not template:
        return []
    problems: list[TemplateProblem] = [
        TemplateProblem(path, f"{'.'.join(str(p) for p in path)} is {_describe_float(_at(template, path))}, which JSON cannot carry",
                        "The template is sent as JSON, which has no NaN or Infinity. Use a finite number, a string or null.")
        for path in _non_finite(template)
    ]
    job_configuration = template.get("job_configuration")
    variables = template.get("variables")
    if not job_configuration or not variables:
        missing = [k for k in ("job_configuration", "variables") if not template.get(k)]
        return [TemplateProblem(
            (), f"base_job_template needs a non-empty {' and '.join(missing)}",
            _STRUCTURE_MESSAGE + " Write both, or {} for no template.")]
    if not isinstance(job_configuration, dict):
        problems.append(TemplateProblem(("job_configuration",), "job_configuration must be a mapping",
                                        "It maps job settings to values that may contain {{ placeholders }}."))
    if not isinstance(variables, dict):
        problems.append(TemplateProblem(("variables",), "variables must be a JSON Schema object",
                                        'Write {type: object, properties: {...}}.'))
        return problems
    properties = variables.get("properties", {})
    if not isinstance(properties, dict):
        problems.append(TemplateProblem(("variables", "properties"), "variables.properties must be a mapping",
                                        "Map each variable name to its JSON Schema (Prefect's server answers 500 here)."))
        return problems
    if isinstance(job_configuration, dict):
        sites = _placeholder_sites(job_configuration)
        for name, path in sites.items():
            if name not in properties:
                problems.append(TemplateProblem(
                    ("job_configuration",) + path,
                    f"job_configuration uses undeclared variable(s): {name}",
                    _undeclared_advice(name, properties)))
        for name in properties:
            if name not in sites:
                problems.append(TemplateProblem(
                    ("variables", "properties", name),
                    f"variable {name!r} is declared but job_configuration never uses it",
                    f"Add `{{{{ {name} }}}}` where it belongs in job_configuration, or remove the property.",
                    severity="warning"))
    schema_problems = _schema_problems(variables)
    problems.extend(schema_problems)
    if not schema_problems:
        problems.extend(_default_problems(variables, properties))
    return problems


@functools.lru_cache(maxsize=256)
def _check_template_cached(canonical: str) -> tuple[TemplateProblem, ...]:
    return tuple(_check_template(json.loads(canonical)))


def check_template(template: Any) -> list[TemplateProblem]:
    """Every problem Prefect's server would refuse a template for (errors), plus lint warnings.

    ``{}`` is valid. Otherwise: ``job_configuration`` and ``variables`` are
    non-empty mappings; every placeholder is declared as a property by its whole
    name; ``variables`` is a valid Draft 2020-12 schema; every ``default`` is valid
    against its property (``required`` ignored). Warnings: declared variables that
    no placeholder uses.
    """
    try:
        canonical = json.dumps(template, sort_keys=True)
    except (TypeError, ValueError):
        return _check_template(template)
    return list(_check_template_cached(canonical))


def template_defaults(variables_schema: Mapping[str, Any]) -> dict[str, Any]:
    """The ``default`` of each property that has one (nulls included)."""
    properties = variables_schema.get("properties") if isinstance(variables_schema, Mapping) else None
    if not isinstance(properties, Mapping):
        return {}
    return {name: prop["default"] for name, prop in properties.items()
            if isinstance(prop, Mapping) and "default" in prop}


def _preprocess_schema(schema: dict[str, Any], *, allow_none_with_default: bool) -> dict[str, Any]:
    schema = copy.deepcopy(schema)
    required = set(schema.get("required") or ())
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name, prop in properties.items():
            if not isinstance(prop, dict):
                continue
            if "items" in prop and isinstance(prop["items"], list):
                prop["prefixItems"] = prop.pop("items")
            if name in required or "type" not in prop or "anyOf" in prop:
                continue
            if "default" in prop and not allow_none_with_default:
                continue
            kind = prop.pop("type")
            prop["anyOf"] = [{"type": kind}, {"type": "null"}]
    return schema


def validate_job_variables(
    variables_schema: dict[str, Any],
    job_variables: dict[str, Any],
    *,
    defaults: dict[str, Any] | None = None,
    enforce_required: bool = False,
) -> list[str]:
    """Messages for each way ``job_variables`` fail the pool's ``variables`` (prefect-api.md §5.3).

    Merge order: the schema's own defaults that are themselves valid, then
    ``defaults`` (if given), then ``job_variables`` (top-level replace).
    Non-required typed properties accept null. ``required`` is checked only with
    ``enforce_required``. An empty schema validates everything.
    """
    from jsonschema import Draft202012Validator, SchemaError

    if not variables_schema or not isinstance(variables_schema, dict):
        return []
    schema = _preprocess_schema(variables_schema, allow_none_with_default=True)
    if not enforce_required:
        schema.pop("required", None)
    try:
        validator = Draft202012Validator(schema)
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return [f"The pool's variables are not a valid JSON Schema: {exc.message}"]
    merged: dict[str, Any] = {}
    for name, value in template_defaults(variables_schema).items():
        if not any(True for _ in validator.iter_errors({name: value}) if _.absolute_path and _.absolute_path[0] == name):
            merged[name] = value
    merged.update(defaults or {})
    merged.update(job_variables or {})
    messages = []
    for error in sorted(validator.iter_errors(merged), key=lambda e: list(map(str, e.absolute_path))):
        if error.absolute_path:
            messages.append(f"Validation failed for field '{error.absolute_path[0]}'. Failure reason: {error.message}")
        else:
            messages.append(f"Validation failed. Failure reason: {error.message}")
    return messages


class _NotSet:
    pass


_NOTSET = _NotSet()


def _lookup(variables: Mapping[str, Any], name: str) -> Any:
    if name in variables:
        return variables[name]
    current: Any = variables
    for part in re.findall(r"[^.\[\]]+", name):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit() and -len(current) <= int(part) < len(current):
            current = current[int(part)]
        else:
            return _NOTSET
    return current


def _kind(name: str) -> str:
    if name.startswith(_BLOCK_PREFIX) or name.startswith(_VARIABLE_PREFIX):
        return "server"
    if name.startswith("$"):
        return "env"
    return "standard"


def _render_string(text: str, variables: Mapping[str, Any], environ: Mapping[str, str]) -> Any:
    matches = list(PLACEHOLDER_RE.finditer(text))
    if not matches:
        return text
    if len(matches) == 1 and matches[0].group(0) == text:
        name = matches[0].group(1)
        kind = _kind(name)
        if kind == "standard":
            return _lookup(variables, name)
        if kind == "env":
            return environ.get(name[1:], "")

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        kind = _kind(name)
        if kind == "server":
            return match.group(0)
        if kind == "env":
            return environ.get(name[1:], "")
        value = _lookup(variables, name)
        return "" if value is _NOTSET else str(value)

    return PLACEHOLDER_RE.sub(substitute, text)


def _apply_values(value: Any, variables: Mapping[str, Any], environ: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _render_string(value, variables, environ)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            rendered = _apply_values(item, variables, environ)
            if rendered is not _NOTSET:
                out[key] = rendered
        return out
    if isinstance(value, list):
        return [r for r in (_apply_values(i, variables, environ) for i in value) if r is not _NOTSET]
    return value


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _expand_dotted(values: Mapping[str, Any]) -> dict[str, Any]:
    plain = {k: v for k, v in values.items() if "." not in k}
    dotted: dict[str, Any] = {}
    for key, value in values.items():
        if "." not in key:
            continue
        parts = key.split(".")
        node = dotted
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value
    return _deep_merge(dotted, plain) if dotted else plain


def render_job_configuration(
    template: dict[str, Any],
    *,
    deployment_vars: dict[str, Any] | None = None,
    flow_run_vars: dict[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The job configuration a worker builds from ``template`` (prefect-api.md §5.4 steps 1-3).

    ``env`` follows Prefect 3.9.1's ``from_template_and_values`` to the letter: a non-empty
    ``env`` default is laid over a literal ``job_configuration.env`` mapping, or replaces
    whatever else stands there (a ``{{ env }}`` placeholder, or nothing); the job variables'
    ``env`` is then laid over that mapping key by key, so pool defaults survive unless overridden.

    ``{{ prefect.blocks.* }}`` and ``{{ prefect.variables.* }}`` are left as written:
    find them with :func:`unresolved_placeholders`.
    """
    job_configuration = copy.deepcopy(template.get("job_configuration") or {})
    variables_schema = template.get("variables") or {}
    variables = {k: v for k, v in template_defaults(variables_schema).items() if v is not None}
    default_env = variables.get("env")
    if default_env:
        if isinstance(job_configuration.get("env"), dict) and isinstance(default_env, dict):
            job_configuration["env"] = {**job_configuration["env"], **default_env}
        else:
            job_configuration["env"] = copy.deepcopy(default_env)
    deployment = _expand_dotted(deployment_vars or {})
    flow_run = _expand_dotted(flow_run_vars or {})
    values = {**deployment, **flow_run}
    if isinstance(deployment.get("env"), dict) and isinstance(flow_run.get("env"), dict):
        values["env"] = {**deployment["env"], **flow_run["env"]}
    variables.update(values)
    if isinstance(job_configuration.get("env"), dict) and isinstance(variables.get("env"), dict) and variables["env"]:
        job_configuration["env"] = {**job_configuration["env"], **variables["env"]}
    rendered = _apply_values(job_configuration, variables, environ or {})
    return rendered if isinstance(rendered, dict) else {}


_DEFAULT_TEMPLATE_FILES = {"process": "process-default-base-job-template.json"}


def default_template(worker_type: str) -> dict[str, Any] | None:
    """The default base job template for a worker type we bundle, or None."""
    filename = _DEFAULT_TEMPLATE_FILES.get(worker_type)
    if filename is None:
        return None
    return copy.deepcopy(_load_bundled(filename))


@functools.lru_cache(maxsize=None)
def _load_bundled(filename: str) -> dict[str, Any]:
    path = Path(__file__).parent / "data" / filename
    return json.loads(path.read_text(encoding="utf-8"))
