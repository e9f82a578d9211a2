"""The PR comment for a big plan: under GitHub's 65,536-character limit, marker kept."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from reconciler.model.state import DesiredPool, DesiredQueue, DesiredState, ObservedState
from reconciler.plan.planfile import dumps_plan
from reconciler.plan.planner import make_plan
from reconciler.views.markdown import render_markdown

GITHUB_LIMIT = 65_536
MARKER = "<!-- poolform-plan -->"


def _template(i: int) -> dict[str, Any]:
    return {
        "job_configuration": {"command": "{{ command }}", "image": "{{ image }}", "namespace": "{{ namespace }}"},
        "variables": {
            "type": "object",
            "properties": {
                "command": {"type": "string", "default": f"python -m flows.team_{i}"},
                "image": {"type": "string", "default": f"ghcr.io/acme/flows:{i}.0"},
                "namespace": {"type": "string", "default": f"team-{i:04d}"},
            },
        },
    }


def _big_plan(pools: int = 1000) -> Any:
    desired = DesiredState()
    for i in range(pools):
        name = f"team-{i:04d}-k8s"
        pool = DesiredPool(name=name, type="kubernetes", description=f"Pool of team {i}", concurrency_limit=20,
                           base_job_template=_template(i))
        for priority, queue in enumerate(("critical", "high", "medium", "low", "bulk"), start=1):
            pool.queues[queue] = DesiredQueue(pool=name, name=queue, description=f"{queue} work",
                                              concurrency_limit=priority * 2, priority=priority)
        desired.pools[name] = pool
    return make_plan(desired, ObservedState(api_url="http://127.0.0.1:4200/api"),
                     now=datetime(2026, 11, 25, tzinfo=timezone.utc), api_url="http://127.0.0.1:4200/api")


@pytest.fixture(scope="module")
def big_plan() -> Any:
    return _big_plan()


def test_render_markdown_of_a_1000_pool_plan_fits_a_comment(big_plan: Any) -> None:
    plan_json = big_plan.to_json()
    assert plan_json["summary"]["add"] >= 1000
    body = render_markdown(plan_json)
    assert len(body) < GITHUB_LIMIT
    assert body.startswith(MARKER)
    assert "1000" in body or "1,000" in body or str(plan_json["summary"]["add"]) in body


def test_show_markdown_of_a_saved_1000_pool_plan_fits_a_comment(big_plan: Any, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(dumps_plan(big_plan), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "reconciler", "show", str(path), "--format", "markdown"],
                            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout) < GITHUB_LIMIT
    assert result.stdout.startswith(MARKER)
    assert "\x1b[" not in result.stdout


def test_the_workflow_footer_still_fits(big_plan: Any) -> None:
    root = Path(__file__).resolve().parents[2]
    script = (root / "examples" / "github-actions" / "plan.yml").read_text(encoding="utf-8")
    assert '--footer "<sub>[workflow run]($RUN_URL) · commit ${HEAD_SHA:0:7}</sub>"' in script
    owner, repo = "o" * 39, "r" * 100
    footer = (f"\n\n<sub>[workflow run](https://github.com/{owner}/{repo}/actions/runs/{9 * 10**12})"
              f" · commit abcdef1</sub>\n")
    assert len(render_markdown(big_plan.to_json())) + len(footer) < GITHUB_LIMIT
