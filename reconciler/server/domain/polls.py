"""The scheduled-run polls (prefect-api.md §4, §1.4): ``get_scheduled_flow_runs`` of a work pool
and the legacy ``get_runs`` of a queue. A poll records itself (the queues' ``last_polled`` and
READY status, the deployments' ``last_polled``) and hands out SCHEDULED runs; it claims nothing.

Load (the pool, its queues with their occupancy, each eligible queue's oldest runs up to its free
slots) -> decide (``scheduling.select_runs``, pure) -> answer. On PostgreSQL the database
applies ``select_runs``' order and cut, in one statement while the pool is steady, and the server
makes the body from the runs' text it keeps by row version (:func:`_poll_composed`, :class:`_Sent`;
a test holds it to the general path byte for byte). Must not change a run's state: workers claim
with ``set_state`` (``flow_runs``).
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence, TypeVar

import reconciler.scheduling as scheduling
from reconciler.server.clock import as_utc, from_text, to_text
from reconciler.server.domain import Ctx, atomic, flow_runs, queues
from reconciler.server.domain.refusals import object_not_found, pool_not_found, queue_not_found
from reconciler.server.domain.sql import RUN_COLUMNS, active, count, dumps, in_clause, page_limit, states_in
from reconciler.server.orchestration import ACTIVE_TYPES


POLL_COLUMNS = ("id, work_queue_id, next_scheduled_start_time, expected_start_time, start_time, state_type, state_name, "
                "wire")
"""What a poll reads of a run, as a tuple in this order: the text it sends (``wire``) and the
columns that move with the clock."""


@atomic
def record_poll(ctx: Ctx, queue_ids: Sequence[str], now_text: str) -> None:
    """The queues polled are READY (unless paused) and their deployments polled now, in their
    own short transaction (the legacy ``get_runs``); see :func:`_record`."""
    _record(ctx, queue_ids, now_text)


def _record(ctx: Ctx, queue_ids: Sequence[str], now_text: str) -> None:
    """Two statements, each skipping the rows another poll is recording at this moment (it writes
    the same instant, give or take milliseconds; ``Store.update_unlocked``), so polls never wait
    for each other. They are the transaction's only writes, so its commit need not wait for the
    disk (``Store.commit_lazily``): a crash may lose the last polls' times, which the next poll
    writes again."""
    if not queue_ids:
        return
    ctx.store.commit_lazily()
    params: list[Any] = [now_text]
    clause = in_clause("id", queue_ids, params)
    ctx.store.update_unlocked(
        "work_queue", "last_polled = ?, status = CASE WHEN status = 'NOT_READY' THEN 'READY' ELSE status END", clause, params)
    params = [now_text]
    clause = in_clause("work_queue_id", queue_ids, params)
    ctx.store.update_unlocked("deployment", "last_polled = ?", clause, params)


def scheduled_runs(
    ctx: Ctx, pool_name: str, *, queue_names: list[str] | None, before: datetime | None, after: datetime | None,
    limit: int | None,
) -> bytes:
    """The poll's answer as JSON (UTF-8): ``[{work_pool_id, work_queue_id, flow_run}]``, handed out and
    recorded in one transaction. A pool with stale claims (``leases``) first has them returned to
    SCHEDULED in a transaction of their own (it locks the pool), so their slots and runs are handed
    out again."""
    poll = _poll_composed if ctx.store.dialect == "postgresql" else _poll
    outcome = poll(ctx, pool_name, queue_names=queue_names, before=before, after=after, limit=limit)
    if isinstance(outcome, _Stale):
        flow_runs.reclaim_stale(ctx, outcome.pool_id)
        outcome = poll(ctx, pool_name, queue_names=queue_names, before=before, after=after, limit=limit, reclaim=False)
    return outcome  # type: ignore[return-value]


@atomic
def _poll(
    ctx: Ctx, pool_name: str, *, queue_names: list[str] | None, before: datetime | None, after: datetime | None,
    limit: int | None, reclaim: bool = True,
) -> bytes | _Stale:
    """Load (the pool with its queues and their occupancy in one query; the runs the queues could
    give, highest priority first, until enough) -> decide (``scheduling.select_runs``) -> answer and
    record. Returns the pool's id instead (a :class:`_Stale`) when it holds claims to reclaim first."""
    limit = page_limit(limit)
    before = as_utc(before) if before else None
    after = as_utc(after) if after else None
    now = ctx.now()
    loaded = _load(ctx, pool_name, queue_names, now, reclaim)
    if isinstance(loaded, _Stale):
        return loaded
    text = _hand_out(ctx, loaded.pool_id, loaded.pool_slots, loaded.queues, loaded.queue_ids, before, after, limit, now)
    _record(ctx, loaded.polled, to_text(now))  # type: ignore[arg-type]
    return text.encode()


