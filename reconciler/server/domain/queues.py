"""Work queues (prefect-api.md §1.2, §1.4, §3): create, read, filter, update, delete in a pool
and by id (the legacy ``/work_queues`` routes), the priority walk, the default queue's
protection, queue status, and finding (or creating) the queue a deployment or run names.

Rules: a queue name is unique in its pool; a priority given on create or PATCH is placed with
Prefect's bump walk (:func:`walk`); without one a new queue takes the first free priority;
the pool's default queue cannot be deleted; status is READY after a poll within 60 s (computed
when read), PAUSED while paused. Must not count occupancy itself (``slots``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from reconciler.server.clock import as_utc, from_text, to_text
from reconciler.server.domain import Ctx, atomic, pools, slots
from reconciler.server.domain.refusals import (
    Conflict, NotFound, null_field, object_not_found, pool_not_found, queue_id_not_found, queue_not_found,
)
from reconciler.server.domain.sql import (
    CREATION_ORDER,
    QUEUE_COLUMNS,
    QUEUE_ORDER,
    QUEUES,
    count,
    in_clause,
    insert_queue,
    lock_pool,
    lock_queues,
    new_id,
    page_limit,
    prefix_clause,
)
from reconciler.server.orchestration import LATE_AFTER_SECONDS
from reconciler.server.store import Row

POLL_TIMEOUT = 60
"""Seconds after its last poll that a queue stays READY."""
DUPLICATE = "A work queue with this name already exists in work pool {work_pool_name!r}."
"""Prefect 3.9.1's text, its placeholder unformatted."""
LEGACY_DUPLICATE = "A work queue with this name already exists."
"""The legacy ``POST /work_queues/`` route's text."""


def queue_json(ctx: Ctx, row: Row, now: datetime | None = None, *, new: bool = False,
               page: dict[str, int] | None = None) -> dict[str, Any]:
    """WorkQueueResponse; ``new``: the queue was inserted in this transaction, so no run is in it;
    ``page``: the active runs of a page of queues (:func:`_page`), read once for all of them."""
    now = now or ctx.now()
    status = row["status"]
    if status == "READY":
        polled = from_text(row["last_polled"])
        if polled is None or now - polled > timedelta(seconds=POLL_TIMEOUT):
            status = "NOT_READY"
    limit = row["concurrency_limit"]
    return {
        "id": row["id"],
        "created": row["created"],
        "updated": row["updated"],
        "name": row["name"],
        "description": row["description"],
        "is_paused": bool(row["is_paused"]),
        "concurrency_limit": limit,
        "priority": row["priority"],
        "work_pool_id": row["work_pool_id"],
        "filter": None,
        "last_polled": row["last_polled"],
        "work_pool_name": row["work_pool_name"],
        "status": status,
        "active_slots": None if limit is None else 0 if new else (
            page.get(row["id"], 0) if page is not None else slots.active_in_queue(ctx, row["id"])),
    }


def _page(ctx: Ctx, rows: list[Row]) -> dict[str, int]:
    """The active runs of the queues with a limit among ``rows``, in one statement."""
    return slots.active_in_queues(ctx, [r["id"] for r in rows if r["concurrency_limit"] is not None])


def queue_row(ctx: Ctx, pool: str, name: str, *, pool_message: bool) -> Row:
    """The queue ``name`` of ``pool``; a missing pool is refused with the pool's message when
    ``pool_message``, else with the queue's (as Prefect words each route)."""
    pool_row = ctx.store.one("SELECT id FROM work_pool WHERE name = ?", (pool,))
    if pool_row is None:
        raise pool_not_found(pool) if pool_message else queue_not_found(pool, name)
    row = ctx.store.one(f"SELECT {QUEUE_COLUMNS} FROM {QUEUES} WHERE q.work_pool_id = ? AND q.name = ?", (pool_row["id"], name))
    if row is None:
        raise queue_not_found(pool, name)
    return row


def queue_by_id(ctx: Ctx, queue_id: str, missing: NotFound | None = None) -> Row:
    """The queue, or ``missing`` (default: Prefect's "work queue not found") raised; each
    legacy route words a missing queue its own way."""
    row = ctx.store.one(f"SELECT {QUEUE_COLUMNS} FROM {QUEUES} WHERE q.id = ?", (queue_id,))
    if row is None:
        raise missing or queue_id_not_found()
    return row


