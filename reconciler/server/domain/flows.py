"""Flows (prefect-api.md §1.5): upserted on name, read by id or name, filtered, counted.

Must not know about deployments or runs, which refer to flows by id.
"""

from __future__ import annotations

from typing import Any

from reconciler.server.domain import Ctx
from reconciler.server.domain.refusals import NotFound
from reconciler.server.domain.sql import dumps, in_clause, loads, new_id, page_limit
from reconciler.server.store import Row


def flow_json(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"], "created": row["created"], "updated": row["updated"], "name": row["name"],
        "tags": loads(row["tags"]), "labels": loads(row["labels"]),
    }


def create_flow(ctx: Ctx, name: str, tags: list[str], labels: dict[str, Any] | None) -> tuple[dict[str, Any], bool]:
    """The flow named (created when missing) and whether it was created."""
    with ctx.store.transaction():
        row = ctx.store.one("SELECT * FROM flow WHERE name = ?", (name,))
        if row is not None:
            return flow_json(row), False
        now = ctx.now_text()
        flow_id = new_id()
        ctx.store.execute(
            "INSERT INTO flow (id, created, updated, name, tags, labels) VALUES (?, ?, ?, ?, ?, ?)",
            (flow_id, now, now, name, dumps(tags), dumps(labels or {})),
        )
        return flow_json(ctx.store.one("SELECT * FROM flow WHERE id = ?", (flow_id,))), True  # type: ignore[arg-type]


def read_flow(ctx: Ctx, flow_id: str) -> dict[str, Any]:
    with ctx.store.transaction():
        row = ctx.store.one("SELECT * FROM flow WHERE id = ?", (flow_id,))
    if row is None:
        raise NotFound("Flow not found")
    return flow_json(row)


def read_flow_by_name(ctx: Ctx, name: str) -> dict[str, Any]:
    with ctx.store.transaction():
        row = ctx.store.one("SELECT * FROM flow WHERE name = ?", (name,))
    if row is None:
        raise NotFound("Flow not found")
    return flow_json(row)


def filter_flows(ctx: Ctx, names: list[str] | None, ids: list[str] | None, limit: int | None, offset: int | None,
                 count: bool = False) -> Any:
    """The matching flows, or with ``count`` how many match (paging ignored)."""
    limit = page_limit(limit)
    parts: list[str] = []
    params: list[Any] = []
    if names is not None:
        parts.append(in_clause("name", names, params))
    if ids is not None:
        parts.append(in_clause("id", ids, params))
    where = (" WHERE " + " AND ".join(parts)) if parts else ""
    with ctx.store.transaction():
        if count:
            return ctx.store.one(f"SELECT COUNT(*) AS n FROM flow{where}", params)["n"]  # type: ignore[index]
        rows = ctx.store.query(f"SELECT * FROM flow{where} ORDER BY name LIMIT ? OFFSET ?", (*params, limit, offset or 0))
    return [flow_json(r) for r in rows]


def flow_row(ctx: Ctx, flow_id: str) -> Row:
    row = ctx.store.one("SELECT * FROM flow WHERE id = ?", (flow_id,))
    if row is None:
        raise NotFound(f"Flow {flow_id} not found; create it with POST /api/flows/ first.")
    return row
