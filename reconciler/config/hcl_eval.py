"""A safe evaluator for the subset of HCL expressions a pools config needs.

Owns: evaluating python-hcl2's lark parse tree (never ``eval``): literals,
lists and maps, string templates (``${...}``, ``%{ if }``/``%{ for }``), heredocs,
arithmetic/comparison/logic operators, conditionals, ``for`` expressions,
indexing and attribute access, ``var.*``, ``local.*``, ``path.*``, references
to declared resources' attributes, and a small function library (``jsonencode``,
``jsondecode``, ``file``, ``templatefile`` and a few pure helpers). Anything
else raises :class:`EvalError` carrying the line and column. The caller
supplies lookups for variables, locals and resources; this module reads files
only for ``file``/``templatefile``.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from lark import Token, Tree


class EvalError(Exception):
    """An expression that cannot be evaluated offline; ``line``/``column`` are 1-based (0 when unknown)."""

    def __init__(self, message: str, line: int = 0, column: int = 0, detail: str = "") -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.detail = detail


def position(node: Any) -> tuple[int, int]:
    if isinstance(node, Token):
        return (node.line or 0, node.column or 0)
    meta = getattr(node, "meta", None)
    if meta is not None and not getattr(meta, "empty", True):
        return (meta.line, meta.column)
    if isinstance(node, Tree):
        for child in node.children:
            line, column = position(child)
            if line:
                return line, column
    return (0, 0)


def fail(node: Any, message: str, detail: str = "") -> EvalError:
    line, column = position(node)
    return EvalError(message, line, column, detail)


def _children(node: Tree) -> list[Any]:
    """Children that carry meaning: trees other than newlines/comments."""
    return [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]


@dataclass
class Context:
    """What an expression can see.

    ``reference(root, parts, node)`` resolves ``var.x``, ``local.x``, ``path.module``,
    ``prefect_work_pool.l.name``: it receives the root name and the attribute
    names after it, returns ``(value, consumed)`` with how many of ``parts`` it used.
    """

    reference: Callable[[str, list[str], Any], tuple[Any, int]]
    base_dir: str = "."
    scope: dict[str, Any] = field(default_factory=dict)
    depth: int = 0

    def child(self, **bindings: Any) -> "Context":
        return Context(self.reference, self.base_dir, {**self.scope, **bindings}, self.depth + 1)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _unescape(text: str, node: Any) -> str:
    if "\\" not in text:
        return text
    out = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1:i + 2]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2:i + 6]):
            out.append(chr(int(text[i + 2:i + 6], 16)))
            i += 6
        elif nxt == "U" and re.fullmatch(r"[0-9a-fA-F]{8}", text[i + 2:i + 10]):
            out.append(chr(int(text[i + 2:i + 10], 16)))
            i += 10
        else:
            raise fail(node, f"unsupported escape sequence \\{nxt} in a string")
    return "".join(out)


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def to_string(value: Any, node: Any) -> str:
    """HCL's conversion of a value into a template/string."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if value is None:
        raise fail(node, "a null value cannot be used in a string template")
    raise fail(node, f"cannot use a {type_name(value)} value in a string template",
               "Convert it first, e.g. with jsonencode(...).")


# --------------------------------------------------------------------------- templates

@dataclass
class _Part:
    kind: str  # "text" | "interp" | "if" | "else" | "endif" | "for" | "endfor"
    text: str = ""
    expr: Any = None  # a lark tree, or expression source text
    names: tuple[str, ...] = ()
    strip_left: bool = False
    strip_right: bool = False
    node: Any = None


def _scan_expression_end(text: str, start: int) -> int:
    """Index of the ``}`` closing an expression that starts at ``start``."""
    depth = 0
    i = start
    while i < len(text):
        ch = text[i]
        if ch == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif ch in "{[(":
            depth += 1
        elif ch in "}])":
            if depth == 0 and ch == "}":
                return i
            depth -= 1
        i += 1
    return -1