def _poll_composed(
    ctx: Ctx, pool_name: str, *, queue_names: list[str] | None, before: datetime | None, after: datetime | None,
    limit: int | None, reclaim: bool = True,
) -> bytes | _Stale:
    """:func:`_poll` on PostgreSQL, in two statements and no transaction: the pool with its queues
    and their occupancy (as :func:`_load` reads it), then one statement that records the poll
    (:func:`_record`'s two UPDATEs, as data-modifying CTEs) and answers it: a line a chosen run,
    joined by the database (:func:`_opening`), from which the server makes the body with the runs'
    text it has (:class:`_Sent`). Each statement is atomic by itself, and a transaction would add
    nothing to the reads: at READ COMMITTED each of its statements sees the data committed when it
    starts, as here. One value to fetch instead of a row per run.

    A poll whose pool is steady is one statement (:class:`_Guesses`): the one that records and
    answers, built from what the last poll with the same body loaded, with the pool's load as a
    column (read in the same snapshot as the runs). It is the answer when the load it returns
    makes that same statement (the same queues, slots and runs asked for: the same text and
    parameters); otherwise the right one follows (the guessed one recorded the poll, which the
    right one records again). The guessed statement records only if the pool and the queues the
    poll names exist under those names, so a refused poll records nothing."""
    limit = page_limit(limit)
    before = as_utc(before) if before else None
    after = as_utc(after) if after else None
    now = ctx.now()
    load = _load_statement(ctx, pool_name, now)
    guesses = _Guesses.of(ctx.store)
    key = (pool_name, tuple(queue_names) if queue_names else None, limit)
    guess = guesses.get(key)
    sent: _Opening | None = None
    if guess is not None and guess[1]:  # one statement: the load is one of its columns
        sent = _opening(guess[0], pool_name, queue_names, before, after, limit, now, load)
        row = ctx.store.one(sent.sql, sent.params, generic_plan=True, binary=True)
        rows = (row or {}).get("loaded") or []
    else:
        rows = ctx.store.query(*load)
    try:
        loaded = _loaded(rows, pool_name, queue_names, reclaim)
    except BaseException:
        guesses.pop(key)
        raise
    if isinstance(loaded, _Stale):
        guesses.pop(key)
        return loaded
    if sent is not None:
        made = sent if loaded == guess[0] else _opening(  # type: ignore[index]
            loaded, pool_name, queue_names, before, after, limit, now, load)
        if made.statement == sent.statement:
            guesses.put(key, loaded, True)
            return _hand_out_composed(ctx, loaded, made, row, before, after, limit, now)
    opening = _opening(loaded, pool_name, queue_names, before, after, limit, now)
    guesses.put(key, loaded, guess is not None and (
        loaded == guess[0] or _opening(guess[0], pool_name, queue_names, before, after, limit, now).statement == opening.statement))
    row = ctx.store.one(opening.sql, opening.params, generic_plan=True, binary=True) if opening.sql else None
    return _hand_out_composed(ctx, loaded, opening, row, before, after, limit, now)


_T = TypeVar("_T", bound="_PerStore")


class _PerStore:
    """One instance a store, made on first use and gone with the store (:meth:`of`)."""

    _of: "weakref.WeakKeyDictionary[Any, Any]"

    def __init_subclass__(cls) -> None:
        cls._of = weakref.WeakKeyDictionary()

    @classmethod
    def of(cls: type[_T], store: Any) -> _T:
        found = cls._of.get(store)
        if found is None:
            found = cls._of[store] = cls()
        return found  # type: ignore[no-any-return]


