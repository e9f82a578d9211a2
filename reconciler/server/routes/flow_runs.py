"""Flow run routes (prefect-api.md §1.5): create, read, filter, count, delete, set_state; logs written and read back."""

from __future__ import annotations

from typing import Any, Optional
from uuid import UUID

from fastapi import Body, Request
from fastapi.responses import Response

from reconciler.server.bodies import StrictJsonRoute
from reconciler.server.domain import flow_runs, logs
from reconciler.server.domain.refusals import Refusal
from reconciler.server.routes import Routes, created_or_ok, ctx, json_response, no_content, prepare_pool_template
from reconciler.server.routes.deployments import deployment_pool
from reconciler.server.schemas import FlowRunCreate, FlowRunFilterBody, FlowRunUpdate, LogCreate, LogFilterBody, SetStateBody

router = Routes(StrictJsonRoute)


def _state(state) -> dict | None:  # type: ignore[no-untyped-def]
    return None if state is None else state.model_dump(exclude_unset=False)


@router.post("/flow_runs/")
@router.post("/flow_runs", include_in_schema=False)
async def create_flow_run(body: FlowRunCreate, request: Request) -> Response:
    fields = body.model_dump()
    fields["state"] = _state(body.state)
    run, created = flow_runs.create_flow_run(ctx(request), fields)
    return json_response(run, created_or_ok(created))


@router.post("/flow_runs/filter")
async def filter_flow_runs(request: Request, body: Optional[FlowRunFilterBody] = None) -> Response:
    return json_response(flow_runs.filter_flow_runs(ctx(request), body or FlowRunFilterBody()))


@router.post("/flow_runs/count")
async def count_flow_runs(request: Request, body: Optional[FlowRunFilterBody] = None) -> Response:
    return json_response(flow_runs.count_flow_runs(ctx(request), body or FlowRunFilterBody()))


@router.get("/flow_runs/{run_id:uuid}")
async def read_flow_run(run_id: UUID, request: Request) -> Response:
    return json_response(flow_runs.read_flow_run(ctx(request), str(run_id)))


@router.patch("/flow_runs/{run_id:uuid}")
async def update_flow_run(run_id: UUID, body: FlowRunUpdate, request: Request) -> Response:
    if body.job_variables is not None:
        try:
            deployment_id = flow_runs.read_flow_run(ctx(request), str(run_id))["deployment_id"]
        except Refusal:
            deployment_id = None
        await prepare_pool_template(request, deployment_pool(request, deployment_id))
    flow_runs.update_flow_run(ctx(request), str(run_id), {key: getattr(body, key) for key in body.model_fields_set})
    return no_content()


@router.patch("/flow_runs/{run_id:uuid}/labels")
async def update_flow_run_labels(run_id: UUID, request: Request, labels: dict[str, Any] = Body(...)) -> Response:
    flow_runs.update_flow_run_labels(ctx(request), str(run_id), labels)
    return no_content()


@router.post("/logs/")
@router.post("/logs", include_in_schema=False)
async def create_logs(request: Request, records: list[LogCreate] = Body(...)) -> Response:
    logs.create_logs(ctx(request), records)
    return json_response(None, 201)


@router.post("/logs/filter")
async def filter_logs(request: Request, body: Optional[LogFilterBody] = None) -> Response:
    return json_response(logs.filter_logs(ctx(request), body or LogFilterBody()))


@router.delete("/flow_runs/{run_id:uuid}")
async def delete_flow_run(run_id: UUID, request: Request) -> Response:
    flow_runs.delete_flow_run(ctx(request), str(run_id))
    return no_content()


@router.post("/flow_runs/{run_id:uuid}/set_state")
async def set_flow_run_state(run_id: UUID, body: SetStateBody, request: Request) -> Response:
    worker = request.headers.get("x-prefect-worker-name") or None  # sent by Prefect 3.9.1 workers and their runs
    outcome = flow_runs.set_state(ctx(request), str(run_id), _state(body.state), body.force, worker)  # type: ignore[arg-type]
    return json_response(outcome.result, created_or_ok(outcome.written))
