"""Schema versions: a database created by the previous layout (no ``schema_version``, frozen in
``fixtures/schema-v1.sql``) is upgraded in place with its data; a newer schema is refused; the
migrations are numbered 1..N in order. On SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from reconciler.server.app import create_app
from reconciler.server.store import StoreError, open_store
from reconciler.server.store.schema import MIGRATIONS, SCHEMA_VERSION

V1 = (Path(__file__).parent / "fixtures" / "schema-v1.sql").read_text(encoding="utf-8")
BACKENDS = [pytest.param("postgresql", marks=pytest.mark.postgres), "sqlite"]
T = "2026-11-25T12:00:00.000000Z"
LATER = "2026-11-25T12:00:01.000000Z"


def _database(backend: str, request, tmp_path: Path) -> str:
    if backend == "postgresql":
        return request.getfixturevalue("postgres_cluster").new_database("upgrade")
    return str(tmp_path / "old.db")


def _raw(db: str):
    """A plain DB-API connection (autocommit) to the database, as the old code would have written it."""
    if db.startswith("postgresql://"):
        import psycopg

        return psycopg.connect(db, autocommit=True), "%s", lambda sql: sql.replace("name TEXT NOT NULL", 'name TEXT COLLATE "C" NOT NULL')
    import sqlite3

    return sqlite3.connect(db, isolation_level=None), "?", lambda sql: sql


def _previous_layout_with_data(db: str) -> None:
    conn, mark, ddl = _raw(db)
    for statement in V1.split(";\n"):
        body = "\n".join(line for line in statement.splitlines() if not line.startswith("--")).strip()
        if body:
            conn.execute(ddl(body))

    def insert(table: str, row: dict) -> None:
        conn.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join(mark for _ in row)})", tuple(row.values()))

    insert("work_pool", {"id": "p1", "created": T, "updated": T, "name": "old-pool", "description": None, "type": "process",
                         "base_job_template": "{}", "is_paused": 0, "concurrency_limit": 2, "default_queue_id": "q1",
                         "storage_configuration": "{}"})
    insert("work_queue", {"id": "q1", "created": T, "updated": T, "work_pool_id": "p1", "name": "default", "description": "d",
                          "is_paused": 0, "concurrency_limit": None, "priority": 1, "last_polled": None, "status": "NOT_READY"})
    insert("flow", {"id": "f1", "created": T, "updated": T, "name": "old-flow", "tags": "[]", "labels": "{}"})
    for run_id, created in (("r1", T), ("r2", LATER)):  # a race of the old server left two runs with one key
        insert("flow_run", {"id": run_id, "created": created, "updated": created, "name": run_id, "flow_id": "f1",
                            "deployment_id": None, "work_queue_id": "q1", "work_queue_name": "default", "idempotency_key": "k",
                            "state_type": "SCHEDULED", "state_name": "Scheduled", "state_timestamp": created,
                            "next_scheduled_start_time": created, "expected_start_time": created, "start_time": None,
                            "end_time": None, "run_count": 0, "tags": "[]", "state": None, "body": "{}"})
    conn.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_of_the_previous_layout_is_upgraded_with_its_data(backend: str, request, tmp_path: Path) -> None:
    db = _database(backend, request, tmp_path)
    _previous_layout_with_data(db)
    store = open_store(db)
    assert (store.schema_found, store.schema_version) == (0, SCHEMA_VERSION)
    client = TestClient(create_app(store), raise_server_exceptions=False)
    pool = client.get("/api/work_pools/old-pool").json()
    assert (pool["concurrency_limit"], pool["active_slots"]) == (2, 0)
    assert [q["name"] for q in client.post("/api/work_pools/old-pool/queues/filter", json={}).json()] == ["default"]
    runs = {r["id"]: r["idempotency_key"] for r in client.post("/api/flow_runs/filter", json={}).json()}
    assert runs == {"r1": "k", "r2": None}  # the older run keeps the key
    again = client.post("/api/flow_runs/", json={"flow_id": "f1", "idempotency_key": "k"})
    assert (again.status_code, again.json()["id"]) == (200, "r1")
    store.close()
    reopened = open_store(db)
    assert (reopened.schema_found, reopened.schema_version) == (SCHEMA_VERSION, SCHEMA_VERSION)
    reopened.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_newer_schema_is_refused_untouched(backend: str, request, tmp_path: Path) -> None:
    db = _database(backend, request, tmp_path)
    open_store(db).close()
    conn, _, _ = _raw(db)
    conn.execute(f"UPDATE schema_version SET version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError) as info:
        open_store(db)
    assert f"schema version {SCHEMA_VERSION + 1}, written by a newer poolform" in str(info.value)
    conn, _, _ = _raw(db)
    assert list(conn.execute("SELECT version FROM schema_version").fetchall()) == [(SCHEMA_VERSION + 1,)]
    conn.close()


def test_migrations_are_numbered_in_order() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert SCHEMA_VERSION == len(MIGRATIONS)
    assert all(m.summary and m.statements for m in MIGRATIONS)


@pytest.mark.parametrize("backend", BACKENDS)
def test_queues_of_the_previous_layout_keep_their_creation_order(backend: str, request, tmp_path: Path) -> None:
    """Migration 4 numbers existing queues by creation time (ids only break ties), so equal
    priorities keep Prefect's order after the upgrade, and new queues come after them."""
    db = _database(backend, request, tmp_path)
    _previous_layout_with_data(db)
    conn, mark, _ = _raw(db)
    for queue_id, created, name in (("qz", T, "a"), ("qa", LATER, "b")):  # ids against creation order
        conn.execute(
            "INSERT INTO work_queue (id, created, updated, work_pool_id, name, description, is_paused, concurrency_limit, "
            f"priority, last_polled, status) VALUES ({', '.join([mark] * 11)})",
            (queue_id, created, created, "p1", name, "", 0, None, 1, None, "NOT_READY"),
        )
    conn.close()
    store = open_store(db)
    client = TestClient(create_app(store), raise_server_exceptions=False)

    def listing() -> list[tuple[str, int]]:
        return [(q["name"], q["priority"]) for q in client.post("/api/work_pools/old-pool/queues/filter", json={}).json()]

    assert listing() == [("default", 1), ("a", 1), ("b", 1)]
    assert client.post("/api/work_pools/old-pool/queues", json={"name": "t", "priority": 2}).status_code == 201
    assert listing() == [("default", 1), ("a", 2), ("t", 2), ("b", 3)]
    store.close()