class _Guesses(_PerStore):
    """What the last poll of each pool and body (its queue names and limit) loaded
    (:class:`_Loaded`), and whether the statement it made was the one the poll before it made (a
    steady pool: the next poll sends the statement this load makes, with the load as a column).
    Only a guess, which a poll checks against the load it returns. One per store, at most
    :attr:`SIZE` bodies (then it starts again)."""

    SIZE = 1024

    def __init__(self) -> None:
        self._last: dict[Any, tuple[_Loaded, bool]] = {}

    def get(self, key: Any) -> tuple[_Loaded, bool] | None:
        return self._last.get(key)

    def pop(self, key: Any) -> None:
        self._last.pop(key, None)

    def put(self, key: Any, loaded: _Loaded, steady: bool) -> None:
        if len(self._last) >= self.SIZE and key not in self._last:
            self._last.clear()
        self._last[key] = (loaded, steady)


@dataclass(frozen=True)
class _Loaded:
    """What a poll decides on: the pool, its queues with their occupancy in priority order, the
    queues the poll names (None: all) and the ones it records as polled."""

    pool_id: str
    pool_slots: scheduling.PoolSlots
    queues: list[scheduling.QueueSlots]
    queue_ids: set[str] | None
    polled: list[str]


def _load(ctx: Ctx, pool_name: str, queue_names: list[str] | None, now: datetime, reclaim: bool) -> _Loaded | _Stale:
    """The pool with its queues and their occupancy in one statement; refuses a missing pool or
    queue; a :class:`_Stale` when the pool holds claims to reclaim first (and ``reclaim``)."""
    return _loaded(ctx.store.query(*_load_statement(ctx, pool_name, now)), pool_name, queue_names, reclaim)


def _load_statement(ctx: Ctx, pool_name: str, now: datetime) -> tuple[str, list[Any]]:
    """:func:`_load`'s statement and its parameters (also a column of a steady poll's statement)."""
    cutoff = to_text(now - timedelta(seconds=ctx.pending_timeout))
    return (
        "SELECT p.id AS pool_id, p.is_paused AS pool_paused, p.concurrency_limit AS pool_limit, "
        "q.id, q.name, q.priority, q.is_paused, q.concurrency_limit, "
        f"(SELECT COUNT(*) FROM flow_run r WHERE r.work_queue_id = q.id AND {active('r.state_type')}) AS active, "
        "CASE WHEN EXISTS (SELECT 1 FROM flow_run r WHERE r.work_queue_id = q.id AND r.state_type = 'PENDING' "
        "AND r.state_timestamp < ?) THEN 1 ELSE 0 END AS stale "
        "FROM work_pool p LEFT JOIN work_queue q ON q.work_pool_id = p.id WHERE p.name = ? ORDER BY q.priority, q.name",
        [cutoff, pool_name],
    )


def _loaded(rows: Sequence[Any], pool_name: str, queue_names: list[str] | None, reclaim: bool) -> _Loaded | _Stale:
    """:func:`_load` once its statement's rows are in."""
    if not rows:
        raise pool_not_found(pool_name)
    pool = rows[0]
    if reclaim and any(r["stale"] for r in rows):
        return _Stale(pool["pool_id"])
    in_pool = [
        scheduling.QueueSlots(id=q["id"], name=q["name"], priority=q["priority"], is_paused=bool(q["is_paused"]),
                              concurrency_limit=q["concurrency_limit"], active=int(q["active"]))
        for q in rows if q["id"] is not None
    ]
    by_name = {q.name: q for q in in_pool}
    queue_ids: set[str] | None = None
    if queue_names:
        queue_ids = set()
        for name in queue_names:
            if name not in by_name:
                raise queue_not_found(pool_name, name)
            queue_ids.add(by_name[name].id)
    pool_slots = scheduling.PoolSlots(
        is_paused=bool(pool["pool_paused"]), concurrency_limit=pool["pool_limit"],
        active=sum(q.active for q in in_pool), name=pool_name,
    )
    polled = [q.id for q in in_pool if queue_ids is None or q.id in queue_ids]
    return _Loaded(pool["pool_id"], pool_slots, in_pool, queue_ids, polled)


