"""The example CI workflows: their shape, and every poolform command in them run for real."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
GITHUB_DIR = ROOT / "examples" / "github-actions"
GITLAB_FILE = ROOT / "examples" / "gitlab-ci" / ".gitlab-ci.yml"

MARKER = "<!-- poolform-plan -->"
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
    assert {"plan", "apply", "drift", "validate"} <= set(gitlab_ci)


@pytest.mark.parametrize("name", ["plan.yml", "apply.yml", "drift.yml"])
def test_automation_env_and_no_secret_for_every_step(github_workflows: dict[str, Any], name: str) -> None:
    env = github_workflows[name]["env"]
    assert env["POOLFORM_IN_AUTOMATION"] == "1"
    assert "secrets." not in str(env), "a secret in the workflow env reaches every step (tests/cikit/test_workflow_lint.py)"


def test_plan_workflow_shape(github_workflows: dict[str, Any]) -> None:
    wf = github_workflows["plan.yml"]
    assert set(triggers(wf)) == {"pull_request"}
    assert wf["permissions"] == {}
    assert wf["jobs"]["plan"]["permissions"] == {"contents": "read", "pull-requests": "write", "issues": "write"}
    assert "github.event.pull_request.number" in wf["concurrency"]["group"]
    assert wf["concurrency"]["cancel-in-progress"] is True
    steps = wf["jobs"]["plan"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    for action in ("actions/checkout@", "actions/setup-python@", "actions/upload-artifact@"):
        assert any(u.startswith(action) for u in uses), action
    assert not any("github-script" in u for u in uses), "the forge calls are `poolform ci`, tested in make test"
    commands = [c for s in github_steps(wf) for c in poolform_commands(s.run)]
    assert ["poolform", "validate", "-f", "pools/", "--format", "markdown"] in commands
    assert any(c[:3] == ["poolform", "ci", "github"] and "comment" in c for c in commands)
    runs = "\n".join(s.get("run", "") for s in steps)
    assert '>> "$GITHUB_STEP_SUMMARY"' in runs
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "plan.json" and upload["with"]["name"] == "poolform-plan"


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
    assert ["poolform", "apply", "plan.json"] in commands
    assert ["poolform", "apply", "fresh.json"] in commands
    steps = wf["jobs"]["apply"]["steps"]
    download = next(s for s in steps if s.get("uses", "").startswith("actions/download-artifact@"))
    assert download["with"]["name"] == "poolform-plan"


def test_drift_workflow_runs_on_a_schedule(github_workflows: dict[str, Any]) -> None:
    wf = github_workflows["drift.yml"]
    on = triggers(wf)
    assert on["schedule"][0]["cron"]
    assert "workflow_dispatch" in on
    assert wf["jobs"]["drift"]["permissions"] == {"contents": "read", "issues": "write"}
    assert wf["concurrency"]["group"] != github_workflows["apply.yml"]["concurrency"]["group"], \
        "sharing the apply group would let a queued drift run cancel a queued apply"
    commands = [c for s in github_steps(wf) for c in poolform_commands(s.run)]
    assert any(c[:2] == ["poolform", "plan"] and "--detailed-exitcode" in c for c in commands)
    assert any(c[:4] == ["poolform", "ci", "github", "drift"] for c in commands)


def test_gitlab_shape(gitlab_ci: dict[str, Any]) -> None:
    assert gitlab_ci["variables"]["POOLFORM_IN_AUTOMATION"] == "1"
    assert gitlab_ci["plan"]["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "merge_request_event"'
    assert "poolform ci gitlab comment" in "\n".join(gitlab_ci["plan"]["script"])
    assert gitlab_ci["apply"]["resource_group"]
    assert "$CI_DEFAULT_BRANCH" in gitlab_ci["apply"]["rules"][0]["if"]
    assert gitlab_ci["apply"]["rules"][0]["when"] == "manual"
    assert "poolform ci gitlab saved-plan" in "\n".join(gitlab_ci["apply"]["script"])
    assert gitlab_ci["drift"]["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "schedule"'
    assert "plan.json" in gitlab_ci["plan"]["artifacts"]["paths"]


def test_every_poolform_command_is_a_real_command(github_workflows: dict[str, Any], gitlab_ci: dict[str, Any]) -> None:
    """Each command line's command and options exist (the jobs themselves run in test_workflow_runs.py
    and test_gitlab_jobs.py)."""
    from click.testing import CliRunner

    from reconciler.cli.main import cli

    scripts = [s.run for wf in github_workflows.values() for s in github_steps(wf)]
    scripts += [s.run for s in gitlab_scripts(gitlab_ci)]
    commands = [c for script in scripts for c in poolform_commands(script)]
    assert len(commands) > 15
    for argv in commands:
        words = [w for w in argv[1:] if not w.startswith("$") and "$" not in w]
        path: list[str] = []
        group: Any = cli
        ctx = cli.make_context("poolform", [], resilient_parsing=True)
        for word in words:
            found = group.get_command(ctx, word) if hasattr(group, "get_command") else None
            if found is None:
                break
            path.append(word)
            group = found
        assert path, argv
        options = {o for p in group.params for o in p.opts}
        for word in words:
            if word.startswith("--"):
                assert word.split("=")[0] in options, (argv, word)
        assert CliRunner().invoke(cli, [*path, "--help"]).exit_code == 0, argv


# ---------------------------------------------------------------- the shell steps, run


def _step(workflow: dict[str, Any], name: str) -> str:
    return next(s.run for s in github_steps(workflow) if s.name == name)


def _make_stale(server: Any) -> None:
    response = httpx.patch(f"{server.api_url}/work_pools/ci-process", json={"description": "changed by hand"}, timeout=10)
    assert response.status_code == 204, response.text


@pytest.mark.parametrize(
    ("fallback", "expected_code", "expected_text"),
    [("false", 1, "::error::The saved plan is stale"), ("true", 0, "::warning::The saved plan is stale")],
    ids=["stale-refused", "stale-falls-back-to-fresh"],
)
def test_apply_step_with_a_stale_saved_plan(github_workflows: dict[str, Any], run_bash: Any, run_poolform: Any,
                                            server: Any, repo: Path, fallback: str, expected_code: int,
                                            expected_text: str) -> None:
    assert run_poolform(["poolform", "apply", "-f", "pools/", "--auto-approve"]).returncode == 0
    (repo / "pools" / "pools.yaml").write_text((repo / "pools" / "pools.yaml").read_text().replace("concurrency_limit: 5", "concurrency_limit: 7"))
    assert run_poolform(["poolform", "plan", "-f", "pools/", "--out", "plan.json", "--detailed-exitcode"]).returncode == 2
    _make_stale(server)
    env = base_env(server.api_url, APPLY_MODE="saved-plan", FALLBACK_TO_FRESH=fallback)
    result = run_bash(_step(github_workflows["apply.yml"], "Apply"), env=env)
    assert result.returncode == expected_code, (result.stdout, result.stderr)
    assert expected_text in result.stdout
    pool = httpx.get(f"{server.api_url}/work_pools/ci-process", timeout=10).json()
    if expected_code == 0:
        assert pool["concurrency_limit"] == 7 and pool["description"] == "CI kit test pool"
    else:
        assert pool["concurrency_limit"] == 5 and pool["description"] == "changed by hand"


def test_apply_then_verify_steps(github_workflows: dict[str, Any], run_bash: Any, run_poolform: Any, server: Any) -> None:
    assert run_poolform(["poolform", "plan", "-f", "pools/", "--out", "plan.json"]).returncode == 0
    env = base_env(server.api_url, APPLY_MODE="saved-plan", FALLBACK_TO_FRESH="false")
    applied = run_bash(_step(github_workflows["apply.yml"], "Apply"), env=env)
    assert applied.returncode == 0, applied.stderr
    verify = run_bash(_step(github_workflows["apply.yml"], "Verify"), env=env)
    assert verify.returncode == 0, (verify.stdout, verify.stderr)


def test_apply_step_without_a_saved_plan_needs_fallback(github_workflows: dict[str, Any], run_bash: Any, server: Any) -> None:
    script = _step(github_workflows["apply.yml"], "Apply")
    refused = run_bash(script, env=base_env(server.api_url, APPLY_MODE="saved-plan", FALLBACK_TO_FRESH="false"))
    assert refused.returncode == 1
    assert "No saved plan was found" in refused.stdout
    fresh = run_bash(script, env=base_env(server.api_url, APPLY_MODE="fresh", FALLBACK_TO_FRESH="false"))
    assert fresh.returncode == 0, fresh.stderr
    assert httpx.get(f"{server.api_url}/work_pools/ci-process", timeout=10).status_code == 200


def test_drift_plan_step_keeps_the_code(github_workflows: dict[str, Any], run_bash: Any, server: Any, repo: Path) -> None:
    script = _step(github_workflows["drift.yml"], "Plan")
    output, summary = repo / "out", repo / "summary.md"
    env = base_env(server.api_url, GITHUB_OUTPUT=str(output), GITHUB_STEP_SUMMARY=str(summary))
    result = run_bash(script, env=env)
    assert result.returncode == 0, "exit 2 is drift: the job fails later, after the issue is written"
    assert output.read_text().strip() == "exitcode=2"
    assert summary.read_text().startswith(MARKER)
