"""Schemathesis over the server's OpenAPI document (``app.openapi()``, generated from the routes):
every operation, valid and invalid requests (a fixed seed), and no answer is a 5xx.

Twice: with the path parameters as the document has them (random names and ids, so mostly 404),
and with them pinned to objects that exist (a pool ``pool`` with queue ``q``, worker ``w``, flow
``f``, deployment ``d``, a run), so the generated bodies reach the handlers' real work; that run
adds schemathesis' coverage phase (boundary and wrong-type values for every field).  Bounded:
``EXAMPLES`` generated cases per operation."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from reconciler.server.app import create_app
from reconciler.server.store import open_store

EXAMPLES = 5
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))

APP = create_app(open_store(":memory:"))
DOCUMENT = APP.openapi()


def _seed() -> dict[str, str]:
    client = TestClient(APP)
    template = {"job_configuration": {"command": "{{ command }}"},
                "variables": {"type": "object", "properties": {"command": {"type": "string", "default": "run"}}}}
    assert client.post("/api/work_pools/", json={"name": "pool", "type": "process", "base_job_template": template}).status_code == 201
    queue = client.post("/api/work_pools/pool/queues", json={"name": "q"}).json()
    assert client.post("/api/work_pools/pool/workers/heartbeat", json={"name": "w"}).status_code == 204
    flow = client.post("/api/flows/", json={"name": "f"}).json()
    deployment = client.post("/api/deployments/", json={"name": "d", "flow_id": flow["id"], "work_pool_name": "pool",
                                                        "work_queue_name": "q"}).json()
    run = client.post(f"/api/deployments/{deployment['id']}/create_flow_run", json={}).json()
    return {"queue_id": queue["id"], "flow_id": flow["id"], "deployment_id": deployment["id"], "run_id": run["id"]}


SEEDED = _seed()


def _pinned(document: dict[str, Any]) -> dict[str, Any]:
    """The document with each path parameter's schema an enum of the seeded object it names, and
    without DELETE (so the objects stay for the cases after; the run sends no method the document
    does not list either)."""
    pinned = copy.deepcopy(document)
    for path, operations in pinned["paths"].items():
        operations.pop("delete", None)
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "path":
                    continue
                name = parameter["name"]
                value = SEEDED.get(name) or {
                    "pool": "pool", "flow_name": "f", "deployment_name": "d", "view": "aggregate-worker-metadata",
                    "resource_id": "prefect.deployment." + SEEDED["deployment_id"],
                }.get(name)
                if name == "name":
                    value = ("q" if "/queues/" in path or "/work_queues/" in path else "w" if "/workers/" in path
                             else "f" if path.startswith("/api/flows/") else "pool")
                parameter["schema"] = {"type": "string", "enum": [value]}
    return pinned


AS_DOCUMENTED = schemathesis.openapi.from_dict(  # random path parameters: the coverage phase would only add 404s
    DOCUMENTED := copy.deepcopy(DOCUMENT), config=SchemathesisConfig.from_str("[phases.coverage]\nenabled = false\n"))
ON_EXISTING_OBJECTS = schemathesis.openapi.from_dict(
    _pinned(DOCUMENT), config=SchemathesisConfig.from_str("[phases.coverage]\nunexpected-methods = []\n"))


def _call(case) -> None:  # type: ignore[no-untyped-def]
    response = case.call(app=APP)
    assert response.status_code < 500, (case.method, case.formatted_path, case.path_parameters, case.query, case.body,
                                        response.status_code, response.text[:500])


@AS_DOCUMENTED.parametrize()
@SETTINGS
def test_no_request_gets_a_5xx(case) -> None:  # type: ignore[no-untyped-def]
    _call(case)


@ON_EXISTING_OBJECTS.parametrize()
@SETTINGS
def test_no_request_on_existing_objects_gets_a_5xx(case) -> None:  # type: ignore[no-untyped-def]
    _call(case)


def test_the_document_covers_the_api() -> None:
    operations = [(method, path) for path, ops in DOCUMENTED["paths"].items() for method in ops]
    assert len(operations) > 50
    assert ("post", "/api/work_pools/") in operations and ("post", "/api/flow_runs/{run_id}/set_state") in operations


@pytest.fixture(autouse=True)
def _objects_still_there() -> None:
    """The pinned cases rename and pause; the objects are put back as they were between operations."""
    yield
    client = TestClient(APP)
    if client.get("/api/work_pools/pool/queues/q").status_code == 404:
        listed = client.post("/api/work_pools/pool/queues/filter", json={})
        assert listed.status_code == 200, f"the seeded pool is gone: {listed.text}"
        renamed = [queue["name"] for queue in listed.json() if queue["id"] == SEEDED["queue_id"]]
        if renamed:
            client.patch(f"/api/work_pools/pool/queues/{renamed[0]}", json={"name": "q"})
