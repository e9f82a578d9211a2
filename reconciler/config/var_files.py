"""Input variables from the command line: ``--var NAME=VALUE`` and ``--var-file FILE``.

Owns: reading a variable definitions file (``.tfvars`` in HCL, ``.tfvars.json`` in
JSON; only ``NAME = value`` lines, values literal) into values that remember the
line that set them, and merging the command line's assignments in the order they
were given, later winning, as terraform does with ``-var`` and ``-var-file``. The
result, :func:`command_line_variables`, is what ``load(variables=...)`` takes: a
``--var`` value stays the string it was (the HCL reader converts it to the
variable's declared type); a var-file value is a :class:`VarValue`, already a value.
Every problem is a diagnostic with file:line. No printing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

from reconciler.config.files import read_text
from reconciler.diagnostics import Diagnostics, Pos, SourceRange

VAR_FILE_SUFFIXES = (".tfvars", ".tfvars.json")


@dataclass(frozen=True)
class VarValue:
    """A variable's value from a var file, and where it was set."""

    value: Any
    origin: SourceRange


def command_line_variables(inputs: Sequence[tuple[str, Any]], diags: Diagnostics) -> dict[str, str | VarValue]:
    """``inputs`` in command-line order: ``("var", "NAME=VALUE")``, ``("var-file", PATH)`` or ``("value",
    (NAME, VarValue))`` (an environment's ``variables``); later wins."""
    merged: dict[str, str | VarValue] = {}
    for kind, raw in inputs:
        if kind == "value":  # an environment's variables: (name, VarValue), already values
            name, given = raw
            merged.pop(name, None)
            merged[name] = given
        elif kind == "var":
            name, sep, value = raw.partition("=")
            if not sep or not name.strip():
                diags.error(f"--var {raw!r} must look like NAME=VALUE",
                            "For example --var env=prod; a value with spaces needs quotes in the shell.")
                continue
            merged.pop(name.strip(), None)
            merged[name.strip()] = value
        else:
            for name, value in read_var_file(raw, diags).items():
                merged.pop(name, None)
                merged[name] = value
    return merged


def read_var_file(path: str, diags: Diagnostics) -> dict[str, VarValue]:
    """The assignments of one var file; an unreadable or malformed file is an error naming it."""
    if not path.endswith(VAR_FILE_SUFFIXES):
        diags.error(f"--var-file {path}: not a variable definitions file",
                    "A var file ends in .tfvars (HCL) or .tfvars.json (JSON), as terraform's -var-file.")
        return {}
    text = read_text(path, diags, named=True)  # named on the command line: part of the root
    if text is None:
        return {}
    if path.endswith(".json"):
        return _read_json(path, text, diags)
    return _read_hcl(path, text, diags)


def _read_json(path: str, text: str, diags: Diagnostics) -> dict[str, VarValue]:
    """A JSON object whose top-level keys are variable names (each key's line is kept)."""
    decoder = json.JSONDecoder()
    out: dict[str, VarValue] = {}

    def at(index: int) -> SourceRange:
        line = text.count("\n", 0, index) + 1
        return SourceRange(path, Pos(line, index - (text.rfind("\n", 0, index) + 1) + 1))

    def skip(index: int) -> int:
        while index < len(text) and text[index] in " \t\r\n":
            index += 1
        return index

    def expect(index: int, chars: str) -> int:
        index = skip(index)
        if index >= len(text) or text[index] not in chars:
            found = repr(text[index]) if index < len(text) else "end of file"
            raise _JsonProblem(f"expected {' or '.join(repr(c) for c in chars)}, found {found}", index)
        return index

    try:
        index = expect(0, "{") + 1
        index = skip(index)
        if index < len(text) and text[index] == "}":
            index += 1
        else:
            while True:
                index = expect(index, '"')
                key_at = index
                name, index = decoder.raw_decode(text, index)
                index = expect(index, ":") + 1
                try:
                    value, index = decoder.raw_decode(text, skip(index))
                except json.JSONDecodeError as exc:
                    raise _JsonProblem(exc.msg, exc.pos) from None
                if name in out:
                    diags.error(f"{path} sets {name!r} twice", f"The first is at line {out[name].origin.start.line}.",
                                range=at(key_at))
                out[name] = VarValue(value, at(key_at))
                index = expect(index, ",}")
                if text[index] == "}":
                    index += 1
                    break
                index += 1
        if skip(index) < len(text):
            raise _JsonProblem("extra data after the object", skip(index))
    except json.JSONDecodeError as exc:
        diags.error(f"{path} is not valid JSON: {exc.msg}", range=at(exc.pos))
        return {}
    except _JsonProblem as exc:
        diags.error(f"{path} is not a JSON variables file: {exc}",
                    "A .tfvars.json file holds one object: {\"name\": value, ...}.", range=at(exc.index))
        return {}
    return out


class _JsonProblem(Exception):
    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


def _read_hcl(path: str, text: str, diags: Diagnostics) -> dict[str, VarValue]:
    """``NAME = value`` lines; values are literal (no references), as terraform requires."""
    from lark import Tree

    from reconciler.config.hcl_eval import Context, EvalError, evaluate, fail, position
    from reconciler.config.hcl_source import _parse

    tree = _parse(path, text, diags)
    if tree is None:
        return {}

    def meaningful(node: Tree) -> list[Any]:
        return [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]

    def no_references(name: str, attrs: list[str], node: Any) -> tuple[Any, int]:
        raise fail(node, f"{name} cannot be referenced in a var file", "A var file holds literal values only.")

    out: dict[str, VarValue] = {}
    for item in meaningful(meaningful(tree)[0]):
        line, column = position(item)
        where = SourceRange(path, Pos(line or 1, column or 1))
        if item.data != "attribute":
            diags.error("a var file holds only NAME = value lines", "Blocks are not allowed in a .tfvars file.",
                        range=where)
            continue
        parts = meaningful(item)
        name = str(parts[0].children[0])
        try:
            value = evaluate(parts[-1], Context(no_references, "."))
        except EvalError as exc:
            diags.error(str(exc), exc.detail, range=SourceRange(path, Pos(exc.line or where.start.line,
                                                                          exc.column or where.start.column)))
            continue
        if name in out:
            diags.error(f"{path} sets {name!r} twice", f"The first is at line {out[name].origin.start.line}.",
                        range=where)
        out[name] = VarValue(value, where)
    return out
