"""Base job template rules (prefect-api.md §5) for config validation, the planner,
``poolform render`` and the Terraform provider.

Owns: the reconciler's diagnostics for a template (:func:`check_template`: every problem
Prefect's server would refuse, with paths and advice, plus lint warnings), job-variable
validation against a pool's ``variables`` (:func:`validate_job_variables`), the worker's
rendering of a job configuration (:func:`render_job_configuration`) and bundled default
templates (:func:`default_template`). What the server accepts or refuses is decided in
:mod:`reconciler.template_rules`, the module the reference server shares; this one only words
it for people. Pure: no I/O except reading bundled package data; nothing here prints.
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

from reconciler import template_rules as rules
from reconciler.template_rules import PLACEHOLDER_RE, template_defaults

__all__ = [
    "PLACEHOLDER_RE", "TemplateProblem", "check_template", "find_placeholders", "unresolved_placeholders",
    "template_defaults", "validate_job_variables", "render_job_configuration", "default_template",
]

_BLOCK_PREFIX = "prefect.blocks."
_VARIABLE_PREFIX = "prefect.variables."

_STRUCTURE_MESSAGE = rules.STRUCTURE_MESSAGE


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


def find_placeholders(job_configuration: Mapping[str, Any]) -> set[str]:
    """Every ``{{ name }}`` the server finds in a job configuration, by whole name."""
    if not isinstance(job_configuration, Mapping):
        return set()
    return rules.placeholder_names(job_configuration)


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


def _schema_problems(variables: dict[str, Any]) -> list[TemplateProblem]:
    problems = []
    seen: set[tuple[Any, ...]] = set()
    for error in sorted(rules.schema_errors(variables), key=lambda e: list(map(str, e.absolute_path))):
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


def _default_problems(template: dict[str, Any]) -> list[TemplateProblem]:
    try:
        errors = rules.defaults_errors(template)
    except Exception as exc:  # a $ref that resolves nowhere
        return [TemplateProblem(("variables",), f"variables cannot be used to check the defaults: {exc}",
                                "Prefect refuses the pool on create. Make every $ref point inside the schema.")]
    problems = []
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        if error.absolute_path:
            name = error.absolute_path[0]
            path: tuple[str | int, ...] = ("variables", "properties", name, "default")
            summary = f"the default of variable {name!r} does not match its schema: {error.message}"
        else:
            path, summary = ("variables",), f"the defaults do not match the variables schema: {error.message}"
        problems.append(TemplateProblem(
            path, summary,
            f"Prefect refuses the pool on create with \"{rules.field_message(error)}\". "
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
    properties = variables.get("properties")
    if properties is None:
        properties = {}  # as the server treats it; the meta-schema check below refuses an explicit null
    if not isinstance(properties, dict):
        problems.append(TemplateProblem(("variables", "properties"), "variables.properties must be a mapping",
                                        "Map each variable name to its JSON Schema (Prefect's server answers 500 here)."))
        return problems
    if isinstance(job_configuration, dict):
        sites = rules.placeholder_sites(job_configuration)
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
        problems.extend(_default_problems(template))
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


def validate_job_variables(
    variables_schema: dict[str, Any],
    job_variables: dict[str, Any],
    *,
    defaults: dict[str, Any] | None = None,
    enforce_required: bool = False,
) -> list[str]:
    """Messages for each way ``job_variables`` fail the pool's ``variables`` (prefect-api.md §5.3),
    the one Prefect's server reports first, in its words.

    Merge order: the schema's own defaults that are themselves valid, then
    ``defaults`` (if given), then ``job_variables`` (top-level replace).
    Non-required typed properties accept null. ``required`` is checked only with
    ``enforce_required`` (and not when a default was invalid). An empty schema validates everything.
    """
    if not variables_schema or not isinstance(variables_schema, dict):
        return []
    result = rules.job_variables_errors({"variables": variables_schema}, defaults, job_variables,
                                        enforce_required=enforce_required)
    if isinstance(result, rules.Failure):
        if result.invalid_schema:
            return [f"The pool's variables are not a valid JSON Schema: {result.reason}"]
        return [result.message]
    return [rules.field_message(error) for error in result]


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
