"""The reference server's domain: what each request does to the store, one module per resource
(as Prefect's ``server/models/``), plain functions over a :class:`Ctx` (the store and the clock).

* ``pools``       work pools
* ``queues``      work queues: pool-scoped, the legacy id routes, the priority walk, the default queue
* ``workers``     heartbeats and worker status
* ``deployments`` flows and deployments
* ``flow_runs``   flow runs, their state (``set_state``) and logs
* ``polls``       the scheduled-run polls (``get_scheduled_flow_runs``, legacy ``get_runs``)
* ``slots``       occupancy: which runs hold a pool's or a queue's slots, and concurrency status
* ``standings``   poolform's extension reads: pending runs with position and reasons, explain, status
* ``sql``         the SQL the modules share: columns, JSON text, ``IN`` lists, occupancy, row locks
* ``refusals``    the refusals a request can meet (not found, conflict, ...)

Each public function is one transaction (:func:`atomic`): it locks what it will decide on
(``sql.lock_pool`` and friends, in the order pool, queues, deployments, runs), loads what a rule
needs, asks the pure modules (``reconciler.scheduling``, ``orchestration``, ``reconciler.explain``,
``reconciler.template_rules``)
what to do, and writes what they decided. Refusals are raised as :mod:`refusals` values; the routes map
them (and the outcomes functions return) to HTTP status codes — the domain never names one.
Must not import FastAPI, the routes or anything outside the server but the shared pure modules
(``template_rules``, ``scheduling``, ``explain``).
"""

from __future__ import annotations

import functools
import random
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, TypeVar

from reconciler.server.clock import as_utc, to_text
from reconciler.server.leases import PENDING_TIMEOUT
from reconciler.server.store import Store, StoreBusy

ATTEMPTS = 5
"""How many times :func:`atomic` runs a transaction the database could not order."""

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Ctx:
    """What every domain function works on: the store, the clock (any zero-argument callable
    returning an aware datetime; tests pass a ``ManualClock``) and the server's settings."""

    store: Store
    clock: Callable[[], datetime]
    pending_timeout: float = PENDING_TIMEOUT
    """Seconds a run may stay PENDING under a worker that stopped heartbeating (``leases``)."""

    def now(self) -> datetime:
        return as_utc(self.clock())

    def now_text(self) -> str:
        return to_text(self.now())  # type: ignore[return-value]


def atomic(fn: F) -> F:
    """Run ``fn(ctx, ...)`` in one store transaction (joining the caller's when there is one).
    When the database could not order it with a concurrent one (``StoreBusy``: a PostgreSQL
    deadlock or serialization failure; everything was rolled back), the outermost call runs it
    again, up to :data:`ATTEMPTS` times, then lets ``StoreBusy`` through (a 503 to retry)."""

    @functools.wraps(fn)
    def run(ctx: Ctx, *args: Any, **kwargs: Any) -> Any:
        attempt = 0
        while True:
            outermost = not ctx.store.in_transaction
            try:
                with ctx.store.transaction():
                    return fn(ctx, *args, **kwargs)
            except StoreBusy:
                attempt += 1
                if not outermost or attempt >= ATTEMPTS:
                    raise
                time.sleep(random.uniform(0, 0.005 * attempt))

    return run  # type: ignore[return-value]


__all__ = ["Ctx", "atomic", "ATTEMPTS"]