def _locked(ctx: Ctx, row: Row, missing: Exception) -> Row:
    """``row``'s queue read again once its pool and the pool's queues are locked (every write to a
    queue may move its siblings' priorities); ``missing`` if it went meanwhile."""
    lock_pool(ctx.store, row["work_pool_id"])
    lock_queues(ctx.store, row["work_pool_id"])
    again = ctx.store.one(f"SELECT {QUEUE_COLUMNS} FROM {QUEUES} WHERE q.id = ?", (row["id"],))
    if again is None:
        raise missing
    return again


def _priorities(ctx: Ctx, pool_id: str) -> list[Row]:
    """The pool's queues as the walk sees them: by priority, equal ones in creation order."""
    return ctx.store.query(f"SELECT q.id, q.priority FROM work_queue q WHERE q.work_pool_id = ? ORDER BY {QUEUE_ORDER}", (pool_id,))


def walk(ctx: Ctx, pool_id: str, target: tuple[str, int] | None, now: str,
         current: list[tuple[str, int]] | None = None) -> dict[str, int]:
    """Prefect 3.9.1's ``bulk_update_work_queue_priorities`` for one queue (the target is
    already stored at its new priority, or None after a delete).

    The other queues are taken by priority, equal ones in creation order; the target goes
    just before the first of them whose priority is >= its own, and when there is none it is
    left out of the walk (it keeps its priority, even when the walk then moves another queue
    up to the same value). The walk gives every queue whose priority is <= the previous one's
    the previous + 1, so gaps stay and only collisions move. ``current``: the pool's queues as
    :func:`_priorities` reads them, when the caller has them. Returns every queue's priority.
    """
    if current is None:
        current = [(r["id"], r["priority"]) for r in _priorities(ctx, pool_id)]
    order = current
    if target is not None:
        order = [r for r in current if r[0] != target[0]]
        at = next((i for i, (_, p) in enumerate(order) if p >= target[1]), None)
        if at is not None:
            order.insert(at, target)
    walked: dict[str, int] = {}
    last = 0
    for queue_id, priority in order:
        last = last + 1 if priority <= last else priority
        walked[queue_id] = last
    before = dict(current)
    updates = [(p, now, q) for q, p in walked.items() if before[q] != p]
    if updates:
        ctx.store.executemany("UPDATE work_queue SET priority = ?, updated = ? WHERE id = ?", updates)
    return {**before, **walked}


_APPEND = (
    "INSERT INTO work_queue (id, created, updated, work_pool_id, name, description, is_paused, concurrency_limit, "
    "priority, last_polled, status, seq) "
    "SELECT ?, ?, ?, p.id, ?, ?, ?, ?, ?, NULL, 'NOT_READY', (SELECT COALESCE(MAX(seq), 0) + 1 FROM work_queue) "
    "FROM work_pool p WHERE p.name = ? "
    "AND NOT EXISTS (SELECT 1 FROM work_queue q WHERE q.work_pool_id = p.id AND (q.name = ? OR q.priority >= ? OR q.priority < 1)) "
    "AND NOT EXISTS (SELECT 1 FROM work_queue q WHERE q.work_pool_id = p.id GROUP BY q.priority HAVING COUNT(*) > 1) "
    "RETURNING work_pool_id"
)
"""A queue appended behind its pool's others in one statement, when that is all :func:`create_queue`
would do: the pool exists, no queue has the name, the priority asked for is above every other
queue's and theirs are distinct and >= 1 (so :func:`walk` leaves the new one out and moves none).
Anything else inserts nothing and goes the transaction's way, which decides it."""


def create_queue(
    ctx: Ctx, pool: str, *, name: str, description: str | None, is_paused: bool,
    concurrency_limit: int | None, priority: int | None,
) -> dict[str, Any]:
    """A new queue in ``pool``. On SQLite (``locks_rows`` False, where one statement holds the file's
    write lock) the common case of an apply, a queue added behind the others with its priority, is
    one statement (:data:`_APPEND`) instead of a transaction of four."""
    if priority is not None and not ctx.store.locks_rows and not ctx.store.in_transaction:
        now = ctx.now_text()
        queue_id = new_id()
        rows = ctx.store.statement(_APPEND, (queue_id, now, now, name, description or "", int(is_paused),
                                             concurrency_limit, priority, pool, name, priority))
        if rows:
            row = {"id": queue_id, "created": now, "updated": now, "work_pool_id": rows[0]["work_pool_id"],
                   "name": name, "description": description or "", "is_paused": int(is_paused),
                   "concurrency_limit": concurrency_limit, "priority": priority, "last_polled": None,
                   "status": "NOT_READY", "work_pool_name": pool}
            return queue_json(ctx, row, new=True)
    return _create_queue(ctx, pool, name=name, description=description, is_paused=is_paused,
                         concurrency_limit=concurrency_limit, priority=priority)


