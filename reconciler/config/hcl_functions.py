"""Terraform's built-in functions that need no files and no clock, with Terraform's results and errors.

Owns: :data:`FUNCTIONS` (name -> ``(min args, max args, implementation)``), each a pure
function of already evaluated HCL values (see :mod:`reconciler.config.hcl_values`) that
returns a value or raises :class:`HclValueError` with a message; the evaluator adds the
position. ``try``/``can`` (which need unevaluated arguments), ``file``/``templatefile``
(which read files) and ``jsondecode`` live in :mod:`reconciler.config.hcl_eval`.
Functions whose value Terraform knows only during apply (``timestamp``, ``uuid``) are
refused with a message, never guessed. The table in
``tests/config/test_hcl_functions.py`` is checked against the real ``terraform console``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import unicodedata
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Callable
from urllib.parse import quote_plus

from reconciler.config.hcl_values import (
    HclValueError,
    SetValue,
    decimal_of,
    equal,
    format_number,
    is_number,
    jsonencode,
    normal_number,
    to_bool,
    to_list,
    to_map,
    to_num,
    to_set,
    to_str,
    type_name,
    unify,
)
from reconciler.config.hcl_yaml import yamldecode, yamlencode

Implementation = Callable[[list[Any]], Any]
MAX_RANGE = 1024
"""``range`` refuses to make more elements than this, as Terraform does."""

KNOWN_ONLY_AT_APPLY = ("timestamp", "plantimestamp", "uuid", "bcrypt")
"""Refused: Terraform itself knows their value only during apply (or it changes on every run)."""


def _integer(value: Any, what: str) -> int:
    number = to_num(value, what)
    if isinstance(number, float):
        raise HclValueError(f"{what} must be a whole number, not {format_number(number)}")
    return number


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        raise HclValueError(f"{what} must not be null")
    if not isinstance(value, list):
        raise HclValueError(f"{what} must be a list, not {type_name(value)}")
    return value


def _map(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        raise HclValueError(f"{what} must not be null")
    if not isinstance(value, dict):
        raise HclValueError(f"{what} must be a map, not {type_name(value)}")
    return value


# --------------------------------------------------------------------------- strings

_GRAPHEME_EXTEND = {"Mn", "Me", "Mc"}


def graphemes(text: str) -> list[str]:
    """User-perceived characters (an approximation of Unicode's extended grapheme clusters:
    combining marks, ZWJ sequences, variation selectors, emoji modifiers, flag pairs, CR LF)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        cluster = text[i]
        i += 1
        if cluster == "\r" and text[i:i + 1] == "\n":
            out.append("\r\n")
            i += 1
            continue
        if 0x1F1E6 <= ord(cluster) <= 0x1F1FF and i < len(text) and 0x1F1E6 <= ord(text[i]) <= 0x1F1FF:
            cluster += text[i]
            i += 1
        while i < len(text):
            ch = text[i]
            code = ord(ch)
            if (unicodedata.category(ch) in _GRAPHEME_EXTEND or 0xFE00 <= code <= 0xFE0F
                    or 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F):
                cluster += ch
                i += 1
            elif code == 0x200D and i + 1 < len(text):
                cluster += ch + text[i + 1]
                i += 2
            else:
                break
        out.append(cluster)
    return out


