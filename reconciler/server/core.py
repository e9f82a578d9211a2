"""Domain logic of the reference server: pools, queues, workers, flows,
deployments and flow runs on top of a ``Store``.

Every public method is synchronous and runs inside one store transaction, so a
handler that calls it without awaiting is atomic.  Time comes from the app's
injectable clock.  Raises ``ApiError`` for HTTP-visible failures; never imports
the rest of the package.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Sequence
from uuid import UUID

from reconciler.server.clock import as_utc, from_text, to_text
from reconciler.server.store import Row, Store

WORKER_FALLBACK_INTERVAL = 30
WORKER_INACTIVITY_MULTIPLE = 3
QUEUE_POLL_TIMEOUT = 60
DEPLOYMENT_POLL_TIMEOUT = 60
LATE_AFTER_SECONDS = 15
MAX_LIMIT = 200
AGENT_POOL = "default-agent-pool"
AGENT_TYPE = "prefect-agent"
DEFAULT_QUEUE_DESCRIPTION = "The work pool's default queue."
EMPTY_STORAGE = {"bundle_upload_step": None, "bundle_execution_step": None, "default_result_storage_block_id": None}


class ApiError(Exception):
    """An HTTP error with a ``{"detail": ...}`` body."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def new_id() -> str:
    return str(uuid.uuid4())


def pool_not_found(name: str) -> ApiError:
    return ApiError(404, f'Work pool "{name}" not found.')


def queue_not_found(pool: str, queue: str) -> ApiError:
    return ApiError(404, f"Work pool queue '{pool}/{queue}' not found.")


def is_reserved(name: str) -> bool:
    return name.lower().startswith("prefect")


def check_limit(limit: int | None) -> int:
    if limit is None:
        return MAX_LIMIT
    if limit > MAX_LIMIT or limit < 0:
        raise ApiError(422, f"Invalid limit: must be less than or equal to {MAX_LIMIT}.")
    return limit


POOL_COLUMNS = "id, created, updated, name, description, type, base_job_template, is_paused, concurrency_limit, default_queue_id, storage_configuration"
QUEUE_COLUMNS = "q.id, q.created, q.updated, q.work_pool_id, q.name, q.description, q.is_paused, q.concurrency_limit, q.priority, q.last_polled, q.status, p.name AS work_pool_name"
ACTIVE_TYPES = ("PENDING", "RUNNING")


