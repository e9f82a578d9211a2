"""docs/ci.md: the sample PR comment is what the markdown view renders for the sample plan today."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from reconciler.views.markdown import render_markdown

ROOT = Path(__file__).resolve().parents[2]
CI_DOC = ROOT / "docs" / "ci.md"
STALE = "the sample comment in docs/ci.md is stale; run `python scripts/generate_docs.py`"


def _sample(gen: ModuleType) -> list[str]:
    text = CI_DOC.read_text(encoding="utf-8")
    start = text.index(gen.SAMPLE_START)
    end = text.index(gen.SAMPLE_END)
    block = text[start:end].splitlines()
    assert block[1] == "````markdown" and block[-1] == "````", "the sample must be one ````markdown fenced block"
    return block[2:-1]


def test_sample_plan_is_a_real_plan_with_every_kind_of_change(gen: ModuleType) -> None:
    plan = gen.sample_plan_json()
    actions = {tuple(rc["change"]["actions"]) for rc in plan["resource_changes"]}
    assert {("create",), ("update",), ("delete",)} <= actions
    assert plan["summary"]["destroy"] >= 1


def test_sample_first_lines_match_render_markdown(gen: ModuleType) -> None:
    rendered = render_markdown(gen.sample_plan_json()).splitlines()
    sample = _sample(gen)
    assert sample[0] == "<!-- poolform-plan -->"
    assert sample[:15] == rendered[:15], STALE


def test_sample_is_the_whole_comment(gen: ModuleType) -> None:
    assert "\n".join(_sample(gen)) == render_markdown(gen.sample_plan_json()).rstrip(), STALE
    assert CI_DOC.read_text(encoding="utf-8") == gen.outputs()[gen.CI_DOC], STALE


def test_ci_md_covers_the_workflow_guide() -> None:
    text = CI_DOC.read_text(encoding="utf-8")
    for needle in ("## GitHub Actions setup", "## GitLab CI setup", "### Exit codes", "### Saved plans and staleness",
                   "## Automation mode", "--detailed-exitcode", "POOLFORM_IN_AUTOMATION", "resource_group",
                   "examples/github-actions/plan.yml", "examples/gitlab-ci/.gitlab-ci.yml"):
        assert needle in text, needle
