"""The GitLab jobs' scripts (``extends:`` resolved, the job's ``variables:`` set) run with bash
against two reference servers (staging and prod, the config's environments) and a fake GitLab
API (tests/cikit/fake_forges.py): one merge-request note per environment, created then updated
in place past the first page of notes, a failure note with links, one label from both plans;
the manual apply jobs apply the merged MR's saved plan of their own environment (its plan job's
artifact) and note the result on the MR, then check that a new plan is empty; the drift jobs
open and close their environment's issue. PREFECT_API_URL points at nothing, so a command that
does not take its environment's server fails. Merge request pipelines get no apply key (it is
a protected variable)."""

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
READ = {"PREFECT_STAGING_PLAN_API_KEY": "staging-read-key", "PREFECT_PROD_PLAN_API_KEY": "prod-read-key"}
WRITE = {"PREFECT_STAGING_APPLY_API_KEY": "staging-write-key", "PREFECT_PROD_APPLY_API_KEY": "prod-write-key"}


@pytest.fixture
def gitlab() -> Iterator[Fake]:
    yield from serve(Fake("gitlab", TOKEN))


def _script(kit: Any, gitlab_ci: dict[str, Any], job: str) -> str:
    return "\n".join(kit.gitlab_job(gitlab_ci, job)["script"])


def _env(kit: Any, gitlab_ci: dict[str, Any], job: str, fake: Fake, *, protected: bool = False,
         **extra: str) -> dict[str, str]:
    """What the runner gives ``job``: the CI variables, the project's CI/CD variables (the apply
    keys only on a protected branch) and the job's own ``variables:``."""
    values = dict(CI_API_V4_URL=fake.url, CI_PROJECT_ID="11", CI_MERGE_REQUEST_IID=str(MR),
                  POOLFORM_GITLAB_TOKEN=TOKEN, CI_PIPELINE_URL="https://gitlab.example.com/acme/pools/-/pipelines/9",
                  CI_COMMIT_SHORT_SHA="abc1234", CI_COMMIT_SHA="abc1234def", CI_PROJECT_URL="https://gitlab.example.com/acme/pools",
                  **READ, **(WRITE if protected else {}))
    values.update({k: str(v) for k, v in (kit.gitlab_job(gitlab_ci, job).get("variables") or {}).items()})
    return kit.base_env("http://127.0.0.1:9/api", **{**values, **extra})


def _mine(fake: Fake, marker: str) -> list[dict[str, Any]]:
    return [n for n in fake.comments if n["body"].split("\n", 1)[0] == marker]


def _pool(server: Any) -> httpx.Response:
    return httpx.get(f"{server.api_url}/work_pools/ci-process", timeout=10)


def test_plan_jobs_notes_failure_and_label(gitlab_ci: dict[str, Any], gitlab: Fake, kit: Any, run_bash: Any,
                                          repo: Path) -> None:
    for index in range(4):
        gitlab.comments.append({"id": index + 1, "issue": MR, "body": f"review {index}", "author": {"id": 7}, "system": False})
    for env_name in ("staging", "prod"):
        job = f"plan:{env_name}"
        first = run_bash(_script(kit, gitlab_ci, job), env=_env(kit, gitlab_ci, job, gitlab))
        assert first.returncode == 0, (first.stdout, first.stderr)
        assert (repo / "plan.env").read_text().strip() == "PLAN_EXITCODE=2"
        assert (repo / "plans" / f"{env_name}.json").is_file()
        [note] = _mine(gitlab, f"<!-- poolform-plan:{env_name} -->")
        assert "work_pool.ci-process" in note["body"] and "```mermaid" in note["body"]
        assert "pipelines/9" in note["body"] and "abc1234" in note["body"]
    assert gitlab.labels == set() and gitlab.auth == {TOKEN}
    labelled = run_bash(_script(kit, gitlab_ci, "label"), env=_env(kit, gitlab_ci, "label", gitlab))
    assert labelled.returncode == 0, (labelled.stdout, labelled.stderr)
    assert gitlab.labels == {"add-or-update"}

    (repo / "pools" / "pools.yaml").write_text("version: 1\nwork_pools:\n  p:\n    type: process\n    tpye: x\n")
    for env_name in ("staging", "prod"):
        (repo / "plans" / f"{env_name}.json").unlink()
        job = f"plan:{env_name}"
        broken = run_bash(_script(kit, gitlab_ci, job), env=_env(kit, gitlab_ci, job, gitlab))
        assert broken.returncode != 0, "a broken config fails the job"
        [note] = _mine(gitlab, f"<!-- poolform-plan:{env_name} -->")
        assert "**Failed: 1 error.**" in note["body"]
        assert "(https://gitlab.example.com/acme/pools/-/blob/abc1234def/pools/pools.yaml#L5)" in note["body"]
    assert len(gitlab.comments) == 6, "updated in place, past the first page of notes"


