"""Table-driven cases for ``select_runs``: upstream examples, the 3.9.1 capture, edge cases."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from reconciler.scheduling import Candidate, PoolSlots, QueueSlots, free_slots, select_runs

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def poll(pool, queues, runs, *, queue_ids=None, before=None, after=None, limit=200):
    return select_runs(
        pool, queues, runs, queue_ids=queue_ids, scheduled_before=before, scheduled_after=after,
        limit=limit,
    )


# --- upstream examples (prefect-api.md §4, tests/server/database/test_queries.py) -----------


def upstream_queue(n: int) -> tuple[QueueSlots, list[Candidate]]:
    """A queue with limit 5, 1 RUNNING and 1 PENDING run (active 2) and 5 SCHEDULED runs."""
    q = QueueSlots(f"q{n}", f"queue-{n}", n, False, 5, 2)
    return q, [Candidate(f"q{n}-r{i}", q.id, at(i)) for i in range(5)]


@pytest.mark.parametrize(
    "n_queues, pool_limit, expected",
    [
        pytest.param(1, None, 3, id="one-queue-limit-5-with-2-active-gives-3"),
        pytest.param(3, 10, 4, id="three-queues-pool-limit-10-gives-4"),
        pytest.param(3, 7, 1, id="three-queues-pool-limit-7-gives-1"),
        pytest.param(3, None, 9, id="three-queues-no-pool-limit-gives-9"),
    ],
)
def test_upstream_examples(n_queues, pool_limit, expected):
    queues, runs = [], []
    for n in range(1, n_queues + 1):
        q, rs = upstream_queue(n)
        queues.append(q)
        runs += rs
    pool = PoolSlots(False, pool_limit, 2 * n_queues)
    got = poll(pool, queues, runs)
    assert len(got) == expected
    per_queue = {}
    for r in got:
        per_queue[r.queue_id] = per_queue.get(r.queue_id, 0) + 1
    assert all(v <= 3 for v in per_queue.values())
    assert got == sorted(got, key=lambda r: (int(r.queue_id[1:]), r.next_scheduled_start_time))


# --- the Prefect 3.9.1 capture, rebuilt -----------------------------------------------------

CAPTURE = json.loads(
    (Path(__file__).parent / "fixtures" / "get-scheduled-flow-runs.json").read_text()
)


def _iso(s: str) -> datetime:
    return datetime.fromisoformat(s.replace(" ", "T").replace("Z", "+00:00"))


def _captured_runs() -> dict[str, tuple[str, str, datetime]]:
    """Every run the capture shows: name -> (id, queue name, next_scheduled_start_time)."""
    runs = {}
    for ex in CAPTURE["exchanges"]:
        if ex["path"].endswith("/get_scheduled_flow_runs") and isinstance(ex["response_body"], list):
            for item in ex["response_body"]:
                fr = item["flow_run"]
                runs[fr["name"]] = (fr["id"], fr["work_queue_name"], _iso(fr["next_scheduled_start_time"]))
    return runs


RUNS = _captured_runs()
BASE_QUEUES = {  # capture description: high (p1, limit 2), low (p2, limit 5), default (p3, none)
    "high": QueueSlots("id-high", "high", 1, False, 2, 0),
    "low": QueueSlots("id-low", "low", 2, False, 5, 0),
    "default": QueueSlots("id-default", "default", 3, False, None, 0),
}
PENDING_HIGH = {"pending": ["run-high-00"]}

# step label in the capture -> the state the server was in and the request it got
CAPTURE_SCENARIOS = {
    "no body filters": {},
    "limit 3": {},
    "only queue low": {},
    "queues low+default": {},
    "scheduled_before T0+12m": {},
    "scheduled_after T0+20m": {},
    "after one 'high' run is PENDING (high has 1 free slot of 2)": PENDING_HIGH,
    "pool limit 4 with 1 PENDING (3 free)": {**PENDING_HIGH, "pool_limit": 4},
    "queue high paused": {**PENDING_HIGH, "queues": {"high": {"is_paused": True}}},
    "queue high paused, asked for explicitly": {
        **PENDING_HIGH, "queues": {"high": {"is_paused": True}}
    },
    "after low gets priority 1": {
        **PENDING_HIGH, "queues": {"low": {"priority": 1}, "high": {"priority": 2}}
    },
    "high limit 0": {**PENDING_HIGH, "queues": {"high": {"concurrency_limit": 0}}},
    "high unlimited": {**PENDING_HIGH, "queues": {"high": {"concurrency_limit": None}}},
    "pool paused": {**PENDING_HIGH, "pool_paused": True},
}


def _capture_case(step: str):
    ex = next(e for e in CAPTURE["exchanges"] if e["step"] == step)
    setup = CAPTURE_SCENARIOS[step]
    body = ex["request_body"] or {}
    pending = setup.get("pending", [])
    queues = {k: replace(q, **setup.get("queues", {}).get(k, {})) for k, q in BASE_QUEUES.items()}
    for name in pending:
        qn = RUNS[name][1]
        queues[qn] = replace(queues[qn], active=queues[qn].active + 1)
    pool = PoolSlots(setup.get("pool_paused", False), setup.get("pool_limit"), len(pending), "ref-sched")
    candidates = [
        Candidate(rid, queues[qn].id, t) for name, (rid, qn, t) in RUNS.items() if name not in pending
    ]
    names = body.get("work_queue_names")
    kwargs = dict(
        queue_ids={queues[n].id for n in names} if names else None,
        before=_iso(body["scheduled_before"]) if body.get("scheduled_before") else None,
        after=_iso(body["scheduled_after"]) if body.get("scheduled_after") else None,
        limit=body.get("limit", 200),
    )
    expected = [item["flow_run"]["name"] for item in ex["response_body"]]
    return pool, list(queues.values()), candidates, kwargs, expected


def test_capture_has_every_run_and_scenario():
    assert len(RUNS) == 13
    steps = {
        e["step"] for e in CAPTURE["exchanges"]
        if e["path"].endswith("get_scheduled_flow_runs") and e["status_code"] == 200
    }
    assert steps == set(CAPTURE_SCENARIOS)


@pytest.mark.parametrize("step", list(CAPTURE_SCENARIOS), ids=list(CAPTURE_SCENARIOS))
def test_capture_scenarios_match_prefect(step):
    pool, queues, candidates, kwargs, expected = _capture_case(step)
    by_id = {rid: name for name, (rid, _, _) in RUNS.items()}
    got = poll(pool, queues, candidates, **kwargs)
    assert [by_id[r.id] for r in got] == expected


def test_legacy_get_runs_capture_is_the_low_queue_oldest_first(legacy_capture):
    pool, queues, candidates, _, _ = _capture_case("no body filters")
    low = next(q for q in queues if q.name == "low")
    ex = legacy_capture["exchanges"][0]
    got = poll(pool, queues, candidates, queue_ids={low.id}, limit=ex["request_body"]["limit"])
    by_id = {rid: name for name, (rid, _, _) in RUNS.items()}
    assert [by_id[r.id] for r in got] == [run["name"] for run in ex["response_body"]]


# --- the seeds' example: critical (p1, limit 1), high (p5, limit 3), low (p10) ---------------

SEEDS = [
    QueueSlots("c", "critical", 1, False, 1, 0),
    QueueSlots("h", "high", 5, False, 3, 0),
    QueueSlots("l", "low", 10, False, None, 0),
]


def seeds_runs() -> list[Candidate]:
    # low runs are the oldest, critical the newest: priority must still win
    return (
        [Candidate(f"low-{i}", "l", at(i)) for i in range(6)]
        + [Candidate(f"high-{i}", "h", at(10 + i)) for i in range(5)]
        + [Candidate(f"crit-{i}", "c", at(20 + i)) for i in range(3)]
    )


@pytest.mark.parametrize(
    "pool, active, limit, expected",
    [
        pytest.param(PoolSlots(False, None, 0), {}, 200,
                     ["crit-0", "high-0", "high-1", "high-2", "low-0", "low-1", "low-2", "low-3", "low-4", "low-5"],
                     id="idle-pool-1-critical-3-high-then-low-oldest-first"),
        pytest.param(PoolSlots(False, None, 0), {}, 5,
                     ["crit-0", "high-0", "high-1", "high-2", "low-0"], id="limit-5"),
        pytest.param(PoolSlots(False, 6, 0), {}, 200,
                     ["crit-0", "high-0", "high-1", "high-2", "low-0", "low-1"], id="pool-limit-6"),
        pytest.param(PoolSlots(False, 6, 3), {"c": 1, "h": 2}, 200,
                     ["high-0", "low-0", "low-1"], id="critical-busy-one-high-slot-pool-3-free"),
        pytest.param(PoolSlots(False, 4, 4), {"c": 1, "h": 3}, 200, [], id="pool-full"),
        pytest.param(PoolSlots(False, None, 4), {"c": 1, "h": 3}, 3,
                     ["low-0", "low-1", "low-2"], id="queues-full-low-unbounded"),
        pytest.param(PoolSlots(True, None, 0), {}, 200, [], id="pool-paused"),
    ],
)
def test_seeds_example(pool, active, limit, expected):
    queues = [replace(q, active=active.get(q.id, 0)) for q in SEEDS]
    assert [r.id for r in poll(pool, queues, seeds_runs(), limit=limit)] == expected


# --- windows, limit, queue_ids, pauses, limit 0, ties ---------------------------------------

Q1 = QueueSlots("a", "a", 1, False, None, 0)
Q2 = QueueSlots("b", "b", 2, False, None, 0)
RUNS_AB = [Candidate("a1", "a", at(1)), Candidate("a3", "a", at(3)), Candidate("b2", "b", at(2)),
           Candidate("b4", "b", at(4))]
FREE = PoolSlots(False, None, 0)


@pytest.mark.parametrize(
    "pool, queues, kwargs, expected",
    [
        pytest.param(FREE, [Q1, Q2], {}, ["a1", "a3", "b2", "b4"], id="priority-before-time"),
        pytest.param(FREE, [Q1, Q2], {"before": at(2)}, ["a1", "b2"], id="before-is-inclusive"),
        pytest.param(FREE, [Q1, Q2], {"after": at(3)}, ["a3", "b4"], id="after-is-inclusive"),
        pytest.param(FREE, [Q1, Q2], {"after": at(2), "before": at(3)}, ["a3", "b2"], id="window"),
        pytest.param(FREE, [Q1, Q2], {"after": at(5)}, [], id="empty-window"),
        pytest.param(FREE, [Q1, Q2], {"limit": 1}, ["a1"], id="limit-1"),
        pytest.param(FREE, [Q1, Q2], {"limit": 0}, [], id="limit-0"),
        pytest.param(FREE, [Q1, Q2], {"queue_ids": {"b"}}, ["b2", "b4"], id="queue-ids"),
        pytest.param(FREE, [Q1, Q2], {"queue_ids": set()}, ["a1", "a3", "b2", "b4"],
                     id="empty-queue-ids-means-all"),
        pytest.param(FREE, [Q1, Q2], {"queue_ids": {"zzz"}}, [], id="queue-id-not-in-pool"),
        pytest.param(FREE, [replace(Q1, is_paused=True), Q2], {}, ["b2", "b4"], id="queue-paused"),
        pytest.param(FREE, [replace(Q1, is_paused=True), Q2], {"queue_ids": {"a"}}, [],
                     id="paused-queue-asked-for"),
        pytest.param(PoolSlots(True, None, 0), [Q1, Q2], {}, [], id="pool-paused"),
        pytest.param(PoolSlots(False, 0, 0), [Q1, Q2], {}, [], id="pool-limit-0"),
        pytest.param(FREE, [replace(Q1, concurrency_limit=0), Q2], {}, ["b2", "b4"], id="queue-limit-0"),
        pytest.param(FREE, [replace(Q1, concurrency_limit=1, active=5), Q2], {}, ["b2", "b4"],
                     id="queue-over-limit-floors-at-0"),
        pytest.param(PoolSlots(False, 2, 9), [Q1, Q2], {}, [], id="pool-over-limit-floors-at-0"),
        pytest.param(FREE, [Q1, replace(Q2, priority=1)], {}, ["a1", "b2", "a3", "b4"],
                     id="equal-priority-interleaves-by-time"),
        pytest.param(FREE, [Q1], {}, ["a1", "a3"], id="runs-of-unknown-queues-ignored"),
        pytest.param(FREE, [], {}, [], id="no-queues"),
    ],
)
def test_edge_cases(pool, queues, kwargs, expected):
    assert [r.id for r in poll(pool, queues, RUNS_AB, **kwargs)] == expected


def test_ties_break_on_queue_name_then_run_id():
    qa = QueueSlots("id-2", "alpha", 1, False, None, 0)
    qb = QueueSlots("id-1", "beta", 1, False, None, 0)
    runs = [Candidate("r9", "id-1", T0), Candidate("r2", "id-2", T0), Candidate("r1", "id-2", T0)]
    for order in (runs, runs[::-1]):
        assert [r.id for r in poll(FREE, [qb, qa], order)] == ["r1", "r2", "r9"]


def test_per_queue_cut_keeps_the_oldest_even_when_input_is_unsorted():
    q = QueueSlots("q", "q", 1, False, 2, 0)
    runs = [Candidate(f"r{i}", "q", at(10 - i)) for i in range(5)]
    assert [r.id for r in poll(FREE, [q], runs)] == ["r4", "r3"]


@pytest.mark.parametrize(
    "limit, active, expected",
    [(None, 7, None), (5, 2, 3), (5, 5, 0), (5, 9, 0), (0, 0, 0)],
    ids=["unlimited", "some-free", "full", "over", "zero"],
)
def test_free_slots(limit, active, expected):
    assert free_slots(limit, active) == expected
