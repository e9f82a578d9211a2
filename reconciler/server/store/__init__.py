"""The server's storage interface and ``open_store``.

A store is a thin SQL executor: the domain owns the logic and writes one SQL
dialect (``?`` placeholders, ISO-8601 text timestamps, JSON as text, 0/1
booleans) that both implementations run unchanged.  Opening a store creates or
upgrades its schema (``schema.upgrade``) under a lock, so several server
processes may open one database at once.  Stores know nothing about HTTP and
must not import the rest of the package.

Concurrency: one transaction per domain call. ``lock(table, ids)`` locks rows
until the transaction ends, in id order: on PostgreSQL ``SELECT ... FOR NO KEY
UPDATE`` (other processes wait; foreign-key checks of inserts do not); on SQLite
nothing, because every transaction begins with ``BEGIN IMMEDIATE`` and so holds
the database's only write lock (across processes on the same file) from its
first statement. ``tuples`` is ``query`` with plain tuples in the order of the
``SELECT``'s columns, quicker to make and read than mappings (a poll's hundreds
of rows). ``execute`` returns the number of rows the statement changed; ``execute_each`` runs several
statements, each its own transaction, and returns each one's row count or error (PostgreSQL
sends them together: one round trip for all); ``write`` is
``execute`` for a caller that does not need it, which the PostgreSQL store sends without
waiting for its answer (inside a transaction, together with the next statement it must wait
for, or the ``COMMIT``: a failure still fails the transaction). ``update_unlocked(table,
assignments, where, params)`` (a ``write``) is one
``UPDATE`` of the rows matching ``where`` that no other transaction holds (on
PostgreSQL it locks them in id order, skipping locked ones, in the same
statement): for bookkeeping that must never wait, such as a poll's
``last_polled``. ``commit_lazily()`` lets the current transaction's COMMIT return before
the commit is on disk (PostgreSQL: ``SET LOCAL synchronous_commit TO off``; a crash may
lose it, never corrupt anything; SQLite in WAL with ``synchronous=NORMAL`` does not wait for
the disk at a commit anyway): only for a transaction that writes bookkeeping alone.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Mapping, Protocol, Sequence

Row = Mapping[str, Any]


class Store(Protocol):
    """What the routes need from a database."""

    dialect: str  # "sqlite" | "postgresql"
    url: str
    locks_rows: bool
    """Whether ``lock`` takes row locks (PostgreSQL); SQLite's transactions hold the whole file's
    write lock, so there a caller may skip reading what it would only lock."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def one(self, sql: str, params: Sequence[Any] = (), *, generic_plan: bool = False, binary: bool = False) -> Row | None:
        """The first row. ``generic_plan``: the statement's planning costs more than its run (a large
        statement over a few index lookups), so PostgreSQL plans it once for any parameters (outside
        a transaction; SQLite plans every statement as it comes and ignores it). ``binary``: values in
        PostgreSQL's binary format (a ``bytea`` as the bytes themselves, not hex text; SQLite
        ignores it)."""
        ...

    def tuples(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    def write(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def execute_each(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int | Exception]:
        """Each statement as a transaction of its own (outside a transaction), on PostgreSQL all in
        one round trip; each one's row count, or the (mapped) error it raised."""
        ...

    def transaction(self) -> AbstractContextManager[None]: ...

    def statement(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """One statement as its own transaction, its rows returned; only where ``locks_rows`` is False
        (SQLite: the statement holds the file's write lock, so its reads and writes are atomic)."""
        ...

    @property
    def in_transaction(self) -> bool: ...

    def lock(self, table: str, ids: Sequence[str], *, skip_locked: bool = False) -> list[str]: ...

    def update_unlocked(self, table: str, assignments: str, where: str, params: Sequence[Any] = ()) -> None: ...

    def commit_lazily(self) -> None: ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...


def each_alone(store: Store, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int | Exception]:
    """``execute_each`` a statement at a time: each one's row count (``store.execute``), or the
    error it raised."""
    outcomes: list[int | Exception] = []
    for sql, params in statements:
        try:
            outcomes.append(store.execute(sql, params))
        except Exception as exc:  # the request's own error: its caller raises it
            outcomes.append(exc)
    return outcomes


class StoreError(Exception):
    """The database could not be opened or used; the message says what to do."""


class StoreBusy(StoreError):
    """The database could not order this transaction with a concurrent one (a deadlock, a
    serialization failure, a lock wait that timed out); the transaction was rolled back and
    running it again is safe."""


class StoreValueError(StoreError):
    """A value the database cannot hold (PostgreSQL text with a NUL character): the client's input is at fault."""


class StoreUnavailable(StoreError):
    """The database cannot do the work now (disk full, out of resources, connection lost); nothing was
    written.  The message names the cause and what the operator should do; the app answers 503 with it."""


def open_store(url_or_path: str = ":memory:") -> Store:
    """Open (creating the schema on first use) the store named by ``url_or_path``.

    ``":memory:"`` or a file path gives SQLite; ``postgresql://...`` gives PostgreSQL.
    """
    target = str(url_or_path)
    if target.startswith(("postgresql://", "postgres://")):
        from reconciler.server.store.postgres import PostgresStore

        return PostgresStore(target)
    if target.startswith("sqlite:///"):
        target = target[len("sqlite:///"):]
    from reconciler.server.store.sqlite import SqliteStore

    return SqliteStore(target)


__all__ = ["Row", "Store", "StoreError", "StoreBusy", "StoreUnavailable", "StoreValueError", "open_store"]
