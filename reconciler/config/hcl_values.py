"""HCL values as Terraform sees them: numbers, strings, conversions, equality, JSON.

Owns: the value model of :mod:`reconciler.config.hcl_eval` (Python ``str``, ``int``/``float``,
``bool``, ``None``, ``list``, ``dict``), Terraform's conversions between them (a number or
bool where a string is wanted, a numeric string where a number is wanted, element types
unified in lists and maps), number formatting (never an exponent, as Terraform prints
them), equality without conversion, and ``jsonencode``'s exact text. Integral numbers are
``int``; arithmetic goes through ``Decimal`` so ``0.1 + 0.2`` is ``0.3`` as in Terraform
(whose numbers are arbitrary precision; ours are exact for integers and IEEE doubles
otherwise). Pure: no I/O, no parse trees.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any


class HclValueError(Exception):
    """A value that cannot be converted or computed; the caller adds the position."""


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


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def normal_number(value: int | float | Decimal) -> int | float:
    """An integral value as ``int`` (exactly, however large), else a ``float``."""
    if isinstance(value, bool):
        raise HclValueError("a bool is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise HclValueError("the result is not a finite number")
        decimal = Decimal(repr(value))
    else:
        decimal = value
    if not decimal.is_finite():
        raise HclValueError("the result is not a finite number")
    if decimal == decimal.to_integral_value():
        return int(decimal)
    return float(decimal)


def decimal_of(value: int | float) -> Decimal:
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def arithmetic(operator: str, left: int | float, right: int | float) -> int | float:
    """``+ - * / %`` with Terraform's results (``%`` keeps the dividend's sign, as Go's)."""
    a, b = decimal_of(left), decimal_of(right)
    with localcontext() as ctx:
        ctx.prec = 60
        if operator == "+":
            result = a + b
        elif operator == "-":
            result = a - b
        elif operator == "*":
            result = a * b
        elif operator == "/":
            if b == 0:
                raise HclValueError("division by zero")
            result = a / b
        elif operator == "%":
            if b == 0:
                # Terraform answers x % 0 with x (big.Float has no remainder by zero)
                return normal_number(a)
            result = a - b * (a / b).to_integral_value(rounding="ROUND_DOWN")
        else:  # pragma: no cover - the grammar has no other operators
            raise HclValueError(f"unsupported operator {operator}")
    return normal_number(result)


_NUMBER_RE = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


def parse_number(text: str) -> int | float:
    """A number written in a string, as ``tonumber`` reads one (no spaces, no hex, no ``_``)."""
    if not _NUMBER_RE.fullmatch(text):
        raise HclValueError(f"cannot convert {json.dumps(text, ensure_ascii=False)} to a number")
    try:
        return normal_number(Decimal(text))
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise HclValueError(f"cannot convert {text!r} to a number") from None


def format_number(value: int | float) -> str:
    """Terraform's text of a number: integers exactly, fractions in plain decimal (no exponent)."""
    if isinstance(value, int):
        return str(value)
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def to_str(value: Any, what: str = "value") -> str:
    """A string argument: strings as they are, numbers and bools converted; null and collections refused."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return format_number(value)
    if value is None:
        raise HclValueError(f"{what} must not be null")
    raise HclValueError(f"{what} must be a string, not {type_name(value)}")


def to_num(value: Any, what: str = "value") -> int | float:
    if is_number(value):
        return value
    if isinstance(value, str):
        return parse_number(value)
    if value is None:
        raise HclValueError(f"{what} must not be null")
    raise HclValueError(f"{what} must be a number, not {type_name(value)}")


def to_bool(value: Any, what: str = "value") -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    if value is None:
        raise HclValueError(f"{what} must not be null")
    raise HclValueError(f"{what} must be a bool, not {type_name(value)}")


def equal(a: Any, b: Any) -> bool:
    """``==``: equal types and values, no conversion (``1 == "1"`` is false; ``1 == 1.0`` is true)."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if is_number(a) and is_number(b):
        return decimal_of(a) == decimal_of(b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return False


# --------------------------------------------------------------------------- type unification

def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, (str, bool)) or is_number(value):
        return "primitive"
    return "list" if isinstance(value, list) else "map"


