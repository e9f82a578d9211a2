"""A page of pools or queues (``/work_pools/filter``, ``/work_pools/{pool}/queues/filter``, the legacy
``/work_queues/filter``) reads each object's status and occupancy once for the whole page; every
item must still be what reading that one object answers: generated fleets of pools (paused or not,
with or without a limit, workers online or gone, runs active or not in their queues), compared item
by item with ``GET /work_pools/{name}`` and ``GET /work_pools/{pool}/queues/{name}``."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import T0
from reconciler.server.app import create_app
from reconciler.server.clock import ManualClock
from reconciler.server.store import open_store

pools = st.lists(st.fixed_dictionaries({
    "paused": st.booleans(),
    "limit": st.none() | st.integers(0, 3),
    "workers": st.lists(st.integers(0, 200), max_size=2),  # seconds since the heartbeat (interval 30: online <= 90)
    "queues": st.lists(st.tuples(st.none() | st.integers(0, 2), st.lists(st.sampled_from(["RUNNING", "PENDING", "SCHEDULED", "COMPLETED"]), max_size=3)), max_size=3),
}), min_size=1, max_size=5)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(pools)
def test_a_page_answers_as_each_object_does(fleet) -> None:
    clock = ManualClock(T0)
    store = open_store(":memory:")
    try:
        with TestClient(create_app(store, clock=clock), raise_server_exceptions=False) as client:
            flow = client.post("/api/flows/", json={"name": "f"}).json()
            for i, spec in enumerate(fleet):
                name = f"p{i}"  # runs first, then the pause and the limits (which would refuse them)
                assert client.post("/api/work_pools/", json={"name": name, "type": "process"}).status_code == 201
                for w, ago in enumerate(spec["workers"]):
                    clock.set(T0 - timedelta(seconds=ago))
                    assert client.post(f"/api/work_pools/{name}/workers/heartbeat",
                                       json={"name": f"w{w}", "heartbeat_interval_seconds": 30}).status_code == 204
                    clock.set(T0)
                for j, (limit, states) in enumerate(spec["queues"]):
                    assert client.post(f"/api/work_pools/{name}/queues", json={"name": f"q{j}"}).status_code == 201
                    for state in states:
                        run = client.post("/api/flow_runs/", json={"flow_id": flow["id"], "work_pool_name": name,
                                                                   "work_queue_name": f"q{j}", "state": {"type": state}})
                        assert run.status_code == 201, run.text
                    if limit is not None:
                        assert client.patch(f"/api/work_pools/{name}/queues/q{j}",
                                            json={"concurrency_limit": limit}).status_code == 204
                assert client.patch(f"/api/work_pools/{name}", json={
                    "is_paused": spec["paused"], "concurrency_limit": spec["limit"]}).status_code == 204
            page = client.post("/api/work_pools/filter", json={}).json()
            assert [p["name"] for p in page] == sorted(f"p{i}" for i in range(len(fleet)))
            for item in page:
                assert item == client.get(f"/api/work_pools/{item['name']}").json()
                queues = client.post(f"/api/work_pools/{item['name']}/queues/filter", json={}).json()
                for queue in queues:
                    assert queue == client.get(f"/api/work_pools/{item['name']}/queues/{queue['name']}").json()
            legacy = client.post("/api/work_queues/filter", json={}).json()
            for queue in legacy:
                assert queue == client.get(f"/api/work_pools/{queue['work_pool_name']}/queues/{queue['name']}").json()
            assert any(p["status"] == "READY" for p in page) or not any(
                not s["paused"] and any(a <= 90 for a in s["workers"]) for s in fleet)
    finally:
        store.close()
