"""Leases: a run claimed (PENDING) by a worker that stopped heartbeating returns to SCHEDULED
after ``--pending-timeout`` (10 minutes by default), with a state message saying why; a live
worker's slow start is never reclaimed; after a reclaim the first claimant's late RUNNING is
refused, so a reclaimed run cannot run twice; every way into a slot goes through the limit check
(``force`` aside). Workers are named as Prefect 3.9.1 names them, by the X-Prefect-Worker-Name
header. In process with the manual clock, and across server processes in real time."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from reconciler.server.leases import Claim, proposal_refusal, reclaim_reason

WORKER = "X-Prefect-Worker-Name"
LEASE = 600


@pytest.fixture
def limited(client):
    assert client.post("/api/work_pools/", json={"name": "pool", "type": "process", "concurrency_limit": 1}).status_code == 201
    return client.post("/api/flows/", json={"name": "flow"}).json()["id"]


def _scheduled(client, flow_id: str, when: str = "2026-11-25T11:00:00Z") -> str:
    r = client.post("/api/flow_runs/", json={"flow_id": flow_id, "work_pool_name": "pool",
                                           "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": when}}})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _heartbeat(client, worker: str, interval: int = 30) -> None:
    assert client.post("/api/work_pools/pool/workers/heartbeat",
                       json={"name": worker, "heartbeat_interval_seconds": interval}).status_code == 204


def _poll(client, worker: str) -> list[str]:
    r = client.post("/api/work_pools/pool/get_scheduled_flow_runs", json={}, headers={WORKER: worker})
    assert r.status_code == 200, r.text
    return [item["flow_run"]["id"] for item in r.json()]


def _propose(client, run_id: str, kind: str, worker: str | None, **extra) -> dict:
    headers = {WORKER: worker} if worker else {}
    r = client.post(f"/api/flow_runs/{run_id}/set_state", json={"state": {"type": kind}, **extra}, headers=headers)
    assert r.status_code in (200, 201), r.text
    return r.json()


def _run(client, run_id: str) -> dict:
    return client.get(f"/api/flow_runs/{run_id}").json()


def test_a_live_workers_slow_start_is_never_reclaimed(client, clock, limited) -> None:
    run = _scheduled(client, limited)
    _heartbeat(client, "a")
    assert _poll(client, "a") == [run]
    assert _propose(client, run, "PENDING", "a")["status"] == "ACCEPT"
    for _ in range(60):  # half an hour of a slow infrastructure start, heartbeats every 30 s
        clock.advance(seconds=30)
        _heartbeat(client, "a")
        _heartbeat(client, "b")
        assert _poll(client, "b") == []
    assert _run(client, run)["state_type"] == "PENDING"
    assert _propose(client, run, "RUNNING", "a")["status"] == "ACCEPT"


def test_a_dead_workers_claim_comes_back_after_the_lease_and_its_late_start_is_refused(client, clock, limited) -> None:
    run = _scheduled(client, limited)
    waiting = _scheduled(client, limited, "2026-11-25T11:30:00Z")
    _heartbeat(client, "a")
    assert _poll(client, "a") == [run]
    assert _propose(client, run, "PENDING", "a")["status"] == "ACCEPT"
    for _ in range(10):  # a is gone; b keeps polling: within the lease the slot stays taken
        clock.advance(seconds=59)
        _heartbeat(client, "b")
        assert _poll(client, "b") == []
    assert client.get("/api/work_pools/pool").json()["active_slots"] == 1
    clock.advance(seconds=LEASE - 590 + 1)
    _heartbeat(client, "b")
    assert _poll(client, "b") == [run]  # the slot came back, the reclaimed run first (oldest)
    state = _run(client, run)["state"]
    assert state["type"] == "SCHEDULED"  # and reads "Late": its scheduled time is long past
    assert "worker 'a' stopped heartbeating" in state["message"] and "pending timeout (600 s)" in state["message"]
    assert state["state_details"]["scheduled_time"].startswith("2026-11-25T11:00:00")
    assert _propose(client, run, "PENDING", "b")["status"] == "ACCEPT"
    late = _propose(client, run, "RUNNING", "a")
    assert late["status"] == "ABORT" and "claimed by worker 'b', not 'a'" in late["details"]["reason"]
    assert _propose(client, run, "RUNNING", "b")["status"] == "ACCEPT"
    assert _run(client, run)["run_count"] == 1
    assert _run(client, waiting)["state_type"] == "SCHEDULED"


def test_a_late_start_before_any_poll_is_refused_and_the_run_goes_back(client, clock, limited) -> None:
    run = _scheduled(client, limited)
    _heartbeat(client, "a")
    assert _propose(client, run, "PENDING", "a")["status"] == "ACCEPT"
    clock.advance(seconds=LEASE + 1)
    late = _propose(client, run, "RUNNING", "a")
    assert late["status"] == "ABORT" and "Worker 'a' no longer holds this run" in late["details"]["reason"]
    assert _run(client, run)["state_type"] == "SCHEDULED"
    again = _propose(client, run, "RUNNING", "a")  # asking again changes nothing
    assert again["status"] == "ABORT"
    _heartbeat(client, "a")  # a comes back and claims anew: a fresh claim, which it may start
    assert _poll(client, "a") == [run]
    assert _propose(client, run, "PENDING", "a")["status"] == "ACCEPT"
    assert _propose(client, run, "RUNNING", "a")["status"] == "ACCEPT"


def test_a_claim_naming_no_worker_comes_back_only_when_no_worker_is_heartbeating(client, clock, limited) -> None:
    run = _scheduled(client, limited)
    assert _propose(client, run, "PENDING", None)["status"] == "ACCEPT"
    clock.advance(seconds=LEASE + 1)
    _heartbeat(client, "b")
    assert _poll(client, "b") == []  # b is alive and could be the claimant
    clock.advance(seconds=91)
    assert _poll(client, "c") == [run]  # now no worker of the pool is heartbeating
    assert "no worker of its pool is heartbeating" in _run(client, run)["state"]["message"]


def test_the_lease_is_the_servers_pending_timeout(store, clock) -> None:
    from fastapi.testclient import TestClient

    from reconciler.server.app import create_app

    with TestClient(create_app(store, clock=clock, pending_timeout=60)) as client:
        client.post("/api/work_pools/", json={"name": "pool", "type": "process"})
        run = _scheduled(client, client.post("/api/flows/", json={"name": "f"}).json()["id"])
        assert _propose(client, run, "PENDING", "a")["status"] == "ACCEPT"
        clock.advance(seconds=61)
        assert _poll(client, "b") == [run]


@pytest.mark.parametrize("way", ["resume-from-paused", "create-running", "create-pending", "deployment-run-running"])
def test_every_way_into_a_slot_is_checked_against_the_limit(client, limited, way) -> None:
    holder = _scheduled(client, limited)
    assert _propose(client, holder, "PENDING", "a")["status"] == "ACCEPT"  # the pool's one slot is taken
    if way == "resume-from-paused":
        paused = _scheduled(client, limited)
        for kind in ("PENDING", "RUNNING"):
            assert _propose(client, paused, kind, "b", force=True)["status"] == "ACCEPT"
        assert _propose(client, paused, "PAUSED", "b")["status"] == "ACCEPT"
        answer = _propose(client, paused, "RUNNING", "b")
        assert answer["status"] == "WAIT" and answer["details"]["delay_seconds"] == 10
        assert "at its concurrency limit (1 of 1 slots in use)" in answer["details"]["reason"]
        assert _propose(client, holder, "CANCELLED", "a")["status"] == "ACCEPT"
        assert _propose(client, paused, "RUNNING", "b")["status"] == "ACCEPT"
        return
    kind = "RUNNING" if way.endswith("running") else "PENDING"
    if way.startswith("deployment"):
        dep = client.post("/api/deployments/", json={"name": "d", "flow_id": limited, "work_pool_name": "pool"}).json()
        r = client.post(f"/api/deployments/{dep['id']}/create_flow_run", json={"state": {"type": kind}})
    else:
        r = client.post("/api/flow_runs/", json={"flow_id": limited, "work_pool_name": "pool", "state": {"type": kind}})
    assert r.status_code == 409, r.text
    assert "at its concurrency limit (1 of 1 slots in use)" in r.json()["detail"] and "create it SCHEDULED" in r.json()["detail"]
    assert client.get("/api/work_pools/pool").json()["active_slots"] == 1


def test_force_is_the_documented_override_of_the_limit(client, limited) -> None:
    first, second = _scheduled(client, limited), _scheduled(client, limited)
    assert _propose(client, first, "PENDING", "a")["status"] == "ACCEPT"
    assert _propose(client, second, "PENDING", "b")["status"] == "ABORT"
    assert _propose(client, second, "PENDING", "b", force=True)["status"] == "ACCEPT"
    assert client.get("/api/work_pools/pool").json()["active_slots"] == 2


T0 = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("claimant", "online", "any_online", "pending", "reclaimed"), [
    ("a", False, False, 601, True),
    ("a", False, True, 601, True),      # others alive do not keep a dead worker's claim
    ("a", True, True, 10_000, False),   # a live worker's slow start
    ("a", False, False, 600, False),    # within the lease
    (None, False, True, 601, False),    # no claimant named: someone alive may hold it
    (None, False, False, 601, True),
])
def test_reclaim_reason(claimant, online, any_online, pending, reclaimed) -> None:
    claim = Claim(claimant=claimant, pending_since=T0, claimant_online=online, any_online=any_online)
    assert (reclaim_reason(claim, T0 + timedelta(seconds=pending), 600) is not None) is reclaimed


@pytest.mark.parametrize(("current", "proposed", "claimant", "reclaimed_from", "proposer", "refused"), [
    ("SCHEDULED", "RUNNING", None, "a", "a", True),   # the void claim's late start
    ("SCHEDULED", "PENDING", None, "a", "a", False),  # a new claim
    ("SCHEDULED", "RUNNING", None, "a", "b", False),
    ("PENDING", "RUNNING", "b", None, "a", True),     # someone else's claim
    ("PENDING", "RUNNING", "a", None, "a", False),
    ("RUNNING", "RUNNING", "b", None, "a", True),     # started already, by its claimant
    ("PENDING", "RUNNING", None, None, "a", False),
    ("PENDING", "RUNNING", "b", None, None, False),   # no name: judged as Prefect judges it
    ("PENDING", "COMPLETED", "b", None, "a", False),
])
def test_proposal_refusal(current, proposed, claimant, reclaimed_from, proposer, refused) -> None:
    assert (proposal_refusal(current, proposed, claimant, reclaimed_from, proposer) is not None) is refused


# ---------------------------------------------------------------- across processes, real time

BACKENDS = [pytest.param("postgresql", marks=pytest.mark.postgres), "sqlite"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_across_replicas_a_reclaimed_run_runs_once(backend, request, tmp_path) -> None:
    """Worker a claims 20 runs through one replica and stops heartbeating (1 s interval: OFFLINE
    after 3 s); the lease is 2 s. Worker b polls and claims through a second replica while a's
    late RUNNING proposals race in through a third: every run is started once, by b."""
    from test_replicas import Replicas

    db = request.getfixturevalue("postgres_cluster").new_database("leases") if backend == "postgresql" else str(tmp_path / "s.db")
    replicas = Replicas(db, extra=["--pending-timeout", "2"])
    try:
        apis = [httpx.Client(base_url=url, timeout=60) for url in replicas.urls]
        apis[0].post("/work_pools/", json={"name": "pool", "type": "process", "concurrency_limit": 20})
        flow_id = apis[0].post("/flows/", json={"name": "f"}).json()["id"]
        runs = [apis[0].post("/flow_runs/", json={"flow_id": flow_id, "work_pool_name": "pool", "state": {
            "type": "SCHEDULED", "state_details": {"scheduled_time": "2026-01-01T00:00:00Z"}}}).json()["id"] for _ in range(20)]
        apis[0].post("/work_pools/pool/workers/heartbeat", json={"name": "a", "heartbeat_interval_seconds": 1})
        offered = apis[0].post("/work_pools/pool/get_scheduled_flow_runs", json={}, headers={WORKER: "a"}).json()
        assert sorted(i["flow_run"]["id"] for i in offered) == sorted(runs)
        for run in runs:
            assert apis[0].post(f"/flow_runs/{run}/set_state", json={"state": {"type": "PENDING"}},
                                headers={WORKER: "a"}).json()["status"] == "ACCEPT"
        deadline = time.monotonic() + 60
        while apis[1].post("/work_pools/pool/workers/filter", json={}).json()[0]["status"] != "OFFLINE":
            assert time.monotonic() < deadline, "worker a never went OFFLINE"
            time.sleep(0.2)
        time.sleep(2.1)  # past the lease (the server's clock; its PENDING timestamps are older still)
        started: Counter = Counter()
        lock = threading.Lock()

        def late_a() -> None:
            for run in runs:
                answer = apis[2].post(f"/flow_runs/{run}/set_state", json={"state": {"type": "RUNNING"}}, headers={WORKER: "a"}).json()
                if answer["status"] == "ACCEPT":
                    with lock:
                        started[(run, "a")] += 1

        def worker_b() -> None:
            apis[1].post("/work_pools/pool/workers/heartbeat", json={"name": "b", "heartbeat_interval_seconds": 30})
            left = set(runs)
            while left and time.monotonic() < deadline:
                for item in apis[1].post("/work_pools/pool/get_scheduled_flow_runs", json={}, headers={WORKER: "b"}).json():
                    run = item["flow_run"]["id"]
                    if apis[1].post(f"/flow_runs/{run}/set_state", json={"state": {"type": "PENDING"}},
                                    headers={WORKER: "b"}).json()["status"] != "ACCEPT":
                        continue
                    answer = apis[1].post(f"/flow_runs/{run}/set_state", json={"state": {"type": "RUNNING"}},
                                          headers={WORKER: "b"}).json()
                    if answer["status"] == "ACCEPT":
                        with lock:
                            started[(run, "b")] += 1
                        left.discard(run)

        threads = [threading.Thread(target=late_a), threading.Thread(target=worker_b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert started == Counter({(run, "b"): 1 for run in runs})
        for run in runs:
            final = apis[0].get(f"/flow_runs/{run}").json()
            assert (final["state_type"], final["run_count"]) == ("RUNNING", 1)
        for api in apis:
            api.close()
    finally:
        replicas.stop()