_DIRECTIVE_RE = re.compile(r"^\s*(if|else|endif|for|endfor)\b(.*)$", re.S)


def scan_template(text: str, node: Any) -> list[_Part]:
    """Split template text (a ``templatefile`` file or a heredoc) into parts."""
    parts: list[_Part] = []
    literal: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        if text.startswith("$${", i) or text.startswith("%%{", i):
            literal.append(text[i + 1:i + 3])
            i += 3
            continue
        if text.startswith("${", i) or text.startswith("%{", i):
            is_directive = text[i] == "%"
            end = _scan_expression_end(text, i + 2)
            if end < 0:
                line = text.count("\n", 0, i) + 1
                raise fail(node, f"unterminated {'directive' if is_directive else 'interpolation'} in template (template line {line})")
            inner = text[i + 2:end]
            strip_left = inner.startswith("~")
            strip_right = inner.endswith("~")
            inner = inner[1 if strip_left else 0:len(inner) - (1 if strip_right else 0)]
            if literal:
                parts.append(_Part("text", "".join(literal)))
                literal = []
            if not is_directive:
                parts.append(_Part("interp", expr=inner, strip_left=strip_left, strip_right=strip_right, node=node))
            else:
                match = _DIRECTIVE_RE.match(inner)
                if not match:
                    raise fail(node, f"unsupported template directive %{{{inner.strip()}}}",
                               "Supported: %{ if }, %{ else }, %{ endif }, %{ for x in ... }, %{ endfor }.")
                kind, rest = match.group(1), match.group(2).strip()
                part = _Part(kind, strip_left=strip_left, strip_right=strip_right, node=node)
                if kind == "if":
                    part.expr = rest
                elif kind == "for":
                    fm = re.match(r"^([A-Za-z_][\w-]*)\s*(?:,\s*([A-Za-z_][\w-]*))?\s+in\s+(.+)$", rest, re.S)
                    if not fm:
                        raise fail(node, f"malformed for directive %{{ for {rest} }}")
                    part.names = tuple(x for x in (fm.group(1), fm.group(2)) if x)
                    part.expr = fm.group(3)
                parts.append(part)
            i = end + 1
            continue
        literal.append(text[i])
        i += 1
    if literal:
        parts.append(_Part("text", "".join(literal)))
    return parts


def _string_parts(node: Tree) -> list[_Part]:
    parts: list[_Part] = []
    for child in node.children:
        if not isinstance(child, Tree) or child.data != "string_part":
            continue
        inner = child.children[0]
        if isinstance(inner, Token):
            if inner.type == "STRING_CHARS":
                parts.append(_Part("text", _unescape(str(inner), inner)))
            elif inner.type in ("ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"):
                parts.append(_Part("text", str(inner)[1:]))
            continue
        tokens = [t for t in inner.children if isinstance(t, Token)]
        strip_left = any(t.type == "STRIP_MARKER" for t in tokens[:2])
        strip_right = len(tokens) >= 2 and tokens[-2].type == "STRIP_MARKER"
        exprs = _children(inner)
        if inner.data == "interpolation":
            parts.append(_Part("interp", expr=exprs[0], node=inner))
        elif inner.data == "template_if_start":
            parts.append(_Part("if", expr=exprs[0], strip_left=strip_left, strip_right=strip_right, node=inner))
        elif inner.data == "template_else":
            parts.append(_Part("else", strip_left=strip_left, strip_right=strip_right, node=inner))
        elif inner.data == "template_endif":
            parts.append(_Part("endif", strip_left=strip_left, strip_right=strip_right, node=inner))
        elif inner.data == "template_for_start":
            names = tuple(str(c.children[0]) for c in exprs if c.data == "identifier")
            parts.append(_Part("for", expr=exprs[-1], names=names, strip_left=strip_left, strip_right=strip_right, node=inner))
        elif inner.data == "template_endfor":
            parts.append(_Part("endfor", strip_left=strip_left, strip_right=strip_right, node=inner))
        else:
            raise fail(inner, f"unsupported string part {inner.data}")
    return parts


