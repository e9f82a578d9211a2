"""On PostgreSQL a server process remembers the deployments it created runs of and creates the
next run in one statement, on the condition that the deployment, its pool and its queues are still
what it read (``deployments._KNOWN``). Another replica's change in between (the
deployment's parameters, its pool's template, the named queue deleted or renamed, the deployment
deleted) is seen by the very next run, exactly as a server that never saw the deployment sees it."""

from __future__ import annotations

import asyncio

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from reconciler.server import routes
from reconciler.server.app import create_app
from reconciler.server.domain import deployments
from reconciler.server.store import StoreUnavailable, StoreValueError, open_store, postgres

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


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_statements_sent_together_commit_or_fail_each_on_its_own(postgres_cluster, tmp_path, kind):
    """``execute_each``: one statement's error (a NUL character PostgreSQL refuses, a duplicate key)
    is its own; the others are committed, and each row count is its own statement's."""
    store = open_store(postgres_cluster.new_database("each") if kind == "postgresql" else str(tmp_path / "each.db"))
    try:
        store.execute("CREATE TABLE each_t (id INTEGER PRIMARY KEY, v TEXT)")
        insert = "INSERT INTO each_t (id, v) VALUES (?, ?)"
        outcomes = store.execute_each([(insert, (1, "a")), (insert, (1, "dup")), (insert, (2, "b")),
                                       ("UPDATE each_t SET v = v WHERE id > ?", (0,)), (insert, (3, "c"))])
        assert outcomes[0] == 1 and outcomes[2] == 1 and outcomes[3] == 2 and outcomes[4] == 1
        assert isinstance(outcomes[1], Exception)
        assert [tuple(r) for r in store.tuples("SELECT id, v FROM each_t ORDER BY id")] == [(1, "a"), (2, "b"), (3, "c")]
        if kind == "postgresql":
            outcomes = store.execute_each([(insert, (4, "d")), (insert, (5, "nul\x00")), (insert, (6, "f"))])
            assert outcomes[0] == 1 and outcomes[2] == 1 and isinstance(outcomes[1], StoreValueError)
            assert store.execute_each([(insert, (7, "g"))]) == [1]
            assert [r[0] for r in store.tuples("SELECT id FROM each_t ORDER BY id")] == [1, 2, 3, 4, 6, 7]
            # an error that comes back while later statements are being sent: each of those is still
            # answered once, by its own result (none is sent twice)
            for first in range(100, 2100, 100):
                batch = [(insert, (first + i, "x")) for i in range(40)]
                batch[1] = (insert, (first, "dup"))
                outcomes = store.execute_each(batch)
                assert isinstance(outcomes[1], Exception) and outcomes[:1] + outcomes[2:] == [1] * 39, outcomes
    finally:
        store.close()


def test_a_batch_on_a_connection_the_database_ended_is_an_error_for_each(postgres_cluster):
    """The server's connection killed by PostgreSQL (an administrator, a restart) before a batch:
    every statement gets an error (its caller answers 503), none is reported written, and nothing
    was (the rows are checked from another connection)."""
    url = postgres_cluster.new_database("killed")
    store, other = open_store(url), open_store(url)
    try:
        store.execute("CREATE TABLE killed_t (id INTEGER PRIMARY KEY, v TEXT)")
        other.execute("SELECT pg_terminate_backend(?)", (store._conn.info.backend_pid,))
        insert = "INSERT INTO killed_t (id, v) VALUES (?, ?)"
        outcomes = store.execute_each([(insert, (i, "x")) for i in range(5)])
        assert len(outcomes) == 5 and all(isinstance(o, StoreUnavailable) for o in outcomes), outcomes
        assert other.tuples("SELECT count(*) FROM killed_t") == [(0,)]
    finally:
        store.close()
        other.close()


def test_statements_go_each_alone_with_a_psycopg_that_cannot_queue_a_sync(postgres_cluster, monkeypatch):
    """Without psycopg's private ``_enqueue_sync`` (a later psycopg may drop it) a batch is sent a
    statement at a time, with the same outcomes: slower, never a failed batch."""
    store = open_store(postgres_cluster.new_database("alone"))
    try:
        store.execute("CREATE TABLE alone_t (id INTEGER PRIMARY KEY, v TEXT)")
        insert = "INSERT INTO alone_t (id, v) VALUES (?, ?)"
        with monkeypatch.context() as patched:
            patched.setattr(psycopg.Pipeline, "_enqueue_sync", None)  # (defined on a base class)
            assert postgres._queued_sync() is False
            patched.setattr(postgres, "_QUEUED_SYNC", False)
            outcomes = store.execute_each([(insert, (1, "a")), (insert, (1, "dup")), (insert, (2, "nul\x00")),
                                           (insert, (3, "c"))])
        assert outcomes[0] == 1 and outcomes[3] == 1
        assert isinstance(outcomes[1], Exception) and isinstance(outcomes[2], StoreValueError)
        assert [tuple(r) for r in store.tuples("SELECT id, v FROM alone_t ORDER BY id")] == [(1, "a"), (3, "c")]
    finally:
        store.close()


def test_runs_created_in_one_turn_go_to_the_database_together(replicas):
    """Requests that reach the database in the same turn of the event loop share one round trip
    (``routes.written_together``) and are answered each as alone: 201 with its run (then readable,
    the same as one created alone), or its own refusal (a NUL character in the name: 422)."""
    (a, _, fresh), store, dep = replicas
    assert _run(a, dep)[0] == 201  # known from now on
    app = a.app
    batches: list[int] = []
    sent = store.execute_each

    def recorded(statements):
        batches.append(len(statements))
        return sent(statements)

    store.execute_each = recorded  # type: ignore[method-assign]

    async def many():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            path = f"/api/deployments/{dep}/create_flow_run"
            alone = [await client.post(path, json={"name": f"alone-{i}"}) for i in range(routes.ALONE_AFTER)]
            assert [r.status_code for r in alone] == [201] * routes.ALONE_AFTER and batches == [1] * routes.ALONE_AFTER
            # one at a time from now on: sent at once, without waiting for others (refusals as before)
            more = [await client.post(path, json={"name": name}) for name in ("more-0", "more-\x00", "more-2")]
            assert [r.status_code for r in more] == [201, 422, 201] and len(batches) == routes.ALONE_AFTER
            for _ in range(routes.PROBE_EVERY - routes.ALONE_AFTER - 4):
                assert (await client.post(path, json={})).status_code == 201
            bodies = [{"name": f"r{i}"} for i in range(8)] + [{"name": "bad\x00name"}]
            return await asyncio.gather(*(client.post(path, json=b) for b in bodies))

    answers = asyncio.run(many())
    assert max(batches) > 1, batches  # the first request sent at once, the next one leads a batch the others join
    assert [r.status_code for r in answers] == [201] * 8 + [422]
    assert "NUL" in answers[-1].json()["detail"]
    expected = fresh.post(f"/api/deployments/{dep}/create_flow_run", json={"name": "r0"}).json()
    for i, answer in enumerate(answers[:-1]):
        run = answer.json()
        assert run["name"] == f"r{i}"
        read = fresh.get(f"/api/flow_runs/{run['id']}").json()
        assert {**read, "estimated_start_time_delta": 0} == {**run, "estimated_start_time_delta": 0}
        _same(run, expected)
