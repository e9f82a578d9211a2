"""YAML (and JSON) files -> :class:`RawDoc`, with YAML 1.2 scalars and positions.

Parsing uses libyaml's composer through PyYAML's C binding when it is
available (ruamel.yaml's pure-Python composer otherwise: same results, about
ten times slower). Scalars are resolved here with YAML 1.2 core-schema rules,
never 1.1's: ``no``, ``on``, ``yes`` stay strings. Duplicate keys, aliases to
non-mappings in ``<<`` merges and parse errors become diagnostics with
file:line:column. No validation of the config format here.
"""

from __future__ import annotations

import math
import re
from typing import Any

from reconciler.config.source import RawDoc
from reconciler.diagnostics import Diagnostics, Pos, SourceRange

_PLAIN = "?plain"
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"

_INT_RE = re.compile(r"^[-+]?[0-9]+$")
_OCT_RE = re.compile(r"^0o[0-7]+$")
_HEX_RE = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT_RE = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_INF_RE = re.compile(r"^[-+]?\.(inf|Inf|INF)$")
_NAN_RE = re.compile(r"^\.(nan|NaN|NAN)$")


class YamlParseError(Exception):
    def __init__(self, message: str, line: int, column: int, detail: str = "") -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.detail = detail


def _resolve_plain(text: str) -> Any:
    """YAML 1.2 core schema."""
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if text.isdigit() and text.isascii():
        return int(text)
    first = text[0]
    if first.isdigit() or first in "+-.":
        if _INT_RE.match(text):
            return int(text)
        if _OCT_RE.match(text):
            return int(text[2:], 8)
        if _HEX_RE.match(text):
            return int(text[2:], 16)
        if _FLOAT_RE.match(text):
            return float(text)
        if _INF_RE.match(text):
            return -math.inf if text.startswith("-") else math.inf
        if _NAN_RE.match(text):
            return math.nan
    return text


def _compose_libyaml(text: str) -> Any:
    import yaml
    from yaml._yaml import CParser  # type: ignore[import-not-found]

    scalar_node, sequence_node = yaml.ScalarNode, yaml.SequenceNode

    class _Resolver(yaml.resolver.BaseResolver):
        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            if kind is scalar_node:
                return _PLAIN if implicit[0] else _STR
            return _SEQ if kind is sequence_node else _MAP

        def descend_resolver(self, current_node: Any, current_index: Any) -> None:
            return None

        def ascend_resolver(self) -> None:
            return None

    class _Loader(CParser, _Resolver):  # type: ignore[misc]
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _Resolver.__init__(self)

    loader = _Loader(text)
    try:
        return loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        context = f"{exc.context} (line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1})" if exc.context and exc.context_mark else (exc.context or "")
        raise YamlParseError(str(exc.problem or exc.context or "invalid YAML"), mark.line + 1 if mark else 1,
                             mark.column + 1 if mark else 1, context) from None
    except yaml.reader.ReaderError as exc:
        at = min(max(int(exc.position), 0), len(text))
        line, column = text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        raise YamlParseError(f"{exc.reason} (U+{code:04X})", line, column,
                             "YAML allows no control characters except tab and line breaks; write them as escapes "
                             "(\\u007f) inside double quotes") from None
    except yaml.YAMLError as exc:
        raise YamlParseError(str(exc), 1, 1) from None
    finally:
        loader.dispose()


def _compose_ruamel(text: str) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="safe", pure=True)
    try:
        return yaml.compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlParseError(str(exc.problem or exc.context or "invalid YAML"), mark.line + 1 if mark else 1,
                             mark.column + 1 if mark else 1, str(exc.context or "")) from None
    except YAMLError as exc:
        raise YamlParseError(str(exc), 1, 1) from None


def _libyaml_available() -> bool:
    try:
        import yaml
        from yaml._yaml import CParser  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return False
    return bool(getattr(yaml, "__with_libyaml__", False))


BACKEND = "libyaml" if _libyaml_available() else "ruamel"


