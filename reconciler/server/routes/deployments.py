"""Flow and deployment routes (prefect-api.md §1.5, §1.6)."""

from __future__ import annotations

from typing import Any, Optional
from uuid import UUID

from fastapi import Request
from fastapi.responses import Response

from reconciler.server.bodies import StrictJsonRoute
from reconciler.server.domain import deployments, flows
from reconciler.server.routes import (
    Routes,
    created_or_ok,
    ctx,
    json_response,
    no_content,
    prepare_pool_template,
    prepare_template,
    written_together,
)
from reconciler.server.schemas import (
    DeploymentCreate,
    DeploymentFilterBody,
    DeploymentFlowRunCreate,
    DeploymentUpdate,
    FlowCreate,
    Int,
    Loose,
    NonNegInt,
)

router = Routes(StrictJsonRoute)


class FlowFilterBody(Loose):
    flows: Optional[dict[str, Any]] = None
    limit: Optional[Int] = None
    offset: Optional[NonNegInt] = None


def deployment_pool(request: Request, deployment_id: str | None) -> str | None:
    """The name of the pool a deployment is in (None for none, or no such deployment)."""
    return deployments.deployment_pool_name(ctx(request), deployment_id) if deployment_id else None


@router.post("/deployments/{deployment_id:uuid}/create_flow_run")
async def create_deployment_flow_run(
    deployment_id: UUID, request: Request, body: Optional[DeploymentFlowRunCreate] = None
) -> Response:
    return await run_of_deployment(request, str(deployment_id), body)


async def run_of_deployment(request: Request, deployment_id: str, body: Optional[DeploymentFlowRunCreate]) -> Response:
    """``create_flow_run`` once its body is read (here or by ``bodies.Direct``): a run of a deployment
    this process knows goes to the database with the others of the event loop's turn
    (``written_together``), any other through ``create_deployment_run``."""
    body = body or DeploymentFlowRunCreate()
    fields = body.model_dump()
    if body.state is not None:
        fields["state"] = body.state.model_dump()
    planned = deployments.known_run(ctx(request), deployment_id, fields)
    if planned is not None and not isinstance(planned, deployments.Unprepared):
        if await written_together(request, planned.sql, planned.params):
            return json_response(planned.run, 201)
        deployments.forget(ctx(request), deployment_id, fields)
    run = deployments.create_deployment_run(ctx(request), deployment_id, fields)
    if isinstance(run, deployments.Unprepared):  # its pool's template, prepared off the event loop, then again
        await prepare_template(request, run.template)
        run = deployments.create_deployment_run(ctx(request), deployment_id, fields, unprepared_ok=True)
    return json_response(run, 201)


@router.post("/flows/")
@router.post("/flows", include_in_schema=False)
async def create_flow(body: FlowCreate, request: Request) -> Response:
    flow, created = flows.create_flow(ctx(request), body.name, body.tags, body.labels)
    return json_response(flow, created_or_ok(created))


def _flows(request: Request, body: Optional[FlowFilterBody], count: bool) -> Response:
    body = body or FlowFilterBody()
    wanted = body.flows or {}
    names = (wanted.get("name") or {}).get("any_") if isinstance(wanted.get("name"), dict) else None
    ids = (wanted.get("id") or {}).get("any_") if isinstance(wanted.get("id"), dict) else None
    return json_response(flows.filter_flows(ctx(request), names, ids, body.limit, body.offset, count=count))


@router.post("/flows/filter")
async def filter_flows(request: Request, body: Optional[FlowFilterBody] = None) -> Response:
    return _flows(request, body, False)


@router.post("/flows/count")
async def count_flows(request: Request, body: Optional[FlowFilterBody] = None) -> Response:
    return _flows(request, body, True)


@router.get("/flows/name/{name}")
async def read_flow_by_name(name: str, request: Request) -> Response:
    return json_response(flows.read_flow_by_name(ctx(request), name))


@router.get("/flows/{flow_id}")
async def read_flow(flow_id: str, request: Request) -> Response:
    return json_response(flows.read_flow(ctx(request), flow_id))


@router.post("/deployments/")
@router.post("/deployments", include_in_schema=False)
async def create_deployment(body: DeploymentCreate, request: Request) -> Response:
    if body.job_variables:
        await prepare_pool_template(request, body.work_pool_name)
    deployment, created = deployments.create_deployment(ctx(request), body.model_dump(), set(body.model_fields_set))
    return json_response(deployment, created_or_ok(created))


@router.post("/deployments/filter")
async def filter_deployments(request: Request, body: Optional[DeploymentFilterBody] = None) -> Response:
    return json_response(deployments.filter_deployments(ctx(request), body or DeploymentFilterBody()))


@router.post("/deployments/count")
async def count_deployments(request: Request, body: Optional[DeploymentFilterBody] = None) -> Response:
    return json_response(deployments.filter_deployments(ctx(request), body or DeploymentFilterBody(), count=True))


@router.get("/deployments/name/{flow_name}/{deployment_name}")
async def read_deployment_by_name(flow_name: str, deployment_name: str, request: Request) -> Response:
    return json_response(deployments.read_deployment_by_name(ctx(request), flow_name, deployment_name))


@router.get("/deployments/{deployment_id:uuid}")
async def read_deployment(deployment_id: UUID, request: Request) -> Response:
    return json_response(deployments.read_deployment(ctx(request), str(deployment_id)))


@router.patch("/deployments/{deployment_id:uuid}")
async def update_deployment(deployment_id: UUID, body: DeploymentUpdate, request: Request) -> Response:
    changes = {key: getattr(body, key) for key in body.model_fields_set}
    if changes.get("job_variables") is not None:
        await prepare_pool_template(request, changes.get("work_pool_name"))
    deployments.update_deployment(ctx(request), str(deployment_id), changes)
    return no_content()


@router.delete("/deployments/{deployment_id:uuid}")
async def delete_deployment(deployment_id: UUID, request: Request) -> Response:
    deployments.delete_deployment(ctx(request), str(deployment_id))
    return no_content()
