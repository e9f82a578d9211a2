"""Where Prefect 3.9.1's answer is the contract, ours is the same: 404 bodies route by route,
where a deployment PATCH naming only a queue moves it, empty concurrency pages, block references
in template defaults, and pools as old Prefect clients read them. The expected values were
recorded from a real 3.9.1 server with the same requests (tests/compat replays them against it).

Prefect's own API tests cannot be fetched from PyPI (tests/compat/test_upstream_api.py runs them
when given a Prefect source); the cases of theirs that failed against us are reproduced here,
each citing the upstream test (tests/server/orchestration/api/test_workers.py).
"""

from __future__ import annotations

import pytest

MISSING = "00000000-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "answer"),
    [
        ("GET", "/api/work_pools/pool/queues/nope", None, 404, {"detail": "Work pool queue 'pool/nope' not found."}),
        ("GET", "/api/work_queues/name/nope", None, 404, {"detail": "work queue not found"}),
        ("GET", f"/api/work_queues/{MISSING}", None, 404, {"detail": "work queue not found"}),
        ("PATCH", f"/api/work_queues/{MISSING}", {"description": "x"}, 404, {"detail": f"Work Queue {MISSING} not found"}),
        ("DELETE", f"/api/work_queues/{MISSING}", None, 404, {"detail": "work queue not found"}),
        ("GET", f"/api/work_queues/{MISSING}/status", None, 404,
         {"exception_message": f"Work queue with id {MISSING} not found"}),
        ("POST", f"/api/work_queues/{MISSING}/get_runs", {}, 404,
         {"exception_message": f"Work queue with id {MISSING} not found."}),
        ("POST", f"/api/work_queues/{MISSING}/concurrency_status", {}, 404, {"detail": "Work queue not found."}),
        ("GET", "/api/work_queues/not-a-uuid", None, 404, {"detail": "Not Found"}),
        ("GET", f"/api/flow_runs/{MISSING}", None, 404, {"detail": "Flow run not found"}),
        ("PATCH", f"/api/flow_runs/{MISSING}", {"name": "x"}, 404, {"detail": "Flow run not found"}),
        ("DELETE", f"/api/flow_runs/{MISSING}", None, 404, {"detail": "Flow run not found"}),
        ("PATCH", f"/api/flow_runs/{MISSING}/labels", {"a": "b"}, 404,
         {"exception_message": f"Flow run with id {MISSING} not found"}),
        ("POST", f"/api/flow_runs/{MISSING}/set_state", {"state": {"type": "RUNNING"}}, 404,
         {"exception_message": f"Flow run with id {MISSING} not found"}),
        ("GET", "/api/flow_runs/not-a-uuid", None, 404, {"detail": "Not Found"}),
        ("GET", f"/api/deployments/{MISSING}", None, 404, {"detail": "Deployment not found"}),
        ("PATCH", f"/api/deployments/{MISSING}", {"description": "x"}, 404, {"detail": "Deployment not found."}),
        ("POST", "/api/work_pools/nopool/concurrency_status", {}, 404, {"detail": "Work pool 'nopool' not found."}),
        ("POST", "/api/logs/", [], 201, None),
    ],
    ids=lambda value: value if isinstance(value, str) and not value.startswith("/") else None,
)
def test_answers_as_prefect(client, pool, method, path, body, status, answer):
    response = client.request(method, path, json=body) if body is not None else client.request(method, path)
    assert (response.status_code, response.json()) == (status, answer)


def test_ids_in_paths_are_uuids_in_any_case(client, pool, flow):
    run = client.post("/api/flow_runs/", json={"flow_id": flow["id"]}).json()
    assert client.get(f"/api/flow_runs/{run['id'].upper()}").json()["id"] == run["id"]
    queue = client.get("/api/work_pools/pool/queues/default").json()
    assert client.get(f"/api/work_queues/{queue['id'].upper()}").json()["id"] == queue["id"]


def test_concurrency_status_of_an_empty_queue_has_no_pages(client, pool):
    queue_id = client.get("/api/work_pools/pool/queues/default").json()["id"]
    status = client.post(f"/api/work_queues/{queue_id}/concurrency_status", json={}).json()
    assert (status["count"], status["pages"], status["page"]) == (0, 0, 1)
    zero = client.post(f"/api/work_queues/{queue_id}/concurrency_status", json={"limit": 0}).json()
    assert zero["pages"] == 0
    pool_status = client.post("/api/work_pools/pool/concurrency_status", json={"limit": 1}).json()
    assert (pool_status["count"], pool_status["pages"]) == (1, 1)
    assert client.post("/api/work_pools/pool/concurrency_status", json={"limit": 0}).json()["pages"] == 0


# ------------------------------------------------ a deployment PATCH naming only its queue


