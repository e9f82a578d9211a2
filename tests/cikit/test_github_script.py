"""The plan workflow's github-script step, run with node against a recorded fake of the GitHub API:
it updates its own comment in place (found by the marker), never someone else's, and labels the PR."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

MARKER = "<!-- poolform-plan -->"

HARNESS = r"""
const state = JSON.parse(process.env.FAKE_GITHUB);
const calls = [];
const github = {
  paginate: async (fn, args) => (await fn(args)).data,
  rest: { issues: {
    listComments: async (args) => ({ data: state.comments }),
    updateComment: async (args) => { calls.push(['updateComment', args.comment_id, args.body]); },
    createComment: async (args) => { calls.push(['createComment', args.issue_number, args.body]); },
    removeLabel: async (args) => {
      calls.push(['removeLabel', args.name]);
      if (!state.labels.includes(args.name)) { const e = new Error('Label does not exist'); e.status = 404; throw e; }
    },
    addLabels: async (args) => { calls.push(['addLabels', args.labels]); },
  } },
};
const context = {
  repo: { owner: 'acme', repo: 'pools' }, issue: { number: 7 }, serverUrl: 'https://github.com', runId: 42,
  payload: { pull_request: { head: { sha: 'abcdef1234567890' } } },
};
(async () => {
SCRIPT
})().then(() => console.log(JSON.stringify(calls))).catch((e) => { console.error(e); process.exit(1); });
"""


def _script(github_workflows: dict[str, Any]) -> str:
    steps = github_workflows["plan.yml"]["jobs"]["plan"]["steps"]
    return next(s for s in steps if s.get("name") == "Comment and label")["with"]["script"]


@pytest.fixture
def planned(repo: Path, run_poolform: Any) -> Path:
    """plan.json and plan.md as the earlier steps leave them (a plan that creates a pool)."""
    assert run_poolform(["poolform", "plan", "-f", "pools/", "--out", "plan.json"]).returncode == 0
    shown = run_poolform(["poolform", "show", "plan.json", "--format", "markdown"])
    assert shown.returncode == 0, shown.stderr
    (repo / "plan.md").write_text(shown.stdout, encoding="utf-8")
    return repo


def _run(github_workflows: dict[str, Any], cwd: Path, comments: list[dict[str, Any]], labels: list[str],
         exitcode: str) -> list[list[Any]]:
    node = shutil.which("node") or shutil.which("nodejs")
    assert node, "node is needed to run the workflow's github-script step"
    harness = cwd / "harness.js"
    harness.write_text(HARNESS.replace("SCRIPT", _script(github_workflows)), encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "PLAN_EXITCODE": exitcode,
           "FAKE_GITHUB": json.dumps({"comments": comments, "labels": labels})}
    result = subprocess.run([node, str(harness)], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_first_run_creates_the_comment_and_labels(github_workflows: dict[str, Any], planned: Path) -> None:
    calls = _run(github_workflows, planned, comments=[], labels=[], exitcode="2")
    created = [c for c in calls if c[0] == "createComment"]
    assert len(created) == 1 and created[0][1] == 7
    body = created[0][2]
    assert body.startswith(MARKER) and "work_pool.ci-process" in body
    assert "https://github.com/acme/pools/actions/runs/42" in body and "abcdef1" in body
    assert not [c for c in calls if c[0] == "updateComment"]
    assert ["addLabels", ["add-or-update"]] in calls
    assert {c[1] for c in calls if c[0] == "removeLabel"} == {"no-changes", "destroy"}


def test_later_runs_update_the_same_comment(github_workflows: dict[str, Any], planned: Path) -> None:
    comments = [
        {"id": 1, "user": {"type": "User"}, "body": "LGTM"},
        {"id": 2, "user": {"type": "User"}, "body": f"{MARKER}\nquoted by a human"},
        {"id": 3, "user": {"type": "Bot"}, "body": "another bot"},
        {"id": 4, "user": {"type": "Bot"}, "body": f"{MARKER}\n### poolform plan\nold"},
    ]
    calls = _run(github_workflows, planned, comments=comments, labels=["no-changes"], exitcode="2")
    assert [c[:2] for c in calls if c[0] in ("updateComment", "createComment")] == [["updateComment", 4]]
    assert next(c for c in calls if c[0] == "updateComment")[2].startswith(MARKER)


@pytest.mark.parametrize(("exitcode", "summary", "label"), [
    ("0", {"add": 0, "change": 0, "destroy": 0, "replace": 0}, "no-changes"),
    ("2", {"add": 1, "change": 0, "destroy": 0, "replace": 0}, "add-or-update"),
    ("2", {"add": 0, "change": 0, "destroy": 1, "replace": 0}, "destroy"),
    ("2", {"add": 0, "change": 0, "destroy": 0, "replace": 1}, "destroy"),
], ids=["no-changes", "add-or-update", "destroy", "replace"])
def test_labels_follow_the_plan(github_workflows: dict[str, Any], planned: Path, exitcode: str, summary: dict[str, int],
                                label: str) -> None:
    plan = json.loads((planned / "plan.json").read_text(encoding="utf-8"))
    plan["summary"] = {**plan["summary"], **summary}
    (planned / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    calls = _run(github_workflows, planned, comments=[], labels=["no-changes", "add-or-update", "destroy"], exitcode=exitcode)
    assert ["addLabels", [label]] in calls
    assert {c[1] for c in calls if c[0] == "removeLabel"} == {"no-changes", "add-or-update", "destroy"} - {label}
