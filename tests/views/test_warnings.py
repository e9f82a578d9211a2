"""Warnings in the human and markdown plans: full blocks with file:line, or --compact-warnings' summary lines."""

from __future__ import annotations

import copy

from views_test_scenarios import create
from reconciler.views.human import render_human
from reconciler.views.markdown import render_markdown

WARNINGS = [
    {"severity": "warning", "summary": "queue concurrency_limit 9 is above the pool's 2",
     "detail": "The pool's limit caps the queue anyway; lower the queue's limit or raise the pool's.",
     "address": "work_queue.k8s.critical", "path": [],
     "range": {"filename": "pools/prod.yaml", "start": {"line": 12, "column": 28}, "end": {"line": 12, "column": 29}}},
    {"severity": "warning", "summary": "resource targeting is in effect", "detail": "The plan may be incomplete.",
     "address": None, "range": None, "path": []},
]


def _plan(**extra) -> dict:
    plan = copy.deepcopy(create())
    plan["diagnostics"] = copy.deepcopy(WARNINGS)
    plan.update(extra)
    return plan


def test_human_warnings_point_at_the_file_and_line():
    text = render_human(_plan())
    assert ("pools/prod.yaml:12:28: warning: queue concurrency_limit 9 is above the pool's 2 [work_queue.k8s.critical]\n"
            "  The pool's limit caps the queue anyway") in text
    assert text.index("warning: queue concurrency_limit") < text.index("Plan: ")


def test_compact_warnings_are_one_summary_line_each():
    text = render_human(_plan(), compact_warnings=True)
    assert ("2 warnings:\n"
            "  - pools/prod.yaml:12:28: queue concurrency_limit 9 is above the pool's 2 [work_queue.k8s.critical]\n"
            "  - resource targeting is in effect\n"
            "To see the full warning notes, run poolform without --compact-warnings.\n") in text
    assert "caps the queue anyway" not in text and "may be incomplete" not in text
    assert "Plan: 2 to add, 1 to change, 0 to destroy." in text


def test_compact_warnings_leave_errors_in_full():
    errored = _plan(errored=True)
    errored["diagnostics"].insert(0, {"severity": "error", "summary": "target work_pool.x matches nothing",
                                      "detail": "No such pool is declared or on the server.", "address": "work_pool.x",
                                      "range": None, "path": []})
    text = render_human(errored, compact_warnings=True)
    assert "error: target work_pool.x matches nothing [work_pool.x]\n  No such pool is declared" in text
    assert "  - resource targeting is in effect" in text


def test_markdown_warnings_reach_the_comment_with_file_and_line():
    full = render_markdown(_plan())
    section = full.split("#### Warnings\n")[1].split("\n\n")[0]
    assert section.splitlines()[0] == ("- pools/prod.yaml:12:28: warning: queue concurrency_limit 9 is above the pool's 2 "
                                       "[work_queue.k8s.critical] — The pool's limit caps the queue anyway; lower the "
                                       "queue's limit or raise the pool's.")
    compact = render_markdown(_plan(), compact_warnings=True)
    section = compact.split("#### Warnings\n")[1].split("\n\n")[0]
    assert section.splitlines() == [
        "- pools/prod.yaml:12:28: queue concurrency_limit 9 is above the pool's 2 [work_queue.k8s.critical]",
        "- resource targeting is in effect",
    ]


def test_no_warnings_no_section():
    plan = _plan()
    plan["diagnostics"] = []
    assert "#### Warnings" not in render_markdown(plan)
    assert "warning" not in render_human(plan, compact_warnings=True)
