"""``poolform diff``'s human view: two environments' desired states side by side, from the comparison document.

Renders the document of :func:`reconciler.plan.compare.compare_states` (and nothing else): each
differing object with its fields as ``path: LEFT -> RIGHT`` (``(not managed)`` where a side leaves
the field to the server), the objects only one side declares, ownership differences, and a count
line. Long values (templates) are shown as compact JSON cut at :data:`MAX_VALUE`. No I/O.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.views.diagnostics import BOLD, GREEN, RED, YELLOW, paint, printable

MAX_VALUE = 120
UNMANAGED = "(not managed)"


def _value(entry: dict[str, Any], side: str) -> str:
    if side not in entry:
        return UNMANAGED
    text = json.dumps(entry[side], ensure_ascii=False, separators=(", ", ": "))
    text = printable(text)
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 1] + "…"


def _path(path: list[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (("." if out else "") + str(part))
    return out


def render_comparison(document: dict[str, Any], *, color: bool = False) -> str:
    """The comparison as text, ending with a newline."""
    left, right = document["left"], document["right"]
    lines = [f"Comparing the desired states of {paint(left, BOLD, color)} and {paint(right, BOLD, color)} "
             "(the configuration only; no server was read).", ""]
    for obj in document["objects"]:
        address = printable(obj["address"])
        if obj["only_in"] == left:
            lines.append(f"  {paint('<', RED, color)} {address}  only in {left}")
        elif obj["only_in"] == right:
            lines.append(f"  {paint('>', GREEN, color)} {address}  only in {right}")
        else:
            lines.append(f"  {paint('~', YELLOW, color)} {address}")
            for entry in obj["differences"]:
                lines.append(f"      {_path(entry['path'])}: {_value(entry, 'left')} -> {_value(entry, 'right')}")
    for entry in document.get("ownership", []):
        lines.append(f"  {paint('~', YELLOW, color)} {_path(entry['path'])}: {_value(entry, 'left')} -> "
                     f"{_value(entry, 'right')}")
    summary = document["summary"]
    if not document["objects"] and not document.get("ownership"):
        lines.append(f"No differences: {left} and {right} declare the same {summary['same']} object"
                     f"{'s' if summary['same'] != 1 else ''}.")
    else:
        if lines[-1] != "":
            lines.append("")
        lines.append(f"{summary['differ']} differ, {summary['only_left']} only in {left}, {summary['only_right']} "
                     f"only in {right}, {summary['same']} the same. Values are {left} -> {right}.")
    return "\n".join(lines) + "\n"


__all__ = ["render_comparison"]
