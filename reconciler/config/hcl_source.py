"""HCL (``.tf``) files -> :class:`RawDoc`, read without a terraform binary.

Owns: parsing a root module's ``.tf`` files (python-hcl2's lark tree, positions from
``meta.line``/``column``) and the local modules it calls (``source = "./..."`` or
``"../..."`` inside the configuration's directories), nested, with ``count``/``for_each``;
evaluating their ``variable`` (inputs, defaults, types with ``optional()``, ``validation``),
``locals``, ``output``, ``resource "prefect_work_pool"`` and ``resource "prefect_work_queue"``
blocks with :mod:`reconciler.config.hcl_eval`; reading the root's ``provider "prefect"``
block (``endpoint``, ``api_key``, ``basic_auth_key``, ``allow_unknown_type``; ``account_id``/``workspace_id``
refused)
into :attr:`RawDoc.provider`; and mapping the Terraform provider's attributes onto the
YAML document shape (pool: ``name, type, description, paused, concurrency_limit,
base_job_template`` as a JSON string; queue: ``work_pool_name, name, description,
is_paused, concurrency_limit, priority``).

Nothing that could declare a pool or a queue is skipped: a module from any other
source (registry, git, http...), any other ``prefect_*`` resource or data source, an
aliased or second ``prefect`` provider and any block type poolform does not know are
errors at their line. Resources and data sources of other providers are listed in
:attr:`RawDoc.ignored` (they cannot declare pools), never evaluated.

Root variable values come, highest first, from ``--var`` and ``--var-file``
(command-line order), ``*.auto.tfvars``, ``terraform.tfvars``, ``TF_VAR_*`` and the
default; a module's variables from its ``module`` block's arguments and their defaults.
No validation of values here beyond what the mapping needs (that is ``config/load.py``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from lark import Tree

from reconciler.config.files import did_you_mean, ignored_name, read_text
from reconciler.config.hcl_eval import (
    Context,
    EvalError,
    _children,
    evaluate,
    fail,
    parse_value_text,
    position,
    to_string,
    unsupported,
)
from reconciler.config.hcl_values import HclValueError, to_bool, to_num, to_str, type_name
from reconciler.config.source import RawDoc
from reconciler.config.var_files import VarValue
from reconciler.diagnostics import Diagnostics, Pos, SourceRange

POOL_RESOURCE = "prefect_work_pool"
QUEUE_RESOURCE = "prefect_work_queue"
PROVIDER = "prefect"

POOL_ATTRIBUTES = {"name": "name", "type": "type", "description": "description", "paused": "paused",
                   "concurrency_limit": "concurrency_limit", "base_job_template": "base_job_template"}
QUEUE_ATTRIBUTES = {"work_pool_name": None, "name": None, "description": "description", "is_paused": "paused",
                    "concurrency_limit": "concurrency_limit", "priority": "priority"}
IGNORED_ATTRIBUTES = {"account_id", "workspace_id", "depends_on", "provider", "lifecycle"}
COMPUTED_ATTRIBUTES = {"id", "created", "updated", "default_queue_id"}
INT_FIELDS = {"concurrency_limit", "priority"}
BOOL_FIELDS = {"paused"}
STRING_FIELDS = {"type", "description"}

PROVIDER_ATTRIBUTES = ("endpoint", "api_key", "basic_auth_key", "csrf_enabled", "allow_unknown_type")
"""Attributes of ``provider "prefect"`` that poolform honours (``csrf_enabled``: its client always does CSRF;
``allow_unknown_type``: as ``--allow-unknown-type``, and the Terraform provider reads it too)."""
REFUSED_PROVIDER_ATTRIBUTES = {
    "account_id": "poolform does not build Prefect Cloud workspace URLs: put the workspace in the endpoint "
                  "(https://api.prefect.cloud/api/accounts/ACCOUNT/workspaces/WORKSPACE) and remove account_id.",
    "workspace_id": "poolform does not build Prefect Cloud workspace URLs: put the workspace in the endpoint "
                    "(https://api.prefect.cloud/api/accounts/ACCOUNT/workspaces/WORKSPACE) and remove workspace_id.",
    "custom_headers": "poolform sends no custom headers; use a proxy, or PREFECT_API_AUTH_STRING for Basic auth.",
    "profile": "poolform does not read Prefect profiles; set endpoint, or PREFECT_API_URL / PREFECT_API_KEY.",
    "profile_file": "poolform does not read Prefect profiles; set endpoint, or PREFECT_API_URL / PREFECT_API_KEY.",
}
KNOWN_BLOCKS = {"terraform", "provider", "variable", "locals", "output", "module", "resource", "data",
                "moved", "import", "removed", "check"}
"""Top-level blocks of a Terraform module; ``moved``/``import``/``removed``/``check`` concern terraform's
state and assertions, not what exists, and are not read."""
LOCAL_SOURCE_PREFIXES = ("./", "../")


@dataclass
class _Block:
    filename: str
    node: Tree
    labels: list[str]
    attributes: dict[str, Tree] = field(default_factory=dict)
    keys: dict[str, Tree] = field(default_factory=dict)
    lifecycle: dict[str, Tree] = field(default_factory=dict)
    blocks: list[Tree] = field(default_factory=list)

    def where(self) -> tuple[int, int]:
        return position(self.node)


class _Cycle:
    pass


_IN_PROGRESS = _Cycle()


def _labels(block: Tree) -> tuple[str, list[str]]:
    kids = _children(block)
    kind = str(kids[0].children[0])
    labels = []
    for child in kids[1:]:
        if child.data == "string":
            labels.append("".join(str(p.children[0]) for p in child.children
                                  if isinstance(p, Tree) and p.data == "string_part"))
        elif child.data == "identifier":
            labels.append(str(child.children[0]))
    return kind, labels


def _body(block: Tree) -> Tree:
    return next(c for c in _children(block) if c.data == "body")


def _attribute_name(attribute: Tree) -> str:
    return str(_children(attribute)[0].children[0])


def _make_block(filename: str, item: Tree, labels: list[str]) -> _Block:
    inner = _body(item)
    attributes = [a for a in _children(inner) if a.data == "attribute"]
    return _Block(filename, item, labels,
                  {_attribute_name(a): _children(a)[-1] for a in attributes},
                  {_attribute_name(a): a for a in attributes},
                  blocks=[c for c in _children(inner) if c.data == "block"])


def _parse(filename: str, text: str, diags: Diagnostics) -> Tree | None:
    import hcl2
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

    if not text.endswith("\n"):
        text += "\n"
    try:
        return hcl2.parses_to_tree(text)
    except UnexpectedToken as exc:
        token = exc.token
        shown = "end of file" if token.type == "$END" else repr(str(token).strip() or str(token))
        expected = sorted(exc.accepts or exc.expected or [])
        detail = "Expected one of: " + ", ".join(expected[:8]) + ("…" if len(expected) > 8 else "") + "." if expected else ""
        diags.error(f"malformed HCL: unexpected {shown}", detail,
                    range=SourceRange(filename, Pos(exc.line or 1, exc.column or 1)))
    except UnexpectedCharacters as exc:
        diags.error(f"malformed HCL: unexpected character {exc.char!r}",
                    range=SourceRange(filename, Pos(exc.line or 1, exc.column or 1)))
    except UnexpectedEOF:
        lines = text.count("\n")
        diags.error("malformed HCL: unexpected end of file", "Close every { ( [ and string.",
                    range=SourceRange(filename, Pos(max(lines, 1), 1)))
    except UnexpectedInput as exc:
        diags.error(f"malformed HCL: {str(exc).splitlines()[0]}",
                    range=SourceRange(filename, Pos(getattr(exc, "line", 1) or 1, getattr(exc, "column", 1) or 1)))
    except Exception as exc:  # python-hcl2 raises plain exceptions for some inputs
        diags.error(f"malformed HCL: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                    range=SourceRange(filename, Pos(1, 1)))
    return None


# --------------------------------------------------------------------------- types

def _type_of(expr: Tree | None) -> Any:
    """A variable's ``type`` expression as a small descriptor: "string", ("list", T), ("object", {...}), ..."""
    if expr is None:
        return "any"
    node: Any = expr
    while isinstance(node, Tree) and node.data == "expr_term" and len(_children(node)) == 1:
        node = _children(node)[0]
    if not isinstance(node, Tree):
        return "any"
    if node.data == "identifier":
        return str(node.children[0])
    if node.data == "function_call":
        kids = _children(node)
        name = str(kids[0].children[0])
        arguments = next((c for c in kids if c.data == "arguments"), None)
        args = _children(arguments) if arguments is not None else []
        if name in ("list", "set", "map") and args:
            return (name, _type_of(args[0]))
        if name == "optional" and args:
            return ("optional", _type_of(args[0]), args[1] if len(args) > 1 else None)
        if name == "tuple" and args:
            inner = _unwrap(args[0])
            return ("tuple", [_type_of(e) for e in _children(inner)] if inner.data == "tuple" else [])
        if name == "object" and args:
            inner = _unwrap(args[0])
            fields = {}
            if inner.data == "object":
                for elem in _children(inner):
                    key_node, value_node = _children(elem)
                    key_inner = _unwrap(key_node)
                    key = str(key_inner.children[0]) if key_inner.data == "identifier" else to_string(
                        evaluate(key_inner, Context(_no_refs, ".")), key_node)
                    fields[key] = _type_of(value_node)
            return ("object", fields)
    return "any"