@atomic
def _create_queue(
    ctx: Ctx, pool: str, *, name: str, description: str | None, is_paused: bool,
    concurrency_limit: int | None, priority: int | None,
) -> dict[str, Any]:
    if not ctx.store.locks_rows:  # SQLite: the transaction holds the write lock; the pool and its queues in one read
        rows = ctx.store.query(
            "SELECT p.id AS pool_id, p.name AS pool_name, q.id, q.priority, q.name FROM work_pool p "
            f"LEFT JOIN work_queue q ON q.work_pool_id = p.id WHERE p.name = ? ORDER BY {QUEUE_ORDER}", (pool,))
        if not rows:
            raise pool_not_found(pool)
        pool_row = {"id": rows[0]["pool_id"], "name": rows[0]["pool_name"]}
        siblings = [r for r in rows if r["id"] is not None]
        return _insert_queue(ctx, pool_row, siblings, name, description, is_paused, concurrency_limit, priority)
    pool_row = pools.locked_pool(ctx, pool)
    return create_queue_in(ctx, pool_row, name, description, is_paused, concurrency_limit, priority)


def create_queue_in(
    ctx: Ctx, pool_row: Row, name: str, description: str | None, is_paused: bool,
    concurrency_limit: int | None, priority: int | None,
) -> dict[str, Any]:
    """A new queue in the pool of ``pool_row`` (inside the caller's transaction, which holds no
    lock on queues, deployments or runs yet)."""
    lock_pool(ctx.store, pool_row["id"])
    lock_queues(ctx.store, pool_row["id"])
    rows = ctx.store.query(  # the pool's queues as _priorities reads them, with their names
        f"SELECT q.id, q.priority, q.name FROM work_queue q WHERE q.work_pool_id = ? ORDER BY {QUEUE_ORDER}",
        (pool_row["id"],))
    return _insert_queue(ctx, pool_row, rows, name, description, is_paused, concurrency_limit, priority)


def _insert_queue(
    ctx: Ctx, pool_row: Row | dict[str, Any], rows: list[Row], name: str, description: str | None, is_paused: bool,
    concurrency_limit: int | None, priority: int | None,
) -> dict[str, Any]:
    """The queue inserted beside ``rows`` (the pool's queues as :func:`_priorities` reads them, with
    their names, read under the pool's lock), answered as :func:`queue_by_id` would read it back."""
    if any(r["name"] == name for r in rows):
        raise Conflict(DUPLICATE)
    now = ctx.now_text()
    queue_id = new_id()
    siblings = [(r["id"], r["priority"]) for r in rows]
    existing = sorted(p for _, p in siblings)
    if priority is None:
        chosen = next((i + 1 for i, p in enumerate(existing) if p != i + 1), len(existing) + 1)
        if existing and chosen == len(existing) + 1:
            chosen = max(existing) + 1
        insert_queue(ctx.store, queue_id, pool_row["id"], name, description or "", is_paused, concurrency_limit, chosen, now)
    else:
        insert_queue(ctx.store, queue_id, pool_row["id"], name, description or "", is_paused, concurrency_limit, priority, now)
        # the new queue is the pool's last created: among equal priorities it comes last (sort is stable)
        current = sorted([*siblings, (queue_id, priority)], key=lambda q: q[1])
        chosen = walk(ctx, pool_row["id"], (queue_id, priority), now, current)[queue_id]
    row = {"id": queue_id, "created": now, "updated": now, "work_pool_id": pool_row["id"], "name": name,
           "description": description or "", "is_paused": int(is_paused), "concurrency_limit": concurrency_limit,
           "priority": chosen, "last_polled": None, "status": "NOT_READY", "work_pool_name": pool_row["name"]}
    return queue_json(ctx, row, new=True)