class Core:
    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    def now(self) -> datetime:
        return as_utc(self.clock())

    def now_text(self) -> str:
        return to_text(self.now())  # type: ignore[return-value]

    # ------------------------------------------------------------------ pools

    def _pool_row(self, name: str) -> Row:
        row = self.store.one(f"SELECT {POOL_COLUMNS} FROM work_pool WHERE name = ?", (name,))
        if row is None:
            raise pool_not_found(name)
        return row

    def _workers_online(self, pool_id: str, now: datetime) -> bool:
        rows = self.store.query(
            "SELECT last_heartbeat_time, heartbeat_interval_seconds FROM worker WHERE work_pool_id = ?", (pool_id,)
        )
        return any(self._worker_online(r, now) for r in rows)

    @staticmethod
    def _worker_online(row: Row, now: datetime) -> bool:
        interval = row["heartbeat_interval_seconds"] or WORKER_FALLBACK_INTERVAL
        last = from_text(row["last_heartbeat_time"])
        return last is not None and now - last <= timedelta(seconds=interval * WORKER_INACTIVITY_MULTIPLE)

    def _active_in_pool(self, pool_id: str) -> int:
        row = self.store.one(
            "SELECT COUNT(*) AS n FROM flow_run r JOIN work_queue q ON q.id = r.work_queue_id "
            "WHERE q.work_pool_id = ? AND r.state_type IN ('PENDING', 'RUNNING')",
            (pool_id,),
        )
        return int(row["n"]) if row else 0

    def _active_in_queue(self, queue_id: str) -> int:
        row = self.store.one(
            "SELECT COUNT(*) AS n FROM flow_run WHERE work_queue_id = ? AND state_type IN ('PENDING', 'RUNNING')",
            (queue_id,),
        )
        return int(row["n"]) if row else 0

    def pool_json(self, row: Row, now: datetime | None = None) -> dict[str, Any]:
        now = now or self.now()
        if row["type"] == AGENT_TYPE:
            status = None
        elif row["is_paused"]:
            status = "PAUSED"
        else:
            status = "READY" if self._workers_online(row["id"], now) else "NOT_READY"
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
            "active_slots": None if limit is None else self._active_in_pool(row["id"]),
        }

    def create_pool(
        self,
        *,
        name: str,
        type: str,
        description: str | None,
        base_job_template: dict[str, Any],
        is_paused: bool,
        concurrency_limit: int | None,
        storage_configuration: dict[str, Any],
    ) -> dict[str, Any]:
        with self.store.transaction():
            if self.store.one("SELECT 1 FROM work_pool WHERE name = ?", (name,)) is not None:
                raise ApiError(409, "A work pool with this name already exists.")
            now = self.now_text()
            pool_id, queue_id = new_id(), new_id()
            self.store.execute(
                f"INSERT INTO work_pool ({POOL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (pool_id, now, now, name, description, type, dumps(base_job_template), int(is_paused),
                 concurrency_limit, queue_id, dumps(storage_configuration)),
            )
            self._insert_queue(queue_id, pool_id, "default", DEFAULT_QUEUE_DESCRIPTION, False, None, 1, now)
            return self.pool_json(self._pool_row(name))

    def read_pool(self, name: str) -> dict[str, Any]:
        with self.store.transaction():
            return self.pool_json(self._pool_row(name))

    def _pool_where(self, flt: Any) -> tuple[str, list[Any]]:
        if flt is None:
            return "", []
        parts: list[str] = []
        params: list[Any] = []
        for column, sub in (("id", flt.id), ("name", flt.name), ("type", flt.type)):
            if sub is not None and sub.any_ is not None:
                parts.append(_in_clause(column, sub.any_, params))
        if not parts:
            return "", []
        joiner = " OR " if flt.operator == "or_" else " AND "
        return " WHERE " + joiner.join(f"({p})" for p in parts), params

    def filter_pools(self, flt: Any, limit: int | None, offset: int | None) -> list[dict[str, Any]]:
        limit = check_limit(limit)
        where, params = self._pool_where(flt)
        with self.store.transaction():
            rows = self.store.query(
                f"SELECT {POOL_COLUMNS} FROM work_pool{where} ORDER BY name LIMIT ? OFFSET ?",
                (*params, limit, offset or 0),
            )
            now = self.now()
            return [self.pool_json(r, now) for r in rows]

    def count_pools(self, flt: Any) -> int:
        where, params = self._pool_where(flt)
        with self.store.transaction():
            row = self.store.one(f"SELECT COUNT(*) AS n FROM work_pool{where}", params)
        return int(row["n"]) if row else 0

    def update_pool(self, name: str, changes: dict[str, Any]) -> None:
        if is_reserved(name) and not set(changes) <= {"is_paused", "concurrency_limit"}:
            raise ApiError(
                403,
                "Work pools starting with 'Prefect' are reserved for internal use and can only be updated to set concurrency limits or pause.",
            )
        for key in ("is_paused", "base_job_template", "storage_configuration"):
            if key in changes and changes[key] is None:
                raise ApiError(422, f"{key} cannot be null; send a value or leave the key out.")
        with self.store.transaction():
            row = self._pool_row(name)
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
            params.append(self.now_text())
            self.store.execute(f"UPDATE work_pool SET {', '.join(sets)} WHERE id = ?", (*params, row["id"]))

    def delete_pool(self, name: str) -> None:
        if is_reserved(name):
            raise ApiError(403, "Work pools starting with 'Prefect' are reserved for internal use and can not be deleted.")
        with self.store.transaction():
            row = self._pool_row(name)
            queue_ids = [q["id"] for q in self.store.query("SELECT id FROM work_queue WHERE work_pool_id = ?", (row["id"],))]
            self._detach_queues(queue_ids, pool_gone=True)
            self.store.execute("DELETE FROM worker WHERE work_pool_id = ?", (row["id"],))
            self.store.execute("DELETE FROM work_queue WHERE work_pool_id = ?", (row["id"],))
            self.store.execute("DELETE FROM work_pool WHERE id = ?", (row["id"],))

    def _detach_queues(self, queue_ids: Sequence[str], *, pool_gone: bool) -> None:
        if not queue_ids:
            return
        params: list[Any] = []
        clause = _in_clause("work_queue_id", queue_ids, params)
        if pool_gone:
            self.store.execute(f"UPDATE deployment SET work_queue_id = NULL, work_pool_name = NULL WHERE {clause}", params)
        else:
            self.store.execute(f"UPDATE deployment SET work_queue_id = NULL WHERE {clause}", params)
        self.store.execute(f"UPDATE flow_run SET work_queue_id = NULL WHERE {clause}", params)

    # ------------------------------------------------------------------ queues

    def _insert_queue(
        self, queue_id: str, pool_id: str, name: str, description: str, is_paused: bool,
        concurrency_limit: int | None, priority: int, now: str,
    ) -> None:
        self.store.execute(
            "INSERT INTO work_queue (id, created, updated, work_pool_id, name, description, is_paused, "
            "concurrency_limit, priority, last_polled, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 'NOT_READY')",
            (queue_id, now, now, pool_id, name, description, int(is_paused), concurrency_limit, priority),
        )

    def queue_json(self, row: Row, now: datetime | None = None) -> dict[str, Any]:
        now = now or self.now()
        status = row["status"]
        if status == "READY":
            polled = from_text(row["last_polled"])
            if polled is None or now - polled > timedelta(seconds=QUEUE_POLL_TIMEOUT):
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
            "active_slots": None if limit is None else self._active_in_queue(row["id"]),
        }

    def _queue_row(self, pool: str, name: str, *, pool_message: bool) -> Row:
        pool_row = self.store.one("SELECT id FROM work_pool WHERE name = ?", (pool,))
        if pool_row is None:
            raise pool_not_found(pool) if pool_message else queue_not_found(pool, name)
        row = self.store.one(
            f"SELECT {QUEUE_COLUMNS} FROM work_queue q JOIN work_pool p ON p.id = q.work_pool_id "
            "WHERE q.work_pool_id = ? AND q.name = ?",
            (pool_row["id"], name),
        )
        if row is None:
            raise queue_not_found(pool, name)
        return row

    def _queue_by_id(self, queue_id: str) -> Row:
        row = self.store.one(
            f"SELECT {QUEUE_COLUMNS} FROM work_queue q JOIN work_pool p ON p.id = q.work_pool_id WHERE q.id = ?",
            (queue_id,),
        )
        if row is None:
            raise ApiError(404, "work queue not found")
        return row

    def _priorities(self, pool_id: str) -> list[Row]:
        return self.store.query(
            "SELECT id, priority FROM work_queue WHERE work_pool_id = ? ORDER BY priority, name", (pool_id,)
        )

    def _walk(self, pool_id: str, target: tuple[str, int] | None, now: str) -> None:
        """Prefect's bump walk: place ``target`` before the first queue at >= its priority,
        then push every queue that is not above its predecessor down to predecessor + 1."""
        rows = [(r["id"], r["priority"]) for r in self._priorities(pool_id)]
        if target is not None:
            rows = [r for r in rows if r[0] != target[0]]
            at = next((i for i, (_, p) in enumerate(rows) if p >= target[1]), len(rows))
            rows.insert(at, target)
        changed: dict[str, int] = {}
        previous: int | None = None
        for queue_id, priority in rows:
            if previous is not None and priority <= previous:
                priority = previous + 1
            changed[queue_id] = priority
            previous = priority
        current = {r["id"]: r["priority"] for r in self._priorities(pool_id)}
        updates = [(p, now, q) for q, p in changed.items() if current.get(q) != p]
        if updates:
            self.store.executemany("UPDATE work_queue SET priority = ?, updated = ? WHERE id = ?", updates)

    def create_queue(
        self, pool: str, *, name: str, description: str | None, is_paused: bool,
        concurrency_limit: int | None, priority: int | None,
    ) -> dict[str, Any]:
        with self.store.transaction():
            pool_row = self.store.one("SELECT id, name FROM work_pool WHERE name = ?", (pool,))
            if pool_row is None:
                raise pool_not_found(pool)
            return self._create_queue_in(pool_row, name, description, is_paused, concurrency_limit, priority)

    def _create_queue_in(
        self, pool_row: Row, name: str, description: str | None, is_paused: bool,
        concurrency_limit: int | None, priority: int | None,
    ) -> dict[str, Any]:
        if self.store.one("SELECT 1 FROM work_queue WHERE work_pool_id = ? AND name = ?", (pool_row["id"], name)):
            raise ApiError(409, "A work queue with this name already exists in work pool {work_pool_name!r}.")
        now = self.now_text()
        queue_id = new_id()
        existing = sorted(r["priority"] for r in self._priorities(pool_row["id"]))
        if priority is None:
            chosen = next((i + 1 for i, p in enumerate(existing) if p != i + 1), len(existing) + 1)
            if existing and chosen == len(existing) + 1:
                chosen = max(existing) + 1
            self._insert_queue(queue_id, pool_row["id"], name, description or "", is_paused, concurrency_limit, chosen, now)
        else:
            self._insert_queue(queue_id, pool_row["id"], name, description or "", is_paused, concurrency_limit, priority, now)
            self._walk(pool_row["id"], (queue_id, priority), now)
        return self.queue_json(self._queue_by_id(queue_id))

    def read_queue(self, pool: str, name: str) -> dict[str, Any]:
        with self.store.transaction():
            return self.queue_json(self._queue_row(pool, name, pool_message=False))

    def filter_queues(self, pool: str, flt: Any, limit: int | None, offset: int | None) -> list[dict[str, Any]]:
        limit = check_limit(limit)
        with self.store.transaction():
            pool_row = self.store.one("SELECT id FROM work_pool WHERE name = ?", (pool,))
            if pool_row is None:
                raise pool_not_found(pool)
            where, params = self._queue_where(flt)
            rows = self.store.query(
                f"SELECT {QUEUE_COLUMNS} FROM work_queue q JOIN work_pool p ON p.id = q.work_pool_id "
                f"WHERE q.work_pool_id = ?{where} ORDER BY q.priority, q.name LIMIT ? OFFSET ?",
                (pool_row["id"], *params, limit, offset or 0),
            )
            now = self.now()
            return [self.queue_json(r, now) for r in rows]

    @staticmethod
    def _queue_where(flt: Any) -> tuple[str, list[Any]]:
        if flt is None:
            return "", []
        parts: list[str] = []
        params: list[Any] = []
        if flt.id is not None and flt.id.any_ is not None:
            parts.append(_in_clause("q.id", flt.id.any_, params))
        if flt.name is not None:
            if flt.name.any_ is not None:
                parts.append(_in_clause("q.name", flt.name.any_, params))
            if flt.name.startswith_ is not None:
                if flt.name.startswith_:
                    parts.append(" OR ".join("LOWER(SUBSTR(q.name, 1, ?)) = ?" for _ in flt.name.startswith_))
                    for prefix in flt.name.startswith_:
                        params.extend([len(prefix), prefix.lower()])
                else:
                    parts.append("1 = 0")
            if flt.name.like_ is not None:
                parts.append("LOWER(q.name) LIKE ?")
                params.append(f"%{flt.name.like_.lower()}%")
        if not parts:
            return "", []
        joiner = " OR " if flt.operator == "or_" else " AND "
        return " AND (" + joiner.join(f"({p})" for p in parts) + ")", params

    def _apply_queue_update(self, row: Row, changes: dict[str, Any], *, walk: bool) -> None:
        for key in ("is_paused", "priority", "name", "description"):
            if key in changes and changes[key] is None:
                raise ApiError(422, f"{key} cannot be null; send a value or leave the key out.")
        if not changes:
            return
        now = self.now()
        now_text = to_text(now)
        if "name" in changes and changes["name"] != row["name"]:
            if self.store.one(
                "SELECT 1 FROM work_queue WHERE work_pool_id = ? AND name = ?", (row["work_pool_id"], changes["name"])
            ):
                raise ApiError(409, "A work queue with this name already exists in work pool {work_pool_name!r}.")
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
                ready = polled is not None and now - as_utc(polled) <= timedelta(seconds=QUEUE_POLL_TIMEOUT)
                sets.append("status = ?")
                params.append("READY" if ready else "NOT_READY")
        if "priority" in changes and not walk:
            sets.append("priority = ?")
            params.append(changes["priority"])
        sets.append("updated = ?")
        params.append(now_text)
        self.store.execute(f"UPDATE work_queue SET {', '.join(sets)} WHERE id = ?", (*params, row["id"]))
        if "priority" in changes and walk and changes["priority"] != row["priority"]:
            self._walk(row["work_pool_id"], (row["id"], changes["priority"]), now_text)

    def update_queue(self, pool: str, name: str, changes: dict[str, Any]) -> None:
        with self.store.transaction():
            row = self._queue_row(pool, name, pool_message=True)
            self._apply_queue_update(row, changes, walk=True)

    def delete_queue(self, pool: str, name: str) -> None:
        with self.store.transaction():
            row = self._queue_row(pool, name, pool_message=True)
            self._refuse_default(row)
            self._detach_queues([row["id"]], pool_gone=False)
            self.store.execute("DELETE FROM work_queue WHERE id = ?", (row["id"],))
            self._walk(row["work_pool_id"], None, self.now_text())

    def _refuse_default(self, row: Row) -> None:
        pool = self.store.one("SELECT default_queue_id FROM work_pool WHERE id = ?", (row["work_pool_id"],))
        if pool is not None and pool["default_queue_id"] == row["id"]:
            raise ApiError(
                409,
                f"Can't delete a pool's default queue: '{row['work_pool_name']}/{row['name']}' is the default queue "
                f"of work pool '{row['work_pool_name']}'. Delete the pool instead, or leave the queue in place.",
            )

    # ----------------------------------------------------------- legacy queues

    def legacy_create_queue(
        self, *, name: str, description: str | None, is_paused: bool, concurrency_limit: int | None, priority: int | None
    ) -> dict[str, Any]:
        with self.store.transaction():
            pool_row = self.store.one("SELECT id, name FROM work_pool WHERE name = ?", (AGENT_POOL,))
            if pool_row is None:
                self.create_pool(
                    name=AGENT_POOL, type=AGENT_TYPE, description=None, base_job_template={}, is_paused=False,
                    concurrency_limit=None, storage_configuration=dict(EMPTY_STORAGE),
                )
                pool_row = self.store.one("SELECT id, name FROM work_pool WHERE name = ?", (AGENT_POOL,))
            return self._create_queue_in(pool_row, name, description, is_paused, concurrency_limit, priority)

    def legacy_read_queue(self, queue_id: str) -> dict[str, Any]:
        with self.store.transaction():
            return self.queue_json(self._queue_by_id(queue_id))

    def legacy_read_queue_by_name(self, name: str) -> dict[str, Any]:
        with self.store.transaction():
            agent = self.store.one("SELECT id FROM work_pool WHERE name = ?", (AGENT_POOL,))
            base = f"SELECT {QUEUE_COLUMNS} FROM work_queue q JOIN work_pool p ON p.id = q.work_pool_id WHERE q.name = ?"
            if agent is not None:
                row = self.store.one(base + " AND q.work_pool_id = ?", (name, agent["id"]))
            else:
                row = self.store.one(base + " ORDER BY p.name LIMIT 1", (name,))
            if row is None:
                raise ApiError(404, f"Work queue '{name}' not found.")
            return self.queue_json(row)

    def legacy_update_queue(self, queue_id: str, changes: dict[str, Any]) -> None:
        with self.store.transaction():
            self._apply_queue_update(self._queue_by_id(queue_id), changes, walk=False)

    def legacy_delete_queue(self, queue_id: str) -> None:
        with self.store.transaction():
            row = self._queue_by_id(queue_id)
            self._refuse_default(row)
            self._detach_queues([row["id"]], pool_gone=False)
            self.store.execute("DELETE FROM work_queue WHERE id = ?", (row["id"],))

    def legacy_filter_queues(self, flt: Any, pools: Any, limit: int | None, offset: int | None) -> list[dict[str, Any]]:
        limit = check_limit(limit)
        where, params = self._queue_where(flt)
        pool_where, pool_params = self._pool_where(pools)
        if pool_where:
            pool_where = " AND p.id IN (SELECT id FROM work_pool" + pool_where + ")"
        with self.store.transaction():
            rows = self.store.query(
                f"SELECT {QUEUE_COLUMNS} FROM work_queue q JOIN work_pool p ON p.id = q.work_pool_id "
                f"WHERE 1 = 1{where}{pool_where} ORDER BY q.name, p.name LIMIT ? OFFSET ?",
                (*params, *pool_params, limit, offset or 0),
            )
            now = self.now()
            return [self.queue_json(r, now) for r in rows]

    def legacy_queue_status(self, queue_id: str) -> dict[str, Any]:
        with self.store.transaction():
            row = self._queue_by_id(queue_id)
            now = self.now()
            late = self.store.one(
                "SELECT COUNT(*) AS n FROM flow_run WHERE work_queue_id = ? AND state_type = 'SCHEDULED' "
                "AND next_scheduled_start_time < ?",
                (queue_id, to_text(now - timedelta(seconds=LATE_AFTER_SECONDS))),
            )
            late_count = int(late["n"]) if late else 0
            polled = from_text(row["last_polled"])
            healthy = (
                not row["is_paused"]
                and late_count == 0
                and polled is not None
                and now - polled <= timedelta(seconds=QUEUE_POLL_TIMEOUT)
            )
            return {
                "healthy": healthy,
                "late_runs_count": late_count,
                "last_polled": row["last_polled"],
                "health_check_policy": {"maximum_late_runs": 0, "maximum_seconds_since_last_polled": QUEUE_POLL_TIMEOUT},
            }

    # ----------------------------------------------------------------- workers

    def heartbeat(self, pool: str, name: str, interval: int | None) -> None:
        with self.store.transaction():
            pool_row = self._pool_row(pool)
            now = self.now_text()
            existing = self.store.one(
                "SELECT id FROM worker WHERE work_pool_id = ? AND name = ?", (pool_row["id"], name)
            )
            if existing is None:
                self.store.execute(
                    "INSERT INTO worker (id, created, updated, work_pool_id, name, last_heartbeat_time, "
                    "heartbeat_interval_seconds) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (new_id(), now, now, pool_row["id"], name, now, interval),
                )
            elif interval is not None:
                self.store.execute(
                    "UPDATE worker SET last_heartbeat_time = ?, heartbeat_interval_seconds = ?, updated = ? WHERE id = ?",
                    (now, interval, now, existing["id"]),
                )
            else:
                self.store.execute(
                    "UPDATE worker SET last_heartbeat_time = ?, updated = ? WHERE id = ?", (now, now, existing["id"])
                )

    def worker_json(self, row: Row, now: datetime) -> dict[str, Any]:
        return {
            "id": row["id"],
            "created": row["created"],
            "updated": row["updated"],
            "name": row["name"],
            "work_pool_id": row["work_pool_id"],
            "last_heartbeat_time": row["last_heartbeat_time"],
            "heartbeat_interval_seconds": row["heartbeat_interval_seconds"],
            "status": "ONLINE" if self._worker_online(row, now) else "OFFLINE",
        }

    def filter_workers(self, pool: str, flt: Any, limit: int | None, offset: int | None) -> list[dict[str, Any]]:
        limit = check_limit(limit)
        with self.store.transaction():
            pool_row = self._pool_row(pool)
            rows = self.store.query(
                "SELECT * FROM worker WHERE work_pool_id = ? ORDER BY last_heartbeat_time DESC, name",
                (pool_row["id"],),
            )
            now = self.now()
            out = [self.worker_json(r, now) for r in rows]
        if flt is not None:
            out = [w for w in out if _worker_matches(w, flt)]
        start = offset or 0
        return out[start:start + limit]

    def delete_worker(self, pool: str, name: str) -> None:
        with self.store.transaction():
            pool_row = self._pool_row(pool)
            if not self.store.execute("DELETE FROM worker WHERE work_pool_id = ? AND name = ?", (pool_row["id"], name)):
                raise ApiError(404, "Worker not found.")


def _in_clause(column: str, values: Iterable[Any], params: list[Any]) -> str:
    values = [str(v) if isinstance(v, UUID) else v for v in values]
    if not values:
        return "1 = 0"
    params.extend(values)
    return f"{column} IN ({', '.join('?' for _ in values)})"


def _worker_matches(worker: dict[str, Any], flt: Any) -> bool:
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
