"""Work queue routes: pool-scoped (prefect-api.md §1.2) and the legacy ``/work_queues`` ones (§1.4)."""

from __future__ import annotations

from typing import Optional
from uuid import UUID

from fastapi import Request
from fastapi.responses import Response

from reconciler.server.bodies import StrictJsonRoute
from reconciler.server.domain import polls, queues, slots
from reconciler.server.routes import Routes, ctx, json_response, no_content
from reconciler.server.schemas import (
    QueueConcurrencyBody,
    LegacyGetRunsBody,
    LegacyQueueFilterBody,
    WorkQueueCreate,
    WorkQueueFilterBody,
    WorkQueueUpdate,
)

router = Routes(StrictJsonRoute)


def _changes(body: WorkQueueUpdate) -> dict:
    changes = {key: getattr(body, key) for key in body.model_fields_set}
    changes.pop("filter", None)
    return changes


@router.post("/work_pools/{pool}/queues")
@router.post("/work_pools/{pool}/queues/", include_in_schema=False)
async def create_queue(pool: str, body: WorkQueueCreate, request: Request) -> Response:
    return await new_queue(request, pool, body)


async def new_queue(request: Request, pool: str, body: WorkQueueCreate) -> Response:
    """The queue create once its body is read (here or by ``bodies.Direct``)."""
    queue = queues.create_queue(
        ctx(request),
        pool,
        name=body.name,
        description=body.description,
        is_paused=body.is_paused,
        concurrency_limit=body.concurrency_limit,
        priority=body.priority,
    )
    return json_response(queue, 201)


@router.post("/work_pools/{pool}/queues/filter")
async def filter_queues(pool: str, request: Request, body: Optional[WorkQueueFilterBody] = None) -> Response:
    body = body or WorkQueueFilterBody()
    return json_response(queues.filter_queues(ctx(request), pool, body.work_queues, body.limit, body.offset))


@router.get("/work_pools/{pool}/queues/{name}")
async def read_queue(pool: str, name: str, request: Request) -> Response:
    return json_response(queues.read_queue(ctx(request), pool, name))


@router.patch("/work_pools/{pool}/queues/{name}")
async def update_queue(pool: str, name: str, body: WorkQueueUpdate, request: Request) -> Response:
    queues.update_queue(ctx(request), pool, name, _changes(body))
    return no_content()


@router.delete("/work_pools/{pool}/queues/{name}")
async def delete_queue(pool: str, name: str, request: Request) -> Response:
    queues.delete_queue(ctx(request), pool, name)
    return no_content()


@router.post("/work_queues/")
@router.post("/work_queues", include_in_schema=False)
async def legacy_create_queue(body: WorkQueueCreate, request: Request) -> Response:
    queue = queues.legacy_create_queue(
        ctx(request),
        name=body.name,
        description=body.description,
        is_paused=body.is_paused,
        concurrency_limit=body.concurrency_limit,
        priority=body.priority,
    )
    return json_response(queue, 201)


@router.post("/work_queues/filter")
async def legacy_filter_queues(request: Request, body: Optional[LegacyQueueFilterBody] = None) -> Response:
    body = body or LegacyQueueFilterBody()
    return json_response(queues.legacy_filter_queues(ctx(request), body.work_queues, body.work_pools, body.limit, body.offset))


@router.get("/work_queues/name/{name}")
async def legacy_read_queue_by_name(name: str, request: Request) -> Response:
    return json_response(queues.legacy_read_queue_by_name(ctx(request), name))


@router.get("/work_queues/{queue_id:uuid}")
async def legacy_read_queue(queue_id: UUID, request: Request) -> Response:
    return json_response(queues.legacy_read_queue(ctx(request), str(queue_id)))


@router.patch("/work_queues/{queue_id:uuid}")
async def legacy_update_queue(queue_id: UUID, body: WorkQueueUpdate, request: Request) -> Response:
    queues.legacy_update_queue(ctx(request), str(queue_id), _changes(body))
    return no_content()


@router.delete("/work_queues/{queue_id:uuid}")
async def legacy_delete_queue(queue_id: UUID, request: Request) -> Response:
    queues.legacy_delete_queue(ctx(request), str(queue_id))
    return no_content()


@router.get("/work_queues/{queue_id:uuid}/status")
async def legacy_queue_status(queue_id: UUID, request: Request) -> Response:
    return json_response(queues.legacy_queue_status(ctx(request), str(queue_id)))


@router.post("/work_queues/{queue_id:uuid}/get_runs")
async def legacy_get_runs(queue_id: UUID, request: Request, body: Optional[LegacyGetRunsBody] = None) -> Response:
    body = body or LegacyGetRunsBody()
    record = request.headers.get("x-prefect-ui", "").lower() != "true"
    return json_response(polls.legacy_get_runs(ctx(request), str(queue_id), body.scheduled_before, body.limit, record=record))


@router.post("/work_queues/{queue_id:uuid}/concurrency_status")
async def legacy_queue_concurrency_status(queue_id: UUID, request: Request, body: Optional[QueueConcurrencyBody] = None) -> Response:
    body = body or QueueConcurrencyBody()
    return json_response(slots.queue_concurrency_status(ctx(request), str(queue_id), body.page, body.limit))
