"""The GitHub workflows run end to end, step by step (tests/cikit/gha.py), against two reference
servers (staging and prod, the config's environments) and a fake GitHub API: the plan matrix
posts one comment per environment and updates it in place, the label job labels the pull
request from both plans, a broken config replaces each comment with the failure (file:line
links into the pull request) and fails the job; on merge, the staging apply job applies the
pull request's saved plan of staging (and nothing of prod), then the prod job prod's, each
commenting its result; the drift matrix opens one issue per drifted environment and closes it
once the server matches again. Along the way: which step saw which credential. Each server takes
its environment's write key and, for reads only, its read-only key (``--read-only-api-key-file``):
a plan step given the wrong environment's key gets 401, an apply given the read-only key 403."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fake_forges import Fake, serve  # noqa: E402
from conftest import CONFIG  # noqa: E402
from gha import Result, clean_env, condition, matrix_entries, run_job  # noqa: E402

TOKEN = "ghs_workflowtoken0123456789"
READ = {"staging": "pnu_staging_readonly_0123456789", "prod": "pnu_prod_readonly_0123456789"}
WRITE = {"staging": "pnu_staging_writecapable_012345", "prod": "pnu_prod_writecapable_0123456"}
BIN = Path(sys.executable).parent


def _serve(env_name: str) -> Iterator[Any]:
    from reconciler.server.runner import serve_in_thread

    handle = serve_in_thread(store_path=":memory:", port=0, api_key=WRITE[env_name], read_only_api_key=READ[env_name])
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def server() -> Iterator[Any]:
    """staging's server (overrides conftest's, so the repo fixture's environments point here)."""
    yield from _serve("staging")


@pytest.fixture
def prod_server() -> Iterator[Any]:
    yield from _serve("prod")


@pytest.fixture
def github() -> Iterator[Fake]:
    yield from serve(Fake("github", TOKEN))


@pytest.fixture
def ctx() -> dict[str, Any]:
    return {
        "secrets.PREFECT_STAGING_PLAN_API_KEY": READ["staging"], "secrets.PREFECT_PROD_PLAN_API_KEY": READ["prod"],
        "github.token": TOKEN, "github.server_url": "https://github.com", "github.repository": "acme/pools",
        "github.event.pull_request.number": "5", "github.event.pull_request.head.sha": "abcdef1234567890",
        "github.event.pull_request.head.repo.full_name": "acme/pools", "github.run_id": "42", "github.sha": "mergesha",
    }


def _run(workflows: dict[str, Any], name: str, job: str, ctx: dict[str, Any], repo: Path, github: Fake,
         matrix: dict[str, Any] | None = None) -> Result:
    env = clean_env(BIN)
    env.update(GITHUB_API_URL=github.url, GITHUB_REPOSITORY="acme/pools")
    return run_job(workflows[name], job, ctx=ctx, cwd=repo, base_env=env, artifacts=repo.parent / "artifacts",
                   matrix=matrix)


def _matrix(workflows: dict[str, Any], name: str, job: str) -> list[dict[str, Any]]:
    entries = matrix_entries(workflows[name]["jobs"][job])
    assert [e["environment"] for e in entries] == ["staging", "prod"]
    return entries


def _comments(github: Fake, marker: str) -> list[dict[str, Any]]:
    return [c for c in github.comments if c["body"].split("\n", 1)[0] == marker]


def _pool(server: Any, env_name: str) -> httpx.Response:
    return httpx.get(f"{server.api_url}/work_pools/ci-process", headers={"Authorization": f"Bearer {READ[env_name]}"},
                     timeout=10)


