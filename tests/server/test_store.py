"""The store interface: dispatch by URL, schema on first start, atomic transactions; the clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from reconciler.server.clock import ManualClock, from_text, to_text
from reconciler.server.store import StoreError, open_store
from reconciler.server.store.postgres import _pg
from reconciler.server.store.sqlite import SqliteStore


@pytest.mark.parametrize("target", [":memory:", "FILE", "sqlite:///FILE"], ids=["memory", "path", "sqlite-url"])
def test_open_store_gives_sqlite(tmp_path: Path, target: str) -> None:
    target = target.replace("FILE", str(tmp_path / "sub" / "s.db"))
    store = open_store(target)
    assert isinstance(store, SqliteStore) and store.dialect == "sqlite"
    tables = {r["name"] for r in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"work_pool", "work_queue", "worker", "flow", "deployment", "flow_run"} <= tables
    store.close()


def test_transaction_rolls_back_on_error() -> None:
    store = open_store(":memory:")
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.execute("INSERT INTO flow (id, created, updated, name, tags, labels) VALUES ('1', 'c', 'u', 'f', '[]', '{}')")
            with store.transaction():
                store.execute("INSERT INTO flow (id, created, updated, name, tags, labels) VALUES ('2', 'c', 'u', 'g', '[]', '{}')")
            raise RuntimeError("boom")
    assert store.query("SELECT * FROM flow") == []
    with store.transaction():
        store.execute("INSERT INTO flow (id, created, updated, name, tags, labels) VALUES ('3', 'c', 'u', 'h', '[]', '{}')")
    assert [r["name"] for r in store.query("SELECT name FROM flow")] == ["h"]
    store.close()


def test_unusable_sqlite_file_is_a_store_error(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError) as info:
        open_store(str(bad))
    assert str(info.value) == f"{bad} is not a SQLite database; pass --db with a new file or a poolform database"


@pytest.mark.parametrize(
    ("sql", "expected"),
    [("SELECT * FROM t WHERE a = ?", "SELECT * FROM t WHERE a = %s"),
     ("SELECT * FROM t WHERE a LIKE ? AND b = '%'", "SELECT * FROM t WHERE a LIKE %s AND b = '%%'")],
    ids=["placeholder", "percent-escaped"],
)
def test_postgres_placeholders(sql: str, expected: str) -> None:
    assert _pg(sql) == expected


def test_manual_clock_and_text_form() -> None:
    clock = ManualClock(datetime(2026, 1, 1, 10, 0))
    assert clock().tzinfo is not None
    clock.advance(seconds=90)
    assert clock() == datetime(2026, 1, 1, 10, 1, 30, tzinfo=timezone.utc)
    text = to_text(clock())
    assert text == "2026-01-01T10:01:30.000000Z"
    assert from_text(text) == clock()
    later = to_text(clock() + timedelta(microseconds=1))
    assert later > text


def test_locked_database_is_a_retryable_503(tmp_path: Path) -> None:
    import sqlite3

    from fastapi.testclient import TestClient

    from reconciler.server.app import create_app

    db = tmp_path / "s.db"
    store = SqliteStore(str(db), busy_timeout=0.05)
    other = sqlite3.connect(str(db), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with TestClient(create_app(store), raise_server_exceptions=False) as client:
            response = client.post("/api/work_pools/", json={"name": "p", "type": "process"})
        assert (response.status_code, response.json()) == (503, {"exception_message": "Service Unavailable"})
        assert response.headers["Retry-After"] == "1"
    finally:
        other.execute("ROLLBACK")
        other.close()
        store.close()


PREFECT_LIKE_WORK_POOL = """CREATE TABLE work_pool (
    id CHAR(36) PRIMARY KEY, created TIMESTAMP, updated TIMESTAMP, name VARCHAR NOT NULL UNIQUE,
    description VARCHAR, type VARCHAR NOT NULL, base_job_template JSON NOT NULL, is_paused BOOLEAN NOT NULL,
    default_queue_id CHAR(36), concurrency_limit INTEGER, status VARCHAR(9) NOT NULL,
    last_transitioned_status_at TIMESTAMP, last_status_event_id CHAR(36), storage_configuration JSON NOT NULL)"""


def test_a_database_with_other_tables_of_the_same_names_is_refused_untouched(tmp_path):
    import sqlite3

    from reconciler.server.store import StoreError, open_store

    path = tmp_path / "prefect.db"
    with sqlite3.connect(path) as conn:
        conn.execute(PREFECT_LIKE_WORK_POOL)
    with pytest.raises(StoreError) as info:
        open_store(str(path))
    message = str(info.value)
    assert "is not a poolform database" in message and "work_pool" in message and "--db" in message
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"work_pool"}


def test_reopening_a_poolform_database_keeps_its_data(tmp_path):
    from reconciler.server.store import open_store

    path = str(tmp_path / "server.db")
    store = open_store(path)
    with store.transaction():
        store.execute("INSERT INTO flow (id, created, updated, name, tags, labels) VALUES ('f', 't', 't', 'kept', '[]', '{}')")
    store.close()
    again = open_store(path)
    assert [row["name"] for row in again.query("SELECT name FROM flow")] == ["kept"]
    again.close()

