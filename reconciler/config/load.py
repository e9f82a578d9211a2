"""Config files -> :class:`DesiredState` plus diagnostics, offline.

Owns: expanding ``-f`` paths (files and directories) and, without ``-f``, finding the
poolform configs of the working directory (:func:`is_poolform_config`); reading YAML/JSON
and HCL files under the read policy of :mod:`reconciler.config.files` (the configuration's
root, ``--allow-read``); merging overlays (later file wins, mappings deep-merged); checking
the document (unknown keys with did-you-mean, types, bounds, names, reserved ``prefect*``
pools, duplicate priorities, limits); resolving ``{file: ...}`` relative to the file that
names it and named templates with their defaults; checking every template with
:func:`reconciler.templates.check_template` and against :data:`MAX_TEMPLATE_BYTES` and
:data:`MAX_TEMPLATE_DEPTH`; and filling the server's create defaults. Every input is
accounted for: a path that cannot be read is an error, never skipped. Every problem is
reported, all together, with file:line:column, the address and a code. No network, no
printing.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

from reconciler.config.files import (
    ReadPolicy,
    current_policy,
    did_you_mean,
    ignored_name,
    read_policy,
    read_text,
)
from reconciler.config.environments import SECRET_KEYS, read_environments, secret_key_problem
from reconciler.config.policy import read_rules
from reconciler.config.source import RawDoc, merge
from reconciler.config.var_files import VarValue
from reconciler.config.yaml_source import parse_yaml_text, top_level_keys
from reconciler.diagnostics import Code, Diagnostics, Pos, SourceRange
from reconciler.model import rules
from reconciler.model.rules import (  # noqa: F401 - the template bounds, re-exported for the docs and tests
    MAX_TEMPLATE_BYTES,
    MAX_TEMPLATE_DEPTH,
    measure_template,
    template_bounds_problem,
)
from reconciler.model.state import (
    DEFAULT_POOL_TYPE,
    DEFAULT_QUEUE,
    UNMANAGED,
    DesiredPool,
    DesiredQueue,
    DesiredState,
    pool_address,
    queue_address,
)

DEFAULT_QUEUE_DESCRIPTION = "The work pool's default queue."
CONFIG_SUFFIXES = (".yaml", ".yml", ".tf")
REFUSED_SUFFIXES = (".tf.json",)
"""Found in a directory and refused at the file (Terraform's JSON syntax; see ``hcl_source.refused_terraform_file``)."""

CLAIM_KEYS = ("work_pools", "base_job_templates", "manage", "environments", "policy")
"""Top-level keys that make a YAML file found without ``-f`` a poolform config (``version`` is
shared with compose, readthedocs and other files, so it does not count)."""
CLAIM_CUTOFF = 0.8
"""A key this close to one of CLAIM_KEYS (a typo such as ``work_pool``) claims the file too."""
_MODELINE = re.compile(r"#\s*(?:yaml-language-server:\s*)?\$schema[=:]\s*\S*(?:poolform|provider-schema/config\.schema\.json)")

_TEMPLATE_TAGS = ("inline", "file", "template")


def address_of(path: Sequence[Any]) -> str | None:
    """The address a document path belongs to (``work_pool.x``, ``work_queue.x.q``), if any."""
    if len(path) >= 2 and path[0] == "work_pools":
        if len(path) >= 4 and path[2] == "queues":
            return queue_address(str(path[1]), str(path[3]))
        return pool_address(str(path[1]))
    return None


def _scan(directory: str, diags: Diagnostics) -> list[str] | None:
    """The config-suffixed entries of a directory, sorted by name, whatever they are (a dangling
    symlink is listed, and reading it reports it); None when the directory cannot be listed."""
    try:
        with os.scandir(directory) as entries:
            names = sorted(e.name for e in entries if (os.path.splitext(e.name)[1] in CONFIG_SUFFIXES
                                                       or e.name.endswith(REFUSED_SUFFIXES))
                           and not ignored_name(e.name))
    except OSError as exc:
        diags.error(f"cannot read the directory {directory}: {exc.strerror or exc}",
                    "poolform must read every config file of a directory it is given; fix its permissions.",
                    code=Code.UNREADABLE_INPUT)
        return None
    _refuse_json_configs(directory, diags)
    return [os.path.normpath(os.path.join(directory, name)) for name in names]


def _refuse_json_configs(directory: str, diags: Diagnostics) -> None:
    """A ``*.json`` file of a directory that is a poolform config (a JSON object with a key of
    :data:`CLAIM_KEYS`) is refused at the file: a directory gives its YAML and ``.tf`` files, so it
    would be skipped, and its pools missing from the plan. Other JSON (templates, ``.tfvars.json``,
    tool settings, JSON that does not parse) is not configuration. Named with ``-f``, such a file is read."""
    import json

    try:
        names = sorted(n for n in os.listdir(directory)
                       if n.endswith(".json") and not n.endswith((".tf.json", ".tfvars.json")) and not ignored_name(n))
    except OSError:
        return
    for name in names:
        path = os.path.normpath(os.path.join(directory, name))
        if not os.path.isfile(path):
            continue
        local = Diagnostics()
        text = read_text(path, local)
        if text is None:
            continue  # unreadable JSON cannot be shown to be a config: a template {file:} names is read and reported then
        try:
            data = json.loads(text)
        except ValueError:
            continue
        if isinstance(data, dict) and any(key in CLAIM_KEYS for key in data):
            yaml_name = os.path.splitext(name)[0] + ".yaml"
            diags.error(f"{path}: a poolform config in JSON is not read from a directory",
                        f"A directory given with -f (or the working directory) gives its *.yaml, *.yml and *.tf files; "
                        f"this file declares {', '.join(k for k in CLAIM_KEYS if k in data)} and would be skipped. "
                        f"Rename it to {yaml_name} (JSON is YAML), or name it with -f.",
                        range=SourceRange(path, Pos(1, 1)))


def expand_paths(paths: Sequence[str], diags: Diagnostics) -> list[str]:
    """Files named by ``-f`` arguments, in order: a directory gives its ``*.yaml``, ``*.yml``, ``*.tf`` (and
    ``*.tf.json``, which :func:`load_documents` refuses)
    sorted by name (not recursive; hidden and backup files passed over, see :func:`ignored_name`).
    Whatever cannot be listed or reached is an error here or when it is read."""
    files: list[str] = []
    for raw in paths:
        if os.path.isdir(raw):
            found = _scan(raw, diags)
            if found is None:
                continue
            if not found:
                diags.error(f"no config files in {raw}",
                            "A directory given with -f must hold *.yaml, *.yml or *.tf files (it is not searched "
                            "recursively).", code=Code.NO_CONFIGURATION)
            files.extend(found)
        elif os.path.lexists(raw):
            files.append(raw)
        else:
            parent = os.path.dirname(raw) or "."
            hint = ""
            if os.path.isdir(parent):
                try:
                    hint = did_you_mean(os.path.basename(raw), os.listdir(parent))
                except OSError:
                    hint = ""
            diags.error(f"config file not found: {raw}", f"Check the path given with -f.{hint}",
                        code=Code.UNREADABLE_INPUT)
    return files


def is_poolform_config(data: Any, text: str) -> bool:
    """Whether a YAML file found without ``-f`` is poolform's: its top level is a mapping with a key of
    :data:`CLAIM_KEYS` or one close to it (a typo must not make a config pass for someone else's file),
    or its first lines hold a ``$schema`` modeline naming poolform's schema."""
    if _MODELINE.search(text[:4096]):
        return True
    if not isinstance(data, dict):
        return False
    for key in data:
        if not isinstance(key, str):
            continue
        norm = key.lower().replace("-", "_")
        if norm in CLAIM_KEYS or difflib.get_close_matches(norm, CLAIM_KEYS, n=1, cutoff=CLAIM_CUTOFF):
            return True
    return False


def _discovered_yaml(name: str, text: str, diags: Diagnostics, foreign: list[str]) -> RawDoc | None:
    """A YAML file found without ``-f``: its document if it is a poolform config; None (listed in
    ``foreign``) when it parses and is not one; None with its errors when it cannot be parsed,
    since a file that cannot be read cannot be shown to be someone else's."""
    local = Diagnostics()
    doc = parse_yaml_text(text, name, local)
    if doc is None:
        keys = top_level_keys(text)  # a stream of several documents (Kubernetes manifests) parses here
        if keys is not None and len(keys) > 1 and not any(
                is_poolform_config(dict.fromkeys(k) if k is not None else None, text) for k in keys):
            foreign.append(name)
            return None
        diags.append(local)
        return None
    if not is_poolform_config(doc.data, text):
        foreign.append(name)
        return None
    diags.append(local)
    return doc


def load_documents(
    paths: Sequence[str],
    diags: Diagnostics,
    *,
    variables: Mapping[str, "str | VarValue"] | None = None,
    env: Mapping[str, str] | None = None,
    overlays: Sequence[str] = (),
) -> list[RawDoc]:
    """Read every file ``paths`` name into documents, in merge order (``.tf`` files of one directory
    form one module, read together where the first of them stands). No ``paths``: the poolform
    configs of the working directory (YAML files that :func:`is_poolform_config` claims; ``*.tf``).
    ``overlays`` (an environment's files) are read after them, as more ``-f`` paths."""
    discover = not paths
    files = expand_paths(list(paths) or ["."], diags)
    discovered = set(files) if discover else set()
    if overlays:
        extra = expand_paths(list(overlays), diags)
        for name in sorted(set(extra) & set(files)):
            diags.warning(f"{name} is an environment's overlay and also part of the base configuration",
                          "It is in a directory the base configuration is read from (a -f directory, or the working "
                          "directory without -f), so it is merged into every environment, and without --env too. "
                          "Keep overlays in a directory of their own (for example env/).",
                          range=SourceRange(name, Pos(1, 1)))
        files = [f for f in files if f not in set(extra)] + extra
        discovered -= set(extra)
    env = os.environ if env is None else env
    modules: dict[str, list[str]] = {}
    order: list[tuple[str, str]] = []
    from reconciler.config.hcl_source import refused_terraform_file

    for filename in files:
        refused = refused_terraform_file(filename)
        if refused is not None:
            diags.error(*refused, range=SourceRange(filename, Pos(1, 1)))
            continue
        if filename.endswith(".tf"):
            directory = os.path.dirname(filename) or "."
            if directory not in modules:
                modules[directory] = []
                order.append(("hcl", directory))
            if filename not in modules[directory]:
                modules[directory].append(filename)
        else:
            order.append(("yaml", filename))
    docs: list[RawDoc] = []
    foreign: list[str] = []
    used_vars: set[str] = set()
    for kind, name in order:
        if kind == "hcl":
            from reconciler.config.hcl_source import load_module

            doc = load_module(modules[name], diags, variables=variables or {}, env=env, used=used_vars,
                              roots=list(current_policy().roots))  # local modules: the same root, --allow-read too
        else:
            text = read_text(name, diags)
            if text is None:
                doc = None
            elif name in discovered:
                doc = _discovered_yaml(name, text, diags, foreign)
            else:
                doc = parse_yaml_text(text, name, diags)
        if doc is None:
            continue
        if not isinstance(doc.data, dict):
            diags.error("the top level of a config file must be a mapping",
                        "Start with `version: 1` and `work_pools:`.", range=doc.where(()))
            continue
        docs.append(doc)
    with_provider = [d for d in docs if d.provider is not None]
    for doc in with_provider[1:]:
        first, block = with_provider[0].provider["__block__"], doc.provider["__block__"]
        diags.error("two provider \"prefect\" blocks in the configuration",
                    f"The first is at {first[1]}:{first[2]}. poolform plans against one Prefect server: keep one "
                    "provider block (in one of the directories given with -f).",
                    range=SourceRange(block[1], Pos(block[2], block[3])))
    if discover and not docs and not diags.has_errors:
        seen = f" It holds {', '.join(foreign)}, but none of them is one." if foreign else ""
        diags.error("no poolform config in the current directory",
                    "Without -f, poolform reads the *.tf files and the YAML files with a work_pools, "
                    f"base_job_templates or manage key of the current directory.{seen} Name config files or "
                    "directories with -f.", code=Code.NO_CONFIGURATION)
    for name in sorted(set(variables or {}) - used_vars):
        given = (variables or {})[name]
        if isinstance(given, VarValue):
            diags.warning(f"{given.origin.filename} sets {name!r}, but no .tf file declares variable \"{name}\"",
                          "Variables apply to HCL (.tf) configs only.", range=given.origin)
            continue
        diags.warning(f"--var {name} is not used: no .tf file declares variable \"{name}\"",
                      "Variables apply to HCL (.tf) configs only.")
    return docs


def load(
    paths: Sequence[str],
    *,
    variables: Mapping[str, "str | VarValue"] | None = None,
    env: Mapping[str, str] | None = None,
    allow_unknown_types: bool = False,
    allow_read: Sequence[str] = (),
    overlays: Sequence[str] = (),
) -> tuple[DesiredState | None, Diagnostics]:
    """Read, merge and check config files (none: the poolform configs of the working directory).
    The state is None when there is any error.

    Files are read only inside the configuration's root (the ``-f`` paths' directories and the
    working directory) and ``allow_read``. ``allow_unknown_types``: a pool ``type`` that is no
    known worker type is accepted (custom workers) instead of being an error. ``overlays``: an
    environment's files, read after ``paths`` (see :mod:`reconciler.config.environments`).
    """
    diags = Diagnostics()
    with read_policy(ReadPolicy.for_config([*paths, *overlays], allow_read)):
        docs = load_documents(paths, diags, variables=variables, env=env, overlays=overlays)
        if not docs:
            if not diags.has_errors:
                diags.error("no configuration", "Pass config files or directories with -f.",
                            code=Code.NO_CONFIGURATION)
            state = None
        else:
            state = build_state(merge(docs), diags, allow_unknown_types=allow_unknown_types)
            state.policy = read_rules(docs, diags)  # file by file: an overlay adds rules, never removes one
    diags.items = [replace(d, code=Code.INVALID_CONFIG) if d.code is None and d.severity == "error" else d
                   for d in diags.items]
    diags.items.sort(key=_position_key)
    return (None if diags.has_errors else state), diags


def _position_key(diagnostic: Any) -> tuple[Any, ...]:
    where = diagnostic.range
    if where is None:
        return (0, "", 0, 0)
    return (1, where.filename, where.start.line, where.start.column)


# --------------------------------------------------------------------------- document checks

_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "bool_type": "a boolean (true or false)",
    "bool_parsing": "a boolean (true or false)",
    "string_type": "a string",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "union_tag_not_found": "a mapping",
    "union_tag_invalid": "a mapping",
}


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _allowed_keys(path: tuple[Any, ...], data: Any, model: Any = None) -> tuple[str, ...]:
    from reconciler.model.document import (
        ENVIRONMENT_KEYS,
        MANAGE_KEYS,
        POLICY_KEYS,
        RULE_KEYS,
        POOL_KEYS,
        QUEUE_KEYS,
        TEMPLATE_FORM_KEYS,
        TOP_KEYS,
        template_form,
    )

    if not path:
        return TOP_KEYS if model is None else tuple(f.alias or n for n, f in model.model_fields.items())
    if path == ("manage",):
        return MANAGE_KEYS
    if len(path) == 2 and path[0] == "environments":
        return ENVIRONMENT_KEYS
    if path == ("policy",):
        return POLICY_KEYS
    if len(path) >= 2 and path[-2] == "rules" and path[:-2] in ((), ("policy",)) and isinstance(path[-1], int):
        return RULE_KEYS
    if len(path) == 2 and path[0] == "work_pools":
        return POOL_KEYS
    if len(path) == 4 and path[0] == "work_pools" and path[2] == "queues":
        return QUEUE_KEYS
    if (len(path) == 3 and path[0] == "work_pools" and path[2] == "base_job_template") or (
            len(path) == 2 and path[0] == "base_job_templates"):
        node = _get(data, path)
        form = template_form(node) or "inline"
        if path[0] == "base_job_templates" and form == "template":
            form = "inline"
        return TEMPLATE_FORM_KEYS[form]
    return ()


