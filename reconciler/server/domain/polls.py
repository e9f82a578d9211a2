"""The scheduled-run polls (prefect-api.md §4, §1.4): ``get_scheduled_flow_runs`` of a work pool
and the legacy ``get_runs`` of a queue. A poll records itself (the queues' ``last_polled`` and
READY status, the deployments' ``last_polled``) and hands out SCHEDULED runs; it claims nothing.

Load (the pool, its queues with their occupancy, each eligible queue's oldest runs up to its free
slots) -> decide (``scheduling.select_runs``, pure) -> answer. Must not change a run's state:
workers claim with ``set_state`` (``flow_runs``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from reconciler.server import scheduling
from reconciler.server.clock import as_utc, from_text, to_text
from reconciler.server.domain import Ctx, atomic, flow_runs, queues, slots
from reconciler.server.domain.refusals import object_not_found, pool_not_found, queue_not_found
from reconciler.server.domain.sql import RUN_COLUMNS, count, dumps, in_clause, page_limit, states_in
from reconciler.server.orchestration import ACTIVE_TYPES


@atomic
def record_poll(ctx: Ctx, queue_ids: Sequence[str], now_text: str) -> None:
    """The queues polled are READY (unless paused) and their deployments polled now: its own
    short transaction after the poll's. A row another poll is recording at this moment is left
    to that poll (``skip_locked``: it writes the same instant, give or take milliseconds), so
    polls never wait for each other; rows are locked queues first, then deployments, by id."""
    queue_ids = ctx.store.lock("work_queue", queue_ids, skip_locked=True)
    if not queue_ids:
        return
    params: list[Any] = [now_text]
    clause = in_clause("id", queue_ids, params)
    ctx.store.execute(
        "UPDATE work_queue SET last_polled = ?, status = CASE WHEN status = 'NOT_READY' THEN 'READY' ELSE status END "
        f"WHERE {clause}",
        params,
    )
    found: list[Any] = []
    deployments = [r["id"] for r in ctx.store.query(
        f"SELECT id FROM deployment WHERE {in_clause('work_queue_id', queue_ids, found)}", found)]
    deployments = ctx.store.lock("deployment", deployments, skip_locked=True)
    if deployments:
        dparams: list[Any] = [now_text]
        ctx.store.execute(f"UPDATE deployment SET last_polled = ? WHERE {in_clause('id', deployments, dparams)}", dparams)


def scheduled_runs(
    ctx: Ctx, pool_name: str, *, queue_names: list[str] | None, before: datetime | None, after: datetime | None,
    limit: int | None,
) -> str:
    """The poll's answer as JSON text: ``[{work_pool_id, work_queue_id, flow_run}]``. First the
    pool's stale claims go back to SCHEDULED (``leases``), so their slots and runs are handed out
    again; last the poll is recorded."""
    stale = flow_runs.stale_pool(ctx, pool_name)
    if stale is not None:
        flow_runs.reclaim_stale(ctx, stale)
    text, polled, now = _hand_out(ctx, pool_name, queue_names=queue_names, before=before, after=after, limit=limit)
    record_poll(ctx, polled, to_text(now))  # type: ignore[arg-type]
    return text


@atomic
def _hand_out(
    ctx: Ctx, pool_name: str, *, queue_names: list[str] | None, before: datetime | None, after: datetime | None,
    limit: int | None,
) -> tuple[str, list[str], datetime]:
    limit = page_limit(limit)
    before = as_utc(before) if before else None
    after = as_utc(after) if after else None
    pool = ctx.store.one(
        "SELECT id, is_paused, concurrency_limit FROM work_pool WHERE name = ?", (pool_name,)
    )
    if pool is None:
        raise pool_not_found(pool_name)
    in_pool = slots.queues_with_occupancy(ctx, pool["id"])
    by_name = {q.name: q for q in in_pool}
    queue_ids: set[str] | None = None
    if queue_names:
        queue_ids = set()
        for name in queue_names:
            if name not in by_name:
                raise queue_not_found(pool_name, name)
            queue_ids.add(by_name[name].id)
    pool_slots = scheduling.PoolSlots(
        is_paused=bool(pool["is_paused"]), concurrency_limit=pool["concurrency_limit"],
        active=sum(q.active for q in in_pool), name=pool_name,
    )
    now = ctx.now()
    polled = [q.id for q in in_pool if queue_ids is None or q.id in queue_ids]
    pool_free = scheduling.free_slots(pool_slots.concurrency_limit, pool_slots.active)
    candidates: list[scheduling.Candidate] = []
    if not pool_slots.is_paused and limit > 0 and pool_free != 0:
        for q in in_pool:
            if q.is_paused or (queue_ids is not None and q.id not in queue_ids):
                continue
            cap = min(x for x in (limit, pool_free, scheduling.free_slots(q.concurrency_limit, q.active)) if x is not None)
            if cap <= 0:
                continue
            sql = ("SELECT id, work_queue_id, next_scheduled_start_time FROM flow_run "
                   "WHERE work_queue_id = ? AND state_type = 'SCHEDULED'")
            params: list[Any] = [q.id]
            if before is not None:
                sql += " AND next_scheduled_start_time <= ?"
                params.append(to_text(before))
            if after is not None:
                sql += " AND next_scheduled_start_time >= ?"
                params.append(to_text(after))
            sql += " ORDER BY next_scheduled_start_time, id LIMIT ?"
            params.append(cap)
            candidates.extend(
                scheduling.Candidate(id=r["id"], queue_id=r["work_queue_id"],
                                     next_scheduled_start_time=from_text(r["next_scheduled_start_time"]))  # type: ignore[arg-type]
                for r in ctx.store.query(sql, params)
            )
    chosen = scheduling.select_runs(
        pool_slots, in_pool, candidates, queue_ids=queue_ids, scheduled_before=before,
        scheduled_after=after, limit=limit,
    )
    if not chosen:
        return "[]", polled, now
    params = []
    clause = in_clause("id", [c.id for c in chosen], params)
    rows = {r["id"]: r for r in ctx.store.query(f"SELECT {RUN_COLUMNS} FROM flow_run WHERE {clause}", params)}
    prefix = f'{{"work_pool_id":{dumps(pool["id"])},"work_queue_id":'
    return "[" + ",".join(
        f'{prefix}{dumps(c.queue_id)},"flow_run":{flow_runs.core_run_text(rows[c.id], now)}}}'
        for c in chosen
        if c.id in rows
    ) + "]", polled, now


def legacy_get_runs(ctx: Ctx, queue_id: str, before: datetime | None, limit: int | None, *,
                    record: bool) -> list[dict[str, Any]]:
    """The queue's SCHEDULED runs up to its free slots (CANCELLING runs hold one too, as in
    Prefect's legacy route); ``record`` is False for the UI's reads, which are not polls."""
    found = ctx.store.one("SELECT work_pool_id FROM work_queue WHERE id = ?", (queue_id,))
    if found is not None:
        flow_runs.reclaim_stale(ctx, found["work_pool_id"])
    runs, now = _legacy_runs(ctx, queue_id, before, limit)
    if record:
        record_poll(ctx, [queue_id], to_text(now))  # type: ignore[arg-type]
    return runs


@atomic
def _legacy_runs(ctx: Ctx, queue_id: str, before: datetime | None, limit: int | None) -> tuple[list[dict[str, Any]], datetime]:
    limit = page_limit(limit)
    queue = queues.queue_by_id(ctx, queue_id, object_not_found("Work queue", queue_id, "."))
    now = ctx.now()
    pool = ctx.store.one("SELECT is_paused FROM work_pool WHERE id = ?", (queue["work_pool_id"],))
    if queue["is_paused"] or (pool is not None and pool["is_paused"]):
        return [], now
    if queue["concurrency_limit"] is not None:
        busy = count(ctx.store.one(
            f"SELECT COUNT(*) AS n FROM flow_run WHERE work_queue_id = ? AND {states_in('state_type', ACTIVE_TYPES | {'CANCELLING'})}",
            (queue_id,),
        ))
        limit = min(limit, max(0, queue["concurrency_limit"] - busy))
    sql = f"SELECT {RUN_COLUMNS} FROM flow_run WHERE work_queue_id = ? AND state_type = 'SCHEDULED'"
    params: list[Any] = [queue_id]
    if before is not None:
        sql += " AND next_scheduled_start_time <= ?"
        params.append(to_text(as_utc(before)))
    rows = ctx.store.query(sql + " ORDER BY next_scheduled_start_time, id LIMIT ?", (*params, limit))
    return [flow_runs.run_json(ctx, r, now, pool=(None, None)) for r in rows], now
