"""PostgreSQL store via psycopg 3: same interface and the same SQL as SQLite.

``?`` placeholders are rewritten to ``%s``; JSON stays TEXT so key order is
preserved.  One connection per process, used by one thread at a time, at READ
COMMITTED: what keeps read-then-write invariants across server processes is
``lock`` (``SELECT ... FOR NO KEY UPDATE`` in id order), which the domain takes
before it reads what it decides on, and unique indexes.  A deadlock, a
serialization failure or a lock wait over ``lock_timeout`` is ``StoreBusy`` (the
transaction was rolled back; the domain runs it again).  Opening creates or
upgrades the schema in one transaction under a transaction-scoped advisory lock,
so replicas starting together wait for each other instead of colliding.  No
domain logic.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from reconciler.server.store import Row, StoreBusy, StoreError, StoreValueError
from reconciler.server.store.schema import SchemaError, table_columns, upgrade

SCHEMA_LOCK = 0x706F6F6C666F726D
"""The advisory lock key schema upgrades hold ("poolform" in ASCII)."""
LOCK_TIMEOUT = "30s"
"""How long a statement waits for a row lock before the request answers 503 (retry)."""
_TABLES = frozenset({"work_pool", "work_queue", "worker", "flow", "deployment", "flow_run", "log"})


def _pg(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


def _ddl(sql: str) -> str:
    """Names sort bytewise, as in SQLite, whatever the database's locale."""
    return sql.replace("name TEXT NOT NULL", 'name TEXT COLLATE "C" NOT NULL')


def _value_error(exc: Exception) -> StoreValueError:
    text = " ".join(str(exc).split())
    if "NUL" in text:
        return StoreValueError("A value contains the NUL character (\\u0000), which a PostgreSQL-backed server cannot store; remove it.")
    return StoreValueError(f"A value cannot be stored in PostgreSQL: {text}")


class PostgresStore:
    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        try:
            import psycopg
            from psycopg.rows import dict_row
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise StoreError("PostgreSQL needs psycopg 3: pip install 'poolform[postgres]'") from exc
        self.url = url
        self._psycopg = psycopg
        self._busy_errors = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure,
                             psycopg.errors.LockNotAvailable)
        try:
            self._conn = psycopg.connect(url, autocommit=True, row_factory=dict_row)
            self._conn.execute("SET client_encoding TO 'UTF8'")
            self._conn.execute(f"SET lock_timeout TO '{LOCK_TIMEOUT}'")
            with self._conn.transaction():
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                self.schema_found, self.schema_version = upgrade(
                    lambda sql: self._conn.execute(_ddl(sql)),
                    lambda: [r["version"] for r in self._conn.execute("SELECT version FROM schema_version")],
                    self._columns,
                    "the PostgreSQL database",
                )
        except SchemaError as exc:
            self._conn.close()
            raise StoreError(str(exc)) from None
        except psycopg.Error as exc:
            detail = " ".join(str(exc).split())
            raise StoreError(f"cannot open the PostgreSQL database: {detail}; check the URL and that the server is running") from exc
        self._lock = threading.RLock()
        self._depth = 0

    def _columns(self) -> dict[str, set[str]]:
        actual: dict[str, set[str]] = {}
        for row in self._conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ANY(%s)", (list(table_columns()),)
        ):
            actual.setdefault(row["table_name"], set()).add(row["column_name"])
        return actual

    def _run(self, sql: str, params: Sequence[Any]) -> Any:
        try:
            return self._conn.execute(_pg(sql), tuple(params))
        except self._psycopg.DataError as exc:
            raise _value_error(exc) from exc
        except self._busy_errors as exc:
            raise StoreBusy(" ".join(str(exc).split())) from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._run(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return self._run(sql, params).fetchone()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._run(sql, params).rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            with self._conn.cursor() as cur:
                cur.executemany(_pg(sql), [tuple(r) for r in rows])
        except self._psycopg.DataError as exc:
            raise _value_error(exc) from exc
        except self._busy_errors as exc:
            raise StoreBusy(" ".join(str(exc).split())) from exc

    def lock(self, table: str, ids: Sequence[str], *, skip_locked: bool = False) -> list[str]:
        """Lock these rows of ``table`` until the transaction ends, in id order (so two
        transactions locking overlapping sets cannot deadlock on them); with ``skip_locked``
        the rows another transaction holds are left out instead of waited for. Returns the ids
        locked."""
        if table not in _TABLES:
            raise ValueError(f"no table {table!r}")
        wanted = sorted({str(i) for i in ids if i is not None})
        if not wanted:
            return []
        skip = " SKIP LOCKED" if skip_locked else ""
        return [r["id"] for r in self._run(f"SELECT id FROM {table} WHERE id = ANY(?) ORDER BY id FOR NO KEY UPDATE{skip}", (wanted,)).fetchall()]

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._depth = 1
            try:
                with self._conn.transaction():
                    yield
            finally:
                self._depth = 0

    def ping(self) -> bool:
        try:
            self._conn.execute("SELECT 1").fetchone()
            return True
        except self._psycopg.Error:
            return False

    def close(self) -> None:
        try:
            self._conn.close()
        except self._psycopg.Error:
            pass
