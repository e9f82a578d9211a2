"""Human, markdown and JSON renders of plan documents: goldens and behaviour."""

from __future__ import annotations

import json
import re

import pytest

from views_test_scenarios import SCENARIOS, many_pools
from reconciler.views.diagnostics import render_diagnostics
from reconciler.views.human import render_human
from reconciler.views.json import render_json
from reconciler.views.markdown import MARKER, render_markdown

ANSI = re.compile(r"\x1b\[[0-9;]*m")
PLANS = {name: build() for name, build in SCENARIOS.items()}


@pytest.mark.parametrize("name", list(PLANS))
@pytest.mark.parametrize(
    ("kind", "render"),
    [
        pytest.param("human.txt", lambda p: render_human(p), id="human"),
        pytest.param("human-color.txt", lambda p: render_human(p, color=True, apply_hint="poolform apply plan.json", saved=True),
                     id="human-color"),
        pytest.param("md", lambda p: render_markdown(p), id="markdown"),
        pytest.param("json", lambda p: render_json(p), id="json"),
    ],
)
def test_golden(name, kind, render, golden) -> None:
    golden(f"{name}.{kind}", render(PLANS[name]))


@pytest.mark.parametrize("name", list(PLANS))
def test_human_last_line_and_hint(name) -> None:
    plan = PLANS[name]
    automated = render_human(plan, automation=True).rstrip("\n").splitlines()
    if plan["steps"]:
        s = plan["summary"]
        assert automated[-1] == f"Plan: {s['add']} to add, {s['change']} to change, {s['destroy']} to destroy."
        assert render_human(plan).rstrip("\n").endswith('Run "poolform apply" to apply these changes.')
        assert render_human(plan, apply_hint="poolform apply plan.json", saved=True).rstrip("\n").endswith(
            'Run "poolform apply plan.json" to apply exactly these changes.')
    else:
        assert automated[0] == "No changes. Your work pools match the configuration."
        assert not any(line.startswith("Plan:") for line in automated)


@pytest.mark.parametrize("name", list(PLANS))
def test_color_only_when_asked(name) -> None:
    plain = render_human(PLANS[name])
    colored = render_human(PLANS[name], color=True)
    assert "\x1b[" not in plain
    assert "\x1b[" in colored
    assert ANSI.sub("", colored) == plain


def test_human_shows_only_changed_template_paths() -> None:
    text = render_human(PLANS["mixed"])
    block = text.split("# work_pool.k8s-prod will be updated in-place")[1].split("\n\n")[0]
    assert '~ default = "prefect:4" -> "prefect:3"' not in block
    assert '~ default = "prefect:3" -> "prefect:4"' in block
    assert '+ cpu' in block and '- A = "1" -> null' in block
    assert "command" not in block, "unchanged template keys must not be shown"
    assert '~ description       = "Prod" -> "Production"' in block


def test_human_replace_and_side_effects() -> None:
    text = render_human(PLANS["mixed"])
    assert "# work_pool.batch must be replaced" in text
    assert '~ type = "docker" -> "process" # forces replacement' in text
    assert "its queues (nightly), workers and the link from deployments are lost" in text
    assert "# work_queue.k8s-prod.default priority 1 -> 2 (moved by the server's priority bump)" in text
    assert "work_pool.legacy: not declared and not in manage.scope" in text
    legend = text.split("poolform will perform the following actions:")[0]
    assert "  + create" in legend and "  ~ update in-place" in legend and "-/+ destroy and then create replacement" in legend
    assert "  - destroy" in legend


def test_markdown_structure() -> None:
    text = render_markdown(PLANS["mixed"], title="pools/prod")
    lines = text.splitlines()
    assert lines[0] == MARKER
    assert lines[1] == "### pools/prod"
    s = PLANS["mixed"]["summary"]
    counts = f"**Plan:** {s['add']} to add, {s['change']} to change, {s['destroy']} to destroy"
    assert counts in text
    assert text.index(counts) < text.index("[!CAUTION]") < text.index("#### Changes") < text.index("<details><summary>Full plan")
    assert "`work_pool.batch` will be **replaced**" in text
    assert "```diff" in text and text.rstrip().endswith("</details>")
    assert render_markdown(PLANS["no-changes"]).splitlines()[3] == "**No changes.** Your work pools match the configuration."


