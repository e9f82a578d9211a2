"""Time for the server: the wall clock, a settable clock for tests, and the
fixed-width ISO-8601 text form the store keeps (text order is time order).

``create_app(store, clock=...)`` takes any zero-argument callable returning an
aware UTC datetime; ``app.state.clock`` may also be replaced at run time.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Callable

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(timezone.utc)


class ManualClock:
    """A clock that only moves when told: ``clock.advance(seconds=90)``, ``clock.set(dt)``."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = as_utc(start) if start is not None else system_clock()
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0.0, **kwargs: float) -> datetime:
        with self._lock:
            self._now = self._now + timedelta(seconds=seconds, **kwargs)
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = as_utc(when)


def as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def to_text(value: datetime | None) -> str | None:
    """Store/wire form: ``2026-11-25T15:12:07.614111Z``."""
    if value is None:
        return None
    return as_utc(value).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def from_text(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value)
