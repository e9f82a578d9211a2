"""YAML (and JSON) files -> :class:`RawDoc`, with YAML 1.2 scalars and positions.

Parsing uses libyaml's composer through PyYAML's C binding when it is
available (ruamel.yaml's pure-Python composer otherwise: same results, about
ten times slower). Scalars are resolved here with YAML 1.2 core-schema rules,
never 1.1's: ``no``, ``on``, ``yes`` stay strings. Duplicate keys, aliases to
non-mappings in ``<<`` merges and parse errors become diagnostics with
file:line:column. No validation of the config format here.

Parsing is bounded, in both parsers, before anything grows with the input's
expansion (``yaml_too_large``): a document holds at most :data:`MAX_YAML_BYTES`
characters and :data:`MAX_YAML_EVENTS` parse events (counted by libyaml's C
parser before composing, or while ruamel composes), aliases and ``<<`` merges may
add at most :data:`MAX_ALIAS_NODES` values (counted on the composed graph, where an
alias is one shared node, before any is copied), an alias may not contain itself,
and nesting stops at :data:`MAX_YAML_DEPTH`.
"""

from __future__ import annotations

import math
import re
from typing import Any

from reconciler.config.files import MAX_FILE_BYTES
from reconciler.config.source import RawDoc
from reconciler.diagnostics import Code, Diagnostics, Pos, SourceRange

MAX_YAML_BYTES = MAX_FILE_BYTES
"""The longest YAML document, in characters."""
MAX_YAML_EVENTS = 1_000_000
"""Parse events in one document: each scalar and alias counts one, each mapping and sequence two
(its start and end). A config of 10,000 pools with 5 queues each is about 620,000."""
MAX_ALIAS_NODES = 100_000
"""Values that aliases and ``<<`` merges may add to a document by repeating what they refer to."""
MAX_YAML_DEPTH = 200
"""The deepest nesting of mappings and lists."""

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


class YamlTooLarge(Exception):
    """A document over one of the parsing bounds; ``line``/``column`` 1-based where known."""

    def __init__(self, message: str, detail: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.detail = detail
        self.line = line
        self.column = column


def _too_many_events(count: int) -> YamlTooLarge:
    return YamlTooLarge(f"the YAML document is too large: over {MAX_YAML_EVENTS:,} values and collections",
                        "Split the configuration into several files (-f DIR reads them all).")


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


def _count_events_libyaml(text: str) -> int:
    """Parse events of the whole stream, counted in C (no Python object per event); 0 on a syntax
    error (composing reports it)."""
    from yaml._yaml import CParser  # type: ignore[import-not-found]

    parser = CParser(text)
    try:
        return int(parser.raw_parse())
    except Exception:  # noqa: BLE001 - the composer reports the error with its position
        return 0
    finally:
        parser.dispose()


def _compose_libyaml(text: str, *, every: bool = False) -> Any:
    import yaml
    from yaml._yaml import CParser  # type: ignore[import-not-found]

    if _count_events_libyaml(text) - 4 > MAX_YAML_EVENTS:  # less the stream's and document's start and end
        raise _too_many_events(MAX_YAML_EVENTS)

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
        if every:
            nodes = []
            while loader.check_node():
                nodes.append(loader.get_node())
            return nodes
        return loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if "maximum nesting depth" in str(exc.problem):
            raise YamlTooLarge("the YAML document is nested too deeply", "Flatten the structure.",
                               mark.line + 1 if mark else 1, mark.column + 1 if mark else 1) from None
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


def _compose_ruamel(text: str, *, every: bool = False) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="safe", pure=True)
    constructor, parser = yaml.get_constructor_parser(text)
    composer = constructor.composer
    compose_node = composer.compose_node
    count = [0]

    from ruamel.yaml.events import AliasEvent

    def counted(parent: Any, index: Any) -> Any:
        alias = composer.parser.check_event(AliasEvent)
        node = compose_node(parent, index)
        count[0] += 2 if not alias and node.id in ("mapping", "sequence") else 1
        if count[0] > MAX_YAML_EVENTS:
            raise _too_many_events(MAX_YAML_EVENTS)
        return node

    composer.compose_node = counted
    scanner = yaml.scanner
    flow_start = scanner.fetch_flow_collection_start

    def bounded_flow_start(token_class: Any, to_push: str) -> None:
        # ruamel's scanner does work per token for every open flow level: stop early, not in minutes.
        if len(scanner.flow_context) >= MAX_YAML_DEPTH:
            mark = scanner.reader.get_mark()
            raise YamlTooLarge(f"the YAML document is nested too deeply (over {MAX_YAML_DEPTH} levels)",
                               "Flatten the structure.", mark.line + 1, mark.column + 1)
        flow_start(token_class, to_push)

    scanner.fetch_flow_collection_start = bounded_flow_start
    try:
        if every:
            nodes = []
            while composer.check_node():
                count[0] = 0
                nodes.append(composer.get_node())
            return nodes
        return composer.get_single_node()
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlParseError(str(exc.problem or exc.context or "invalid YAML"), mark.line + 1 if mark else 1,
                             mark.column + 1 if mark else 1, str(exc.context or "")) from None
    except YAMLError as exc:
        raise YamlParseError(str(exc), 1, 1) from None
    except RecursionError:
        raise YamlTooLarge(f"the YAML document is nested too deeply (over {MAX_YAML_DEPTH} levels)",
                           "Flatten the structure.") from None
    finally:
        parser.dispose()


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
        if depth > MAX_YAML_DEPTH:
            mark = node.start_mark
            raise YamlTooLarge(f"the YAML document is nested too deeply (over {MAX_YAML_DEPTH} levels)",
                               "Flatten the structure.", mark.line + 1, mark.column + 1)
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


