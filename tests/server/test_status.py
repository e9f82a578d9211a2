"""Pool, queue, worker and deployment statuses follow Prefect's machine; time comes from the
injected clock, so nothing sleeps."""

from __future__ import annotations

import pytest


def pool_status(client, name="pool"):
    return client.get(f"/api/work_pools/{name}").json()["status"]


def queue(client, name="default", pool="pool"):
    return client.get(f"/api/work_pools/{pool}/queues/{name}").json()


def beat(client, name="w", interval=None, pool="pool"):
    body = {"name": name}
    if interval is not None:
        body["heartbeat_interval_seconds"] = interval
    assert client.post(f"/api/work_pools/{pool}/workers/heartbeat", json=body).status_code == 204


def workers(client, pool="pool"):
    return {w["name"]: w["status"] for w in client.post(f"/api/work_pools/{pool}/workers/filter", json={}).json()}


def test_pool_ready_on_heartbeat_and_not_ready_after_90s(client, clock, pool):
    assert pool_status(client) == "NOT_READY"
    beat(client)
    assert pool_status(client) == "READY"
    clock.advance(seconds=90)
    assert pool_status(client) == "READY"
    clock.advance(seconds=1)
    assert pool_status(client) == "NOT_READY"
    assert workers(client) == {"w": "OFFLINE"}


@pytest.mark.parametrize(("interval", "alive", "dead"), [(10, 30, 31), (30, 90, 91), (None, 90, 91), (60, 180, 181)],
                         ids=["10s", "30s", "default", "60s"])
def test_worker_offline_after_three_intervals(client, clock, pool, interval, alive, dead):
    beat(client, interval=interval)
    clock.advance(seconds=alive)
    assert workers(client) == {"w": "ONLINE"}
    clock.advance(seconds=dead - alive)
    assert workers(client) == {"w": "OFFLINE"}


def test_heartbeat_without_interval_keeps_the_stored_one(client, clock, pool):
    beat(client, interval=10)
    beat(client)
    [worker] = client.post("/api/work_pools/pool/workers/filter", json={}).json()
    assert worker["heartbeat_interval_seconds"] == 10


def test_pause_and_resume(client, clock, pool):
    assert client.patch("/api/work_pools/pool", json={"is_paused": True}).status_code == 204
    assert pool_status(client) == "PAUSED"
    beat(client)
    assert pool_status(client) == "PAUSED"
    client.patch("/api/work_pools/pool", json={"is_paused": False})
    assert pool_status(client) == "READY"
    client.patch("/api/work_pools/pool", json={"is_paused": True})
    clock.advance(seconds=200)
    client.patch("/api/work_pools/pool", json={"is_paused": False})
    assert pool_status(client) == "NOT_READY"


def test_paused_at_create(client):
    body = client.post("/api/work_pools/", json={"name": "p", "type": "process", "is_paused": True}).json()
    assert body["status"] == "PAUSED"


def test_agent_pool_has_no_status(client):
    assert client.post("/api/work_pools/", json={"name": "agent"}).json()["status"] is None


def poll(client, pool="pool", **body):
    response = client.post(f"/api/work_pools/{pool}/get_scheduled_flow_runs", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_queue_ready_when_polled_within_60s(client, clock, pool):
    assert queue(client)["status"] == "NOT_READY"
    poll(client)
    q = queue(client)
    assert q["status"] == "READY"
    assert q["last_polled"] is not None
    assert pool_status(client) == "NOT_READY"
    clock.advance(seconds=60)
    assert queue(client)["status"] == "READY"
    clock.advance(seconds=1)
    assert queue(client)["status"] == "NOT_READY"
    poll(client)
    assert queue(client)["status"] == "READY"


def test_poll_of_named_queues_marks_only_those(client, pool):
    client.post("/api/work_pools/pool/queues", json={"name": "other"})
    poll(client, work_queue_names=["other"])
    assert queue(client, "other")["status"] == "READY"
    assert queue(client, "default")["status"] == "NOT_READY"


def test_queue_created_paused_is_not_ready_then_paused_on_update(client, clock, pool):
    created = client.post("/api/work_pools/pool/queues", json={"name": "q", "is_paused": True}).json()
    assert created["status"] == "NOT_READY"
    poll(client)
    assert queue(client, "q")["status"] == "READY"
    client.patch("/api/work_pools/pool/queues/q", json={"is_paused": True})
    assert queue(client, "q")["status"] == "PAUSED"
    poll(client)
    assert queue(client, "q")["status"] == "PAUSED"
    client.patch("/api/work_pools/pool/queues/q", json={"is_paused": False})
    assert queue(client, "q")["status"] == "READY"
    client.patch("/api/work_pools/pool/queues/q", json={"is_paused": True})
    clock.advance(seconds=61)
    client.patch("/api/work_pools/pool/queues/q", json={"is_paused": False})
    assert queue(client, "q")["status"] == "NOT_READY"


def test_legacy_get_runs_counts_as_a_poll_unless_from_the_ui(client, pool):
    queue_id = queue(client)["id"]
    client.post(f"/api/work_queues/{queue_id}/get_runs", json={}, headers={"X-PREFECT-UI": "true"})
    assert queue(client)["status"] == "NOT_READY"
    client.post(f"/api/work_queues/{queue_id}/get_runs", json={})
    assert queue(client)["status"] == "READY"
    status = client.get(f"/api/work_queues/{queue_id}/status").json()
    assert status["healthy"] is True


def test_deployment_ready_after_its_queue_is_polled(client, clock, pool, flow):
    dep = client.post("/api/deployments/", json={"name": "d", "flow_id": flow["id"], "work_pool_name": "pool"}).json()
    assert dep["status"] == "NOT_READY"
    poll(client)
    assert client.get(f"/api/deployments/{dep['id']}").json()["status"] == "READY"
    clock.advance(seconds=61)
    assert client.get(f"/api/deployments/{dep['id']}").json()["status"] == "NOT_READY"


def test_active_slots(client, pool, flow):
    assert client.get("/api/work_pools/pool").json()["active_slots"] is None
    client.patch("/api/work_pools/pool", json={"concurrency_limit": 2})
    client.patch("/api/work_pools/pool/queues/default", json={"concurrency_limit": 5})
    assert client.get("/api/work_pools/pool").json()["active_slots"] == 0
    run = client.post("/api/flow_runs/", json={"flow_id": flow["id"], "work_pool_name": "pool"}).json()
    assert run["state_type"] == "PENDING"
    assert client.get("/api/work_pools/pool").json()["active_slots"] == 1
    assert queue(client)["active_slots"] == 1
    client.post(f"/api/flow_runs/{run['id']}/set_state", json={"state": {"type": "COMPLETED"}})
    assert client.get("/api/work_pools/pool").json()["active_slots"] == 0
