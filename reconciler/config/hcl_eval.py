"""A safe evaluator for the subset of HCL expressions a pools config needs.

Owns: evaluating python-hcl2's lark parse tree (never ``eval``): literals,
lists and maps, string templates (``${...}``, ``%{ if }``/``%{ for }``), heredocs,
arithmetic/comparison/logic operators, conditionals, ``for`` expressions,
indexing, attribute access and splats, ``var.*``, ``local.*``, ``path.*``, references
to declared resources' attributes, Terraform's conversions (a numeric string in
arithmetic, a conditional's results unified), ``try``/``can``, ``file``/``templatefile``
and the pure functions of :mod:`reconciler.config.hcl_functions`. Anything else raises
:class:`EvalError` carrying the line and column; an error marked ``static`` (a
reference to something undeclared, a construct poolform cannot evaluate) is never
swallowed by ``try``/``can``, as in Terraform. The caller supplies lookups for
variables, locals and resources; this module reads files only for
``file``/``templatefile``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from lark import Token, Tree

from reconciler.config.hcl_functions import FUNCTIONS as PURE_FUNCTIONS
from reconciler.config.hcl_functions import KNOWN_ONLY_AT_APPLY
from reconciler.config.hcl_values import (
    HclValueError,
    SetValue,
    arithmetic,
    equal,
    format_number,
    is_number,
    jsondecode,
    jsonencode,
    normal_number,
    to_bool,
    to_num,
    type_name,
    unify,
)


class EvalError(Exception):
    """An expression that cannot be evaluated offline; ``line``/``column`` are 1-based (0 when unknown).

    ``static``: the expression can never be evaluated (an undeclared name, something poolform does
    not evaluate), so ``try``/``can`` must not hide it.
    """

    def __init__(self, message: str, line: int = 0, column: int = 0, detail: str = "", static: bool = False) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.detail = detail
        self.static = static


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


def unsupported(node: Any, message: str, detail: str = "") -> EvalError:
    """An error that ``try``/``can`` never hide: the expression can never be evaluated here."""
    line, column = position(node)
    return EvalError(message, line, column, detail, static=True)


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


def to_string(value: Any, node: Any) -> str:
    """HCL's conversion of a value into a template/string."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return format_number(value)
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
    from decimal import Decimal

    return normal_number(Decimal(text))


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


def _step(value: Any, key: Any, node: Any) -> Any:
    if isinstance(value, dict):
        if not isinstance(key, str):
            key = to_string(key, node)
        if key not in value:
            raise fail(node, f"this object has no attribute or key {key!r}",
                       f"Known keys: {', '.join(sorted(map(str, value))) or '(none)'}.")
        return value[key]
    if isinstance(value, SetValue):
        raise fail(node, "a set cannot be indexed (its elements have no position)",
                   "Convert it with tolist(...), or use for_each over it.")
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
        return _conditional(node, ctx)
    if kind == "binary_op":
        return _binary(node, ctx)
    if kind == "unary_op":
        operator = str(node.children[0])
        operand = evaluate(_children(node)[0], ctx)
        try:
            if operator == "!":
                return not to_bool(operand, "the operand of !")
            return arithmetic("-", 0, to_num(operand, "the operand of -"))
        except HclValueError as exc:
            raise fail(node, str(exc)) from None
    if kind in ("for_tuple_expr", "for_object_expr"):
        return _for_expression(node, ctx)
    if kind in ("attr_splat_expr_term", "full_splat_expr_term"):
        return _splat(node, ctx)
    raise unsupported(node, f"unsupported expression ({kind.replace('_', ' ')})")


def _conditional(node: Tree, ctx: Context) -> Any:
    """``c ? a : b``; like Terraform, a string result and a number or bool result unify to string."""
    condition, then_node, else_node = _children(node)
    test = evaluate(condition, ctx)
    try:
        test = to_bool(test, "the condition")
    except HclValueError as exc:
        raise fail(condition, str(exc)) from None
    chosen, other = (then_node, else_node) if test else (else_node, then_node)
    value = evaluate(chosen, ctx)
    try:
        other_value = evaluate(other, ctx)
    except EvalError as exc:
        if exc.static:
            raise  # Terraform checks both results: an undeclared name is an error on either side
        return value
    if value is None or isinstance(value, (list, dict)):
        return value
    if other_value is None or type_name(other_value) == type_name(value) or isinstance(other_value, (list, dict)):
        return value
    try:
        return unify([value, other_value], "the results of a conditional")[0]
    except HclValueError as exc:
        raise fail(node, str(exc)) from None


