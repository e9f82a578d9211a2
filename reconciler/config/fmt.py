"""Canonical layout of config files, behind ``poolform fmt``.

YAML: ruamel.yaml round trip; two-space indent with sequences indented under
their key (``- `` at key column + 2); keys in the order of the config schema at
the levels it defines (unknown keys keep their relative order, after the known
ones); comments kept and moved with the key they precede. HCL (``.tf``,
``.tfvars``): byte for byte what ``terraform fmt`` writes (:mod:`reconciler.config.hcl_fmt`).

This module turns text into text. It never drops a key or a comment and never
changes a value (in HCL only as terraform fmt does: an attribute that is one
interpolation, ``"${x}"``, becomes ``x``; legacy variable types are spelled out), does
not write files and does not print; the CLI does that. Every rewrite is checked by
reading it again: if it would not hold the same data (YAML) or tokens (HCL), the
file is refused rather than changed. Unparseable input raises :class:`FormatError`
with the file and line.
"""

from __future__ import annotations

import difflib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, MarkedYAMLError, YAMLError
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString
from ruamel.yaml.tokens import CommentToken

YAML_SUFFIXES = (".yaml", ".yml")
HCL_SUFFIXES = (".tf", ".tfvars")
SUFFIXES = YAML_SUFFIXES + HCL_SUFFIXES

KEY_ORDER: dict[tuple[str, ...], tuple[str, ...]] = {
    (): ("version", "manage", "policy", "base_job_templates", "work_pools", "environments"),
    ("manage",): ("prune", "scope"),
    ("policy",): ("files", "rules"),
    ("environments", "*"): ("description", "api_url", "profile", "api_key_env", "auth_string_env", "files", "variables"),
    ("work_pools", "*"): ("type", "description", "paused", "concurrency_limit", "base_job_template", "queues"),
    ("work_pools", "*", "queues", "*"): ("priority", "concurrency_limit", "paused", "description"),
}
"""Key order per mapping path (``*`` matches any pool or queue name), as in the config schema."""


class FormatError(Exception):
    """A file could not be parsed; nothing was changed."""

    def __init__(self, filename: str, line: int | None, message: str, column: int | None = None) -> None:
        self.filename = filename
        self.line = line
        self.column = column
        self.message = message
        where = filename if line is None else f"{filename}:{line}" + (f":{column}" if column else "")
        super().__init__(f"{where}: {message}")


@dataclass
class FormatResult:
    """The outcome for one file: ``formatted`` is None when ``error`` is set."""

    path: Path
    original: str
    formatted: str | None = None
    error: FormatError | None = None
    skipped: str | None = None
    """Why the file was left alone although it parsed (a YAML file that is not a poolform config)."""

    @property
    def changed(self) -> bool:
        return self.formatted is not None and self.formatted != self.original

    def diff(self) -> str:
        if not self.changed:
            return ""
        name = str(self.path)
        return "".join(
            difflib.unified_diff(
                _lines_with_ends(self.original),
                _lines_with_ends(self.formatted or ""),
                fromfile=f"a/{name}",
                tofile=f"b/{name}",
            )
        )


def _lines_with_ends(text: str) -> list[str]:
    """Lines split at ``\n`` only (YAML and HCL line breaks; not at U+0085 or U+2028 as splitlines does)."""
    return [line for line in re.split(r"(?<=\n)", text) if line]


# ---------------------------------------------------------------- files


def discover(paths: Iterable[str | Path], *, recursive: bool = False) -> tuple[list[Path], list[str]]:
    """Expand files and directories into config files (sorted, unique); also return problems.

    A directory contributes its ``*.yaml``, ``*.yml`` and ``*.tf`` files, and those of
    its subdirectories only with ``recursive``. A named file is taken whatever its suffix
    is, if it is one fmt knows.
    """
    found: list[Path] = []
    problems: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            found.extend(p for p in sorted(path.glob(pattern)) if p.is_file() and p.suffix in SUFFIXES
                         and not any(part.startswith(".") for part in p.relative_to(path).parts))
        elif path.is_file():
            if path.suffix in SUFFIXES:
                found.append(path)
            else:
                problems.append(f"{path}: not a config file (fmt handles {', '.join(SUFFIXES)})")
        else:
            problems.append(f"{path}: no such file or directory")
    unique: list[Path] = []
    seen: set[Path] = set()
    for path in found:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique, problems


