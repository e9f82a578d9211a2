"""Security lint of the example workflows (what a security review checks, beyond the real actionlint
in test_ci_linters.py), as a function tested on the real files and on mutated copies that must fail:

* every ``uses:`` is pinned to a full 40-hex commit SHA, with the version in a comment;
* ``permissions: {}`` at the top and, per job, exactly the scopes that job needs;
* no ``pull_request_target`` / ``workflow_run`` (a fork's code never runs with secrets);
* ``actions/checkout`` with ``persist-credentials: false``;
* secrets, resolved through the matrix (``secrets[matrix.plan_secret]``) and the job's ``env:``
  (``secrets[env.PLAN_SECRET]``), only in the ``env:`` of steps that call the Prefect API
  (``poolform plan``/``apply``): the read-only ``PREFECT_<ENV>_PLAN_API_KEY`` in plan, verify and
  drift steps, the write-capable ``POOLFORM_APPLY_API_KEY`` only in an apply step of a job bound
  to the GitHub Environment it applies (so only that environment's secret, behind its protection
  rules, is there), never in a workflow's or job's ``env:``, a ``with:`` or a ``run:`` script;
* a pull-request workflow sees read-only secrets only, binds no job to a GitHub Environment
  (its secrets could be write keys), and every job that sees a secret is skipped for forks;
* the apply jobs run in promotion order: each needs the one before (staging before prod);
* the GitHub token only in steps that call ``poolform ci`` (or download an artifact);
* no ``${{ }}`` expression inside a ``run:`` script (script injection): values go through ``env:``;
* GitLab (``extends:`` resolved): no key as a global variable; ``pip install`` runs with every key
  removed; the write-capable key variable only in manual default-branch jobs bound to their
  environment, and only on the ``poolform apply`` line; merge-request jobs never name it; every
  key only on a ``poolform plan``/``apply`` line; the apply jobs in promotion order.
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from conftest import gitlab_jobs  # noqa: E402
from gha import matrix_entries  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
GITHUB_DIR = ROOT / "examples" / "github-actions"
GITLAB_FILE = ROOT / "examples" / "gitlab-ci" / ".gitlab-ci.yml"

PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s+([\w.-]+/[\w./-]+)@([0-9a-f]{40})\s+#\s+v\d+(?:\.\d+)*\s*$")
APPLY_PERMISSIONS = {"contents": "read", "actions": "read", "pull-requests": "write"}
PERMISSIONS = {
    ("plan.yml", "plan"): {"contents": "read", "pull-requests": "write"},
    ("plan.yml", "label"): {"issues": "write"},
    ("plan.yml", "validate-fork"): {"contents": "read"},
    ("apply.yml", "apply-staging"): APPLY_PERMISSIONS,
    ("apply.yml", "apply-prod"): APPLY_PERMISSIONS,
    ("drift.yml", "drift"): {"contents": "read", "issues": "write"},
}
READ_ONLY = re.compile(r"^PREFECT_[A-Z0-9_]+_PLAN_API_KEY$")
WRITE_KEY = "POOLFORM_APPLY_API_KEY"
READ_STEPS = {("plan.yml", "plan"), ("apply.yml", "Verify"), ("drift.yml", "plan")}
SECRET = re.compile(r"secrets(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*(matrix|env)\.([\w-]+)\s*\])")
SAME_REPOSITORY = "github.event.pull_request.head.repo.full_name == github.repository"
API_CALL = re.compile(r"(?m)^\s*(?:env [^\n]*)?poolform (?:plan|apply)\b")


def _on(workflow: dict[str, Any]) -> Any:
    return workflow.get("on", workflow.get(True))


def _triggers(workflow: dict[str, Any]) -> set[str]:
    on = _on(workflow)
    return set(on) if isinstance(on, (dict, list)) else {on}


def secrets_seen(value: Any, job: dict[str, Any]) -> set[str]:
    """The secret names ``value`` (an env: value, a with: block...) reads, with ``secrets[matrix.K]``
    and ``secrets[env.K]`` resolved through the job's matrix entries and ``env:``."""
    names: set[str] = set()
    for static, context, key in SECRET.findall(str(value)):
        if static:
            names.add(static)
        elif context == "matrix":
            names |= {str(entry.get(key)) for entry in matrix_entries(job)}
        else:
            names.add(str((job.get("env") or {}).get(key)))
    return names