def _splat(node: Tree, ctx: Context) -> Any:
    """``x[*].a`` and ``x.*.a``: the traversal after the splat applied to each element (a non-list
    value is a list of one, null a list of none)."""
    base, splat = _children(node)
    collection = evaluate(base, ctx)
    if collection is None:
        return []
    items = collection if isinstance(collection, list) else [collection]
    steps = [c for c in _children(splat)]
    each = steps
    rest: list[Any] = []
    if node.data == "attr_splat_expr_term":
        cut = next((i for i, s in enumerate(steps) if s.data != "get_attr"), len(steps))
        each, rest = steps[:cut], steps[cut:]
    out = []
    for item in items:
        for step in each:
            item = _apply_step(item, step, ctx)
        out.append(item)
    result: Any = out
    for step in rest:
        result = _apply_step(result, step, ctx)
    return result


def _apply_step(value: Any, step: Tree, ctx: Context) -> Any:
    if step.data == "get_attr":
        return _step(value, str(_children(step)[0].children[0]), step)
    inner = _children(step)[0]
    if inner.data == "short_index":
        token = next(t for t in inner.children if isinstance(t, Token) and t.type == "INT_LITERAL")
        return _step(value, int(token), inner)
    return _step(value, evaluate(_children(inner)[0], ctx), inner)


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
        left = _operand(evaluate(left_node, ctx), to_bool, operator, left_node)
        if (operator == "&&" and not left) or (operator == "||" and left):
            return left
        return _operand(evaluate(right_node, ctx), to_bool, operator, right_node)
    left = evaluate(left_node, ctx)
    right = evaluate(right_node, ctx)
    if operator == "==":
        return equal(left, right)
    if operator == "!=":
        return not equal(left, right)
    left = _operand(left, to_num, operator, left_node)
    right = _operand(right, to_num, operator, right_node)
    if operator in _COMPARE:
        from reconciler.config.hcl_values import decimal_of

        return _COMPARE[operator](decimal_of(left), decimal_of(right))
    try:
        return arithmetic(operator, left, right)
    except HclValueError as exc:
        raise fail(right_node if "zero" in str(exc) else node, str(exc)) from None


def _operand(value: Any, convert: Callable[[Any, str], Any], operator: str, node: Any) -> Any:
    """An operand converted as Terraform converts it (``"5" + 1`` is 6); a clear error otherwise."""
    try:
        return convert(value, f"the operand of {operator}")
    except HclValueError:
        wanted = "bools" if convert is to_bool else "numbers"
        raise fail(node, f"{operator} needs {wanted}, not {type_name(value)}"
                   + (f" ({json.dumps(value, ensure_ascii=False)})" if isinstance(value, str) else "")) from None


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
    """``file()``/``templatefile()``: read under the load's read policy (reconciler.config.files)."""
    from reconciler.config.files import ReadRefused, read_confined

    if not isinstance(path, str):
        raise fail(node, f"a path must be a string, not {type_name(path)}")
    full = path if os.path.isabs(path) else os.path.join(ctx.base_dir, path)
    try:
        return read_confined(full, display=path)
    except ReadRefused as refused:
        error = fail(node, refused.summary, refused.detail or (
            "Relative paths are relative to the working directory, as in Terraform; "
            "use \"${path.module}/...\" for files next to the .tf file."))
        error.code = refused.code  # type: ignore[attr-defined]
        raise error from None


def _need(value: Any, kinds: Any, what: str, node: Any) -> Any:
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,))):
        raise fail(node, f"{what}, not {type_name(value)}")
    return value


def _fn_templatefile(args: list[Any], ctx: Context, node: Any) -> Any:
    from reconciler.config.files import MAX_FILE_BYTES

    text = _read(args[0], ctx, node)
    bindings = _need(args[1], dict, "templatefile needs a map of variables as its second argument", node)
    template_ctx = Context(_no_references, ctx.base_dir, dict(bindings), ctx.depth + 1)
    try:
        result = render_parts(scan_template(text, node), template_ctx, node)
    except EvalError as exc:
        raise fail(node, f"in template {args[0]}: {exc}", exc.detail) from None
    if isinstance(result, str) and len(result) > MAX_FILE_BYTES:
        error = fail(node, f"templatefile({args[0]}) renders {len(result):,} characters, over {MAX_FILE_BYTES:,}",
                     "Loops in the template multiply its text; render less.")
        error.code = "input_too_large"  # type: ignore[attr-defined]
        raise error
    return result


