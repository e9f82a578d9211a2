"""Which SCHEDULED runs a poll of a work pool hands out, and whether one more run may be claimed.

Owns the waterfall of ``POST /api/work_pools/{name}/get_scheduled_flow_runs`` (prefect-api.md §4)
and the limit check behind a claim (a SCHEDULED -> PENDING proposal). Pure: no I/O, no clock, no
imports from the rest of the package. The store counts occupancy and loads candidates; the routes
turn names into ids and results into responses.

Occupancy (``active``) is the number of PENDING + RUNNING runs. For a pool it counts the runs in
all of its queues, paused or not (the safer of Prefect's two database flavours).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, NamedTuple, Sequence

__all__ = ["PoolSlots", "QueueSlots", "Candidate", "free_slots", "select_runs", "claim_refusal"]


@dataclass(frozen=True)
class PoolSlots:
    is_paused: bool
    concurrency_limit: int | None
    active: int
    name: str = ""


@dataclass(frozen=True)
class QueueSlots:
    id: str
    name: str
    priority: int
    is_paused: bool
    concurrency_limit: int | None
    active: int


class Candidate(NamedTuple):
    """A SCHEDULED run a poll may hand out (a tuple: a poll makes hundreds)."""

    id: str
    queue_id: str
    next_scheduled_start_time: datetime


def free_slots(concurrency_limit: int | None, active: int) -> int | None:
    """Slots left under a limit: ``None`` when unlimited, never below 0."""
    if concurrency_limit is None:
        return None
    return max(0, concurrency_limit - active)


def select_runs(
    pool: PoolSlots,
    queues: Sequence[QueueSlots],
    candidates: Iterable[Candidate],
    *,
    queue_ids: set[str] | None,
    scheduled_before: datetime | None,
    scheduled_after: datetime | None,
    limit: int,
) -> list[Candidate]:
    """The runs one poll hands out, in delivery order.

    ``queues`` are the pool's queues; ``candidates`` its SCHEDULED runs (others' queue ids are
    ignored). ``queue_ids`` None or empty means every queue, as Prefect treats an absent or empty
    ``work_queue_names``. The window bounds are inclusive. Each queue gives at most its free
    slots, oldest first; the pool then gives at most its free slots in (priority, time) order,
    so a higher-priority queue is drained before a lower one's earlier run; the result is cut
    to ``limit``. Ties break on queue name, then run id.
    """
    if pool.is_paused or limit <= 0:
        return []
    eligible = {
        q.id: q for q in queues if not q.is_paused and (not queue_ids or q.id in queue_ids)
    }
    by_queue: dict[str, list[Candidate]] = {}
    for run in candidates:
        if run.queue_id not in eligible:
            continue
        t = run.next_scheduled_start_time
        if scheduled_before is not None and t > scheduled_before:
            continue
        if scheduled_after is not None and t < scheduled_after:
            continue
        by_queue.setdefault(run.queue_id, []).append(run)

    chosen: list[tuple[int, datetime, str, str, Candidate]] = []
    for queue_id, runs in by_queue.items():
        queue = eligible[queue_id]
        runs.sort(key=lambda r: (r.next_scheduled_start_time, r.id))
        slots = free_slots(queue.concurrency_limit, queue.active)
        for run in runs if slots is None else runs[:slots]:
            chosen.append((queue.priority, run.next_scheduled_start_time, queue.name, run.id, run))
    chosen.sort(key=lambda c: c[:4])

    cap = limit
    pool_slots = free_slots(pool.concurrency_limit, pool.active)
    if pool_slots is not None:
        cap = min(cap, pool_slots)
    return [c[4] for c in chosen[:cap]]


def _pool_label(pool: PoolSlots) -> str:
    return f"Work pool {pool.name!r}" if pool.name else "The work pool"


def _queue_label(pool: PoolSlots, queue: QueueSlots) -> str:
    address = f"{pool.name}/{queue.name}" if pool.name else queue.name
    return f"Work queue {address!r}"


def claim_refusal(pool: PoolSlots, queue: QueueSlots) -> str | None:
    """Why one more run may not go PENDING in ``queue`` of ``pool``, or None if it may.

    ``active`` must not include the run being claimed. Paused pools and queues refuse claims;
    a limit of 0 refuses every claim.
    """
    if pool.is_paused:
        return f"{_pool_label(pool)} is paused; resume it before runs can start."
    if queue.is_paused:
        return f"{_queue_label(pool, queue)} is paused; resume it before runs can start."
    limit = pool.concurrency_limit
    if limit is not None and pool.active >= limit:
        return (
            f"{_pool_label(pool)} is at its concurrency limit "
            f"({pool.active} of {limit} slots in use)."
        )
    limit = queue.concurrency_limit
    if limit is not None and queue.active >= limit:
        return (
            f"{_queue_label(pool, queue)} is at its concurrency limit "
            f"({queue.active} of {limit} slots in use)."
        )
    return None