def _apply_strips(parts: list[_Part]) -> list[_Part]:
    out = [(_Part(p.kind, p.text, p.expr, p.names, p.strip_left, p.strip_right, p.node)) for p in parts]
    for index, part in enumerate(out):
        if part.kind == "text":
            continue
        if part.strip_left and index > 0 and out[index - 1].kind == "text":
            out[index - 1].text = out[index - 1].text.rstrip()
        if part.strip_right and index + 1 < len(out) and out[index + 1].kind == "text":
            out[index + 1].text = out[index + 1].text.lstrip()
    return out


def _parse_expression_text(source: str, node: Any) -> Tree:
    try:
        tree = _parse_cached(source)
    except Exception as exc:  # lark errors
        raise fail(node, f"cannot parse template expression {source.strip()!r}: {str(exc).splitlines()[0]}") from None
    return tree


_EXPR_CACHE: dict[str, Tree] = {}


def _parse_cached(source: str) -> Tree:
    if source not in _EXPR_CACHE:
        import hcl2

        tree = hcl2.parses_to_tree(f"__expr__ = {source.strip()}\n")
        attribute = next(c for c in tree.children[0].children if isinstance(c, Tree) and c.data == "attribute")
        _EXPR_CACHE[source] = _children(attribute)[-1]
    return _EXPR_CACHE[source]


def render_parts(parts: list[_Part], ctx: Context, node: Any) -> Any:
    parts = _apply_strips(parts)
    if len(parts) == 1 and parts[0].kind == "interp":
        return evaluate(_expr_of(parts[0], node), ctx)
    out, index = _render_range(parts, 0, ctx, node, stop=())
    if index != len(parts):
        raise fail(parts[index].node or node, f"unexpected %{{ {parts[index].kind} }} in template")
    return out


def _expr_of(part: _Part, node: Any) -> Tree:
    return part.expr if isinstance(part.expr, Tree) else _parse_expression_text(part.expr, part.node or node)


def _render_range(parts: list[_Part], index: int, ctx: Context, node: Any, stop: tuple[str, ...],
                  active: bool = True) -> tuple[str, int]:
    out: list[str] = []
    while index < len(parts):
        part = parts[index]
        if part.kind in stop:
            return "".join(out), index
        if part.kind == "text":
            if active:
                out.append(part.text)
            index += 1
        elif part.kind == "interp":
            if active:
                out.append(to_string(evaluate(_expr_of(part, node), ctx), part.node or node))
            index += 1
        elif part.kind == "if":
            condition = evaluate(_expr_of(part, node), ctx) if active else False
            if not isinstance(condition, bool):
                raise fail(part.node or node, f"an if directive needs a bool condition, got {type_name(condition)}")
            then_text, index = _render_range(parts, index + 1, ctx, node, ("else", "endif"), active and condition)
            else_text = ""
            if index < len(parts) and parts[index].kind == "else":
                else_text, index = _render_range(parts, index + 1, ctx, node, ("endif",), active and not condition)
            if index >= len(parts) or parts[index].kind != "endif":
                raise fail(part.node or node, "%{ if } without %{ endif }")
            out.append(then_text if condition else else_text)
            index += 1
        elif part.kind == "for":
            _, end = _find_end(parts, index + 1, part)
            if active:
                collection = evaluate(_expr_of(part, node), ctx)
                for key, value in _iterate(collection, part.node or node):
                    if len(part.names) == 1:
                        bindings = {part.names[0]: value}
                    else:
                        bindings = {part.names[0]: key, part.names[1]: value}
                    text, _ = _render_range(parts[:end], index + 1, ctx.child(**bindings), node, ("endfor",))
                    out.append(text)
            index = end + 1
        else:
            raise fail(part.node or node, f"unexpected %{{ {part.kind} }} in template")
    return "".join(out), index