def _no_references(name: str, attrs: list[str], node: Any) -> tuple[Any, int]:
    raise fail(node, f"{name!r} is not a template variable", "Pass it in templatefile's variables map.")


def _fn_jsondecode(args: list[Any], ctx: Context, node: Any) -> Any:
    text = _need(args[0], str, "jsondecode needs a string", node)
    return jsondecode(text)


def _functions() -> dict[str, tuple[int, int, Callable[[list[Any], Context, Any], Any]]]:
    table: dict[str, tuple[int, int, Callable[[list[Any], Context, Any], Any]]] = {
        name: (low, high, (lambda f: lambda a, c, n: f(a))(fn)) for name, (low, high, fn) in PURE_FUNCTIONS.items()}
    table.update({
        "jsondecode": (1, 1, _fn_jsondecode),
        "file": (1, 1, lambda a, c, n: _read(a[0], c, n)),
        "templatefile": (2, 2, _fn_templatefile),
    })
    return table


FUNCTIONS = _functions()
SPECIAL_FORMS = ("try", "can")
"""Functions that take their arguments unevaluated."""


def _call(node: Tree, ctx: Context) -> Any:
    kids = _children(node)
    names = [str(c.children[0]) for c in kids if c.data == "identifier"]
    name = "::".join(names)
    arguments = next((c for c in kids if c.data == "arguments"), None)
    arg_nodes = _children(arguments) if arguments is not None else []
    expand = arguments is not None and any(isinstance(t, Token) and t.type == "ELLIPSIS" for t in arguments.children)
    if name in SPECIAL_FORMS:
        return _try_or_can(name, node, arg_nodes, ctx)
    if name in KNOWN_ONLY_AT_APPLY:
        raise unsupported(node, f"{name}() is known only during apply",
                          "poolform plans from values known before apply, and this one changes on every run. "
                          "Write the value, or pass it with --var.")
    if name not in FUNCTIONS:
        detail = "Supported functions: " + ", ".join(sorted([*FUNCTIONS, *SPECIAL_FORMS])) + "."
        if "::" in name:
            detail = "Provider-defined functions need their provider; poolform evaluates built-in functions only. " + detail
        raise unsupported(node, f"function {name}() is not supported offline", detail)
    low, high, implementation = FUNCTIONS[name]
    args = [evaluate(arg, ctx) for arg in arg_nodes]
    if expand:
        if not args or not isinstance(args[-1], list):
            raise fail(arg_nodes[-1] if arg_nodes else node, "the argument before ... must be a list")
        args = args[:-1] + args[-1]
    if not low <= len(args) <= high:
        expected = str(low) if low == high else (f"at least {low}" if high >= 255 else f"{low} to {high}")
        raise unsupported(node, f"{name}() takes {expected} argument(s), got {len(args)}")
    try:
        return implementation(args, ctx, node)
    except EvalError:
        raise
    except HclValueError as exc:
        raise fail(node, f"{name}(): {exc}") from None
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise fail(node, f"{name}(): {exc}") from None


def _try_or_can(name: str, node: Tree, arg_nodes: list[Any], ctx: Context) -> Any:
    """``try(a, b, ...)``: the first argument that evaluates without error; ``can(a)``: whether it does.
    Static errors (undeclared names, constructs poolform cannot evaluate) are never hidden."""
    if name == "can" and len(arg_nodes) != 1:
        raise unsupported(node, f"can() takes 1 argument, got {len(arg_nodes)}")
    if name == "try" and not arg_nodes:
        raise unsupported(node, "try() needs at least one argument")
    last: EvalError | None = None
    for arg in arg_nodes:
        try:
            value = evaluate(arg, ctx)
        except EvalError as exc:
            if exc.static:
                raise
            last = exc
            continue
        return True if name == "can" else value
    if name == "can":
        return False
    assert last is not None
    raise fail(node, "try(): no argument could be evaluated without an error",
               f"The last one failed with: {last}") from None


def parse_value_text(text: str, ctx: Context) -> Any:
    """Evaluate a ``-var`` value of a complex type (list, map, object) written in HCL."""
    return evaluate(_parse_cached(text), ctx)


def attribute_map(body: Tree) -> Mapping[str, Tree]:
    return {str(_children(a)[0].children[0]): a for a in _children(body) if a.data == "attribute"}
