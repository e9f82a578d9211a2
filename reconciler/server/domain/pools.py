"""Work pools (prefect-api.md §1.1, §2): create (with its ``default`` queue), read, filter,
count, update, delete (detaching deployments and runs from its queues), and the pool's view
with its status and occupancy computed when read.

Rules: names starting with "prefect" are reserved (create and delete refused, update limited to
pausing and limits); a template must pass ``template_rules`` (its defaults too, on create and
on PATCH); the agent pool ``default-agent-pool`` holds the legacy queues. Must not touch a
queue beyond inserting the default one: that is ``queues``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from reconciler.server.domain import Ctx, atomic, slots, workers
from reconciler.server.domain.refusals import Conflict, Forbidden, Invalid, null_field, pool_not_found
from reconciler.server.domain.sql import (
    POOL_COLUMNS,
    count,
    dumps,
    in_clause,
    insert_queue,
    loads,
    lock_pool,
    lock_queues,
    new_id,
    page_limit,
)
from reconciler.server.store import Row
from reconciler.template_rules import defaults_problem

AGENT_POOL = "default-agent-pool"
AGENT_TYPE = "prefect-agent"
DEFAULT_QUEUE_DESCRIPTION = "The work pool's default queue."
EMPTY_STORAGE = {"bundle_upload_step": None, "bundle_execution_step": None, "default_result_storage_block_id": None}


def is_reserved(name: str) -> bool:
    return name.lower().startswith("prefect")


def pool_row(ctx: Ctx, name: str) -> Row:
    row = ctx.store.one(f"SELECT {POOL_COLUMNS} FROM work_pool WHERE name = ?", (name,))
    if row is None:
        raise pool_not_found(name)
    return row


def locked_pool(ctx: Ctx, name: str, *, missing: Any = None) -> Row:
    """The pool named, its row locked (``sql.lock_pool``) and read after the lock; a missing pool
    is refused with ``missing`` (default: the pool's own not-found)."""
    found = ctx.store.one("SELECT id FROM work_pool WHERE name = ?", (name,))
    if found is not None:
        lock_pool(ctx.store, found["id"])
        row = ctx.store.one(f"SELECT {POOL_COLUMNS} FROM work_pool WHERE id = ?", (found["id"],))
        if row is not None:
            return row
    raise missing if missing is not None else pool_not_found(name)


def pool_template(ctx: Ctx, pool_name: str | None) -> dict[str, Any]:
    """The base job template of the pool named, ``{}`` when there is none."""
    if not pool_name:
        return {}
    row = ctx.store.one("SELECT base_job_template FROM work_pool WHERE name = ?", (pool_name,))
    return loads(row["base_job_template"]) if row else {}


def pool_json(ctx: Ctx, row: Row, now: datetime | None = None) -> dict[str, Any]:
    now = now or ctx.now()
    if row["type"] == AGENT_TYPE:
        status = None
    elif row["is_paused"]:
        status = "PAUSED"
    else:
        status = "READY" if workers.any_online(ctx, row["id"], now) else "NOT_READY"
    limit = row["concurrency_limit"]
    return {
        "id": row["id"],
        "created": row["created"],
        "updated": row["updated"],
        "name": row["name"],
        "description": row["description"],
        "type": row["type"],
        "base_job_template": loads(row["base_job_template"]),
        "is_paused": bool(row["is_paused"]),
        "concurrency_limit": limit,
        "status": status,
        "default_queue_id": row["default_queue_id"],
        "storage_configuration": loads(row["storage_configuration"]),
        "active_slots": None if limit is None else slots.active_in_pool(ctx, row["id"]),
    }


def _check_template(template: dict[str, Any] | None) -> None:
    problem = defaults_problem(template) if template else None
    if problem is not None:
        raise Invalid(problem)


@atomic
def create_pool(
    ctx: Ctx,
    *,
    name: str,
    type: str,
    description: str | None,
    base_job_template: dict[str, Any],
    is_paused: bool,
    concurrency_limit: int | None,
    storage_configuration: dict[str, Any],
) -> dict[str, Any]:
    """A new pool and its ``default`` queue (priority 1)."""
    if is_reserved(name):
        raise Forbidden("Work pools starting with 'Prefect' are reserved for internal use.")
    _check_template(base_job_template)
    now = ctx.now_text()
    pool_id, queue_id = new_id(), new_id()
    inserted = ctx.store.execute(
        f"INSERT INTO work_pool ({POOL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
        (pool_id, now, now, name, description, type, dumps(base_job_template), int(is_paused),
         concurrency_limit, queue_id, dumps(storage_configuration)),
    )
    if not inserted:  # the unique name decides, also between replicas creating it at once
        raise Conflict("A work pool with this name already exists.")
    insert_queue(ctx.store, queue_id, pool_id, "default", DEFAULT_QUEUE_DESCRIPTION, False, None, 1, now)
    return pool_json(ctx, pool_row(ctx, name))


@atomic
def read_pool(ctx: Ctx, name: str) -> dict[str, Any]:
    return pool_json(ctx, pool_row(ctx, name))


def pool_where(flt: Any) -> tuple[str, list[Any]]:
    """`` WHERE ...`` for a work pool filter (id, name, type ``any_``; ``operator``), and its parameters."""
    if flt is None:
        return "", []
    parts: list[str] = []
    params: list[Any] = []
    for column, sub in (("id", flt.id), ("name", flt.name), ("type", flt.type)):
        if sub is not None and sub.any_ is not None:
            parts.append(in_clause(column, sub.any_, params))
    if not parts:
        return "", []
    joiner = " OR " if flt.operator == "or_" else " AND "
    return " WHERE " + joiner.join(f"({p})" for p in parts), params


@atomic
def filter_pools(ctx: Ctx, flt: Any, limit: int | None, offset: int | None) -> list[dict[str, Any]]:
    limit = page_limit(limit)
    where, params = pool_where(flt)
    rows = ctx.store.query(
        f"SELECT {POOL_COLUMNS} FROM work_pool{where} ORDER BY name LIMIT ? OFFSET ?", (*params, limit, offset or 0)
    )
    now = ctx.now()
    return [pool_json(ctx, r, now) for r in rows]


@atomic
def count_pools(ctx: Ctx, flt: Any) -> int:
    where, params = pool_where(flt)
    return count(ctx.store.one(f"SELECT COUNT(*) AS n FROM work_pool{where}", params))


@atomic
def update_pool(ctx: Ctx, name: str, changes: dict[str, Any]) -> None:
    """Set the fields in ``changes``. Beyond Prefect: a new template's defaults are checked too."""
    if changes.get("base_job_template"):
        _check_template(changes["base_job_template"])
    if is_reserved(name) and not set(changes) <= {"is_paused", "concurrency_limit"}:
        raise Forbidden(
            "Work pools starting with 'Prefect' are reserved for internal use and can only be updated to set "
            "concurrency limits or pause."
        )
    for key in ("is_paused", "base_job_template", "storage_configuration"):
        if key in changes and changes[key] is None:
            raise null_field(key)
    row = locked_pool(ctx, name)
    if not changes:
        return
    sets: list[str] = []
    params: list[Any] = []
    for key, value in changes.items():
        if key in ("base_job_template", "storage_configuration"):
            value = dumps(value)
        elif key == "is_paused":
            value = int(value)
        sets.append(f"{key} = ?")
        params.append(value)
    sets.append("updated = ?")
    params.append(ctx.now_text())
    ctx.store.execute(f"UPDATE work_pool SET {', '.join(sets)} WHERE id = ?", (*params, row["id"]))


@atomic
def delete_pool(ctx: Ctx, name: str) -> None:
    if is_reserved(name):
        raise Forbidden("Work pools starting with 'Prefect' are reserved for internal use and can not be deleted.")
    row = locked_pool(ctx, name)
    lock_queues(ctx.store, row["id"])
    queue_ids = [q["id"] for q in ctx.store.query("SELECT id FROM work_queue WHERE work_pool_id = ?", (row["id"],))]
    detach_queues(ctx, queue_ids, pool_gone=True)
    ctx.store.execute("DELETE FROM worker WHERE work_pool_id = ?", (row["id"],))
    ctx.store.execute("DELETE FROM work_queue WHERE work_pool_id = ?", (row["id"],))
    ctx.store.execute("DELETE FROM work_pool WHERE id = ?", (row["id"],))


def detach_queues(ctx: Ctx, queue_ids: Sequence[str], *, pool_gone: bool) -> None:
    """Deployments and runs forget queues about to be deleted (and, with ``pool_gone``, their pool)."""
    if not queue_ids:
        return
    params: list[Any] = []
    clause = in_clause("work_queue_id", queue_ids, params)
    if pool_gone:
        ctx.store.execute(f"UPDATE deployment SET work_queue_id = NULL, work_pool_name = NULL WHERE {clause}", params)
    else:
        ctx.store.execute(f"UPDATE deployment SET work_queue_id = NULL WHERE {clause}", params)
    ctx.store.execute(f"UPDATE flow_run SET work_queue_id = NULL WHERE {clause}", params)