def _deployment(client, flow, pool):
    body = {"name": "d", "flow_id": flow["id"], "work_pool_name": pool}
    response = client.post("/api/deployments/", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _where(client, deployment_id):
    d = client.get(f"/api/deployments/{deployment_id}").json()
    return d["work_pool_name"], d["work_queue_name"]


def _patch(client, deployment_id, body):
    response = client.patch(f"/api/deployments/{deployment_id}", json=body)
    assert response.status_code == 204, response.text
    return _where(client, deployment_id)


def _pools_with_queue(client, *pools):
    for name in pools:
        assert client.post("/api/work_pools/", json={"name": name, "type": "process"}).status_code == 201
        assert client.post(f"/api/work_pools/{name}/queues", json={"name": "dup"}).status_code == 201


def test_queue_name_alone_moves_the_deployment_to_that_queues_pool(client, flow):
    _pools_with_queue(client, "zz", "aa")
    assert client.post("/api/work_pools/aa/queues", json={"name": "only"}).status_code == 201
    deployment = _deployment(client, flow, "zz")
    assert _where(client, deployment) == ("zz", "default")
    assert _patch(client, deployment, {"work_queue_name": "only"}) == ("aa", "only")
    # In several pools: the first-created queue of that name (zz's, created before aa's).
    assert _patch(client, deployment, {"work_queue_name": "dup"}) == ("zz", "dup")
    assert _patch(client, deployment, {"work_queue_name": "default"}) == ("zz", "default")
    # In no pool: created at priority 1 in default-agent-pool (created for it).
    assert _patch(client, deployment, {"work_queue_name": "missing"}) == ("default-agent-pool", "missing")
    agent = client.post("/api/work_pools/default-agent-pool/queues/filter", json={}).json()
    assert [(q["name"], q["priority"]) for q in agent] == [("missing", 1), ("default", 2)]
    # Once the agent pool exists, only its queues are found by name.
    assert _patch(client, deployment, {"work_queue_name": "only"}) == ("default-agent-pool", "only")
    assert client.get("/api/work_queues/name/dup").status_code == 404
    assert _patch(client, deployment, {"work_pool_name": "aa", "work_queue_name": "dup"}) == ("aa", "dup")
    assert _patch(client, deployment, {"work_pool_name": None}) == (None, "dup")
    assert _patch(client, deployment, {"work_queue_name": None}) == (None, None)


def test_legacy_queue_by_name_without_the_agent_pool_is_the_first_created(client):
    _pools_with_queue(client, "zz", "aa")
    assert client.get("/api/work_queues/name/dup").json()["work_pool_name"] == "zz"


def test_legacy_create_of_default_makes_the_agent_pool_and_returns_its_default_queue(client):
    response = client.post("/api/work_queues/", json={"name": "default"})
    assert response.status_code == 201, response.text
    pool = client.get("/api/work_pools/default-agent-pool").json()
    assert response.json()["id"] == pool["default_queue_id"]
    again = client.post("/api/work_queues/", json={"name": "default"})
    assert (again.status_code, again.json()) == (409, {"detail": "A work queue with this name already exists."})


# -------------------------------------------------------- block references in defaults


def _template(default, schema_type="string"):
    return {
        "job_configuration": {"block": "{{ block_string }}"},
        "variables": {"properties": {"block_string": {"type": schema_type, "title": "Block String", "default": default}},
                      "required": ["block_string"]},
    }


@pytest.mark.parametrize(
    ("default", "schema_type", "status", "detail"),
    [
        ({"$ref": {"block_document_id": "non-existing"}}, "string", 404, "Block not found."),
        ({"$ref": {"block_document_id": MISSING}}, "object", 404, "Block not found."),
        ({"$ref": {"block_document_id": MISSING}}, "not-a-type", 422, "Invalid schema"),
        ({"$ref": {"block_document_id": None}}, "string", 201, None),
        ({"$ref": "#/definitions/x"}, "string", 422, "'$ref' is not an object"),
    ],
    ids=["missing-block", "missing-block-uuid", "schema-checked-first", "null-id-skipped", "ref-not-an-object"],
)
def test_block_reference_defaults_on_create(client, default, schema_type, status, detail):
    """Upstream: TestCreateWorkPool::test_create_work_pool_template_validation_missing_block_document
    (the first case)."""
    response = client.post("/api/work_pools/", json={"name": "p", "base_job_template": _template(default, schema_type)})
    assert response.status_code == status, response.text
    if detail is not None:
        assert detail in response.json()["detail"]


def test_block_reference_defaults_are_not_looked_up_on_patch(client, pool):
    """As 3.9.1: the PATCH route does not resolve block references."""
    body = {"base_job_template": _template({"$ref": {"block_document_id": MISSING}})}
    assert client.patch("/api/work_pools/pool", json=body).status_code == 204


# ---------------------------------------------------------- pools for old Prefect clients


@pytest.mark.parametrize(
    ("user_agent", "has_field"),
    [
        ("prefect/3.3.7 (API 0.8.4)", False),
        ("prefect/3.3.7rc1 (API 0.8.4)", False),
        ("prefect/2.20.0 (API 0.8.4)", False),
        ("prefect/3.3.8 (API 0.8.4)", True),
        ("prefect/3.3.7.post1 (API 0.8.4)", True),
        ("prefect/3.9.1 (API 0.8.4)", True),
        ("prefect/3.3.7", True),
        ("python-httpx/0.28.1", True),
        (None, True),
    ],
)
def test_old_clients_get_pools_without_the_result_storage_block(client, user_agent, has_field):
    """Upstream: TestCreateWorkPool, TestReadWorkPool and TestReadWorkPools::
    test_*_with_3_3_7_client_version_does_not_include_default_result_storage_block_id."""
    headers = {"User-Agent": user_agent} if user_agent else {}
    if user_agent is None:
        client.headers.pop("user-agent", None)
    created = client.post("/api/work_pools/", json={"name": "p", "type": "process"}, headers=headers)
    read = client.get("/api/work_pools/p", headers=headers)
    listed = client.post("/api/work_pools/filter", json={}, headers=headers)
    for body in (created.json(), read.json(), listed.json()[0]):
        assert ("default_result_storage_block_id" in body["storage_configuration"]) is has_field
        assert "bundle_upload_step" in body["storage_configuration"]