def _unwrap(node: Any) -> Any:
    while isinstance(node, Tree) and node.data in ("expr_term", "object_elem_key") and len(_children(node)) == 1:
        node = _children(node)[0]
    return node


def _typed(value: Any, kind: Any, what: str) -> Any:
    """``value`` converted to a variable's type as Terraform converts it (``"5"`` to a number, optional
    object attributes filled with their defaults); HclValueError when it cannot be."""
    if kind == "any" or value is None:
        if isinstance(kind, tuple) and kind[0] == "optional":
            return _typed(value, kind[1], what)
        return value
    if kind == "string":
        if isinstance(value, (list, dict)):
            raise HclValueError(f"{what} must be a string, not {type_name(value)}")
        return to_str(value, what)
    if kind == "number":
        return to_num(value, what)
    if kind == "bool":
        return to_bool(value, what)
    if isinstance(kind, tuple):
        if kind[0] == "optional":
            return _typed(value, kind[1], what)
        if kind[0] in ("list", "set"):
            if not isinstance(value, list):
                raise HclValueError(f"{what} must be a {kind[0]}, not {type_name(value)}")
            return [_typed(v, kind[1], f"{what}[{i}]") for i, v in enumerate(value)]
        if kind[0] == "map":
            if not isinstance(value, dict):
                raise HclValueError(f"{what} must be a map, not {type_name(value)}")
            return {k: _typed(v, kind[1], f"{what}[{k!r}]") for k, v in value.items()}
        if kind[0] == "tuple":
            if not isinstance(value, list) or len(value) != len(kind[1]):
                raise HclValueError(f"{what} must be a tuple of {len(kind[1])} elements")
            return [_typed(v, t, f"{what}[{i}]") for i, (v, t) in enumerate(zip(value, kind[1]))]
        if kind[0] == "object":
            if not isinstance(value, dict):
                raise HclValueError(f"{what} must be an object, not {type_name(value)}")
            out = {}
            for name, field_kind in kind[1].items():
                if name in value:
                    out[name] = _typed(value[name], field_kind, f"{what}.{name}")
                elif isinstance(field_kind, tuple) and field_kind[0] == "optional":
                    default = None if field_kind[2] is None else evaluate(field_kind[2], Context(_no_refs, "."))
                    out[name] = _typed(default, field_kind[1], f"{what}.{name}")
                else:
                    raise HclValueError(f"{what} needs the attribute {name!r}")
            return out
    return value


# --------------------------------------------------------------------------- the configuration

class _Configuration:
    """What every module of one configuration shares: diagnostics, inputs, parsed files, findings."""

    def __init__(self, diags: Diagnostics, variables: Mapping[str, Any], env: Mapping[str, str],
                 roots: list[str]) -> None:
        self.diags = diags
        self.cli_vars = variables
        self.env = env
        self.roots = [os.path.realpath(r) for r in roots]
        self.reported: set[tuple[Any, ...]] = set()
        self.trees: dict[str, tuple[list[tuple[str, Tree]], bool]] = {}
        self.ignored: list[dict[str, Any]] = []
        self.provider: dict[str, Any] | None = None

    def error(self, filename: str, node: Any, summary: str, detail: str = "", address: str | None = None) -> None:
        line, column = position(node)
        key = (filename, line, column, summary)
        if key in self.reported:
            return
        self.reported.add(key)
        self.diags.error(summary, detail, address=address, range=SourceRange(filename, Pos(line or 1, column or 1)))

    def report(self, exc: EvalError, filename: str, address: str | None) -> None:
        where = getattr(exc, "filename", None) or filename
        key = (where, exc.line, exc.column, str(exc))
        if key in self.reported:
            return
        self.reported.add(key)
        self.diags.error(str(exc), exc.detail, address=address,
                         range=SourceRange(where, Pos(exc.line or 1, exc.column or 1)), code=getattr(exc, "code", None))

    def parsed(self, files: list[str]) -> tuple[list[tuple[str, Tree]], bool]:
        """The parse trees of ``files`` (cached: module instances share them) and whether all parsed."""
        key = "\0".join(files)
        if key not in self.trees:
            trees, ok = [], True
            for filename in files:
                text = read_text(filename, self.diags)
                tree = _parse(filename, text, self.diags) if text is not None else None
                if tree is None:
                    ok = False
                    continue
                trees.append((filename, tree))
            self.trees[key] = (trees, ok)
        return self.trees[key]

    def inside(self, directory: str) -> bool:
        real = os.path.realpath(directory)
        return any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in self.roots)


@dataclass
class _Call:
    """A ``module "name"`` block: where its source resolved to, and its instances once expanded."""

    block: _Block
    directory: str | None
    instances: dict[Any, "_Module"] | None = None


