"""Property: for any pool, queues, occupancy and runs, a poll respects every limit and is maximal."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.scheduling import Candidate, PoolSlots, QueueSlots, free_slots, select_runs

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
limits = st.none() | st.integers(0, 5)


@st.composite
def scenarios(draw):
    n = draw(st.integers(0, 4))
    queues = [
        QueueSlots(
            id=f"q{i}", name=draw(st.sampled_from(["a", "b", "c", "d"])) + str(i),
            priority=draw(st.integers(1, 4)), is_paused=draw(st.booleans()),
            concurrency_limit=draw(limits), active=draw(st.integers(0, 4)),
        )
        for i in range(n)
    ]
    occupied = sum(q.active for q in queues)
    pool = PoolSlots(draw(st.booleans()), draw(st.none() | st.integers(0, 10)), occupied, "p")
    queue_pool = [q.id for q in queues] + ["foreign"]
    runs = [
        Candidate(f"r{i}", draw(st.sampled_from(queue_pool)), T0 + timedelta(minutes=draw(st.integers(0, 6))))
        for i in range(draw(st.integers(0, 25)))
    ]
    minute = st.none() | st.integers(0, 6).map(lambda m: T0 + timedelta(minutes=m))
    queue_ids = draw(st.none() | st.sets(st.sampled_from(queue_pool + ["nope"])))
    return pool, queues, runs, dict(
        queue_ids=queue_ids, scheduled_before=draw(minute), scheduled_after=draw(minute),
        limit=draw(st.integers(0, 12)),
    )


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_poll_respects_limits_priority_and_is_maximal(scenario):
    pool, queues, runs, kw = scenario
    got = select_runs(pool, queues, runs, **kw)
    by_queue = {q.id: q for q in queues}

    def eligible(r: Candidate) -> bool:
        q = by_queue.get(r.queue_id)
        return (
            q is not None and not pool.is_paused and not q.is_paused
            and (not kw["queue_ids"] or q.id in kw["queue_ids"])
            and (kw["scheduled_before"] is None or r.next_scheduled_start_time <= kw["scheduled_before"])
            and (kw["scheduled_after"] is None or r.next_scheduled_start_time >= kw["scheduled_after"])
        )

    def key(r: Candidate):
        return (by_queue[r.queue_id].priority, r.next_scheduled_start_time)

    assert len({r.id for r in got}) == len(got)
    assert all(r in runs and eligible(r) for r in got)
    assert len(got) <= kw["limit"]
    pool_free = free_slots(pool.concurrency_limit, pool.active)
    assert pool_free is None or len(got) <= pool_free
    taken = Counter(r.queue_id for r in got)
    for qid, count in taken.items():
        q_free = free_slots(by_queue[qid].concurrency_limit, by_queue[qid].active)
        assert q_free is None or count <= q_free
    assert sorted(got, key=key) == got

    chosen = {r.id for r in got}
    stopped = len(got) == kw["limit"] or (pool_free is not None and len(got) == pool_free)
    for r in runs:
        if r.id in chosen or not eligible(r):
            continue
        q = by_queue[r.queue_id]
        queue_full = free_slots(q.concurrency_limit, q.active) == taken[q.id]
        assert stopped or queue_full, f"{r} left out with free slots"
        for x in got:
            if key(r) < key(x):
                assert queue_full, f"{r} skipped in favour of the later {x}"
