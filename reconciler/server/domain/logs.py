"""Logs (``POST /logs``, ``/logs/filter``): stored as Prefect's ``Log`` objects, filtered by run,
task run, level and time, in Prefect's sorts. Must not read or change runs.
"""

from __future__ import annotations

from typing import Any, Sequence

from reconciler.server.clock import to_text
from reconciler.server.domain import Ctx, atomic
from reconciler.server.domain.sql import dumps, in_clause, loads, new_id, page_limit


@atomic
def create_logs(ctx: Ctx, logs: Sequence[Any]) -> None:
    """Store log records (``LogCreate`` models) as Prefect's ``Log`` objects."""
    now = to_text(ctx.now())
    rows = []
    for log in logs:
        log_id = new_id()
        flow_run_id = None if log.flow_run_id is None else str(log.flow_run_id)
        task_run_id = None if log.task_run_id is None else str(log.task_run_id)
        stamp = to_text(log.timestamp)
        body = {"id": log_id, "created": now, "updated": now, "name": log.name, "level": log.level,
                "message": log.message, "timestamp": stamp, "flow_run_id": flow_run_id, "task_run_id": task_run_id}
        rows.append((log_id, flow_run_id, task_run_id, log.level, stamp, dumps(body)))
    if rows:
        ctx.store.executemany("INSERT INTO log (id, flow_run_id, task_run_id, level, ts, body) VALUES (?, ?, ?, ?, ?, ?)", rows)


@atomic
def filter_logs(ctx: Ctx, body: Any) -> list[dict[str, Any]]:
    limit = page_limit(body.limit)
    parts: list[str] = []
    params: list[Any] = []
    flt = body.logs
    if flt is not None:
        for column, sub in (("flow_run_id", flt.flow_run_id), ("task_run_id", flt.task_run_id)):
            if sub is not None and sub.any_ is not None:
                parts.append(in_clause(column, sub.any_, params))
        if flt.level is not None:
            for op, value in ((">=", flt.level.ge_), ("<=", flt.level.le_)):
                if value is not None:
                    parts.append(f"level {op} ?")
                    params.append(value)
        if flt.timestamp is not None:
            for op, value in (("<=", flt.timestamp.before_), (">=", flt.timestamp.after_)):
                if value is not None:
                    parts.append(f"ts {op} ?")
                    params.append(to_text(value))
    where = (" WHERE " + " AND ".join(parts)) if parts else ""
    order = {"TIMESTAMP_ASC": "ts, id", "TIMESTAMP_DESC": "ts DESC, id DESC",
             "LEVEL_ASC": "level, ts, id", "LEVEL_DESC": "level DESC, ts DESC, id DESC"}[body.sort or "TIMESTAMP_ASC"]
    rows = ctx.store.query(f"SELECT body FROM log{where} ORDER BY {order} LIMIT ? OFFSET ?", (*params, limit, body.offset or 0))
    return [loads(row["body"]) for row in rows]