def lint_github(name: str, text: str) -> list[str]:
    problems: list[str] = []
    workflow = yaml.safe_load(text)
    for number, line in enumerate(text.splitlines(), 1):
        if re.match(r"^\s*(?:-\s+)?uses:", line) and not PINNED.match(line):
            problems.append(f"{name}:{number}: not pinned to a commit SHA with its version in a comment: {line.strip()}")
    triggers = _triggers(workflow)
    for bad in ("pull_request_target", "workflow_run"):
        if bad in triggers:
            problems.append(f"{name}: triggered by {bad}: a fork's code would run with this repository's secrets")
    pull_request = bool(triggers & {"pull_request", "pull_request_target"})
    if workflow.get("permissions") != {}:
        problems.append(f"{name}: top-level permissions must be {{}} (each job asks for its own)")
    if SECRET.search(str(workflow.get("env") or {})):
        problems.append(f"{name}: a secret in the workflow env: every step would see it")
    appliers: list[str] = []
    for job_name, job in workflow["jobs"].items():
        wanted = PERMISSIONS.get((name, job_name))
        if job.get("permissions") != wanted:
            problems.append(f"{name}: job {job_name}: permissions {job.get('permissions')} instead of {wanted}")
        if SECRET.search(str(job.get("env") or {})):
            problems.append(f"{name}: job {job_name}: a secret in the job env: every step would see it")
        if pull_request and "environment" in job:
            problems.append(f"{name}: job {job_name}: a pull request's job bound to a GitHub Environment, whose "
                            "secrets may be write keys")
        job_secrets: set[str] = set()
        for index, step in enumerate(job.get("steps", [])):
            key = step.get("id") or step.get("name") or f"step {index}"
            where = f"{name}: {job_name}/{key}"
            uses = str(step.get("uses", ""))
            run = str(step.get("run", ""))
            if uses.startswith("actions/checkout@") and (step.get("with") or {}).get("persist-credentials") is not False:
                problems.append(f"{where}: checkout without persist-credentials: false")
            if "${{" in run:
                problems.append(f"{where}: an expression inside run: (pass it through env:)")
            if SECRET.search(run) or SECRET.search(str(step.get("with") or {})):
                problems.append(f"{where}: a secret outside the step's env")
            seen = secrets_seen(step.get("env") or {}, job)
            job_secrets |= seen
            if seen and not API_CALL.search(run):
                problems.append(f"{where}: sees {', '.join(sorted(seen))} but calls no Prefect API (poolform plan/apply)")
            for secret in sorted(seen):
                if READ_ONLY.match(secret):
                    if (name, key) not in READ_STEPS:
                        problems.append(f"{where}: sees secret {secret}, which it must not")
                elif secret == WRITE_KEY:
                    if pull_request or key != "apply":
                        problems.append(f"{where}: sees the write-capable secret {secret}, which it must not")
                    elif job.get("environment") != (job.get("env") or {}).get("POOLFORM_ENV"):
                        problems.append(f"{where}: sees {secret} outside a job bound to the GitHub Environment it "
                                        f"applies (environment: {job.get('environment')!r})")
                    else:
                        appliers.append(job_name)
                else:
                    problems.append(f"{where}: sees secret {secret}, which is neither a read-only "
                                    f"PREFECT_<ENV>_PLAN_API_KEY nor {WRITE_KEY}")
            env_text = str(step.get("env") or {}) + str(step.get("with") or {})
            if "github.token" in env_text and "poolform ci github" not in run \
                    and not uses.startswith("actions/download-artifact@"):
                problems.append(f"{where}: gets the GitHub token without calling poolform ci")
        if pull_request and job_secrets and SAME_REPOSITORY not in str(job.get("if", "")):
            problems.append(f"{name}: job {job_name}: sees secrets and is not skipped for forks (if: {SAME_REPOSITORY})")
    for before, after in zip(appliers, appliers[1:]):
        needs = workflow["jobs"][after].get("needs", [])
        if before not in ([needs] if isinstance(needs, str) else needs):
            problems.append(f"{name}: job {after} does not need {before}: applies must run in promotion order")
    return problems


def _lines(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value] if value else []