def test_label_is_no_changes_when_no_environment_changes(gitlab_ci: dict[str, Any], gitlab: Fake, kit: Any,
                                                         run_bash: Any, run_poolform: Any) -> None:
    keys = {"PREFECT_STAGING_API_KEY": "k", "PREFECT_PROD_API_KEY": "k"}
    for env_name in ("staging", "prod"):
        applied = run_poolform(["poolform", "apply", "-f", "pools/", "--env", env_name, "--auto-approve"],
                               env=kit.base_env("http://127.0.0.1:9/api", **keys))
        assert applied.returncode == 0, applied.stderr
        job = f"plan:{env_name}"
        result = run_bash(_script(kit, gitlab_ci, job), env=_env(kit, gitlab_ci, job, gitlab))
        assert result.returncode == 0, (result.stdout, result.stderr)
    assert run_bash(_script(kit, gitlab_ci, "label"), env=_env(kit, gitlab_ci, "label", gitlab)).returncode == 0
    assert gitlab.labels == {"no-changes"}
    assert all("No changes" in note["body"] for note in gitlab.comments)


def test_manual_apply_jobs_apply_each_environments_saved_plan(gitlab_ci: dict[str, Any], gitlab: Fake, kit: Any,
                                                              server: Any, prod_server: Any, run_bash: Any,
                                                              repo: Path) -> None:
    for env_name in ("staging", "prod"):
        job = f"plan:{env_name}"
        assert run_bash(_script(kit, gitlab_ci, job), env=_env(kit, gitlab_ci, job, gitlab)).returncode == 0
    saved = {env_name: (repo / "plans" / f"{env_name}.json").read_bytes() for env_name in ("staging", "prod")}
    gitlab.merged["merge-commit"] = {"iid": MR, "state": "merged", "sha": "abc1234def"}
    gitlab.pipelines[MR] = [{"id": 40, "sha": "abc1234def"}]
    gitlab.jobs[40] = [{"id": 401, "name": "plan:staging", "status": "success"},
                       {"id": 402, "name": "plan:prod", "status": "success"}]
    gitlab.artifacts[401] = {"plans/staging.json": saved["staging"]}
    gitlab.artifacts[402] = {"plans/prod.json": saved["prod"]}
    assert kit.gitlab_job(gitlab_ci, "apply:prod")["needs"] == ["apply:staging"]
    for env_name, target, other in (("staging", server, prod_server), ("prod", prod_server, None)):
        job = f"apply:{env_name}"
        env = _env(kit, gitlab_ci, job, gitlab, protected=True, CI_COMMIT_SHA="merge-commit")
        env.pop("CI_MERGE_REQUEST_IID")
        result = run_bash(_script(kit, gitlab_ci, job), env=env)
        assert result.returncode == 0, (result.stdout, result.stderr)
        assert _pool(target).json()["concurrency_limit"] == 5
        if other is not None:
            assert _pool(other).status_code == 404, "applying staging leaves prod alone"
        [note] = _mine(gitlab, f"<!-- poolform-apply:{env_name} -->")
        assert note["issue"] == MR and "**Applied.**" in note["body"]
        assert "No changes" in result.stdout, "the job's last line, the check that a new plan is empty, ran"

    gitlab.merged.clear()
    env = _env(kit, gitlab_ci, "apply:staging", gitlab, protected=True, CI_COMMIT_SHA="merge-commit")
    missing = run_bash(_script(kit, gitlab_ci, "apply:staging"), env=env)
    assert missing.returncode != 0 and "no merged merge request" in missing.stderr


def test_drift_jobs_open_and_close_their_environments_issue(gitlab_ci: dict[str, Any], gitlab: Fake, kit: Any,
                                                           run_bash: Any, run_poolform: Any) -> None:
    keys = {"PREFECT_STAGING_API_KEY": "k", "PREFECT_PROD_API_KEY": "k"}
    applied = run_poolform(["poolform", "apply", "-f", "pools/", "--env", "staging", "--auto-approve"],
                           env=kit.base_env("http://127.0.0.1:9/api", **keys))
    assert applied.returncode == 0, applied.stderr
    envs = {}
    for env_name in ("staging", "prod"):
        envs[env_name] = _env(kit, gitlab_ci, f"drift:{env_name}", gitlab)
        envs[env_name].pop("CI_MERGE_REQUEST_IID")
    clean = run_bash(_script(kit, gitlab_ci, "drift:staging"), env=envs["staging"])
    assert clean.returncode == 0, (clean.stdout, clean.stderr)
    drifted = run_bash(_script(kit, gitlab_ci, "drift:prod"), env=envs["prod"])
    assert drifted.returncode == 2, (drifted.stdout, drifted.stderr)
    [issue] = gitlab.issues
    assert issue["state"] == "opened" and issue["description"].startswith("<!-- poolform-drift:prod -->")
    applied = run_poolform(["poolform", "apply", "-f", "pools/", "--env", "prod", "--auto-approve"],
                           env=kit.base_env("http://127.0.0.1:9/api", **keys))
    assert applied.returncode == 0, applied.stderr
    fixed = run_bash(_script(kit, gitlab_ci, "drift:prod"), env=envs["prod"])
    assert fixed.returncode == 0, (fixed.stdout, fixed.stderr)
    assert issue["state"] == "closed" and "No drift any more" in issue["notes"][0]
