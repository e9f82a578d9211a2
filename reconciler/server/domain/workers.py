"""Workers (prefect-api.md §1.3): heartbeats (an upsert on pool and name), status computed
when read (ONLINE until 3 missed intervals, 30 s when the worker sent none), filter, delete.

Must not decide anything about runs; a pool's READY status asks :func:`any_online`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from reconciler.server.clock import as_utc, from_text
from reconciler.server.domain import Ctx, atomic
from reconciler.server.domain.refusals import NotFound, pool_not_found
from reconciler.server.domain.sql import in_clause, new_id, page_limit
from reconciler.server.store import Row

FALLBACK_INTERVAL = 30
"""Seconds between heartbeats assumed for a worker that sent no interval."""
INACTIVITY_MULTIPLE = 3
"""A worker is OFFLINE after this many intervals without a heartbeat."""


def is_online(row: Row, now: datetime) -> bool:
    interval = row["heartbeat_interval_seconds"] or FALLBACK_INTERVAL
    last = from_text(row["last_heartbeat_time"])
    return last is not None and now - last <= timedelta(seconds=interval * INACTIVITY_MULTIPLE)


def any_online(ctx: Ctx, pool_id: str, now: datetime) -> bool:
    rows = ctx.store.query(
        "SELECT last_heartbeat_time, heartbeat_interval_seconds FROM worker WHERE work_pool_id = ?", (pool_id,)
    )
    return any(is_online(r, now) for r in rows)


def pools_online(ctx: Ctx, pool_ids: list[str], now: datetime) -> set[str]:
    """The pools among ``pool_ids`` with a worker online (:func:`any_online` of each, in one statement)."""
    if not pool_ids:
        return set()
    params: list[Any] = []
    clause = in_clause("work_pool_id", pool_ids, params)
    rows = ctx.store.query(
        f"SELECT work_pool_id, last_heartbeat_time, heartbeat_interval_seconds FROM worker WHERE {clause}", params)
    return {r["work_pool_id"] for r in rows if is_online(r, now)}


def _pool_id(ctx: Ctx, pool: str) -> str:
    row = ctx.store.one("SELECT id FROM work_pool WHERE name = ?", (pool,))
    if row is None:
        raise pool_not_found(pool)
    return row["id"]


@atomic
def heartbeat(ctx: Ctx, pool: str, name: str, interval: int | None) -> None:
    """Record a heartbeat: one upsert on (pool, name), so two replicas never create the worker twice."""
    pool_id = _pool_id(ctx, pool)
    now = ctx.now_text()
    ctx.store.execute(
        "INSERT INTO worker (id, created, updated, work_pool_id, name, last_heartbeat_time, heartbeat_interval_seconds) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (work_pool_id, name) DO UPDATE SET "
        "last_heartbeat_time = excluded.last_heartbeat_time, updated = excluded.updated, "
        "heartbeat_interval_seconds = COALESCE(excluded.heartbeat_interval_seconds, worker.heartbeat_interval_seconds)",
        (new_id(), now, now, pool_id, name, now, interval),
    )


def worker_json(row: Row, now: datetime) -> dict[str, Any]:
    return {
        "id": row["id"],
        "created": row["created"],
        "updated": row["updated"],
        "name": row["name"],
        "work_pool_id": row["work_pool_id"],
        "last_heartbeat_time": row["last_heartbeat_time"],
        "heartbeat_interval_seconds": row["heartbeat_interval_seconds"],
        "status": "ONLINE" if is_online(row, now) else "OFFLINE",
    }


@atomic
def filter_workers(ctx: Ctx, pool: str, flt: Any, limit: int | None, offset: int | None) -> list[dict[str, Any]]:
    limit = page_limit(limit)
    pool_id = _pool_id(ctx, pool)
    rows = ctx.store.query("SELECT * FROM worker WHERE work_pool_id = ? ORDER BY last_heartbeat_time DESC, name", (pool_id,))
    now = ctx.now()
    out = [worker_json(r, now) for r in rows]
    if flt is not None:
        out = [w for w in out if _matches(w, flt)]
    start = offset or 0
    return out[start:start + limit]


@atomic
def delete_worker(ctx: Ctx, pool: str, name: str) -> None:
    pool_id = _pool_id(ctx, pool)
    if not ctx.store.execute("DELETE FROM worker WHERE work_pool_id = ? AND name = ?", (pool_id, name)):
        raise NotFound("Worker not found.")


def _matches(worker: dict[str, Any], flt: Any) -> bool:
    checks: list[bool] = []
    if flt.status is not None:
        if flt.status.any_ is not None:
            checks.append(worker["status"] in flt.status.any_)
        if flt.status.not_any_ is not None:
            checks.append(worker["status"] not in flt.status.not_any_)
    if flt.last_heartbeat_time is not None:
        last = from_text(worker["last_heartbeat_time"])
        if flt.last_heartbeat_time.before_ is not None:
            checks.append(last is not None and last <= as_utc(flt.last_heartbeat_time.before_))
        if flt.last_heartbeat_time.after_ is not None:
            checks.append(last is not None and last >= as_utc(flt.last_heartbeat_time.after_))
    if not checks:
        return True
    return any(checks) if flt.operator == "or_" else all(checks)
