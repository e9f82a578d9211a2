"""``reconciler.explain``: positions and reasons, table-driven, and the property that binds them to
``select_runs``: the runs without a slot reason are exactly what a poll now hands out."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.explain import (
    CODES,
    Picture,
    Pool,
    Queue,
    Run,
    Worker,
    explain_document,
    explain_pool,
    explain_run,
    picture_from_api,
    status_document,
)
from reconciler.scheduling import Candidate, PoolSlots, QueueSlots, select_runs

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
ALIVE = (Worker("w1", NOW - timedelta(seconds=10), 30),)


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def due(run_id: str, queue: str, minutes_ago: float = 5) -> Run:
    return Run(run_id, run_id, "SCHEDULED", "Scheduled", queue, queue, "p", ago(minutes_ago))


def busy(run_id: str, queue: str, state: str = "RUNNING") -> Run:
    return Run(run_id, run_id, state, state.title(), queue, queue, "p", None)


def picture(*runs: Run, pool: Pool | None = None, queues: tuple[Queue, ...] | None = None,
            workers: tuple[Worker, ...] = ALIVE) -> Picture:
    if queues is None:
        queues = (Queue("hi", "hi", 1), Queue("lo", "lo", 2))
    return Picture(pool or Pool("p", "process"), queues, runs, workers)


def codes(p: Picture, run: Run) -> list[str]:
    return [r.code for r in explain_run(p, run, NOW).reasons]


CASES = [
    # id, picture, run, expected codes, expected position
    ("free", picture(due("a", "lo")), due("a", "lo"), [], 0),
    ("queue-paused", picture(due("a", "lo"), queues=(Queue("lo", "lo", 2, is_paused=True),)), due("a", "lo"),
     ["QUEUE_PAUSED"], 0),
    ("pool-paused", picture(due("a", "lo"), pool=Pool("p", "process", is_paused=True)), due("a", "lo"),
     ["POOL_PAUSED"], 0),
    ("pool-full", picture(busy("x", "hi"), due("a", "lo"), pool=Pool("p", "process", concurrency_limit=1)),
     due("a", "lo"), ["POOL_LIMIT"], 0),
    ("queue-full", picture(busy("x", "lo", "PENDING"), due("a", "lo"),
                           queues=(Queue("lo", "lo", 2, concurrency_limit=1),)), due("a", "lo"), ["QUEUE_LIMIT"], 0),
    ("queue-slot-to-earlier", picture(due("a", "lo", 9), due("b", "lo", 1),
                                      queues=(Queue("lo", "lo", 2, concurrency_limit=1),)),
     due("b", "lo", 1), ["QUEUE_LIMIT"], 1),
    ("priority", picture(due("h1", "hi", 1), due("h2", "hi", 1), due("a", "lo", 60),
                         pool=Pool("p", "process", concurrency_limit=2)), due("a", "lo", 60), ["POOL_LIMIT", "PRIORITY"], 2),
    ("same-priority-earlier", picture(due("a", "lo", 9), due("b", "lo", 1), pool=Pool("p", "process", concurrency_limit=1)),
     due("b", "lo", 1), ["POOL_LIMIT"], 1),
    ("no-worker", picture(due("a", "lo"), workers=(Worker("w1", ago(10), 30),)), due("a", "lo"), ["NO_WORKER"], 0),
    ("never-a-worker", picture(due("a", "lo"), workers=()), due("a", "lo"), ["NO_WORKER"], 0),
    ("push-pool-needs-no-worker", picture(due("a", "lo"), pool=Pool("p", "cloud-run:push"), workers=()),
     due("a", "lo"), [], 0),
    ("future", picture(), Run("f", "f", "SCHEDULED", "Scheduled", "lo", "lo", "p", NOW + timedelta(hours=1)),
     ["NOT_DUE"], None),
    ("future-paused", picture(queues=(Queue("lo", "lo", 2, is_paused=True),)),
     Run("f", "f", "SCHEDULED", "Scheduled", "lo", "lo", "p", NOW + timedelta(hours=1)), ["NOT_DUE", "QUEUE_PAUSED"], None),
    ("running", picture(busy("r", "lo")), busy("r", "lo"), ["NOT_SCHEDULED"], None),
    ("no-queue", Picture(None), Run("n", "n", "SCHEDULED", "Scheduled", None, None, None, ago(1)), ["NO_POOL"], None),
    ("pool-deleted", Picture(None), Run("n", "n", "SCHEDULED", "Scheduled", None, "default", None, ago(1)),
     ["NO_POOL"], None),
    ("queue-gone", picture(), Run("n", "n", "SCHEDULED", "Scheduled", "gone", "gone", "p", ago(1)), ["NO_POOL"], None),
    ("all-at-once", picture(busy("x", "lo"), due("h", "hi", 1), due("a", "lo", 9),
                            pool=Pool("p", "process", is_paused=True, concurrency_limit=1),
                            queues=(Queue("hi", "hi", 1), Queue("lo", "lo", 2, is_paused=True, concurrency_limit=1)),
                            workers=()),
     due("a", "lo", 9), ["POOL_PAUSED", "QUEUE_PAUSED", "POOL_LIMIT", "QUEUE_LIMIT", "PRIORITY", "NO_WORKER"], 1),
]


@pytest.mark.parametrize(("picture_", "run", "expected", "position"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_reasons_and_position(picture_: Picture, run: Run, expected: list[str], position: int | None) -> None:
    explanation = explain_run(picture_, run, NOW)
    assert [r.code for r in explanation.reasons] == expected
    assert explanation.position == position
    assert [r.code for r in explanation.reasons] == sorted((r.code for r in explanation.reasons), key=CODES.index)
    assert len(explanation.ahead) == (position or 0)


MESSAGES = [
    ("pool-full", "Work pool 'p' is at its concurrency limit: 1 of 1 slots in use (by 'x')."),
    ("queue-full", "Work queue 'p/lo' is at its concurrency limit: 1 of 1 slots in use (by 'x')."),
    ("priority", "2 due runs in higher-priority queues (p/hi (priority 1)) come first while work pool 'p' has 2 free slots"),
    ("future", "scheduled for 2026-12-01T13:00:00Z, in 1h:"),
    ("no-worker", "last seen: worker 'w1', 10m ago (window 1m 30s)."),
    ("running", "Flow run 'r' is RUNNING, not SCHEDULED"),
    ("queue-slot-to-earlier", "its 1 free slot goes to 1 earlier due run of the queue ('a')."),
]


@pytest.mark.parametrize(("case", "fragment"), MESSAGES, ids=[m[0] for m in MESSAGES])
def test_messages_name_the_object_and_the_numbers(case: str, fragment: str) -> None:
    _, p, run, *_ = next(c for c in CASES if c[0] == case)
    text = " ".join(r.message for r in explain_run(p, run, NOW).reasons)
    assert fragment in text


def test_position_counts_every_due_run_in_hand_out_order() -> None:
    runs = [due("l1", "lo", 30), due("h1", "hi", 1), due("h2", "hi", 2), due("l2", "lo", 40)]
    p = picture(*runs, busy("x", "hi"))
    assert [e.run.id for e in explain_pool(p, NOW)] == ["h2", "h1", "l2", "l1"]
    assert [e.position for e in explain_pool(p, NOW)] == [0, 1, 2, 3]
    explanation = explain_run(p, due("l1", "lo", 30), NOW)
    assert [r.id for r in explanation.ahead] == ["h2", "h1", "l2"]
    doc = explain_document(explanation, p)
    assert doc["position"] == 3 and doc["pool"] == "p" and doc["queue"] == "lo"
    assert [a["id"] for a in doc["ahead"]] == ["h2", "h1", "l2"]


def test_a_run_read_apart_from_the_picture_stands_where_it_would() -> None:
    """explain reads the run, then the pool: the run may be missing from (or stale in) the picture."""
    p = picture(due("h1", "hi", 1))
    assert explain_run(p, due("a", "lo", 1), NOW).position == 1
    stale = picture(busy("a", "lo", "PENDING"))
    assert explain_run(stale, due("a", "lo", 1), NOW).position == 0


def test_status_document_counts() -> None:
    p = picture(busy("x", "hi"), busy("y", "lo", "PENDING"), due("a", "lo", 5), due("b", "lo", 1),
                Run("f", "f", "SCHEDULED", "Scheduled", "lo", "lo", "p", NOW + timedelta(minutes=5)),
                pool=Pool("p", "process", concurrency_limit=4, status="READY"),
                workers=(Worker("w1", NOW - timedelta(seconds=10), 30), Worker("w0", ago(60), None)))
    doc = status_document([p], NOW)
    (pool,) = doc["pools"]
    assert (pool["slots_in_use"], pool["backlog"], pool["status"], pool["concurrency_limit"]) == (2, 2, "READY", 4)
    hi, lo = pool["queues"]
    assert (hi["name"], hi["slots_in_use"], hi["backlog"], hi["lateness_seconds"]) == ("hi", 1, 0, None)
    assert (lo["name"], lo["slots_in_use"], lo["backlog"], lo["lateness_seconds"]) == ("lo", 1, 2, 300.0)
    assert [(w["name"], w["status"]) for w in pool["workers"]] == [("w0", "OFFLINE"), ("w1", "ONLINE")] or \
        [(w["name"], w["status"]) for w in pool["workers"]] == [("w1", "ONLINE"), ("w0", "OFFLINE")]


def test_picture_from_api_reads_prefect_bodies() -> None:
    p = picture_from_api(
        {"name": "p", "type": "process", "is_paused": False, "concurrency_limit": 2, "status": "READY"},
        [{"id": "q1", "name": "default", "priority": 1, "is_paused": False, "concurrency_limit": None,
          "last_polled": "2026-12-01T11:59:00Z"}],
        [{"id": "r1", "name": "otter", "state_type": "SCHEDULED", "state_name": "Late", "work_queue_id": "q1",
          "work_queue_name": "default", "work_pool_name": "p", "next_scheduled_start_time": "2026-12-01T11:00:00+00:00"}],
        [{"name": "w", "last_heartbeat_time": "2026-12-01T11:59:50.123456Z", "heartbeat_interval_seconds": 30}],
    )
    (e,) = explain_pool(p, NOW)
    assert e.position == 0 and e.reasons == ()
    assert picture_from_api(None, [], [], []).pool is None


# -- the property -----------------------------------------------------------------------------

limits = st.none() | st.integers(0, 4)
SLOT_CODES = {"POOL_PAUSED", "QUEUE_PAUSED", "POOL_LIMIT", "QUEUE_LIMIT", "PRIORITY"}


@st.composite
def pictures(draw):
    queues = tuple(
        Queue(f"q{i}", draw(st.sampled_from("abc")) + str(i), draw(st.integers(1, 3)), draw(st.booleans()),
              draw(limits))
        for i in range(draw(st.integers(1, 4)))
    )
    ids = [q.id for q in queues]
    runs = []
    for i in range(draw(st.integers(0, 20))):
        state = draw(st.sampled_from(["SCHEDULED", "SCHEDULED", "SCHEDULED", "PENDING", "RUNNING", "COMPLETED"]))
        when = NOW + timedelta(minutes=draw(st.integers(-6, 2))) if state == "SCHEDULED" else None
        runs.append(Run(f"r{i}", f"r{i}", state, state.title(), draw(st.sampled_from(ids)), None, "p", when))
    pool = Pool("p", "process", draw(st.booleans()), draw(st.none() | st.integers(0, 8)))
    workers = draw(st.sampled_from([(), ALIVE]))
    return Picture(pool, queues, tuple(runs), workers)


@settings(max_examples=300, deadline=None)
@given(pictures())
def test_runs_without_slot_reasons_are_exactly_what_a_poll_now_hands_out(p: Picture) -> None:
    active = {q.id: sum(1 for r in p.runs if r.queue_id == q.id and r.state_type in ("PENDING", "RUNNING")) for q in p.queues}
    assert p.pool is not None
    handed = select_runs(
        PoolSlots(p.pool.is_paused, p.pool.concurrency_limit, sum(active.values()), "p"),
        [QueueSlots(q.id, q.name, q.priority, q.is_paused, q.concurrency_limit, active[q.id]) for q in p.queues],
        [Candidate(r.id, r.queue_id, r.next_scheduled_start_time) for r in p.runs if r.state_type == "SCHEDULED"],  # type: ignore[arg-type]
        queue_ids=None, scheduled_before=NOW, scheduled_after=None, limit=1000,
    )
    explained = explain_pool(p, NOW)
    free = [e.run.id for e in explained if not {r.code for r in e.reasons} - {"NO_WORKER"}]
    assert free == [c.id for c in handed]
    assert all(("NO_WORKER" in {r.code for r in e.reasons}) == (not p.workers) for e in explained)
    due_runs = [e for e in explained if e.position is not None]
    assert [e.position for e in due_runs] == list(range(len(due_runs)))
    for e in explained:
        single = explain_run(p, e.run, NOW)
        assert single.reasons == e.reasons and single.position == e.position
        assert [r.id for r in single.ahead] == [d.run.id for d in due_runs[: e.position or 0]]
    # a higher-priority due run never stands behind a lower-priority one
    queue = {q.id: q for q in p.queues}
    priorities = [queue[e.run.queue_id].priority for e in due_runs]  # type: ignore[index]
    assert priorities == sorted(priorities)
