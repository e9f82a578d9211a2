"""Work pool routes (prefect-api.md §1.1) and the scheduled-run poll (§4).

As Prefect 3.9.1, a pool answered to a Prefect client at 3.3.7 or older (its ``User-Agent``,
``prefect/<version> (API <version>)``) lacks ``storage_configuration.default_result_storage_block_id``,
which those clients refuse (create, read and filter)."""

from __future__ import annotations

import re
from typing import Any, Optional

from fastapi import Request
from fastapi.responses import Response
from packaging.version import InvalidVersion, Version

from reconciler.server.bodies import StrictJsonRoute
from reconciler.server.domain import polls, pools, slots
from reconciler.server.routes import Routes, check_defaults, ctx, json_response, no_content
from reconciler.server.schemas import (
    PoolConcurrencyBody,
    ScheduledRunsBody,
    WorkPoolCountBody,
    WorkPoolCreate,
    WorkPoolFilterBody,
    WorkPoolUpdate,
)

router = Routes(StrictJsonRoute)
# Creating or changing a template costs CPU time in ``defaults_problem`` (seconds for megabytes):
# it runs first off the event loop unless its memo has it (``routes.check_defaults``), and the
# domain's own check is then answered from the memo.

CLIENT_USER_AGENT = re.compile(r"^prefect/(\d+\.\d+\.\d+(?:[a-z.+0-9]+)?) \(API \S+\)$")
"""The ``User-Agent`` a Prefect client sends, as Prefect's server parses it."""
LAST_CLIENT_WITHOUT_RESULT_STORAGE = Version("3.3.7")


def _for_client(request: Request, pools_json: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pools as the calling client can read them (see the module docstring)."""
    match = CLIENT_USER_AGENT.match(request.headers.get("user-agent", ""))
    if match is None:
        return pools_json
    try:
        old = Version(match.group(1)) <= LAST_CLIENT_WITHOUT_RESULT_STORAGE
    except InvalidVersion:
        return pools_json
    if old:
        for pool in pools_json:
            if isinstance(pool.get("storage_configuration"), dict):
                pool["storage_configuration"].pop("default_result_storage_block_id", None)
    return pools_json


@router.post("/work_pools/{name}/get_scheduled_flow_runs")
async def get_scheduled_flow_runs(name: str, request: Request, body: Optional[ScheduledRunsBody] = None) -> Response:
    return await scheduled_runs(request, name, body)


async def scheduled_runs(request: Request, name: str, body: Optional[ScheduledRunsBody]) -> Response:
    """The poll once its body is read (here or by ``bodies.Direct``)."""
    body = body or ScheduledRunsBody()
    answer = polls.scheduled_runs(
        ctx(request),
        name,
        queue_names=body.work_queue_names,
        before=body.scheduled_before,
        after=body.scheduled_after,
        limit=body.limit,
    )
    return Response(content=answer, media_type="application/json")


@router.post("/work_pools/")
@router.post("/work_pools", include_in_schema=False)
async def create_work_pool(body: WorkPoolCreate, request: Request) -> Response:
    return await new_pool(request, "", body)


async def new_pool(request: Request, _: str, body: WorkPoolCreate) -> Response:
    """The pool create once its body is read (here or by ``bodies.Direct``)."""
    await check_defaults(request, body.base_job_template)
    pool = pools.create_pool(
        ctx(request),
        name=body.name,
        type=body.type,
        description=body.description,
        base_job_template=body.base_job_template,
        is_paused=body.is_paused,
        concurrency_limit=body.concurrency_limit,
        storage_configuration=body.storage_configuration.model_dump(),
    )
    return json_response(_for_client(request, [pool])[0], 201)


@router.post("/work_pools/filter")
async def filter_work_pools(request: Request, body: Optional[WorkPoolFilterBody] = None) -> Response:
    body = body or WorkPoolFilterBody()
    return json_response(_for_client(request, pools.filter_pools(ctx(request), body.work_pools, body.limit, body.offset)))


@router.post("/work_pools/count")
async def count_work_pools(request: Request, body: Optional[WorkPoolCountBody] = None) -> Response:
    body = body or WorkPoolCountBody()
    return json_response(pools.count_pools(ctx(request), body.work_pools))


@router.get("/work_pools/{name}")
async def read_work_pool(name: str, request: Request) -> Response:
    return json_response(_for_client(request, [pools.read_pool(ctx(request), name)])[0])


@router.patch("/work_pools/{name}")
async def update_work_pool(name: str, body: WorkPoolUpdate, request: Request) -> Response:
    changes = {key: getattr(body, key) for key in body.model_fields_set}
    if "storage_configuration" in changes and changes["storage_configuration"] is not None:
        changes["storage_configuration"] = body.storage_configuration.model_dump()  # type: ignore[union-attr]
    await check_defaults(request, changes.get("base_job_template"))
    pools.update_pool(ctx(request), name, changes)
    return no_content()


@router.delete("/work_pools/{name}")
async def delete_work_pool(name: str, request: Request) -> Response:
    pools.delete_pool(ctx(request), name)
    return no_content()


@router.post("/work_pools/{name}/concurrency_status")
async def pool_concurrency_status(name: str, request: Request, body: Optional[PoolConcurrencyBody] = None) -> Response:
    body = body or PoolConcurrencyBody()
    return json_response(slots.pool_concurrency_status(ctx(request), name, body.page, body.limit, body.flow_run_limit))
