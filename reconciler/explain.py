"""Why a flow run has not started, and how a work pool stands: the one computation behind
``poolform explain``, ``poolform status`` and the reference server's ``/api/poolform/`` endpoints.

Owns: the picture of one pool (:class:`Picture`: the pool, its queues, its PENDING, RUNNING and
due SCHEDULED runs, its workers), each due run's ``position`` in the order the pool hands out its
due runs and its ``reasons`` (:data:`CODES`, each with a message naming the object and the
numbers), and the status document of a pool (slots in use, backlog, lateness, workers). The order
and the cuts are :func:`reconciler.scheduling.select_runs`'s, called here, never restated; an empty
``reasons`` list means a worker polling now would receive the run.

Pure: no I/O, no clock (``now`` is passed in), imports only the standard library and
``reconciler.scheduling``. Both sides build a :class:`Picture`: the client from Prefect API JSON
(:func:`picture_from_api`), the server from its rows; ``tests/test_boundaries.py`` checks it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, Sequence

from reconciler.scheduling import Candidate, PoolSlots, QueueSlots, free_slots, select_runs

__all__ = [
    "CODES", "Pool", "Queue", "Run", "Worker", "Picture", "Reason", "Explanation",
    "explain_pool", "explain_run", "explain_document", "pending_document", "status_document",
    "picture_from_api", "run_from_api", "parse_time", "format_time", "worker_online",
]

CODES = ("NOT_SCHEDULED", "NOT_DUE", "POOL_PAUSED", "QUEUE_PAUSED", "POOL_LIMIT", "QUEUE_LIMIT", "PRIORITY",
         "NO_WORKER", "NO_POOL")
"""Every reason code, in the order reasons are listed."""

ACTIVE_TYPES = frozenset({"PENDING", "RUNNING"})
"""The state types that hold a slot (the server's ``orchestration.ACTIVE_TYPES``)."""

FALLBACK_INTERVAL = 30
"""Seconds between heartbeats assumed for a worker that sent none (Prefect's default)."""
INACTIVITY_MULTIPLE = 3
"""A worker is offline after this many intervals without a heartbeat (Prefect's foreman)."""
WORKERLESS_TYPE_SUFFIXES = (":push", ":managed")
"""Pool types that run flows without a worker (push and managed pools): no NO_WORKER for them."""
NAMED_RUNS = 5
"""How many runs a message names before it says "and n more"."""


@dataclass(frozen=True)
class Pool:
    name: str
    type: str = ""
    is_paused: bool = False
    concurrency_limit: int | None = None
    status: str | None = None
    """The server's pool status (READY, NOT_READY, PAUSED) as read; None when it gave none."""


@dataclass(frozen=True)
class Queue:
    id: str
    name: str
    priority: int
    is_paused: bool = False
    concurrency_limit: int | None = None
    last_polled: datetime | None = None


@dataclass(frozen=True)
class Run:
    id: str
    name: str = ""
    state_type: str | None = "SCHEDULED"
    state_name: str | None = None
    queue_id: str | None = None
    queue_name: str | None = None
    pool_name: str | None = None
    next_scheduled_start_time: datetime | None = None

    @property
    def label(self) -> str:
        return repr(self.name) if self.name else self.id


@dataclass(frozen=True)
class Worker:
    name: str
    last_heartbeat_time: datetime | None = None
    heartbeat_interval_seconds: int | None = None


@dataclass(frozen=True)
class Picture:
    """One pool as a scheduler sees it. ``runs``: its PENDING and RUNNING runs and its SCHEDULED
    runs (at least the due ones); others are ignored. ``pool`` None: the pool does not exist."""

    pool: Pool | None
    queues: tuple[Queue, ...] = ()
    runs: tuple[Run, ...] = ()
    workers: tuple[Worker, ...] = ()


@dataclass(frozen=True)
class Reason:
    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Explanation:
    run: Run
    position: int | None
    """0-based index among the pool's due runs in hand-out order; None unless the run is due."""
    ahead: tuple[Run, ...] = ()
    reasons: tuple[Reason, ...] = ()
    queue: Queue | None = None


@dataclass
class _Pool:
    """What every run of one picture shares, computed once (see :func:`explain_pool`)."""

    picture: Picture
    now: datetime
    queues: dict[str, Queue]
    slots: dict[str, QueueSlots]
    pool_slots: PoolSlots
    holders: dict[str, list[Run]]
    due: dict[str, list[Run]]
    order: list[Run]
    eligible_keys: list[tuple[Any, ...]]
    eligible_priorities: list[int]
    worker_reason: Reason | None
    positions: dict[str, int] = field(default_factory=dict)


# -- time -------------------------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time from the API as an aware UTC datetime (None for null or unreadable)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def format_time(value: datetime | None) -> str | None:
    """UTC, to the microsecond, with ``Z`` (what the documents print)."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _duration(seconds: float) -> str:
    """``1h 5m``, ``4m 3s``, ``12s``, ``2d 3h``: whole seconds, the two largest units."""
    total = int(abs(seconds))
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        if total >= size or (unit == "s" and not parts):
            parts.append(f"{total // size}{unit}")
            total %= size
    return " ".join(parts[:2])


def _ago(when: datetime, now: datetime) -> str:
    delta = (now - when).total_seconds()
    return f"{_duration(delta)} ago" if delta >= 0 else f"in {_duration(delta)}"


def worker_online(worker: Worker, now: datetime) -> bool:
    """Heartbeated within ``INACTIVITY_MULTIPLE`` intervals (``FALLBACK_INTERVAL`` when it sent none)."""
    if worker.last_heartbeat_time is None:
        return False
    window = (worker.heartbeat_interval_seconds or FALLBACK_INTERVAL) * INACTIVITY_MULTIPLE
    return now - worker.last_heartbeat_time <= timedelta(seconds=window)


# -- the computation --------------------------------------------------------------------------


def _names(runs: Sequence[Run]) -> str:
    shown = ", ".join(r.label for r in runs[:NAMED_RUNS])
    more = len(runs) - NAMED_RUNS
    return shown + (f" and {more} more" if more > 0 else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _due(run: Run, now: datetime) -> bool:
    return run.next_scheduled_start_time is not None and run.next_scheduled_start_time <= now


def _key(queue: Queue, run: Run) -> tuple[Any, ...]:
    """select_runs' order: priority, time, queue name, run id."""
    return (queue.priority, run.next_scheduled_start_time, queue.name, run.id)


def _worker_reason(picture: Picture, now: datetime) -> Reason | None:
    pool = picture.pool
    if pool is None or pool.type.endswith(WORKERLESS_TYPE_SUFFIXES):
        return None
    if any(worker_online(w, now) for w in picture.workers):
        return None
    seen = [w for w in picture.workers if w.last_heartbeat_time is not None]
    if not seen:
        return Reason("NO_WORKER", f"No worker has ever heartbeated for work pool {pool.name!r}: start one with "
                                   f"`prefect worker start --pool {pool.name}`.")
    last = max(seen, key=lambda w: (w.last_heartbeat_time, w.name))
    window = (last.heartbeat_interval_seconds or FALLBACK_INTERVAL) * INACTIVITY_MULTIPLE
    return Reason("NO_WORKER", f"No worker of work pool {pool.name!r} has heartbeated within its window "
                               f"({INACTIVITY_MULTIPLE} heartbeat intervals); last seen: worker {last.name!r}, "
                               f"{_ago(last.last_heartbeat_time, now)} (window {_duration(window)}).")  # type: ignore[arg-type]


def _prepare(picture: Picture, now: datetime) -> _Pool:
    queues = {q.id: q for q in picture.queues}
    holders: dict[str, list[Run]] = {q: [] for q in queues}
    due: dict[str, list[Run]] = {q: [] for q in queues}
    for run in picture.runs:
        if run.queue_id not in queues:
            continue
        if run.state_type in ACTIVE_TYPES:
            holders[run.queue_id].append(run)
        elif run.state_type == "SCHEDULED" and _due(run, now):
            due[run.queue_id].append(run)
    for runs in holders.values():
        runs.sort(key=lambda r: (r.name, r.id))
    for runs in due.values():
        runs.sort(key=lambda r: (r.next_scheduled_start_time, r.id))
    slots = {
        q.id: QueueSlots(id=q.id, name=q.name, priority=q.priority, is_paused=q.is_paused,
                         concurrency_limit=q.concurrency_limit, active=len(holders[q.id]))
        for q in picture.queues
    }
    pool = picture.pool or Pool(name="")
    pool_slots = PoolSlots(is_paused=pool.is_paused, concurrency_limit=pool.concurrency_limit,
                           active=sum(len(h) for h in holders.values()), name=pool.name)
    by_id = {r.id: r for runs in due.values() for r in runs}
    candidates = [Candidate(r.id, q, r.next_scheduled_start_time) for q, runs in due.items() for r in runs]  # type: ignore[arg-type]
    everything = len(candidates) + 1
    # the hand-out order with pauses and limits set aside: what position counts in
    opened = [QueueSlots(id=s.id, name=s.name, priority=s.priority, is_paused=False, concurrency_limit=None, active=0)
              for s in slots.values()]
    unlimited = PoolSlots(is_paused=False, concurrency_limit=None, active=0, name=pool.name)
    order = [by_id[c.id] for c in select_runs(unlimited, opened, candidates, queue_ids=None, scheduled_before=now,
                                              scheduled_after=None, limit=everything)]
    # the runs that pass their queue's cut (paused queues give none): what the pool's free slots go to
    eligible = select_runs(unlimited, list(slots.values()), candidates, queue_ids=None, scheduled_before=now,
                           scheduled_after=None, limit=everything)
    eligible_keys = [_key(queues[c.queue_id], by_id[c.id]) for c in eligible]
    state = _Pool(
        picture=picture, now=now, queues=queues, slots=slots, pool_slots=pool_slots, holders=holders, due=due,
        order=order, eligible_keys=eligible_keys,
        eligible_priorities=[k[0] for k in eligible_keys], worker_reason=_worker_reason(picture, now),
    )
    state.positions = {r.id: i for i, r in enumerate(order)}
    return state


def _pool_holders(state: _Pool) -> list[Run]:
    return sorted((r for runs in state.holders.values() for r in runs), key=lambda r: (r.name, r.id))


def _slot_reasons(state: _Pool, queue: Queue, run: Run) -> list[Reason]:
    """The reasons of a due SCHEDULED run in an existing queue of an existing pool, each judged as
    if the run's other reasons did not hold (other runs stand as they really are)."""
    pool = state.picture.pool
    assert pool is not None
    reasons: list[Reason] = []
    address = f"{pool.name}/{queue.name}"
    if pool.is_paused:
        reasons.append(Reason("POOL_PAUSED", f"Work pool {pool.name!r} is paused: it hands out no runs until it is "
                                             "resumed (`prefect work-pool resume`, or is_paused: false in the config)."))
    if queue.is_paused:
        reasons.append(Reason("QUEUE_PAUSED", f"Work queue {address!r} is paused: it hands out no runs until it is "
                                              "resumed (`prefect work-queue resume`, or is_paused: false in the config)."))
    pool_free = free_slots(pool.concurrency_limit, state.pool_slots.active)
    key = _key(queue, run)
    ahead = bisect.bisect_left(state.eligible_keys, key)
    if pool_free is not None and ahead >= pool_free:
        holders = _pool_holders(state)
        in_use = f"{state.pool_slots.active} of {pool.concurrency_limit} slots in use"
        by = f" (by {_names(holders)})" if holders else ""
        if pool_free == 0:
            text = f"Work pool {pool.name!r} is at its concurrency limit: {in_use}{by}."
        else:
            text = (f"Work pool {pool.name!r} has {in_use}{by}; its {_plural(pool_free, 'free slot')} "
                    f"{'goes' if pool_free == 1 else 'go'} to the {_plural(ahead, 'due run')} ahead of this one that "
                    "their queues can hand out.")
        reasons.append(Reason("POOL_LIMIT", text))
    slots = state.slots[queue.id]
    queue_free = free_slots(queue.concurrency_limit, slots.active)
    index = [r.id for r in state.due[queue.id]].index(run.id)
    if queue_free is not None and index >= queue_free:
        holders = state.holders[queue.id]
        in_use = f"{slots.active} of {queue.concurrency_limit} slots in use"
        by = f" (by {_names(holders)})" if holders else ""
        if queue_free == 0:
            text = f"Work queue {address!r} is at its concurrency limit: {in_use}{by}."
        else:
            earlier = state.due[queue.id][:index]
            text = (f"Work queue {address!r} has {in_use}{by}; its {_plural(queue_free, 'free slot')} "
                    f"{'goes' if queue_free == 1 else 'go'} to {_plural(len(earlier), 'earlier due run')} of the "
                    f"queue ({_names(earlier)}).")
        reasons.append(Reason("QUEUE_LIMIT", text))
    if pool_free is not None and ahead >= pool_free:
        higher = sum(1 for p in state.eligible_priorities[:ahead] if p < queue.priority)
        if higher:
            queues = sorted({k[2]: k[0] for k in state.eligible_keys[:ahead] if k[0] < queue.priority}.items(),
                            key=lambda item: (item[1], item[0]))
            where = ", ".join(f"{pool.name}/{name} (priority {priority})" for name, priority in queues)
            reasons.append(Reason("PRIORITY", f"{_plural(higher, 'due run')} in higher-priority queues ({where}) "
                                              f"come first while work pool {pool.name!r} has "
                                              f"{_plural(pool_free, 'free slot')} (queue {address!r} has priority "
                                              f"{queue.priority})."))
    return reasons


def _not_pool_reasons(picture: Picture, run: Run) -> Reason | None:
    if run.queue_id is None:
        if run.queue_name:
            where = f" of work pool {run.pool_name!r}" if run.pool_name else ""
            return Reason("NO_POOL", f"Flow run {run.label} names work queue {run.queue_name!r}{where}, which no longer "
                                     "exists (its pool was deleted?): no worker will receive it. Recreate the pool, or "
                                     "start a new run from a deployment with a pool.")
        return Reason("NO_POOL", f"Flow run {run.label} has no work queue (it was not started from a deployment with a "
                                 "work pool): no worker will receive it.")
    if picture.pool is None:
        name = f"work pool {run.pool_name!r}" if run.pool_name else "its work pool"
        return Reason("NO_POOL", f"The work queue {run.queue_name or run.queue_id!r} of flow run {run.label} is in "
                                 f"{name}, which does not exist: no worker will receive it.")
    if run.queue_id not in {q.id for q in picture.queues}:
        return Reason("NO_POOL", f"Work queue {run.queue_name or run.queue_id!r} of flow run {run.label} is not a queue "
                                 f"of work pool {picture.pool.name!r} (it no longer exists): no worker will receive it.")
    return None


def _explain(state: _Pool, run: Run) -> Explanation:
    picture, now = state.picture, state.now
    missing = _not_pool_reasons(picture, run)
    queue = state.queues.get(run.queue_id or "")
    reasons: list[Reason] = []
    if run.state_type != "SCHEDULED":
        kind = run.state_type or "without a state"
        name = f" (state {run.state_name!r})" if run.state_name and run.state_name.upper() != kind else ""
        claimed = " a worker has claimed it;" if run.state_type == "PENDING" else ""
        reasons.append(Reason("NOT_SCHEDULED", f"Flow run {run.label} is {kind}{name}, not SCHEDULED:{claimed} only "
                                               "SCHEDULED runs are handed out to workers."))
        return Explanation(run, None, (), tuple(reasons + ([missing] if missing else [])), queue)
    if missing is not None:
        if not _due(run, now):
            reasons.append(_not_due(run, now))
        return Explanation(run, None, (), tuple(reasons + [missing]), queue)
    assert queue is not None and picture.pool is not None
    if not _due(run, now):
        reasons.append(_not_due(run, now))
        if picture.pool.is_paused:
            reasons.append(Reason("POOL_PAUSED", f"Work pool {picture.pool.name!r} is paused: it hands out no runs "
                                                 "until it is resumed."))
        if queue.is_paused:
            reasons.append(Reason("QUEUE_PAUSED", f"Work queue {picture.pool.name + '/' + queue.name!r} is paused: it "
                                                  "hands out no runs until it is resumed."))
        if state.worker_reason is not None:
            reasons.append(state.worker_reason)
        return Explanation(run, None, (), tuple(reasons), queue)
    if state.positions.get(run.id) is None or state.order[state.positions[run.id]] != run:
        # the run as read on its own stands in for the picture's copy (read a moment apart, or missing)
        others = tuple(r for r in picture.runs if r.id != run.id)
        state = _prepare(Picture(picture.pool, picture.queues, (*others, run), picture.workers), now)
    position = state.positions[run.id]
    reasons.extend(_slot_reasons(state, queue, run))
    if state.worker_reason is not None:
        reasons.append(state.worker_reason)
    return Explanation(run, position, tuple(state.order[:position]), tuple(reasons), queue)


def _not_due(run: Run, now: datetime) -> Reason:
    when = run.next_scheduled_start_time
    if when is None:
        return Reason("NOT_DUE", f"Flow run {run.label} has no scheduled start time, so no poll selects it.")
    return Reason("NOT_DUE", f"Flow run {run.label} is scheduled for {format_time(when)}, "
                             f"in {_duration((when - now).total_seconds())}: a poll hands out only runs that are due.")


def explain_pool(picture: Picture, now: datetime) -> list[Explanation]:
    """Every SCHEDULED run of the pool: the due ones in hand-out order, then the others by time."""
    state = _prepare(picture, now)
    queues = state.queues
    later = sorted((r for r in picture.runs if r.state_type == "SCHEDULED" and r.queue_id in queues
                    and not _due(r, now)),
                   key=lambda r: (r.next_scheduled_start_time or datetime.max.replace(tzinfo=timezone.utc), r.id))
    return [_explain(state, r) for r in [*state.order, *later]]


def explain_run(picture: Picture, run: Run, now: datetime) -> Explanation:
    """Where ``run`` stands in ``picture`` (its pool's, or an empty one when it has no pool) and why
    it has not started."""
    return _explain(_prepare(picture, now), run)


# -- documents --------------------------------------------------------------------------------


def _run_json(run: Run) -> dict[str, Any]:
    return {"id": run.id, "name": run.name, "state_type": run.state_type, "state_name": run.state_name,
            "work_pool_name": run.pool_name, "work_queue_name": run.queue_name,
            "next_scheduled_start_time": format_time(run.next_scheduled_start_time)}


def explain_document(explanation: Explanation, picture: Picture) -> dict[str, Any]:
    """``poolform explain --json`` and ``GET /api/poolform/flow_runs/{id}/explain``."""
    run = explanation.run
    return {
        "run": _run_json(run),
        "pool": picture.pool.name if picture.pool is not None else run.pool_name,
        "queue": explanation.queue.name if explanation.queue is not None else run.queue_name,
        "position": explanation.position,
        "ahead": [{"id": r.id, "name": r.name, "work_queue_name": r.queue_name} for r in explanation.ahead],
        "reasons": [r.to_json() for r in explanation.reasons],
    }


def pending_document(picture: Picture, now: datetime) -> dict[str, Any]:
    """``GET /api/poolform/work_pools/{name}/pending``: each SCHEDULED run with position and reasons."""
    assert picture.pool is not None
    return {
        "pool": picture.pool.name,
        "now": format_time(now),
        "runs": [
            {"run": _run_json(e.run), "queue": e.queue.name if e.queue else e.run.queue_name,
             "position": e.position, "reasons": [r.to_json() for r in e.reasons]}
            for e in explain_pool(picture, now)
        ],
    }


def status_document(pictures: Iterable[Picture], now: datetime) -> dict[str, Any]:
    """``poolform status --json`` and ``GET /api/poolform/status``: per pool its numbers, per queue
    (in waterfall order) its numbers and backlog, and its workers."""
    pools = []
    for picture in pictures:
        if picture.pool is None:
            continue
        state = _prepare(picture, now)
        pool = picture.pool
        queues = []
        for q in sorted(picture.queues, key=lambda q: (q.priority, q.name)):
            due = state.due[q.id]
            oldest = due[0].next_scheduled_start_time if due else None
            queues.append({
                "name": q.name, "priority": q.priority, "is_paused": q.is_paused,
                "concurrency_limit": q.concurrency_limit, "slots_in_use": len(state.holders[q.id]),
                "backlog": len(due), "oldest_due": format_time(oldest),
                "lateness_seconds": None if oldest is None else round((now - oldest).total_seconds(), 3),
                "last_polled": format_time(q.last_polled),
            })
        workers = [
            {"name": w.name, "status": "ONLINE" if worker_online(w, now) else "OFFLINE",
             "last_heartbeat_time": format_time(w.last_heartbeat_time),
             "heartbeat_interval_seconds": w.heartbeat_interval_seconds}
            for w in sorted(picture.workers, key=lambda w: (w.last_heartbeat_time is None, w.name))
        ]
        pools.append({
            "name": pool.name, "type": pool.type, "status": pool.status or ("PAUSED" if pool.is_paused else None),
            "is_paused": pool.is_paused, "concurrency_limit": pool.concurrency_limit,
            "slots_in_use": state.pool_slots.active, "backlog": len(state.order),
            "queues": queues, "workers": workers,
        })
    return {"format_version": "1.0", "now": format_time(now), "pools": pools}


# -- Prefect API JSON -------------------------------------------------------------------------


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def run_from_api(body: Mapping[str, Any]) -> Run:
    """A FlowRunResponse (``GET /api/flow_runs/{id}``, ``/flow_runs/filter``) as a :class:`Run`."""
    state = body.get("state") if isinstance(body.get("state"), Mapping) else {}
    state_type = body.get("state_type") or (state or {}).get("type")
    state_name = body.get("state_name") or (state or {}).get("name")
    when = parse_time(body.get("next_scheduled_start_time"))
    if when is None and state_type == "SCHEDULED":
        when = parse_time(((state or {}).get("state_details") or {}).get("scheduled_time"))
    return Run(id=str(body.get("id")), name=str(body.get("name") or ""), state_type=state_type, state_name=state_name,
               queue_id=str(body["work_queue_id"]) if body.get("work_queue_id") else None,
               queue_name=body.get("work_queue_name"), pool_name=body.get("work_pool_name"),
               next_scheduled_start_time=when)


def picture_from_api(pool: Mapping[str, Any] | None, queues: Iterable[Mapping[str, Any]],
                     runs: Iterable[Mapping[str, Any]], workers: Iterable[Mapping[str, Any]]) -> Picture:
    """A :class:`Picture` from Prefect 3.x API bodies: ``GET /work_pools/{name}`` (None: 404), its
    ``queues/filter``, its PENDING/RUNNING and due SCHEDULED ``flow_runs/filter`` rows and its
    ``workers/filter``."""
    if pool is None:
        return Picture(None)
    return Picture(
        pool=Pool(name=str(pool.get("name")), type=str(pool.get("type") or ""), is_paused=bool(pool.get("is_paused")),
                  concurrency_limit=_int_or_none(pool.get("concurrency_limit")), status=pool.get("status")),
        queues=tuple(
            Queue(id=str(q.get("id")), name=str(q.get("name")), priority=_int_or_none(q.get("priority")) or 0,
                  is_paused=bool(q.get("is_paused")), concurrency_limit=_int_or_none(q.get("concurrency_limit")),
                  last_polled=parse_time(q.get("last_polled")))
            for q in queues
        ),
        runs=tuple(run_from_api(r) for r in runs),
        workers=tuple(
            Worker(name=str(w.get("name")), last_heartbeat_time=parse_time(w.get("last_heartbeat_time")),
                   heartbeat_interval_seconds=_int_or_none(w.get("heartbeat_interval_seconds")))
            for w in workers
        ),
    )