def test_pull_request_to_apply(github_workflows: dict[str, Any], ctx: dict[str, Any], repo: Path, github: Fake,
                               server: Any, prod_server: Any) -> None:
    wf = github_workflows["plan.yml"]
    for entry in _matrix(github_workflows, "plan.yml", "plan"):
        env_name = entry["environment"]
        first = _run(github_workflows, "plan.yml", "plan", ctx, repo, github, matrix=entry)
        assert not first.failed, first.logs
        assert first.outputs["plan"]["exitcode"] == "2"
        [comment] = _comments(github, f"<!-- poolform-plan:{env_name} -->")
        assert comment["issue"] == 5 and "work_pool.ci-process" in comment["body"] and "```mermaid" in comment["body"]
        assert "actions/runs/42" in comment["body"] and "abcdef1" in comment["body"]
        assert (repo.parent / "artifacts" / f"poolform-plan-{env_name}" / "plan.json").is_file()
        # which step saw which credential: its own environment's read-only key in the plan step only
        for step, seen in first.env_seen.items():
            values = set(seen.values())
            assert not values & set(WRITE.values()), step
            assert (READ[env_name] in values) == (step == "plan"), step
            assert not values & {key for name, key in READ.items() if name != env_name}, step
            assert (TOKEN in values) == (step == "Comment"), step
        (repo / "plan.json").unlink()
    assert github.labels == set(), "the plan jobs leave labelling to the label job"
    assert condition(wf["jobs"]["label"]["if"], ctx, Result(), {})
    labelled = _run(github_workflows, "plan.yml", "label", {**ctx, "needs.plan.result": "success"}, repo, github)
    assert not labelled.failed, labelled.logs
    assert github.labels == {"add-or-update"}
    assert (repo / "plans" / "poolform-plan-prod" / "plan.json").is_file()

    (repo / "pools" / "pools.yaml").write_text("version: 1\nwork_pools:\n  ci-process:\n    type: process\n    tpye: x\n")
    for entry in _matrix(github_workflows, "plan.yml", "plan"):
        broken = _run(github_workflows, "plan.yml", "plan", ctx, repo, github, matrix=entry)
        assert broken.failed and broken.outcome["Fail when the plan failed"] == "failure"
        assert broken.outcome["Upload the saved plan"] == "skipped"
        [comment] = _comments(github, f"<!-- poolform-plan:{entry['environment']} -->")
        link = "https://github.com/acme/pools/blob/abcdef1234567890/pools/pools.yaml#L5"
        assert "**Failed: 1 error.**" in comment["body"] and f"]({link})" in comment["body"]
    skipped = _run(github_workflows, "plan.yml", "label", {**ctx, "needs.plan.result": "failure"}, repo, github)
    assert "labels are left as they are" in skipped.logs["Label"] and github.labels == {"add-or-update"}

    # merged: staging applies its saved plan (prod untouched), then prod applies its own
    github.merged["mergesha"] = {"number": 5, "merged_at": "2026-12-02T00:00:00Z", "head": {"sha": "abcdef1234567890"}}
    github.runs.append({"id": 4242, "workflow": "poolform-plan.yml", "head_sha": "abcdef1234567890",
                        "conclusion": "success"})
    (repo / "pools" / "pools.yaml").write_text(CONFIG, encoding="utf-8")  # main, as merged
    apply = github_workflows["apply.yml"]
    assert apply["jobs"]["apply-prod"]["needs"] == "apply-staging"
    for job, env_name, target, other in (("apply-staging", "staging", server, prod_server),
                                         ("apply-prod", "prod", prod_server, None)):
        wrong = _run(github_workflows, "apply.yml", job, {**ctx, "secrets.POOLFORM_APPLY_API_KEY": READ[env_name]},
                     repo, github)
        assert wrong.outcome["apply"] == "failure" and "403" in wrong.logs["apply"], "the read-only key cannot apply"
        for leftover in ("plan.json", "applied.json", "apply-errors.txt"):
            (repo / leftover).unlink(missing_ok=True)
        environment_ctx = {**ctx, "secrets.POOLFORM_APPLY_API_KEY": WRITE[env_name]}  # the GitHub Environment's
        applied = _run(github_workflows, "apply.yml", job, environment_ctx, repo, github)
        assert not applied.failed, applied.logs
        assert applied.outputs["find"] == {"pr": "5", "run_id": "4242"}
        assert _pool(target, env_name).json()["concurrency_limit"] == 5
        if other is not None:
            assert _pool(other, "prod").status_code == 404, "applying staging leaves prod alone"
        [note] = _comments(github, f"<!-- poolform-apply:{env_name} -->")
        assert note["issue"] == 5 and "**Applied.**" in note["body"] and "`work_pool.ci-process`" in note["body"]
        for step, seen in applied.env_seen.items():
            assert (WRITE[env_name] in seen.values()) == (step == "apply"), step
            assert (READ[env_name] in seen.values()) == (step == "Verify"), step
        for leftover in ("plan.json", "applied.json"):
            (repo / leftover).unlink()