class _Module:
    def __init__(self, config: _Configuration, files: list[str], *, parent: "_Module | None" = None,
                 call: _Block | None = None, bindings: dict[str, Any] | None = None, address: str = "",
                 stack: tuple[str, ...] = ()) -> None:
        self.config = config
        self.directory = os.path.dirname(files[0]) or "."
        self.files = files
        self.parent = parent
        self.call = call
        self.bindings = bindings or {}
        self.address = address
        self.stack = stack + (os.path.realpath(self.directory),)
        self.variables: dict[str, _Block] = {}
        self.locals: dict[str, tuple[str, Tree]] = {}
        self.outputs: dict[str, _Block] = {}
        self.pools: dict[str, _Block] = {}
        self.queues: dict[str, _Block] = {}
        self.calls: dict[str, _Call] = {}
        self.resources: set[str] = set()
        self.memo: dict[tuple[str, ...], Any] = {}
        self.file_vars: dict[str, tuple[str, Tree | VarValue]] = {}
        self.ok = True

    @property
    def is_root(self) -> bool:
        return self.parent is None

    @property
    def root(self) -> "_Module":
        return self if self.parent is None else self.parent.root

    def _error(self, filename: str, node: Any, summary: str, detail: str = "", address: str | None = None) -> None:
        self.config.error(filename, node, summary, detail, address)

    def _report(self, exc: EvalError, filename: str, address: str | None) -> None:
        self.config.report(exc, filename, address)

    # ---- collection

    def read(self) -> bool:
        trees, ok = self.config.parsed(self.files)
        for filename, tree in trees:
            self.collect(filename, tree)
        self.ok = ok
        return ok

    def collect(self, filename: str, tree: Tree) -> None:
        body = _children(tree)[0]
        for item in _children(body):
            if item.data == "attribute":
                line, column = position(item)
                self.config.diags.error("top-level attributes are not supported in a .tf file",
                                        "Put settings inside resource, variable or locals blocks.",
                                        range=SourceRange(filename, Pos(line, column)))
                continue
            if item.data != "block":
                continue
            kind, labels = _labels(item)
            if kind in ("environments", "environment"):
                self._error(filename, item, f"unsupported block type {kind!r}: environments are declared in YAML",
                            "poolform reads environments: from a YAML config file; put one beside the .tf files "
                            "(version: 1, environments: {NAME: {api_url, files: [NAME.tfvars], variables}}) and "
                            "select it with --env NAME (docs/config.md, Environments).")
                continue
            if kind not in KNOWN_BLOCKS:
                self._error(filename, item, f"unsupported block type {kind!r}",
                            (did_you_mean(kind, sorted(KNOWN_BLOCKS)).strip() + " ").lstrip()
                            + "A Terraform module holds terraform, provider, variable, locals, output, module, "
                              "resource and data blocks.")
                continue
            block = _make_block(filename, item, labels)
            if kind == "variable" and len(labels) == 1:
                self._add(self.variables, labels[0], block, "variable")
            elif kind == "locals":
                for name, expr in block.attributes.items():
                    if name in self.locals:
                        self._error(filename, expr, f"duplicate local value {name!r}",
                                    f"local.{name} is already defined in {self.locals[name][0]}.")
                    else:
                        self.locals[name] = (filename, expr)
            elif kind == "output" and len(labels) == 1:
                self._add(self.outputs, labels[0], block, "output")
            elif kind == "module" and len(labels) == 1:
                self._collect_call(block, labels[0])
            elif kind == "provider" and len(labels) == 1:
                self._collect_provider(block, labels[0])
            elif kind in ("resource", "data") and len(labels) == 2:
                self._collect_resource(kind, block, labels)

    def _collect_resource(self, kind: str, block: _Block, labels: list[str]) -> None:
        type_, label = labels
        where = f"{self.address}{'data.' if kind == 'data' else ''}{type_}.{label}"
        if kind == "resource" and type_ in (POOL_RESOURCE, QUEUE_RESOURCE):
            target = self.pools if type_ == POOL_RESOURCE else self.queues
            self._add(target, label, block, f"resource {type_}")
            for child in block.blocks:
                child_kind, _ = _labels(child)
                if child_kind != "lifecycle":
                    self._error(block.filename, child, f"unsupported block {child_kind!r} in {type_}.{label}")
                    continue
                block.lifecycle.update({_attribute_name(a): _children(a)[-1]
                                        for a in _children(_body(child)) if a.data == "attribute"})
            provider = block.attributes.get("provider")
            if provider is not None:
                self._check_provider_reference(block, provider)
            return
        if type_.startswith(PROVIDER + "_") or type_ == PROVIDER:
            what = "data source" if kind == "data" else "resource"
            self._error(block.filename, block.node, f"{what} {type_} is not read by poolform",
                        f"{where}: poolform reads the resources prefect_work_pool and prefect_work_queue only, and "
                        "cannot evaluate other prefect_* resources or data sources. Manage this one with terraform "
                        "in a directory that poolform does not read (-f), or remove it.")
            return
        self.resources.add(f"{'data.' if kind == 'data' else ''}{type_}.{label}")
        line, column = block.where()
        self.config.ignored.append({
            "address": where, "mode": "data" if kind == "data" else "managed", "type": type_,
            "reason": "not a prefect resource: it cannot declare a work pool or queue",
            "range": {"filename": block.filename, "start": {"line": line or 1, "column": column or 1}}})

    def _check_provider_reference(self, block: _Block, expr: Tree) -> None:
        node = _unwrap(expr)
        text = None
        if isinstance(node, Tree) and node.data == "get_attr_expr_term":
            text = "aliased"
        elif isinstance(node, Tree) and node.data == "identifier":
            text = str(node.children[0])
        if text != PROVIDER:
            self._error(block.filename, expr, "resources of an aliased prefect provider are not read by poolform",
                        "poolform plans against one Prefect server: remove the provider argument, or plan each "
                        "server's pools from their own directory.")

    def _collect_call(self, block: _Block, name: str) -> None:
        if name in self.calls:
            first = self.calls[name].block
            self._error(block.filename, block.node, f"duplicate module call {name!r}",
                        f"It is already declared at {first.filename}:{first.where()[0]}.")
            return
        call = _Call(block, None)
        self.calls[name] = call
        source_expr = block.attributes.get("source")
        if source_expr is None:
            self._error(block.filename, block.node, f"module {name!r} has no source",
                        "Add source = \"./path/to/module\".")
            return
        try:
            source = evaluate(source_expr, Context(_no_refs, "."))
        except EvalError:
            self._error(block.filename, source_expr, f"module {name!r}: source must be a literal string",
                        "Terraform reads a module's source before evaluating anything.")
            return
        if not isinstance(source, str) or not source.startswith(LOCAL_SOURCE_PREFIXES):
            self._error(block.filename, source_expr, f"module {name!r}: source {source!r} is not read by poolform",
                        "poolform evaluates local modules only (source = \"./...\" or \"../...\" inside the "
                        "configuration): a registry, git, http or bucket module would have to be downloaded, and "
                        "its pools cannot be planned without it. Vendor the module into the repository and use "
                        "its local path.")
            return
        directory = os.path.normpath(os.path.join(self.directory, source))
        if not os.path.isdir(directory):
            self._error(block.filename, source_expr, f"module {name!r}: {directory} is not a directory",
                        "The source of a local module is a directory relative to the calling module.")
            return
        if not self.config.inside(directory):
            self._error(block.filename, source_expr, f"module {name!r}: {directory} is outside the configuration",
                        "A local module must be inside the working directory or a directory given with -f.")
            return
        if os.path.realpath(directory) in self.stack:
            self._error(block.filename, source_expr, f"module {name!r} calls itself (through {source})",
                        "Modules cannot be recursive.")
            return
        call.directory = directory

    def _collect_provider(self, block: _Block, name: str) -> None:
        if name != PROVIDER:
            return
        if not self.is_root:
            self._error(block.filename, block.node, "a prefect provider block inside a module is not read by poolform",
                        f"{self.address.rstrip('.')}: configure the prefect provider in the root module.")
            return
        if "alias" in block.attributes:
            self._error(block.filename, block.keys["alias"], "an aliased prefect provider is not read by poolform",
                        "poolform plans against one Prefect server: keep one provider \"prefect\" block without "
                        "alias, and plan other servers' pools from their own directory.")
            return
        if self.config.provider is not None:
            first = self.config.provider["block"]
            self._error(block.filename, block.node, "duplicate provider \"prefect\" block",
                        f"The first is at {first.filename}:{first.where()[0]}; keep one.")
            return
        self.config.provider = {"block": block, "module": self}

    def collect_tfvars(self, filename: str, tree: Tree) -> None:
        body = _children(tree)[0]
        for item in _children(body):
            if item.data != "attribute":
                self._error(filename, item, "a .tfvars file holds only NAME = value lines")
                continue
            name = _attribute_name(item)
            if name not in self.variables:
                line, column = position(item)
                self.config.diags.warning(f"{filename} sets {name!r}, but no variable \"{name}\" is declared",
                                          "Declare the variable or remove the line.",
                                          range=SourceRange(filename, Pos(line or 1, column or 1)))
                continue
            self.file_vars[name] = (filename, _children(item)[-1])

    def collect_json_tfvars(self, filename: str, values: Mapping[str, VarValue]) -> None:
        """A ``terraform.tfvars.json`` or ``*.auto.tfvars.json``: literal values, as Terraform reads them."""
        for name, value in values.items():
            if name not in self.variables:
                self.config.diags.warning(f"{filename} sets {name!r}, but no variable \"{name}\" is declared",
                                          "Declare the variable or remove the line.", range=value.origin)
                continue
            self.file_vars[name] = (filename, value)

    def _add(self, target: dict[str, _Block], name: str, block: _Block, what: str) -> None:
        if name in target:
            first = target[name]
            line, _ = first.where()
            self._error(block.filename, block.node, f"duplicate {what} {name!r}",
                        f"It is already declared at {first.filename}:{line}.")
        else:
            target[name] = block

    # ---- evaluation

    def context(self, scope: dict[str, Any] | None = None) -> Context:
        return Context(self.reference, base_dir=".", scope=scope or {})

    def _guard(self, key: tuple[str, ...], filename: str, node: Any, compute: Callable[[], Any]) -> Any:
        if key in self.memo:
            value = self.memo[key]
            if value is _IN_PROGRESS:
                raise unsupported(node, f"{'.'.join(key)} refers to itself")
            if isinstance(value, EvalError):
                raise value
            return value
        self.memo[key] = _IN_PROGRESS
        try:
            value = compute()
        except EvalError as exc:
            if not getattr(exc, "filename", None):
                exc.filename = filename  # type: ignore[attr-defined]
            self.memo[key] = exc
            raise
        self.memo[key] = value
        return value

    def reference(self, root: str, attrs: list[str], node: Any) -> tuple[Any, int]:
        if root == "var":
            if not attrs:
                raise unsupported(node, "var must be followed by a variable name (var.NAME)")
            return self.variable(attrs[0], node), 1
        if root == "local":
            if not attrs:
                raise unsupported(node, "local must be followed by a name (local.NAME)")
            name = attrs[0]
            if name not in self.locals:
                raise unsupported(node, f"no local value named {name!r}", did_you_mean(name, list(self.locals)).strip())
            filename, expr = self.locals[name]
            return self._guard(("local", name), filename, node, lambda: evaluate(expr, self.context())), 1
        if root == "path":
            if attrs and attrs[0] == "module":
                return self.directory, 1
            if attrs and attrs[0] == "root":
                return self.root.directory, 1
            if attrs and attrs[0] == "cwd":
                return os.getcwd(), 1
            raise unsupported(node, "only path.module, path.root and path.cwd are supported")
        if root == "module":
            return self.module_reference(attrs, node)
        if root in (POOL_RESOURCE, QUEUE_RESOURCE):
            return self.resource_reference(root, attrs, node)
        if root in ("each", "count"):
            meta = "for_each" if root == "each" else "count"
            raise unsupported(node, f"{root}.{attrs[0] if attrs else '…'} is available only in a resource or "
                                    f"module that sets {meta}")
        shown = ".".join([root] + attrs[:2])
        if root == "data" and attrs[:1] == ["prefect_worker_metadata"]:
            raise unsupported(node, f"reference to {shown} is not supported offline",
                              "Worker metadata comes from the server. Save the template once "
                              "(prefect work-pool get-default-base-job-template --type TYPE > TYPE.json) "
                              "and use file(\"${path.module}/TYPE.json\").")
        address = ".".join([root] + attrs[:2] if root == "data" else [root] + attrs[:1])
        if address in self.resources:
            raise unsupported(node, f"{shown} comes from another provider; poolform cannot evaluate it",
                              f"{address} is read by terraform through its provider. Pool and queue attributes "
                              "must not depend on it: use a variable or a literal value.")
        raise unsupported(node, f"reference to {shown} is not supported offline",
                          "Supported: var.*, local.*, path.module, module.<name>.<output>, "
                          "prefect_work_pool.<label>.<attribute>, prefect_work_queue.<label>.<attribute>.")

    def resource_reference(self, root: str, attrs: list[str], node: Any) -> tuple[Any, int]:
        blocks = self.pools if root == POOL_RESOURCE else self.queues
        if attrs and attrs[0] in blocks and self.repeated(blocks[attrs[0]]) is not None:
            if len(attrs) > 1:
                raise unsupported(node, f"{root}.{attrs[0]} has {self.repeated(blocks[attrs[0]])}: "
                                        f"pick an instance, as in {root}.{attrs[0]}[KEY].{attrs[1]}")
            return self._instance_objects(root, attrs[0], node), 1
        if len(attrs) < 2:
            raise unsupported(node, f"write {root}.<label>.<attribute>")
        label, attribute = attrs[0], attrs[1]
        if label not in blocks:
            raise unsupported(node, f"no resource {root}.{label} is declared", did_you_mean(label, list(blocks)).strip())
        if attribute in COMPUTED_ATTRIBUTES:
            raise unsupported(node, f"{root}.{label}.{attribute} is known only after apply",
                              "poolform plans offline from names: refer to .name instead.")
        return self.resource_attribute(root, label, attribute, node), 2

    def module_reference(self, attrs: list[str], node: Any) -> tuple[Any, int]:
        if not attrs:
            raise unsupported(node, "module must be followed by a module name (module.NAME.OUTPUT)")
        name = attrs[0]
        if name not in self.calls:
            raise unsupported(node, f"no module call named {name!r}", did_you_mean(name, list(self.calls)).strip())
        call = self.calls[name]
        instances = self.expand_call(name, node)
        if self.repeated(call.block) is not None:
            if len(attrs) > 1:
                raise unsupported(node, f"module.{name} has {self.repeated(call.block)}: pick an instance, as in "
                                        f"module.{name}[KEY].{attrs[1]}")
            objects = {key: child.output_object(node) for key, child in instances.items()}
            if self.repeated(call.block) == "count":
                return [objects[i] for i in sorted(objects)], 1
            return objects, 1
        child = instances[None]
        if len(attrs) < 2:
            return child.output_object(node), 1
        return child.output(attrs[1], node), 2

    def output(self, name: str, node: Any) -> Any:
        if name not in self.outputs:
            raise unsupported(node, f"{self.address.rstrip('.')} has no output {name!r}",
                              (did_you_mean(name, list(self.outputs)).strip() + " ").lstrip()
                              + f"Outputs: {', '.join(self.outputs) or '(none)'}.")
        block = self.outputs[name]
        expr = block.attributes.get("value")
        if expr is None:
            raise unsupported(block.node, f"output {name!r} has no value")
        return self._guard(("output", name), block.filename, node, lambda: evaluate(expr, self.context()))

    def output_object(self, node: Any) -> dict[str, Any]:
        return {name: self.output(name, node) for name in self.outputs}

    def variable(self, name: str, node: Any) -> Any:
        if name not in self.variables:
            raise unsupported(node, f"no variable named {name!r} is declared",
                              (did_you_mean(name, list(self.variables)).strip() + " ").lstrip()
                              + f"Declare it with a variable \"{name}\" block.")
        block = self.variables[name]
        return self._guard(("var", name), block.filename, node, lambda: self._variable_value(name, block))

    def _variable_value(self, name: str, block: _Block) -> Any:
        kind = _type_of(block.attributes.get("type"))
        at_file = block.filename
        try:
            value, origin, at, at_file = self._variable_input(name, block, kind)
            try:
                value = _typed(value, kind, f"var.{name}")
            except HclValueError as exc:
                raise unsupported(at, f"invalid value for variable {name!r} ({origin}): {exc}") from None
            if value is None and "nullable" in block.attributes:
                nullable = evaluate(block.attributes["nullable"], Context(_no_refs, "."))
                if nullable is False:
                    raise unsupported(at, f"variable {name!r} must not be null ({origin})", "It sets nullable = false.")
        except EvalError as exc:
            if not getattr(exc, "filename", None):
                exc.filename = at_file  # type: ignore[attr-defined]
            raise
        self._validate(name, block, value)
        if "sensitive" in block.attributes and self._sensitive(block):
            from reconciler.secrets import declare

            declare(value, f"var.{name}")
        return value

    def _sensitive(self, block: _Block) -> bool:
        """``sensitive`` set on a variable: its value is masked in every output, as Terraform hides it.
        Anything but a plain ``false`` counts as set (when in doubt, mask)."""
        try:
            return evaluate(block.attributes["sensitive"], Context(_no_refs, ".")) not in (False, "false")
        except EvalError:
            return True

    def _variable_input(self, name: str, block: _Block, kind: Any) -> tuple[Any, str, Any, str]:
        """The raw value of a variable, where it came from, and the node (and file) to report a problem at."""
        if not self.is_root:
            assert self.call is not None and self.parent is not None
            if name in self.call.attributes:
                expr = self.call.attributes[name]
                try:
                    value = evaluate(expr, self.parent.context(self.bindings))
                except EvalError as exc:
                    if not getattr(exc, "filename", None):
                        exc.filename = self.call.filename  # type: ignore[attr-defined]
                    raise
                return value, f"module {self.call.labels[0]!r} argument", expr, self.call.filename
            if "default" in block.attributes:
                return (evaluate(block.attributes["default"], Context(_no_refs, ".")), "default", block.node,
                        block.filename)
            missing = unsupported(self.call.node, f"module {self.call.labels[0]!r} is missing the required argument "
                                  f"{name!r}", f"{self.address.rstrip('.')}: variable \"{name}\" ({block.filename}:"
                                  f"{block.where()[0]}) has no default; set it in the module block.")
            missing.filename = self.call.filename  # type: ignore[attr-defined]
            raise missing
        if name in self.config.cli_vars:
            given = self.config.cli_vars[name]
            if isinstance(given, VarValue):  # from --var-file: already a value
                return given.value, f"set in {given.origin.filename}", block.node, block.filename
            return (self._convert_input(given, kind, f"--var {name}", block), f"--var {name}", block.node,
                    block.filename)
        if name in self.file_vars:
            filename, expr = self.file_vars[name]
            if isinstance(expr, VarValue):  # from a .tfvars.json file: already a value
                return expr.value, filename, block.node, block.filename
            try:
                return evaluate(expr, Context(_no_refs, ".")), filename, expr, filename
            except EvalError as exc:
                exc.filename = filename  # type: ignore[attr-defined]
                raise
        env_name = f"TF_VAR_{name}"
        if env_name in self.config.env:
            return (self._convert_input(self.config.env[env_name], kind, env_name, block), env_name, block.node,
                    block.filename)
        if "default" in block.attributes:
            return evaluate(block.attributes["default"], Context(_no_refs, ".")), "default", block.node, block.filename
        raise unsupported(block.node, f"variable {name!r} has no value",
                          f"Give it a default, pass --var {name}=VALUE, or set TF_VAR_{name}.")

    def _validate(self, name: str, block: _Block, value: Any) -> None:
        for child in block.blocks:
            kind, _ = _labels(child)
            if kind != "validation":
                continue
            rule = _make_block(block.filename, child, [])
            condition = rule.attributes.get("condition")
            if condition is None:
                continue
            scope_module = self

            def lookup(root: str, attrs: list[str], node: Any) -> tuple[Any, int]:
                if root == "var" and attrs[:1] == [name]:
                    return value, 1
                return scope_module.reference(root, attrs, node)

            result = evaluate(condition, Context(lookup, "."))
            try:
                ok = to_bool(result, "a validation condition")
            except HclValueError as exc:
                raise unsupported(condition, str(exc)) from None
            if not ok:
                message = rule.attributes.get("error_message")
                text = evaluate(message, Context(lookup, ".")) if message is not None else "validation failed"
                raise unsupported(condition, f"invalid value for variable {name!r}: {text}",
                                  f"The value does not satisfy the validation rule at {block.filename}:"
                                  f"{position(child)[0]}.")

    def _convert_input(self, raw: str, kind: Any, origin: str, block: _Block) -> Any:
        """A string from the command line or the environment as the variable's type (complex ones in HCL)."""
        if kind in ("any", "string") or (isinstance(kind, tuple) and kind[0] == "optional"):
            return raw
        if kind in ("number", "bool"):
            return raw
        try:
            return parse_value_text(raw, Context(_no_refs, "."))
        except EvalError as exc:
            raise unsupported(block.node, f"{origin}: cannot read {raw!r} as a {_kind_name(kind)}: {exc}") from None
        except Exception:
            raise unsupported(block.node, f"{origin}: cannot read {raw!r} as a {_kind_name(kind)}") from None

    def resource_attribute(self, kind: str, label: str, attribute: str, node: Any, instance: Any = None) -> Any:
        blocks = self.pools if kind == POOL_RESOURCE else self.queues
        block = blocks[label]
        expr = block.attributes.get(attribute)
        if expr is None:
            known = POOL_ATTRIBUTES if kind == POOL_RESOURCE else QUEUE_ATTRIBUTES
            if attribute not in known:
                raise unsupported(node, f"{kind} has no attribute {attribute!r}")
            if attribute == "type":
                return "prefect-agent"
            return None
        if instance is None:
            return self._guard((kind, label, attribute), block.filename, node, lambda: evaluate(expr, self.context()))
        bindings = self.instances(block, (kind, label))[instance]
        return self._guard((kind, label, repr(instance), attribute), block.filename, node,
                           lambda: evaluate(expr, self.context(bindings)))

    # ---- count and for_each

    @staticmethod
    def repeated(block: _Block) -> str | None:
        """``for_each`` or ``count`` when the block has one (Terraform allows only one of them)."""
        return next((a for a in ("for_each", "count") if a in block.attributes), None)

    def instances(self, block: _Block, key: tuple[str, ...]) -> dict[Any, dict[str, Any]]:
        """Instance key -> the scope its expressions see (``each`` or ``count``), in Terraform's order."""
        meta = self.repeated(block)
        if meta is None:
            return {}
        expr = block.attributes[meta]

        def compute() -> dict[Any, dict[str, Any]]:
            value = evaluate(expr, self.context())
            if meta == "count":
                if isinstance(value, str):
                    try:
                        value = to_num(value)
                    except HclValueError:
                        pass
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 0:
                    raise fail(expr, f"count must be a whole number of at least 0, not {value!r}")
                return {i: {"count": {"index": i}} for i in range(int(value))}
            if isinstance(value, dict):
                return {k: {"each": {"key": k, "value": v}} for k, v in sorted(value.items())}
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return {v: {"each": {"key": v, "value": v}} for v in sorted(set(value))}
            raise fail(expr, "for_each must be a map, or a set of strings (toset([...]))",
                       "A list of strings is read as a set here; other values cannot key instances.")

        return self._guard(key + ("__instances__",), block.filename, expr, compute)

    def _instance_objects(self, kind: str, label: str, node: Any) -> Any:
        """``prefect_work_pool.x`` of a repeated resource: its instances' attributes (a list for count,
        a map for for_each), for ``[KEY].name`` and splats."""
        block = (self.pools if kind == POOL_RESOURCE else self.queues)[label]
        known = POOL_ATTRIBUTES if kind == POOL_RESOURCE else QUEUE_ATTRIBUTES
        out: dict[Any, Any] = {}
        for instance in self.instances(block, (kind, label)):
            out[instance] = {a: self.resource_attribute(kind, label, a, node, instance)
                             for a in known if a in block.attributes and a != "base_job_template"}
        if self.repeated(block) == "count":
            return [out[i] for i in sorted(out)]
        return out

    def expand_call(self, name: str, node: Any) -> dict[Any, "_Module"]:
        """The module instances of ``module "name"`` (key None when it has neither count nor for_each)."""
        call = self.calls[name]
        if call.instances is not None:
            return call.instances
        if call.directory is None:
            raise unsupported(node, f"module {name!r} cannot be evaluated (see the error at its source)")
        files = _module_files(call.directory, self.config, call.block)
        if not files:
            raise unsupported(call.block.attributes["source"], f"module {name!r}: {call.directory} holds no .tf file")
        scopes: dict[Any, dict[str, Any]] = {None: {}}
        if self.repeated(call.block) is not None:
            if "count" in call.block.attributes and "for_each" in call.block.attributes:
                raise unsupported(call.block.attributes["count"], f"module.{name} sets both count and for_each",
                                  "Terraform allows only one of them; keep one.")
            scopes = self.instances(call.block, ("module", name))
        instances: dict[Any, _Module] = {}
        for key, scope in scopes.items():
            suffix = "" if key is None else f"[{json.dumps(key)}]"
            child = _Module(self.config, files, parent=self, call=call.block, bindings=scope,
                            address=f"{self.address}module.{name}{suffix}.", stack=self.stack)
            child.read()
            child.check_arguments()
            instances[key] = child
        call.instances = instances
        return instances

    def check_arguments(self) -> None:
        assert self.call is not None
        meta = {"source", "version", "count", "for_each", "providers", "depends_on"}
        for argument, expr in self.call.attributes.items():
            if argument in meta or argument in self.variables:
                continue
            self._error(self.call.filename, self.call.keys[argument],
                        f"module {self.call.labels[0]!r} has no variable {argument!r}",
                        (did_you_mean(argument, list(self.variables)).strip() + " ").lstrip()
                        + f"Its variables: {', '.join(self.variables) or '(none)'}.")
        if "version" in self.call.attributes:
            self._error(self.call.filename, self.call.keys["version"], "a local module cannot have a version",
                        "version applies to registry modules; remove it.")

    # ---- mapping onto the document

    def modules(self) -> list["_Module"]:
        """This module and every module instance it calls, depth first, in declaration order."""
        out: list[_Module] = [self]
        for name, call in self.calls.items():
            try:
                instances = self.expand_call(name, call.block.node)
            except EvalError as exc:
                if call.directory is not None:
                    self._report(exc, call.block.filename, None)
                continue
            for child in instances.values():
                out.extend(child.modules())
        return out

    def check_variables(self) -> None:
        """Every variable of a module gets its value checked, used or not (Terraform checks them all)."""
        for name, block in self.variables.items():
            try:
                self.variable(name, block.node)
            except EvalError as exc:
                self._report(exc, block.filename, None)

    def check_outputs(self) -> None:
        if self.is_root:
            return
        for name, block in self.outputs.items():
            try:
                self.output(name, block.node)
            except EvalError as exc:
                self._report(exc, block.filename, None)

    def pool_entries(self, doc: RawDoc, pools: dict[str, Any], origins: dict[str, _Block]) -> None:
        for label, block, instance in self._expand(POOL_RESOURCE, self.pools):
            name = self._name(POOL_RESOURCE, label, block, "name", instance)
            if name is None:
                continue
            address = f"work_pool.{name}"
            if name in pools:
                first = origins[name]
                self._error(block.filename, block.node, f"two {POOL_RESOURCE} resources declare pool {name!r}",
                            f"Each pool is declared once; the other is at {first.filename}:{first.where()[0]}.",
                            address)
                continue
            origins[name] = block
            path = ("work_pools", name)
            line, column = block.where()
            doc.keys[path] = (block.filename, line, column)
            doc.values[path] = (block.filename, line, column)
            pool: dict[str, Any] = {}
            for attribute, expr in block.attributes.items():
                target = self._target(POOL_RESOURCE, label, attribute, POOL_ATTRIBUTES, block, expr, address)
                if target is None or attribute == "name":
                    continue
                value = self._value(POOL_RESOURCE, label, attribute, block, expr, address, instance)
                if value is _FAILED or value is None:
                    continue
                if attribute == "base_job_template":
                    value = self._template(value, block, expr, address)
                    if value is _FAILED:
                        continue
                pool[target] = _coerce(target, value)
                self._place(doc, path + (target,), block, attribute)
            pools[name] = pool
            self._prevent_destroy(doc, block, address)

    def queue_entries(self, doc: RawDoc, pools: dict[str, Any], origins: dict[tuple[str, str], _Block]) -> None:
        for label, block, instance in self._expand(QUEUE_RESOURCE, self.queues):
            pool_name = self._name(QUEUE_RESOURCE, label, block, "work_pool_name", instance)
            name = self._name(QUEUE_RESOURCE, label, block, "name", instance)
            if pool_name is None or name is None:
                continue
            address = f"work_queue.{pool_name}.{name}"
            queue: dict[str, Any] = {}
            placed: list[tuple[str, str]] = []
            for attribute, expr in block.attributes.items():
                target = self._target(QUEUE_RESOURCE, label, attribute, QUEUE_ATTRIBUTES, block, expr, address)
                if target is None or attribute in ("work_pool_name", "name"):
                    continue
                value = self._value(QUEUE_RESOURCE, label, attribute, block, expr, address, instance)
                if value is _FAILED or value is None:
                    continue
                queue[target] = _coerce(target, value)
                placed.append((target, attribute))
            if pool_name not in pools:
                self._error(block.filename, block.attributes["work_pool_name"],
                            f"queue {name!r} refers to pool {pool_name!r}, which no {POOL_RESOURCE} in this "
                            "configuration declares",
                            (did_you_mean(pool_name, list(pools)).strip() + " ").lstrip()
                            + "Declare the pool in the same configuration, or fix work_pool_name.", address)
                continue
            queues = pools[pool_name].setdefault("queues", {})
            if name in queues:
                first = origins[(pool_name, name)]
                self._error(block.filename, block.node,
                            f"two {QUEUE_RESOURCE} resources declare queue {name!r} of pool {pool_name!r}",
                            f"Each queue is declared once; the other is at {first.filename}:{first.where()[0]}.",
                            address)
                continue
            origins[(pool_name, name)] = block
            path = ("work_pools", pool_name, "queues", name)
            line, column = block.where()
            doc.keys[path] = (block.filename, line, column)
            doc.values[path] = (block.filename, line, column)
            for target, attribute in placed:
                self._place(doc, path + (target,), block, attribute)
            queues[name] = queue
            self._prevent_destroy(doc, block, address)

    def _prevent_destroy(self, doc: RawDoc, block: _Block, address: str) -> None:
        expr = block.lifecycle.get("prevent_destroy")
        if expr is None:
            return
        try:
            value = evaluate(expr, Context(_no_refs, "."))
        except EvalError as exc:
            self._report(exc, block.filename, address)
            return
        if not isinstance(value, bool):
            self._error(block.filename, expr, "lifecycle.prevent_destroy must be true or false", "", address)
        elif value:
            line, column = position(expr)
            doc.prevent_destroy[address] = (block.filename, line or 1, column or 1)

    def _expand(self, kind: str, blocks: Mapping[str, _Block]) -> list[tuple[str, _Block, Any]]:
        """(label, block, instance key or None) for every resource instance, count and for_each expanded."""
        out: list[tuple[str, _Block, Any]] = []
        for label, block in blocks.items():
            if self.repeated(block) is None:
                out.append((label, block, None))
                continue
            if "count" in block.attributes and "for_each" in block.attributes:
                self._error(block.filename, block.attributes["count"], f"{kind}.{label} sets both count and for_each",
                            "Terraform allows only one of them; keep one.")
                continue
            try:
                instances = self.instances(block, (kind, label))
            except EvalError as exc:
                self._report(exc, block.filename, None)
                continue
            out.extend((label, block, instance) for instance in instances)
        return out

    def _place(self, doc: RawDoc, path: tuple[Any, ...], block: _Block, attribute: str) -> None:
        line, column = position(block.attributes[attribute])
        doc.values[path] = (block.filename, line or 1, column or 1)
        line, column = position(block.keys[attribute])
        doc.keys[path] = (block.filename, line or 1, column or 1)

    def _target(self, kind: str, label: str, attribute: str, known: Mapping[str, str | None], block: _Block,
                expr: Tree, address: str | None) -> str | None:
        if attribute in known:
            return known[attribute] or attribute
        if attribute in IGNORED_ATTRIBUTES or attribute in ("count", "for_each"):
            return None
        extra = " It is computed by the server and cannot be set." if attribute in COMPUTED_ATTRIBUTES else ""
        self._error(block.filename, block.keys.get(attribute, expr), f"unknown attribute {attribute!r} in {kind}.{label}",
                    (did_you_mean(attribute, list(known)).strip() + extra + " Attributes: "
                     + ", ".join(known) + ".").strip(), address)
        return None

    def _value(self, kind: str, label: str, attribute: str, block: _Block, expr: Tree, address: str | None,
               instance: Any = None) -> Any:
        try:
            return self.resource_attribute(kind, label, attribute, expr, instance)
        except EvalError as exc:
            self._report(exc, block.filename, address)
            return _FAILED
        except RecursionError:
            self._error(block.filename, expr, "expression nested too deeply", "Simplify the expression.", address)
            return _FAILED

    def _name(self, kind: str, label: str, block: _Block, attribute: str, instance: Any = None) -> str | None:
        if attribute not in block.attributes:
            self._error(block.filename, block.node, f"{kind}.{label} is missing the required attribute {attribute!r}")
            return None
        value = self._value(kind, label, attribute, block, block.attributes[attribute], None, instance)
        if value is _FAILED:
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = to_string(value, block.attributes[attribute])
        if not isinstance(value, str) or not value:
            self._error(block.filename, block.attributes[attribute],
                        f"{kind}.{label}.{attribute} must be a non-empty string")
            return None
        return value

    def _template(self, value: Any, block: _Block, expr: Tree, address: str) -> Any:
        if isinstance(value, dict):
            self._error(block.filename, expr, "base_job_template must be a JSON string",
                        "Wrap the object in jsonencode(...), as the Terraform provider expects.", address)
            return _FAILED
        if not isinstance(value, str):
            self._error(block.filename, expr, "base_job_template must be a JSON string", "", address)
            return _FAILED
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            self._error(block.filename, expr, f"base_job_template is not valid JSON: {exc.msg} "
                        f"(line {exc.lineno}, column {exc.colno} of the JSON)", "", address)
            return _FAILED
        return parsed

    # ---- the provider block

    def provider_settings(self, doc: RawDoc) -> None:
        """The root's ``provider "prefect"`` attributes into ``doc.provider`` (values and where they are)."""
        found = self.config.provider
        if found is None:
            return
        block: _Block = found["block"]
        settings: dict[str, Any] = {}
        for attribute, expr in block.attributes.items():
            if attribute in REFUSED_PROVIDER_ATTRIBUTES:
                self._error(block.filename, block.keys[attribute],
                            f"provider \"prefect\": {attribute} is not supported by poolform",
                            REFUSED_PROVIDER_ATTRIBUTES[attribute])
                continue
            if attribute not in PROVIDER_ATTRIBUTES:
                self._error(block.filename, block.keys[attribute], f"provider \"prefect\": unknown attribute {attribute!r}",
                            (did_you_mean(attribute, PROVIDER_ATTRIBUTES).strip() + " ").lstrip()
                            + f"Attributes: {', '.join(PROVIDER_ATTRIBUTES)}.")
                continue
            try:
                value = evaluate(expr, self.context())
            except EvalError as exc:
                self._report(exc, block.filename, None)
                continue
            if value is None:
                continue
            if attribute == "csrf_enabled":
                continue
            if attribute == "allow_unknown_type":
                try:
                    flag = to_bool(value, "allow_unknown_type")
                except HclValueError as exc:
                    self._error(block.filename, expr, f"provider \"prefect\": {exc}")
                    continue
                line, column = position(expr)
                settings[attribute] = (flag, block.filename, line or 1, column or 1)
                continue
            if attribute in ("api_key", "basic_auth_key"):
                from reconciler.secrets import declare

                declare(value, f"provider.prefect.{attribute}")
            if not isinstance(value, str):
                self._error(block.filename, expr, f"provider \"prefect\": {attribute} must be a string")
                continue
            if attribute == "endpoint":
                from reconciler.settings import endpoint_problem

                problem = endpoint_problem(value)
                if problem:
                    self._error(block.filename, expr, "provider \"prefect\": invalid endpoint", problem)
                    continue
            line, column = position(expr)
            settings[attribute] = (value, block.filename, line or 1, column or 1)
        line, column = block.where()
        settings["__block__"] = ("", block.filename, line or 1, column or 1)
        doc.provider = settings

    def build(self, doc: RawDoc) -> None:
        pools: dict[str, Any] = {}
        doc.data = {"version": 1, "work_pools": pools}
        modules = self.modules()
        for module in modules:
            module.check_variables()
            module.check_outputs()
        pool_origins: dict[str, _Block] = {}
        queue_origins: dict[tuple[str, str], _Block] = {}
        for module in modules:
            module.pool_entries(doc, pools, pool_origins)
        for module in modules:
            module.queue_entries(doc, pools, queue_origins)
        self.provider_settings(doc)
        doc.ignored = list(self.config.ignored)