def _find_end(parts: list[_Part], start: int, opener: _Part) -> tuple[None, int]:
    depth = 0
    for index in range(start, len(parts)):
        kind = parts[index].kind
        if kind == "for":
            depth += 1
        elif kind == "endfor":
            if depth == 0:
                return None, index
            depth -= 1
    raise fail(opener.node, "%{ for } without %{ endfor }")


def _iterate(collection: Any, node: Any) -> list[tuple[Any, Any]]:
    if isinstance(collection, list):
        return list(enumerate(collection))
    if isinstance(collection, dict):
        return sorted(collection.items())
    raise fail(node, f"cannot iterate over a {type_name(collection)} value")


def _heredoc(node: Tree, ctx: Context) -> Any:
    token = node.children[0]
    raw = str(token)
    trim = node.data == "heredoc_template_trim"
    header, _, rest = raw.partition("\n")
    marker = header[3:] if trim else header[2:]
    body_lines = rest.rstrip("\n").split("\n")
    if body_lines and body_lines[-1].strip() == marker.strip():
        body_lines = body_lines[:-1]
    if trim:
        indents = [len(line) - len(line.lstrip(" \t")) for line in body_lines if line.strip()]
        cut = min(indents) if indents else 0
        body_lines = [line[cut:] for line in body_lines]
    body = "\n".join(body_lines) + ("\n" if body_lines else "")
    return render_parts(scan_template(body, node), ctx, node)


# --------------------------------------------------------------------------- expressions

def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        value = float(text)
        return int(value) if value.is_integer() and "e" not in text.lower() and "." not in text else value


def _traversal(node: Tree) -> tuple[Any, list[tuple[str, Any, Any]]]:
    """Flatten ``a.b[0].c`` into its root expression and a list of steps ("attr"|"index", key, node)."""
    steps: list[tuple[str, Any, Any]] = []
    while isinstance(node, Tree) and node.data in ("get_attr_expr_term", "index_expr_term", "expr_term"):
        kids = _children(node)
        if node.data == "expr_term":
            if len(kids) == 1 and kids[0].data in ("get_attr_expr_term", "index_expr_term") and len(node.children) == 1:
                node = kids[0]
                continue
            break
        base, accessor = kids[0], kids[1]
        if node.data == "get_attr_expr_term":
            name_node = _children(accessor)[0]
            steps.append(("attr", str(name_node.children[0]), accessor))
        elif accessor.data == "short_index":
            token = next(t for t in accessor.children if isinstance(t, Token) and t.type == "INT_LITERAL")
            steps.append(("index", int(token), accessor))
        else:
            steps.append(("index", _children(accessor)[0], accessor))
        node = base
    steps.reverse()
    return node, steps


def _root_name(node: Any) -> str | None:
    if isinstance(node, Tree) and node.data == "expr_term" and len(node.children) == 1:
        node = node.children[0]
    if isinstance(node, Tree) and node.data == "identifier":
        return str(node.children[0])
    return None


def _toset(values: list[Any], node: Any) -> list[Any]:
    """A set as Terraform orders one: strings sorted, duplicates dropped (other element types are refused)."""
    if not all(isinstance(v, str) for v in values):
        raise fail(node, "toset is supported for strings only")
    return sorted(set(values))


def _step(value: Any, key: Any, node: Any) -> Any:
    if isinstance(value, dict):
        if not isinstance(key, str):
            key = to_string(key, node)
        if key not in value:
            raise fail(node, f"this object has no attribute or key {key!r}",
                       f"Known keys: {', '.join(sorted(map(str, value))) or '(none)'}.")
        return value[key]
    if isinstance(value, list):
        if isinstance(key, str) and key.lstrip("-").isdigit():
            key = int(key)
        if isinstance(key, float) and key.is_integer():
            key = int(key)
        if not isinstance(key, int) or isinstance(key, bool):
            raise fail(node, f"a list index must be a number, not {type_name(key)}")
        if not 0 <= key < len(value):
            raise fail(node, f"index {key} is out of range for a list of {len(value)} elements")
        return value[key]
    raise fail(node, f"cannot index a {type_name(value)} value")


