"""On PostgreSQL a poll's body is joined by the database (``polls._poll_composed``): whatever the
pool, its queues (priorities tied or not, paused, limits, occupancy), the runs (start times tied,
late by any number of microseconds, renamed states, written before the ``wire`` column) and the
poll (queue names, window, limit), it answers byte for byte what the general path answers on the
same data (``polls._poll``: ``scheduling.select_runs`` and ``flow_runs.poll_item`` in Python)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import T0
from reconciler.server.app import create_app
from reconciler.server.clock import ManualClock
from reconciler.server.domain import Ctx, polls
from reconciler.server.store import open_store

NAMES = ("a", "b", "c", "é")

queue_spec = st.tuples(st.sampled_from(NAMES), st.integers(1, 3), st.booleans(),
                       st.sampled_from([None, None, None, None, 0, 1, 2, 5]))
run_spec = st.tuples(
    st.integers(0, 3),  # queue (index, modulo the queues)
    st.integers(-1, 1), st.sampled_from([0, 0, 0, 0, 1, 10, 999_999]),  # start: minutes, microseconds from now (ties)
    st.sampled_from(["Scheduled", "Scheduled", "AwaitingRetry", 'Qu"ote\\d']),
    st.sampled_from(["SCHEDULED"] * 6 + ["RUNNING", "PENDING", "COMPLETED"]),
    st.integers(0, 20) .map(lambda n: n == 0),  # written before the wire column (rarely)
)
poll_spec = st.tuples(
    st.one_of(st.none(), st.lists(st.integers(0, 4), max_size=3)),  # queue names: indices (4: a queue the pool lacks)
    st.one_of(st.none(), st.integers(-3, 3)), st.one_of(st.none(), st.integers(-3, 3)),  # before, after: minutes
    st.one_of(st.none(), st.integers(0, 6)),
)


@pytest.fixture(scope="module")
def pg(postgres_cluster):
    store = open_store(postgres_cluster.new_database("composed"))
    clock = ManualClock(T0)
    with TestClient(create_app(store, clock=clock), raise_server_exceptions=False) as client:
        flow = client.post("/api/flows/", json={"name": "flow"}).json()["id"]
        yield store, clock, client, flow
    store.close()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(queues=st.lists(queue_spec, min_size=1, max_size=4, unique_by=lambda q: q[0]),
       pool_paused=st.integers(0, 9).map(lambda n: n == 0), pool_limit=st.sampled_from([None, None, None, None, 0, 3, 6]),
       runs=st.lists(run_spec, min_size=4, max_size=16), polls_asked=st.lists(poll_spec, min_size=1, max_size=3),
       advance=st.integers(0, 240_000_000))
def test_the_composed_poll_answers_what_the_general_one_does(pg, queues, pool_paused, pool_limit, runs, polls_asked,
                                                            advance):
    store, clock, client, flow = pg
    clock.set(T0)
    pool = f"pool-{uuid.uuid4().hex[:8]}"
    assert client.post("/api/work_pools/", json={"name": pool, "type": "process"}).status_code == 201
    ids = {}
    for name, priority, paused, limit in queues:
        made = client.post(f"/api/work_pools/{pool}/queues", json={"name": name})
        assert made.status_code == 201, made.text
        ids[name] = made.json()["id"]
        # priorities as stored, ties included (the API's priority walk would make them unique)
        store.execute("UPDATE work_queue SET priority = ?, is_paused = ?, concurrency_limit = ? WHERE id = ?",
                      (priority, int(paused), limit, ids[name]))
    store.execute("UPDATE work_pool SET is_paused = ?, concurrency_limit = ? WHERE name = ?",
                  (int(pool_paused), pool_limit, pool))
    all_queues = [q[0] for q in queues] or ["default"]
    for queue, minutes, micros, state_name, state_type, legacy in runs:
        start = T0 + timedelta(minutes=minutes, microseconds=micros)
        made = client.post("/api/flow_runs/", json={
            "flow_id": flow, "work_pool_name": pool, "work_queue_name": all_queues[queue % len(all_queues)],
            "state": {"type": "SCHEDULED", "name": state_name, "state_details": {"scheduled_time": start.isoformat()}}})
        assert made.status_code == 201, made.text
        run_id = made.json()["id"]
        if state_type != "SCHEDULED":
            assert client.post(f"/api/flow_runs/{run_id}/set_state",
                               json={"state": {"type": state_type}, "force": True}).status_code in (200, 201)
        if legacy:
            store.execute("UPDATE flow_run SET wire = NULL WHERE id = ?", (run_id,))
    clock.advance(microseconds=advance)  # up to 4 minutes on: runs late by any number of microseconds
    ctx = Ctx(store, clock)
    for indices, before, after, limit in polls_asked:
        names = None if indices is None else [queues[i][0] if i < len(queues) else "absent" for i in indices]
        asked = dict(queue_names=names, limit=limit,
                     before=None if before is None else T0 + timedelta(minutes=before),
                     after=None if after is None else T0 + timedelta(minutes=after))
        try:
            general = polls._poll(ctx, pool, reclaim=False, **asked)
        except Exception as exc:  # a queue the pool lacks: both refuse it alike
            with pytest.raises(type(exc)) as caught:
                polls._poll_composed(ctx, pool, reclaim=False, **asked)
            assert str(caught.value) == str(exc)
            continue
        assert polls._poll_composed(ctx, pool, reclaim=False, **asked) == general


@pytest.mark.parametrize("late_by", [
    timedelta(microseconds=1), timedelta(microseconds=10), timedelta(microseconds=123), timedelta(seconds=1),
    timedelta(seconds=3600), timedelta(seconds=59, microseconds=999_999), timedelta(days=400, microseconds=5),
])
def test_the_start_delta_is_pythons_float_text(pg, late_by):
    """The database writes ``estimated_start_time_delta`` as Python's ``repr`` of the float
    (``1e-05``, ``3600.0``), checked against the general path at the extremes."""
    store, clock, client, flow = pg
    clock.set(T0)
    pool = f"pool-{uuid.uuid4().hex[:8]}"
    client.post("/api/work_pools/", json={"name": pool, "type": "process"})
    made = client.post("/api/flow_runs/", json={"flow_id": flow, "work_pool_name": pool, "state": {
        "type": "SCHEDULED", "state_details": {"scheduled_time": T0.isoformat()}}})
    assert made.status_code == 201
    clock.set(T0 + late_by)
    ctx = Ctx(store, clock)
    composed = polls._poll_composed(ctx, pool, queue_names=None, before=None, after=None, limit=None)
    assert composed == polls._poll(ctx, pool, queue_names=None, before=None, after=None, limit=None)
    assert f'"estimated_start_time_delta":{late_by.total_seconds()!r},'.encode() in composed


def _pool_with_runs(pg, queues: dict[str, int], runs: list[tuple[str, timedelta]]) -> str:
    """A new pool with these queues (name: priority, as stored) and SCHEDULED runs (queue, start
    after T0); the clock at T0."""
    store, clock, client, flow = pg
    clock.set(T0)
    pool = f"pool-{uuid.uuid4().hex[:8]}"
    client.post("/api/work_pools/", json={"name": pool, "type": "process"})
    for name, priority in queues.items():
        made = client.post(f"/api/work_pools/{pool}/queues", json={"name": name}).json()
        store.execute("UPDATE work_queue SET priority = ? WHERE id = ?", (priority, made["id"]))
    for queue, start in runs:
        assert client.post("/api/flow_runs/", json={
            "flow_id": flow, "work_pool_name": pool, "work_queue_name": queue,
            "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": (T0 + start).isoformat()}}}).status_code == 201
    return pool


@pytest.mark.parametrize("limit", [None, 9])
def test_runs_at_one_instant_in_queues_of_one_priority_go_by_queue_name_then_id(pg, limit):
    """Ties on the start time break on the queue's name, then the run's id (``select_runs``), in the
    database's sort too, cut (limit 9 of 16) or not."""
    pool = _pool_with_runs(pg, {"b": 1, "a": 1}, [(q, timedelta(0)) for q in "ab" * 8])
    ctx = Ctx(pg[0], pg[1])
    composed = polls._poll_composed(ctx, pool, queue_names=None, before=None, after=None, limit=limit)
    assert composed == polls._poll(ctx, pool, queue_names=None, before=None, after=None, limit=limit)
    runs = [item["flow_run"] for item in json.loads(composed)]
    assert [r["work_queue_name"] for r in runs] == (["a"] * 8 + ["b"] * 8)[:limit]
    assert [r["id"] for r in runs[:8]] == sorted(r["id"] for r in runs[:8])


