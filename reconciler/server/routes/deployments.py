"""Flow and deployment routes (prefect-api.md §1.5, §1.6)."""

from __future__ import annotations

from typing import Any, Optional

from fastapi import APIRouter, Request
from fastapi.responses import Response

from reconciler.server.routes import core, json_response, no_content
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

router = APIRouter()


class FlowFilterBody(Loose):
    flows: Optional[dict[str, Any]] = None
    limit: Optional[Int] = None
    offset: Optional[NonNegInt] = None


@router.post("/flows/")
@router.post("/flows", include_in_schema=False)
async def create_flow(body: FlowCreate, request: Request) -> Response:
    flow, created = core(request).create_flow(body.name, body.tags, body.labels)
    return json_response(flow, 201 if created else 200)


def _flows(request: Request, body: Optional[FlowFilterBody], count: bool) -> Response:
    body = body or FlowFilterBody()
    flows = body.flows or {}
    names = (flows.get("name") or {}).get("any_") if isinstance(flows.get("name"), dict) else None
    ids = (flows.get("id") or {}).get("any_") if isinstance(flows.get("id"), dict) else None
    return json_response(core(request).filter_flows(names, ids, body.limit, body.offset, count=count))


@router.post("/flows/filter")
async def filter_flows(request: Request, body: Optional[FlowFilterBody] = None) -> Response:
    return _flows(request, body, False)


@router.post("/flows/count")
async def count_flows(request: Request, body: Optional[FlowFilterBody] = None) -> Response:
    return _flows(request, body, True)


@router.get("/flows/name/{name}")
async def read_flow_by_name(name: str, request: Request) -> Response:
    return json_response(core(request).read_flow_by_name(name))


@router.get("/flows/{flow_id}")
async def read_flow(flow_id: str, request: Request) -> Response:
    return json_response(core(request).read_flow(flow_id))


@router.post("/deployments/")
@router.post("/deployments", include_in_schema=False)
async def create_deployment(body: DeploymentCreate, request: Request) -> Response:
    deployment, created = core(request).create_deployment(body.model_dump(), set(body.model_fields_set))
    return json_response(deployment, 201 if created else 200)


@router.post("/deployments/filter")
async def filter_deployments(request: Request, body: Optional[DeploymentFilterBody] = None) -> Response:
    return json_response(core(request).filter_deployments(body or DeploymentFilterBody()))


@router.post("/deployments/count")
async def count_deployments(request: Request, body: Optional[DeploymentFilterBody] = None) -> Response:
    return json_response(core(request).filter_deployments(body or DeploymentFilterBody(), count=True))


@router.get("/deployments/name/{flow_name}/{deployment_name}")
async def read_deployment_by_name(flow_name: str, deployment_name: str, request: Request) -> Response:
    return json_response(core(request).read_deployment_by_name(flow_name, deployment_name))


@router.get("/deployments/{deployment_id}")
async def read_deployment(deployment_id: str, request: Request) -> Response:
    return json_response(core(request).read_deployment(deployment_id))


@router.patch("/deployments/{deployment_id}")
async def update_deployment(deployment_id: str, body: DeploymentUpdate, request: Request) -> Response:
    changes = {key: getattr(body, key) for key in body.model_fields_set}
    core(request).update_deployment(deployment_id, changes)
    return no_content()


@router.delete("/deployments/{deployment_id}")
async def delete_deployment(deployment_id: str, request: Request) -> Response:
    core(request).delete_deployment(deployment_id)
    return no_content()


@router.post("/deployments/{deployment_id}/create_flow_run")
async def create_deployment_flow_run(
    deployment_id: str, request: Request, body: Optional[DeploymentFlowRunCreate] = None
) -> Response:
    body = body or DeploymentFlowRunCreate()
    fields = body.model_dump()
    if body.state is not None:
        fields["state"] = body.state.model_dump()
    return json_response(core(request).create_deployment_run(deployment_id, fields), 201)