def evaluate(node: Any, ctx: Context) -> Any:
    """The value of one expression tree."""
    if ctx.depth > 100:
        raise fail(node, "expression nested too deeply (or a reference cycle)")
    if isinstance(node, Token):
        raise fail(node, f"unexpected token {str(node)!r}")
    kind = node.data
    if kind == "expr_term":
        kids = _children(node)
        if len(kids) != 1:
            raise fail(node, "unsupported expression")
        return evaluate(kids[0], ctx)
    if kind == "int_lit" or kind == "float_lit":
        return _number(str(node.children[0]))
    if kind == "literal_value":
        text = str(node.children[0])
        return {"true": True, "false": False, "null": None}[text]
    if kind == "string":
        return render_parts(_string_parts(node), ctx, node)
    if kind == "template_string":
        return _unescape(str(node.children[0])[2:-2], node)
    if kind in ("heredoc_template", "heredoc_template_trim"):
        return _heredoc(node, ctx)
    if kind == "tuple":
        return [evaluate(child, ctx) for child in _children(node)]
    if kind == "object":
        out: dict[str, Any] = {}
        for elem in _children(node):
            key_node, value_node = _children(elem)
            key = _object_key(key_node, ctx)
            if key in out:
                raise fail(key_node, f"duplicate key {key!r} in an object")
            out[key] = evaluate(value_node, ctx)
        return out
    if kind == "identifier":
        name = str(node.children[0])
        if name in ctx.scope:
            return ctx.scope[name]
        value, _ = ctx.reference(name, [], node)
        return value
    if kind in ("get_attr_expr_term", "index_expr_term"):
        return _evaluate_traversal(node, ctx)
    if kind == "function_call":
        return _call(node, ctx)
    if kind == "conditional":
        condition, then_node, else_node = _children(node)
        test = evaluate(condition, ctx)
        if not isinstance(test, bool):
            raise fail(condition, f"the condition must be a bool, not {type_name(test)}")
        return evaluate(then_node if test else else_node, ctx)
    if kind == "binary_op":
        return _binary(node, ctx)
    if kind == "unary_op":
        operator = str(node.children[0])
        operand = evaluate(_children(node)[0], ctx)
        if operator == "!":
            if not isinstance(operand, bool):
                raise fail(node, f"! needs a bool, not {type_name(operand)}")
            return not operand
        if not isinstance(operand, (int, float)) or isinstance(operand, bool):
            raise fail(node, f"- needs a number, not {type_name(operand)}")
        return -operand
    if kind in ("for_tuple_expr", "for_object_expr"):
        return _for_expression(node, ctx)
    if kind in ("attr_splat_expr_term", "full_splat_expr_term"):
        raise fail(node, "splat expressions ([*], .*) are not supported offline",
                   "Write the list out, or use a for expression.")
    raise fail(node, f"unsupported expression ({kind.replace('_', ' ')})")


def _object_key(node: Tree, ctx: Context) -> str:
    kids = _children(node)
    inner = kids[0] if kids else node
    if inner.data == "keyword":
        return str(inner.children[0])
    name = _root_name(inner)
    if name is not None:
        return name
    if inner.data == "expr_term" and _children(inner) and _children(inner)[0].data == "literal_value":
        return str(_children(inner)[0].children[0])
    key = evaluate(inner, ctx)
    return to_string(key, node)


