"""The pull-request comment beyond the plan goldens: per-environment markers, mermaid waterfalls
(parsed by the mermaid package's own parser under node), failure and apply comments, links to
the PR's files, and the 65,536-character cap with diagrams never cut."""

from __future__ import annotations

import json
import random
import re
import string

import pytest
from hypothesis import given, strategies as st

from views_test_scenarios import SCENARIOS, many_pools
from reconciler.views.markdown import link_of, marker, render_apply_markdown, render_failure_markdown, render_markdown
from reconciler.views.mermaid import label, render_waterfall

PLANS = {name: build() for name, build in SCENARIOS.items()}
FENCE = re.compile(r"```mermaid\n(.*?)\n```", re.S)
BASE = "https://github.com/acme/pools/blob/0123abc"


def _diagrams(text: str) -> list[str]:
    return FENCE.findall(text)


@pytest.mark.parametrize(("kind", "environment", "expected"), [
    ("plan", None, "<!-- poolform-plan -->"),
    ("plan", "prod", "<!-- poolform-plan:prod -->"),
    ("apply", "staging-eu.1", "<!-- poolform-apply:staging-eu.1 -->"),
    ("plan", "a --> b", "<!-- poolform-plan:a%20--%3E%20b -->"),
    ("drift", "pröd", "<!-- poolform-drift:pr%C3%B6d -->"),
], ids=["bare", "env", "apply", "comment-breaker", "unicode"])
def test_marker(kind, environment, expected) -> None:
    assert marker(kind, environment) == expected


def test_each_environment_has_its_own_comment() -> None:
    prod = render_markdown(dict(PLANS["mixed"], environment="prod"))
    staging = render_markdown(dict(PLANS["mixed"], environment="staging"))
    assert prod.splitlines()[0] == "<!-- poolform-plan:prod -->" and prod.splitlines()[1] == "### poolform plan · prod"
    assert staging.splitlines()[0] == "<!-- poolform-plan:staging -->"
    assert render_markdown(PLANS["mixed"]).splitlines()[0] == "<!-- poolform-plan -->"


def test_mixed_plan_draws_each_touched_pool_in_waterfall_order() -> None:
    text = render_markdown(PLANS["mixed"])
    diagrams = _diagrams(text)
    assert len(diagrams) == len(PLANS["mixed"]["waterfalls"]) >= 2
    k8s = next(d for d in diagrams if "k8s-prod" in d)
    before, after = k8s.split('subgraph a["')
    # observed order: default 1, critical 2, high 3, scratch 4 -> planned: critical 1, default, high 5, low 10
    assert [before.index(q) for q in ("default<br/>", "critical<br/>", "high<br/>")] == sorted(
        before.index(q) for q in ("default<br/>", "critical<br/>", "high<br/>"))
    names = re.findall(r'a\d+\["([^<]+)<br/>priority (\d+)', after)
    priorities = [int(p) for _, p in names]
    assert priorities == sorted(priorities) and names[0][0] == "critical"
    assert "low" in [n for n, _ in names] and "scratch" not in [n for n, _ in names]
    assert text.index("#### Queue order") < text.index("<details><summary>Full plan")


def test_every_rendered_diagram_parses(mermaid_parse) -> None:
    """Goldens, a paused pool, a deleted pool, and 300 queue names of arbitrary characters."""
    rng = random.Random(13)
    alphabet = string.printable + "äö池\u2028\u200b<>\"'`|[]{}()#;:%&"
    weird = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24))) for _ in range(300)]
    sources = [d for plan in PLANS.values() for d in _diagrams(render_markdown(plan))]
    for start in range(0, len(weird), 30):
        queues = [{"name": n, "priority": i + 1, "concurrency_limit": (i or None), "paused": i % 2 == 0}
                  for i, n in enumerate(weird[start:start + 30])]
        sources.append(render_waterfall(weird[start], {"before": {"paused": True, "concurrency_limit": 3, "queues": queues},
                                                        "after": {"paused": False, "concurrency_limit": None,
                                                                  "queues": queues[::-1]}}))
    sources.append(render_waterfall("gone", {"before": {"paused": False, "concurrency_limit": None, "queues": []},
                                             "after": None}))
    results = mermaid_parse(sources + ['flowchart LR\n  a["broken --> b'])
    assert results[-1]["ok"] is False, "the parser must reject a broken diagram, or this test proves nothing"
    bad = [(src, r) for src, r in zip(sources, results) if not r.get("ok") or r.get("type") != "flowchart-v2"]
    assert not bad, bad[:2]