@dataclass(frozen=True)
class _Stale:
    """A pool with runs PENDING longer than the lease: its stale claims are reclaimed before a poll
    hands anything out (the reclaim decides which are: a heartbeating worker's are not)."""

    pool_id: str


def _hand_out(ctx: Ctx, pool_id: str, pool_slots: scheduling.PoolSlots, in_pool: list[scheduling.QueueSlots],
              queue_ids: set[str] | None, before: datetime | None, after: datetime | None, limit: int,
              now: datetime) -> str:
    wanted, caps = _caps(pool_slots, in_pool, queue_ids, limit)
    if not caps:
        return "[]"
    found = _candidate_runs(ctx, [q for q in in_pool if q.id in caps], caps, wanted, before, after)
    by_id = {r[0]: r for r in found}
    chosen = scheduling.select_runs(
        pool_slots, in_pool,
        [scheduling.Candidate(r[0], r[1], from_text(r[2])) for r in found],  # type: ignore[arg-type]
        queue_ids=queue_ids, scheduled_before=before, scheduled_after=after, limit=limit,
    )
    if not chosen:
        return "[]"
    unwritten = [c.id for c in chosen if by_id[c.id][7] is None]  # runs from before the wire column
    full: dict[str, Any] = {}
    if unwritten:
        params: list[Any] = []
        full = {r["id"]: r for r in ctx.store.query(f"SELECT {RUN_COLUMNS} FROM flow_run WHERE {in_clause('id', unwritten, params)}", params)}
    late, now_text = flow_runs.late_before(now), to_text(now)
    pool_text = dumps(pool_id)
    heads = {q: _item_head(pool_text, dumps(q)) for q in caps}
    item = flow_runs.poll_item
    parts = []
    for c in chosen:
        run_id, queue_id, next_start, expected, start_time, state_type, state_name, wire = by_id[c.id]
        if wire is not None:
            parts.append(item(heads[queue_id], wire, state_type, state_name, next_start, expected, start_time,
                              now, now_text, late))  # type: ignore[arg-type]
        elif run_id in full:
            parts.append(f'{{"work_pool_id":{pool_text},"work_queue_id":{dumps(queue_id)},'
                         f'"flow_run":{flow_runs.core_run_text(full[run_id], now)}}}')
    return "[" + ",".join(parts) + "]"


def _item_head(pool_text: str, queue_text: str) -> str:
    """A poll item's text up to its run's ``state_name`` value (``flow_runs.poll_item``'s ``head``),
    from the pool's and the queue's ids as JSON."""
    return f'{{"work_pool_id":{pool_text},"work_queue_id":{queue_text},"flow_run":{{"work_queue_id":{queue_text},"state_name":'


def _caps(pool_slots: scheduling.PoolSlots, in_pool: list[scheduling.QueueSlots], queue_ids: set[str] | None,
          limit: int) -> tuple[int, dict[str, int]]:
    """How many runs the poll may hand out (the limit, at most the pool's free slots) and how many
    each queue it may take from may give (at most that, and the queue's free slots); no queue when
    the pool is paused or full."""
    pool_free = scheduling.free_slots(pool_slots.concurrency_limit, pool_slots.active)
    if pool_slots.is_paused or limit <= 0 or pool_free == 0:
        return 0, {}
    wanted = limit if pool_free is None else min(limit, pool_free)
    caps: dict[str, int] = {}
    for q in in_pool:
        if q.is_paused or (queue_ids is not None and q.id not in queue_ids):
            continue
        cap = min(x for x in (wanted, scheduling.free_slots(q.concurrency_limit, q.active)) if x is not None)
        if cap > 0:
            caps[q.id] = cap
    return wanted, caps


