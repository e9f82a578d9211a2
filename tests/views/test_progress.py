"""Progress and retry lines: silent for small jobs, rate-limited, rewritten in place on a terminal,
every retry announced. The clock is a fake one: no timing in these tests."""

from __future__ import annotations

import io

import pytest

from reconciler.api.client import RetryNotice
from reconciler.views import progress
from reconciler.views.progress import ProgressReporter, retry_line


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    "notice, line",
    [
        (RetryNotice("POST", "/work_pools/filter", "503", 503, 2.0, 3, 5), "503 from the server, retrying in 2 s (3 of 5)"),
        (RetryNotice("GET", "/work_pools/{name}", "429", 429, 0.25, 1, 5), "429 from the server, retrying in 0.2 s (1 of 5)"),
        (RetryNotice("GET", "/work_pools/{name}", "502", 502, 0.0, 2, 2), "502 from the server, retrying now (2 of 2)"),
        (RetryNotice("POST", "/work_queues/filter", "no answer within 60s", None, 0.12, 1, 5),
         "POST /work_queues/filter: no answer within 60s, retrying in 0.1 s (1 of 5)"),
    ],
    ids=["503", "429-fraction", "now", "timeout"],
)
def test_retry_lines(notice, line):
    assert retry_line(notice) == line


def test_a_short_read_prints_nothing():
    clock, out = Clock(), io.StringIO()
    reporter = ProgressReporter(out, tty=False, clock=clock)
    for _ in range(50):
        reporter.on_rows("/work_pools/filter", 200)
        clock.now += 0.01
    reporter.finish()
    assert out.getvalue() == ""


def test_a_long_read_prints_rate_limited_lines_and_a_summary():
    clock, out = Clock(), io.StringIO()
    reporter = ProgressReporter(out, tty=False, clock=clock)
    for second in range(20):
        reporter.on_rows("/work_pools/filter" if second < 5 else "/work_pools/{name}/queues/filter", 100)
        clock.now += 1.0
    reporter.finish()
    reporter.on_rows("/work_pools/filter", 100)
    lines = out.getvalue().splitlines()
    assert lines == [
        "Reading from the server: 300 work pools (2 s)",
        "Reading from the server: 500 work pools, 300 queues (7 s)",
        "Reading from the server: 500 work pools, 800 queues (12 s)",
        "Reading from the server: 500 work pools, 1,300 queues (17 s)",
        "Read 500 work pools, 1,500 queues from the server in 20 s.",
    ]


def test_on_a_terminal_the_line_is_rewritten_in_place_and_retries_break_it():
    clock, out = Clock(), io.StringIO()
    reporter = ProgressReporter(out, tty=True, clock=clock)
    clock.now += progress.DELAY
    reporter.on_rows("/work_queues/filter", 200)
    clock.now += 1
    reporter.on_rows("/work_queues/filter", 200)
    reporter.on_retry(RetryNotice("POST", "/work_queues/filter", "503", 503, 1.0, 1, 5))
    clock.now += 1
    reporter.on_rows("/work_queues/filter", 200)
    reporter.finish()
    assert out.getvalue() == (
        "\rReading from the server: 200 queues (2 s)\x1b[K"
        "\rReading from the server: 400 queues (3 s)\x1b[K\n"
        "503 from the server, retrying in 1 s (1 of 5)\n"
        "\rReading from the server: 600 queues (4 s)\x1b[K"
        "\rRead 600 queues from the server in 4 s.\x1b[K\n"
    )


def test_progress_off_still_announces_retries():
    clock, out = Clock(), io.StringIO()
    reporter = ProgressReporter(out, tty=False, progress=False, clock=clock)
    clock.now += 60
    reporter.on_rows("/work_pools/filter", 5)
    reporter.on_retry(RetryNotice("GET", "/work_pools/{name}", "503", 503, 3.0, 2, 5))
    reporter.finish()
    assert out.getvalue() == "503 from the server, retrying in 3 s (2 of 5)\n"