def test_drift_issue_per_environment_opens_and_closes(github_workflows: dict[str, Any], ctx: dict[str, Any], repo: Path,
                                                      github: Fake, server: Any, prod_server: Any, run_poolform: Any) -> None:
    entries = _matrix(github_workflows, "drift.yml", "drift")
    keys = {"PREFECT_STAGING_API_KEY": WRITE["staging"], "PREFECT_PROD_API_KEY": WRITE["prod"]}
    for env_name in ("staging", "prod"):
        done = run_poolform(["poolform", "apply", "-f", "pools/", "--env", env_name, "--auto-approve"],
                            env={**clean_env(BIN), **keys})
        assert done.returncode == 0, done.stderr
    for entry in entries:
        clean = _run(github_workflows, "drift.yml", "drift", ctx, repo, github, matrix=entry)
        assert not clean.failed, clean.logs
    assert github.issues == []
    response = httpx.patch(f"{prod_server.api_url}/work_pools/ci-process", json={"concurrency_limit": 50},
                           headers={"Authorization": f"Bearer {WRITE['prod']}"}, timeout=10)
    assert response.status_code == 204
    staging, prod = (_run(github_workflows, "drift.yml", "drift", ctx, repo, github, matrix=entry) for entry in entries)
    assert not staging.failed, staging.logs
    assert prod.failed and prod.outcome["Fail on drift"] == "failure"
    [issue] = github.issues
    assert issue["state"] == "open" and issue["labels"] == ["drift"]
    assert issue["body"].startswith("<!-- poolform-drift:prod -->") and "concurrency_limit" in issue["body"]
    assert "actions/runs/42" in issue["body"]
    again = _run(github_workflows, "drift.yml", "drift", ctx, repo, github, matrix=entries[1])
    assert again.failed and len(github.issues) == 1
    assert run_poolform(["poolform", "apply", "-f", "pools/", "--env", "prod", "--auto-approve"],
                        env={**clean_env(BIN), **keys}).returncode == 0
    fixed = _run(github_workflows, "drift.yml", "drift", ctx, repo, github, matrix=entries[1])
    assert not fixed.failed, fixed.logs
    assert issue["state"] == "closed"
    assert any(c["issue"] == issue["number"] and "No drift any more" in c["body"] for c in github.comments)
    for step, seen in fixed.env_seen.items():
        assert (READ["prod"] in seen.values()) == (step == "plan"), step
        assert READ["staging"] not in seen.values(), step


def test_forks_get_only_the_offline_validation(github_workflows: dict[str, Any], ctx: dict[str, Any], repo: Path,
                                               github: Fake) -> None:
    fork = dict(ctx, **{"github.event.pull_request.head.repo.full_name": "mallory/pools"})
    plan = github_workflows["plan.yml"]
    result = Result()
    for job in ("plan", "label"):
        assert condition(plan["jobs"][job]["if"], ctx, result, {}) is True
        assert condition(plan["jobs"][job]["if"], fork, result, {}) is False
    assert condition(plan["jobs"]["validate-fork"]["if"], ctx, result, {}) is False
    assert condition(plan["jobs"]["validate-fork"]["if"], fork, result, {}) is True
    assert "secrets" not in str(plan["jobs"]["validate-fork"])
    no_secrets = {k: v for k, v in fork.items() if not k.startswith("secrets.")}
    for entry in matrix_entries(plan["jobs"]["validate-fork"]):
        validated = _run(github_workflows, "plan.yml", "validate-fork", no_secrets, repo, github, matrix=entry)
        assert not validated.failed, validated.logs
    assert github.calls == []
