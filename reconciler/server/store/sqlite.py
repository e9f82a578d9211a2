"""SQLite store: stdlib ``sqlite3``, one connection, WAL, ``synchronous=NORMAL``.

The connection is shared by the event loop thread and whoever opened it
(``check_same_thread=False``); the app serialises access because handlers do
their store work without awaiting.  Every transaction is ``BEGIN IMMEDIATE``: it
takes the file's write lock (which other processes on the same file wait for, up
to ``busy_timeout``) before its first read, so a read-then-write is atomic across
processes and ``lock`` has nothing to add.  Opening runs the schema migrations
in one such transaction.  Must not hold domain logic.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator, NoReturn, Sequence

from reconciler.server.store import Row, StoreError, StoreUnavailable, each_alone
from reconciler.server.store.schema import SchemaError, table_columns, upgrade


def _busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


_UNAVAILABLE = {
    sqlite3.SQLITE_FULL: "free disk space on the volume that holds {path}",
    sqlite3.SQLITE_IOERR: "check the disk that holds {path}",
    sqlite3.SQLITE_READONLY: "make {path} writable",
}


def _unavailable(exc: sqlite3.Error, path: str) -> StoreUnavailable | None:
    """A 503 for a database that cannot take writes now (full disk, I/O error, read-only file), else None."""
    code = getattr(exc, "sqlite_errorcode", None)
    action = _UNAVAILABLE.get(code & 0xFF) if isinstance(code, int) else None
    if action is None:
        return None
    return StoreUnavailable(f"The database cannot take writes: SQLite says \"{exc}\"; {action.format(path=path)}, then retry. Nothing was written.")


class SqliteStore:
    dialect = "sqlite"
    locks_rows = False

    def __init__(self, path: str = ":memory:", *, busy_timeout: float = 5.0) -> None:
        self.url = path
        if path != ":memory:":
            parent = os.path.dirname(os.path.abspath(path))
            try:
                os.makedirs(parent, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the directory for the database {path}: {exc.strerror}") from exc
        try:
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=busy_timeout)
            self._conn.row_factory = sqlite3.Row
            self._conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            if path != ":memory:":
                self._wal(busy_timeout)
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self.schema_found, self.schema_version = upgrade(
                    lambda sql: self._conn.execute(sql),
                    lambda: [r[0] for r in self._conn.execute("SELECT version FROM schema_version")],
                    self._columns,
                    f"the SQLite database {path}",
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        except SchemaError as exc:
            self._conn.close()
            raise StoreError(str(exc)) from None
        except sqlite3.Error as exc:
            if "not a database" in str(exc):
                raise StoreError(f"{path} is not a SQLite database; pass --db with a new file or a poolform database") from exc
            raise StoreError(f"cannot open the SQLite database {path}: {exc}; check the path is writable") from exc
        self._lock = threading.RLock()
        self._depth = 0

    def _wal(self, busy_timeout: float) -> None:
        """WAL mode; another process switching it at the same moment makes SQLite answer "locked"
        without waiting, so wait here."""
        deadline = time.monotonic() + busy_timeout
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if not _busy(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _columns(self) -> dict[str, set[str]]:
        found = {}
        for table in table_columns():
            columns = {r[1] for r in self._conn.execute(f"PRAGMA table_info({table})")}
            if columns:
                found[table] = columns
        return found

    @contextmanager
    def _mapped(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            self._raise_mapped(exc)

    def _raise_mapped(self, exc: sqlite3.Error) -> NoReturn:
        """``exc`` as the store's 503 when the database cannot take writes, else ``exc`` itself."""
        unavailable = _unavailable(exc, self.url)
        if unavailable is None:
            raise exc
        raise unavailable from exc

    # The statements map errors with try/except rather than ``_mapped``: a request runs several, and
    # a context manager costs each a generator.

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            self._raise_mapped(exc)

    def tuples(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            cursor = self._conn.cursor()
            cursor.row_factory = None
            return cursor.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            self._raise_mapped(exc)

    def one(self, sql: str, params: Sequence[Any] = (), *, generic_plan: bool = False, binary: bool = False) -> Row | None:
        try:
            return self._conn.execute(sql, params).fetchone()
        except sqlite3.Error as exc:
            self._raise_mapped(exc)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            return self._conn.execute(sql, params).rowcount
        except sqlite3.Error as exc:
            self._raise_mapped(exc)

    def write(self, sql: str, params: Sequence[Any] = ()) -> None:
        try:
            self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            self._raise_mapped(exc)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            self._conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            self._raise_mapped(exc)

    def statement(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement as its own transaction (outside :meth:`transaction`) and return its rows
        (``RETURNING``): SQLite takes the file's write lock for it and commits it before this returns,
        so a statement that reads and then writes is atomic across processes, as durable as a
        ``COMMIT`` and two statements cheaper than ``BEGIN IMMEDIATE`` ... ``COMMIT`` around it."""
        with self._lock:
            if self._depth:
                raise RuntimeError("statement() runs its own transaction; this one is inside another")
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                self._raise_mapped(exc)

    def execute_each(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int | Exception]:
        """Each statement as a transaction of its own (outside :meth:`transaction`), one after the
        other: each one's row count, or the error it raised."""
        with self._lock:
            if self._depth:
                raise RuntimeError("execute_each runs outside a transaction")
            return each_alone(self, statements)

    def _rollback(self) -> None:
        """End the open transaction; SQLite may already have rolled it back itself (a full disk does)."""
        try:
            self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def lock(self, table: str, ids: Sequence[str], *, skip_locked: bool = False) -> list[str]:
        """Nothing to do: ``BEGIN IMMEDIATE`` already holds the database's write lock."""
        return [str(i) for i in ids if i is not None]

    def update_unlocked(self, table: str, assignments: str, where: str, params: Sequence[Any] = ()) -> None:
        """``UPDATE table SET assignments WHERE where`` (no other transaction holds a row here)."""
        with self._mapped():
            self._conn.execute(f"UPDATE {table} SET {assignments} WHERE {where}", params)

    def commit_lazily(self) -> None:
        """Nothing to do: with ``synchronous=NORMAL`` in WAL mode no commit waits for the disk."""

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
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                self._raise_mapped(exc)
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._rollback()
                raise
            self._depth = 0
            try:
                self._conn.execute("COMMIT")
            except BaseException as exc:
                self._rollback()
                if isinstance(exc, sqlite3.Error):
                    self._raise_mapped(exc)
                raise

    def ping(self) -> bool:
        try:
            self._conn.execute("SELECT 1").fetchone()
            return True
        except sqlite3.Error:
            return False

    def close(self) -> None:
        try:
            self._conn.close()
        except sqlite3.Error:
            pass
