"""HCL (``.tf``) files -> :class:`RawDoc`, read without a terraform binary.

Owns: parsing one directory's ``.tf`` files as one module (python-hcl2's lark
tree, positions from ``meta.line``/``column``), collecting ``variable``,
``locals``, ``resource "prefect_work_pool"`` and ``resource "prefect_work_queue"``
blocks, evaluating their attributes with :mod:`reconciler.config.hcl_eval`, and
mapping the Terraform provider's attributes onto the YAML document shape (pool:
``name, type, description, paused, concurrency_limit, base_job_template`` as a
JSON string; queue: ``work_pool_name, name, description, is_paused,
concurrency_limit, priority``). Variable values come, highest first, from
``--var`` and ``--var-file`` (command-line order), ``*.auto.tfvars``, ``terraform.tfvars``, ``TF_VAR_*`` and the default.
``count`` and ``for_each`` expand a resource into instances (``count.index``, ``each.key``,
``each.value``; ``prefect_work_pool.x[KEY].name`` refers to one). Other blocks and resource types are ignored.
No validation of values here beyond what the mapping needs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from lark import Tree

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
from reconciler.config.files import did_you_mean, read_text
from reconciler.config.source import RawDoc
from reconciler.config.var_files import VarValue
from reconciler.diagnostics import Diagnostics, Pos, SourceRange

POOL_RESOURCE = "prefect_work_pool"
QUEUE_RESOURCE = "prefect_work_queue"

POOL_ATTRIBUTES = {"name": "name", "type": "type", "description": "description", "paused": "paused",
                   "concurrency_limit": "concurrency_limit", "base_job_template": "base_job_template"}
QUEUE_ATTRIBUTES = {"work_pool_name": None, "name": None, "description": "description", "is_paused": "paused",
                    "concurrency_limit": "concurrency_limit", "priority": "priority"}
IGNORED_ATTRIBUTES = {"account_id", "workspace_id", "depends_on", "provider", "lifecycle"}
COMPUTED_ATTRIBUTES = {"id", "created", "updated", "default_queue_id"}
INT_FIELDS = {"concurrency_limit", "priority"}
BOOL_FIELDS = {"paused"}
STRING_FIELDS = {"type", "description"}


@dataclass
class _Block:
    filename: str
    node: Tree
    labels: list[str]
    attributes: dict[str, Tree] = field(default_factory=dict)
    keys: dict[str, Tree] = field(default_factory=dict)
    lifecycle: dict[str, Tree] = field(default_factory=dict)

    def where(self) -> tuple[int, int]:
        return position(self.node)


class _Cycle:
    pass


_IN_PROGRESS = _Cycle()


def _labels(block: Tree) -> tuple[str, list[str]]:
    kids = _children(block)
    kind = str(kids[0].children[0]) if kids[0].data in ("identifier", "keyword") else str(kids[0].children[0])
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


class _Module:
    def __init__(self, files: list[str], diags: Diagnostics, variables: Mapping[str, str],
                 env: Mapping[str, str]) -> None:
        self.directory = os.path.dirname(files[0]) or "."
        self.diags = diags
        self.cli_vars = variables
        self.env = env
        self.variables: dict[str, _Block] = {}
        self.locals: dict[str, tuple[str, Tree]] = {}
        self.pools: dict[str, _Block] = {}
        self.queues: dict[str, _Block] = {}
        self.memo: dict[tuple[str, ...], Any] = {}
        self.file_vars: dict[str, tuple[str, Tree]] = {}
        self.reported: set[tuple[Any, ...]] = set()

    # ---- collection

    def collect(self, filename: str, tree: Tree) -> None:
        body = _children(tree)[0]
        for item in _children(body):
            if item.data == "attribute":
                line, column = position(item)
                self.diags.error("top-level attributes are not supported in a .tf file",
                                 "Put settings inside resource, variable or locals blocks.",
                                 range=SourceRange(filename, Pos(line, column)))
                continue
            if item.data != "block":
                continue
            kind, labels = _labels(item)
            inner = _body(item)
            attributes = {str(_children(a)[0].children[0]): _children(a)[-1]
                          for a in _children(inner) if a.data == "attribute"}
            keys = {str(_children(a)[0].children[0]): a for a in _children(inner) if a.data == "attribute"}
            if kind == "variable" and len(labels) == 1:
                self._add(self.variables, labels[0], _Block(filename, item, labels, attributes), "variable")
            elif kind == "locals":
                for name, expr in attributes.items():
                    if name in self.locals:
                        self._error(filename, expr, f"duplicate local value {name!r}",
                                    f"local.{name} is already defined in {self.locals[name][0]}.")
                    else:
                        self.locals[name] = (filename, expr)
            elif kind == "resource" and len(labels) == 2 and labels[0] in (POOL_RESOURCE, QUEUE_RESOURCE):
                target = self.pools if labels[0] == POOL_RESOURCE else self.queues
                block = _Block(filename, item, labels, attributes, keys)
                self._add(target, labels[1], block, f"resource {labels[0]}")
                nested = [c for c in _children(inner) if c.data == "block"]
                for child in nested:
                    child_kind, _ = _labels(child)
                    if child_kind != "lifecycle":
                        self._error(filename, child, f"unsupported block {child_kind!r} in {labels[0]}.{labels[1]}")
                        continue
                    block.lifecycle.update({str(_children(a)[0].children[0]): _children(a)[-1]
                                            for a in _children(_body(child)) if a.data == "attribute"})

    def collect_tfvars(self, filename: str, tree: Tree) -> None:
        body = _children(tree)[0]
        for item in _children(body):
            if item.data != "attribute":
                self._error(filename, item, "a .tfvars file holds only NAME = value lines")
                continue
            name = str(_children(item)[0].children[0])
            if name not in self.variables:
                line, column = position(item)
                self.diags.warning(f"{filename} sets {name!r}, but no variable \"{name}\" is declared",
                                   "Declare the variable or remove the line.",
                                   range=SourceRange(filename, Pos(line or 1, column or 1)))
                continue
            self.file_vars[name] = (filename, _children(item)[-1])

    def _add(self, target: dict[str, _Block], name: str, block: _Block, what: str) -> None:
        if name in target:
            first = target[name]
            line, _ = first.where()
            self._error(block.filename, block.node, f"duplicate {what} {name!r}",
                        f"It is already declared at {first.filename}:{line}.")
        else:
            target[name] = block

    def _error(self, filename: str, node: Any, summary: str, detail: str = "", address: str | None = None) -> None:
        line, column = position(node)
        key = (filename, line, column, summary)
        if key in self.reported:
            return
        self.reported.add(key)
        self.diags.error(summary, detail, address=address, range=SourceRange(filename, Pos(line or 1, column or 1)))

    def _report(self, exc: EvalError, filename: str, address: str | None) -> None:
        where = getattr(exc, "filename", None) or filename
        key = (where, exc.line, exc.column, str(exc))
        if key in self.reported:
            return
        self.reported.add(key)
        self.diags.error(str(exc), exc.detail, address=address,
                         range=SourceRange(where, Pos(exc.line or 1, exc.column or 1)))

    # ---- evaluation

    def context(self) -> Context:
        return Context(self.reference, base_dir=".")

    def _guard(self, key: tuple[str, ...], filename: str, node: Any, compute: Any) -> Any:
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
            if attrs and attrs[0] in ("module", "root"):
                return self.directory, 1
            if attrs and attrs[0] == "cwd":
                return os.getcwd(), 1
            raise unsupported(node, "only path.module, path.root and path.cwd are supported")
        if root in (POOL_RESOURCE, QUEUE_RESOURCE):
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
        if root in ("each", "count"):
            meta = "for_each" if root == "each" else "count"
            raise unsupported(node, f"{root}.{attrs[0] if attrs else '…'} is available only in a resource that sets {meta}")
        shown = ".".join([root] + attrs[:2])
        if root == "data" and attrs[:1] == ["prefect_worker_metadata"]:
            raise unsupported(node, f"reference to {shown} is not supported offline",
                       "Worker metadata comes from the server. Save the template once "
                       "(prefect work-pool get-default-base-job-template --type TYPE > TYPE.json) "
                       "and use file(\"${path.module}/TYPE.json\").")
        raise unsupported(node, f"reference to {shown} is not supported offline",
                   "Supported: var.*, local.*, path.module, prefect_work_pool.<label>.<attribute>, "
                   "prefect_work_queue.<label>.<attribute>.")

    def variable(self, name: str, node: Any) -> Any:
        if name not in self.variables:

            raise unsupported(node, f"no variable named {name!r} is declared",
                       (did_you_mean(name, list(self.variables)).strip() + " ").lstrip()
                       + f"Declare it with a variable \"{name}\" block.")
        block = self.variables[name]

        def compute() -> Any:
            type_expr = block.attributes.get("type")
            type_name = _type_root(type_expr)
            if name in self.cli_vars:
                given = self.cli_vars[name]
                if isinstance(given, VarValue):  # from --var-file: already a value
                    return given.value
                return self._convert_input(given, type_name, f"--var {name}", block)
            if name in self.file_vars:
                filename, expr = self.file_vars[name]
                try:
                    return evaluate(expr, Context(_no_refs, "."))
                except EvalError as exc:
                    exc.filename = filename  # type: ignore[attr-defined]
                    raise
            env_name = f"TF_VAR_{name}"
            if env_name in self.env:
                return self._convert_input(self.env[env_name], type_name, env_name, block)
            if "default" in block.attributes:
                return evaluate(block.attributes["default"], Context(_no_refs, "."))
            raise unsupported(block.node, f"variable {name!r} has no value",
                       f"Give it a default, pass --var {name}=VALUE, or set TF_VAR_{name}.")

        return self._guard(("var", name), block.filename, node, compute)

    def _convert_input(self, raw: str, type_name: str | None, origin: str, block: _Block) -> Any:
        if type_name in (None, "string", "any"):
            return raw
        if type_name == "number":
            try:
                return json.loads(raw) if raw.strip() and raw.strip()[0] in "-0123456789" else float("x")
            except ValueError:
                raise unsupported(block.node, f"{origin}={raw!r} is not a number") from None
        if type_name == "bool":
            if raw in ("true", "false"):
                return raw == "true"
            raise unsupported(block.node, f"{origin}={raw!r} is not a bool (true or false)")
        try:
            return parse_value_text(raw, Context(_no_refs, "."))
        except EvalError as exc:
            raise unsupported(block.node, f"{origin}: cannot read {raw!r} as a {type_name}: {exc}") from None
        except Exception:
            raise unsupported(block.node, f"{origin}: cannot read {raw!r} as a {type_name}") from None

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
        bindings = self.instances(kind, label)[instance]
        context = Context(self.reference, base_dir=".", scope=bindings)
        return self._guard((kind, label, repr(instance), attribute), block.filename, node,
                           lambda: evaluate(expr, context))

    # ---- count and for_each

    @staticmethod
    def repeated(block: _Block) -> str | None:
        """``for_each`` or ``count`` when the block has one (Terraform allows only one of them)."""
        return next((a for a in ("for_each", "count") if a in block.attributes), None)

    def instances(self, kind: str, label: str) -> dict[Any, dict[str, Any]]:
        """Instance key -> the scope its expressions see (``each`` or ``count``), in Terraform's order."""
        block = (self.pools if kind == POOL_RESOURCE else self.queues)[label]
        meta = self.repeated(block)
        if meta is None:
            return {}
        expr = block.attributes[meta]

        def compute() -> dict[Any, dict[str, Any]]:
            value = evaluate(expr, self.context())
            if meta == "count":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 0:
                    raise fail(expr, f"count must be a whole number of at least 0, not {value!r}")
                return {i: {"count": {"index": i}} for i in range(int(value))}
            if isinstance(value, dict):
                return {k: {"each": {"key": k, "value": v}} for k, v in sorted(value.items())}
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return {v: {"each": {"key": v, "value": v}} for v in sorted(set(value))}
            raise fail(expr, "for_each must be a map, or a set of strings (toset([...]))",
                       "A list of strings is read as a set here; other values cannot key instances.")

        return self._guard((kind, label, "__instances__"), block.filename, expr, compute)

    def _instance_objects(self, kind: str, label: str, node: Any) -> dict[str, Any]:
        """``prefect_work_pool.x`` of a repeated resource: instance key -> its attributes, for ``[key].name``."""
        block = (self.pools if kind == POOL_RESOURCE else self.queues)[label]
        known = POOL_ATTRIBUTES if kind == POOL_RESOURCE else QUEUE_ATTRIBUTES
        out: dict[str, Any] = {}
        for instance in self.instances(kind, label):
            key = instance if isinstance(instance, str) else str(instance)
            out[key] = {a: self.resource_attribute(kind, label, a, node, instance)
                        for a in known if a in block.attributes and a != "base_job_template"}
        return out

    # ---- mapping onto the document

    def build(self, doc: RawDoc) -> None:
        pools: dict[str, Any] = {}
        doc.data = {"version": 1, "work_pools": pools}
        by_label: dict[str, str] = {}
        for label, block, instance in self._expand(POOL_RESOURCE, self.pools):
            name = self._name(POOL_RESOURCE, label, block, "name", instance)
            if name is None:
                continue
            address = f"work_pool.{name}"
            if name in pools:
                self._error(block.filename, block.node, f"two {POOL_RESOURCE} resources declare pool {name!r}",
                            "Each pool is declared once.", address)
                continue
            by_label[label] = name
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
                            f"queue {name!r} refers to pool {pool_name!r}, which no {POOL_RESOURCE} in this module declares",
                            (did_you_mean(pool_name, list(pools)).strip() + " ").lstrip()
                            + "Declare the pool in the same directory, or fix work_pool_name.", address)
                continue
            queues = pools[pool_name].setdefault("queues", {})
            if name in queues:
                self._error(block.filename, block.node, f"two {QUEUE_RESOURCE} resources declare queue {name!r} of pool {pool_name!r}",
                            "Each queue is declared once.", address)
                continue
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
                instances = self.instances(kind, label)
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
        if attribute in IGNORED_ATTRIBUTES:
            return None
        if attribute in ("count", "for_each"):
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


