"""Filters with huge lists work: every ``any_``/``not_any_``/``startswith_`` list is one SQL
parameter (a JSON array), so 33,000 values (over SQLite's 32,766 variables, which answered 500
"too many SQL variables") and 250,000 values find what they name.  The same table runs on
PostgreSQL in ``test_postgres.py``."""

from __future__ import annotations

import uuid
from typing import Any, Callable

MANY = 33_000


def names(n: int) -> list[str]:
    return [f"nothing-{i}" for i in range(n)]


def ids(n: int) -> list[str]:
    return [str(uuid.UUID(int=i + 1)) for i in range(n)]


def seed(client) -> dict[str, Any]:
    """A pool with a queue, a flow, a deployment, a run of it with a log, and a worker."""
    pool = client.post("/api/work_pools/", json={"name": "big-pool", "type": "process"}).json()
    queue = client.post("/api/work_pools/big-pool/queues", json={"name": "Queue-1"}).json()
    flow = client.post("/api/flows/", json={"name": "big-flow"}).json()
    deployment = client.post("/api/deployments/", json={"name": "big-dep", "flow_id": flow["id"], "work_pool_name": "big-pool",
                                                        "work_queue_name": "Queue-1"}).json()
    run = client.post(f"/api/deployments/{deployment['id']}/create_flow_run", json={"name": "big-run", "idempotency_key": "k1"}).json()
    log = {"name": "l", "level": 20, "message": "m", "timestamp": "2026-11-25T12:00:00Z", "flow_run_id": run["id"]}
    assert client.post("/api/logs/", json=[log]).status_code == 201
    assert client.post("/api/work_pools/big-pool/workers/heartbeat", json={"name": "w"}).status_code == 204
    return {"pool": pool, "queue": queue, "flow": flow, "deployment": deployment, "run": run}


# id, path, body from (n, seeded objects), what the answer must hold
CASES: list[tuple[str, str, Callable[[int, dict], dict], Callable[[Any, dict], bool]]] = [
    ("pools-by-name", "/api/work_pools/filter", lambda n, s: {"work_pools": {"name": {"any_": names(n) + ["big-pool"]}}},
     lambda body, s: [p["name"] for p in body] == ["big-pool"]),
    ("pools-by-id", "/api/work_pools/filter", lambda n, s: {"work_pools": {"id": {"any_": ids(n) + [s["pool"]["id"]]}}},
     lambda body, s: [p["name"] for p in body] == ["big-pool"]),
    ("pools-by-type-count", "/api/work_pools/count", lambda n, s: {"work_pools": {"type": {"any_": names(n) + ["process"]}}},
     lambda body, s: body == 1),
    ("queues-by-name", "/api/work_pools/big-pool/queues/filter", lambda n, s: {"work_queues": {"name": {"any_": names(n) + ["Queue-1"]}}},
     lambda body, s: [q["name"] for q in body] == ["Queue-1"]),
    ("queues-by-prefix", "/api/work_pools/big-pool/queues/filter", lambda n, s: {"work_queues": {"name": {"startswith_": names(n) + ["queue-"]}}},
     lambda body, s: [q["name"] for q in body] == ["Queue-1"]),
    ("queues-by-id", "/api/work_pools/big-pool/queues/filter", lambda n, s: {"work_queues": {"id": {"any_": ids(n) + [s["queue"]["id"]]}}},
     lambda body, s: [q["name"] for q in body] == ["Queue-1"]),
    ("legacy-queues", "/api/work_queues/filter", lambda n, s: {"work_pools": {"name": {"any_": names(n) + ["big-pool"]}},
                                                               "work_queues": {"name": {"any_": names(n) + ["Queue-1"]}}},
     lambda body, s: [q["name"] for q in body] == ["Queue-1"]),
    ("runs-by-name", "/api/flow_runs/filter", lambda n, s: {"flow_runs": {"name": {"any_": names(n) + ["big-run"]}}},
     lambda body, s: [r["name"] for r in body] == ["big-run"]),
    ("runs-by-id-and-name", "/api/flow_runs/filter", lambda n, s: {"flow_runs": {"id": {"any_": ids(n) + [s["run"]["id"]]},
                                                                                  "name": {"any_": names(n) + ["big-run"]}}},
     lambda body, s: [r["name"] for r in body] == ["big-run"]),
    ("runs-not-any", "/api/flow_runs/filter", lambda n, s: {"flow_runs": {"id": {"not_any_": ids(n)},
                                                                           "state": {"type": {"not_any_": names(n)}}}},
     lambda body, s: [r["name"] for r in body] == ["big-run"]),
    ("runs-by-state-queue-key", "/api/flow_runs/filter", lambda n, s: {"flow_runs": {
        "state": {"type": {"any_": names(n) + ["SCHEDULED"]}, "name": {"any_": names(n) + ["Scheduled"]}},
        "work_queue_name": {"any_": names(n) + ["Queue-1"]}, "idempotency_key": {"any_": names(n) + ["k1"]},
        "deployment_id": {"any_": ids(n) + [s["deployment"]["id"]]}}},
     lambda body, s: [r["name"] for r in body] == ["big-run"]),
    ("runs-by-flow-deployment-pool-count", "/api/flow_runs/count", lambda n, s: {
        "flows": {"id": {"any_": ids(n) + [s["flow"]["id"]]}, "name": {"any_": names(n) + ["big-flow"]}},
        "deployments": {"id": {"any_": ids(n) + [s["deployment"]["id"]]}, "name": {"any_": names(n) + ["big-dep"]}},
        "work_pools": {"name": {"any_": names(n) + ["big-pool"]}}},
     lambda body, s: body == 1),
    ("deployments", "/api/deployments/filter", lambda n, s: {"deployments": {"name": {"any_": names(n) + ["big-dep"]}},
                                                             "flows": {"name": {"any_": names(n) + ["big-flow"]}},
                                                             "work_pools": {"name": {"any_": names(n) + ["big-pool"]}}},
     lambda body, s: [d["name"] for d in body] == ["big-dep"]),
    ("flows", "/api/flows/filter", lambda n, s: {"flows": {"name": {"any_": names(n) + ["big-flow"]}, "id": {"any_": ids(n) + [s["flow"]["id"]]}}},
     lambda body, s: [f["name"] for f in body] == ["big-flow"]),
    ("logs", "/api/logs/filter", lambda n, s: {"logs": {"flow_run_id": {"any_": ids(n) + [s["run"]["id"]]}}},
     lambda body, s: [entry["message"] for entry in body] == ["m"]),
    ("workers-by-status", "/api/work_pools/big-pool/workers/filter", lambda n, s: {"workers": {"status": {"any_": names(n) + ["ONLINE"]}}},
     lambda body, s: [w["name"] for w in body] == ["w"]),
]


def run_cases(client, n: int, cases=CASES) -> list[str]:
    seeded = seed(client)
    problems = []
    for case_id, path, body, holds in cases:
        response = client.post(path, json=body(n, seeded))
        if response.status_code != 200 or not holds(response.json(), seeded):
            problems.append(f"{case_id}: {response.status_code} {response.text[:300]}")
    return problems


def test_filters_with_more_values_than_sqlite_has_variables(client) -> None:
    assert run_cases(client, MANY) == []


def test_a_filter_with_250000_values(client) -> None:
    assert run_cases(client, 250_000, [c for c in CASES if c[0] == "runs-by-name"]) == []
