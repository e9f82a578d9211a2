"""The reference server's read-only status page (``GET /``): HTML rendered from the status and
pending-runs documents that ``/api/poolform/status`` and ``/api/poolform/work_pools/{name}/pending``
answer, so the page shows exactly the API's numbers.

Owns: the page's markup: per pool its occupancy against its limit, its queues in waterfall order,
its workers and their last heartbeat, its SCHEDULED runs with position and reasons (late runs
marked), refreshed by ``<meta http-equiv="refresh">`` (no script, no build step). Every value that
comes from a document is escaped (:func:`html.escape`, quotes included); numbers are formatted
from ints. Pure: no I/O, no clock (the documents carry ``now``); must not compute a position, a
reason or an occupancy itself (``reconciler.explain`` does).
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any, Iterable, Mapping

REFRESH_SECONDS = 5
"""How often the browser reloads the page."""
MAX_RUNS = 100
"""Pending runs listed per pool; the rest are counted."""

CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
"""Sent with the page: even markup that escaped escaping could not run a script or load anything."""

_STYLE = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5rem;color:#1b1f24;background:#f6f8fa}
h1{font-size:1.3rem;margin:0 0 .2rem}h2{font-size:1.1rem;margin:0}h3{font-size:.95rem;margin:1rem 0 .3rem}
.muted{color:#57606a}.pool{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:1rem;margin:1rem 0}
.head{display:flex;gap:.8rem;align-items:baseline;flex-wrap:wrap}
.badge{font-size:.75rem;font-weight:600;padding:.1rem .45rem;border-radius:1rem;background:#ddf4ff;color:#0969da}
.badge.PAUSED,.badge.OFFLINE,.badge.paused{background:#fff8c5;color:#9a6700}.badge.NOT_READY{background:#ffebe9;color:#cf222e}
.badge.READY,.badge.ONLINE{background:#dafbe1;color:#1a7f37}
.bar{display:inline-block;vertical-align:middle;width:10rem;height:.7rem;background:#eaeef2;border-radius:.35rem;overflow:hidden}
.bar>span{display:block;height:100%;background:#2da44e}.bar.full>span{background:#cf222e}
table{border-collapse:collapse;width:100%;margin:.2rem 0}th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #eaeef2;vertical-align:top}
th{font-weight:600;color:#57606a;font-size:.8rem}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.late td{background:#fff1e5}tr.late .state{color:#bc4c00;font-weight:600}
code{font-size:.8rem;background:#f6f8fa;padding:0 .25rem;border-radius:4px}ul.reasons{margin:0;padding-left:1rem}
"""