def _kind_name(kind: Any) -> str:
    if isinstance(kind, tuple):
        return kind[0]
    return str(kind)


def _module_files(directory: str, config: _Configuration, call: _Block) -> list[str]:
    """The ``.tf`` files of a module directory, sorted, passed over as in the root (hidden and backup
    files); override files and JSON syntax are refused (:func:`refused_terraform_file`) at the file."""
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        config.error(call.filename, call.attributes["source"], f"cannot read the module directory {directory}: "
                     f"{exc.strerror or exc}")
        return []
    files = []
    for name in names:
        path = os.path.normpath(os.path.join(directory, name))
        if ignored_name(name):
            continue
        refused = refused_terraform_file(path)
        if refused is not None:
            config.diags.error(refused[0], refused[1] + f" (module {call.labels[0]!r}, called at "
                               f"{call.filename}:{call.where()[0]})", range=SourceRange(path, Pos(1, 1)))
        elif name.endswith(".tf"):
            files.append(path)  # whatever it is: one that cannot be read is an error when it is read
    return files


def refused_terraform_file(name: str) -> tuple[str, str] | None:
    """``(summary, detail)`` for a file Terraform would read as part of a module but poolform does not:
    Terraform's JSON syntax (``*.tf.json``) and override files (``override.tf``, ``*_override.tf``, and
    their ``.tf.json`` forms). The root module and local modules refuse them alike: skipped, such a
    file's pools would be missing from the plan (and, with ``prune``, planned for deletion)."""
    base = os.path.basename(name)
    stem = base[:-len(".tf.json")] if base.endswith(".tf.json") else base[:-len(".tf")] if base.endswith(".tf") else None
    if stem is None:
        return None
    if stem == "override" or stem.endswith("_override"):
        return (f"{name}: override files are not read by poolform",
                "Terraform merges override.tf and *_override.tf(.json) into the blocks they name; poolform does "
                "not. Move the settings into the module's own .tf files, or keep the override out of the "
                "directories poolform reads.")
    if base.endswith(".tf.json"):
        return (f"{name}: Terraform's JSON syntax (.tf.json) is not read by poolform",
                "It could declare pools or queues that poolform cannot see, so the directory is not planned. "
                "Write the module in HCL (.tf; `terraform fmt` keeps it tidy), or declare the pools in YAML, or "
                "keep the file out of the directories poolform reads.")
    return None


