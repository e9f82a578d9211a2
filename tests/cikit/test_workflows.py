"""The example CI workflows: their shape, and every poolform command in them run for real."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
GITHUB_DIR = ROOT / "examples" / "github-actions"
GITLAB_FILE = ROOT / "examples" / "gitlab-ci" / ".gitlab-ci.yml"

K: Any = None


@pytest.fixture(autouse=True)
def _helpers(kit: Any) -> None:
    global K
    K = kit


def poolform_commands(script: str) -> list[list[str]]:
    return K.poolform_commands(script)


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    return K.triggers(workflow)


def github_steps(workflow: dict[str, Any]) -> list[Any]:
    return K.github_steps(workflow)


def gitlab_scripts(ci: dict[str, Any]) -> list[Any]:
    return K.gitlab_scripts(ci)


def base_env(api_url: str, **extra: str) -> dict[str, str]:
    return K.base_env(api_url, **extra)


# ---------------------------------------------------------------- extraction


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("poolform plan -f pools/", [["poolform", "plan", "-f", "pools/"]]),
        ("poolform plan \\\n  -f pools/ \\\n  --out plan.json", [["poolform", "plan", "-f", "pools/", "--out", "plan.json"]]),
        ("poolform show plan.json --format markdown > plan.md", [["poolform", "show", "plan.json", "--format", "markdown"]]),
        ("poolform apply plan.json 2> errors.txt", [["poolform", "apply", "plan.json"]]),
        ("set +e\npoolform validate || exit 1", [["poolform", "validate"]]),
        ("if poolform plan --detailed-exitcode; then echo ok; fi", [["poolform", "plan", "--detailed-exitcode"]]),
        ("# poolform apply in a comment\necho poolform", []),
        ("python3 - <<'PY'\nos.system('poolform apply')\nPY\npoolform show x", [["poolform", "show", "x"]]),
        ("pip install poolform==0.1.0", []),
    ],
    ids=["plain", "continuations", "redirect", "stderr-redirect", "or-list", "if", "comment-and-echo", "heredoc-skipped", "pip"],
)
def test_poolform_commands_extraction(script: str, expected: list[list[str]]) -> None:
    assert poolform_commands(script) == expected


# ---------------------------------------------------------------- shape


def test_every_workflow_parses_and_has_a_schema_modeline(github_workflows: dict[str, Any], gitlab_ci: dict[str, Any]) -> None:
    assert set(github_workflows) == {"plan.yml", "apply.yml", "drift.yml"}
    for path in [*GITHUB_DIR.glob("*.yml"), GITLAB_FILE]:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema=https://"), path
    jobs = K.gitlab_jobs(gitlab_ci)
    for env_name in ("staging", "prod"):
        assert {f"plan:{env_name}", f"apply:{env_name}", f"drift:{env_name}"} <= set(jobs)
    assert {"validate", "label"} <= set(jobs)


@pytest.mark.parametrize("name", ["plan.yml", "apply.yml", "drift.yml"])
def test_automation_env_and_no_secret_for_every_step(github_workflows: dict[str, Any], name: str) -> None:
    env = github_workflows[name]["env"]
    assert env["POOLFORM_IN_AUTOMATION"] == "1"
    assert "secrets." not in str(env), "a secret in the workflow env reaches every step (tests/cikit/test_workflow_lint.py)"


def test_plan_workflow_shape(github_workflows: dict[str, Any]) -> None:
    wf = github_workflows["plan.yml"]
    assert set(triggers(wf)) == {"pull_request"}
    assert wf["permissions"] == {}
    assert wf["jobs"]["plan"]["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert wf["jobs"]["label"]["permissions"] == {"issues": "write"} and wf["jobs"]["label"]["needs"] == "plan"
    assert "github.event.pull_request.number" in wf["concurrency"]["group"]
    assert wf["concurrency"]["cancel-in-progress"] is True
    steps = wf["jobs"]["plan"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    for action in ("actions/checkout@", "actions/setup-python@", "actions/upload-artifact@"):
        assert any(u.startswith(action) for u in uses), action
    assert not any("github-script" in u for u in uses), "the forge calls are `poolform ci`, tested in make test"
    commands = [c for s in github_steps(wf) for c in poolform_commands(s.run)]
    assert ["poolform", "validate", "-f", "pools/", "--env", "$POOLFORM_ENV", "--format", "markdown"] in commands
    assert any(c[:3] == ["poolform", "ci", "github"] and "comment" in c for c in commands)
    runs = "\n".join(s.get("run", "") for s in steps)
    assert '>> "$GITHUB_STEP_SUMMARY"' in runs
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "plan.json" and upload["with"]["name"] == "poolform-plan-${{ matrix.environment }}"


def test_apply_workflow_is_serialized_and_offers_both_modes(github_workflows: dict[str, Any]) -> None:
    wf = github_workflows["apply.yml"]
    on = triggers(wf)
    assert on["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in on
    assert set(on["workflow_dispatch"]["inputs"]) == {"mode", "fallback_to_fresh"}
    assert wf["concurrency"]["cancel-in-progress"] is False
    assert "${{" not in wf["concurrency"]["group"], "one group for every apply, whatever the ref"
    assert wf["permissions"] == {}
    commands = [c for s in github_steps(wf) for c in poolform_commands(s.run)]
    assert ["poolform", "apply", "plan.json", "-f", "pools/", "--env", "$POOLFORM_ENV"] in commands
    assert ["poolform", "apply", "fresh.json", "-f", "pools/", "--env", "$POOLFORM_ENV"] in commands
    assert list(wf["jobs"]) == ["apply-staging", "apply-prod"]
    assert wf["jobs"]["apply-prod"]["needs"] == "apply-staging", "promotion: prod after staging"
    for job in wf["jobs"].values():
        steps = job["steps"]
        download = next(s for s in steps if s.get("uses", "").startswith("actions/download-artifact@"))
        assert download["with"]["name"] == "poolform-plan-${{ env.POOLFORM_ENV }}"
        assert job["environment"] == job["env"]["POOLFORM_ENV"]


def test_drift_workflow_runs_on_a_schedule(github_workflows: dict[str, Any]) -> None:
    wf = github_workflows["drift.yml"]
    on = triggers(wf)
    assert on["schedule"][0]["cron"]
    assert "workflow_dispatch" in on
    assert wf["jobs"]["drift"]["permissions"] == {"contents": "read", "issues": "write"}
    assert wf["jobs"]["drift"]["strategy"]["fail-fast"] is False, "one environment's drift does not hide another's"
    assert wf["concurrency"]["group"] != github_workflows["apply.yml"]["concurrency"]["group"], \
        "sharing the apply group would let a queued drift run cancel a queued apply"
    commands = [c for s in github_steps(wf) for c in poolform_commands(s.run)]
    assert any(c[:2] == ["poolform", "plan"] and "--detailed-exitcode" in c for c in commands)
    assert any(c[:4] == ["poolform", "ci", "github", "drift"] for c in commands)


def test_gitlab_shape(gitlab_ci: dict[str, Any]) -> None:
    assert gitlab_ci["variables"]["POOLFORM_IN_AUTOMATION"] == "1"
    jobs = K.gitlab_jobs(gitlab_ci)
    for env_name in ("staging", "prod"):
        plan, apply, drift = (jobs[f"{kind}:{env_name}"] for kind in ("plan", "apply", "drift"))
        assert plan["variables"]["POOLFORM_ENV"] == apply["variables"]["POOLFORM_ENV"] == env_name
        assert plan["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "merge_request_event"'
        assert "poolform ci gitlab comment" in "\n".join(plan["script"])
        assert "plans/" in plan["artifacts"]["paths"]
        assert apply["resource_group"] and apply["environment"]["name"] == env_name
        assert "$CI_DEFAULT_BRANCH" in apply["rules"][0]["if"] and apply["rules"][0]["when"] == "manual"
        assert "poolform ci gitlab saved-plan" in "\n".join(apply["script"])
        assert drift["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "schedule"'
    assert jobs["apply:prod"]["needs"] == ["apply:staging"], "promotion: prod after staging"
    assert jobs["label"]["needs"] == ["plan:staging", "plan:prod"]


def test_every_file_lists_the_same_environments(github_workflows: dict[str, Any], gitlab_ci: dict[str, Any]) -> None:
    """The plan, validate-fork and drift matrices, the apply jobs and the GitLab jobs name the same
    environments in promotion order, each with the credential variable the tested config names."""
    import sys

    import yaml

    sys.path.insert(0, str(Path(__file__).parent))
    from gha import matrix_entries

    config = yaml.safe_load(K.ENVIRONMENTS.format(staging="http://s/api", prod="http://p/api"))["environments"]
    order = list(config)
    plan, drift = github_workflows["plan.yml"]["jobs"], github_workflows["drift.yml"]["jobs"]
    for entries in (matrix_entries(plan["plan"]), matrix_entries(drift["drift"])):
        assert [e["environment"] for e in entries] == order
        for entry in entries:
            assert entry["credential"] == config[entry["environment"]]["api_key_env"]
            assert entry["plan_secret"] == f"PREFECT_{entry['environment'].upper()}_PLAN_API_KEY"
    assert [e["environment"] for e in matrix_entries(plan["validate-fork"])] == order
    apply = github_workflows["apply.yml"]["jobs"]
    assert [job["env"]["POOLFORM_ENV"] for job in apply.values()] == order
    assert all(job["env"]["CREDENTIAL_VAR"] == config[job["env"]["POOLFORM_ENV"]]["api_key_env"] for job in apply.values())
    jobs = K.gitlab_jobs(gitlab_ci)
    for kind in ("plan", "apply", "drift"):
        named = [name.split(":", 1)[1] for name in jobs if name.startswith(f"{kind}:")]
        assert named == order, kind
        for env_name in named:
            variables = jobs[f"{kind}:{env_name}"]["variables"]
            assert variables["POOLFORM_ENV"] == env_name
            assert variables["CREDENTIAL_VAR"] == config[env_name]["api_key_env"]
    validate = "\n".join(jobs["validate"]["script"])
    assert [f"--env {env_name}" in validate for env_name in order] == [True] * len(order)


def check_invocation(argv: list[str]) -> list[str]:
    """What is wrong with ``argv`` (``poolform ...`` as a workflow writes it) against the click command
    tree: an unknown command, an unknown option, an option without its value, a required option
    missing, a positional argument too many or too few. Parsed by the command's own click parser
    (no type conversion: ``"$PR_NUMBER"`` stands for a number); a word made of one ``$VAR`` is a
    value, ``"$@"`` (a list the script built) is left out."""
    import click

    from reconciler.cli.main import cli

    words = [w for w in argv[1:] if w != "$@"]
    ctx = cli.make_context("poolform", [], resilient_parsing=True)
    command: Any = cli
    while isinstance(command, click.Group):
        if not words or words[0].startswith("-"):
            return [f"{' '.join(argv)}: no subcommand of {ctx.command_path}"]
        found = command.get_command(ctx, words[0])
        if found is None:
            return [f"{' '.join(argv)}: no command {words[0]!r} in {ctx.command_path}"]
        ctx = click.Context(found, info_name=words.pop(0), parent=ctx)
        command = found
    try:
        values, extra, _ = command.make_parser(ctx).parse_args(list(words))
    except click.UsageError as exc:
        return [f"{' '.join(argv)}: {exc.format_message()}"]
    problems = []
    for param in command.params:
        value = values.get(param.name)  # a string, a flag's bool, a list or tuple; click's UNSET marker when absent
        given = isinstance(value, (str, bool)) or (isinstance(value, (list, tuple)) and len(value) > 0)
        if param.required and not given:
            problems.append(f"{' '.join(argv)}: {param.get_error_hint(ctx)} is required")
    if extra:
        problems.append(f"{' '.join(argv)}: unexpected argument(s) {extra}")
    return problems


def _all_commands(github_workflows: dict[str, Any], gitlab_ci: dict[str, Any]) -> list[list[str]]:
    scripts = [s.run for wf in github_workflows.values() for s in github_steps(wf)]
    scripts += [s.run for s in gitlab_scripts(gitlab_ci)]
    return [c for script in scripts for c in poolform_commands(script)]


def test_every_poolform_command_is_a_real_command(github_workflows: dict[str, Any], gitlab_ci: dict[str, Any]) -> None:
    """Each command line parses with the CLI's own command tree and options (the jobs themselves run
    in test_workflow_runs.py and test_gitlab_jobs.py)."""
    commands = _all_commands(github_workflows, gitlab_ci)
    assert len(commands) > 25
    assert {tuple(c[1:3]) for c in commands} >= {("validate", "-f"), ("plan", "-f"), ("apply", "plan.json"),
                                                  ("show", "plan.json"), ("ci", "github"), ("ci", "gitlab")}
    assert [p for argv in commands for p in check_invocation(argv)] == []


@pytest.mark.parametrize(("argv", "expected"), [
    (["poolform", "plan", "-f", "pools/", "--evn", "$POOLFORM_ENV"], "No such option '--evn'"),
    (["poolform", "plan", "-f", "pools/", "--env"], "requires an argument"),
    (["poolform", "ci", "github", "comments", "--pr", "5"], "no command 'comments'"),
    (["poolform", "ci", "github", "label", "plans/*/plan.json"], "'--pr' is required"),
    (["poolform", "ci", "github", "label", "--pr", "5"], "'PLANFILE...' is required"),
    (["poolform", "apply", "plan.json", "fresh.json"], "unexpected argument"),
    (["poolform", "ci"], "no subcommand"),
], ids=["renamed-flag", "flag-without-value", "unknown-command", "missing-required-option", "missing-argument",
        "extra-argument", "group-only"])
def test_check_invocation_catches(argv: list[str], expected: str) -> None:
    assert any(expected in p for p in check_invocation(argv)), check_invocation(argv)


def test_a_renamed_flag_breaks_the_check(github_workflows: dict[str, Any], gitlab_ci: dict[str, Any],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Rename --env in the CLI (as a refactor might): the workflows' command lines no longer check."""
    from reconciler.cli.main import cli

    ctx = cli.make_context("poolform", [], resilient_parsing=True)
    option = next(p for p in cli.get_command(ctx, "plan").params if "--env" in p.opts)
    monkeypatch.setattr(option, "opts", ["--environment-name"])
    problems = [p for argv in _all_commands(github_workflows, gitlab_ci) for p in check_invocation(argv)]
    assert any("No such option '--env'" in p for p in problems), problems