def lint_gitlab(text: str) -> list[str]:
    problems: list[str] = []
    ci = yaml.safe_load(text)
    if "KEY" in " ".join(ci.get("variables", {})):
        problems.append(".gitlab-ci.yml: an API key as a global variable")
    jobs = gitlab_jobs(ci)
    keys = {"POOLFORM_GITLAB_TOKEN"}
    for job in jobs.values():
        keys |= {str(v) for k, v in (job.get("variables") or {}).items() if k in ("PLAN_KEY_VAR", "APPLY_KEY_VAR")}
    before = " ".join(_lines((ci.get("default") or {}).get("before_script")))
    for key in sorted(keys):
        if "pip install" in before and f"-u {key}" not in before:
            problems.append(f".gitlab-ci.yml: pip install runs with {key} in its environment")
    write_keys = {str(job["variables"]["APPLY_KEY_VAR"]) for job in jobs.values() if "APPLY_KEY_VAR" in (job.get("variables") or {})}
    appliers: list[str] = []
    for job_name, job in jobs.items():
        variables = job.get("variables") or {}
        script = re.sub(r"\\\n\s*", " ", "\n".join(_lines(job.get("before_script")) + _lines(job["script"])))
        merge_request = any("merge_request_event" in str(rule.get("if", "")) for rule in job.get("rules", []))
        for line in script.splitlines():
            if re.search(r"\$\{?(PLAN_KEY_VAR|APPLY_KEY_VAR)\b", line) and not re.search(r"poolform (plan|apply)\b", line):
                problems.append(f".gitlab-ci.yml: job {job_name}: a key outside a poolform plan/apply line: {line.strip()}")
            if re.search(r"\$\{?APPLY_KEY_VAR\b", line) and not re.search(r"poolform apply plan\.json\b", line):
                problems.append(f".gitlab-ci.yml: job {job_name}: the write-capable key outside the apply command: {line.strip()}")
            for key in write_keys:
                if key in line:
                    problems.append(f".gitlab-ci.yml: job {job_name}: names the write-capable key {key}: {line.strip()}")
        if "APPLY_KEY_VAR" in variables:
            rules = job.get("rules", [])
            if merge_request or not rules or any(rule.get("when") != "manual" or "$CI_DEFAULT_BRANCH" not in str(rule.get("if", ""))
                                                 for rule in rules):
                problems.append(f".gitlab-ci.yml: job {job_name}: the write-capable key in a job that is not a manual "
                                "job of the default branch")
            if (job.get("environment") or {}).get("name") != variables.get("POOLFORM_ENV"):
                problems.append(f".gitlab-ci.yml: job {job_name}: applies {variables.get('POOLFORM_ENV')!r} outside its "
                                f"environment (environment: {job.get('environment')!r})")
            appliers.append(job_name)
    for before_job, after in zip(appliers, appliers[1:]):
        if before_job not in jobs[after].get("needs", []):
            problems.append(f".gitlab-ci.yml: job {after} does not need {before_job}: applies must run in promotion order")
    return problems


def _files() -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(GITHUB_DIR.glob("*.yml"))}


def test_the_example_workflows_pass() -> None:
    problems = [p for name, text in _files().items() for p in lint_github(name, text)]
    problems += lint_gitlab(GITLAB_FILE.read_text(encoding="utf-8"))
    assert problems == []


def _mutate_yaml(name: str, change: Any) -> str:
    workflow = copy.deepcopy(yaml.safe_load(_files()[name]))  # the apply jobs' steps are one list (a YAML alias)
    change(workflow)
    text = yaml.safe_dump(workflow, sort_keys=False)
    # keep the pins' comments, which a YAML round trip drops
    return re.sub(r"(uses: [^@\n]+@[0-9a-f]{40})\n", r"\1 # v1.0.0\n", text)


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
    "write-key-as-plan-secret": ("plan.yml", lambda text: text.replace("plan_secret: PREFECT_PROD_PLAN_API_KEY",
                                                                       "plan_secret: POOLFORM_APPLY_API_KEY", 1),
                                 "write-capable secret"),
    "unknown-secret-in-drift": ("drift.yml", lambda text: text.replace("plan_secret: PREFECT_STAGING_PLAN_API_KEY",
                                                                        "plan_secret: PREFECT_API_KEY", 1),
                                "neither a read-only"),
}


@pytest.mark.parametrize("case", list(MUTATIONS))
def test_text_mutations_are_caught(case: str) -> None:
    name, change, expected = MUTATIONS[case]
    text = change(_files()[name])
    assert text != _files()[name], "the mutation did not apply"
    problems = lint_github(name, text)
    assert any(expected in p for p in problems), problems


def _step(wf: dict[str, Any], job: str, key: str) -> dict[str, Any]:
    return next(s for s in wf["jobs"][job]["steps"] if key in (s.get("id"), s.get("name")))


def _write_key_in_job_env(wf: dict[str, Any]) -> None:
    wf["jobs"]["apply-prod"]["env"]["CREDENTIAL"] = "${{ secrets.POOLFORM_APPLY_API_KEY }}"


def _write_key_in_verify(wf: dict[str, Any]) -> None:
    _step(wf, "apply-staging", "Verify")["env"]["CREDENTIAL"] = "${{ secrets.POOLFORM_APPLY_API_KEY }}"


def _write_key_in_install(wf: dict[str, Any]) -> None:
    _step(wf, "apply-staging", "Install poolform")["env"] = {"CREDENTIAL": "${{ secrets.POOLFORM_APPLY_API_KEY }}"}


def _read_key_in_comment(wf: dict[str, Any]) -> None:
    _step(wf, "plan", "Comment")["env"]["CREDENTIAL"] = "${{ secrets[matrix.plan_secret] }}"


