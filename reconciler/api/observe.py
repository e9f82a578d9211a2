"""Read what the server holds into an :class:`~reconciler.model.state.ObservedState`.

Owns: choosing which pools and queues to read and reading them in as few round
trips as the API allows (paged ``/filter`` calls of 200, concurrent per pool).
Must not compare anything with the config or decide what to change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Sequence

from reconciler.errors import ApiError, NotFound
from reconciler.model.state import (
    DesiredState,
    ObservedDeployment,
    ObservedPool,
    ObservedState,
    parse_address,
    queue_address_candidates,
)

LEGACY_QUEUE_READ_MIN_POOLS = 16
"""From this many pools on, one paged legacy ``/work_queues/filter`` beats a call per pool."""


def target_pools(targets: Iterable[str], declared: Iterable[str] = ()) -> list[str]:
    """The pool names that ``--target`` addresses refer to (ValueError for a malformed address).

    A queue address whose pool part is ambiguous (dots in pool or queue names) names the
    longest declared pool it starts with; when none is declared, every possible pool.
    """
    known = set(declared)
    names: list[str] = []
    for address in targets:
        kind, pool, _ = parse_address(address)
        if kind == "work_queue":
            candidates = [p for p, _ in queue_address_candidates(address)]
            pools = next(([p] for p in candidates if p in known), candidates)
        else:
            pools = [pool]
        names.extend(p for p in pools if p not in names)
    return names


def _waves(rows: int) -> int:
    """How many pages to ask for at once for about ``rows`` rows (at most the client's workers)."""
    return max(1, min(8, -(-rows // 200)))


def read_queues_of(client: Any, pools: Sequence[str], *, expected: int = 0) -> dict[str, list[dict[str, Any]] | None]:
    """Queue rows per pool name; None for a pool that vanished between the reads.

    ``expected``: about how many queues there are (sizes the first wave of legacy pages).
    """
    if not pools:
        return {}
    if len(pools) >= LEGACY_QUEUE_READ_MIN_POOLS:
        grouped = client.read_all_queues(parallel=_waves(max(expected, 2 * len(pools))))
        if grouped is not None:
            return {name: grouped.get(name, []) for name in pools}

    def one(name: str) -> list[dict[str, Any]] | None:
        try:
            return client.read_queues(name)
        except NotFound:
            return None

    return dict(zip(pools, client.map(one, list(pools))))


def observe_pools(client: Any, names: Iterable[str] | None, *, queues_for: Iterable[str] | None = None) -> ObservedState:
    """Pools named (all when ``names`` is None) and the queues of ``queues_for`` (default: every pool read)."""
    rows = client.read_pools(None if names is None else list(names))
    by_name = {row["name"]: row for row in rows}
    wanted = list(by_name) if queues_for is None else [n for n in dict.fromkeys(queues_for) if n in by_name]
    queue_rows = read_queues_of(client, wanted)
    state = ObservedState(api_url=client.api_url)
    for name in sorted(by_name):
        queues = queue_rows.get(name, [])
        if queues is None:
            continue
        state.pools[name] = ObservedPool.from_api(by_name[name], queues)
    return state


def observe(client: Any, desired: DesiredState, *, targets: Sequence[str] = (), all_pools: bool = False) -> ObservedState:
    """What the plan needs to see.

    With ``targets``: only the pools they name. Otherwise the declared pools,
    plus every pool on the server when ``desired.scope`` is set or ``all_pools``
    (to find owned, undeclared and unmanaged pools). Queues are read for the
    pools the config declares or owns; other pools are listed without them.
    """
    if targets:
        names: list[str] | None = target_pools(targets, desired.pools)
    elif desired.scope or all_pools:
        names = None
    else:
        names = sorted(desired.pools)
    rows = client.read_pools(names, parallel=1 if names is not None else _waves(len(desired.pools) + 1))
    by_name = {row["name"]: row for row in rows}
    owned = [name for name in sorted(by_name) if desired.owns_pool(name)]
    expected = sum(len(p.queues) + 1 for p in desired.pools.values()) + len(by_name)
    queue_rows = read_queues_of(client, owned, expected=expected)
    state = ObservedState(api_url=client.api_url)
    for name in sorted(by_name):
        if name in queue_rows:
            queues = queue_rows[name]
            if queues is None:
                continue
        else:
            queues = []
        state.pools[name] = ObservedPool.from_api(by_name[name], queues)
    return state


def observe_deployments(client: Any, pools: Iterable[str]) -> dict[str, list[ObservedDeployment]]:
    """Deployments per pool name, for the pools given (one paged filter call per 200 pools)."""
    names = sorted(set(pools))
    out: dict[str, list[ObservedDeployment]] = {name: [] for name in names}
    if not names:
        return out
    rows = client.read_deployments(names)
    flow_names: dict[str, str] = {}
    flow_ids = [str(r["flow_id"]) for r in rows if r.get("flow_id")]
    if flow_ids:
        try:
            flow_names = {str(f["id"]): f.get("name") for f in client.read_flows(flow_ids)}
        except ApiError:
            flow_names = {}
    for row in rows:
        pool = row.get("work_pool_name")
        if pool not in out:
            continue
        out[pool].append(ObservedDeployment(
            id=str(row.get("id", "")),
            name=row.get("name", ""),
            flow_name=flow_names.get(str(row.get("flow_id"))),
            work_pool_name=pool,
            work_queue_name=row.get("work_queue_name"),
            job_variables=row.get("job_variables") or {},
        ))
    for deployments in out.values():
        deployments.sort(key=lambda d: ((d.flow_name or ""), d.name))
    return out


def due_runs_filter(pool: str, queue: str | None, now: datetime) -> dict[str, Any]:
    """The ``/flow_runs/count`` body for the SCHEDULED runs of ``pool`` (of its ``queue``) due at ``now``."""
    body: dict[str, Any] = {
        "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}},
                      "next_scheduled_start_time": {"before_": now.isoformat()}},
        "work_pools": {"name": {"any_": [pool]}},
    }
    if queue is not None:
        body["work_pool_queues"] = {"name": {"any_": [queue]}}
    return body


def observe_due_runs(client: Any, targets: Iterable[tuple[str, str, str | None]], now: datetime) -> dict[str, int]:
    """Due SCHEDULED runs per address, for ``(address, pool, queue or None)`` targets (one count call each,
    concurrent). ``now``: an aware datetime, the instant runs must be due by."""
    wanted = list(dict.fromkeys(targets))
    counts = client.map(lambda t: client.count_flow_runs(due_runs_filter(t[1], t[2], now)), wanted)
    return {address: count for (address, _, _), count in zip(wanted, counts)}