# ---------------------------------------------------------------- the shell steps, run


def _step(workflow: dict[str, Any], name: str) -> str:
    return next(s.run for s in github_steps(workflow) if s.name == name)


STEP = {"POOLFORM_ENV": "staging", "CREDENTIAL_VAR": "PREFECT_STAGING_API_KEY", "CREDENTIAL": "a-key"}
"""What the apply job's env: and the step's give the Apply, Verify and Plan steps (staging is ``server``)."""


def _env(server: Any, **extra: str) -> dict[str, str]:
    return base_env("http://127.0.0.1:9/api", **STEP, **extra)


def _poolform(run_poolform: Any, *args: str) -> Any:
    return run_poolform(["poolform", *args, "--env", "staging"], env=base_env("http://127.0.0.1:9/api",
                                                                             PREFECT_STAGING_API_KEY="a-key"))


def _make_stale(server: Any) -> None:
    response = httpx.patch(f"{server.api_url}/work_pools/ci-process", json={"description": "changed by hand"}, timeout=10)
    assert response.status_code == 204, response.text


@pytest.mark.parametrize(
    ("fallback", "expected_code", "expected_text"),
    [("false", 1, "::error::The saved plan of staging is stale"), ("true", 0, "::warning::The saved plan of staging is stale")],
    ids=["stale-refused", "stale-falls-back-to-fresh"],
)
def test_apply_step_with_a_stale_saved_plan(github_workflows: dict[str, Any], run_bash: Any, run_poolform: Any,
                                            server: Any, repo: Path, fallback: str, expected_code: int,
                                            expected_text: str) -> None:
    assert _poolform(run_poolform, "apply", "-f", "pools/", "--auto-approve").returncode == 0
    (repo / "pools" / "pools.yaml").write_text((repo / "pools" / "pools.yaml").read_text().replace("concurrency_limit: 5", "concurrency_limit: 7"))
    assert _poolform(run_poolform, "plan", "-f", "pools/", "--out", "plan.json", "--detailed-exitcode").returncode == 2
    _make_stale(server)
    env = _env(server, APPLY_MODE="saved-plan", FALLBACK_TO_FRESH=fallback)
    result = run_bash(_step(github_workflows["apply.yml"], "Apply"), env=env)
    assert result.returncode == expected_code, (result.stdout, result.stderr)
    assert expected_text in result.stdout
    pool = httpx.get(f"{server.api_url}/work_pools/ci-process", timeout=10).json()
    if expected_code == 0:
        assert pool["concurrency_limit"] == 7 and pool["description"] == "CI kit test pool"
    else:
        assert pool["concurrency_limit"] == 5 and pool["description"] == "changed by hand"