_RECORD_CTES = (
    "WITH polled_queues AS (UPDATE work_queue SET last_polled = ?, "
    "status = CASE WHEN status = 'NOT_READY' THEN 'READY' ELSE status END WHERE id IN "
    "(SELECT id FROM work_queue WHERE {queues} AND {named} ORDER BY id FOR NO KEY UPDATE SKIP LOCKED) RETURNING 1), "
    "polled_deployments AS (UPDATE deployment SET last_polled = ? WHERE id IN "
    "(SELECT id FROM deployment WHERE {deployments} AND {named} ORDER BY id FOR NO KEY UPDATE SKIP LOCKED) RETURNING 1) "
)
""":func:`_record`'s two UPDATEs as data-modifying CTEs (PostgreSQL runs them to completion whether
or not the statement reads them), skipping rows another poll is recording, locked in id order;
``{named}``: the pool and the queues the poll names exist under those names."""

_TERMINAL_IN = states_in("st", flow_runs.TERMINAL)

_ITEMS = (
    "SELECT set_config('synchronous_commit', 'off', true) AS lazy{loaded}, "
    "string_agg(concat(q, ' ', id, ' ', x, ':', wl, ' ', delta, ' ', name), E'\\n' ORDER BY p, t, qn, id) AS runs, "
    "count(*) AS n, bool_or(wl IS NULL) AS unwritten FROM ("
    "SELECT c.*, CASE WHEN sn = 'Scheduled' THEN CASE WHEN st = 'SCHEDULED' AND t < ? THEN '\"Late\"' "
    "ELSE '\"Scheduled\"' END ELSE COALESCE(to_json(sn)::text, 'null') END AS name, "
    f"CASE WHEN s IS NOT NULL OR e IS NULL OR e >= ? OR {_TERMINAL_IN} THEN '0.0' ELSE "
    "(SELECT CASE WHEN x ~ '[.e]' THEN x ELSE x || '.0' END FROM "
    "(SELECT GREATEST(0, EXTRACT(EPOCH FROM ?::timestamptz - e::timestamptz))::float8::text AS x) AS f) END AS delta "
    "FROM ({runs}) AS c) AS d"
)
"""The chosen runs as lines of text, one a run in the body's order: its queue's id, its id, its
row's version (``xmin``, the transaction that wrote it, and the length of its ``wire``), the start
delta and the state's name as :func:`flow_runs.poll_item` writes them: ``Late`` before
``late_before``; the delta as Python's ``repr`` of the float (PostgreSQL's shortest exact text,
with ``.0`` added to a whole number; the store sets ``extra_float_digits``). :class:`_Sent` makes
the poll items from them. ``{runs}``: a UNION ALL of per-queue selects (:func:`_runs_statement`),
cut to what the poll may hand out in the order ``scheduling.select_runs`` sorts (priority, start,
queue name, run id). The commit of the poll's bookkeeping need not wait for the disk
(``Store.commit_lazily``: ``set_config`` local to the statement's own transaction)."""

_WIRES = "SELECT id, xmin::text || ':' || octet_length(wire), wire FROM flow_run WHERE {ids}"
"""The runs' ``wire`` text with their row's version, as :data:`_ITEMS` writes it."""


