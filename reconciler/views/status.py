"""Render ``poolform status`` and ``poolform explain`` for people, from their JSON documents only
(``reconciler.explain.status_document`` and ``explain_document``).

Tables are rich's; every string from the server goes in as plain ``Text`` with control characters
escaped (``model.state.printable``), so a name can neither inject rich markup nor terminal codes.
Colour only when the caller asks for it (a terminal, not CI, ``NO_COLOR`` or ``TERM=dumb``).
Must not compute anything the documents lack but durations relative to their ``now``.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from reconciler.model.state import printable

DEFAULT_WIDTH = 120
PLAIN_BOX = box.Box("    \n    \n -- \n    \n    \n -- \n    \n    \n", ascii=True)
"""rich's SIMPLE box in ASCII, for output without colour (logs, CI, ``TERM=dumb``)."""


def _t(value: Any, style: str = "") -> Text:
    return Text("-" if value is None else printable(str(value)), style=style)


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _ago(value: str | None, now: str | None) -> str:
    when, current = _time(value), _time(now)
    if when is None or current is None:
        return "never"
    seconds = int((current - when).total_seconds())
    return f"{_span(seconds)} ago" if seconds >= 0 else f"in {_span(-seconds)}"


def _span(seconds: float) -> str:
    total = int(seconds)
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if total >= size:
            rest = total % size
            smaller = {"d": ("h", 3_600), "h": ("m", 60), "m": ("s", 1)}[unit]
            return f"{total // size}{unit}" + (f" {rest // smaller[1]}{smaller[0]}" if rest // smaller[1] else "")
    return f"{total}s"


def status_renderable(document: dict[str, Any], *, plain: bool = False) -> RenderableType:
    """The status of every pool in the document: a pool line, its queues in waterfall order, its
    workers. ``plain``: ASCII only (no box-drawing characters, no infinity sign)."""
    now = document.get("now")
    frame = PLAIN_BOX if plain else box.SIMPLE

    def _slots(in_use: int, limit: int | None) -> str:
        return f"{in_use}/{('-' if plain else '∞') if limit is None else limit}"

    parts: list[RenderableType] = []
    if not document.get("pools"):
        parts.append(Text("No work pools."))
    for pool in document.get("pools", []):
        status = pool.get("status") or "-"
        style = {"READY": "green", "NOT_READY": "yellow", "PAUSED": "red"}.get(status, "")
        head = Text.assemble(("Work pool ", "bold"), _t(pool["name"], "bold"), "  type ", _t(pool.get("type")),
                             "  status ", _t(status, style), "  slots ",
                             _t(_slots(pool["slots_in_use"], pool.get("concurrency_limit"))),
                             "  backlog ", _t(pool.get("backlog", 0)))
        parts.append(head)
        queues = Table(box=frame, show_edge=False, pad_edge=False, header_style="bold")
        for column, justify in (("queue", "left"), ("priority", "right"), ("paused", "left"), ("slots", "right"),
                                ("backlog", "right"), ("oldest due late by", "right"), ("last polled", "right")):
            queues.add_column(column, justify=justify)  # type: ignore[arg-type]
        for q in pool.get("queues", []):
            late = q.get("lateness_seconds")
            queues.add_row(
                _t(q["name"]), _t(q["priority"]), _t("paused" if q["is_paused"] else "no", "red" if q["is_paused"] else ""),
                _t(_slots(q["slots_in_use"], q.get("concurrency_limit"))), _t(q["backlog"]),
                _t("-" if late is None else _span(max(0, late)), "yellow" if late and late > 0 else ""),
                _t(_ago(q.get("last_polled"), now)),
            )
        parts.append(queues)
        workers = pool.get("workers", [])
        if workers:
            table = Table(box=frame, show_edge=False, pad_edge=False, header_style="bold")
            for column in ("worker", "status", "last heartbeat"):
                table.add_column(column)
            for w in workers:
                online = w["status"] == "ONLINE"
                table.add_row(_t(w["name"]), _t(w["status"], "green" if online else "red"),
                              _t(_ago(w.get("last_heartbeat_time"), now)))
            parts.append(table)
        else:
            parts.append(Text("  no workers", style="yellow"))
        parts.append(Text(""))
    return Group(*parts)


def _to_text(renderable: RenderableType, *, color: bool, width: int | None) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color, color_system="standard" if color else None,
                      width=width or DEFAULT_WIDTH, highlight=False, emoji=False, markup=False, soft_wrap=False)
    console.print(renderable)
    lines = [line.rstrip() for line in buffer.getvalue().splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


def render_status(document: dict[str, Any], *, color: bool = False, width: int | None = None) -> str:
    return _to_text(status_renderable(document, plain=not color), color=color, width=width)


def render_explanation(document: dict[str, Any], *, color: bool = False, width: int | None = None) -> str:
    """One run: what it is, where it stands, each reason; or that a poll now would hand it out."""
    run = document["run"]
    state = run.get("state_type") or "no state"
    if run.get("state_name") and str(run["state_name"]).upper() != state:
        state += f" ({run['state_name']})"
    lines: list[RenderableType] = [
        Text.assemble(("Flow run ", "bold"), _t(run.get("name") or run["id"], "bold"), f"  {run['id']}"),
        Text.assemble("  state    ", _t(state)),
        Text.assemble("  pool     ", _t(document.get("pool")), "   queue ", _t(document.get("queue"))),
    ]
    if run.get("next_scheduled_start_time"):
        lines.append(Text.assemble("  due      ", _t(run["next_scheduled_start_time"])))
    position = document.get("position")
    if position is not None:
        ahead = document.get("ahead") or []
        names = ", ".join(printable(a.get("name") or a["id"]) for a in ahead[:5])
        more = f" and {len(ahead) - 5} more" if len(ahead) > 5 else ""
        lines.append(Text(f"  position {position}" + (f" (after {names}{more})" if ahead else " (first in line)")))
    reasons = document.get("reasons") or []
    if not reasons:
        lines.append(Text("Nothing holds it back: a worker polling now would receive it.", style="green"))
    else:
        lines.append(Text("Why it has not started:", style="bold"))
        table = Table(box=None, show_header=False, pad_edge=True, padding=(0, 2, 0, 2))
        table.add_column("code", style="yellow", no_wrap=True)
        table.add_column("message")
        for reason in reasons:
            table.add_row(_t(reason["code"], "yellow"), _t(reason["message"]))
        lines.append(table)
    return _to_text(Group(*lines), color=color, width=width)
