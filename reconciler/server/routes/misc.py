"""Health, version, CSRF probe, the collections view (prefect-api.md §1.7, §6) and the empty automations list."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from reconciler.server import API_VERSION, SERVER_VERSION
from reconciler.server.bodies import StrictJsonRoute
from reconciler.server.routes import Routes, json_response

router = Routes(StrictJsonRoute)
DATA = Path(__file__).resolve().parent.parent / "data"


@router.get("/health")
async def health() -> Response:
    return json_response(True)


@router.get("/ready")
async def ready(request: Request) -> Response:
    if request.app.state.store.ping():
        return json_response({"message": "OK"})
    return json_response({"exception_message": "Service Unavailable"}, 503)


@router.get("/hello")
async def hello() -> Response:
    return json_response("👋")


@router.get("/version")
async def version() -> Response:
    return json_response(API_VERSION)


@router.get("/admin/version")
async def admin_version() -> Response:
    return json_response(SERVER_VERSION)


@router.get("/admin/storage")
async def admin_storage() -> Response:
    return json_response({"default_result_storage_block_id": None})


@router.get("/csrf-token")
async def csrf_token() -> Response:
    return json_response({"detail": "CSRF protection is disabled."}, 422)


@router.get("/automations/related-to/{resource_id:path}")
async def related_automations(resource_id: str) -> Response:
    """No automations exist here (``prefect deployment inspect`` lists the related ones)."""
    return json_response([])


@lru_cache(maxsize=1)
def worker_metadata() -> dict[str, Any]:
    """The worker registry view as a 3.9.1 server serves it offline (its bundled copy of the
    collection registry, unchanged: ``prefect.process`` there is an older template than the one
    the 3.9.1 process worker generates for ``prefect work-pool create --type process``)."""
    return json.loads((DATA / "aggregate-worker-metadata.json").read_text(encoding="utf-8"))


@router.get("/collections/views/{view}")
async def collections_view(view: str) -> Response:
    if view == "aggregate-worker-metadata":
        return json_response(worker_metadata())
    return json_response({"detail": f"View {view} not found in registry"}, 404)
