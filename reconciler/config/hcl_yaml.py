"""``yamldecode`` and ``yamlencode`` with Terraform's results (its YAML codec, not PyYAML's).

Owns: reading one YAML document into HCL values with Terraform's scalar resolution
(YAML 1.1 booleans ``yes``/``no``/``on``/``off``, ``0x``/``0o`` integers, timestamps as
RFC 3339 strings, ``!!str``/``!!binary`` kept as text, custom tags, NaN, infinity, complex
keys and several documents refused), bounded so aliases cannot blow it up; and writing
values as Terraform's encoder does (every string double-quoted unless a multi-line one
fits a literal block, keys sorted, long quoted strings folded at 80 columns, sequences
not indented under a mapping key). PyYAML is used only to parse. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from reconciler.config.hcl_values import HclValueError, format_number, is_number, to_str

MAX_VALUES = 200_000
"""At most this many values (aliases counted each time they are used) from one ``yamldecode``."""

_STR = "tag:yaml.org,2002:str"
_PLAIN = "!poolform/plain"

_BOOLS = {**{s: True for s in ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON")},
          **{s: False for s in ("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF")}}
_NULLS = {"", "~", "null", "Null", "NULL"}
_INFINITIES = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF"}
_NANS = {".nan", ".NaN", ".NAN"}
_DECIMAL = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_PREFIXED_INT = re.compile(r"()0([xXoO])([0-9a-fA-F_]+)")
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d{1,9})?(Z|[-+]\d{2}:\d{2}))"
    r"|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d{1,9})?))?")


def _loader() -> Any:
    import yaml

    class Loader(yaml.SafeLoader):
        """Composes nodes only; every plain scalar is resolved here, not by PyYAML (YAML 1.1 rules differ)."""

        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            if kind is yaml.ScalarNode:
                return _PLAIN if implicit[0] else _STR
            return super().resolve(kind, value, implicit)

    return Loader


def yamldecode(text: str) -> Any:
    import yaml

    try:
        documents = list(yaml.compose_all(text, Loader=_loader()))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise HclValueError(f"invalid YAML{where}: {problem}") from None
    if not documents:
        raise HclValueError("the YAML holds no document")
    if len(documents) > 1:
        raise HclValueError(f"the YAML holds {len(documents)} documents; yamldecode reads exactly one")
    return _Decoder().value(documents[0], ())


class _Decoder:
    def __init__(self) -> None:
        self.count = 0

    def value(self, node: Any, stack: tuple[int, ...]) -> Any:
        import yaml

        self.count += 1
        if self.count > MAX_VALUES:
            raise HclValueError(f"the YAML expands to more than {MAX_VALUES} values (through aliases?); "
                                "yamldecode stops there")
        if id(node) in stack:
            raise HclValueError("the YAML refers to itself through an alias")
        stack = stack + (id(node),)
        if isinstance(node, yaml.ScalarNode):
            return _scalar(node)
        if isinstance(node, yaml.SequenceNode):
            if node.tag not in ("tag:yaml.org,2002:seq",):
                raise HclValueError(f"unsupported YAML tag {node.tag!r}")
            return [self.value(item, stack) for item in node.value]
        if node.tag not in ("tag:yaml.org,2002:map",):
            raise HclValueError(f"unsupported YAML tag {node.tag!r}")
        out: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _PLAIN and key_node.value == "<<":
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for source in sources:
                    merged_value = self.value(source, stack)
                    if not isinstance(merged_value, dict):
                        raise HclValueError("a YAML merge key (<<) needs a mapping")
                    for k, v in merged_value.items():
                        merged.setdefault(k, v)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise HclValueError("YAML mapping keys must be scalars (a complex key cannot be an HCL map key)")
            key = _scalar(key_node)
            out["" if key is None else to_str(key)] = self.value(value_node, stack)
        return {**merged, **out} if merged else out


def _scalar(node: Any) -> Any:
    text, tag = node.value, node.tag
    if tag == _STR:
        return text
    if tag == "tag:yaml.org,2002:binary":
        try:
            base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            raise HclValueError(f"cannot read {text!r} as !!binary: not valid base64") from None
        return text
    if tag == _PLAIN:
        return _resolve_plain(text)
    if tag == "tag:yaml.org,2002:bool":
        if text not in _BOOLS:
            raise HclValueError(f"cannot read {text!r} as !!bool")
        return _BOOLS[text]
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
        number = _number(text)
        if number is None:
            raise HclValueError(f"cannot read {text!r} as a number")
        return number
    if tag == "tag:yaml.org,2002:timestamp":
        stamp = _timestamp(text)
        if stamp is None:
            raise HclValueError(f"cannot read {text!r} as !!timestamp")
        return stamp
    raise HclValueError(f"unsupported YAML tag {tag!r}")


def _resolve_plain(text: str) -> Any:
    if text in _BOOLS:
        return _BOOLS[text]
    if text in _NULLS:
        return None
    if text in _INFINITIES or text in _NANS:
        raise HclValueError(f"{text} is not a number HCL can hold")
    if text[:1] in "+-0123456789":
        stamp = _timestamp(text)
        if stamp is not None:
            return stamp
        number = _number(text)
        if number is not None:
            return number
    elif text[:1] == "." and _DECIMAL.fullmatch(text):
        return _number(text)
    return text


def _number(text: str) -> Any:
    from reconciler.config.hcl_values import parse_number

    if _DECIMAL.fullmatch(text):
        return parse_number(text)
    match = _PREFIXED_INT.fullmatch(text)
    if match:
        sign, base, digits = match.groups()
        try:
            value = int(digits.replace("_", ""), {"x": 16, "o": 8}[base.lower()])
        except ValueError:
            return None
        return -value if sign == "-" else value
    return None


def _timestamp(text: str) -> str | None:
    match = _TIMESTAMP.fullmatch(text)
    if not match:
        return None
    year, month, day = (int(g) for g in match.group(1, 2, 3))
    try:
        if match.group(4) is not None:
            hour, minute, second = (int(g) for g in match.group(4, 5, 6))
            zone = match.group(7)
            tz = timezone.utc if zone == "Z" else timezone(
                (-1 if zone[0] == "-" else 1) * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        elif match.group(8) is not None:
            hour, minute, second = (int(g) for g in match.group(8, 9, 10))
            tz = timezone.utc
        else:
            hour = minute = second = 0
            tz = timezone.utc
        stamp = datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError:
        return None
    text = stamp.strftime("%Y-%m-%dT%H:%M:%S")
    offset = stamp.utcoffset() or timedelta(0)
    if offset == timedelta(0) and (match.group(7) in (None, "Z")):
        return text + "Z"
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


# --------------------------------------------------------------------------- encoding

_WIDTH = 80
_ESCAPES = {"\0": "\\0", "\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f",
            "\r": "\\r", "\x1b": "\\e", '"': '\\"', "\\": "\\\\", "\x85": "\\N", "\u2028": "\\L", "\u2029": "\\P"}
_BREAKS = "\n\r\x85\u2028\u2029"


def _printable(ch: str) -> bool:
    code = ord(ch)
    return (code == 0x0A or 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF
            or (0xE000 <= code <= 0xFFFD and code != 0xFEFF))


def _escape(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02X}"
    if code <= 0xFFFF:
        return f"\\u{code:04X}"
    return f"\\U{code:08X}"


def _double_quoted(text: str, column: int, indent: int, breaks: bool) -> str:
    """A double-quoted scalar starting at ``column``; long ones fold at a space past 80 columns."""
    out = ['"']
    column += 1
    previous_space = False
    i = 0
    while i < len(text):
        ch = text[i]
        if not _printable(ch) or ch in _BREAKS or ch in '"\\':
            piece = _escape(ch)
            out.append(piece)
            column += len(piece)
            previous_space = False
        elif ch == " ":
            if breaks and not previous_space and column > _WIDTH and 0 < i < len(text) - 1:
                out.append("\n" + " " * indent)
                column = indent
                if text[i + 1] == " ":
                    out.append("\\")
                    column += 1
            else:
                out.append(ch)
                column += 1
            previous_space = True
        else:
            out.append(ch)
            column += 1
            previous_space = False
        i += 1
    out.append('"')
    return "".join(out)


def _literal_allowed(text: str) -> bool:
    if "\n" not in text:
        return False
    if any(not _printable(ch) for ch in text) or any(ch in "\r\x85\u2028\u2029" for ch in text):
        return False
    if text.endswith(" ") or " \n" in text:
        return False
    return True


def _literal(text: str, indent: int) -> str:
    header = "|"
    if text[0] in " \n":
        header += "2"
    if not text.endswith("\n"):
        header += "-"
    elif text == "\n" or text.endswith("\n\n"):
        header += "+"
    body = text[:-1] if text.endswith("\n") else text
    lines = [(" " * indent + line) if line else "" for line in body.split("\n")]
    return header + "\n" + "\n".join(lines)


def _scalar_text(value: Any, column: int, indent: int, breaks: bool = True) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return format_number(value)
    if isinstance(value, str):
        if breaks and _literal_allowed(value):
            return _literal(value, indent)
        return _double_quoted(value, column, indent, breaks)
    raise HclValueError(f"cannot encode a {type(value).__name__} as YAML")


def _is_block(value: Any) -> bool:
    return isinstance(value, (list, dict)) and bool(value)


def _empty(value: Any) -> str:
    return "[]" if isinstance(value, list) else "{}"


def _mapping(value: dict[str, Any], indent: int, first_inline: bool) -> list[str]:
    lines: list[str] = []
    for number, key in enumerate(sorted(value)):
        item = value[key]
        pad = "" if (first_inline and number == 0) else " " * indent
        simple = len(key) <= 128 and not any(ch in _BREAKS for ch in key)
        if simple:
            head = pad + _double_quoted(key, len(pad) if not first_inline or number else indent, indent, False) + ":"
        else:
            head = pad + "? " + _double_quoted(key, indent + 2, indent + 2, True) + "\n" + " " * indent + ":"
        if _is_block(item):
            lines.append(head)
            if isinstance(item, dict):
                lines.extend(_mapping(item, indent + 2, False))
            else:
                lines.extend(_sequence(item, indent, False))
        else:
            text = _empty(item) if isinstance(item, (list, dict)) else _scalar_text(item, _last_line_width(head) + 1,
                                                                                    indent + 2)
            lines.append(head + " " + text)
    return lines


def _sequence(value: list[Any], indent: int, first_inline: bool) -> list[str]:
    lines: list[str] = []
    for number, item in enumerate(value):
        pad = "" if (first_inline and number == 0) else " " * indent
        head = pad + "-"
        if isinstance(item, dict) and item:
            inner = _mapping(item, indent + 2, True)
            lines.append(head + " " + inner[0])
            lines.extend(inner[1:])
        elif isinstance(item, list) and item:
            inner = _sequence(item, indent + 2, True)
            lines.append(head + " " + inner[0])
            lines.extend(inner[1:])
        else:
            text = _empty(item) if isinstance(item, (list, dict)) else _scalar_text(item, indent + 2, indent + 2)
            lines.append(head + " " + text)
    return lines


def _last_line_width(text: str) -> int:
    return len(text.rsplit("\n", 1)[-1])


def yamlencode(value: Any) -> str:
    if isinstance(value, dict) and value:
        return "\n".join(_mapping(value, 0, False)) + "\n"
    if isinstance(value, list) and value:
        return "\n".join(_sequence(value, 0, False)) + "\n"
    if isinstance(value, (list, dict)):
        return _empty(value) + "\n"
    text = _scalar_text(value, 0, 2)
    if isinstance(value, str):
        return text + "\n"
    return text + "\n...\n"