_ALIAS = re.compile(r"(?:^|[\s\[\{,])\*[^\s,\[\]\{\}]")
"""Where an alias (``*name``) could be; globs such as ``team-*`` or ``"*.yaml"`` do not match."""


def _children(node: Any) -> list[Any]:
    kind = node.id
    if kind == "sequence":
        return node.value
    if kind == "mapping":
        return [part for pair in node.value for part in pair]
    return []


def check_expansion(root: Any) -> None:
    """Refuse (:class:`YamlTooLarge`) a composed document whose aliases would add more than
    MAX_ALIAS_NODES values, or MAX_YAML_EVENTS in all, once expanded, or that contains itself.

    Counts on the graph the parser built, where every alias is the node it names (shared): one
    pass over the distinct nodes, sizes memoized, so a billion laughs costs what its text costs."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            children = _children(node)
            total = 1 + sum(sizes[id(child)] for child in children)
            sizes[key] = total
            open_.discard(key)
            if total - len(sizes) > MAX_ALIAS_NODES or total > MAX_YAML_EVENTS:
                mark = node.start_mark
                raise YamlTooLarge(
                    f"YAML aliases expand this document past {MAX_ALIAS_NODES:,} repeated values",
                    "Each *alias copies what its &anchor holds; here they multiply (a \"billion laughs\"). "
                    "Write the values out, or use named base_job_templates.", mark.line + 1, mark.column + 1)
            continue
        if key in sizes:
            continue
        open_.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in open_:
                mark = child.start_mark
                raise YamlTooLarge("a YAML alias refers to a node that contains it",
                                   "The value would be infinite; remove the alias from inside its anchor.",
                                   mark.line + 1, mark.column + 1)
            if id(child) not in sizes:
                stack.append((child, False))


def _compose(text: str, backend: str, *, every: bool = False) -> Any:
    if len(text) > MAX_YAML_BYTES:
        raise YamlTooLarge(f"the YAML document is too large: {len(text):,} characters, over {MAX_YAML_BYTES:,}",
                           "Split the configuration into several files (-f DIR reads them all).")
    return _compose_libyaml(text, every=every) if backend == "libyaml" else _compose_ruamel(text, every=every)


def bounds_problem(text: str, *, backend: str | None = None) -> tuple[str, int, int] | None:
    """Whether a YAML stream is over a bound (size, events, alias expansion, nesting), checked the
    way :func:`parse_yaml_text` does but without converting anything: (message, line, column), or
    None (also for a syntax error, which the caller's own parser reports). For readers that walk
    documents themselves (``poolform fmt``)."""
    try:
        for node in _compose(text, backend or BACKEND, every=True):
            check_expansion(node)
    except YamlTooLarge as exc:
        return str(exc), exc.line, exc.column
    except YamlParseError:
        return None
    return None


def top_level_keys(text: str, *, backend: str | None = None) -> list[list[str] | None] | None:
    """The top-level keys of each document of a YAML stream (None for a document that is not a
    mapping); None when the stream cannot be parsed within the bounds."""
    try:
        nodes = _compose(text, backend or BACKEND, every=True)
    except (YamlParseError, YamlTooLarge):
        return None
    return [[key.value for key, _ in node.value if key.id == "scalar"] if node.id == "mapping" else None
            for node in nodes]


def parse_yaml_text(text: str, filename: str, diags: Diagnostics, *, backend: str | None = None) -> RawDoc | None:
    """Parse one YAML document; None (with a diagnostic) when it cannot be read at all or is over a bound."""
    backend = backend or BACKEND
    try:
        node = _compose(text, backend)
        if node is not None and _ALIAS.search(text):
            check_expansion(node)
        doc = RawDoc({}, filename)
        if node is None:
            return doc
        doc.data = _Converter(filename, doc, diags).convert(node, ())  # type: ignore[assignment]
        return doc
    except YamlParseError as exc:
        diags.error(f"malformed YAML: {exc}", (exc.detail + ". " if exc.detail else "") + "Fix the syntax at this position.",
                    range=SourceRange(filename, Pos(exc.line, exc.column)), code=Code.SYNTAX_ERROR)
    except YamlTooLarge as exc:
        diags.error(str(exc), exc.detail, range=SourceRange(filename, Pos(exc.line, exc.column)),
                    code=Code.YAML_TOO_LARGE)
    return None
