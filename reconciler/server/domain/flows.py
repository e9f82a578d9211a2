"""Flows (prefect-api.md §1.5): upserted on name, read by id or name, filtered, counted.

Must not know about deployments or runs, which refer to flows by id.
"""

from __future__ import annotations

from typing import Any

from reconciler.server.domain import Ctx, atomic
from reconciler.server.domain.refusals import NotFound
from reconciler.server.domain.sql import dumps, in_clause, loads, new_id, page_limit
from reconciler.server.store import Row


def flow_json(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"], "created": row["created"], "updated": row["updated"], "name": row["name"],
        "tags": loads(row["tags"]), "labels": loads(row["labels"]),
    }


@atomic
def create_flow(ctx: Ctx, name: str, tags: list[str], labels: dict[str, Any] | None) -> tuple[dict[str, Any], bool]:
    """The flow named (created when missing: the unique name decides between replicas) and
    whether it was created."""
    row = ctx.store.one("SELECT * FROM flow WHERE name = ?", (name,))
    created = False
    if row is None:
        now = ctx.now_text()
        created = bool(ctx.store.execute(
            "INSERT INTO flow (id, created, updated, name, tags, labels) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
            (new_id(), now, now, name, dumps(tags), dumps(labels or {})),
        ))
        row = ctx.store.one("SELECT * FROM flow WHERE name = ?", (name,))
    return flow_json(row), created  # type: ignore[arg-type]


@atomic
def read_flow(ctx: Ctx, flow_id: str) -> dict[str, Any]:
    row = ctx.store.one("SELECT * FROM flow WHERE id = ?", (flow_id,))
    if row is None:
        raise NotFound("Flow not found")
    return flow_json(row)


@atomic
def read_flow_by_name(ctx: Ctx, name: str) -> dict[str, Any]:
    row = ctx.store.one("SELECT * FROM flow WHERE name = ?", (name,))
    if row is None:
        raise NotFound("Flow not found")
    return flow_json(row)


@atomic
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
    if count:
        return ctx.store.one(f"SELECT COUNT(*) AS n FROM flow{where}", params)["n"]  # type: ignore[index]
    rows = ctx.store.query(f"SELECT * FROM flow{where} ORDER BY name LIMIT ? OFFSET ?", (*params, limit, offset or 0))
    return [flow_json(r) for r in rows]


def flow_row(ctx: Ctx, flow_id: str) -> Row:
    row = ctx.store.one("SELECT * FROM flow WHERE id = ?", (flow_id,))
    if row is None:
        raise NotFound(f"Flow {flow_id} not found; create it with POST /api/flows/ first.")
    return row