class _Sent(_PerStore):
    """The poll items this server made, by pool and :data:`_ITEMS` line, and the ``wire`` text they
    were made of, by run, with its row's version. A row's version names one text for good: any
    write of the row, here or by another server on the database, makes a new version, which the
    next poll's line carries. So a poll of runs unchanged since an earlier one reads their lines
    instead of their text, and the database joins nothing. One per store, up to :attr:`BYTES` of
    text (then it starts again)."""

    BYTES = 8 << 20

    def __init__(self) -> None:
        self.items: dict[str, dict[str, bytes]] = {}
        self.wires: dict[str, tuple[str, bytes]] = {}
        self.size = 0

    def body(self, ctx: Ctx, pool_id: str, text: str) -> bytes | None:
        """The body: the poll items of :data:`_ITEMS`' lines in brackets (their bytes copied once);
        None when a run changed since the lines were read (its row has another version now, or is
        gone)."""
        items = self.items.get(pool_id)
        if items is None:
            items = self.items[pool_id] = {}
        lines = text.split("\n")
        found = [items.get(line) for line in lines]
        if None in found:
            if self.size > self.BYTES:
                self.items, self.wires, self.size = {pool_id: items}, {}, 0
                items.clear()
            missing = [line.split(" ", 4) for line, item in zip(lines, found) if item is None]
            unknown = [run for _, run, version, _, _ in missing if self.wires.get(run, ("",))[0] != version]
            if unknown:
                params: list[Any] = []
                wires = _WIRES.replace("{ids}", in_clause("id", unknown, params))
                for run, version, wire in ctx.store.tuples(wires, params):
                    if wire is not None:
                        self.wires[run] = (version, wire.encode())
                        self.size += len(wire)
            pool_text = dumps(pool_id)
            at = iter(i for i, item in enumerate(found) if item is None)
            for queue, run, version, delta, name in missing:
                known = self.wires.get(run)
                if known is None or known[0] != version:
                    return None
                head = f'{_item_head(pool_text, dumps(queue))}{name},"estimated_start_time_delta":{delta},'
                item = b"".join((head.encode(), known[1], name.encode(), b"}}}"))
                found[next(at)] = items[" ".join((queue, run, version, delta, name))] = item
                self.size += len(item)
        found[0] = b"[" + found[0]  # type: ignore[operator]
        found[-1] += b"]"  # type: ignore[operator]
        return b",".join(found)  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Opening:
    """The statement that records a poll and, when the poll may hand runs out, answers it with
    the first priority's (``first``; the others, ``rest``, only if those fall short)."""

    sql: str
    """Empty when there is nothing to record and no run to read."""
    params: tuple[Any, ...]
    wanted: int
    first: tuple[scheduling.QueueSlots, ...]
    rest: tuple[scheduling.QueueSlots, ...]
    caps: tuple[tuple[str, int], ...]

    @property
    def statement(self) -> tuple[str, tuple[Any, ...]]:
        """What goes to the database: two openings with the same read the same rows."""
        return self.sql, self.params


def _opening(loaded: _Loaded, pool_name: str, queue_names: list[str] | None, before: datetime | None,
             after: datetime | None, limit: int, now: datetime,
             load: tuple[str, list[Any]] | None = None) -> _Opening:
    """The runs are chosen as :func:`_hand_out` chooses them: each queue's oldest up to its cap,
    then ``select_runs``' order and cut, which here are the statement's ``ORDER BY`` and ``LIMIT``.
    With ``load`` (:func:`_load_statement`), its rows are the column ``loaded``, in the same
    snapshot as the runs."""
    now_text = to_text(now)
    named: list[Any] = []
    if queue_names:
        guard = ("(SELECT COUNT(*) FROM work_queue n JOIN work_pool o ON o.id = n.work_pool_id WHERE o.name = ? "
                 "AND n.name IN (SELECT value FROM json_each(?))) = ?")
        named = [pool_name, json.dumps(sorted(set(queue_names))), len(set(queue_names))]
    else:
        guard, named = "EXISTS (SELECT 1 FROM work_pool o WHERE o.id = ? AND o.name = ?)", [loaded.pool_id, pool_name]
    params: list[Any] = [now_text]
    queues_clause = in_clause("id", loaded.polled, params)
    params += [*named, now_text]
    deployments_clause = in_clause("work_queue_id", loaded.polled, params)
    params += named
    record = ""
    if loaded.polled:
        record = (_RECORD_CTES.replace("{queues}", queues_clause).replace("{deployments}", deployments_clause)
                  .replace("{named}", guard))
    else:
        params = []
    wanted, caps = _caps(loaded.pool_slots, loaded.queues, loaded.queue_ids, limit)
    in_order = [q for q in loaded.queues if q.id in caps]
    loaded_column = ""
    if load is not None:
        loaded_column = f", (SELECT json_agg(l ORDER BY l.priority, l.name) FROM ({load[0]}) AS l) AS loaded"
        params += load[1]
    if not in_order:
        lazy = f"SELECT set_config('synchronous_commit', 'off', true) AS lazy{loaded_column}"
        return _Opening(record + lazy if record or load else "", tuple(params), wanted, (), (), ())
    first = [q for q in in_order if q.priority == in_order[0].priority]
    sql, params = _runs_statement(record + _ITEMS.replace("{loaded}", loaded_column), params, first, caps, wanted,
                                  before, after, now)
    return _Opening(sql, tuple(params), wanted, tuple(first), tuple(in_order[len(first):]), tuple(caps.items()))