def _evaluate_traversal(node: Tree, ctx: Context) -> Any:
    root, steps = _traversal(node)
    name = _root_name(root)
    if name is not None and name not in ctx.scope:
        attrs: list[str] = []
        for step_kind, key, _ in steps:
            if step_kind != "attr":
                break
            attrs.append(key)
        value, consumed = ctx.reference(name, attrs, root)
        steps = steps[consumed:]
    else:
        value = evaluate(root, ctx)
    for step_kind, key, step_node in steps:
        if step_kind == "index" and isinstance(key, Tree):
            key = evaluate(key, ctx)
        value = _step(value, key, step_node)
    return value


_COMPARE = {"<": lambda a, b: a < b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b}


def _binary(node: Tree, ctx: Context) -> Any:
    left_node, term = _children(node)[:2]
    operator_node = next(c for c in term.children if isinstance(c, Tree) and c.data == "binary_operator")
    operator = str(operator_node.children[0])
    right_node = [c for c in _children(term) if c.data != "binary_operator"][0]
    if operator in ("&&", "||"):
        left = evaluate(left_node, ctx)
        if not isinstance(left, bool):
            raise fail(left_node, f"{operator} needs bools, not {type_name(left)}")
        if (operator == "&&" and not left) or (operator == "||" and left):
            return left
        right = evaluate(right_node, ctx)
        if not isinstance(right, bool):
            raise fail(right_node, f"{operator} needs bools, not {type_name(right)}")
        return right
    left = evaluate(left_node, ctx)
    right = evaluate(right_node, ctx)
    if operator == "==":
        return _equal(left, right)
    if operator == "!=":
        return not _equal(left, right)
    for value, side in ((left, left_node), (right, right_node)):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise fail(side, f"{operator} needs numbers, not {type_name(value)}")
    if operator in _COMPARE:
        return _COMPARE[operator](left, right)
    if operator == "+":
        return left + right
    if operator == "-":
        return left - right
    if operator == "*":
        return left * right
    if operator in ("/", "%"):
        if right == 0:
            raise fail(right_node, "division by zero")
        if operator == "%":
            return left % right
        result = left / right
        return int(result) if result.is_integer() else result
    raise fail(node, f"unsupported operator {operator}")


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def _for_expression(node: Tree, ctx: Context) -> Any:
    kids = _children(node)
    intro = kids[0]
    names = [str(c.children[0]) for c in _children(intro) if c.data == "identifier"]
    collection_node = [c for c in _children(intro) if c.data != "identifier"][0]
    collection = evaluate(collection_node, ctx)
    condition = next((c for c in kids if c.data == "for_cond"), None)
    body = [c for c in kids[1:] if c.data != "for_cond"]
    grouping = any(isinstance(t, Token) and t.type == "ELLIPSIS" for t in node.children)
    results_list: list[Any] = []
    results_map: dict[str, Any] = {}
    for key, value in _iterate(collection, collection_node):
        bindings = {names[0]: value} if len(names) == 1 else {names[0]: key, names[1]: value}
        inner = ctx.child(**bindings)
        if condition is not None:
            test = evaluate(_children(condition)[0], inner)
            if not isinstance(test, bool):
                raise fail(condition, f"a for condition must be a bool, not {type_name(test)}")
            if not test:
                continue
        if node.data == "for_tuple_expr":
            results_list.append(evaluate(body[0], inner))
        else:
            out_key = to_string(evaluate(body[0], inner), body[0])
            out_value = evaluate(body[1], inner)
            if grouping:
                results_map.setdefault(out_key, []).append(out_value)
            elif out_key in results_map:
                raise fail(body[0], f"duplicate key {out_key!r} in a for expression", "Use ... to group values.")
            else:
                results_map[out_key] = out_value
    return results_list if node.data == "for_tuple_expr" else results_map


# --------------------------------------------------------------------------- functions

