"""Progress and retry lines on stderr, rendered from the API client's events (``ClientEvents``).

* Each retry is announced at once, on its own line: ``503 from the server, retrying in 2 s (3 of 5)``.
* While the server is read, ``Reading from the server: 1,200 work pools, 4,800 queues (12 s)``,
  but only once the reading has lasted :data:`DELAY` seconds (small jobs stay silent) and then
  at most every :data:`INTERVAL` seconds; on a terminal where colour is allowed (not in CI, not
  with ``TERM=dumb`` or ``NO_COLOR``) the line is rewritten in place (every :data:`TTY_INTERVAL`
  seconds). :meth:`ProgressReporter.finish` ends it with a summary line
  (only when a progress line was shown) and stops further progress lines; retries are still
  announced after it.

Never writes to stdout, so ``--json`` and ``--format markdown`` output stays clean. Renders
only; the clock is injected for tests.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, TextIO

DELAY = 2.0
"""Seconds of reading before the first progress line."""
INTERVAL = 5.0
"""Seconds between progress lines when stderr is not a terminal (CI logs)."""
TTY_INTERVAL = 0.25
"""Seconds between in-place updates on a terminal."""

NOUNS = {
    "/work_pools/filter": "work pools",
    "/work_pools/{name}/queues/filter": "queues",
    "/work_queues/filter": "queues",
    "/deployments/filter": "deployments",
    "/flows/filter": "flows",
}
_ORDER = ("work pools", "queues", "deployments", "flows")


def _seconds(value: float) -> str:
    if value < 0.05:
        return "now"
    return f"in {value:.1f} s" if value < 1 else f"in {value:.0f} s"


def retry_line(notice: Any) -> str:
    """``503 from the server, retrying in 2 s (3 of 5)`` for a :class:`~reconciler.api.client.RetryNotice`."""
    what = (f"{notice.status} from the server" if notice.status is not None
            else f"{notice.method} {notice.route}: {notice.reason}")
    return f"{what}, retrying {_seconds(notice.wait)} ({notice.retry} of {notice.max_retries})"


def counts_text(counts: dict[str, int]) -> str:
    nouns = [n for n in _ORDER if counts.get(n)] + sorted(n for n in counts if n not in _ORDER and counts[n])
    return ", ".join(f"{counts[n]:,} {n}" for n in nouns) or "nothing yet"


class ProgressReporter:
    """Implements ``ClientEvents``; thread-safe (the client reads pages from several threads)."""

    def __init__(self, stream: TextIO, *, tty: bool, progress: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.tty = tty
        self.progress = progress
        self.clock = clock
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._start = clock()
        self._last_shown: float | None = None
        self._open_line = False

    # -- ClientEvents

    def on_rows(self, route: str, count: int) -> None:
        with self._lock:
            if not self.progress:
                return
            if count:
                noun = NOUNS.get(route, route)
                self.counts[noun] = self.counts.get(noun, 0) + count
            now = self.clock()
            if now - self._start < DELAY:
                return
            if self._last_shown is not None and now - self._last_shown < (TTY_INTERVAL if self.tty else INTERVAL):
                return
            self._last_shown = now
            line = f"Reading from the server: {counts_text(self.counts)} ({now - self._start:.0f} s)"
            if self.tty:
                self.stream.write("\r" + line + "\x1b[K")
                self._open_line = True
            else:
                self.stream.write(line + "\n")
            self.stream.flush()

    def on_retry(self, notice: Any) -> None:
        with self._lock:
            self._close_line()
            self.stream.write(retry_line(notice) + "\n")
            self.stream.flush()

    # -- the end of the reading phase

    def finish(self) -> None:
        """End the progress line with a summary (if one was shown); later pages are not reported."""
        with self._lock:
            if self.progress and self._last_shown is not None:
                elapsed = self.clock() - self._start
                summary = f"Read {counts_text(self.counts)} from the server in {elapsed:.0f} s."
                self.stream.write(("\r" + summary + "\x1b[K\n") if self.tty and self._open_line else summary + "\n")
                self._open_line = False
                self.stream.flush()
            self.progress = False

    def _close_line(self) -> None:
        if self._open_line:
            self.stream.write("\n")
            self._open_line = False
