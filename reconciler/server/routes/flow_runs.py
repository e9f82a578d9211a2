"""Flow run routes (prefect-api.md §1.5): create, read, filter, count, delete, set_state; logs written and read back."""

from __future__ import annotations

from typing import Any, Optional

from fastapi import APIRouter, Body, Request
from fastapi.responses import Response

from reconciler.server.routes import core, json_response, no_content
from reconciler.server.schemas import FlowRunCreate, FlowRunFilterBody, FlowRunUpdate, LogCreate, LogFilterBody, SetStateBody

router = APIRouter()


def _state(state) -> dict | None:  # type: ignore[no-untyped-def]
    return None if state is None else state.model_dump(exclude_unset=False)


@router.post("/flow_runs/")
@router.post("/flow_runs", include_in_schema=False)
async def create_flow_run(body: FlowRunCreate, request: Request) -> Response:
    fields = body.model_dump()
    fields["state"] = _state(body.state)
    run, created = core(request).create_flow_run(fields)
    return json_response(run, 201 if created else 200)


@router.post("/flow_runs/filter")
async def filter_flow_runs(request: Request, body: Optional[FlowRunFilterBody] = None) -> Response:
    return json_response(core(request).filter_flow_runs(body or FlowRunFilterBody()))


@router.post("/flow_runs/count")
async def count_flow_runs(request: Request, body: Optional[FlowRunFilterBody] = None) -> Response:
    return json_response(core(request).count_flow_runs(body or FlowRunFilterBody()))


@router.get("/flow_runs/{run_id}")
async def read_flow_run(run_id: str, request: Request) -> Response:
    return json_response(core(request).read_flow_run(run_id))


@router.patch("/flow_runs/{run_id}")
async def update_flow_run(run_id: str, body: FlowRunUpdate, request: Request) -> Response:
    core(request).update_flow_run(run_id, {key: getattr(body, key) for key in body.model_fields_set})
    return no_content()


@router.patch("/flow_runs/{run_id}/labels")
async def update_flow_run_labels(run_id: str, request: Request, labels: dict[str, Any] = Body(...)) -> Response:
    core(request).update_flow_run_labels(run_id, labels)
    return no_content()


@router.post("/logs/")
@router.post("/logs", include_in_schema=False)
async def create_logs(request: Request, logs: list[LogCreate] = Body(...)) -> Response:
    core(request).create_logs(logs)
    return Response(status_code=201)


@router.post("/logs/filter")
async def filter_logs(request: Request, body: Optional[LogFilterBody] = None) -> Response:
    return json_response(core(request).filter_logs(body or LogFilterBody()))


@router.delete("/flow_runs/{run_id}")
async def delete_flow_run(run_id: str, request: Request) -> Response:
    core(request).delete_flow_run(run_id)
    return no_content()


@router.post("/flow_runs/{run_id}/set_state")
async def set_flow_run_state(run_id: str, body: SetStateBody, request: Request) -> Response:
    result, status = core(request).set_state(run_id, _state(body.state), body.force)  # type: ignore[arg-type]
    return json_response(result, status)