def unify(values: list[Any], what: str = "elements") -> list[Any]:
    """Values converted to one type, as Terraform does for a list, set or map's elements.

    Strings, numbers and bools mixed become strings (a number and a bool cannot meet);
    collections unify element by element; a primitive cannot meet a collection.
    """
    present = [v for v in values if v is not None]
    if not present:
        return list(values)
    kinds = {_kind(v) for v in present}
    if len(kinds) > 1:
        raise HclValueError(f"all {what} must have the same type (found {', '.join(sorted(type_name(v) for v in present[:4]))})")
    kind = kinds.pop()
    if kind == "primitive":
        types = {type_name(v) for v in present}
        if len(types) == 1:
            return list(values)
        if types == {"number", "bool"}:
            raise HclValueError(f"all {what} must have the same type (a number and a bool cannot be unified)")
        return [None if v is None else to_str(v) for v in values]
    if kind == "list":
        return _redistribute(values, unify([x for v in present for x in v], what))
    keys = [tuple(sorted(v)) for v in present]
    if len(set(keys)) == 1:
        columns = {k: unify([v[k] for v in present], what) for k in present[0]}
        out, row = [], 0
        for v in values:
            if v is None:
                out.append(None)
            else:
                out.append({k: columns[k][row] for k in v})
                row += 1
        return out
    # maps of different shapes: a map of maps with one element type
    return _redistribute(values, unify([x for v in present for x in v.values()], what))


def _redistribute(values: list[Any], elements: list[Any]) -> list[Any]:
    """Put unified ``elements`` back into the collections of ``values`` they came from, in order."""
    out: list[Any] = []
    index = 0
    for v in values:
        if v is None:
            out.append(None)
        elif isinstance(v, list):
            out.append(elements[index:index + len(v)])
            index += len(v)
        else:
            out.append(dict(zip(v, elements[index:index + len(v)])))
            index += len(v)
    return out


def to_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise HclValueError(f"a list is required, not {type_name(value)}")
    return unify(value)


def to_map(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise HclValueError(f"a map is required, not {type_name(value)}")
    keys = list(value)
    return dict(zip(keys, unify([value[k] for k in keys], "map values")))


class SetValue(list):  # type: ignore[type-arg]
    """A set: a list in Terraform's order that cannot be indexed (``index``, ``element``, ``[0]`` refuse it)."""


def to_set(value: Any) -> list[Any]:
    """A set as a list in Terraform's order: strings sorted, numbers ascending, other elements deduplicated."""
    items = to_list(value)
    out: list[Any] = []
    for item in items:
        if not any(equal(item, seen) for seen in out):
            out.append(item)
    if all(isinstance(v, str) for v in out):
        out = sorted(out)
    elif all(is_number(v) for v in out):
        out = sorted(out, key=decimal_of)
    return SetValue(out)


# --------------------------------------------------------------------------- JSON

_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_JSON_SPECIAL = re.compile("[<>&\u2028\u2029]")


def _json_string(text: str) -> str:
    return _JSON_SPECIAL.sub(lambda m: _JSON_ESCAPES[m.group(0)], json.dumps(text, ensure_ascii=False))


def jsonencode(value: Any) -> str:
    """``jsonencode``: compact, keys sorted, ``< > &`` escaped as Go's encoder does, numbers never in exponent form."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return format_number(value)
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, list):
        return "[" + ",".join(jsonencode(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(_json_string(str(k)) + ":" + jsonencode(value[k]) for k in sorted(value)) + "}"
    raise HclValueError(f"cannot encode a {type_name(value)} as JSON")


def jsondecode(text: str) -> Any:
    """``jsondecode``: numbers normalized (integral ones as ``int``); ``NaN``/``Infinity`` refused."""
    def constant(name: str) -> Any:
        raise HclValueError(f"{name} is not valid JSON")

    try:
        return json.loads(text, parse_float=lambda s: normal_number(Decimal(s)), parse_constant=constant)
    except json.JSONDecodeError as exc:
        raise HclValueError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