def _hand_out_composed(ctx: Ctx, loaded: _Loaded, opening: _Opening, row: Any, before: datetime | None,
                       after: datetime | None, limit: int, now: datetime) -> bytes:
    """The answer from the first statement's row (``row``), with a second statement when the first
    priority's queues give fewer runs than the poll may take, for the other queues. A run written
    before the ``wire`` column existed, or changed since the statement read its line, sends the
    poll through :func:`_hand_out` (its answer, recorded once)."""
    if not opening.first:
        return b"[]"
    caps = dict(opening.caps)
    head = _runs_result(row)
    if head is not None and opening.rest and head[1] < opening.wanted:
        sql, params = _runs_statement(_ITEMS.replace("{loaded}", ""), [], list(opening.rest), caps,
                                      opening.wanted - head[1], before, after, now)
        tail = _runs_result(ctx.store.one(sql, params, generic_plan=True, binary=True))  # planning it: ~0.7 ms
        head = None if tail is None else ("\n".join(t for t in (head[0], tail[0]) if t), head[1] + tail[1])
    body = None
    if head is not None:
        body = _Sent.of(ctx.store).body(ctx, loaded.pool_id, head[0]) if head[0] else b"[]"
    if body is None:
        return _hand_out(ctx, loaded.pool_id, loaded.pool_slots, loaded.queues, loaded.queue_ids, before, after,
                         limit, now).encode()
    return body


def _window(before: datetime | None, after: datetime | None) -> tuple[str, list[Any]]:
    """The poll's time window as SQL conditions on a run's next start, and their parameters."""
    window = ""
    bounds: list[Any] = []
    if before is not None:
        window += " AND next_scheduled_start_time <= ?"
        bounds.append(to_text(before))
    if after is not None:
        window += " AND next_scheduled_start_time >= ?"
        bounds.append(to_text(after))
    return window, bounds


def _runs_statement(items: str, params: list[Any], queues: list[scheduling.QueueSlots], caps: dict[str, int],
                    cut: int, before: datetime | None, after: datetime | None, now: datetime) -> tuple[str, list[Any]]:
    """The statement writing the lines of the first ``cut`` runs of ``queues`` (each giving at most
    its cap): ``items`` (:data:`_ITEMS` and what goes before it: the poll's bookkeeping CTEs, with
    ``params``) over them."""
    window, bounds = _window(before, after)
    params = [*params, flow_runs.late_before(now), to_text(now), to_text(now)]
    selects = []
    for i, q in enumerate(queues):
        selects.append(
            "SELECT * FROM (SELECT ?::integer AS p, ?::text COLLATE \"C\" AS qn, work_queue_id AS q, id COLLATE \"C\" AS id, "
            "next_scheduled_start_time COLLATE \"C\" AS t, expected_start_time COLLATE \"C\" AS e, start_time AS s, "
            "state_type AS st, state_name AS sn, xmin AS x, octet_length(wire) AS wl FROM flow_run "
            f"WHERE work_queue_id = ? AND state_type = 'SCHEDULED'{window} "
            f"ORDER BY flow_run.next_scheduled_start_time, flow_run.id LIMIT ?) AS q{i}")
        params.extend([q.priority, q.name, q.id, *bounds, caps[q.id]])
    runs = " UNION ALL ".join(selects)
    if sum(caps[q.id] for q in queues) > cut:  # else every run read is handed out: no sort of the runs' rows
        runs += " ORDER BY p, t, qn, id LIMIT ?"
        params.append(cut)
    return items.replace("{runs}", runs), params