def test_apply_then_verify_steps(github_workflows: dict[str, Any], run_bash: Any, run_poolform: Any, server: Any) -> None:
    assert _poolform(run_poolform, "plan", "-f", "pools/", "--out", "plan.json").returncode == 0
    env = _env(server, APPLY_MODE="saved-plan", FALLBACK_TO_FRESH="false")
    applied = run_bash(_step(github_workflows["apply.yml"], "Apply"), env=env)
    assert applied.returncode == 0, applied.stderr
    verify = run_bash(_step(github_workflows["apply.yml"], "Verify"), env=env)
    assert verify.returncode == 0, (verify.stdout, verify.stderr)


def test_apply_step_without_a_saved_plan_needs_fallback(github_workflows: dict[str, Any], run_bash: Any, server: Any) -> None:
    script = _step(github_workflows["apply.yml"], "Apply")
    refused = run_bash(script, env=_env(server, APPLY_MODE="saved-plan", FALLBACK_TO_FRESH="false"))
    assert refused.returncode == 1
    assert "No saved plan of staging was found" in refused.stdout
    fresh = run_bash(script, env=_env(server, APPLY_MODE="fresh", FALLBACK_TO_FRESH="false"))
    assert fresh.returncode == 0, fresh.stderr
    assert httpx.get(f"{server.api_url}/work_pools/ci-process", timeout=10).status_code == 200


def test_drift_plan_step_keeps_the_code(github_workflows: dict[str, Any], run_bash: Any, server: Any, repo: Path) -> None:
    script = _step(github_workflows["drift.yml"], "Plan")
    output, summary = repo / "out", repo / "summary.md"
    env = _env(server, GITHUB_OUTPUT=str(output), GITHUB_STEP_SUMMARY=str(summary))
    result = run_bash(script, env=env)
    assert result.returncode == 0, "exit 2 is drift: the job fails later, after the issue is written"
    assert output.read_text().strip() == "exitcode=2"
    assert summary.read_text().startswith("<!-- poolform-plan:staging -->")