def resolve_queue(ctx: Ctx, pool_name: str, queue_name: str | None, *, create: bool) -> tuple[Row, Row]:
    """The pool and the queue a deployment or run names (the default queue when ``queue_name``
    is None); with ``create`` a missing queue is created, as Prefect does for deployments."""
    pool = ctx.store.one("SELECT * FROM work_pool WHERE name = ?", (pool_name,))
    if pool is None:
        raise pool_not_found(pool_name)
    if queue_name is None:
        queue = ctx.store.one(f"SELECT {QUEUE_COLUMNS} FROM {QUEUES} WHERE q.id = ?", (pool["default_queue_id"],))
    else:
        queue = ctx.store.one(
            f"SELECT {QUEUE_COLUMNS} FROM {QUEUES} WHERE q.work_pool_id = ? AND q.name = ?", (pool["id"], queue_name)
        )
        if queue is None:
            if not create:
                raise queue_not_found(pool_name, queue_name)
            lock_pool(ctx.store, pool["id"])
            lock_queues(ctx.store, pool["id"])
            queue = ctx.store.one(
                f"SELECT {QUEUE_COLUMNS} FROM {QUEUES} WHERE q.work_pool_id = ? AND q.name = ?", (pool["id"], queue_name)
            )
            if queue is None:  # still missing now that no one else can add it
                created = create_queue_in(ctx, pool, queue_name, "", False, None, None)
                queue = queue_by_id(ctx, created["id"])
    if queue is None:
        raise queue_not_found(pool_name, queue_name or "default")
    return pool, queue


@atomic
def read_queue(ctx: Ctx, pool: str, name: str) -> dict[str, Any]:
    return queue_json(ctx, queue_row(ctx, pool, name, pool_message=False))


@atomic
def filter_queues(ctx: Ctx, pool: str, flt: Any, limit: int | None, offset: int | None) -> list[dict[str, Any]]:
    limit = page_limit(limit)
    pool_row = ctx.store.one("SELECT id FROM work_pool WHERE name = ?", (pool,))
    if pool_row is None:
        raise pool_not_found(pool)
    where, params = queue_where(flt)
    rows = ctx.store.query(
        f"SELECT {QUEUE_COLUMNS} FROM {QUEUES} WHERE q.work_pool_id = ?{where} ORDER BY {QUEUE_ORDER} LIMIT ? OFFSET ?",
        (pool_row["id"], *params, limit, offset or 0),
    )
    now = ctx.now()
    page = _page(ctx, rows)
    return [queue_json(ctx, r, now, page=page) for r in rows]


def queue_where(flt: Any) -> tuple[str, list[Any]]:
    """`` AND (...)`` for a work queue filter (id, name ``any_``/``startswith_``/``like_``), and its parameters."""
    if flt is None:
        return "", []
    parts: list[str] = []
    params: list[Any] = []
    if flt.id is not None and flt.id.any_ is not None:
        parts.append(in_clause("q.id", flt.id.any_, params))
    if flt.name is not None:
        if flt.name.any_ is not None:
            parts.append(in_clause("q.name", flt.name.any_, params))
        if flt.name.startswith_ is not None:
            parts.append(prefix_clause("q.name", flt.name.startswith_, params))
        if flt.name.like_ is not None:
            parts.append("LOWER(q.name) LIKE ?")
            params.append(f"%{flt.name.like_.lower()}%")
    if not parts:
        return "", []
    joiner = " OR " if flt.operator == "or_" else " AND "
    return " AND (" + joiner.join(f"({p})" for p in parts) + ")", params