@pytest.mark.parametrize("max_chars", [65_000, 20_000, 3_000])
def test_markdown_size_cap_with_1000_pools(max_chars) -> None:
    plan = many_pools(1000)
    text = render_markdown(plan, max_chars=max_chars)
    assert len(text) <= max_chars
    assert text.startswith(MARKER)
    assert "**Plan:** 6000 to add, 0 to change, 0 to destroy" in text
    assert "truncated" in text and "artifact" in text


def test_markdown_truncation_note_counts_the_rest() -> None:
    text = render_markdown(many_pools(200), max_chars=30_000)
    match = re.search(r"… truncated: (\d+) more changes", text)
    assert match, text[-300:]
    shown = text.count("will be created")
    assert shown + int(match.group(1)) == 1200


def test_json_render_keeps_document_order_and_round_trips() -> None:
    plan = PLANS["mixed"]
    text = render_json(plan)
    assert text.startswith('{\n  "format_version": "1.3",\n  "poolform_version"')
    assert json.loads(text) == plan
    assert list(json.loads(text)) == list(plan)


def test_diagnostics_render() -> None:
    diags = [
        {"severity": "error", "summary": "unknown key 'prioirty'", "detail": "Did you mean 'priority'?\nFix the file.",
         "address": "work_queue.p.q", "range": {"filename": "pools.yaml", "start": {"line": 7, "column": 9},
                                               "end": {"line": 7, "column": 17}}, "path": []},
        {"severity": "warning", "summary": "targeting", "detail": "", "address": None, "range": None, "path": []},
    ]
    assert render_diagnostics(diags) == (
        "pools.yaml:7:9: error: unknown key 'prioirty' [work_queue.p.q]\n  Did you mean 'priority'?\n  Fix the file.\n"
        "warning: targeting"
    )
    colored = render_diagnostics(diags, color=True)
    assert "\x1b[31m" in colored and "\x1b[33m" in colored
    assert ANSI.sub("", colored) == render_diagnostics(diags)


def test_errored_plan_renders_errors_not_a_plan_line() -> None:
    plan = dict(PLANS["no-changes"], errored=True, diagnostics=[
        {"severity": "error", "summary": "bad", "detail": "", "address": "work_pool.p", "range": None, "path": []}])
    text = render_human(plan)
    assert "error: bad [work_pool.p]" in text and "Plan:" not in text
    assert "Plan failed" in render_markdown(plan)


@pytest.mark.parametrize(
    "text, expected",
    [("plain name", "plain name"), ("a\nb", "a\\nb"), ("tab\there", "tab\\there"), ("esc\x1b[31m", "esc\\u001b[31m"),
     ("line\u2028sep", "line\\u2028sep"), ("池", "池")],
    ids=["plain", "newline", "tab", "terminal-escape", "unicode-line-separator", "cjk"],
)
def test_printable_escapes_control_characters(text, expected) -> None:
    from reconciler.views.diagnostics import printable

    assert printable(text) == expected


def test_names_with_control_characters_stay_on_one_line() -> None:
    plan = json.loads(json.dumps(PLANS["mixed"]))
    plan["unmanaged"] = [{"address": "work_pool.evil\nPlan: 0 to add", "reason": "not declared and not in manage.scope"}]
    change = plan["resource_changes"][0]
    change["address"] = change["address"] + "\x1b[2J"
    text = render_human(plan)
    assert "  work_pool.evil\\nPlan: 0 to add: not declared" in text
    assert "\x1b" not in text
    assert sum(line.startswith("Plan: ") for line in text.splitlines()) == 1
    md = render_markdown(plan)
    assert "`work_pool.evil\\nPlan: 0 to add`" in md and "\x1b" not in md
    diag = render_diagnostics([{"severity": "error", "summary": "x", "address": "work_pool.a\nb"}])
    assert diag == "error: x [work_pool.a\\nb]"
