"""Health, version, CSRF probe and the collections view (prefect-api.md §1.7, §6)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from reconciler.server.routes import json_response

router = APIRouter()
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
    from reconciler.server.app import API_VERSION

    return json_response(API_VERSION)


@router.get("/admin/version")
async def admin_version() -> Response:
    from reconciler.server.app import SERVER_VERSION

    return json_response(SERVER_VERSION)


@router.get("/csrf-token")
async def csrf_token() -> Response:
    return json_response({"detail": "CSRF protection is disabled."}, 422)


@lru_cache(maxsize=1)
def worker_metadata() -> dict[str, Any]:
    process = json.loads((DATA / "process-default-base-job-template.json").read_text(encoding="utf-8"))
    k8s_path = DATA / "kubernetes-default-base-job-template.json"
    kubernetes = json.loads(k8s_path.read_text(encoding="utf-8")) if k8s_path.exists() else None
    views: dict[str, Any] = {
        "prefect": {
            "process": {
                "type": "process",
                "display_name": "Process",
                "description": "Execute flow runs as subprocesses on a worker. Works well for local execution when first getting started.",
                "documentation_url": "https://docs.prefect.io/latest/get-started/quickstart",
                "logo_url": "https://cdn.sanity.io/images/3ugk85nk/production/356e6766a91baf20e1d08bbe16e8b5aaef4d8643-48x48.png",
                "install_command": "pip install prefect",
                "is_beta": False,
                "default_base_job_configuration": process,
            }
        },
    }
    if kubernetes is None:
        return views
    views["prefect-kubernetes"] = {
            "kubernetes": {
                "type": "kubernetes",
                "display_name": "Kubernetes",
                "description": "Execute flow runs within jobs scheduled on a Kubernetes cluster. Requires a Kubernetes cluster.",
                "documentation_url": "https://docs.prefect.io/integrations/prefect-kubernetes",
                "logo_url": "https://cdn.sanity.io/images/3ugk85nk/production/2d0b896006ad463b49c28aaac14f31e00e32cfab-250x250.png",
                "install_command": "pip install prefect-kubernetes",
                "is_beta": False,
                "default_base_job_configuration": kubernetes,
            }
    }
    return views


@router.get("/collections/views/{view}")
async def collections_view(view: str) -> Response:
    if view == "aggregate-worker-metadata":
        return json_response(worker_metadata())
    return json_response({"detail": f"View {view} not found in registry"}, 404)
