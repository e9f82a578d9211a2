"""PostgreSQL store via psycopg 3: same interface and the same SQL as SQLite.

``?`` placeholders are rewritten to ``%s``; JSON stays TEXT so key order is
preserved.  One connection per process, used by one thread at a time, at READ
COMMITTED.  A transaction runs in libpq's pipeline mode: its ``BEGIN`` goes out with
its first statement, and ``write``s (and ``update_unlocked``) go out with the next
statement whose rows are read, or with the ``COMMIT`` (their errors surface there,
inside the transaction); ``execute`` waits for its row count.  Statements are
prepared on the server after a few uses (psycopg's ``prepare_threshold``).  What
keeps read-then-write invariants across server processes is
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

from reconciler.server.store import Row, StoreBusy, StoreError, StoreUnavailable, StoreValueError, each_alone
from reconciler.server.store.schema import SchemaError, table_columns, upgrade

SCHEMA_LOCK = 0x706F6F6C666F726D
"""The advisory lock key schema upgrades hold ("poolform" in ASCII)."""
LOCK_TIMEOUT = "30s"
"""How long a statement waits for a row lock before the request answers 503 (retry)."""
_TABLES = frozenset({"work_pool", "work_queue", "worker", "flow", "deployment", "flow_run", "log"})
STORAGE = {"flow_run": "toast_tuple_target=8160"}
"""Storage parameters of tables (physical layout, not schema: set at open when missing). A run's
row (``body``, ``state`` and the ``wire`` text a poll sends, about 3 KB) is over PostgreSQL's
default threshold of 2 KB, past which it compresses the longest values; decompressing the
``wire`` of 200 runs cost a poll about 2 ms of the database's CPU. Rows up to 8160 bytes (the
most a page holds) are now kept as they are; larger ones are still compressed."""


_GENERIC_PLAN = "SELECT set_config('plan_cache_mode', 'force_generic_plan', true)"
"""Sent before a statement in the same pipeline (one implicit transaction, to which the setting is
local): once prepared, the statement runs its generic plan, made once, whatever its parameters.
PostgreSQL otherwise compares the generic plan's estimate with its custom plans' and may plan
each execution anew (``Store.one``'s ``generic_plan``)."""


def _queued_sync() -> bool:
    """Whether psycopg's pipeline can queue a Sync without waiting for results (its private
    ``_enqueue_sync``, which :meth:`PostgresStore.execute_each` relies on); without it, a future
    psycopg, each statement of a batch is sent alone: slower, never wrong."""
    try:
        import psycopg
    except ImportError:  # the store is not used without psycopg
        return False
    return callable(getattr(psycopg.Pipeline, "_enqueue_sync", None))


_QUEUED_SYNC = _queued_sync()


def _pg(sql: str) -> str:
    """The shared dialect in psycopg's: ``%s`` placeholders, and a JSON array parameter's elements
    (SQLite's ``json_each(?)``, from ``domain.sql.in_clause``) as text rows named ``value``."""
    return sql.replace("%", "%%").replace("?", "%s").replace("json_each(%s)", "json_array_elements_text(%s::json)")


def _ddl(sql: str) -> str:
    """Names sort bytewise, as in SQLite, whatever the database's locale."""
    return sql.replace("name TEXT NOT NULL", 'name TEXT COLLATE "C" NOT NULL')


def _value_error(exc: Exception) -> StoreValueError:
    text = " ".join(str(exc).split())
    if "NUL" in text or "\\u0000" in text:
        return StoreValueError("A value contains the NUL character (\\u0000), which a PostgreSQL-backed server cannot store; remove it.")
    return StoreValueError(f"A value cannot be stored in PostgreSQL: {text}")


def _unavailable(exc: Exception, operational: bool) -> StoreUnavailable | None:
    """A 503 for what the operator must fix (SQLSTATE class 53: disk full, out of memory, too many
    connections; 08 or an operational error without a SQLSTATE: the connection is gone; 57P: the
    server is shutting down), else None."""
    state = getattr(exc, "sqlstate", None) or ""
    if not state.startswith(("53", "08", "57P")) and not (operational and not state):
        return None
    text = " ".join(str(exc).split())
    action = "free space on the PostgreSQL server's disk" if state == "53100" else "check the PostgreSQL server"
    return StoreUnavailable(f"The database cannot do this now: PostgreSQL says \"{text}\" (SQLSTATE {state or 'none'}); "
                            f"{action}, then retry. Nothing was written.")


class PostgresStore:
    dialect = "postgresql"
    locks_rows = True

    def __init__(self, url: str) -> None:
        try:
            import psycopg
            from psycopg.rows import dict_row
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise StoreError("PostgreSQL needs psycopg 3: pip install 'poolform[postgres]'") from exc
        self.url = url
        self._psycopg = psycopg
        from psycopg.rows import tuple_row

        self._tuple_row = tuple_row
        self._busy_errors = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure,
                             psycopg.errors.LockNotAvailable)
        try:
            self._conn = psycopg.connect(url, autocommit=True, row_factory=dict_row)
            self._conn.execute("SET client_encoding TO 'UTF8'")
            self._conn.execute(f"SET lock_timeout TO '{LOCK_TIMEOUT}'")
            self._conn.execute("SET extra_float_digits TO 1")  # floats as their shortest exact text (Python's repr)
            with self._conn.transaction():
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                self.schema_found, self.schema_version = upgrade(
                    lambda sql: self._conn.execute(_ddl(sql)),
                    lambda: [r["version"] for r in self._conn.execute("SELECT version FROM schema_version")],
                    self._columns,
                    "the PostgreSQL database",
                )
                self._storage()
        except SchemaError as exc:
            self._conn.close()
            raise StoreError(str(exc)) from None
        except psycopg.Error as exc:
            detail = " ".join(str(exc).split())
            raise StoreError(f"cannot open the PostgreSQL database: {detail}; check the URL and that the server is running") from exc
        self._lock = threading.RLock()
        self._depth = 0
        self._pipeline: Any = None
        self._alone = self._conn.cursor()
        """The cursor of ``execute`` outside a transaction: a new cursor looks up how to send each
        parameter's type again (a run's creation from a known deployment: about 10 us of CPU)."""

    def _storage(self) -> None:
        """Set the :data:`STORAGE` parameters a table lacks (rows written before keep their layout
        until they are written again)."""
        for table, option in STORAGE.items():
            row = self._conn.execute("SELECT reloptions FROM pg_class WHERE oid = to_regclass(%s)", (table,)).fetchone()
            if option not in ((row or {}).get("reloptions") or []):
                self._conn.execute(f"ALTER TABLE {table} SET ({option})")

    def _columns(self) -> dict[str, set[str]]:
        actual: dict[str, set[str]] = {}
        for row in self._conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ANY(%s)", (list(table_columns()),)
        ):
            actual.setdefault(row["table_name"], set()).add(row["column_name"])
        return actual

    @contextmanager
    def _mapped(self) -> Iterator[None]:
        """Errors someone can act on become the store's: ``StoreValueError`` (the client's value,
        422), ``StoreBusy`` (run it again), ``StoreUnavailable`` (the operator's, 503 with the cause)."""
        try:
            yield
        except self._psycopg.Error as exc:
            mapped: StoreError | None
            if isinstance(exc, self._psycopg.DataError):
                mapped = _value_error(exc)
            elif isinstance(exc, self._busy_errors):
                mapped = StoreBusy(" ".join(str(exc).split()))
            else:
                mapped = _unavailable(exc, isinstance(exc, self._psycopg.OperationalError))
            if mapped is None:
                raise
            raise mapped from exc

    def _run(self, sql: str, params: Sequence[Any], binary: bool = False) -> Any:
        with self._mapped():
            return self._conn.execute(_pg(sql), tuple(params), binary=binary)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._run(sql, params).fetchall()

    def tuples(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._mapped(), self._conn.cursor(row_factory=self._tuple_row) as cursor:
            return cursor.execute(_pg(sql), tuple(params)).fetchall()

    def one(self, sql: str, params: Sequence[Any] = (), *, generic_plan: bool = False, binary: bool = False) -> Row | None:
        if generic_plan and self._pipeline is None:
            with self._mapped():
                with self._conn.pipeline():  # one round trip: both go out before the Sync that ends them
                    self._conn.execute(_GENERIC_PLAN)
                    cursor = self._conn.execute(_pg(sql), tuple(params), binary=binary)
                return cursor.fetchone()
        return self._run(sql, params, binary).fetchone()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._lock:  # (held: a transaction of this store is this thread's)
            if not self._depth:  # a statement alone: on the one cursor kept for that (its dumpers known)
                with self._mapped():
                    return int(self._alone.execute(_pg(sql), tuple(params)).rowcount)
            cursor = self._run(sql, params)
            if self._pipeline is not None:
                with self._mapped():
                    self._pipeline.sync()  # the row count is known once the statement's result is in
            return int(cursor.rowcount)

    def write(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._run(sql, params)

    def execute_each(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int | StoreError | Exception]:
        """Each statement as a transaction of its own (outside :meth:`transaction`), all sent in one
        round trip: a pipeline with a Sync after each statement, so each commits (or rolls back) on
        its own. Returns each one's row count, or the error it raised (mapped as :meth:`execute`
        maps it). A statement whose result did not come back while the connection is sound was
        rolled back (an error ends only its own implicit transaction, at its Sync) and is run again
        alone, which gives its own outcome; with the connection lost, the outcome of those is
        unknown and each gets the lost connection's error."""
        with self._lock:
            if self._depth:
                raise RuntimeError("execute_each runs outside a transaction")
            if len(statements) == 1 or not _QUEUED_SYNC:  # one alone (no pipeline to set up), or each alone
                return each_alone(self, statements)  # type: ignore[arg-type]
            cursors: list[Any] = []
            lost: Exception | None = None
            try:
                with self._conn.pipeline() as pipeline:
                    for sql, params in statements:
                        # the cursor is kept before it executes: its execute may raise an earlier
                        # statement's error after its own statement went out (its result still
                        # comes to it when the pipeline ends)
                        cursors.append(self._conn.cursor())
                        cursors[-1].execute(_pg(sql), tuple(params))
                        # pipeline.sync() would wait for the results (a round trip for each statement)
                        pipeline._enqueue_sync()
            except self._psycopg.Error as exc:
                if self._conn.closed or self._conn.info.status != self._psycopg.pq.ConnStatus.OK:
                    lost = exc
            outcomes: list[int | StoreError | Exception] = []
            for index, (sql, params) in enumerate(statements):
                cursor = cursors[index] if index < len(cursors) else None
                if cursor is not None and cursor.pgresult is not None and lost is None:
                    outcomes.append(cursor.rowcount)
                    continue
                try:
                    if lost is not None:
                        with self._mapped():
                            raise lost
                    outcomes.append(self.execute(sql, params))
                except Exception as exc:  # the request's own error: its caller raises it
                    outcomes.append(exc)
            return outcomes

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._mapped(), self._conn.cursor() as cur:
            cur.executemany(_pg(sql), [tuple(r) for r in rows])

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

    def update_unlocked(self, table: str, assignments: str, where: str, params: Sequence[Any] = ()) -> None:
        """``UPDATE table SET assignments`` on the rows matching ``where`` that no other transaction
        holds, locked in id order (so two such updates cannot deadlock), in one statement.
        ``params`` fill ``assignments`` first, then ``where``."""
        if table not in _TABLES:
            raise ValueError(f"no table {table!r}")
        self._run(
            f"UPDATE {table} SET {assignments} WHERE id IN "
            f"(SELECT id FROM {table} WHERE {where} ORDER BY id FOR NO KEY UPDATE SKIP LOCKED)", params)

    def commit_lazily(self) -> None:
        """This transaction's COMMIT does not wait for its WAL to reach the disk (it goes out with the
        next statement: no round trip). Later durable commits flush it with theirs."""
        if self._depth:
            with self._mapped():  # a utility statement: nothing to gain in preparing it
                self._conn.execute("SET LOCAL synchronous_commit TO off", prepare=False)

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
                with self._mapped():  # the work inside is mapped already; this maps what surfaces at the COMMIT
                    try:
                        # BEGIN goes out with the first statement that is waited for, COMMIT with the writes
                        # before it; psycopg's own transaction() waits for each (two round trips more).
                        with self._conn.pipeline() as self._pipeline:
                            self._conn.execute("BEGIN")
                            yield
                            self._conn.execute("COMMIT")
                    except BaseException:
                        self._pipeline = None
                        self._rollback()
                        raise
            finally:
                self._depth = 0
                self._pipeline = None

    def _rollback(self) -> None:
        """End a failed transaction (it may have ended already: a failed COMMIT, a lost connection)."""
        try:
            if self._conn.info.transaction_status != self._psycopg.pq.TransactionStatus.IDLE:
                self._conn.execute("ROLLBACK")
        except self._psycopg.Error:
            pass

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