def _get(data: Any, path: Sequence[Any]) -> Any:
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def _data_path(loc: Sequence[Any]) -> tuple[Any, ...]:
    path: list[Any] = []
    tag_skipped = False
    for element in loc:
        at_template = (len(path) == 3 and path[0] == "work_pools" and path[2] == "base_job_template") or (
            len(path) == 2 and path[0] == "base_job_templates")
        if at_template and element in _TEMPLATE_TAGS and not tag_skipped:
            tag_skipped = True
            continue
        path.append(element)
    return tuple(path)


def _structure_diagnostics(doc: RawDoc, diags: Diagnostics, *, model: Any = None,
                           at: tuple[Any, ...] = ()) -> set[tuple[Any, ...]]:
    """Check the merged document against the format; returns the paths that have errors.
    ``model``: check the value at ``at`` against that model instead (a config file's ``policy``,
    a rule file: ``reconciler.config.policy``, which reads ``policy`` file by file)."""
    from pydantic import ValidationError

    from reconciler.model.document import ConfigDocument

    bad: set[tuple[Any, ...]] = set()
    try:
        if model is None:
            ConfigDocument.model_validate({k: v for k, v in doc.data.items() if k != "policy"})
        else:
            model.model_validate(_get(doc.data, at))
        return bad
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    for error in errors:
        path = at + _data_path(error["loc"])
        bad.add(path)
        kind = error["type"]
        field = next((str(p) for p in reversed(path) if isinstance(p, str)), "value")
        address = address_of(path)
        detail = ""
        if kind == "extra_forbidden" and len(path) == 3 and path[0] == "environments" and field in SECRET_KEYS:
            summary, detail = secret_key_problem(field)
            summary = f"environment {path[1]!r}: {summary}"
            where = doc.where(path, key=True)
        elif kind == "extra_forbidden":
            allowed = _allowed_keys(path[:-1], doc.data, model)
            summary = f"unknown key {field!r}"
            hint = did_you_mean(field, allowed)
            detail = (hint.strip() + " " if hint else "") + (f"Allowed keys here: {', '.join(allowed)}." if allowed else "")
            if path[:1] == ("work_pools",) and len(path) == 4 and path[2] == "base_job_template":
                detail += " A template is inline {job_configuration, variables}, {file: PATH} or {template: NAME, defaults: {...}}."
            where = doc.where(path, key=True)
        elif kind == "missing":
            summary = f"missing required key {field!r}"
            detail = "Add it." if field != "version" else "Start the file with `version: 1`."
            where = doc.where(path[:-1])
        elif kind == "literal_error" and path == ("version",):
            summary = f"unsupported version: {_describe(error.get('input'))}"
            detail = "This poolform reads `version: 1`."
            where = doc.where(path)
        elif kind in ("greater_than_equal", "less_than_equal", "int_type", "int_from_float") and field in rules.MINIMUM and (
                found := rules.number_problems(field, error.get("input"))):
            summary, detail = found[0].summary, found[0].detail
            where = doc.where(path)
        elif kind in _EXPECTED:
            value = error.get("input")
            summary = f"{field} must be {_EXPECTED[kind]}, not {_describe(value)}"
            if kind.startswith("bool") and isinstance(value, str) and value.lower() in ("yes", "no", "on", "off", "y", "n"):
                detail = "YAML 1.2 reads yes/no/on/off as strings: write true or false."
            elif isinstance(value, str) and kind.startswith("int"):
                detail = "Write the number without quotes."
            where = doc.where(path)
        elif kind in ("string_too_short", "too_short"):
            summary = f"{field} must not be empty"
            where = doc.where(path)
        else:
            summary = f"{field}: {error['msg']}"
            where = doc.where(path)
        diags.error(summary, detail.strip(), address=address, range=where, path=path)
    return bad