def _apply_update(ctx: Ctx, row: Row, changes: dict[str, Any], *, walk_priority: bool) -> None:
    for key in ("is_paused", "priority", "name", "description"):
        if key in changes and changes[key] is None:
            raise null_field(key)
    if not changes:
        return
    now = ctx.now()
    now_text = to_text(now)
    if "name" in changes and changes["name"] != row["name"]:
        if ctx.store.one("SELECT 1 FROM work_queue WHERE work_pool_id = ? AND name = ?", (row["work_pool_id"], changes["name"])):
            raise Conflict(DUPLICATE)
    sets: list[str] = []
    params: list[Any] = []
    for key in ("name", "description", "concurrency_limit", "last_polled"):
        if key in changes:
            value = changes[key]
            if key == "last_polled":
                value = to_text(value)
            sets.append(f"{key} = ?")
            params.append(value)
    if "is_paused" in changes:
        paused = bool(changes["is_paused"])
        sets.append("is_paused = ?")
        params.append(int(paused))
        if paused and row["status"] != "PAUSED":
            sets.append("status = 'PAUSED'")
        elif not paused and row["status"] == "PAUSED":
            polled = changes["last_polled"] if "last_polled" in changes else from_text(row["last_polled"])
            ready = polled is not None and now - as_utc(polled) <= timedelta(seconds=POLL_TIMEOUT)
            sets.append("status = ?")
            params.append("READY" if ready else "NOT_READY")
    if "priority" in changes:
        sets.append("priority = ?")
        params.append(changes["priority"])
    sets.append("updated = ?")
    params.append(now_text)
    ctx.store.execute(f"UPDATE work_queue SET {', '.join(sets)} WHERE id = ?", (*params, row["id"]))
    if "priority" in changes and walk_priority:
        walk(ctx, row["work_pool_id"], (row["id"], changes["priority"]), now_text)


@atomic
def update_queue(ctx: Ctx, pool: str, name: str, changes: dict[str, Any]) -> None:
    row = _locked(ctx, queue_row(ctx, pool, name, pool_message=True), queue_not_found(pool, name))
    _apply_update(ctx, row, changes, walk_priority=True)


def _refuse_default(ctx: Ctx, row: Row) -> None:
    pool = ctx.store.one("SELECT default_queue_id FROM work_pool WHERE id = ?", (row["work_pool_id"],))
    if pool is not None and pool["default_queue_id"] == row["id"]:
        raise Conflict(
            f"Can't delete a pool's default queue: '{row['work_pool_name']}/{row['name']}' is the default queue "
            f"of work pool '{row['work_pool_name']}'. Delete the pool instead, or leave the queue in place."
        )


@atomic
def delete_queue(ctx: Ctx, pool: str, name: str) -> None:
    row = _locked(ctx, queue_row(ctx, pool, name, pool_message=True), queue_not_found(pool, name))
    _refuse_default(ctx, row)
    pools.detach_queues(ctx, [row["id"]])
    ctx.store.execute("DELETE FROM work_queue WHERE id = ?", (row["id"],))
    walk(ctx, row["work_pool_id"], None, ctx.now_text())


# ----------------------------------------------------------- legacy queues (by id)


@atomic
def legacy_create_queue(
    ctx: Ctx, *, name: str, description: str | None, is_paused: bool, concurrency_limit: int | None, priority: int | None
) -> dict[str, Any]:
    """A queue in the agent pool (created on first use, with its own ``default`` queue, which a
    request for ``default`` then gets, as in Prefect)."""
    return queue_json(ctx, _legacy_create(ctx, name, description, is_paused, concurrency_limit, priority))


def _legacy_create(
    ctx: Ctx, name: str, description: str | None, is_paused: bool, concurrency_limit: int | None, priority: int | None
) -> Row:
    pool_row = ctx.store.one("SELECT id, name, default_queue_id FROM work_pool WHERE name = ?", (pools.AGENT_POOL,))
    if pool_row is None:
        try:
            pools.create_pool(
                ctx, name=pools.AGENT_POOL, type=pools.AGENT_TYPE, description=None, base_job_template={},
                is_paused=False, concurrency_limit=None, storage_configuration=dict(pools.EMPTY_STORAGE),
            )
            created_pool = True
        except Conflict:
            created_pool = False  # another replica created it at the same moment
        pool_row = ctx.store.one("SELECT id, name, default_queue_id FROM work_pool WHERE name = ?", (pools.AGENT_POOL,))
        assert pool_row is not None
        if created_pool and name == "default":
            return queue_by_id(ctx, pool_row["default_queue_id"])
    lock_pool(ctx.store, pool_row["id"])
    lock_queues(ctx.store, pool_row["id"])
    if ctx.store.one("SELECT 1 FROM work_queue WHERE work_pool_id = ? AND name = ?", (pool_row["id"], name)):
        raise Conflict(LEGACY_DUPLICATE)
    created = create_queue_in(ctx, pool_row, name, description, is_paused, concurrency_limit, priority)
    return queue_by_id(ctx, created["id"])


