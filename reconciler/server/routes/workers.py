"""Worker routes (prefect-api.md §1.3); the worker channel is 404 (its websocket upgrade is
refused by the app guard) so workers use REST."""

from __future__ import annotations

from typing import Annotated, Optional

from fastapi import Body, Request
from fastapi.responses import Response
from pydantic import Field

from reconciler.server import MAX_NAME_LENGTH
from reconciler.server.bodies import StrictJsonRoute
from reconciler.server.domain import workers
from reconciler.server.routes import Routes, ctx, json_response, no_content
from reconciler.server.schemas import MAX_INT, WorkerFilterBody

router = Routes(StrictJsonRoute)


@router.post("/work_pools/{pool}/workers/heartbeat")
async def heartbeat(
    pool: str,
    request: Request,
    name: str = Body(..., embed=True, max_length=MAX_NAME_LENGTH),
    heartbeat_interval_seconds: Optional[Annotated[int, Field(ge=0, le=MAX_INT)]] = Body(None, embed=True),
) -> Response:
    workers.heartbeat(ctx(request), pool, name, heartbeat_interval_seconds)
    return no_content()


@router.post("/work_pools/{pool}/workers/filter")
async def filter_workers(pool: str, request: Request, body: Optional[WorkerFilterBody] = None) -> Response:
    body = body or WorkerFilterBody()
    return json_response(workers.filter_workers(ctx(request), pool, body.workers, body.limit, body.offset))


@router.api_route("/work_pools/{pool}/workers/connect", methods=["GET", "POST"], include_in_schema=False)
async def worker_channel_http(pool: str) -> Response:
    return json_response({"detail": "Not Found"}, 404)


@router.delete("/work_pools/{pool}/workers/{name}")
async def delete_worker(pool: str, name: str, request: Request) -> Response:
    workers.delete_worker(ctx(request), pool, name)
    return no_content()