structure_diagnostics = _structure_diagnostics


def _has_error_under(bad: set[tuple[Any, ...]], prefix: tuple[Any, ...]) -> bool:
    n = len(prefix)
    return any(p[:n] == prefix for p in bad)


# --------------------------------------------------------------------------- templates

@dataclass
class _Template:
    value: dict[str, Any]
    source: RawDoc | None
    """The document holding the template's positions (the template file), or None for inline ones."""
    prefix: tuple[Any, ...]
    """Path of the template inside ``source`` (or inside the config document for inline templates)."""
    measure: tuple[int, int] | None = None
    """(depth, JSON size), once measured."""


class _Resolver:
    def __init__(self, doc: RawDoc, diags: Diagnostics) -> None:
        self.doc = doc
        self.diags = diags
        self.files: dict[str, _Template | None] = {}
        self.reported: set[int] = set()

    def where(self, template: _Template, path: tuple[Any, ...]) -> SourceRange:
        source = template.source or self.doc
        return source.where(template.prefix + path)

    def from_file(self, ref_path: tuple[Any, ...], address: str | None) -> _Template | None:
        ref = _get(self.doc.data, ref_path + ("file",))
        at = self.doc.where(ref_path + ("file",))
        base = os.path.dirname(at.filename)
        filename = os.path.normpath(os.path.join(base, ref)) if not os.path.isabs(ref) else ref
        if filename in self.files:
            return self.files[filename]
        template: _Template | None = None
        text = read_text(filename, self.diags, referenced_at=at, address=address)
        if text is not None:
            diags = Diagnostics()
            parsed = parse_yaml_text(text, filename, diags)
            if diags.has_errors and filename.endswith(".json"):
                parsed = self._json_fallback(text, filename, diags)
            self.diags.append(_with_address(diags, address))
            if parsed is not None and not diags.has_errors:
                if not isinstance(parsed.data, dict):
                    self.diags.error(f"{filename} must hold a mapping {{job_configuration, variables}}",
                                     range=parsed.where(()), address=address)
                else:
                    for key in parsed.data:
                        if key not in ("job_configuration", "variables"):
                            self.diags.error(
                                f"unknown key {key!r} in a base job template file",
                                (did_you_mean(key, ("job_configuration", "variables")).strip() + " "
                                 "A template file holds job_configuration and variables.").strip(),
                                range=parsed.where((key,), key=True), address=address)
                    template = _Template(parsed.data, parsed, ())
                    if not self.within_bounds(template, at, address):
                        template = None
        self.files[filename] = template
        return template

    def within_bounds(self, template: _Template, at: SourceRange, address: str | None) -> bool:
        """Check the template's size and nesting (once; the measure is kept on it)."""
        if template.measure is None:
            template.measure = measure_template(template.value)
        problem = template_bounds_problem(*template.measure)
        if problem is not None:
            self.diags.error(problem[0], problem[1], address=address, range=at, code=Code.TEMPLATE_TOO_LARGE)
            return False
        return True

    @staticmethod
    def _json_fallback(text: str, filename: str, diags: Diagnostics) -> RawDoc | None:
        import json

        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            diags.items.clear()
            diags.error(f"malformed JSON: {exc.msg}", range=SourceRange(filename, Pos(exc.lineno, exc.colno)))
            return None
        diags.items.clear()
        return RawDoc(data, filename)

    def report(self, template: _Template, address: str | None, *, skip: set[tuple[Any, ...]] = frozenset(),
               override: Mapping[tuple[Any, ...], SourceRange] | None = None, default_at: SourceRange | None = None) -> None:
        from reconciler.templates import check_template

        for problem in check_template(template.value):
            if (problem.path, problem.summary) in skip:
                continue
            where = (override or {}).get(problem.path) or default_at or self.where(template, problem.path)
            add = self.diags.error if problem.severity == "error" else self.diags.warning
            add(problem.summary, problem.detail, address=address, range=where, path=("base_job_template",) + problem.path)