def format_source(text: str, filename: str) -> str:
    """Format ``text`` as the kind of file ``filename`` names (by suffix)."""
    if filename.endswith(HCL_SUFFIXES):
        return format_hcl(text, filename)
    return format_yaml(text, filename)


def format_file(path: Path) -> FormatResult:
    """Read and format one file (no writing)."""
    try:
        original = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return FormatResult(path, "", error=FormatError(str(path), None, f"not UTF-8 text ({exc.reason})"))
    except OSError as exc:
        return FormatResult(path, "", error=FormatError(str(path), None, exc.strerror or str(exc)))
    if path.suffix in YAML_SUFFIXES and not is_config_yaml(original):
        return FormatResult(path, original, formatted=original,
                            skipped="not a poolform config (no work_pools, base_job_templates or manage at the top, "
                                    "and no config.schema.json modeline)")
    try:
        return FormatResult(path, original, formatted=format_source(original, str(path)))
    except FormatError as exc:
        return FormatResult(path, original, error=exc)


# ---------------------------------------------------------------- YAML

CONFIG_TOP_KEYS = ("work_pools", "base_job_templates", "manage", "environments", "policy")
_MODELINE = re.compile(r"^#\s*yaml-language-server:\s*\$schema=\S*config\.schema\.json", re.MULTILINE)


def is_config_yaml(text: str) -> bool:
    """Whether a YAML text is a poolform config (so other YAML in a repository is left alone).

    True when it names the config schema in a modeline, or when a document is a
    mapping with ``work_pools``, ``base_job_templates``, ``manage`` or ``environments`` at the top.
    Unparseable text counts as a config, so that its error is reported.
    """
    if _MODELINE.search(text):
        return True
    try:
        documents = list(YAML(typ="safe").load_all(text))
    except Exception:
        return True
    return any(isinstance(doc, dict) and any(key in doc for key in CONFIG_TOP_KEYS) for doc in documents)

_EXPLICIT_START = re.compile(r"\A(?:[ \t]*(?:#[^\n]*)?\n)*---(?:[ \t]|$)", re.MULTILINE)


def _new_yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    yaml.brace_single_entry_mapping_in_flow_sequence = True
    yaml.representer.add_representer(_SpelledNull, _represent_spelled_null)
    return yaml


class _SpelledNull:
    """A null written as a word (``null``, ``~``): dumped with that word, not as an empty value."""

    def __init__(self, text: str) -> None:
        self.text = text


def _represent_spelled_null(representer: Any, data: _SpelledNull) -> Any:
    return representer.represent_scalar("tag:yaml.org,2002:null", data.text)


_NULL_WORD = re.compile(r"(null|Null|NULL|~)(?=[\s,\]}#]|$)")


def _spell_nulls(node: Any, lines: list[str]) -> None:
    """Replace each null that was spelled out in the source by a :class:`_SpelledNull`."""
    if isinstance(node, CommentedMap):
        for key in _own_keys(node):
            value = node[key]
            if value is None:
                word = _null_word(lines, node.lc.key(key), node.lc.value(key))
                if word:
                    node[key] = _SpelledNull(word)
            else:
                _spell_nulls(value, lines)
    elif isinstance(node, CommentedSeq):
        for index, value in enumerate(node):
            if value is None:
                node[index] = _SpelledNull(_null_word(lines, None, node.lc.item(index)) or "null")
            else:
                _spell_nulls(value, lines)


def _null_word(lines: list[str], key_pos: Any, value_pos: Any) -> str | None:
    try:
        line, col = value_pos
    except (TypeError, ValueError):
        return None
    if key_pos is not None and line != key_pos[0] and col <= key_pos[1]:
        return None
    if not 0 <= line < len(lines):
        return None
    match = _NULL_WORD.match(lines[line], col)
    return match.group(1) if match else None


