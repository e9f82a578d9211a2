"""PostgreSQL store via psycopg 3: same interface and the same SQL as SQLite.

``?`` placeholders are rewritten to ``%s``; JSON stays TEXT so key order is
preserved.  One connection, used by one thread at a time.  No domain logic.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from reconciler.server.store import Row, StoreError, StoreValueError
from reconciler.server.store.schema import INDEXES, TABLES, foreign_schema_message, foreign_tables, table_columns


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
        try:
            self._conn = psycopg.connect(url, autocommit=True, row_factory=dict_row)
            self._conn.execute("SET client_encoding TO 'UTF8'")
            with self._conn.transaction():
                for ddl in TABLES:
                    self._conn.execute(_ddl(ddl))
                actual: dict[str, set[str]] = {}
                for row in self._conn.execute(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name = ANY(%s)", (list(table_columns()),)
                ):
                    actual.setdefault(row["table_name"], set()).add(row["column_name"])
                foreign = foreign_tables(actual)
                if foreign:
                    self._conn.close()
                    raise StoreError(foreign_schema_message("the PostgreSQL database", foreign))
                for ddl in INDEXES:
                    self._conn.execute(_ddl(ddl))
        except psycopg.Error as exc:
            detail = " ".join(str(exc).split())
            raise StoreError(f"cannot open the PostgreSQL database: {detail}; check the URL and that the server is running") from exc
        self._lock = threading.RLock()
        self._depth = 0

    def _run(self, sql: str, params: Sequence[Any]) -> Any:
        try:
            return self._conn.execute(_pg(sql), tuple(params))
        except self._psycopg.DataError as exc:
            raise _value_error(exc) from exc

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
