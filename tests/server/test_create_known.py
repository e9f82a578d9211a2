"""On PostgreSQL a server process remembers the deployments it created runs of and creates the
next run in one statement, on the condition that the deployment, its pool and its queues are still
what it read (``deployments._KNOWN``). Another replica's change in between (the
deployment's parameters, its pool's template, the named queue deleted or renamed, the deployment
deleted) is seen by the very next run, exactly as a server that never saw the deployment sees it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from reconciler.server.app import create_app
from reconciler.server.domain import deployments
from reconciler.server.store import open_store

TEMPLATE = {"job_configuration": {"env": "{{ env }}"},
            "variables": {"type": "object", "properties": {"env": {"type": "object"}}}}
REQUIRED = {"job_configuration": {"env": "{{ env }}", "image": "{{ image }}"},
            "variables": {"type": "object", "required": ["image"],
                          "properties": {"env": {"type": "object"}, "image": {"type": "string"}}}}


@pytest.fixture
def replicas(postgres_cluster):
    """Two servers (one remembers, the other changes things) and a third that has never seen
    the deployment (what the first must answer), on one database."""
    url = postgres_cluster.new_database("known")
    stores = [open_store(url) for _ in range(3)]
    clients = [TestClient(create_app(s)) for s in stores]
    a = clients[0]
    flow = a.post("/api/flows/", json={"name": "f"}).json()["id"]
    a.post("/api/work_pools/", json={"name": "p", "type": "process", "base_job_template": TEMPLATE})
    for name in ("q1", "q2"):
        a.post("/api/work_pools/p/queues/", json={"name": name})
    dep = a.post("/api/deployments/", json={"name": "d", "flow_id": flow, "work_pool_name": "p",
                                            "work_queue_name": "q1", "parameters": {"n": 1}}).json()["id"]
    yield clients, stores[0], dep
    for s in stores:
        s.close()


def _run(client, dep, **body):
    answer = client.post(f"/api/deployments/{dep}/create_flow_run", json=body)
    return answer.status_code, answer.json()


def _same(run: dict, other: dict) -> None:
    drop = ("id", "name", "created", "updated", "state", "state_id", "expected_start_time",
            "next_scheduled_start_time", "estimated_start_time_delta")
    assert {k: v for k, v in run.items() if k not in drop} == {k: v for k, v in other.items() if k not in drop}


CHANGES = {
    "parameters": lambda b: b.patch("/api/deployments/{dep}", json={"parameters": {"n": 2}}),
    "template": lambda b: b.patch("/api/work_pools/p", json={"base_job_template": REQUIRED}),
    "queue deleted": lambda b: b.delete("/api/work_pools/p/queues/q2"),
    "queue renamed": lambda b: b.patch("/api/work_pools/p/queues/q2", json={"name": "q2-renamed"}),
    "deployment moved": lambda b: b.patch("/api/deployments/{dep}", json={"work_queue_name": "q3"}),
    "deployment deleted": lambda b: b.delete("/api/deployments/{dep}"),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_known_deployment_changed_by_another_replica(replicas, change):
    (a, b, fresh), remembering, dep = replicas
    asked = {} if change == "deployment moved" else {"work_queue_name": "q2"}  # its own queue, or q2
    for _ in range(2):  # the second is made from what the first read
        status, first = _run(a, dep, **asked)
        assert status == 201, first
    assert (dep, asked.get("work_queue_name")) in deployments._KNOWN[remembering]
    answer = CHANGES[change](_Formatted(b, dep))
    assert answer.status_code < 300, answer.text
    status, run = _run(a, dep, **asked)
    expected_status, expected = _run(fresh, dep, **asked)
    assert status == expected_status, (run, expected)
    if status == 201:
        _same(run, expected)
        assert b.get(f"/api/flow_runs/{run['id']}").json()["parameters"] == expected["parameters"]
    else:
        assert run == expected
    if change == "deployment moved":
        assert run["work_queue_name"] == "q3"
    if change == "parameters":
        assert run["parameters"] == {"n": 2}
    if change == "template":
        assert status >= 400 and "image" in str(run)  # a required variable the run lacks, refused


class _Formatted:
    """A client whose paths may name the deployment as {dep}."""

    def __init__(self, client, dep):
        self.client, self.dep = client, dep

    def __getattr__(self, method):
        return lambda path, **kw: getattr(self.client, method)(path.format(dep=self.dep), **kw)
