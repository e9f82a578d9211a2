"""poolform's extension reads (``/api/poolform/``): where each SCHEDULED run of a pool stands and
why it has not started, one run's explanation, and the pools' status.

Load (a pool's :class:`reconciler.explain.Picture` from the store, in one transaction) -> decide
(``reconciler.explain``, pure: the same computation ``poolform explain`` and ``poolform status``
run on Prefect API reads) -> answer. Runs are described as the API describes them (a late
SCHEDULED run is named "Late", a run's queue and pool by their current names), so the two
agree. Must not write anything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

import reconciler.explain as explain
from reconciler.server.clock import from_text, to_text
from reconciler.server.domain import Ctx, atomic, flow_runs, pools
from reconciler.server.domain.refusals import NotFound
from reconciler.server.domain.sql import POOL_COLUMNS, in_clause
from reconciler.server.orchestration import ACTIVE_TYPES
from reconciler.server.store import Row

_RUN = ("r.id, r.name, r.state_type, r.state_name, r.work_queue_id, r.work_queue_name, r.next_scheduled_start_time, "
        "q.name AS queue_name, p.name AS pool_name")


def _run(row: Row, now: datetime) -> explain.Run:
    late = flow_runs.is_late(row, now)
    return explain.Run(
        id=row["id"], name=row["name"] or "", state_type=row["state_type"],
        state_name="Late" if late else row["state_name"],
        queue_id=row["work_queue_id"] if row["queue_name"] is not None else None,
        queue_name=row["queue_name"] if row["queue_name"] is not None else row["work_queue_name"],
        pool_name=row["pool_name"], next_scheduled_start_time=from_text(row["next_scheduled_start_time"]),
    )


def _picture(ctx: Ctx, pool_row: Row, now: datetime, *, future: bool) -> explain.Picture:
    """The pool's picture: its queues, PENDING/RUNNING runs, due (``future``: all) SCHEDULED runs, workers."""
    pool_id = pool_row["id"]
    status = pools.pool_json(ctx, pool_row, now)["status"]
    queues = ctx.store.query(
        "SELECT id, name, priority, is_paused, concurrency_limit, last_polled FROM work_queue WHERE work_pool_id = ?",
        (pool_id,),
    )
    params: list[Any] = [pool_id]
    active = in_clause("r.state_type", sorted(ACTIVE_TYPES), params)
    scheduled = "r.state_type = 'SCHEDULED'"
    if not future:
        scheduled += " AND r.next_scheduled_start_time <= ?"
        params.append(to_text(now))
    runs = ctx.store.query(
        f"SELECT {_RUN} FROM flow_run r JOIN work_queue q ON q.id = r.work_queue_id JOIN work_pool p ON p.id = q.work_pool_id "
        f"WHERE q.work_pool_id = ? AND ({active} OR ({scheduled}))",
        params,
    )
    workers = ctx.store.query(
        "SELECT name, last_heartbeat_time, heartbeat_interval_seconds FROM worker WHERE work_pool_id = ?", (pool_id,)
    )
    return explain.Picture(
        pool=explain.Pool(name=pool_row["name"], type=pool_row["type"], is_paused=bool(pool_row["is_paused"]),
                          concurrency_limit=pool_row["concurrency_limit"], status=status),
        queues=tuple(explain.Queue(id=q["id"], name=q["name"], priority=q["priority"], is_paused=bool(q["is_paused"]),
                                   concurrency_limit=q["concurrency_limit"], last_polled=from_text(q["last_polled"]))
                     for q in queues),
        runs=tuple(_run(r, now) for r in runs),
        workers=tuple(explain.Worker(name=w["name"], last_heartbeat_time=from_text(w["last_heartbeat_time"]),
                                     heartbeat_interval_seconds=w["heartbeat_interval_seconds"]) for w in workers),
    )


@atomic
def pending_runs(ctx: Ctx, pool_name: str) -> dict[str, Any]:
    """Every SCHEDULED run of the pool with its position and reasons (``explain.pending_document``)."""
    row = pools.pool_row(ctx, pool_name)
    now = ctx.now()
    return explain.pending_document(_picture(ctx, row, now, future=True), now)


@atomic
def explain_run(ctx: Ctx, run_id: str) -> dict[str, Any]:
    """One run's position and reasons (``explain.explain_document``), as ``poolform explain --json``."""
    now = ctx.now()
    found = ctx.store.one(
        f"SELECT {_RUN} FROM flow_run r LEFT JOIN work_queue q ON q.id = r.work_queue_id "
        "LEFT JOIN work_pool p ON p.id = q.work_pool_id WHERE r.id = ?",
        (run_id,),
    )
    if found is None:
        raise NotFound("Flow run not found")
    run = _run(found, now)
    picture = explain.Picture(None)
    if run.pool_name is not None:
        picture = _picture(ctx, pools.pool_row(ctx, run.pool_name), now, future=False)
    return explain.explain_document(explain.explain_run(picture, run, now), picture)


@atomic
def status(ctx: Ctx, pool_names: Sequence[str]) -> dict[str, Any]:
    """The status document of the pools named (every pool when none is), as ``poolform status --json``."""
    now = ctx.now()
    if pool_names:
        rows = [pools.pool_row(ctx, name) for name in dict.fromkeys(pool_names)]
    else:
        rows = ctx.store.query(f"SELECT {POOL_COLUMNS} FROM work_pool ORDER BY name")
    return explain.status_document([_picture(ctx, row, now, future=False) for row in rows], now)
