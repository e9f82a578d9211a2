"""Security lint of the example workflows (what a security review checks, beyond the real actionlint
in test_ci_linters.py), as a function tested on the real files and on mutated copies that must fail:

* every ``uses:`` is pinned to a full 40-hex commit SHA, with the version in a comment;
* ``permissions: {}`` at the top and, per job, exactly the scopes that job needs;
* no ``pull_request_target`` / ``workflow_run`` (a fork's code never runs with secrets);
* ``actions/checkout`` with ``persist-credentials: false``;
* secrets only in the ``env:`` of the steps allowed to see them: the write-capable
  ``PREFECT_API_KEY`` only in the Apply step, the read-only plan key only in plan/verify/drift
  steps, the GitHub token only in steps that call ``poolform ci`` (or download an artifact);
  never in a workflow's or job's ``env:``, never in a ``run:`` script;
* no ``${{ }}`` expression inside a ``run:`` script (script injection): values go through ``env:``;
* GitLab: the write-capable key only on the apply job's ``poolform apply`` line, removed from
  ``pip install``'s environment, never a global variable.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GITHUB_DIR = ROOT / "examples" / "github-actions"
GITLAB_FILE = ROOT / "examples" / "gitlab-ci" / ".gitlab-ci.yml"

PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s+([\w.-]+/[\w./-]+)@([0-9a-f]{40})\s+#\s+v\d+(?:\.\d+)*\s*$")
PERMISSIONS = {
    ("plan.yml", "plan"): {"contents": "read", "pull-requests": "write", "issues": "write"},
    ("plan.yml", "validate-fork"): {"contents": "read"},
    ("apply.yml", "apply"): {"contents": "read", "actions": "read", "pull-requests": "write"},
    ("drift.yml", "drift"): {"contents": "read", "issues": "write"},
}
SECRET_STEPS = {
    "PREFECT_API_KEY": {("apply.yml", "apply")},
    "PREFECT_API_URL": {("apply.yml", "apply")},
    "PREFECT_PLAN_API_KEY": {("plan.yml", "plan"), ("apply.yml", "Verify"), ("drift.yml", "plan")},
    "PREFECT_PLAN_API_URL": {("plan.yml", "plan"), ("apply.yml", "Verify"), ("drift.yml", "plan")},
}
SECRET = re.compile(r"secrets\.([A-Za-z_][A-Za-z0-9_]*)")


def _on(workflow: dict[str, Any]) -> Any:
    return workflow.get("on", workflow.get(True))


def lint_github(name: str, text: str) -> list[str]:
    problems: list[str] = []
    workflow = yaml.safe_load(text)
    for number, line in enumerate(text.splitlines(), 1):
        if re.match(r"^\s*(?:-\s+)?uses:", line) and not PINNED.match(line):
            problems.append(f"{name}:{number}: not pinned to a commit SHA with its version in a comment: {line.strip()}")
    triggers = _on(workflow)
    for bad in ("pull_request_target", "workflow_run"):
        if bad in (triggers if isinstance(triggers, (dict, list)) else [triggers]):
            problems.append(f"{name}: triggered by {bad}: a fork's code would run with this repository's secrets")
    if workflow.get("permissions") != {}:
        problems.append(f"{name}: top-level permissions must be {{}} (each job asks for its own)")
    for scope, where in ((workflow.get("env") or {}, "workflow env"),):
        if SECRET.search(str(scope)):
            problems.append(f"{name}: a secret in the {where}: every step would see it")
    for job_name, job in workflow["jobs"].items():
        wanted = PERMISSIONS.get((name, job_name))
        if job.get("permissions") != wanted:
            problems.append(f"{name}: job {job_name}: permissions {job.get('permissions')} instead of {wanted}")
        if SECRET.search(str(job.get("env") or {})):
            problems.append(f"{name}: job {job_name}: a secret in the job env: every step would see it")
        for index, step in enumerate(job.get("steps", [])):
            key = step.get("id") or step.get("name") or f"step {index}"
            uses = str(step.get("uses", ""))
            if uses.startswith("actions/checkout@") and (step.get("with") or {}).get("persist-credentials") is not False:
                problems.append(f"{name}: {job_name}/{key}: checkout without persist-credentials: false")
            if "${{" in str(step.get("run", "")):
                problems.append(f"{name}: {job_name}/{key}: an expression inside run: (pass it through env:)")
            if SECRET.search(str(step.get("run", ""))) or SECRET.search(str(step.get("with") or {})):
                problems.append(f"{name}: {job_name}/{key}: a secret outside the step's env")
            for value in (step.get("env") or {}).values():
                for secret in SECRET.findall(str(value)):
                    if (name, key) not in SECRET_STEPS.get(secret, set()):
                        problems.append(f"{name}: {job_name}/{key}: sees secret {secret}, which it must not")
            env_text = str(step.get("env") or {}) + str(step.get("with") or {})
            if "github.token" in env_text and "poolform ci github" not in str(step.get("run", "")) \
                    and not uses.startswith("actions/download-artifact@"):
                problems.append(f"{name}: {job_name}/{key}: gets the GitHub token without calling poolform ci")
    return problems


def lint_gitlab(text: str) -> list[str]:
    problems: list[str] = []
    ci = yaml.safe_load(text)
    if "KEY" in " ".join(ci.get("variables", {})):
        problems.append(".gitlab-ci.yml: an API key as a global variable")
    before = " ".join(ci.get("default", {}).get("before_script", []))
    for key in ("PREFECT_PLAN_API_KEY", "POOLFORM_APPLY_API_KEY", "POOLFORM_GITLAB_TOKEN"):
        if "pip install" in before and f"-u {key}" not in before:
            problems.append(f".gitlab-ci.yml: pip install runs with {key} in its environment")
    for job_name, job in ci.items():
        if not isinstance(job, dict) or "script" not in job:
            continue
        script = "\n".join(job["script"])
        for line in re.sub(r"\\\n\s*", " ", script).splitlines():
            if "POOLFORM_APPLY_API_KEY" in line and not (job_name == "apply" and "poolform apply plan.json" in line):
                problems.append(f".gitlab-ci.yml: job {job_name}: the write-capable key outside the apply command: {line.strip()}")
            if re.search(r"(?<![\w$])PREFECT_API_KEY=\"\$POOLFORM_APPLY", line) and "poolform apply" not in line:
                problems.append(f".gitlab-ci.yml: job {job_name}: the write-capable key for another command")
    return problems


def _files() -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(GITHUB_DIR.glob("*.yml"))}


def test_the_example_workflows_pass() -> None:
    problems = [p for name, text in _files().items() for p in lint_github(name, text)]
    problems += lint_gitlab(GITLAB_FILE.read_text(encoding="utf-8"))
    assert problems == []


def _mutate_yaml(name: str, change: Any) -> str:
    workflow = yaml.safe_load(_files()[name])
    change(workflow)
    text = yaml.safe_dump(workflow, sort_keys=False)
    # keep the pins' comments, which a YAML round trip drops
    return re.sub(r"(uses: [^@\n]+@[0-9a-f]{40})\n", r"\1 # v1.0.0\n", text)


def _apply_step(workflow: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in workflow["jobs"]["apply"]["steps"] if s.get("id") == "apply")


MUTATIONS = {
    "tag-pin": ("plan.yml", lambda text: text.replace("@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1", "@v7", 1), "not pinned"),
    "sha-without-version": ("drift.yml", lambda text: text.replace(" # v7.0.1", "", 1), "not pinned"),
    "pull-request-target": ("plan.yml", lambda text: text.replace("\n  pull_request:\n", "\n  pull_request_target:\n", 1),
                            "pull_request_target"),
    "workflow-permissions": ("drift.yml", lambda text: text.replace("permissions: {}", "permissions: write-all", 1),
                             "top-level permissions"),
    "wider-job-permissions": ("apply.yml", lambda text: text.replace("      contents: read\n", "      contents: write\n", 1),
                              "permissions"),
    "persisted-credentials": ("drift.yml", lambda text: text.replace("persist-credentials: false", "persist-credentials: true", 1),
                              "persist-credentials"),
    "expression-in-run": ("drift.yml", lambda text: text.replace("($RUN_URL)", "(${{ github.event.issue.title }})", 1),
                          "expression inside run"),
}


@pytest.mark.parametrize("case", list(MUTATIONS))
def test_text_mutations_are_caught(case: str) -> None:
    name, change, expected = MUTATIONS[case]
    text = change(_files()[name])
    assert text != _files()[name], "the mutation did not apply"
    problems = lint_github(name, text)
    assert any(expected in p for p in problems), problems


def _write_key_in_job_env(wf: dict[str, Any]) -> None:
    wf["jobs"]["apply"]["env"] = {"PREFECT_API_KEY": "${{ secrets.PREFECT_API_KEY }}"}


def _write_key_in_verify(wf: dict[str, Any]) -> None:
    verify = next(s for s in wf["jobs"]["apply"]["steps"] if s.get("name") == "Verify")
    verify["env"]["PREFECT_API_KEY"] = "${{ secrets.PREFECT_API_KEY }}"


def _write_key_in_install(wf: dict[str, Any]) -> None:
    install = next(s for s in wf["jobs"]["apply"]["steps"] if s.get("name") == "Install poolform")
    install["env"] = {"PREFECT_API_KEY": "${{ secrets.PREFECT_API_KEY }}"}


def _token_to_plan(wf: dict[str, Any]) -> None:
    plan = next(s for s in wf["jobs"]["plan"]["steps"] if s.get("id") == "plan")
    plan["env"]["GITHUB_TOKEN"] = "${{ github.token }}"


def _secret_in_workflow_env(wf: dict[str, Any]) -> None:
    wf["env"]["PREFECT_API_KEY"] = "${{ secrets.PREFECT_PLAN_API_KEY }}"


STRUCTURAL = {
    "write-key-in-job-env": ("apply.yml", _write_key_in_job_env, "job env"),
    "write-key-in-verify": ("apply.yml", _write_key_in_verify, "must not"),
    "write-key-in-pip-install": ("apply.yml", _write_key_in_install, "must not"),
    "token-in-plan-step": ("plan.yml", _token_to_plan, "without calling poolform ci"),
    "secret-in-workflow-env": ("drift.yml", _secret_in_workflow_env, "workflow env"),
}


@pytest.mark.parametrize("case", list(STRUCTURAL))
def test_structural_mutations_are_caught(case: str) -> None:
    name, change, expected = STRUCTURAL[case]
    assert lint_github(name, _mutate_yaml(name, lambda wf: None)) == [], "the round trip alone must pass"
    problems = lint_github(name, _mutate_yaml(name, change))
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(("case", "change", "expected"), [
    ("global-key", lambda ci: ci["variables"].update(PREFECT_API_KEY="$POOLFORM_APPLY_API_KEY"), "global variable"),
    ("pip-sees-key", lambda ci: ci["default"].update(before_script=['pip install "poolform==0.1.0"']), "pip install"),
    ("key-in-plan-job", lambda ci: ci["plan"]["script"].insert(0, 'PREFECT_API_KEY="$POOLFORM_APPLY_API_KEY" poolform plan -f pools/'),
     "outside the apply command"),
], ids=["global-key", "pip-sees-key", "key-in-plan-job"])
def test_gitlab_mutations_are_caught(case: str, change: Any, expected: str) -> None:
    ci = yaml.safe_load(GITLAB_FILE.read_text(encoding="utf-8"))
    mutated = copy.deepcopy(ci)
    change(mutated)
    problems = lint_gitlab(yaml.safe_dump(mutated))
    assert any(expected in p for p in problems), problems
