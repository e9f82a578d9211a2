"""Work pools (prefect-api.md §1.1, §2): create (with its ``default`` queue), read, filter,
count, update, delete (detaching deployments and runs from its queues), and the pool's view
with its status and occupancy computed when read.

Rules: names starting with "prefect" are reserved (create and delete refused, update limited to
pausing and limits); a template must pass ``template_rules`` (its defaults too, on create and
on PATCH); the agent pool ``default-agent-pool`` holds the legacy queues. Must not touch a
queue beyond inserting the default one: that is ``queues``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime
from typing import Any, Sequence

from reconciler.server.domain import Ctx, atomic, slots, workers
from reconciler.server.domain.refusals import Conflict, Forbidden, Invalid, NotFound, null_field, pool_not_found
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
from reconciler.template_rules import defaults_problem, schema_problem

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
    if not ctx.store.locks_rows:  # the transaction holds the database's write lock already
        row = ctx.store.one(f"SELECT {POOL_COLUMNS} FROM work_pool WHERE name = ?", (name,))
        if row is not None:
            return row
        raise missing if missing is not None else pool_not_found(name)
    found = ctx.store.one("SELECT id FROM work_pool WHERE name = ?", (name,))
    if found is not None:
        lock_pool(ctx.store, found["id"])
        row = ctx.store.one(f"SELECT {POOL_COLUMNS} FROM work_pool WHERE id = ?", (found["id"],))
        if row is not None:
            return row
    raise missing if missing is not None else pool_not_found(name)


def pool_template(ctx: Ctx, pool_name: str | None) -> dict[str, Any]:
    """The base job template of the pool named, ``{}`` when there is none. The same text gives the
    same object (:func:`parsed_template`): callers must not change it."""
    if not pool_name:
        return {}
    row = ctx.store.one("SELECT base_job_template FROM work_pool WHERE name = ?", (pool_name,))
    return parsed_template(row["base_job_template"]) if row else {}


_TEMPLATES: "OrderedDict[str, dict[str, Any]]" = OrderedDict()
_TEMPLATES_LOCK = threading.Lock()
TEMPLATE_CACHE_CHARS = 8_000_000
"""Sum of the lengths of the template texts whose parse is kept, least recently used dropped first."""


def parsed_template(text: str) -> dict[str, Any]:
    """A stored template text parsed, once per text: a run created from a deployment checks its job
    variables against its pool's template, and parsing it each time (and digesting its
    ``variables`` for ``template_rules``' memo, which knows an object it has seen) cost more than
    the rest of the check. Callers must not change what it returns."""
    with _TEMPLATES_LOCK:
        found = _TEMPLATES.get(text)
        if found is not None:
            _TEMPLATES.move_to_end(text)
            return found
    parsed = loads(text)
    if len(text) <= TEMPLATE_CACHE_CHARS:
        with _TEMPLATES_LOCK:
            _TEMPLATES[text] = parsed
            total = sum(len(t) for t in _TEMPLATES)
            while total > TEMPLATE_CACHE_CHARS:
                dropped, _ = _TEMPLATES.popitem(last=False)
                total -= len(dropped)
    return parsed


def pool_json(ctx: Ctx, row: Row, now: datetime | None = None, *, new: dict[str, Any] | None = None,
              page: tuple[dict[str, int], set[str]] | None = None) -> dict[str, Any]:
    """WorkPoolResponse. ``new``: the pool was inserted in this transaction from these parsed
    ``base_job_template`` and ``storage_configuration``, so it has no worker and no run yet.
    ``page``: the active runs and the pools with a worker online of a page of pools (:func:`_page`),
    read once for all of them. The ``base_job_template`` is :func:`parsed_template`'s object, shared:
    callers must not change it."""
    now = now or ctx.now()
    if row["type"] == AGENT_TYPE:
        status = None
    elif row["is_paused"]:
        status = "PAUSED"
    elif new is not None:
        status = "NOT_READY"
    elif page is not None:
        status = "READY" if row["id"] in page[1] else "NOT_READY"
    else:
        status = "READY" if workers.any_online(ctx, row["id"], now) else "NOT_READY"
    limit = row["concurrency_limit"]
    if new is not None:
        return {
            **{key: row[key] for key in ("id", "created", "updated", "name", "description", "type")},
            "base_job_template": new["base_job_template"], "is_paused": bool(row["is_paused"]),
            "concurrency_limit": limit, "status": status, "default_queue_id": row["default_queue_id"],
            "storage_configuration": new["storage_configuration"], "active_slots": None if limit is None else 0,
        }
    return {
        "id": row["id"],
        "created": row["created"],
        "updated": row["updated"],
        "name": row["name"],
        "description": row["description"],
        "type": row["type"],
        "base_job_template": parsed_template(row["base_job_template"]),
        "is_paused": bool(row["is_paused"]),
        "concurrency_limit": limit,
        "status": status,
        "default_queue_id": row["default_queue_id"],
        "storage_configuration": loads(row["storage_configuration"]),
        "active_slots": None if limit is None else (
            page[0].get(row["id"], 0) if page is not None else slots.active_in_pool(ctx, row["id"])),
    }


def _page(ctx: Ctx, rows: Sequence[Row], now: datetime) -> tuple[dict[str, int], set[str]]:
    """What :func:`pool_json` reads per pool, read once for a page of pools: active runs (of the
    pools with a limit) and the pools with a worker online (of those not paused)."""
    limited = [r["id"] for r in rows if r["concurrency_limit"] is not None]
    running = [r["id"] for r in rows if not r["is_paused"] and r["type"] != AGENT_TYPE]
    return slots.active_in_pools(ctx, limited), workers.pools_online(ctx, running, now)


def _check_template(template: dict[str, Any] | None, *, create: bool = False) -> None:
    """Refuse a template whose ``variables`` or defaults ``template_rules`` rejects; on create,
    as Prefect 3.9.1, also one whose default names a block document (there are none here):
    after the schema check, before the defaults are validated."""
    if not template:
        return
    if create and _block_reference(template) is not None:
        problem = schema_problem(template["variables"])
        if problem is not None:
            raise Invalid(problem)
        raise NotFound("Block not found.")
    problem = defaults_problem(template)
    if problem is not None:
        raise Invalid(problem)


def _block_reference(template: dict[str, Any]) -> str | None:
    """The first variable whose default is a block reference with a block document id
    (``{"$ref": {"block_document_id": ...}}``), or None. A ``$ref`` that is not an object is
    refused (Prefect fails with a 500 there)."""
    variables = template.get("variables")
    properties = variables.get("properties") if isinstance(variables, dict) else None
    if not isinstance(properties, dict):
        return None
    for name, prop in properties.items():
        default = prop.get("default") if isinstance(prop, dict) else None
        if not isinstance(default, dict) or "$ref" not in default:
            continue
        ref = default["$ref"]
        if not isinstance(ref, dict):
            raise Invalid(f"The default of variable {name!r} is a block reference whose '$ref' is not an object; "
                          'write it as {"$ref": {"block_document_id": "<id>"}}.')
        if ref.get("block_document_id") is not None:
            return name
    return None


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
    _check_template(base_job_template, create=True)
    now = ctx.now_text()
    pool_id, queue_id = new_id(), new_id()
    values = (pool_id, now, now, name, description, type, dumps(base_job_template), int(is_paused),
              concurrency_limit, queue_id, dumps(storage_configuration))
    inserted = ctx.store.execute(
        f"INSERT INTO work_pool ({POOL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
        values,
    )
    if not inserted:  # the unique name decides, also between replicas creating it at once
        raise Conflict("A work pool with this name already exists.")
    insert_queue(ctx.store, queue_id, pool_id, "default", DEFAULT_QUEUE_DESCRIPTION, False, None, 1, now)
    row = dict(zip((c.strip() for c in POOL_COLUMNS.split(",")), values))
    return pool_json(ctx, row, new={"base_job_template": base_job_template, "storage_configuration": storage_configuration})


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
    page = _page(ctx, rows, now)
    return [pool_json(ctx, r, now, page=page) for r in rows]


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
    detach_queues(ctx, queue_ids)
    ctx.store.execute("DELETE FROM worker WHERE work_pool_id = ?", (row["id"],))
    ctx.store.execute("DELETE FROM work_queue WHERE work_pool_id = ?", (row["id"],))
    ctx.store.execute("DELETE FROM work_pool WHERE id = ?", (row["id"],))


def detach_queues(ctx: Ctx, queue_ids: Sequence[str]) -> None:
    """Deployments and runs forget queues about to be deleted (Prefect's ``ON DELETE SET NULL``;
    a deployment then has no pool either, since its pool is its queue's)."""
    if not queue_ids:
        return
    params: list[Any] = []
    clause = in_clause("work_queue_id", queue_ids, params)
    ctx.store.execute(f"UPDATE deployment SET work_queue_id = NULL, work_pool_name = NULL WHERE {clause}", params)
    ctx.store.execute(f"UPDATE flow_run SET work_queue_id = NULL WHERE {clause}", params)
