"""The GitHub workflows run end to end, step by step (tests/cikit/gha.py), against the reference
server and a fake GitHub API: the plan comment is created and then updated in place, a broken
config replaces it with the failure (file:line links into the pull request) and fails the job,
the apply job applies the merged pull request's saved plan and comments the result on it, and
the drift job opens the drift issue and closes it once the server matches again. Along the way:
which step saw which credential."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fake_forges import Fake, serve  # noqa: E402
from conftest import CONFIG  # noqa: E402
from gha import Result, clean_env, condition, run_job  # noqa: E402

TOKEN = "ghs_workflowtoken0123456789"
READ_KEY = "pnu_readonly_0123456789abcdef"
WRITE_KEY = "pnu_writecapable_0123456789abcdef"
BIN = Path(sys.executable).parent


@pytest.fixture
def github() -> Iterator[Fake]:
    yield from serve(Fake("github", TOKEN))


@pytest.fixture
def ctx(server: Any) -> dict[str, Any]:
    return {
        "secrets.PREFECT_PLAN_API_URL": server.api_url, "secrets.PREFECT_PLAN_API_KEY": READ_KEY,
        "secrets.PREFECT_API_URL": server.api_url, "secrets.PREFECT_API_KEY": WRITE_KEY,
        "github.token": TOKEN, "github.server_url": "https://github.com", "github.repository": "acme/pools",
        "github.event.pull_request.number": "5", "github.event.pull_request.head.sha": "abcdef1234567890",
        "github.event.pull_request.head.repo.full_name": "acme/pools", "github.run_id": "42", "github.sha": "mergesha",
    }


def _run(workflows: dict[str, Any], name: str, job: str, ctx: dict[str, Any], repo: Path, github: Fake) -> Result:
    env = clean_env(BIN)
    env.update(GITHUB_API_URL=github.url, GITHUB_REPOSITORY="acme/pools")
    return run_job(workflows[name], job, ctx=ctx, cwd=repo, base_env=env, artifacts=repo.parent / "artifacts")


def _comments(github: Fake, marker: str) -> list[dict[str, Any]]:
    return [c for c in github.comments if c["body"].split("\n", 1)[0] == marker]


def test_pull_request_to_apply(github_workflows: dict[str, Any], ctx: dict[str, Any], repo: Path, github: Fake,
                               server: Any) -> None:
    first = _run(github_workflows, "plan.yml", "plan", ctx, repo, github)
    assert not first.failed, first.logs
    assert first.outputs["plan"]["exitcode"] == "2"
    [comment] = _comments(github, "<!-- poolform-plan -->")
    assert comment["issue"] == 5 and "work_pool.ci-process" in comment["body"] and "```mermaid" in comment["body"]
    assert "actions/runs/42" in comment["body"] and "abcdef1" in comment["body"]
    assert github.labels == {"add-or-update"}
    assert (repo.parent / "artifacts" / "poolform-plan" / "plan.json").is_file()

    # which step saw which credential: the write key none of them, the read key only the plan
    for step, env in first.env_seen.items():
        assert WRITE_KEY not in env.values(), step
        assert (READ_KEY in env.values()) == (step == "plan"), step
        assert (TOKEN in env.values()) == (step == "Comment and label"), step

    (repo / "pools" / "pools.yaml").write_text("version: 1\nwork_pools:\n  ci-process:\n    type: process\n    tpye: x\n")
    broken = _run(github_workflows, "plan.yml", "plan", ctx, repo, github)
    assert broken.failed and broken.outcome["Fail when the plan failed"] == "failure"
    assert broken.outcome["Upload the saved plan"] == "skipped"
    [comment] = _comments(github, "<!-- poolform-plan -->")
    link = "https://github.com/acme/pools/blob/abcdef1234567890/pools/pools.yaml#L5"
    assert "**Failed: 1 error.**" in comment["body"] and f"]({link})" in comment["body"]
    assert github.labels == {"add-or-update"}, "a failed plan leaves the labels"

    # the pull request is merged; the apply job finds its plan run and applies the saved plan
    github.merged["mergesha"] = {"number": 5, "merged_at": "2026-12-02T00:00:00Z", "head": {"sha": "abcdef1234567890"}}
    github.runs.append({"id": 4242, "workflow": "poolform-plan.yml", "head_sha": "abcdef1234567890",
                        "conclusion": "success"})
    (repo / "pools" / "pools.yaml").write_text(CONFIG, encoding="utf-8")  # main, as merged
    (repo / "plan.json").unlink()
    applied = _run(github_workflows, "apply.yml", "apply", ctx, repo, github)
    assert not applied.failed, applied.logs
    assert applied.outputs["find"] == {"pr": "5", "run_id": "4242"}
    assert httpx.get(f"{server.api_url}/work_pools/ci-process", timeout=10).json()["concurrency_limit"] == 5
    [note] = _comments(github, "<!-- poolform-apply -->")
    assert note["issue"] == 5 and "**Applied.**" in note["body"] and "`work_pool.ci-process`" in note["body"]
    for step, env in applied.env_seen.items():
        assert (WRITE_KEY in env.values()) == (step == "apply"), step


def test_drift_issue_opens_and_closes(github_workflows: dict[str, Any], ctx: dict[str, Any], repo: Path, github: Fake,
                                      server: Any, run_poolform: Any) -> None:
    assert run_poolform(["poolform", "apply", "-f", "pools/", "--auto-approve"]).returncode == 0
    clean = _run(github_workflows, "drift.yml", "drift", ctx, repo, github)
    assert not clean.failed, clean.logs
    assert github.issues == []
    response = httpx.patch(f"{server.api_url}/work_pools/ci-process", json={"concurrency_limit": 50}, timeout=10)
    assert response.status_code == 204
    drifted = _run(github_workflows, "drift.yml", "drift", ctx, repo, github)
    assert drifted.failed and drifted.outcome["Fail on drift"] == "failure"
    [issue] = github.issues
    assert issue["state"] == "open" and issue["labels"] == ["drift"]
    assert issue["body"].startswith("<!-- poolform-drift -->") and "concurrency_limit" in issue["body"]
    assert "actions/runs/42" in issue["body"]
    again = _run(github_workflows, "drift.yml", "drift", ctx, repo, github)
    assert again.failed and len(github.issues) == 1
    assert run_poolform(["poolform", "apply", "-f", "pools/", "--auto-approve"]).returncode == 0
    fixed = _run(github_workflows, "drift.yml", "drift", ctx, repo, github)
    assert not fixed.failed, fixed.logs
    assert issue["state"] == "closed"
    assert any(c["issue"] == issue["number"] and "No drift any more" in c["body"] for c in github.comments)
    for step, env in fixed.env_seen.items():
        assert WRITE_KEY not in env.values(), step


def test_forks_get_only_the_offline_validation(github_workflows: dict[str, Any], ctx: dict[str, Any]) -> None:
    fork = dict(ctx, **{"github.event.pull_request.head.repo.full_name": "mallory/pools"})
    plan = github_workflows["plan.yml"]
    result = Result()
    assert condition(plan["jobs"]["plan"]["if"], ctx, result, {}) is True
    assert condition(plan["jobs"]["validate-fork"]["if"], ctx, result, {}) is False
    assert condition(plan["jobs"]["plan"]["if"], fork, result, {}) is False
    assert condition(plan["jobs"]["validate-fork"]["if"], fork, result, {}) is True
    assert "secrets." not in str(plan["jobs"]["validate-fork"])
