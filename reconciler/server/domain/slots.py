"""Occupancy: the runs that hold a pool's or a queue's slots (state type in ``ACTIVE_TYPES``,
counted with ``sql.active``), the slots a claim is checked against, and the
``concurrency_status`` views (prefect-api.md §1.1, §1.4).

A pool's occupancy counts the runs in all of its queues, paused or not. Must not decide
whether a claim may proceed: that is ``scheduling.claim_refusal``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import reconciler.scheduling as scheduling
from reconciler.server.clock import from_text
from reconciler.server.domain import Ctx, atomic
from reconciler.server.domain.refusals import NotFound
from reconciler.server.domain.sql import QUEUE_ORDER, active, count, in_clause, page_limit, pages


def active_in_pool(ctx: Ctx, pool_id: str) -> int:
    return count(ctx.store.one(
        f"SELECT COUNT(*) AS n FROM flow_run r JOIN work_queue q ON q.id = r.work_queue_id "
        f"WHERE q.work_pool_id = ? AND {active('r.state_type')}",
        (pool_id,),
    ))


def active_in_queue(ctx: Ctx, queue_id: str) -> int:
    return count(ctx.store.one(f"SELECT COUNT(*) AS n FROM flow_run WHERE work_queue_id = ? AND {active()}", (queue_id,)))


_ACTIVE_RUN = active("r.state_type")


def active_in_pools(ctx: Ctx, pool_ids: list[str]) -> dict[str, int]:
    """:func:`active_in_pool` of each pool, in one statement (a page of a filter); absent: 0."""
    if not pool_ids:
        return {}
    params: list[Any] = []
    clause = in_clause("q.work_pool_id", pool_ids, params)
    return {r["pool_id"]: int(r["n"]) for r in ctx.store.query(
        "SELECT q.work_pool_id AS pool_id, COUNT(*) AS n FROM flow_run r JOIN work_queue q ON q.id = r.work_queue_id "
        f"WHERE {clause} AND {_ACTIVE_RUN} GROUP BY q.work_pool_id", params)}


def active_in_queues(ctx: Ctx, queue_ids: list[str]) -> dict[str, int]:
    """:func:`active_in_queue` of each queue, in one statement (a page of a filter); absent: 0."""
    if not queue_ids:
        return {}
    params: list[Any] = []
    clause = in_clause("r.work_queue_id", queue_ids, params)
    return {r["queue_id"]: int(r["n"]) for r in ctx.store.query(
        f"SELECT r.work_queue_id AS queue_id, COUNT(*) AS n FROM flow_run r WHERE {clause} AND {_ACTIVE_RUN} "
        "GROUP BY r.work_queue_id", params)}


def queues_with_occupancy(ctx: Ctx, pool_id: str) -> list[scheduling.QueueSlots]:
    """Every queue of a pool with its occupancy, in priority order (what a poll walks)."""
    rows = ctx.store.query(
        "SELECT q.id, q.name, q.priority, q.is_paused, q.concurrency_limit, "
        f"(SELECT COUNT(*) FROM flow_run r WHERE r.work_queue_id = q.id AND {active('r.state_type')}) AS active "
        "FROM work_queue q WHERE q.work_pool_id = ? ORDER BY q.priority, q.name",
        (pool_id,),
    )
    return [
        scheduling.QueueSlots(id=q["id"], name=q["name"], priority=q["priority"], is_paused=bool(q["is_paused"]),
                              concurrency_limit=q["concurrency_limit"], active=int(q["active"]))
        for q in rows
    ]


def claim_slots(ctx: Ctx, queue_id: str) -> tuple[scheduling.PoolSlots, scheduling.QueueSlots] | None:
    """The pool and queue a claim in ``queue_id`` is checked against (None: the queue is gone)."""
    q = ctx.store.one(
        "SELECT q.id, q.name, q.priority, q.is_paused, q.concurrency_limit, q.work_pool_id, p.name AS pool_name, "
        "p.is_paused AS pool_paused, p.concurrency_limit AS pool_limit FROM work_queue q "
        "JOIN work_pool p ON p.id = q.work_pool_id WHERE q.id = ?",
        (queue_id,),
    )
    if q is None:
        return None
    pool = scheduling.PoolSlots(
        is_paused=bool(q["pool_paused"]), concurrency_limit=q["pool_limit"],
        active=active_in_pool(ctx, q["work_pool_id"]), name=q["pool_name"],
    )
    queue = scheduling.QueueSlots(
        id=q["id"], name=q["name"], priority=q["priority"], is_paused=bool(q["is_paused"]),
        concurrency_limit=q["concurrency_limit"], active=active_in_queue(ctx, q["id"]),
    )
    return pool, queue


def _slot_runs(ctx: Ctx, queue_id: str, limit: int, offset: int, now: datetime) -> list[dict[str, Any]]:
    rows = ctx.store.query(
        "SELECT id, name, state_type, state_name, start_time, state_timestamp FROM flow_run "
        f"WHERE work_queue_id = ? AND {active()} ORDER BY state_timestamp, id LIMIT ? OFFSET ?",
        (queue_id, limit, offset),
    )
    out = []
    for r in rows:
        since = from_text(r["state_timestamp"])
        out.append({
            "id": r["id"], "name": r["name"], "state_type": r["state_type"], "state_name": r["state_name"],
            "start_time": r["start_time"], "state_timestamp": r["state_timestamp"],
            "time_in_current_state": None if since is None else max(0.0, (now - since).total_seconds()),
        })
    return out


@atomic
def pool_concurrency_status(ctx: Ctx, pool_name: str, page: int, limit: int | None, flow_run_limit: int) -> dict[str, Any]:
    limit = page_limit(limit)
    pool = ctx.store.one("SELECT id, concurrency_limit FROM work_pool WHERE name = ?", (pool_name,))
    if pool is None:
        raise NotFound(f"Work pool {pool_name!r} not found.")
    now = ctx.now()
    total = count(ctx.store.one("SELECT COUNT(*) AS n FROM work_queue WHERE work_pool_id = ?", (pool["id"],)))
    rows = ctx.store.query(
        "SELECT q.id, q.name, q.concurrency_limit FROM work_queue q WHERE q.work_pool_id = ? "
        f"ORDER BY {QUEUE_ORDER} LIMIT ? OFFSET ?",
        (pool["id"], limit, (page - 1) * limit),
    )
    queues = []
    for q in rows:
        busy = active_in_queue(ctx, q["id"])
        queues.append({
            "queue_id": q["id"], "queue_name": q["name"], "active_slots": busy,
            "concurrency_limit": q["concurrency_limit"],
            "flow_runs": _slot_runs(ctx, q["id"], flow_run_limit, 0, now), "flow_run_count": busy,
        })
    return {
        "active_slots": active_in_pool(ctx, pool["id"]), "concurrency_limit": pool["concurrency_limit"],
        "queues": queues, "count": total, "limit": limit,
        "pages": pages(total, limit), "page": page,
    }


@atomic
def queue_concurrency_status(ctx: Ctx, queue_id: str, page: int, limit: int | None) -> dict[str, Any]:
    limit = page_limit(limit)
    queue = ctx.store.one("SELECT concurrency_limit FROM work_queue WHERE id = ?", (queue_id,))
    if queue is None:
        raise NotFound("Work queue not found.")
    busy = active_in_queue(ctx, queue_id)
    return {
        "active_slots": busy, "concurrency_limit": queue["concurrency_limit"],
        "flow_runs": _slot_runs(ctx, queue_id, limit, (page - 1) * limit, ctx.now()),
        "count": busy, "limit": limit, "pages": pages(busy, limit), "page": page,
    }