def _read(path: Any, ctx: Context, node: Any) -> str:
    if not isinstance(path, str):
        raise fail(node, f"a path must be a string, not {type_name(path)}")
    full = path if os.path.isabs(path) else os.path.join(ctx.base_dir, path)
    try:
        with open(full, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise fail(node, f"cannot read {path}: {exc.strerror or exc}",
                   "Relative paths are relative to the working directory, as in Terraform; "
                   "use \"${path.module}/...\" for files next to the .tf file.") from None


def _jsonencode(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _need(value: Any, kinds: Any, what: str, node: Any) -> Any:
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,))):
        raise fail(node, f"{what}, not {type_name(value)}")
    return value


def _fn_jsondecode(args: list[Any], ctx: Context, node: Any) -> Any:
    text = _need(args[0], str, "jsondecode needs a string", node)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(node, f"jsondecode: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None


def _fn_templatefile(args: list[Any], ctx: Context, node: Any) -> Any:
    text = _read(args[0], ctx, node)
    bindings = _need(args[1], dict, "templatefile needs a map of variables as its second argument", node)
    template_ctx = Context(_no_references, ctx.base_dir, dict(bindings), ctx.depth + 1)
    try:
        return render_parts(scan_template(text, node), template_ctx, node)
    except EvalError as exc:
        raise fail(node, f"in template {args[0]}: {exc}", exc.detail) from None


def _no_references(name: str, attrs: list[str], node: Any) -> tuple[Any, int]:
    raise fail(node, f"{name!r} is not a template variable", "Pass it in templatefile's variables map.")


def _fn_lookup(args: list[Any], ctx: Context, node: Any) -> Any:
    mapping = _need(args[0], dict, "lookup needs a map", node)
    if args[1] in mapping:
        return mapping[args[1]]
    if len(args) > 2:
        return args[2]
    raise fail(node, f"lookup: no key {args[1]!r} and no default")


def _fn_coalesce(args: list[Any], ctx: Context, node: Any) -> Any:
    for value in args:
        if value is not None and value != "":
            return value
    raise fail(node, "coalesce: every argument is null or empty")


def _fn_merge(args: list[Any], ctx: Context, node: Any) -> Any:
    out: dict[str, Any] = {}
    for value in args:
        if value is None:
            continue
        out.update(_need(value, dict, "merge needs maps", node))
    return out


def _fn_concat(args: list[Any], ctx: Context, node: Any) -> Any:
    out: list[Any] = []
    for value in args:
        out.extend(_need(value, list, "concat needs lists", node))
    return out


def _fn_tonumber(args: list[Any], ctx: Context, node: Any) -> Any:
    value = args[0]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return _number(value)
        except ValueError:
            pass
    raise fail(node, f"tonumber: cannot convert {value!r} to a number")


def _fn_tobool(args: list[Any], ctx: Context, node: Any) -> Any:
    value = args[0]
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise fail(node, f"tobool: cannot convert {value!r} to a bool")


def _fn_length(args: list[Any], ctx: Context, node: Any) -> Any:
    return len(_need(args[0], (str, list, dict), "length needs a string, list or map", node))


def _fn_replace(args: list[Any], ctx: Context, node: Any) -> Any:
    text, search, repl = (_need(a, str, "replace needs strings", node) for a in args[:3])
    if len(search) > 1 and search.startswith("/") and search.endswith("/"):
        raise fail(node, "replace with a regular expression is not supported offline")
    return text.replace(search, repl)


FUNCTIONS: dict[str, tuple[int, int, Callable[[list[Any], Context, Any], Any]]] = {
    "jsonencode": (1, 1, lambda a, c, n: _jsonencode(a[0])),
    "jsondecode": (1, 1, _fn_jsondecode),
    "file": (1, 1, lambda a, c, n: _read(a[0], c, n)),
    "templatefile": (2, 2, _fn_templatefile),
    "merge": (0, 99, _fn_merge),
    "concat": (0, 99, _fn_concat),
    "lookup": (2, 3, _fn_lookup),
    "coalesce": (1, 99, _fn_coalesce),
    "tostring": (1, 1, lambda a, c, n: None if a[0] is None else to_string(a[0], n)),
    "tonumber": (1, 1, _fn_tonumber),
    "tobool": (1, 1, _fn_tobool),
    "tolist": (1, 1, lambda a, c, n: list(_need(a[0], list, "tolist needs a list", n))),
    "toset": (1, 1, lambda a, c, n: _toset(_need(a[0], list, "toset needs a list", n), n)),
    "tomap": (1, 1, lambda a, c, n: dict(_need(a[0], dict, "tomap needs a map", n))),
    "length": (1, 1, _fn_length),
    "lower": (1, 1, lambda a, c, n: _need(a[0], str, "lower needs a string", n).lower()),
    "upper": (1, 1, lambda a, c, n: _need(a[0], str, "upper needs a string", n).upper()),
    "trimspace": (1, 1, lambda a, c, n: _need(a[0], str, "trimspace needs a string", n).strip()),
    "join": (2, 2, lambda a, c, n: _need(a[0], str, "join needs a separator string", n).join(
        to_string(x, n) for x in _need(a[1], list, "join needs a list", n))),
    "split": (2, 2, lambda a, c, n: _need(a[1], str, "split needs a string", n).split(_need(a[0], str, "split needs a separator", n))),
    "replace": (3, 3, _fn_replace),
    "keys": (1, 1, lambda a, c, n: sorted(_need(a[0], dict, "keys needs a map", n))),
    "values": (1, 1, lambda a, c, n: [v for _, v in sorted(_need(a[0], dict, "values needs a map", n).items())]),
    "contains": (2, 2, lambda a, c, n: any(_equal(x, a[1]) for x in _need(a[0], list, "contains needs a list", n))),
    "min": (1, 99, lambda a, c, n: min(a)),
    "max": (1, 99, lambda a, c, n: max(a)),
    "abs": (1, 1, lambda a, c, n: abs(_need(a[0], (int, float), "abs needs a number", n))),
    "floor": (1, 1, lambda a, c, n: math.floor(_need(a[0], (int, float), "floor needs a number", n))),
    "ceil": (1, 1, lambda a, c, n: math.ceil(_need(a[0], (int, float), "ceil needs a number", n))),
}


def _call(node: Tree, ctx: Context) -> Any:
    kids = _children(node)
    names = [str(c.children[0]) for c in kids if c.data == "identifier"]
    name = "::".join(names)
    arguments = next((c for c in kids if c.data == "arguments"), None)
    arg_nodes = _children(arguments) if arguments is not None else []
    if arguments is not None and any(isinstance(t, Token) and t.type == "ELLIPSIS" for t in arguments.children):
        raise fail(node, "argument expansion (...) is not supported offline")
    if name not in FUNCTIONS:
        raise fail(node, f"function {name}() is not supported offline",
                   "Supported functions: " + ", ".join(sorted(FUNCTIONS)) + ".")
    low, high, implementation = FUNCTIONS[name]
    if not low <= len(arg_nodes) <= high:
        expected = str(low) if low == high else f"{low} to {high}"
        raise fail(node, f"{name}() takes {expected} argument(s), got {len(arg_nodes)}")
    args = [evaluate(arg, ctx) for arg in arg_nodes]
    try:
        return implementation(args, ctx, node)
    except EvalError:
        raise
    except (TypeError, ValueError) as exc:
        raise fail(node, f"{name}(): {exc}") from None


def parse_value_text(text: str, ctx: Context) -> Any:
    """Evaluate a ``-var`` value of a complex type (list, map, object) written in HCL."""
    return evaluate(_parse_cached(text), ctx)


def attribute_map(body: Tree) -> Mapping[str, Tree]:
    return {str(_children(a)[0].children[0]): a for a in _children(body) if a.data == "attribute"}