class _Failed:
    pass


_FAILED = _Failed()


def _coerce(target: str, value: Any) -> Any:
    """Terraform's conversions for typed attributes: "5" -> 5 for numbers, "true" -> true for bools."""
    if target in INT_FIELDS:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
    if target in BOOL_FIELDS and value in ("true", "false"):
        return value == "true"
    if target in STRING_FIELDS and isinstance(value, (bool, int, float)):
        return to_string(value, None)
    return value


def _no_refs(name: str, attrs: list[str], node: Any) -> tuple[Any, int]:
    raise unsupported(node, f"{name} cannot be referenced here",
                      "Variable defaults and -var values must be literal values.")


def tfvars_files(directory: str) -> list[str]:
    """Variable files Terraform reads on its own, in its order (later wins): terraform.tfvars,
    terraform.tfvars.json, then *.auto.tfvars and *.auto.tfvars.json together by name."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    found = [n for n in ("terraform.tfvars", "terraform.tfvars.json") if n in names]
    found += [n for n in names if n.endswith((".auto.tfvars", ".auto.tfvars.json")) and not ignored_name(n)]
    return [os.path.normpath(os.path.join(directory, n)) for n in found]


def load_module(files: list[str], diags: Diagnostics, *, variables: Mapping[str, Any], env: Mapping[str, str],
                used: set[str], roots: list[str] | None = None) -> RawDoc | None:
    """A root module (one directory's ``.tf`` files) and the local modules it calls, as one document;
    None when a file cannot be parsed. ``roots``: the directories local modules must be inside
    (default: the working directory and the root module's directory)."""
    directory = os.path.dirname(files[0]) or "."
    config = _Configuration(diags, variables, env, roots or [os.getcwd(), directory])
    module = _Module(config, files)
    ok = module.read()
    used.update(module.variables)
    for filename in tfvars_files(module.directory):
        if filename.endswith(".json"):
            from reconciler.config.var_files import read_var_file

            local = Diagnostics()
            values = read_var_file(filename, local)
            diags.append(local)
            ok = ok and not local.has_errors
            module.collect_json_tfvars(filename, values)
            continue
        text = read_text(filename, diags)
        tree = _parse(filename, text, diags) if text is not None else None
        if tree is None:
            ok = False
            continue
        module.collect_tfvars(filename, tree)
    if not ok:
        return None
    doc = RawDoc({}, files[0])
    doc.values[()] = (files[0], 1, 1)
    module.build(doc)
    if any(not m.ok for m in module.modules()):
        return None
    return doc