def _token_to_plan(wf: dict[str, Any]) -> None:
    _step(wf, "plan", "plan")["env"]["GITHUB_TOKEN"] = "${{ github.token }}"


def _secret_in_workflow_env(wf: dict[str, Any]) -> None:
    wf["env"]["PREFECT_API_KEY"] = "${{ secrets.PREFECT_PROD_PLAN_API_KEY }}"


def _apply_without_environment(wf: dict[str, Any]) -> None:
    del wf["jobs"]["apply-prod"]["environment"]


def _apply_in_the_wrong_environment(wf: dict[str, Any]) -> None:
    wf["jobs"]["apply-prod"]["environment"] = "staging"


def _prod_without_staging(wf: dict[str, Any]) -> None:
    del wf["jobs"]["apply-prod"]["needs"]


def _plan_job_in_an_environment(wf: dict[str, Any]) -> None:
    wf["jobs"]["plan"]["environment"] = "${{ matrix.environment }}"


def _plan_job_for_forks(wf: dict[str, Any]) -> None:
    del wf["jobs"]["plan"]["if"]


STRUCTURAL = {
    "write-key-in-job-env": ("apply.yml", _write_key_in_job_env, "job env"),
    "write-key-in-verify": ("apply.yml", _write_key_in_verify, "must not"),
    "write-key-in-pip-install": ("apply.yml", _write_key_in_install, "calls no Prefect API"),
    "read-key-in-comment-step": ("plan.yml", _read_key_in_comment, "calls no Prefect API"),
    "token-in-plan-step": ("plan.yml", _token_to_plan, "without calling poolform ci"),
    "secret-in-workflow-env": ("drift.yml", _secret_in_workflow_env, "workflow env"),
    "apply-without-environment": ("apply.yml", _apply_without_environment, "GitHub Environment it applies"),
    "apply-in-the-wrong-environment": ("apply.yml", _apply_in_the_wrong_environment, "GitHub Environment it applies"),
    "prod-without-staging": ("apply.yml", _prod_without_staging, "promotion order"),
    "plan-job-in-an-environment": ("plan.yml", _plan_job_in_an_environment, "bound to a GitHub Environment"),
    "plan-job-for-forks": ("plan.yml", _plan_job_for_forks, "not skipped for forks"),
}


@pytest.mark.parametrize("case", list(STRUCTURAL))
def test_structural_mutations_are_caught(case: str) -> None:
    name, change, expected = STRUCTURAL[case]
    assert lint_github(name, _mutate_yaml(name, lambda wf: None)) == [], "the round trip alone must pass"
    problems = lint_github(name, _mutate_yaml(name, change))
    assert any(expected in p for p in problems), problems


def _gitlab_plan_with_the_write_key(ci: dict[str, Any]) -> None:
    ci[".plan"]["script"].insert(0, 'env "$CREDENTIAL_VAR=$(printenv "$APPLY_KEY_VAR")" poolform plan -f pools/')


@pytest.mark.parametrize(("change", "expected"), [
    (lambda ci: ci["variables"].update(PREFECT_API_KEY="$PREFECT_PROD_APPLY_API_KEY"), "global variable"),
    (lambda ci: ci["default"].update(before_script=['pip install "poolform==0.1.0"']), "pip install"),
    (_gitlab_plan_with_the_write_key, "outside the apply command"),
    (lambda ci: ci[".plan"]["script"].insert(0, "echo $PREFECT_PROD_APPLY_API_KEY"), "names the write-capable key"),
    (lambda ci: ci[".apply"]["script"].insert(0, 'export TOKEN="$(printenv "$PLAN_KEY_VAR")"'), "outside a poolform"),
    (lambda ci: ci["apply:prod"].pop("environment"), "outside its environment"),
    (lambda ci: ci["apply:prod"].pop("needs"), "promotion order"),
    (lambda ci: ci[".apply"]["rules"][0].pop("when"), "not a manual job"),
    (lambda ci: ci["plan:prod"].update(variables={"APPLY_KEY_VAR": "PREFECT_PROD_APPLY_API_KEY"}), "not a manual job"),
], ids=["global-key", "pip-sees-key", "write-key-in-plan-job", "write-key-named-in-plan-job", "read-key-for-another-command",
        "apply-without-environment", "prod-without-staging", "apply-not-manual", "plan-job-with-apply-key"])
def test_gitlab_mutations_are_caught(change: Any, expected: str) -> None:
    ci = yaml.safe_load(GITLAB_FILE.read_text(encoding="utf-8"))
    assert lint_gitlab(yaml.safe_dump(ci, sort_keys=False)) == [], "the round trip alone must pass"
    mutated = copy.deepcopy(ci)
    change(mutated)
    problems = lint_gitlab(yaml.safe_dump(mutated, sort_keys=False))
    assert any(expected in p for p in problems), problems