@pytest.mark.parametrize("late_by, name", [(timedelta(seconds=15), "Scheduled"),
                                           (timedelta(seconds=15, microseconds=1), "Late")])
def test_a_run_is_late_strictly_after_the_grace(pg, late_by, name):
    pool = _pool_with_runs(pg, {}, [("default", timedelta(0))])
    pg[1].set(T0 + late_by)
    ctx = Ctx(pg[0], pg[1])
    composed = polls._poll_composed(ctx, pool, queue_names=None, before=None, after=None, limit=None)
    assert composed == polls._poll(ctx, pool, queue_names=None, before=None, after=None, limit=None)
    assert json.loads(composed)[0]["flow_run"]["state_name"] == name


change_spec = st.tuples(
    st.sampled_from(["claim", "finish", "pause", "resume", "queue_limit", "pool_limit", "new_run", "rename", "drop",
                     "add_queue", "priority", "rename_pool", "nothing", "nothing"]),
    st.integers(0, 3), st.sampled_from([None, 0, 1, 2, 5]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(named=st.booleans(), limit=st.sampled_from([None, 2, 5]), changes=st.lists(change_spec, min_size=1, max_size=12))
def test_a_steady_pollers_guessed_statement_answers_what_the_general_poll_does(pg, named, limit, changes):
    """A worker polling with one body again and again sends the statement its last poll made with
    the pool's load (``polls._Guesses``); whatever changed in between (claims, limits, pauses, queues
    renamed, dropped or added, priorities, the pool renamed), each answer, refusal and record is
    the general path's."""
    store, clock, client, flow = pg
    clock.set(T0)
    pool = f"pool-{uuid.uuid4().hex[:8]}"
    assert client.post("/api/work_pools/", json={"name": pool, "type": "process"}).status_code == 201
    for name in ("a", "b", "c"):
        assert client.post(f"/api/work_pools/{pool}/queues", json={"name": name}).status_code == 201
    runs: list[str] = []

    def new_run(queue: str) -> None:
        made = client.post("/api/flow_runs/", json={
            "flow_id": flow, "work_pool_name": pool, "work_queue_name": queue,
            "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": (T0 + timedelta(seconds=len(runs))).isoformat()}}})
        if made.status_code == 201:
            runs.append(made.json()["id"])

    for i in range(8):
        new_run("abc"[i % 3])
    ctx = Ctx(store, clock)
    asked = dict(queue_names=["a", "b"] if named else None, limit=limit, before=None, after=None)
    for change, index, value in [("nothing", 0, None)] * 3 + changes:
        queue = "abc"[index % 3]
        if change in ("claim", "finish") and runs:
            client.post(f"/api/flow_runs/{runs[index % len(runs)]}/set_state",
                        json={"state": {"type": "RUNNING" if change == "claim" else "COMPLETED"}, "force": True})
        elif change in ("pause", "resume", "queue_limit", "priority"):
            body = {"pause": {"is_paused": True}, "resume": {"is_paused": False},
                    "queue_limit": {"concurrency_limit": value}, "priority": {"priority": 1 + index % 3}}[change]
            client.patch(f"/api/work_pools/{pool}/queues/{queue}", json=body)
        elif change == "pool_limit":
            client.patch(f"/api/work_pools/{pool}", json={"concurrency_limit": value})
        elif change == "new_run":
            new_run(queue)
        elif change == "rename":
            client.patch(f"/api/work_pools/{pool}/queues/{queue}", json={"name": queue.upper()})
        elif change == "drop":
            client.delete(f"/api/work_pools/{pool}/queues/{queue}")
        elif change == "add_queue":
            client.post(f"/api/work_pools/{pool}/queues", json={"name": queue})
        elif change == "rename_pool":
            store.execute("UPDATE work_pool SET name = ? WHERE name = ?", (pool + "-x", pool))
        clock.advance(seconds=1)
        store.execute("UPDATE work_queue SET last_polled = NULL WHERE work_pool_id IN "
                      "(SELECT id FROM work_pool WHERE name IN (?, ?))", (pool, pool + "-x"))
        try:
            general = polls._poll(ctx, pool, reclaim=False, **asked)
        except Exception as exc:  # the pool or a queue it names is gone: both refuse alike and record nothing
            polled = store.query("SELECT id FROM work_queue WHERE last_polled IS NOT NULL")
            with pytest.raises(type(exc)) as caught:
                polls._poll_composed(ctx, pool, reclaim=False, **asked)
            assert str(caught.value) == str(exc)
            assert store.query("SELECT id FROM work_queue WHERE last_polled IS NOT NULL") == polled
            continue
        recorded = store.query("SELECT id, last_polled, status FROM work_queue ORDER BY id")
        store.execute("UPDATE work_queue SET last_polled = NULL WHERE work_pool_id IN "
                      "(SELECT id FROM work_pool WHERE name = ?)", (pool,))
        assert polls._poll_composed(ctx, pool, reclaim=False, **asked) == general
        assert store.query("SELECT id, last_polled, status FROM work_queue ORDER BY id") == recorded