def _runs_result(row: Any) -> tuple[str, int] | None:
    """The lines a :func:`_runs_statement` wrote, and how many; None when one of the runs has no
    ``wire`` text."""
    assert row is not None
    if row["unwritten"]:
        return None
    return row["runs"] or "", int(row["n"])


def _candidate_runs(ctx: Ctx, queues_in_order: list[scheduling.QueueSlots], caps: dict[str, int], wanted: int,
                    before: datetime | None, after: datetime | None) -> list[Any]:
    """Each queue's oldest SCHEDULED runs in the window, up to its cap, read highest priority first
    and no further than needed: ``select_runs`` takes runs by priority before time, so once the
    queues above a priority give ``wanted`` runs, no run below it can be chosen. The first
    priority's queues are one query; if they fall short, every other queue is the second."""
    if not queues_in_order:
        return []
    first = [q for q in queues_in_order if q.priority == queues_in_order[0].priority]
    rows = _runs_of(ctx, first, caps, before, after)
    rest = queues_in_order[len(first):]
    if rest and len(rows) < wanted:
        rows += _runs_of(ctx, rest, caps, before, after)
    return rows


def _runs_of(ctx: Ctx, queues: list[scheduling.QueueSlots], caps: dict[str, int], before: datetime | None,
             after: datetime | None) -> list[Any]:
    """One statement: for each queue, its oldest SCHEDULED runs in the window, up to its cap."""
    window, bounds = _window(before, after)
    selects, params = [], []
    for i, q in enumerate(queues):
        selects.append(f"SELECT * FROM (SELECT {POLL_COLUMNS} FROM flow_run WHERE work_queue_id = ? "
                       f"AND state_type = 'SCHEDULED'{window} ORDER BY next_scheduled_start_time, id LIMIT ?) AS q{i}")
        params.extend([q.id, *bounds, caps[q.id]])
    return ctx.store.tuples(" UNION ALL ".join(selects), params)


def legacy_get_runs(ctx: Ctx, queue_id: str, before: datetime | None, limit: int | None, *,
                    record: bool) -> list[dict[str, Any]]:
    """The queue's SCHEDULED runs up to its free slots (CANCELLING runs hold one too, as in
    Prefect's legacy route); ``record`` is False for the UI's reads, which are not polls."""
    found = ctx.store.one("SELECT work_pool_id FROM work_queue WHERE id = ?", (queue_id,))
    if found is not None:
        flow_runs.reclaim_stale(ctx, found["work_pool_id"])
    runs, now = _legacy_runs(ctx, queue_id, before, limit)
    if record:
        record_poll(ctx, [queue_id], to_text(now))  # type: ignore[arg-type]
    return runs


@atomic
def _legacy_runs(ctx: Ctx, queue_id: str, before: datetime | None, limit: int | None) -> tuple[list[dict[str, Any]], datetime]:
    limit = page_limit(limit)
    queue = queues.queue_by_id(ctx, queue_id, object_not_found("Work queue", queue_id, "."))
    now = ctx.now()
    pool = ctx.store.one("SELECT is_paused FROM work_pool WHERE id = ?", (queue["work_pool_id"],))
    if queue["is_paused"] or (pool is not None and pool["is_paused"]):
        return [], now
    if queue["concurrency_limit"] is not None:
        busy = count(ctx.store.one(
            f"SELECT COUNT(*) AS n FROM flow_run WHERE work_queue_id = ? AND {states_in('state_type', ACTIVE_TYPES | {'CANCELLING'})}",
            (queue_id,),
        ))
        limit = min(limit, max(0, queue["concurrency_limit"] - busy))
    sql = f"SELECT {RUN_COLUMNS} FROM flow_run WHERE work_queue_id = ? AND state_type = 'SCHEDULED'"
    params: list[Any] = [queue_id]
    if before is not None:
        sql += " AND next_scheduled_start_time <= ?"
        params.append(to_text(as_utc(before)))
    rows = ctx.store.query(sql + " ORDER BY next_scheduled_start_time, id LIMIT ?", (*params, limit))
    return [flow_runs.run_json(ctx, r, now, pool=(None, None)) for r in rows], now
