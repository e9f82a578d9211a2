"""SQLite store: stdlib ``sqlite3``, one connection, WAL, ``synchronous=NORMAL``.

The connection is shared by the event loop thread and whoever opened it
(``check_same_thread=False``); the app serialises access because handlers do
their store work without awaiting.  Must not hold domain logic.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from reconciler.server.store import Row, StoreError
from reconciler.server.store.schema import INDEXES, TABLES, foreign_schema_message, foreign_tables, table_columns


class SqliteStore:
    dialect = "sqlite"

    def __init__(self, path: str = ":memory:", *, busy_timeout: float = 5.0) -> None:
        self.url = path
        if path != ":memory:":
            parent = os.path.dirname(os.path.abspath(path))
            try:
                os.makedirs(parent, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the directory for the database {path}: {exc.strerror}") from exc
        try:
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._conn.row_factory = sqlite3.Row
            if path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            self._conn.execute("BEGIN")
            for ddl in TABLES:
                self._conn.execute(ddl)
            foreign = foreign_tables({t: {r[1] for r in self._conn.execute(f"PRAGMA table_info({t})")} for t in table_columns()})
            if foreign:
                self._conn.execute("ROLLBACK")
                self._conn.close()
                raise StoreError(foreign_schema_message(f"the SQLite database {path}", foreign))
            for ddl in INDEXES:
                self._conn.execute(ddl)
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if "not a database" in str(exc):
                raise StoreError(f"{path} is not a SQLite database; pass --db with a new file or a poolform database") from exc
            raise StoreError(f"cannot open the SQLite database {path}: {exc}; check the path is writable") from exc
        self._lock = threading.RLock()
        self._depth = 0

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return self._conn.execute(sql, params).fetchone()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._conn.execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)

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
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self._conn.execute("COMMIT")

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