class _Converter:
    """Nodes -> plain values, recording positions; written for speed (one call per node)."""

    def __init__(self, filename: str, doc: RawDoc, diags: Diagnostics) -> None:
        self.filename = filename
        self.values = doc.values
        self.keys = doc.keys
        self.diags = diags

    def error(self, node: Any, summary: str, detail: str = "") -> None:
        mark = node.start_mark
        self.diags.error(summary, detail, range=SourceRange(self.filename, Pos(mark.line + 1, mark.column + 1)))

    def scalar(self, node: Any) -> Any:
        tag = node.tag
        value = node.value
        if tag == _PLAIN:
            return _resolve_plain(value)
        if tag == _STR or tag == "!":
            return value
        if tag in (_INT, _FLOAT, _BOOL, _NULL):
            resolved = _resolve_plain(value)
            ok = {_INT: int, _FLOAT: (float, int), _BOOL: bool, _NULL: type(None)}[tag]
            if isinstance(resolved, ok) and not (tag == _INT and isinstance(resolved, bool)):
                return float(resolved) if tag == _FLOAT else resolved
            self.error(node, f"{value!r} is not a valid {tag.rsplit(':', 1)[-1]}")
            return value
        self.error(node, f"unsupported YAML tag {tag}", "Remove the tag; poolform reads plain YAML 1.2 values.")
        return value

    def convert(self, node: Any, path: tuple[Any, ...], depth: int = 0) -> Any:
        mark = node.start_mark
        self.values[path] = (self.filename, mark.line + 1, mark.column + 1)
        kind = node.id
        if kind == "scalar":
            tag = node.tag
            if tag == _PLAIN:
                return _resolve_plain(node.value)
            if tag == _STR:
                return node.value
            return self.scalar(node)
        if depth > 200:
            self.error(node, "the document is nested too deeply (or an alias refers to itself)")
            return None
        if kind == "sequence":
            return [self.convert(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        return self.mapping(node, path, depth)

    def mapping(self, node: Any, path: tuple[Any, ...], depth: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        merged: list[Any] = []
        keys = self.keys
        filename = self.filename
        for key_node, value_node in node.value:
            if key_node.id != "scalar":
                self.error(key_node, "mapping keys must be plain scalars", "Write the key as a string.")
                continue
            key = key_node.value
            if key == "<<" and key_node.tag in (_PLAIN, _MERGE):
                merged.append(value_node)
                continue
            mark = key_node.start_mark
            sub = path + (key,)
            if key in out:
                first = keys[sub]
                self.error(key_node, f"duplicate key {key!r}",
                           f"{key!r} was already set at {first[0]}:{first[1]}:{first[2]}; keep one of them.")
                continue
            keys[sub] = (filename, mark.line + 1, mark.column + 1)
            out[key] = self.convert(value_node, sub, depth + 1)
        for value_node in merged:
            sources = value_node.value if value_node.id == "sequence" else [value_node]
            for source in sources:
                if source.id != "mapping":
                    self.error(source, "a '<<' merge needs a mapping (or a list of mappings)")
                    continue
                for key_node, item in source.value:
                    key = key_node.value
                    if key not in out:
                        mark = key_node.start_mark
                        keys[path + (key,)] = (filename, mark.line + 1, mark.column + 1)
                        out[key] = self.convert(item, path + (key,), depth + 1)
        return out


def parse_yaml_text(text: str, filename: str, diags: Diagnostics, *, backend: str | None = None) -> RawDoc | None:
    """Parse one YAML document; None (with a diagnostic) when it cannot be read at all."""
    backend = backend or BACKEND
    try:
        node = _compose_libyaml(text) if backend == "libyaml" else _compose_ruamel(text)
    except YamlParseError as exc:
        diags.error(f"malformed YAML: {exc}", (exc.detail + ". " if exc.detail else "") + "Fix the syntax at this position.",
                    range=SourceRange(filename, Pos(exc.line, exc.column)))
        return None
    doc = RawDoc({}, filename)
    if node is None:
        return doc
    converter = _Converter(filename, doc, diags)
    data = converter.convert(node, ())
    doc.data = data  # type: ignore[assignment]
    return doc
