"""The GitLab jobs' scripts run with bash against the reference server and a fake GitLab API
(tests/cikit/fake_forges.py): one merge-request note per environment, created then updated in
place past the first page of notes, a failure note with links, the outcome label; the manual
apply job applies the merged MR's saved plan (its plan job's artifact) and notes the result on
the MR; the drift job opens and closes its issue. PREFECT_API_URL points at nothing, so a
command given the wrong credential variables fails."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fake_forges import Fake, serve  # noqa: E402

TOKEN = "glpat-jobtoken0123456789"
MR = 5


@pytest.fixture
def gitlab() -> Iterator[Fake]:
    yield from serve(Fake("gitlab", TOKEN))


def _script(gitlab_ci: dict[str, Any], job: str) -> str:
    return "\n".join(gitlab_ci[job]["script"])


def _env(kit: Any, server: Any, fake: Fake, **extra: str) -> dict[str, str]:
    values = dict(CI_API_V4_URL=fake.url, CI_PROJECT_ID="11", CI_MERGE_REQUEST_IID=str(MR),
                  POOLFORM_GITLAB_TOKEN=TOKEN, CI_PIPELINE_URL="https://gitlab.example.com/acme/pools/-/pipelines/9",
                  CI_COMMIT_SHORT_SHA="abc1234", CI_COMMIT_SHA="abc1234def", CI_PROJECT_URL="https://gitlab.example.com/acme/pools",
                  PREFECT_PLAN_API_URL=server.api_url, PREFECT_PLAN_API_KEY="read-only-key",
                  POOLFORM_APPLY_API_URL=server.api_url, POOLFORM_APPLY_API_KEY="write-key")
    return kit.base_env("http://127.0.0.1:9/api", **{**values, **extra})


def _mine(fake: Fake, marker: str) -> list[dict[str, Any]]:
    return [n for n in fake.comments if n["body"].split("\n", 1)[0] == marker]


def test_plan_job_note_failure_and_labels(gitlab_ci: dict[str, Any], gitlab: Fake, kit: Any, server: Any, run_bash: Any,
                                          repo: Path) -> None:
    for index in range(4):
        gitlab.comments.append({"id": index + 1, "issue": MR, "body": f"review {index}", "author": {"id": 7}, "system": False})
    first = run_bash(_script(gitlab_ci, "plan"), env=_env(kit, server, gitlab))
    assert first.returncode == 0, (first.stdout, first.stderr)
    assert (repo / "plan.env").read_text().strip() == "PLAN_EXITCODE=2"
    [note] = _mine(gitlab, "<!-- poolform-plan -->")
    assert "work_pool.ci-process" in note["body"] and "```mermaid" in note["body"]
    assert "pipelines/9" in note["body"] and "abc1234" in note["body"]
    assert gitlab.labels == {"add-or-update"} and gitlab.auth == {TOKEN}

    (repo / "pools" / "pools.yaml").write_text("version: 1\nwork_pools:\n  p:\n    type: process\n    tpye: x\n")
    (repo / "plan.json").unlink()
    broken = run_bash(_script(gitlab_ci, "plan"), env=_env(kit, server, gitlab))
    assert broken.returncode != 0, "a broken config fails the job"
    [note] = _mine(gitlab, "<!-- poolform-plan -->")
    assert "**Failed: 1 error.**" in note["body"]
    assert "(https://gitlab.example.com/acme/pools/-/blob/abc1234def/pools/pools.yaml#L5)" in note["body"]
    assert len(gitlab.comments) == 5, "updated in place, past the first page of notes"


def test_plan_job_labels_no_changes_after_apply(gitlab_ci: dict[str, Any], gitlab: Fake, kit: Any, server: Any,
                                                run_bash: Any, run_poolform: Any) -> None:
    assert run_poolform(["poolform", "apply", "-f", "pools/", "--auto-approve"]).returncode == 0
    result = run_bash(_script(gitlab_ci, "plan"), env=_env(kit, server, gitlab))
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert gitlab.labels == {"no-changes"}
    assert "No changes" in gitlab.comments[0]["body"]


def test_manual_apply_job_applies_the_merge_requests_saved_plan(gitlab_ci: dict[str, Any], gitlab: Fake, kit: Any,
                                                                 server: Any, run_bash: Any, repo: Path) -> None:
    assert run_bash(_script(gitlab_ci, "plan"), env=_env(kit, server, gitlab)).returncode == 0
    saved = (repo / "plan.json").read_bytes()
    (repo / "plan.json").unlink()
    gitlab.merged["merge-commit"] = {"iid": MR, "state": "merged", "sha": "abc1234def"}
    gitlab.pipelines[MR] = [{"id": 40, "sha": "abc1234def"}]
    gitlab.jobs[40] = [{"id": 401, "name": "plan", "status": "success"}]
    gitlab.artifacts[401] = {"plan.json": saved}
    env = _env(kit, server, gitlab, CI_COMMIT_SHA="merge-commit")
    env.pop("CI_MERGE_REQUEST_IID")
    result = run_bash(_script(gitlab_ci, "apply"), env=env)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert httpx.get(f"{server.api_url}/work_pools/ci-process", timeout=10).json()["concurrency_limit"] == 5
    [note] = _mine(gitlab, "<!-- poolform-apply -->")
    assert note["issue"] == MR and "**Applied.**" in note["body"]
    assert "No changes" in result.stdout, "the job's last line, the check that a new plan is empty, ran"

    gitlab.merged.clear()
    missing = run_bash(_script(gitlab_ci, "apply"), env=env)
    assert missing.returncode != 0 and "no merged merge request" in missing.stderr


def test_drift_job_opens_and_closes_the_issue(gitlab_ci: dict[str, Any], gitlab: Fake, kit: Any, server: Any,
                                              run_bash: Any, run_poolform: Any) -> None:
    env = _env(kit, server, gitlab)
    env.pop("CI_MERGE_REQUEST_IID")
    drifted = run_bash(_script(gitlab_ci, "drift"), env=env)
    assert drifted.returncode == 2, (drifted.stdout, drifted.stderr)
    [issue] = gitlab.issues
    assert issue["state"] == "opened" and issue["description"].startswith("<!-- poolform-drift -->")
    assert run_poolform(["poolform", "apply", "-f", "pools/", "--auto-approve"]).returncode == 0
    clean = run_bash(_script(gitlab_ci, "drift"), env=env)
    assert clean.returncode == 0, (clean.stdout, clean.stderr)
    assert issue["state"] == "closed" and "No drift any more" in issue["notes"][0]
