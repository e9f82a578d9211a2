"""The SQL the domain modules share: column lists, JSON as text, ``IN`` lists, paging limits,
and the occupancy condition built from ``orchestration.ACTIVE_TYPES`` (the one definition of
which states hold a slot).

Statements use ``?`` placeholders and run unchanged on SQLite and PostgreSQL (the stores
translate). Must not hold domain rules.
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterable

from reconciler.server.domain.refusals import Invalid
from reconciler.server.jsontext import json_text, json_value
from reconciler.server.orchestration import ACTIVE_TYPES

MAX_LIMIT = 200
"""Prefect's ``PREFECT_SERVER_API_DEFAULT_LIMIT``: the default and the maximum page size."""

POOL_COLUMNS = ("id, created, updated, name, description, type, base_job_template, is_paused, concurrency_limit, "
                "default_queue_id, storage_configuration")
QUEUE_COLUMNS = ("q.id, q.created, q.updated, q.work_pool_id, q.name, q.description, q.is_paused, q.concurrency_limit, "
                 "q.priority, q.last_polled, q.status, p.name AS work_pool_name")
QUEUES = "work_queue q JOIN work_pool p ON p.id = q.work_pool_id"
"""``FROM`` for :data:`QUEUE_COLUMNS`."""
CREATION_ORDER = "q.seq, q.id"
"""Queues in the order they were created (``seq``; the order of the rows in Prefect's SQLite
database); queues created at once by two replicas may share a ``seq``, and then go by id."""
QUEUE_ORDER = f"q.priority, {CREATION_ORDER}"
"""A pool's queues in Prefect's order: by priority, equal priorities in creation order (the
order of the rows in Prefect's SQLite database, which its priority walk and listings follow)."""
RUN_COLUMNS = (
    "id, created, updated, name, flow_id, deployment_id, work_queue_id, work_queue_name, idempotency_key, "
    "state_type, state_name, state_timestamp, next_scheduled_start_time, expected_start_time, start_time, "
    "end_time, run_count, tags, state, body"
)
RUN_COLUMN_NAMES = tuple(c.strip() for c in RUN_COLUMNS.split(","))


def states_in(column: str, types: Iterable[str]) -> str:
    """``column IN ('A', 'B')`` for state types (constants of this package, never user input)."""
    return f"{column} IN ({', '.join(repr(str(t)) for t in sorted(types))})"


def active(column: str = "state_type") -> str:
    """The condition for a run that holds a slot (its state type is one of ``ACTIVE_TYPES``)."""
    return states_in(column, ACTIVE_TYPES)


def dumps(value: Any) -> str:
    return json_text(value)


def loads(text: str | None) -> Any:
    return None if text is None else json_value(text)


def new_id() -> str:
    """A random (version 4) UUID as text, as ``str(uuid.uuid4())`` writes it, in a quarter of its time."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def in_clause(column: str, values: Iterable[Any], params: list[Any]) -> str:
    """``column IN (...)`` over the values, passed as one JSON array parameter (``json_each``, which
    the PostgreSQL store runs as ``json_array_elements_text``), so a list of any length is one
    variable (SQLite allows 32,766); an empty list matches nothing."""
    values = [v if isinstance(v, str) else str(v) for v in values]
    if not values:
        return "1 = 0"
    params.append(json.dumps(values))
    return f"{column} IN (SELECT value FROM json_each(?))"


def prefix_clause(column: str, prefixes: Iterable[str], params: list[Any]) -> str:
    """Whether ``column`` starts with one of ``prefixes``, ignoring case (one JSON parameter, as
    :func:`in_clause`); an empty list matches nothing."""
    lowered = [p.lower() for p in prefixes]
    if not lowered:
        return "1 = 0"
    params.append(json.dumps(lowered))
    return f"EXISTS (SELECT 1 FROM json_each(?) WHERE LOWER(SUBSTR({column}, 1, LENGTH(value))) = value)"


def page_limit(limit: int | None) -> int:
    """A filter's ``limit``: the default when absent; over :data:`MAX_LIMIT` or negative is refused."""
    if limit is None:
        return MAX_LIMIT
    if limit > MAX_LIMIT or limit < 0:
        raise Invalid(f"Invalid limit: must be less than or equal to {MAX_LIMIT}.")
    return limit


def pages(total: int, limit: int) -> int:
    """How many pages of ``limit`` hold ``total`` items (0 for none, or for a limit of 0), as Prefect counts."""
    return (total + limit - 1) // limit if limit > 0 else 0


def count(row: Any) -> int:
    """The ``n`` of a ``SELECT COUNT(*) AS n`` row."""
    return int(row["n"]) if row else 0


def insert_queue(store: Any, queue_id: str, pool_id: str, name: str, description: str, is_paused: bool,
                 concurrency_limit: int | None, priority: int, now: str) -> None:
    """One new work queue row (status NOT_READY, never polled), after every other in creation order."""
    store.execute(
        "INSERT INTO work_queue (id, created, updated, work_pool_id, name, description, is_paused, "
        "concurrency_limit, priority, last_polled, status, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 'NOT_READY', "
        "(SELECT COALESCE(MAX(seq), 0) + 1 FROM work_queue))",
        (queue_id, now, now, pool_id, name, description, int(is_paused), concurrency_limit, priority),
    )


# Row locks, always taken in this order within a transaction: the pool, its queues, deployments,
# runs. On PostgreSQL they are SELECT ... FOR NO KEY UPDATE in id order; on SQLite no-ops
# (BEGIN IMMEDIATE already serialises writers). See docs/architecture.md, "Replicas".


def lock_pool(store: Any, pool_id: str) -> None:
    """The pool's row: everything that reads then writes the pool's state (its limits against
    its runs, its queues' priorities and names, its default queue) takes it first."""
    store.lock("work_pool", [pool_id])


def lock_queues(store: Any, pool_id: str) -> None:
    """Every queue row of the pool (after the pool's), for writes to several of them."""
    if store.locks_rows:
        store.lock("work_queue", [r["id"] for r in store.query("SELECT id FROM work_queue WHERE work_pool_id = ?", (pool_id,))])


def lock_run(store: Any, run_id: str) -> None:
    store.lock("flow_run", [run_id])