@given(st.text())
def test_labels_hold_only_safe_characters(name) -> None:
    text = label(name)
    assert re.fullmatch(r"[A-Za-z0-9 _.\-]*(?:#\d+;[A-Za-z0-9 _.\-]*)*", text), text
    decoded = re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), text)
    assert decoded == name


@pytest.mark.parametrize("max_chars", [65_536, 30_000, 8_000])
def test_cap_keeps_diagrams_whole(max_chars) -> None:
    text = render_markdown(many_pools(300), max_chars=max_chars)
    assert len(text) <= max_chars
    assert text.count("```mermaid") == len(_diagrams(text)), "a mermaid block was cut"
    assert "artifact" in text
    if max_chars == 65_536:
        assert len(_diagrams(text)) >= 10 and "more pool diagrams left out" in text


LOCATED = {"severity": "error", "summary": "unknown key 'prioirty'", "detail": "Did you mean 'priority'?",
           "address": "work_queue.p.q", "path": [],
           "range": {"filename": "pools/prod.yaml", "start": {"line": 7, "column": 9}, "end": {"line": 7, "column": 17}}}


@pytest.mark.parametrize(("filename", "root", "expected"), [
    ("pools/prod.yaml", None, BASE + "/pools/prod.yaml#L7"),
    ("/w/repo/pools/a b.yaml", "/w/repo", BASE + "/pools/a%20b.yaml#L7"),
    ("/etc/passwd", "/w/repo", None),
    ("../outside.yaml", None, None),
    ("/w/repo/pools/x.yaml", None, None),
], ids=["relative", "absolute-under-root", "absolute-outside", "dotdot", "absolute-no-root"])
def test_links_only_to_files_of_the_checkout(filename, root, expected) -> None:
    diag = json.loads(json.dumps(LOCATED))
    diag["range"]["filename"] = filename
    assert link_of(diag, BASE, root) == expected


def test_failure_comment_links_each_diagnostic() -> None:
    warning = dict(LOCATED, severity="warning", summary="unused variable")
    text = render_failure_markdown([LOCATED, warning], environment="prod", link_base=BASE)
    lines = text.splitlines()
    assert lines[0] == "<!-- poolform-plan:prod -->", "a failure replaces the environment's plan comment"
    assert "**Failed: 1 error.**" in text
    assert f"- [pools/prod.yaml:7:9]({BASE}/pools/prod.yaml#L7): error: unknown key 'prioirty' [work_queue.p.q]" in text
    assert text.index("#### Errors") < text.index("#### Warnings")
    plan_errors = render_markdown(dict(PLANS["no-changes"], errored=True, diagnostics=[LOCATED]), link_base=BASE)
    assert f"[pools/prod.yaml:7:9]({BASE}/pools/prod.yaml#L7)" in plan_errors and "Plan failed" in plan_errors


def test_apply_comment() -> None:
    plan = dict(PLANS["mixed"], environment="prod")
    done = render_apply_markdown(plan, outcome="applied")
    assert done.splitlines()[0] == "<!-- poolform-apply:prod -->" and "**Applied.**" in done
    assert "`work_pool.batch`" in done
    failed = render_apply_markdown(plan, outcome="failed", log="Error: 503 from server\n```\x1b[31m")
    assert "**Apply failed.**" in failed and "Error: 503 from server" in failed
    assert "\x1b" not in failed and "````text" in failed
    assert "Nothing to change" in render_apply_markdown(PLANS["no-changes"], outcome="applied")