def queue_named(ctx: Ctx, name: str) -> Row | None:
    """Prefect's ``read_work_queue_by_name``: the queue of that name in the agent pool when that
    pool exists, else the first-created queue of that name in any pool."""
    agent = ctx.store.one("SELECT id FROM work_pool WHERE name = ?", (pools.AGENT_POOL,))
    base = f"SELECT {QUEUE_COLUMNS} FROM {QUEUES} WHERE q.name = ?"
    if agent is not None:
        return ctx.store.one(base + " AND q.work_pool_id = ?", (name, agent["id"]))
    return ctx.store.one(base + f" ORDER BY {CREATION_ORDER} LIMIT 1", (name,))


def ensure_queue(ctx: Ctx, name: str) -> Row:
    """Prefect's ``ensure_work_queue_exists`` (a deployment naming only a queue): the queue
    :func:`queue_named` finds, else a new one of that name at priority 1 in the agent pool
    (created on first use; ``default`` is then that pool's default queue)."""
    row = queue_named(ctx, name)
    if row is not None:
        return row
    agent = ctx.store.one("SELECT id, default_queue_id FROM work_pool WHERE name = ?", (pools.AGENT_POOL,))
    if agent is not None:
        lock_pool(ctx.store, agent["id"])
        lock_queues(ctx.store, agent["id"])
        row = queue_named(ctx, name)  # again, now that no one else can add it
        if row is not None:
            return row
        if name == "default":
            return queue_by_id(ctx, agent["default_queue_id"])
    return _legacy_create(ctx, name, None, False, None, 1)


@atomic
def legacy_read_queue(ctx: Ctx, queue_id: str) -> dict[str, Any]:
    return queue_json(ctx, queue_by_id(ctx, queue_id))


@atomic
def legacy_read_queue_by_name(ctx: Ctx, name: str) -> dict[str, Any]:
    row = queue_named(ctx, name)
    if row is None:
        raise queue_id_not_found()
    return queue_json(ctx, row)


@atomic
def legacy_update_queue(ctx: Ctx, queue_id: str, changes: dict[str, Any]) -> None:
    """As Prefect's legacy route: a priority is set as given, without the walk."""
    missing = NotFound(f"Work Queue {queue_id} not found")
    _apply_update(ctx, _locked(ctx, queue_by_id(ctx, queue_id, missing), missing), changes, walk_priority=False)


@atomic
def legacy_delete_queue(ctx: Ctx, queue_id: str) -> None:
    row = _locked(ctx, queue_by_id(ctx, queue_id), queue_id_not_found())
    _refuse_default(ctx, row)
    pools.detach_queues(ctx, [row["id"]])
    ctx.store.execute("DELETE FROM work_queue WHERE id = ?", (row["id"],))


@atomic
def legacy_filter_queues(ctx: Ctx, flt: Any, pool_filter: Any, limit: int | None, offset: int | None) -> list[dict[str, Any]]:
    limit = page_limit(limit)
    where, params = queue_where(flt)
    pool_where, pool_params = pools.pool_where(pool_filter)
    if pool_where:
        pool_where = " AND p.id IN (SELECT id FROM work_pool" + pool_where + ")"
    rows = ctx.store.query(
        f"SELECT {QUEUE_COLUMNS} FROM {QUEUES} WHERE 1 = 1{where}{pool_where} ORDER BY q.name, p.name LIMIT ? OFFSET ?",
        (*params, *pool_params, limit, offset or 0),
    )
    now = ctx.now()
    page = _page(ctx, rows)
    return [queue_json(ctx, r, now, page=page) for r in rows]


@atomic
def legacy_queue_status(ctx: Ctx, queue_id: str) -> dict[str, Any]:
    row = queue_by_id(ctx, queue_id, object_not_found("Work queue", queue_id))
    now = ctx.now()
    late = count(ctx.store.one(
        "SELECT COUNT(*) AS n FROM flow_run WHERE work_queue_id = ? AND state_type = 'SCHEDULED' "
        "AND next_scheduled_start_time < ?",
        (queue_id, to_text(now - timedelta(seconds=LATE_AFTER_SECONDS))),
    ))
    polled = from_text(row["last_polled"])
    healthy = (not row["is_paused"] and late == 0 and polled is not None
               and now - polled <= timedelta(seconds=POLL_TIMEOUT))
    return {
        "healthy": healthy,
        "late_runs_count": late,
        "last_polled": row["last_polled"],
        "health_check_policy": {"maximum_late_runs": 0, "maximum_seconds_since_last_polled": POLL_TIMEOUT},
    }