def _go_quote(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _shortest_g(value: int | float, upper: bool) -> str:
    """``%g`` without a precision, as Terraform's big numbers print it: the shortest digits, in exponent
    form when the exponent is below -4 or at least 6."""
    if value == 0:
        return "0"
    decimal = decimal_of(value).normalize()
    digits = "".join(map(str, decimal.as_tuple().digits))
    exponent = decimal.adjusted()
    if -4 <= exponent < 6:
        return format_number(value)
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{'-' if value < 0 else ''}{mantissa}{'E' if upper else 'e'}{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


_VERB_RE = re.compile(r"%([-+# 0]*)(?:\[(\d+)\])?(\d+|\*)?(?:\.(\d*))?(?:\[(\d+)\])?(.?)", re.S)


def _pad(text: str, flags: str, width: str | None) -> str:
    if not width:
        return text
    size = int(width)
    if "-" in flags:
        return text.ljust(size)
    return text.rjust(size)


def _format_one(verb: str, flags: str, width: str | None, precision: str | None, value: Any) -> str:
    if value is None:
        raise HclValueError(f"unsupported value for %{verb}: null cannot be formatted")
    if verb == "v":
        if "#" in flags:
            return _pad(jsonencode(value), flags, width)
        text = jsonencode(value) if isinstance(value, (list, dict)) else to_str(value)
        return _pad(text, flags, width)
    if verb == "t":
        return "true" if to_bool(value, "%t's value") else "false"
    if verb == "s":
        text = to_str(value, "%s's value")
        if precision not in (None, ""):
            text = text[:int(precision)]
        return _pad(text, flags, width)
    if verb == "q":
        return _pad(_go_quote(to_str(value, "%q's value")), flags, width)
    if not is_number(value) and not isinstance(value, str):
        raise HclValueError(f"%{verb} needs a number, not {type_name(value)}")
    number = to_num(value, f"%{verb}'s value")
    spec = ("<" if "-" in flags else "") + ("+" if "+" in flags else " " if " " in flags else "")
    spec += ("0" if "0" in flags and "-" not in flags else "") + (width or "")
    if verb in "bdoxX":
        if isinstance(number, float):
            raise HclValueError(f"%{verb} needs a whole number, not {format_number(number)}")
        return format(number, spec + verb)
    if verb in "gG" and precision in (None, ""):
        return _pad(_shortest_g(number, verb == "G"), flags, width)
    places = precision if precision not in (None, "") else "6"
    return format(float(number), spec + "." + places + ("f" if verb == "F" else verb))
    raise HclValueError(f"unsupported format verb %{verb}")


def _format(args: list[Any]) -> Any:
    spec = to_str(args[0], "the format string")
    values = args[1:]
    out: list[str] = []
    next_index = 0
    position = 0
    reordered = False
    for match in _VERB_RE.finditer(spec):
        out.append(spec[position:match.start()])
        position = match.end()
        flags, index_a, width, precision, index_b, verb = match.groups()
        if verb == "%" and not (flags or index_a or width or precision or index_b):
            out.append("%")
            continue
        if verb == "":
            raise HclValueError("the format string ends in the middle of a verb (a lone %)")
        if width == "*":
            raise HclValueError("the * width is not supported by format; write the width in the string")
        if verb not in "vtbdoxXeEfFgGsq":
            raise HclValueError(f"unsupported format verb %{verb}")
        index = index_b or index_a
        if index is not None:
            reordered = True
            next_index = int(index) - 1
            if not 0 <= next_index < len(values):
                raise HclValueError(f"format verb %[{index}]{verb} refers to argument {index}, "
                                    f"but there are {len(values)}")
        if next_index >= len(values):
            raise HclValueError(f"not enough arguments for format verb %{verb} (there are {len(values)})")
        out.append(_format_one(verb, flags, width, precision, values[next_index]))
        next_index += 1
    out.append(spec[position:])
    if next_index < len(values) and not reordered:
        raise HclValueError(f"too many arguments: the format string uses {next_index} of {len(values)}")
    return "".join(out)


def _formatlist(args: list[Any]) -> Any:
    lengths = {len(a) for a in args[1:] if isinstance(a, list)}
    if len(lengths) > 1:
        raise HclValueError(f"the lists given to formatlist differ in length ({', '.join(map(str, sorted(lengths)))})")
    count = lengths.pop() if lengths else 1
    return [_format([args[0]] + [a[i] if isinstance(a, list) else a for a in args[1:]]) for i in range(count)]


def _join(args: list[Any]) -> Any:
    separator = to_str(args[0], "join's separator")
    parts: list[str] = []
    for value in args[1:]:
        for item in _list(value, "join's list"):
            if item is None:
                raise HclValueError("join cannot join a null element")
            parts.append(to_str(item, "join's element"))
    return separator.join(parts)


def _split(args: list[Any]) -> Any:
    separator, text = to_str(args[0], "split's separator"), to_str(args[1], "split's string")
    if separator == "":
        return list(text)
    return text.split(separator)


_GO_REGEX_FIXES = ((re.compile(r"(?<!\\)\\z"), r"\\Z"),)


def _regex(pattern: str) -> re.Pattern[str]:
    for search, repl in _GO_REGEX_FIXES:
        pattern = search.sub(repl, pattern)
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise HclValueError(f"invalid regular expression {pattern!r}: {exc}") from None


_GO_TEMPLATE = re.compile(r"\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+)|(\$))")


def _expand(template: str, match: re.Match[str]) -> str:
    """Go's ``Regexp.Expand``: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``; unknown groups are empty."""
    def one(m: re.Match[str]) -> str:
        if m.group(3):
            return "$"
        name = m.group(1) or m.group(2)
        try:
            group = match.group(int(name)) if name.isdigit() else match.group(name)
        except (IndexError, re.error):
            return ""
        return group or ""

    return _GO_TEMPLATE.sub(one, template)


def _replace(args: list[Any]) -> Any:
    text, search, replacement = (to_str(a, "replace's argument") for a in args)
    if len(search) > 1 and search.startswith("/") and search.endswith("/"):
        pattern = _regex(search[1:-1])
        return pattern.sub(lambda m: _expand(replacement, m), text)
    return text.replace(search, replacement)


def _regex_match(pattern: re.Pattern[str], match: re.Match[str]) -> Any:
    if pattern.groups == 0:
        return match.group(0)
    named = pattern.groupindex
    if named:
        if len(named) != pattern.groups:
            raise HclValueError("a regular expression cannot mix named and unnamed capture groups")
        return {name: match.group(name) for name in named}
    return list(match.groups())


def _fn_regex(args: list[Any]) -> Any:
    pattern = _regex(to_str(args[0], "regex's pattern"))
    match = pattern.search(to_str(args[1], "regex's string"))
    if match is None:
        raise HclValueError("the pattern did not match any part of the string")
    return _regex_match(pattern, match)


def _fn_regexall(args: list[Any]) -> Any:
    pattern = _regex(to_str(args[0], "regexall's pattern"))
    return [_regex_match(pattern, m) for m in pattern.finditer(to_str(args[1], "regexall's string"))]


def _substr(args: list[Any]) -> Any:
    chars = graphemes(to_str(args[0], "substr's string"))
    offset, length = _integer(args[1], "substr's offset"), _integer(args[2], "substr's length")
    if offset < 0:
        offset += len(chars)
        if offset < 0:
            raise HclValueError("substr's offset is out of range")
    if offset > len(chars):
        return ""
    end = len(chars) if length == -1 else offset + length
    if length < -1:
        raise HclValueError("substr's length must be -1 (to the end) or more")
    return "".join(chars[offset:end])


def _rune_case(ch: str, *, lower: bool) -> str:
    """Go's per-character case mapping: one character in, one out (``ß`` stays, ``İ`` lowers to ``i``)."""
    mapped = ch.lower() if lower else ch.upper()
    if len(mapped) == 1:
        return mapped
    return mapped[0] if lower else ch


def _title(text: str) -> str:
    out, previous = [], " "
    for ch in text:
        separator = (not (previous.isalnum() or previous == "_")) if previous.isascii() else previous.isspace()
        out.append(ch.title() if separator else ch)
        previous = ch
    return "".join(out)


def _length(args: list[Any]) -> Any:
    value = args[0]
    if isinstance(value, str):
        return len(graphemes(value))
    if isinstance(value, (list, dict)):
        return len(value)
    if value is None:
        raise HclValueError("length cannot take null")
    raise HclValueError(f"length needs a string, list or map, not {type_name(value)}")


def _indent(args: list[Any]) -> Any:
    spaces = _integer(args[0], "indent's number of spaces")
    return to_str(args[1], "indent's string").replace("\n", "\n" + " " * spaces)


def _base64decode(args: list[Any]) -> Any:
    text = to_str(args[0], "base64decode's string").replace("\r", "").replace("\n", "")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise HclValueError("the string is not valid base64 (standard alphabet, padded)") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HclValueError("the decoded bytes are not valid UTF-8") from None


# --------------------------------------------------------------------------- collections

def _concat(args: list[Any]) -> Any:
    out: list[Any] = []
    for value in args:
        out.extend(_list(value, "concat's argument"))
    return out


def _merge(args: list[Any]) -> Any:
    out: dict[str, Any] = {}
    for value in args:
        if value is None:
            continue
        out.update(_map(value, "merge's argument"))
    return out


def _lookup(args: list[Any]) -> Any:
    mapping = _map(args[0], "lookup's first argument")
    key = to_str(args[1], "lookup's key")
    if key in mapping:
        return mapping[key]
    if len(args) > 2:
        return args[2]
    raise HclValueError(f"lookup failed to find key {key!r}")


def _indexable(value: Any, what: str) -> list[Any]:
    if isinstance(value, SetValue):
        raise HclValueError(f"{what} must be a list: a set has no order to index (convert it with tolist)")
    return _list(value, what)


def _index(args: list[Any]) -> Any:
    items = _indexable(args[0], "index's first argument")
    for number, item in enumerate(items):
        if equal(item, args[1]):
            return number
    raise HclValueError("the item was not found in the list")


def _element(args: list[Any]) -> Any:
    items = _indexable(args[0], "element's first argument")
    index = _integer(args[1], "element's index")
    if index < 0:
        raise HclValueError("element cannot use a negative index")
    if not items:
        raise HclValueError("element cannot take an element from an empty list")
    return items[index % len(items)]


def _contains(args: list[Any]) -> Any:
    items = _list(args[0], "contains' first argument")
    if args[1] is None:
        raise HclValueError("contains cannot search for null")
    return any(equal(item, args[1]) for item in items)


def _flatten(args: list[Any]) -> Any:
    def walk(items: list[Any]) -> list[Any]:
        out: list[Any] = []
        for item in items:
            out.extend(walk(item) if isinstance(item, list) else [item])
        return out

    return walk(_list(args[0], "flatten's argument"))


def _distinct(args: list[Any]) -> Any:
    out: list[Any] = []
    for item in unify(_list(args[0], "distinct's argument")):
        if not any(equal(item, seen) for seen in out):
            out.append(item)
    return out


def _coalesce(args: list[Any]) -> Any:
    for value in unify(list(args), "coalesce's arguments"):
        if value is not None and value != "":
            return value
    raise HclValueError("no non-null, non-empty-string arguments")


def _coalescelist(args: list[Any]) -> Any:
    for value in args:
        if value is not None and _list(value, "coalescelist's argument"):
            return value
    raise HclValueError("no non-null, non-empty list arguments")


def _convert(kind: str) -> Implementation:
    def convert(args: list[Any]) -> Any:
        value = args[0]
        if value is None:
            return None
        if kind == "string":
            if isinstance(value, (list, dict)):
                raise HclValueError(f"cannot convert a {type_name(value)} to a string")
            return to_str(value)
        if kind == "number":
            if isinstance(value, bool) or not (is_number(value) or isinstance(value, str)):
                raise HclValueError(f"cannot convert a {type_name(value)} to a number")
            return to_num(value)
        if kind == "bool":
            if not isinstance(value, (bool, str)):
                raise HclValueError(f"cannot convert a {type_name(value)} to a bool")
            return to_bool(value)
        if kind == "map":
            return to_map(value)
        if kind == "set":
            return to_set(value)
        return to_list(value)

    return convert


def _range(args: list[Any]) -> Any:
    numbers = [decimal_of(to_num(a, "range's argument")) for a in args]
    if len(numbers) == 1:
        start, end = Decimal(0), numbers[0]
    else:
        start, end = numbers[0], numbers[1]
    step = numbers[2] if len(numbers) == 3 else (Decimal(1) if end >= start else Decimal(-1))
    if step == 0:
        raise HclValueError("range's step must not be zero")
    if (end > start and step < 0) or (end < start and step > 0):
        raise HclValueError("range's step points away from its end: the sign of step must match end - start")
    out: list[Any] = []
    value = start
    while (step > 0 and value < end) or (step < 0 and value > end):
        if len(out) >= MAX_RANGE:
            raise HclValueError(f"range would make more than {MAX_RANGE} elements")
        out.append(normal_number(value))
        value = start + step * len(out)
    return out


def _minmax(pick: Callable[..., Any]) -> Implementation:
    def run(args: list[Any]) -> Any:
        numbers = [to_num(a, "argument") for a in args]
        return pick(numbers, key=decimal_of)

    return run


def _round(mode: str) -> Implementation:
    def run(args: list[Any]) -> Any:
        number = to_num(args[0], "argument")
        if isinstance(number, int):
            return number
        return normal_number(decimal_of(number).to_integral_value(rounding=mode))

    return run


def _abs(args: list[Any]) -> Any:
    number = to_num(args[0], "abs's argument")
    return abs(number)


def _zipmap(args: list[Any]) -> Any:
    keys, values = _list(args[0], "zipmap's keys"), _list(args[1], "zipmap's values")
    if len(keys) != len(values):
        raise HclValueError(f"zipmap needs as many values as keys ({len(keys)} keys, {len(values)} values)")
    return {to_str(k, "zipmap's key"): v for k, v in zip(keys, values)}


def _slice(args: list[Any]) -> Any:
    items = _list(args[0], "slice's list")
    start, end = _integer(args[1], "slice's start"), _integer(args[2], "slice's end")
    if not 0 <= start <= end <= len(items):
        raise HclValueError(f"slice's indexes {start}..{end} are out of range for a list of {len(items)}")
    return items[start:end]


def _sort(args: list[Any]) -> Any:
    items = unify(_list(args[0], "sort's list"))
    if any(v is None for v in items):
        raise HclValueError("sort cannot sort a null element")
    return sorted((to_str(v, "sort's element") for v in items), key=lambda s: s.encode("utf-8"))


def _compact(args: list[Any]) -> Any:
    items = unify(_list(args[0], "compact's list"))
    return [to_str(v) for v in items if v is not None and v != ""]


def _one(args: list[Any]) -> Any:
    items = _list(args[0], "one's argument")
    if len(items) > 1:
        raise HclValueError(f"one needs a list of at most one element, not {len(items)}")
    return items[0] if items else None


def _sum(args: list[Any]) -> Any:
    items = _list(args[0], "sum's list")
    if not items:
        raise HclValueError("sum cannot sum an empty list")
    total = Decimal(0)
    for item in items:
        total += decimal_of(to_num(item, "sum's element"))
    return normal_number(total)


def _all_any(every: bool) -> Implementation:
    def run(args: list[Any]) -> Any:
        values = [False if v is None else to_bool(v, "element") for v in _list(args[0], "argument")]
        return all(values) if every else any(values)

    return run


def _pow(args: list[Any]) -> Any:
    base, exponent = to_num(args[0], "pow's base"), to_num(args[1], "pow's exponent")
    try:
        result = base ** exponent
    except (OverflowError, ZeroDivisionError):
        raise HclValueError("pow's result is not a finite number") from None
    if isinstance(result, complex):
        raise HclValueError("pow's result is not a real number")
    return normal_number(result)


_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parseint(args: list[Any]) -> Any:
    text, base = to_str(args[0], "parseint's string"), _integer(args[1], "parseint's base")
    if not 2 <= base <= 62:
        raise HclValueError("parseint's base must be between 2 and 62")
    digits = text[1:] if text[:1] in "+-" else text
    table = _DIGITS if base > 36 else _DIGITS[:36]
    value = 0
    for ch in digits if digits else "!":
        position = table.find(ch if base > 36 else ch.lower())
        if position < 0 or position >= base:
            raise HclValueError(f"cannot parse {text!r} as a base {base} integer")
        value = value * base + position
    return -value if text.startswith("-") else value


def _sensitive(args: list[Any]) -> Any:
    raise HclValueError("sensitive() values cannot be hidden in poolform's plan output: pool and queue "
                        "attributes are shown in every plan. Do not put secrets in them")


def _dirname(args: list[Any]) -> Any:
    import posixpath

    return posixpath.dirname(to_str(args[0]).rstrip("/") or "/") or "."


def _basename(args: list[Any]) -> Any:
    import posixpath

    text = to_str(args[0])
    return posixpath.basename(text.rstrip("/")) or ("/" if text.startswith("/") else ".")


def _hash(name: str) -> Implementation:
    return lambda args: hashlib.new(name, to_str(args[0]).encode("utf-8")).hexdigest()


FUNCTIONS: dict[str, tuple[int, int, Implementation]] = {
    # strings
    "format": (1, 255, _format),
    "formatlist": (1, 255, _formatlist),
    "join": (2, 255, _join),
    "split": (2, 2, _split),
    "replace": (3, 3, _replace),
    "regex": (2, 2, _fn_regex),
    "regexall": (2, 2, _fn_regexall),
    "lower": (1, 1, lambda a: "".join(_rune_case(c, lower=True) for c in to_str(a[0], "lower's argument"))),
    "upper": (1, 1, lambda a: "".join(_rune_case(c, lower=False) for c in to_str(a[0], "upper's argument"))),
    "title": (1, 1, lambda a: _title(to_str(a[0], "title's argument"))),
    "trimspace": (1, 1, lambda a: to_str(a[0], "trimspace's argument").strip(" \t\n\v\f\r\x85\xa0\u1680\u2000\u2001"
                                                                              "\u2002\u2003\u2004\u2005\u2006\u2007"
                                                                              "\u2008\u2009\u200a\u2028\u2029\u202f"
                                                                              "\u205f\u3000")),
    "trim": (2, 2, lambda a: to_str(a[0]).strip(to_str(a[1])) if to_str(a[1]) else to_str(a[0])),
    "trimprefix": (2, 2, lambda a: to_str(a[0]).removeprefix(to_str(a[1]))),
    "trimsuffix": (2, 2, lambda a: to_str(a[0]).removesuffix(to_str(a[1]))),
    "chomp": (1, 1, lambda a: re.sub(r"(?:\r\n?|\n)*\Z", "", to_str(a[0]))),
    "startswith": (2, 2, lambda a: to_str(a[0]).startswith(to_str(a[1]))),
    "endswith": (2, 2, lambda a: to_str(a[0]).endswith(to_str(a[1]))),
    "strcontains": (2, 2, lambda a: to_str(a[1]) in to_str(a[0])),
    "substr": (3, 3, _substr),
    "indent": (2, 2, _indent),
    "length": (1, 1, _length),
    "base64encode": (1, 1, lambda a: base64.b64encode(to_str(a[0], "base64encode's argument").encode()).decode()),
    "base64decode": (1, 1, _base64decode),
    "urlencode": (1, 1, lambda a: quote_plus(to_str(a[0]), safe="-_.~")),
    "jsonencode": (1, 1, lambda a: jsonencode(a[0])),
    "yamlencode": (1, 1, lambda a: yamlencode(a[0])),
    "yamldecode": (1, 1, lambda a: yamldecode(to_str(a[0], "yamldecode's argument"))),
    "md5": (1, 1, _hash("md5")),
    "sha1": (1, 1, _hash("sha1")),
    "sha256": (1, 1, _hash("sha256")),
    "sha512": (1, 1, _hash("sha512")),
    "dirname": (1, 1, _dirname),
    "basename": (1, 1, _basename),
    # collections
    "concat": (1, 255, _concat),
    "merge": (0, 255, _merge),
    "lookup": (2, 3, _lookup),
    "index": (2, 2, _index),
    "element": (2, 2, _element),
    "keys": (1, 1, lambda a: sorted(_map(a[0], "keys' argument"))),
    "values": (1, 1, lambda a: [v for _, v in sorted(_map(a[0], "values' argument").items())]),
    "contains": (2, 2, _contains),
    "flatten": (1, 1, _flatten),
    "distinct": (1, 1, _distinct),
    "coalesce": (1, 255, _coalesce),
    "coalescelist": (1, 255, _coalescelist),
    "zipmap": (2, 2, _zipmap),
    "slice": (3, 3, _slice),
    "reverse": (1, 1, lambda a: list(reversed(_list(a[0], "reverse's argument")))),
    "sort": (1, 1, _sort),
    "compact": (1, 1, _compact),
    "one": (1, 1, _one),
    "sum": (1, 1, _sum),
    "alltrue": (1, 1, _all_any(True)),
    "anytrue": (1, 1, _all_any(False)),
    "range": (1, 3, _range),
    # conversions
    "tostring": (1, 1, _convert("string")),
    "tonumber": (1, 1, _convert("number")),
    "tobool": (1, 1, _convert("bool")),
    "tomap": (1, 1, _convert("map")),
    "tolist": (1, 1, _convert("list")),
    "toset": (1, 1, _convert("set")),
    "nonsensitive": (1, 1, lambda a: a[0]),
    "sensitive": (1, 1, _sensitive),
    # numbers
    "min": (1, 255, _minmax(min)),
    "max": (1, 255, _minmax(max)),
    "abs": (1, 1, _abs),
    "ceil": (1, 1, _round(ROUND_CEILING)),
    "floor": (1, 1, _round(ROUND_FLOOR)),
    "signum": (1, 1, lambda a: (lambda n: (n > 0) - (n < 0))(to_num(a[0]))),
    "pow": (2, 2, _pow),
    "parseint": (2, 2, _parseint),
}
