"""Human rendering of diagnostics from their JSON form (``Diagnostic.to_json()``).

One block per diagnostic: ``file:line:col: error: summary [address]`` and the detail
indented below. Renders only; never decides severity or content.
"""

from __future__ import annotations

from typing import Any, Iterable

from reconciler.model.state import printable

RED = "\x1b[31m"
YELLOW = "\x1b[33m"
GREEN = "\x1b[32m"
BOLD = "\x1b[1m"
RESET = "\x1b[0m"


def paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{RESET}" if color and text else text


def _where(diag: dict[str, Any]) -> str:
    rng = diag.get("range")
    if not rng:
        return ""
    start = rng.get("start") or {}
    return f"{rng.get('filename', '?')}:{start.get('line', 1)}:{start.get('column', 1)}: "


def render_diagnostic(diag: dict[str, Any], *, color: bool = False) -> str:
    where = _where(diag)
    severity = str(diag.get("severity", "error"))
    label = paint(severity, BOLD + (RED if severity == "error" else YELLOW), color)
    text = f"{where}{label}: {diag.get('summary', '')}"
    if diag.get("address"):
        text += f" [{printable(str(diag['address']))}]"
    detail = diag.get("detail") or ""
    if detail:
        text += "\n  " + detail.replace("\n", "\n  ")
    return text


def summary_line(diag: dict[str, Any]) -> str:
    """One line: ``file:line:col: summary [address]`` (no severity, no detail)."""
    text = f"{_where(diag)}{diag.get('summary', '')}"
    if diag.get("address"):
        text += f" [{printable(str(diag['address']))}]"
    return printable(text)


def render_diagnostics(diags_json: Iterable[dict[str, Any]], *, color: bool = False) -> str:
    """All diagnostics, one block each, separated by newlines (no trailing newline)."""
    return "\n".join(render_diagnostic(d, color=color) for d in diags_json)