def _e(value: Any) -> str:
    """A document value as escaped text (None as an em dash)."""
    return "—" if value is None else html.escape(str(value), quote=True)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _duration(seconds: float) -> str:
    seconds = int(abs(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def _when(value: Any, now: datetime | None) -> str:
    """A time as ``<time>`` with how long ago (or from now) it is."""
    when = _parse(value)
    if when is None:
        return "—"
    relative = ""
    if now is not None:
        delta = (now - when).total_seconds()
        relative = f" ({_duration(delta)} ago)" if delta >= 0 else f" (in {_duration(delta)})"
    return f'<time datetime="{_e(value)}">{_e(when.strftime("%Y-%m-%d %H:%M:%S"))}</time>{relative}'


def _occupancy(in_use: Any, limit: Any, label: str) -> str:
    """``n of limit`` with a bar (``data-`` attributes hold the numbers), or ``n, no limit``."""
    used = _int(in_use) or 0
    cap = _int(limit)
    data = f'data-in-use="{used}" data-limit="{"" if cap is None else cap}"'
    if cap is None:
        return f'<span class="occupancy" {data} title="{_e(label)}">{used} in use, no limit</span>'
    width = 100 if cap == 0 or used >= cap else round(100 * used / cap)
    full = " full" if used >= cap else ""
    return (f'<span class="occupancy" {data} title="{_e(label)}"><span class="bar{full}" role="img" '
            f'aria-label="{used} of {cap} slots in use"><span style="width:{width}%"></span></span> '
            f'{used} of {cap} in use</span>')


def _queues(queues: Iterable[Mapping[str, Any]], now: datetime | None) -> str:
    rows = []
    for order, q in enumerate(queues):
        paused = ' <span class="badge paused">paused</span>' if q.get("is_paused") else ""
        late = _int(q.get("backlog")) and q.get("lateness_seconds") is not None and q["lateness_seconds"] > 0
        rows.append(
            f'<tr class="queue{" late" if late else ""}" data-queue="{_e(q.get("name"))}">'
            f'<td class="num">{order + 1}</td><td class="num">{_e(q.get("priority"))}</td>'
            f'<td>{_e(q.get("name"))}{paused}</td>'
            f'<td>{_occupancy(q.get("slots_in_use"), q.get("concurrency_limit"), "queue slots")}</td>'
            f'<td class="num backlog">{_e(q.get("backlog"))}</td>'
            f'<td>{_when(q.get("oldest_due"), now)}</td><td>{_when(q.get("last_polled"), now)}</td></tr>')
    if not rows:
        return '<p class="muted">No queues.</p>'
    return ('<table class="queues"><thead><tr><th>order</th><th>priority</th><th>queue</th><th>slots</th>'
            '<th>due runs</th><th>oldest due</th><th>last polled</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")


def _workers(workers: Iterable[Mapping[str, Any]], now: datetime | None) -> str:
    rows = [
        f'<tr class="worker" data-worker="{_e(w.get("name"))}"><td>{_e(w.get("name"))}</td>'
        f'<td><span class="badge {_e(w.get("status"))}">{_e(w.get("status"))}</span></td>'
        f'<td>{_when(w.get("last_heartbeat_time"), now)}</td></tr>'
        for w in workers
    ]
    if not rows:
        return '<p class="muted">No worker has heartbeated.</p>'
    return ('<table class="workers"><thead><tr><th>worker</th><th>status</th><th>last heartbeat</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")


def _runs(pending: Mapping[str, Any] | None, now: datetime | None, max_runs: int) -> str:
    entries = list((pending or {}).get("runs") or [])
    if not entries:
        return '<p class="muted">No scheduled runs.</p>'
    rows = []
    for entry in entries[:max_runs]:
        run = entry.get("run") or {}
        late = run.get("state_name") == "Late"
        reasons = entry.get("reasons") or []
        why = ("<ul class=\"reasons\">" + "".join(
            f'<li><code>{_e(r.get("code"))}</code> {_e(r.get("message"))}</li>' for r in reasons) + "</ul>"
               if reasons else '<span class="muted">a worker polling now would receive it</span>')
        position = entry.get("position")
        rows.append(
            f'<tr class="run{" late" if late else ""}" data-run="{_e(run.get("id"))}">'
            f'<td class="num position">{"—" if _int(position) is None else position}</td>'
            f'<td>{_e(run.get("name"))}</td><td>{_e(entry.get("queue"))}</td>'
            f'<td class="state">{_e(run.get("state_name"))}</td>'
            f'<td>{_when(run.get("next_scheduled_start_time"), now)}</td><td>{why}</td></tr>')
    more = len(entries) - max_runs
    tail = f'<p class="muted">… and {more} more scheduled runs.</p>' if more > 0 else ""
    return ('<table class="runs"><thead><tr><th>position</th><th>run</th><th>queue</th><th>state</th>'
            '<th>scheduled</th><th>why it has not started</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>"
            + tail)


def _pool(pool: Mapping[str, Any], pending: Mapping[str, Any] | None, now: datetime | None, max_runs: int) -> str:
    status = pool.get("status")
    badge = f'<span class="badge {_e(status)}">{_e(status)}</span>' if status else ""
    return (
        f'<section class="pool" data-pool="{_e(pool.get("name"))}"><div class="head">'
        f'<h2>{_e(pool.get("name"))}</h2>{badge}<span class="muted">{_e(pool.get("type"))}</span>'
        f'{_occupancy(pool.get("slots_in_use"), pool.get("concurrency_limit"), "pool slots")}'
        f'<span class="muted"><span class="backlog">{_e(pool.get("backlog"))}</span> due '
        f'run{"" if pool.get("backlog") == 1 else "s"}</span></div>'
        f'<h3>Queues, in the order a poll takes them</h3>{_queues(pool.get("queues") or [], now)}'
        f'<h3>Workers</h3>{_workers(pool.get("workers") or [], now)}'
        f'<h3>Scheduled runs</h3>{_runs(pending, now, max_runs)}</section>'
    )


def render_page(status: Mapping[str, Any], pending: Mapping[str, Mapping[str, Any]], *,
                refresh: int = REFRESH_SECONDS, max_runs: int = MAX_RUNS) -> str:
    """The whole page: ``status`` is the status document, ``pending`` the pending-runs document per pool name."""
    now = _parse(status.get("now"))
    pools = list(status.get("pools") or [])
    body = "".join(_pool(p, pending.get(str(p.get("name"))), now, max_runs) for p in pools)
    if not pools:
        body = '<p class="muted">No work pools yet.</p>'
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="refresh" content="{int(refresh)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>poolform server status</title><style>{_STYLE}</style></head><body>"
        f'<h1>Work pools</h1><p class="muted">poolform reference server, as of {_when(status.get("now"), None)} UTC; '
        f"this page reloads every {int(refresh)} s. The same numbers: <code>GET /api/poolform/status</code>.</p>"
        f"{body}</body></html>\n"
    )


__all__ = ["CONTENT_SECURITY_POLICY", "MAX_RUNS", "REFRESH_SECONDS", "render_page"]