def test_a_steady_pollers_poll_is_one_statement(pg, monkeypatch):
    """From the third poll with one body on, while nothing changes, the pool's load is a column of
    the statement that records and answers the poll, and nothing else is sent."""
    pool = _pool_with_runs(pg, {"a": 1, "b": 2}, [(q, timedelta(seconds=i)) for i, q in enumerate("ab" * 4)])
    store = pg[0]
    ctx = Ctx(store, pg[1])
    sent: list[str] = []
    for name in ("query", "one", "tuples", "execute", "write"):
        monkeypatch.setattr(store, name, lambda *a, _name=name, _f=getattr(store, name), **k: (sent.append(_name), _f(*a, **k))[1])
    answers = []
    for _ in range(5):
        sent.clear()
        answers.append(polls._poll_composed(ctx, pool, queue_names=["a"], before=None, after=None, limit=3))
    assert sent == ["one"]
    assert len(set(answers)) == 1 and len(json.loads(answers[0])) == 3


def test_a_run_rewritten_by_another_server_is_sent_as_it_is_now(pg, postgres_cluster):
    """A server keeps the poll items it sent by the row version of each run (``polls._Sent``): a run
    another server rewrote since (its name, tags, labels, a state of the same type) has a new
    version, and the next poll sends its text as it is now, as the general path reads it."""
    store, clock, client, flow = pg
    pool = _pool_with_runs(pg, {"a": 1}, [("a", timedelta(seconds=i)) for i in range(4)])
    other = open_store(store.url)
    try:
        with TestClient(create_app(other, clock=clock), raise_server_exceptions=False) as elsewhere:
            ctx = Ctx(store, clock)
            asked = dict(queue_names=["a"], before=None, after=None, limit=None)
            first = polls._poll_composed(ctx, pool, **asked)
            runs = [item["flow_run"]["id"] for item in json.loads(first)]
            changes = [("patch", {"name": "renamed"}), ("patch", {"tags": ["t"]}),
                       ("labels", {"team": "x"}), ("state", {"type": "SCHEDULED", "name": "AwaitingRetry"})]
            for run, (kind, body) in zip(runs, changes):
                if kind == "state":
                    made = elsewhere.post(f"/api/flow_runs/{run}/set_state", json={"state": body, "force": True})
                else:
                    made = elsewhere.patch(f"/api/flow_runs/{run}{'/labels' if kind == 'labels' else ''}", json=body)
                assert made.status_code < 300, made.text
                for _ in range(3):
                    again = polls._poll_composed(ctx, pool, **asked)
                    assert again == polls._poll(ctx, pool, reclaim=False, **asked)
                assert again != first
                first = again
    finally:
        other.close()
