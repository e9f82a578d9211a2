"""poolform's own extension routes, under ``/api/poolform/`` (no Prefect route starts so, so none is
shadowed; docs/architecture.md lists them): the pending runs of a pool with their position and
reasons, one run's explanation, the pools' status. Read-only; the answers are
``reconciler.explain``'s documents, the same ``poolform explain --json`` and ``poolform status
--json`` compute from Prefect API reads. ``standings`` (and ``reconciler.explain`` under it) is
imported by the first request, not at start: few servers are ever asked (tests/test_boundaries.py)."""

from __future__ import annotations

from typing import List, Optional
from uuid import UUID

from fastapi import Query, Request
from fastapi.responses import Response

from reconciler.server.bodies import StrictJsonRoute
from reconciler.server.routes import Routes, ctx, json_response

PREFIX = "/poolform"


def _standings():  # type: ignore[no-untyped-def]
    from reconciler.server.domain import standings

    return standings


router = Routes(StrictJsonRoute)


@router.get(PREFIX + "/work_pools/{name}/pending")
async def pending_runs(name: str, request: Request) -> Response:
    return json_response(_standings().pending_runs(ctx(request), name))


@router.get(PREFIX + "/flow_runs/{run_id:uuid}/explain")
async def explain_flow_run(run_id: UUID, request: Request) -> Response:
    return json_response(_standings().explain_run(ctx(request), str(run_id)))


@router.get(PREFIX + "/status")
async def status(request: Request, pool: Optional[List[str]] = Query(default=None)) -> Response:
    return json_response(_standings().status(ctx(request), pool or []))