def _with_address(diags: Diagnostics, address: str | None) -> list[Any]:
    from dataclasses import replace

    return [replace(d, address=d.address or address) for d in diags]


# --------------------------------------------------------------------------- state

def _report(problems: list[rules.Problem], diags: Diagnostics, *, address: str, range: SourceRange) -> None:
    """Problems of :mod:`reconciler.model.rules` as diagnostics at ``range``."""
    for problem in problems:
        add = diags.error if problem.severity == "error" else diags.warning
        add(problem.summary, problem.detail, address=address, range=range)


def _check_pool_name(name: str, doc: RawDoc, diags: Diagnostics) -> None:
    _report(rules.pool_name_problems(name), diags, address=pool_address(name),
            range=doc.where(("work_pools", name), key=True))


def _check_queue_name(pool: str, name: str, doc: RawDoc, diags: Diagnostics) -> None:
    _report(rules.queue_name_problems(name), diags, address=queue_address(pool, name),
            range=doc.where(("work_pools", pool, "queues", name), key=True))


def build_state(doc: RawDoc, diags: Diagnostics, *, allow_unknown_types: bool = False) -> DesiredState:
    """Check a merged document and turn it into a desired state (partial when there are errors)."""
    data = doc.data
    bad = _structure_diagnostics(doc, diags)
    state = DesiredState()
    manage = data.get("manage")
    if isinstance(manage, dict) and not _has_error_under(bad, ("manage",)):
        state.prune = bool(manage.get("prune", False))
        state.scope = list(manage.get("scope") or [])
    state.prevent_destroy = {address: SourceRange(loc[0], Pos(loc[1], loc[2]))
                             for address, loc in doc.prevent_destroy.items()}
    state.ignored = list(doc.ignored)
    # checked here so validate reports them; selected by find_environments
    environments = read_environments(doc, diags, bad).values()
    state.credential_sources = (sorted({v for e in environments for v in (e.api_key_env, e.auth_string_env) if v}),
                                sorted({e.profile for e in environments if e.profile is not None}))
    state.source = SourceRange(doc.origin, Pos(1, 1))
    state.manage_source = doc.where(("manage",), key=True) if "manage" in data else None
    if doc.provider is not None:
        from reconciler.settings import ProviderBlock

        block = doc.provider["__block__"]
        state.provider = ProviderBlock(where=f"{block[1]}:{block[2]}",
                                       **{k: v[0] for k, v in doc.provider.items() if k != "__block__"})
    resolver = _Resolver(doc, diags)
    named: dict[str, _Template | None] = {}
    named_problems: dict[str, set[tuple[Any, ...]]] = {}
    templates = data.get("base_job_templates")
    if isinstance(templates, dict):
        for name, raw in templates.items():
            path = ("base_job_templates", name)
            if _has_error_under(bad, path):
                named[name] = None
                continue
            if "file" in raw:
                template = resolver.from_file(path, None)
            else:
                template = _Template({k: raw[k] for k in ("job_configuration", "variables") if raw.get(k) is not None}, None, path)
                if not resolver.within_bounds(template, doc.where(path, key=True), None):
                    template = None
            named[name] = template
            if template is not None:
                resolver.report(template, None)
                from reconciler.templates import check_template

                named_problems[name] = {(p.path, p.summary) for p in check_template(template.value)}
    pools = data.get("work_pools")
    if not isinstance(pools, dict):
        return state
    if state.provider is not None and state.provider.allow_unknown_type:
        allow_unknown_types = True  # the provider block of an HCL config, as the Terraform provider reads it
    for name, raw in pools.items():
        _check_pool_name(name, doc, diags)
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            continue
        pool = _build_pool(name, raw, doc, diags, bad, resolver, named, named_problems)
        if pool is not None and not allow_unknown_types and not _has_error_under(bad, ("work_pools", name, "type")):
            _check_pool_type(pool, doc, diags)
        if pool is not None:
            state.pools[name] = pool
    return state