def format_yaml(text: str, filename: str = "<string>") -> str:
    """Return ``text`` in canonical layout; raise :class:`FormatError` if it is not YAML."""
    if not text.strip():
        return text
    odd = _YAML_ODD_BREAK.search(text)
    if odd is not None:
        line = text.count("\n", 0, odd.start()) + 1
        column = odd.start() - (text.rfind("\n", 0, odd.start()) + 1) + 1
        raise FormatError(filename, line, f"holds the character U+{ord(odd.group()):04X}, which the YAML reader counts "
                                          "as a line break, so comments around it cannot be kept in place; write it "
                                          "as an escape in a double-quoted string (\"\\u2028\")", column)
    from reconciler.config.yaml_source import bounds_problem

    too_large = bounds_problem(text)  # the round trip below walks and compares every alias's expansion
    if too_large is not None:
        raise FormatError(filename, too_large[1], too_large[0], too_large[2])
    yaml = _new_yaml()
    try:
        documents = list(yaml.load_all(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(part for part in (exc.context, exc.problem) if part) or str(exc)
        if mark is None:
            raise FormatError(filename, None, f"invalid YAML: {problem}") from None
        raise FormatError(filename, mark.line + 1, f"invalid YAML: {problem}", mark.column + 1) from None
    except YAMLError as exc:
        raise FormatError(filename, None, f"invalid YAML: {exc}") from None
    if all(doc is None for doc in documents):
        return text
    source_lines = text.split("\n")
    for doc in documents:
        _spell_nulls(doc, source_lines)
        _format_node(doc, (), 0)
    if _EXPLICIT_START.match(text):
        yaml.explicit_start = True
    out = io.StringIO()
    yaml.dump_all(documents, out)
    result = out.getvalue()
    if not _same_data(text, result):
        raise FormatError(filename, None, "the layout cannot be normalized without changing a value "
                                          "(a limitation of the YAML writer); the file was left as it is")
    return result


_YAML_ODD_BREAK = re.compile("[\x85\u2028\u2029]")
"""NEL, LS and PS: ruamel's reader breaks lines at them (positions shift), its writer does not."""


def _same_data(before: str, after: str) -> bool:
    """Whether two YAML texts hold the same documents (the safety net under every rewrite)."""
    try:
        return list(YAML(typ="safe").load_all(before)) == list(YAML(typ="safe").load_all(after))
    except YAMLError:
        return False


def _order_for(path: tuple[str, ...]) -> tuple[str, ...] | None:
    for pattern, order in KEY_ORDER.items():
        if len(pattern) == len(path) and all(p == "*" or p == k for p, k in zip(pattern, path)):
            return order
    return None


def _own_keys(node: CommentedMap) -> list[Any]:
    """The keys written in this mapping (not those a ``<<`` merge brings in)."""
    own = getattr(node, "_ok", None)
    return [key for key in node.keys() if own is None or key in own]


def _is_flow(node: Any) -> bool:
    return bool(node.fa.flow_style())


def _format_node(node: Any, path: tuple[str, ...], col: int) -> None:
    if isinstance(node, CommentedMap):
        _format_mapping(node, path, col)
    elif isinstance(node, CommentedSeq):
        _format_sequence(node, path, col)


def _input_col(node: Any, default: int) -> int:
    try:
        return int(node.lc.col)
    except (AttributeError, TypeError):
        return default


def _format_mapping(node: CommentedMap, path: tuple[str, ...], col: int) -> None:
    keys = _own_keys(node)
    merged = bool(getattr(node, "merge", None))
    block = bool(keys) and not _is_flow(node)
    trailer: list[str] = []
    if block:
        in_col = _input_col(node, col)
        for index, key in enumerate(keys[1:], start=1):
            entry = node.ca.items.get(key)
            if entry and entry[1]:
                lines = [line for token in entry[1] for line in _token_lines(token)]
                deeper = _deeper_prefix(lines, in_col)
                if deeper:
                    _append_tail(node, keys[index - 1], lines[:deeper])
                    entry[1] = [_comment_token(line) for line in lines[deeper:]] or None
        moved_to: dict[Any, list[str]] = {}
        for index, key in enumerate(keys):
            lines = _split_tail(node, key, in_col)
            if index + 1 < len(keys):
                if lines:
                    moved_to[keys[index + 1]] = [_indent(line, col) for line in lines]
            else:
                trailer = [_trailer_indent(line, in_col, col) for line in lines]
        for key in keys:
            entry = node.ca.items.setdefault(key, [None, None, None, None])
            before = [text for token in (entry[1] or []) for text in _lines_of(token)]
            lines = moved_to.get(key, []) + [_indent(text, col) for text in before]
            entry[1] = [_comment_token(line) for line in lines] or None
            if all(item is None for item in entry):
                del node.ca.items[key]
        if node.ca.comment and len(node.ca.comment) > 1 and node.ca.comment[1]:
            for token in node.ca.comment[1]:
                _reindent_token(token, col)
        if col != in_col:
            _shift_line_comments(node, keys, col - in_col)
    order = _order_for(path)
    if order and not merged:
        rank = {name: i for i, name in enumerate(order)}
        wanted = sorted(keys, key=lambda k: (0, rank[k]) if isinstance(k, str) and k in rank else (1, 0))
        if wanted != keys and _anchor_owners(node, wanted) == _anchor_owners(node, keys):
            for key in wanted:
                node.move_to_end(key)
            if block and path and wanted[0] != keys[0]:
                _move_start_comment(node, keys[0], col)
    if trailer:
        _append_tail(node, _own_keys(node)[-1], trailer)
    for key in _own_keys(node):
        value = node[key]
        child_path = path + (str(key),)
        if isinstance(value, CommentedMap):
            _format_mapping(value, child_path, col + 2)
        elif isinstance(value, CommentedSeq):
            _format_sequence(value, child_path, col + 2)
        entry = node.ca.items.get(key)
        if entry and len(entry) > 3 and entry[3]:
            for token in entry[3]:
                _reindent_token(token, col + 2)


def _anchor_owners(node: CommentedMap, keys: list[Any]) -> dict[int, Any]:
    """For each anchored node, the entry (in ``keys`` order) where it is written first.

    Reordering must not change this, or an anchor would move to where an alias was.
    """
    owners: dict[int, Any] = {}
    for key in keys:
        for anchored in _anchored(node[key], set()):
            owners.setdefault(id(anchored), key)
    return owners


def _anchored(value: Any, seen: set[int]) -> Iterable[Any]:
    if id(value) in seen:
        return
    seen.add(id(value))
    anchor = getattr(value, "anchor", None)
    if anchor is not None and getattr(anchor, "value", None):
        yield value
    if isinstance(value, CommentedMap):
        for merged in getattr(value, "merge", None) or []:
            yield from _anchored(merged[1] if isinstance(merged, tuple) else merged, seen)
        for key in _own_keys(value):
            yield from _anchored(value[key], seen)
    elif isinstance(value, CommentedSeq):
        for item in value:
            yield from _anchored(item, seen)


def _shift_line_comments(node: CommentedMap, keys: list[Any], delta: int) -> None:
    """Move end-of-line comments on the keys' lines by as much as the keys moved, keeping their gap."""
    shifted: set[int] = set()
    for key in keys:
        entry = node.ca.items.get(key)
        token = entry[2] if entry and len(entry) > 2 else None
        if isinstance(token, CommentToken) and id(token) not in shifted and token.value.lstrip(" ").startswith("#"):
            shifted.add(id(token))
            column = token.start_mark.column
            token.start_mark = CommentMark(max(0, column + delta))


def _move_start_comment(node: CommentedMap, first: Any, col: int) -> None:
    """The comment above a nested mapping's first key goes with that key when it moves."""
    start = node.ca.comment[1] if node.ca.comment and len(node.ca.comment) > 1 else None
    if not start:
        return
    lines = [_indent(text, col) for token in start for text in _lines_of(token)]
    start.clear()
    entry = node.ca.items.setdefault(first, [None, None, None, None])
    entry[1] = [_comment_token(line) for line in lines] + list(entry[1] or [])


def _format_sequence(node: CommentedSeq, path: tuple[str, ...], col: int) -> None:
    if len(node) and not _is_flow(node):
        in_col = _input_col(node, col)
        for index in range(len(node) - 1):
            lines = _split_tail(node, index, in_col)
            if lines:
                _append_tail(node, index, [_indent(line, col) for line in lines])
    for value in node:
        if isinstance(value, CommentedMap):
            _format_mapping(value, path + ("[]",), col + 2)
        elif isinstance(value, CommentedSeq):
            _format_sequence(value, path + ("[]",), col + 2)


def _indent(line: str, col: int) -> str:
    text = line.strip()
    return " " * col + text if text else ""


def _trailer_indent(line: str, in_col: int, col: int) -> str:
    text = line.strip()
    if not text:
        return ""
    indent = len(line) - len(line.lstrip(" "))
    return " " * (min(indent, col) if indent < in_col else col) + text


def _tail_slot(container: Any, key: Any) -> tuple[list[Any], int, bool]:
    """The comment slot that holds what is written after entry ``key`` (deepest last child)."""
    value = container[key]
    if isinstance(value, CommentedMap) and _own_keys(value) and not _is_flow(value):
        return _tail_slot(value, _own_keys(value)[-1])
    if isinstance(value, CommentedSeq) and len(value) and not _is_flow(value):
        return _tail_slot(value, len(value) - 1)
    block = isinstance(value, (LiteralScalarString, FoldedScalarString))
    if isinstance(container, CommentedSeq):
        entry = container.ca.items.setdefault(key, [None, None, None, None])
        return entry, 0, block
    entry = container.ca.items.setdefault(key, [None, None, None, None])
    return entry, 2, block


def _split_tail(container: Any, key: Any, in_col: int) -> list[str]:
    """Detach the full-line comments (and blank lines) after entry ``key`` that are not
    indented deeper than ``in_col``; they belong to what follows. Deeper ones stay."""
    entry, slot, block = _tail_slot(container, key)
    token = entry[slot]
    if not isinstance(token, CommentToken):
        return []
    value = token.value
    if block:
        eol, rest = "", value
    else:
        eol, sep, rest = value.partition("\n")
        eol = eol + sep if eol.strip() else ""
    raw = rest.split("\n")
    if raw and raw[-1] == "":
        raw.pop()
    cut = _deeper_prefix(raw, in_col)
    stay, move = raw[:cut], raw[cut:]
    new_value = eol
    if stay:
        new_value = (eol if eol else ("" if block else "\n")) + "".join(line + "\n" for line in stay)
    if new_value:
        token.value = new_value
    else:
        entry[slot] = None
    return move


def _deeper_prefix(lines: list[str], in_col: int) -> int:
    """How many leading lines belong to the entry above: up to the last comment indented past ``in_col``."""
    cut = 0
    for i, line in enumerate(lines):
        stripped = line.lstrip(" ")
        if stripped and len(line) - len(stripped) > in_col:
            cut = i + 1
    return cut


def _token_lines(token: Any) -> list[str]:
    """A parsed comment token as text lines with their indentation."""
    lines = _lines_of(token)
    if lines:
        column = getattr(getattr(token, "start_mark", None), "column", 0) or 0
        lines[0] = " " * column + lines[0].lstrip(" ") if lines[0].strip() else ""
    return lines


def _append_tail(container: Any, key: Any, lines: list[str]) -> None:
    entry, slot, block = _tail_slot(container, key)
    token = entry[slot]
    body = "".join(line + "\n" for line in lines)
    if isinstance(token, CommentToken):
        token.value = token.value + body
    else:
        entry[slot] = CommentToken(("" if block else "\n") + body, CommentMark(0))


def _lines_of(token: Any) -> list[str]:
    parts = getattr(token, "value", "").split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    return parts


def _comment_token(line: str) -> CommentToken:
    text = line.lstrip(" ")
    if not text:
        return CommentToken("\n", CommentMark(0))
    return CommentToken(text + "\n", CommentMark(len(line) - len(text)))


def _reindent_token(token: Any, col: int) -> None:
    if isinstance(token, CommentToken) and token.value.strip():
        token.value = "\n".join(line.strip() for line in token.value.split("\n"))
        token.start_mark = CommentMark(col)


# ---------------------------------------------------------------- HCL


def format_hcl(text: str, filename: str = "<string>") -> str:
    """``text`` exactly as ``terraform fmt`` writes it (see :mod:`reconciler.config.hcl_fmt`);
    raise :class:`FormatError` at the line and column where it is not valid HCL."""
    from reconciler.config.hcl_fmt import HclFormatError, format_hcl_text

    try:
        return format_hcl_text(text)
    except HclFormatError as exc:
        raise FormatError(filename, exc.line, f"invalid HCL: {exc.message}" if exc.line else exc.message,
                          exc.column) from None
