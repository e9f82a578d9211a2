"""The relational schema shared by the SQLite and PostgreSQL stores.

Portable DDL only: TEXT ids and timestamps (fixed-width ISO-8601 UTC, so text
order is time order), INTEGER booleans, JSON as TEXT (key order preserved).
"""

from __future__ import annotations

import re

SCHEMA_VERSION = 1

TABLES: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS work_pool (
        id TEXT PRIMARY KEY,
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        name TEXT NOT NULL UNIQUE,
        description TEXT,
        type TEXT NOT NULL,
        base_job_template TEXT NOT NULL,
        is_paused INTEGER NOT NULL,
        concurrency_limit INTEGER,
        default_queue_id TEXT,
        storage_configuration TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS work_queue (
        id TEXT PRIMARY KEY,
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        work_pool_id TEXT NOT NULL REFERENCES work_pool(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        description TEXT NOT NULL,
        is_paused INTEGER NOT NULL,
        concurrency_limit INTEGER,
        priority INTEGER NOT NULL,
        last_polled TEXT,
        status TEXT NOT NULL,
        UNIQUE (work_pool_id, name)
    )""",
    """CREATE TABLE IF NOT EXISTS worker (
        id TEXT PRIMARY KEY,
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        work_pool_id TEXT NOT NULL REFERENCES work_pool(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        last_heartbeat_time TEXT NOT NULL,
        heartbeat_interval_seconds INTEGER,
        UNIQUE (work_pool_id, name)
    )""",
    """CREATE TABLE IF NOT EXISTS flow (
        id TEXT PRIMARY KEY,
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        name TEXT NOT NULL UNIQUE,
        tags TEXT NOT NULL,
        labels TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS deployment (
        id TEXT PRIMARY KEY,
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        flow_id TEXT NOT NULL,
        name TEXT NOT NULL,
        work_pool_name TEXT,
        work_queue_name TEXT,
        work_queue_id TEXT,
        last_polled TEXT,
        body TEXT NOT NULL,
        UNIQUE (flow_id, name)
    )""",
    """CREATE TABLE IF NOT EXISTS flow_run (
        id TEXT PRIMARY KEY,
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        name TEXT NOT NULL,
        flow_id TEXT NOT NULL,
        deployment_id TEXT,
        work_queue_id TEXT,
        work_queue_name TEXT,
        idempotency_key TEXT,
        state_type TEXT,
        state_name TEXT,
        state_timestamp TEXT,
        next_scheduled_start_time TEXT,
        expected_start_time TEXT,
        start_time TEXT,
        end_time TEXT,
        run_count INTEGER NOT NULL,
        tags TEXT NOT NULL,
        state TEXT,
        body TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS log (
        id TEXT PRIMARY KEY,
        flow_run_id TEXT,
        task_run_id TEXT,
        level INTEGER NOT NULL,
        ts TEXT NOT NULL,
        body TEXT NOT NULL
    )""",
)

INDEXES: tuple[str, ...] = (
    "CREATE INDEX IF NOT EXISTS ix_work_queue_pool_priority ON work_queue (work_pool_id, priority)",
    "CREATE INDEX IF NOT EXISTS ix_worker_pool ON worker (work_pool_id, last_heartbeat_time)",
    "CREATE INDEX IF NOT EXISTS ix_flow_run_queue_state_sched ON flow_run (work_queue_id, state_type, next_scheduled_start_time, id)",
    "CREATE INDEX IF NOT EXISTS ix_flow_run_sched ON flow_run (next_scheduled_start_time)",
    "CREATE INDEX IF NOT EXISTS ix_flow_run_expected ON flow_run (expected_start_time)",
    "CREATE INDEX IF NOT EXISTS ix_flow_run_idem ON flow_run (flow_id, idempotency_key)",
    "CREATE INDEX IF NOT EXISTS ix_flow_run_deployment ON flow_run (deployment_id)",
    "CREATE INDEX IF NOT EXISTS ix_deployment_queue ON deployment (work_queue_id)",
    "CREATE INDEX IF NOT EXISTS ix_log_run_time ON log (flow_run_id, ts)",
)

ALL: tuple[str, ...] = TABLES + INDEXES


def table_columns() -> dict[str, frozenset[str]]:
    """Each table of ``TABLES`` with the names of its columns."""
    tables: dict[str, frozenset[str]] = {}
    for ddl in TABLES:
        match = re.match(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*)\)$", ddl, re.S)
        assert match is not None, ddl
        words = (line.split()[0] for line in match.group(2).split(",\n") if line.strip())
        tables[match.group(1)] = frozenset(w for w in words if w not in {"UNIQUE", "PRIMARY", "FOREIGN", "CHECK", "CONSTRAINT"})
    return tables


def foreign_tables(actual: dict[str, set[str]]) -> list[str]:
    """The tables whose columns differ from ours (``actual``: table -> its columns in the database)."""
    return sorted(t for t, cols in table_columns().items() if t in actual and set(actual[t]) != cols)


def foreign_schema_message(where: str, tables: list[str]) -> str:
    return (f"{where} is not a poolform database: its table(s) {', '.join(tables)} have other columns than poolform's "
            "(is it Prefect's own database?). Pass --db with a new file or an empty database.")
