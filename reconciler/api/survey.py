"""Read what ``poolform explain`` and ``poolform status`` need of a pool from any Prefect 3.x API:
the pool, its queues, its PENDING and RUNNING runs, its due SCHEDULED runs and its workers, as a
:class:`reconciler.explain.Picture` (API reads only, nothing written).

Must not decide anything: positions and reasons are ``reconciler.explain``'s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from reconciler.explain import ACTIVE_TYPES, Picture, Run, format_time, picture_from_api, run_from_api


def _runs_filter(pool: str, flow_runs: dict[str, Any], sort: str) -> dict[str, Any]:
    return {"work_pools": {"name": {"any_": [pool]}}, "flow_runs": flow_runs, "sort": sort}


def survey_pool(client: Any, pool: str, now: datetime, *, body: dict[str, Any] | None = None) -> Picture:
    """The pool's picture at ``now`` (``Picture(None)`` when the pool does not exist). ``body``: the
    pool as already read."""
    if body is None:
        body = client.read_pool(pool)
        if body is None:
            return Picture(None)
    active = _runs_filter(pool, {"state": {"type": {"any_": sorted(ACTIVE_TYPES)}}}, "ID_DESC")
    due = _runs_filter(pool, {"state": {"type": {"any_": ["SCHEDULED"]}},
                              "next_scheduled_start_time": {"before_": format_time(now)}}, "NEXT_SCHEDULED_START_TIME_ASC")
    reads = [
        lambda: client.read_queues(pool),
        lambda: client.read_flow_runs(active),
        lambda: client.read_flow_runs(due),
        lambda: client.read_workers(pool),
    ]
    queues, running, scheduled, workers = client.map(lambda read: read(), reads)
    return picture_from_api(body, queues, [*running, *scheduled], workers)


def survey_run(client: Any, run_id: str, now: datetime) -> tuple[Run, Picture] | None:
    """The run and its pool's picture (``Picture(None)`` when it has no pool); None: no such run."""
    body = client.read_flow_run(run_id)
    if body is None:
        return None
    run = run_from_api(body)
    pool = body.get("work_pool_name")
    if not pool or not body.get("work_queue_id"):
        return run, Picture(None)
    return run, survey_pool(client, pool, now)


def survey_pools(client: Any, names: Sequence[str], now: datetime) -> tuple[list[Picture], list[str]]:
    """The pictures of the pools named (every pool when none is), and the names not found."""
    if names:
        wanted = list(dict.fromkeys(names))
        bodies = {p["name"]: p for p in client.read_pools(wanted)}
        missing = [n for n in wanted if n not in bodies]
        found = [bodies[n] for n in wanted if n in bodies]
    else:
        found, missing = sorted(client.read_pools(), key=lambda p: p["name"]), []
    pictures = [survey_pool(client, p["name"], now, body=p) for p in found]
    return pictures, missing
