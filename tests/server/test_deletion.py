"""What deleting pools, queues and workers does to everything that points at them."""

from __future__ import annotations


def test_pool_delete_cascades_and_detaches(client, pool, flow):
    client.post("/api/work_pools/pool/queues", json={"name": "q"})
    client.post("/api/work_pools/pool/workers/heartbeat", json={"name": "w"})
    dep = client.post("/api/deployments/", json={"name": "d", "flow_id": flow["id"], "work_pool_name": "pool",
                                                 "work_queue_name": "q"}).json()
    run = client.post(f"/api/deployments/{dep['id']}/create_flow_run", json={}).json()
    queue_id = run["work_queue_id"]
    assert client.delete("/api/work_pools/pool").status_code == 204
    assert client.get("/api/work_pools/pool").status_code == 404
    assert client.get(f"/api/work_queues/{queue_id}").status_code == 404
    after_dep = client.get(f"/api/deployments/{dep['id']}").json()
    assert (after_dep["work_queue_id"], after_dep["work_pool_name"], after_dep["work_queue_name"]) == (None, None, "q")
    after_run = client.get(f"/api/flow_runs/{run['id']}").json()
    assert (after_run["work_queue_id"], after_run["work_pool_name"], after_run["work_queue_name"]) == (None, None, "q")
    client.post("/api/work_pools/", json={"name": "pool", "type": "process"})
    assert client.post("/api/work_pools/pool/workers/filter", json={}).json() == []


def test_queue_delete_detaches_runs(client, pool, flow):
    client.post("/api/work_pools/pool/queues", json={"name": "q"})
    run = client.post("/api/flow_runs/", json={"flow_id": flow["id"], "work_pool_name": "pool", "work_queue_name": "q"}).json()
    assert client.delete("/api/work_pools/pool/queues/q").status_code == 204
    assert client.get(f"/api/flow_runs/{run['id']}").json()["work_queue_id"] is None
    assert client.delete("/api/work_pools/pool/queues/q").status_code == 404


def test_default_queue_cannot_be_deleted_by_either_route(client, pool):
    default_id = pool["default_queue_id"]
    by_name = client.delete("/api/work_pools/pool/queues/default")
    by_id = client.delete(f"/api/work_queues/{default_id}")
    assert (by_name.status_code, by_id.status_code) == (409, 409)
    assert "default queue" in by_name.json()["detail"]
    client.patch("/api/work_pools/pool/queues/default", json={"name": "renamed"})
    assert client.delete("/api/work_pools/pool/queues/renamed").status_code == 409
    assert client.get(f"/api/work_queues/{default_id}").json()["name"] == "renamed"


def test_reserved_pools(client):
    assert client.delete("/api/work_pools/prefect-x").status_code == 403
    assert client.patch("/api/work_pools/prefect-x", json={"description": "x"}).status_code == 403
    assert client.patch("/api/work_pools/prefect-x", json={"is_paused": True}).status_code == 404


def test_worker_delete(client, pool):
    client.post("/api/work_pools/pool/workers/heartbeat", json={"name": "w"})
    assert client.delete("/api/work_pools/pool/workers/w").status_code == 204
    missing = client.delete("/api/work_pools/pool/workers/w")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Worker not found."})


def test_legacy_routes_round_trip(client):
    created = client.post("/api/work_queues/", json={"name": "legacy"})
    assert created.status_code == 201
    assert created.json()["work_pool_name"] == "default-agent-pool"
    queue_id = created.json()["id"]
    assert client.get("/api/work_queues/name/legacy").json()["id"] == queue_id
    assert client.patch(f"/api/work_queues/{queue_id}", json={"concurrency_limit": 2}).status_code == 204
    listed = client.post("/api/work_queues/filter", json={"work_queues": {"name": {"startswith_": ["LEG"]}}}).json()
    assert [(q["name"], q["concurrency_limit"]) for q in listed] == [("legacy", 2)]
    assert client.delete(f"/api/work_queues/{queue_id}").status_code == 204
    assert client.get("/api/work_queues/name/legacy").status_code == 404