_ALLOW_UNKNOWN_TYPE = ("A custom worker's type is accepted with --allow-unknown-type, or in HCL with "
                       "allow_unknown_type = true in the provider \"prefect\" block.")


def _check_pool_type(pool: DesiredPool, doc: RawDoc, diags: Diagnostics) -> None:
    _report(rules.pool_type_problems(pool.type, allow_unknown=False, how_to_allow=_ALLOW_UNKNOWN_TYPE), diags,
            address=pool.address, range=doc.where(("work_pools", pool.name, "type")))


def _build_pool(name: str, raw: dict[str, Any], doc: RawDoc, diags: Diagnostics, bad: set[tuple[Any, ...]],
                resolver: _Resolver, named: dict[str, _Template | None],
                named_problems: dict[str, set[tuple[Any, ...]]]) -> DesiredPool | None:
    path = ("work_pools", name)
    address = pool_address(name)
    queues_raw = raw.get("queues") if isinstance(raw.get("queues"), dict) else {}
    for queue_name in queues_raw:
        _check_queue_name(name, queue_name, doc, diags)
    pool = DesiredPool(name=name, source=doc.where(path, key=True))
    if raw.get("type") is None:
        if "type" not in raw:
            _report([rules.missing_type_problem()], diags, address=address, range=doc.where(path, key=True))
        pool.type = DEFAULT_POOL_TYPE
    else:
        pool.type = raw["type"]
    pool.description = raw.get("description")
    pool.paused = bool(raw.get("paused", False))
    pool.concurrency_limit = raw.get("concurrency_limit")
    template_path = path + ("base_job_template",)
    raw_template = raw.get("base_job_template")
    if raw_template is not None and not _has_error_under(bad, template_path):
        pool.template_source = doc.where(template_path)
        pool.base_job_template = _pool_template(name, raw_template, template_path, doc, diags, resolver, named,
                                                named_problems)
    queues: dict[str, DesiredQueue] = {}
    priorities: dict[int, str] = {}
    for queue_name, queue_raw in queues_raw.items():
        queue_path = path + ("queues", queue_name)
        if not isinstance(queue_raw, dict) and queue_raw is not None:
            continue
        queue_raw = queue_raw or {}
        if _has_error_under(bad, queue_path):
            continue
        queue = DesiredQueue(pool=name, name=queue_name, source=doc.where(queue_path, key=True))
        description = queue_raw.get("description")
        queue.description = description if description is not None else (
            DEFAULT_QUEUE_DESCRIPTION if queue_name == DEFAULT_QUEUE else "")
        queue.paused = bool(queue_raw.get("paused", False))
        queue.concurrency_limit = queue_raw.get("concurrency_limit")
        priority = queue_raw.get("priority")
        queue.priority = UNMANAGED if priority is None else priority
        if priority is not None:
            if priority in priorities:
                _report([rules.duplicate_priority_problem(priorities[priority], queue_name, priority)], diags,
                        address=queue.address, range=doc.where(queue_path + ("priority",)))
            else:
                priorities[priority] = queue_name
        above = rules.queue_limit_problem(queue.concurrency_limit, pool.concurrency_limit)
        if above is not None:
            _report([above], diags, address=queue.address, range=doc.where(queue_path + ("concurrency_limit",)))
        queues[queue_name] = queue
    pool.queues = queues
    return pool


