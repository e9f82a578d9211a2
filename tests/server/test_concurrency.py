"""Twenty workers polling different queue sets and claiming at once, over a real socket:
no run is claimed twice and no pool or queue limit is exceeded."""

from __future__ import annotations

import threading
from collections import Counter

import httpx

from reconciler.server.runner import serve_in_thread

LIMITS = {"critical": 1, "high": 3, "low": None, "default": 2}
POOL_LIMIT = 5
QUEUE_SETS = [["critical"], ["high"], ["low"], ["critical", "high"], ["high", "low"], None, ["default", "low"]]


def test_racing_claims_hold_every_limit() -> None:
    with serve_in_thread() as server:
        api = httpx.Client(base_url=server.api_url, timeout=30)
        flow_id = api.post("/flows/", json={"name": "f"}).json()["id"]
        api.post("/work_pools/", json={"name": "race", "type": "process", "concurrency_limit": POOL_LIMIT})
        for priority, (name, limit) in enumerate(LIMITS.items(), start=1):
            if name == "default":
                api.patch("/work_pools/race/queues/default", json={"concurrency_limit": limit})
            else:
                api.post("/work_pools/race/queues", json={"name": name, "priority": priority, "concurrency_limit": limit})
        for i in range(60):
            queue = list(LIMITS)[i % len(LIMITS)]
            api.post("/flow_runs/", json={
                "flow_id": flow_id, "work_pool_name": "race", "work_queue_name": queue,
                "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": "2026-01-01T00:00:00Z"}},
            })
        accepted: Counter[str] = Counter()
        lock = threading.Lock()
        start = threading.Barrier(20)
        errors: list[str] = []

        def worker(index: int) -> None:
            client = httpx.Client(base_url=server.api_url, timeout=30)
            names = QUEUE_SETS[index % len(QUEUE_SETS)]
            start.wait()
            for _ in range(3):
                body = {"work_queue_names": names} if names else {}
                response = client.post("/work_pools/race/get_scheduled_flow_runs", json=body)
                if response.status_code != 200:
                    errors.append(response.text)
                    return
                for item in response.json():
                    run_id = item["flow_run"]["id"]
                    result = client.post(f"/flow_runs/{run_id}/set_state", json={"state": {"type": "PENDING"}})
                    if result.status_code not in (200, 201):
                        errors.append(result.text)
                    elif result.json()["status"] == "ACCEPT":
                        with lock:
                            accepted[run_id] += 1

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert accepted and max(accepted.values()) == 1
        pending = api.post("/flow_runs/filter", json={"flow_runs": {"state": {"type": {"any_": ["PENDING"]}}}}).json()
        assert {r["id"] for r in pending} == set(accepted)
        assert len(pending) == POOL_LIMIT
        per_queue = Counter(r["work_queue_name"] for r in pending)
        for name, limit in LIMITS.items():
            assert limit is None or per_queue[name] <= limit
        assert api.get("/work_pools/race").json()["active_slots"] == POOL_LIMIT
