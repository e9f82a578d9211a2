"""``poolform ci github|gitlab ...`` against in-process fakes of both APIs: the comment found by
its marker and updated in place (past the first page, never a human's or another bot's), the
failure comment replaced by the plan comment, outcome labels, the apply comment, the drift issue
opened, updated and closed per environment, the saved plan of a merged pull request, and errors
that say what to do without printing the token."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fake_forges import Fake, serve  # noqa: E402

from reconciler.plan.planfile import dumps_plan  # noqa: E402
from reconciler.plan.document import Plan  # noqa: E402

GH_TOKEN = "ghs_faketoken1234567890"
GL_TOKEN = "glpat-faketoken1234567890"


@pytest.fixture(params=["github", "gitlab"])
def forge(request) -> Iterator[Fake]:
    fake = Fake(request.param, GH_TOKEN if request.param == "github" else GL_TOKEN)
    yield from serve(fake)


def env_for(fake: Fake, **extra: str) -> dict[str, str | None]:
    import os

    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith(("GITHUB_", "CI_", "POOLFORM_", "PREFECT_"))}
    if fake.kind == "github":
        env.update(GITHUB_API_URL=fake.url, GITHUB_REPOSITORY="acme/pools", GITHUB_TOKEN=GH_TOKEN)
    else:
        env.update(CI_API_V4_URL=fake.url, CI_PROJECT_ID="11", CI_MERGE_REQUEST_IID="5", POOLFORM_GITLAB_TOKEN=GL_TOKEN)
    env.update(extra)
    return env


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def ci(fake: Fake, *args: str, cwd: Path, env: dict[str, str | None] | None = None) -> Ran:
    """``poolform ci KIND ARGS`` in process (the entry group, output masking included)."""
    from click.testing import CliRunner

    from reconciler.cli.main import cli

    target = ["--pr", "5"] if fake.kind == "github" and args[0] == "comment" else []
    result = CliRunner().invoke(cli, ["--chdir", str(cwd), "ci", fake.kind, *args, *target], env=env or env_for(fake))
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def plan_file(tmp_path: Path, name: str, *, steps: bool, destroy: int = 0, errored: bool = False) -> Path:
    from views_plans import plan_json

    text = dumps_plan(Plan.from_json(plan_json(steps=steps, destroy=destroy, errored=errored)))
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def body(tmp_path: Path, text: str, name: str = "comment.md") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def human(fake: Fake, issue: int, text: str) -> None:
    author = {"user": {"login": "alice", "type": "User"}} if fake.kind == "github" else {"author": {"id": 7}, "system": False}
    fake.comments.append({"id": fake.new_id(), "issue": issue, "body": text, **author})


def test_comment_created_then_updated_past_the_first_page(forge: Fake, tmp_path: Path) -> None:
    for index in range(7):  # more than two pages of other people's comments, one quoting our marker
        human(forge, 5, "<!-- poolform-plan -->\nquoted" if index == 3 else f"review {index}")
    human(forge, 6, "<!-- poolform-plan -->\nanother PR")
    first = ci(forge, "comment", "--body-file", str(body(tmp_path, "<!-- poolform-plan -->\n### plan one\n")), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    ours = [c for c in forge.comments if "plan one" in c["body"]]
    assert len(ours) == 1 and ours[0]["issue"] == 5 and first.stdout.startswith("created comment")
    for index in range(4):
        human(forge, 5, f"later review {index}")
    second = ci(forge, "comment", "--body-file", str(body(tmp_path, "<!-- poolform-plan -->\n### plan two\n")),
                "--footer", "<sub>run 42</sub>", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith(f"updated comment {ours[0]['id']}")
    assert ours[0]["body"] == "<!-- poolform-plan -->\n### plan two\n\n<sub>run 42</sub>\n"
    assert sum("poolform-plan" in c["body"] for c in forge.comments) == 3, "the human quote and the other PR stay"
    assert [c for c in forge.comments if c["body"].endswith("quoted")], "a human's comment is never edited"
    pages = [c for c in forge.calls if c[0] == "GET" and ("comments" in c[1] or "notes" in c[1])]
    assert len(pages) >= 4, "the list must be read page by page"


def test_each_environment_keeps_its_own_comment(forge: Fake, tmp_path: Path) -> None:
    for env in ("staging", "prod", "staging"):
        result = ci(forge, "comment", "--body-file", str(body(tmp_path, f"<!-- poolform-plan:{env} -->\n{env}\n")),
                    cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    assert sorted(c["body"].split("\n")[0] for c in forge.comments) == ["<!-- poolform-plan:prod -->",
                                                                       "<!-- poolform-plan:staging -->"]


def test_comment_refuses_several_markers_and_another_environments_plan(forge: Fake, tmp_path: Path) -> None:
    from views_plans import plan_json

    both = body(tmp_path, "<!-- poolform-plan:staging -->\nstaging\n\n<!-- poolform-plan:prod -->\nprod\n")
    result = ci(forge, "comment", "--body-file", str(both), cwd=tmp_path)
    assert result.returncode == 1 and "2 poolform markers" in result.stderr and "--env NAME" in result.stderr
    data = plan_json(steps=True)
    data["environment"] = "prod"
    prod_plan = tmp_path / "prod.json"
    prod_plan.write_text(dumps_plan(Plan.from_json(data)), encoding="utf-8")
    for marker, code in (("<!-- poolform-plan:staging -->", 1), ("<!-- poolform-plan -->", 1),
                         ("<!-- poolform-plan:prod -->", 0)):
        result = ci(forge, "comment", "--body-file", str(body(tmp_path, f"{marker}\nplan\n")), "--plan",
                    str(prod_plan), cwd=tmp_path)
        assert result.returncode == code, (marker, result.stderr)
        if code:
            assert "plan of environment 'prod'" in result.stderr
    assert [c["body"].split("\n")[0] for c in forge.comments] == ["<!-- poolform-plan:prod -->"]
    assert forge.labels == {"add-or-update"}


def test_failure_comment_is_replaced_by_the_plan_and_labels_follow(forge: Fake, tmp_path: Path) -> None:
    failed = body(tmp_path, "<!-- poolform-plan -->\n### poolform validate\n\n**Failed: 1 error.**\n")
    errored = plan_file(tmp_path, "errored.json", steps=False, errored=True)
    result = ci(forge, "comment", "--body-file", str(failed), "--plan", str(errored), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "labels left as they are" in result.stdout and forge.labels == set()
    for steps, destroy, label in ((True, 0, "add-or-update"), (True, 1, "destroy"), (False, 0, "no-changes")):
        plan = plan_file(tmp_path, "plan.json", steps=steps, destroy=destroy)
        good = body(tmp_path, f"<!-- poolform-plan -->\n### poolform plan {label}\n")
        result = ci(forge, "comment", "--body-file", str(good), "--plan", str(plan), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert forge.labels == {label}
    assert len(forge.comments) == 1 and "no-changes" in forge.comments[0]["body"]


@pytest.mark.parametrize(("plans", "label"), [
    ([(False, 0, False), (True, 0, False)], "add-or-update"),
    ([(True, 1, False), (True, 0, False)], "destroy"),
    ([(False, 0, False), (False, 0, False)], "no-changes"),
    ([(True, 1, False), (False, 0, True)], None),  # a failed plan: the labels are left as they are
    ([(True, 0, False)], "add-or-update"),
], ids=["changes-in-one", "destroy-wins", "none-anywhere", "one-failed", "one-environment"])
def test_one_label_from_every_environments_plan(forge: Fake, tmp_path: Path, plans: list[tuple[bool, int, bool]],
                                                label: str | None) -> None:
    forge.labels = {"no-changes"} if label != "no-changes" else {"destroy"}
    before = set(forge.labels)
    files = [str(plan_file(tmp_path, f"{i}.json", steps=steps, destroy=destroy, errored=errored))
             for i, (steps, destroy, errored) in enumerate(plans)]
    target = ["--pr", "5"] if forge.kind == "github" else []
    result = ci(forge, "label", *target, *files, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert forge.labels == ({label} if label else before), result.stdout


def test_label_needs_readable_plans(forge: Fake, tmp_path: Path) -> None:
    target = ["--pr", "5"] if forge.kind == "github" else []
    missing = ci(forge, "label", *target, str(tmp_path / "plans" / "*.json"), cwd=tmp_path)
    assert missing.returncode == 1 and "cannot read the plan file" in missing.stderr
    none = ci(forge, "label", *target, cwd=tmp_path)
    assert none.returncode == 1 and "Missing argument 'PLANFILE...'" in none.stderr
    assert forge.labels == set() and not [c for c in forge.calls if c[0] != "GET"]


def test_apply_comment_sits_beside_the_plan_comment(forge: Fake, tmp_path: Path) -> None:
    plan = plan_file(tmp_path, "plan.json", steps=True)
    shown = subprocess.run([sys.executable, "-m", "reconciler", "show", str(plan), "--format", "markdown", "--result",
                            "applied"], capture_output=True, text=True, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert ci(forge, "comment", "--body-file", str(body(tmp_path, "<!-- poolform-plan -->\nplan\n")), cwd=tmp_path).returncode == 0
    result = ci(forge, "comment", "--body-file", str(body(tmp_path, shown.stdout)), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [c["body"].split("\n")[0] for c in forge.comments] == ["<!-- poolform-plan -->", "<!-- poolform-apply -->"]
    assert "**Applied.**" in forge.comments[1]["body"]


def test_drift_issue_opened_updated_closed_per_environment(forge: Fake, tmp_path: Path) -> None:
    drifted = plan_file(tmp_path, "drift.json", steps=True)
    clean = plan_file(tmp_path, "clean.json", steps=False)
    prod = ("--environment", "prod")
    opened = ci(forge, "drift", "--plan", str(drifted), "--footer", "run 1", *prod, cwd=tmp_path)
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout.startswith("drift issue opened")
    assert ci(forge, "drift", "--plan", str(drifted), "--environment", "staging", cwd=tmp_path).returncode == 0
    assert len(forge.issues) == 2
    text_key = "body" if forge.kind == "github" else "description"
    issue = next(i for i in forge.issues if "poolform-drift:prod" in i[text_key])
    assert issue[text_key].startswith("<!-- poolform-drift:prod -->\n### poolform drift · prod")
    assert "drift" in issue["labels"] and "prod" in issue["title"] and "```mermaid" in issue[text_key]
    again = ci(forge, "drift", "--plan", str(drifted), "--footer", "run 2", *prod, cwd=tmp_path)
    assert again.stdout.startswith("drift issue updated") and len(forge.issues) == 2
    assert issue[text_key].rstrip().endswith("run 2")
    closed = ci(forge, "drift", "--plan", str(clean), "--note", "clean as of run 3", *prod, cwd=tmp_path)
    assert closed.returncode == 0, closed.stderr
    assert closed.stdout.startswith("drift issue closed")
    assert issue["state"] == "closed" and [i for i in forge.issues if i["state"] in ("open", "opened")]
    notes = issue["notes"] if forge.kind == "gitlab" else [c["body"] for c in forge.comments if c["issue"] == issue["number"]]
    assert notes == ["clean as of run 3"]
    nothing = ci(forge, "drift", "--plan", str(clean), *prod, cwd=tmp_path)
    assert nothing.stdout.startswith("drift issue none")


def test_a_failed_drift_plan_leaves_the_issue(forge: Fake, tmp_path: Path) -> None:
    assert ci(forge, "drift", "--plan", str(plan_file(tmp_path, "d.json", steps=True)), cwd=tmp_path).returncode == 0
    before = len(forge.writes())
    result = ci(forge, "drift", "--plan", str(plan_file(tmp_path, "e.json", steps=False, errored=True)), cwd=tmp_path)
    assert result.returncode == 1 and "drift is unknown" in result.stderr
    assert len(forge.writes()) == before and forge.issues[0]["state"] in ("open", "opened")


@pytest.mark.parametrize("case", ["bad-token", "forbidden", "no-marker", "too-long", "no-repo-env"])
def test_errors_are_clear_and_print_no_token(forge: Fake, tmp_path: Path, case: str) -> None:
    good = body(tmp_path, "<!-- poolform-plan -->\nx\n")
    env = env_for(forge)
    args: list[str] = ["comment", "--body-file", str(good)]
    if case == "bad-token":
        env["GITHUB_TOKEN" if forge.kind == "github" else "POOLFORM_GITLAB_TOKEN"] = "wrong-secret-value-123"
    elif case == "forbidden":
        forge.fail_writes = 403
    elif case == "no-marker":
        args[2] = str(body(tmp_path, "### no marker\n"))
    elif case == "too-long":
        args[2] = str(body(tmp_path, "<!-- poolform-plan -->\n" + "x" * 70_000))
    else:
        env.pop("GITHUB_REPOSITORY" if forge.kind == "github" else "CI_PROJECT_ID")
    result = ci(forge, *args, cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr and result.stderr.startswith("Error: ")
    for secret in (GH_TOKEN, GL_TOKEN, "wrong-secret-value-123"):
        assert secret not in result.stdout + result.stderr
    expected = {"bad-token": "401", "forbidden": "403", "no-marker": "marker", "too-long": "65536",
                "no-repo-env": "is not set"}[case]
    assert expected in result.stderr
    if case in ("bad-token", "forbidden"):
        assert "token" in result.stderr


def test_github_saved_plan_run(tmp_path: Path) -> None:
    for fake in serve(Fake("github", GH_TOKEN)):
        fake.merged["mergesha"] = {"number": 5, "merged_at": "2026-12-01T00:00:00Z", "head": {"sha": "headsha"}}
        fake.runs.append({"id": 77, "workflow": "poolform-plan.yml", "head_sha": "headsha", "conclusion": "success"})
        fake.runs.append({"id": 78, "workflow": "poolform-plan.yml", "head_sha": "other", "conclusion": "success"})
        found = ci(fake, "saved-plan-run", "--sha", "mergesha", "--workflow", "poolform-plan.yml", cwd=tmp_path)
        assert found.returncode == 0, found.stderr
        assert found.stdout.splitlines() == ["pr=5", "run_id=77"]
        none = ci(fake, "saved-plan-run", "--sha", "direct-push", "--workflow", "poolform-plan.yml", cwd=tmp_path)
        assert none.returncode == 0 and none.stdout == ""


def test_gitlab_saved_plan_of_the_merged_merge_request(tmp_path: Path) -> None:
    for fake in serve(Fake("gitlab", GL_TOKEN)):
        fake.merged["mergesha"] = {"iid": 5, "state": "merged", "sha": "headsha"}
        fake.pipelines[5] = [{"id": 31, "sha": "newer-unrelated"}] + [{"id": 30 - i, "sha": "headsha"} for i in range(4)]
        fake.jobs[30] = [{"id": 501, "name": "validate", "status": "success"}, {"id": 502, "name": "plan", "status": "success"}]
        fake.artifacts[502] = {"plan.json": b'{"saved": true}'}
        out = tmp_path / "plan.json"
        found = ci(fake, "saved-plan", "--sha", "mergesha", "--out", str(out), cwd=tmp_path)
        assert found.returncode == 0, found.stderr
        assert found.stdout.strip() == "mr=5" and out.read_bytes() == b'{"saved": true}'
        missing = ci(fake, "saved-plan", "--sha", "direct-push", "--out", str(tmp_path / "x.json"), cwd=tmp_path)
        assert missing.returncode == 1 and "no merged merge request" in missing.stderr
        fake.artifacts.clear()
        gone = ci(fake, "saved-plan", "--sha", "mergesha", "--out", str(tmp_path / "y.json"), cwd=tmp_path)
        assert gone.returncode == 1 and "re-run its pipeline" in gone.stderr