_SCALARS = (str, int, float, bool, type(None))


def _copied(value: Any) -> Any:
    """A deep copy of config data (each pool gets its own template to change): dicts and lists
    rebuilt, scalars shared, anything else through ``copy.deepcopy``. A third of ``copy.deepcopy``'s
    time on a fleet of pools sharing one named template."""
    kind = type(value)
    if kind is dict:
        return {key: _copied(item) for key, item in value.items()}
    if kind is list:
        return [_copied(item) for item in value]
    if kind in _SCALARS:
        return value
    return copy.deepcopy(value)


def _pool_template(name: str, raw: dict[str, Any], path: tuple[Any, ...], doc: RawDoc, diags: Diagnostics,
                   resolver: _Resolver, named: dict[str, _Template | None],
                   named_problems: dict[str, set[tuple[Any, ...]]]) -> Any:
    address = pool_address(name)
    if "file" in raw:
        template = resolver.from_file(path, address)
        if template is None:
            return UNMANAGED
        if id(template) not in resolver.reported:
            resolver.reported.add(id(template))
            resolver.report(template, address)
        return _copied(template.value)
    if "template" in raw:
        ref = raw["template"]
        if ref not in named:
            diags.error(f"unknown template {ref!r}",
                        (did_you_mean(ref, list(named)).strip() + " ").lstrip()
                        + ("Declared templates: " + ", ".join(named) + "." if named else
                           "Declare it under the top-level base_job_templates map."),
                        address=address, range=doc.where(path + ("template",)))
            return UNMANAGED
        base = named[ref]
        if base is None:
            return UNMANAGED
        value = _copied(base.value)
        defaults = raw.get("defaults") or {}
        properties = value.get("variables", {}).get("properties") if isinstance(value.get("variables"), dict) else None
        override: dict[tuple[Any, ...], SourceRange] = {}
        for var, default in defaults.items():
            at = doc.where(path + ("defaults", var), key=True)
            if not isinstance(properties, dict) or not isinstance(properties.get(var), dict):
                declared = list(properties) if isinstance(properties, dict) else []
                diags.error(f"template {ref!r} does not declare variable {var!r}",
                            (did_you_mean(var, declared).strip() + " ").lstrip()
                            + (f"Its variables: {', '.join(declared)}." if declared else "It declares no variables."),
                            address=address, range=at, path=("base_job_template", "defaults", var))
                continue
            properties[var]["default"] = _copied(default)
            override[("variables", "properties", var, "default")] = doc.where(path + ("defaults", var))
        resolved = _Template(value, None, path)
        if defaults:  # the named template is within bounds; so must be what its defaults add
            depth, size = measure_template(defaults)
            base_depth, base_size = base.measure or (0, 0)
            resolved.measure = (max(base_depth, depth + 4), base_size + size)
            if not resolver.within_bounds(resolved, doc.where(path + ("defaults",)), address):
                return UNMANAGED
        resolver.report(resolved, address, skip=named_problems.get(ref, set()), override=override,
                        default_at=doc.where(path + ("template",)))
        return value
    template = _Template({k: raw[k] for k in ("job_configuration", "variables") if raw.get(k) is not None}, None, path)
    if not resolver.within_bounds(template, doc.where(path), address):
        return UNMANAGED
    resolver.report(template, address)
    return _copied(template.value)
