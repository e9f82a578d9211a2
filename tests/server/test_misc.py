"""Health, version, CSRF probe, registry view, API-version header and basic auth."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from reconciler.server.app import create_app


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/api/health", 200, True),
        ("/api/ready", 200, {"message": "OK"}),
        ("/api/version", 200, "0.8.4"),
        ("/api/admin/version", 200, "3.9.1"),
        ("/api/csrf-token?client=abc", 422, {"detail": "CSRF protection is disabled."}),
    ],
    ids=["health", "ready", "version", "admin-version", "csrf"],
)
def test_support_endpoints(client, path, status, body):
    response = client.get(path)
    assert (response.status_code, response.json()) == (status, body)


def test_worker_metadata_is_served_as_prefect_serves_it(client):
    """The body is the captured 3.9.1 response, whose process template is the registry's (not the
    one the process worker generates)."""
    views = client.get("/api/collections/views/aggregate-worker-metadata").json()
    capture = json.loads((Path(__file__).parent / "fixtures" / "cli-support-endpoints.json").read_text())
    served = next(e for e in capture["exchanges"] if e["path"] == "/api/collections/views/aggregate-worker-metadata")
    assert views == served["response_body"]
    process = views["prefect"]["process"]["default_base_job_configuration"]
    worker_generated = json.loads((Path(__file__).parent / "fixtures" / "process-default-base-job-template.json").read_text())
    assert process["job_configuration"] == worker_generated["job_configuration"]
    assert process != worker_generated
    kubernetes = views["prefect-kubernetes"]["kubernetes"]["default_base_job_configuration"]
    assert kubernetes["job_configuration"]["job_manifest"]["kind"] == "Job"
    created = client.post("/api/work_pools/", json={"name": "k", "type": "kubernetes", "base_job_template": kubernetes})
    assert created.status_code == 201, created.text


@pytest.mark.parametrize(
    ("header", "status"),
    [("0.8.4", 200), ("0.8.0", 200), ("1.0.0", 200), ("0.7.9", 400), ("banana", 400), ("0.8", 400)],
    ids=["current", "minimum", "newer", "too-old", "garbage", "two-parts"],
)
def test_api_version_header(client, header, status):
    response = client.get("/api/work_pools/x", headers={"X-PREFECT-API-VERSION": header})
    assert (response.status_code == 400) == (status == 400)
    if status == 400:
        assert "detail" in response.json()


def basic(value: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(value.encode()).decode()}


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/api/health", {}, 200),
        ("/api/ready", {}, 200),
        ("/api/version", {}, 401),
        ("/api/version", basic("user:wrong"), 401),
        ("/api/version", {"Authorization": "Basic !!!"}, 401),
        ("/api/version", {"Authorization": "Bearer user:pass"}, 401),
        ("/api/version", basic("user:pass"), 200),
    ],
    ids=["health-exempt", "ready-exempt", "missing", "wrong", "malformed", "bearer", "right"],
)
def test_basic_auth(store, clock, path, headers, status):
    with TestClient(create_app(store, clock=clock, auth_string="user:pass")) as c:
        response = c.get(path, headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.json() == {"exception_message": "Unauthorized"}


def test_worker_channel_is_refused(client, pool):
    assert client.get("/api/work_pools/pool/workers/connect").status_code == 404
    upgrade = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    assert client.get("/api/work_pools/pool/workers/connect", headers=upgrade).status_code == 404


def test_pool_filter_paging_and_count(client):
    for name in ("c", "a", "b", "A"):
        client.post("/api/work_pools/", json={"name": name, "type": "process"})
    names = [p["name"] for p in client.post("/api/work_pools/filter", json={}).json()]
    assert names == sorted(names) == ["A", "a", "b", "c"]
    page = client.post("/api/work_pools/filter", json={"limit": 2, "offset": 1}).json()
    assert [p["name"] for p in page] == ["a", "b"]
    assert client.post("/api/work_pools/count", json={"work_pools": {"name": {"any_": ["a", "b", "zz"]}}}).json() == 2
    assert client.post("/api/work_pools/count").json() == 4


def test_patch_exclude_unset_and_null_clears(client, pool):
    client.patch("/api/work_pools/pool", json={"description": "d", "concurrency_limit": 3})
    client.patch("/api/work_pools/pool", json={"concurrency_limit": None})
    body = client.get("/api/work_pools/pool").json()
    assert (body["description"], body["concurrency_limit"]) == ("d", None)
    client.patch("/api/work_pools/pool", json={"base_job_template": {}})
    assert client.get("/api/work_pools/pool").json()["base_job_template"] == {}


def test_template_key_order_is_preserved(client):
    template = {"variables": {"type": "object", "properties": {"z": {"type": "string"}, "a": {"type": "string"}}},
                "job_configuration": {"z": "{{ z }}", "a": "{{ a }}"}}
    client.post("/api/work_pools/", json={"name": "ordered", "type": "process", "base_job_template": template})
    stored = client.get("/api/work_pools/ordered").json()["base_job_template"]
    assert list(stored) == ["variables", "job_configuration"]
    assert list(stored["variables"]["properties"]) == ["z", "a"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/automations/related-to/prefect.deployment.5e0a7f4c-7d3b-4d55-9d4f-4a53b9d1f0a1", None),
        ("POST", "/api/logs/filter", {"logs": {"flow_run_id": {"any_": ["5e0a7f4c-7d3b-4d55-9d4f-4a53b9d1f0a1"]}},
                                       "sort": "TIMESTAMP_ASC", "limit": 200, "offset": 0}),
        ("POST", "/api/logs/filter", None),
    ],
    ids=["deployment-inspect-automations", "flow-run-logs", "logs-filter-no-body"],
)
def test_routes_the_prefect_cli_reads_answer_an_empty_list(client, method, path, body):
    response = client.request(method, path, json=body)
    assert (response.status_code, response.json()) == (200, [])
