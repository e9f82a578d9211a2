"""The relational schema shared by the SQLite and PostgreSQL stores, as ordered migrations.

Portable DDL only: TEXT ids and timestamps (fixed-width ISO-8601 UTC, so text
order is time order), INTEGER booleans, JSON as TEXT (key order preserved).

A database records its version in ``schema_version``; :func:`upgrade` brings it to
:data:`SCHEMA_VERSION` by running the migrations above its version, in order, in the caller's
transaction (which the store holds under a lock, so replicas may start together). A database
from before versioning (no ``schema_version``) is taken as version 0 once its tables are
checked to be poolform's: migration 1 only creates what is missing. Must not hold domain logic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

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



@dataclass(frozen=True)
class Migration:
    """One step of the schema: portable statements run in order, and the columns it adds."""

    version: int
    summary: str
    statements: tuple[str, ...]
    adds_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "pools, queues, workers, flows, deployments, runs and logs (the first layout)", TABLES + INDEXES),
    Migration(2, "one run per flow and idempotency key, so two replicas cannot both create it", (
        # Runs a race could have duplicated keep their key on the oldest only.
        "UPDATE flow_run SET idempotency_key = NULL WHERE idempotency_key IS NOT NULL AND EXISTS ("
        "SELECT 1 FROM flow_run o WHERE o.flow_id = flow_run.flow_id AND o.idempotency_key = flow_run.idempotency_key "
        "AND (o.created < flow_run.created OR (o.created = flow_run.created AND o.id < flow_run.id)))",
        "DROP INDEX IF EXISTS ix_flow_run_idem",
        "CREATE UNIQUE INDEX IF NOT EXISTS ux_flow_run_idem ON flow_run (flow_id, idempotency_key)",
    )),
    Migration(3, "who claimed a PENDING run, and whose claim a reclaim voided (leases)", (
        "ALTER TABLE flow_run ADD COLUMN claimant TEXT",
        "ALTER TABLE flow_run ADD COLUMN reclaimed_from TEXT",
        "CREATE INDEX IF NOT EXISTS ix_flow_run_state_time ON flow_run (state_type, state_timestamp)",
    ), adds_columns={"flow_run": ("claimant", "reclaimed_from")}),
    Migration(4, "queues keep their creation order (Prefect takes equal priorities in that order)", (
        "ALTER TABLE work_queue ADD COLUMN seq INTEGER",
        "UPDATE work_queue SET seq = (SELECT COUNT(*) FROM work_queue o WHERE o.created < work_queue.created "
        "OR (o.created = work_queue.created AND o.id <= work_queue.id))",
        "CREATE INDEX IF NOT EXISTS ix_work_queue_seq ON work_queue (seq)",
    ), adds_columns={"work_queue": ("seq",)}),
    Migration(5, "a run's FlowRun JSON kept as it is written, so a poll sends text instead of serializing runs", (
        # Runs from before stay NULL and are rendered from their columns when polled.
        "ALTER TABLE flow_run ADD COLUMN wire TEXT",
    ), adds_columns={"flow_run": ("wire",)}),
)

SCHEMA_VERSION = MIGRATIONS[-1].version
"""The version this code writes and reads."""

VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"


def _columns_of(ddl: str) -> tuple[str, frozenset[str]]:
    match = re.match(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*)\)$", ddl, re.S)
    assert match is not None, ddl
    words = (line.split()[0] for line in match.group(2).split(",\n") if line.strip())
    return match.group(1), frozenset(w for w in words if w not in {"UNIQUE", "PRIMARY", "FOREIGN", "CHECK", "CONSTRAINT"})


def table_columns(version: int = SCHEMA_VERSION) -> dict[str, frozenset[str]]:
    """Each table with the names of its columns at ``version``."""
    tables = dict(_columns_of(ddl) for ddl in TABLES)
    for migration in MIGRATIONS:
        if migration.version <= version:
            for table, columns in migration.adds_columns.items():
                tables[table] = tables[table] | frozenset(columns)
    return tables


def foreign_tables(actual: dict[str, set[str]], version: int = SCHEMA_VERSION) -> list[str]:
    """The tables whose columns differ from ours at ``version`` (``actual``: table -> its columns)."""
    return sorted(t for t, cols in table_columns(version).items() if t in actual and set(actual[t]) != cols)


class SchemaError(Exception):
    """The database cannot be used: another program's tables, or a newer poolform's schema."""


def upgrade(execute: Callable[[str], object], versions: Callable[[], list[int]],
            columns: Callable[[], dict[str, set[str]]], where: str) -> tuple[int, int]:
    """Bring a database to :data:`SCHEMA_VERSION` (the caller holds the transaction and the lock).

    ``execute`` runs one statement; ``versions`` reads ``schema_version``; ``columns`` reads
    poolform's tables as they are (table -> columns). Returns (version found, version now).
    """
    execute(VERSION_TABLE)
    found = versions()
    if found:
        version = max(found)
        if version > SCHEMA_VERSION:
            raise SchemaError(f"{where} has schema version {version}, written by a newer poolform (this one knows up to "
                              f"{SCHEMA_VERSION}); upgrade poolform, or pass --db with another database.")
    else:
        foreign = foreign_tables(columns(), version=1)
        if foreign:
            raise SchemaError(foreign_schema_message(where, foreign))
        version = 0
    for migration in MIGRATIONS:
        if migration.version > version:
            for statement in migration.statements:
                execute(statement)
    if version != SCHEMA_VERSION or len(found) != 1:
        execute("DELETE FROM schema_version")
        execute(f"INSERT INTO schema_version (version) VALUES ({SCHEMA_VERSION})")
    foreign = foreign_tables(columns())
    if foreign:
        raise SchemaError(foreign_schema_message(where, foreign))
    return version, SCHEMA_VERSION


def foreign_schema_message(where: str, tables: list[str]) -> str:
    return (f"{where} is not a poolform database: its table(s) {', '.join(tables)} have other columns than poolform's "
            "(is it Prefect's own database?). Pass --db with a new file or an empty database.")