def _type_root(expr: Tree | None) -> str | None:
    if expr is None:
        return None
    node: Any = expr
    while isinstance(node, Tree):
        if node.data == "identifier":
            return str(node.children[0])
        kids = _children(node)
        if not kids:
            return None
        node = kids[0]
    return None


def _no_refs(name: str, attrs: list[str], node: Any) -> tuple[Any, int]:
    raise fail(node, f"{name} cannot be referenced here", "Variable defaults and -var values must be literal values.")


def tfvars_files(directory: str) -> list[str]:
    """Variable files Terraform reads on its own: terraform.tfvars, then *.auto.tfvars by name."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    found = [n for n in names if n == "terraform.tfvars"] + [n for n in names if n.endswith(".auto.tfvars")]
    return [os.path.normpath(os.path.join(directory, n)) for n in found]


def load_module(files: list[str], diags: Diagnostics, *, variables: Mapping[str, str], env: Mapping[str, str],
                used: set[str]) -> RawDoc | None:
    """One directory's ``.tf`` files as one document; None when a file cannot be parsed."""

    module = _Module(files, diags, variables, env)
    ok = True
    for filename in files:
        text = read_text(filename, diags)
        if text is None:
            ok = False
            continue
        tree = _parse(filename, text, diags)
        if tree is None:
            ok = False
            continue
        module.collect(filename, tree)
    used.update(module.variables)
    for filename in tfvars_files(module.directory):
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
    return doc
