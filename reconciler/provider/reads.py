"""Coalesced reads: Terraform refreshes up to 10 resources at once, each in its own call.

:class:`BatchReader` lets concurrent reads of different keys share one request
(pools: one ``/work_pools/filter`` by names; queues: one queue list per pool),
and keeps answers for a short time so the refresh of a pool's queues costs one
request, not one per queue. Any write through the provider clears it, and
create/update read their results back directly, never from here.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Hashable

WINDOW = 0.003
"""How long a batch leader waits for other keys to join (seconds)."""
TTL = 2.0
"""How long an answer stays valid (seconds)."""


class BatchReader:
    def __init__(self, fetch: Callable[[list[Any]], dict[Any, Any]], *, window: float = WINDOW, ttl: float = TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._window = window
        self._ttl = ttl
        self._clock = clock
        self._cond = threading.Condition()
        self._cache: dict[Hashable, tuple[float, Any, BaseException | None]] = {}
        self._pending: set[Hashable] = set()
        self._inflight: set[Hashable] = set()
        self._leader = False

    def invalidate(self) -> None:
        with self._cond:
            self._cache.clear()

    def _fresh(self, key: Hashable) -> tuple[float, Any, BaseException | None] | None:
        hit = self._cache.get(key)
        if hit is not None and self._clock() - hit[0] <= self._ttl:
            return hit
        return None

    def get(self, key: Hashable) -> Any:
        """The value for ``key`` (None when the fetch did not return it); re-raises a failed fetch."""
        with self._cond:
            while True:
                hit = self._fresh(key)
                if hit is not None:
                    if hit[2] is not None:
                        raise hit[2]
                    return hit[1]
                if key not in self._inflight:
                    self._pending.add(key)
                if not self._leader:
                    self._leader = True
                    break
                self._cond.wait(0.05)
        try:
            time.sleep(self._window)
            with self._cond:
                keys = list(self._pending)
                self._pending.clear()
                self._inflight.update(keys)
            error: BaseException | None = None
            values: dict[Any, Any] = {}
            try:
                values = self._fetch(keys)
            except BaseException as exc:  # noqa: BLE001 - handed to every waiter
                error = exc
            now = self._clock()
            with self._cond:
                for k in keys:
                    self._cache[k] = (now, values.get(k), error)
                self._inflight.difference_update(keys)
        finally:
            with self._cond:
                self._leader = False
                self._cond.notify_all()
        return self.get(key)
