"""Issue 13, policy, end to end through the CLI against the server (in process and over a socket):
the example rules of examples/policy/ fail on a bad configuration and pass after the fix, as
docs/config.md shows; an error fails validate, plan (no plan file, nothing read from the server)
and apply; a warning is carried by the plan and its PR comment."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from .conftest import assert_ok

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "policy"
DOCS = (REPO / "docs" / "config.md").read_text(encoding="utf-8")


def _example(env, *, pinned: bool = True, scoped: bool = True) -> str:
    """examples/policy copied into the test's directory, pool names prefixed, optionally broken."""
    shutil.copytree(EXAMPLE / "rules", env.tmp / "rules", dirs_exist_ok=True)
    text = (EXAMPLE / "pools.yaml").read_text(encoding="utf-8").replace("policy-", f"{env.prefix}policy-")
    if not pinned:
        text = text.replace("prefecthq/prefect:3.1.0-python3.11", "prefecthq/prefect:latest")
    if not scoped:
        text = re.sub(r"\n  scope: .*", "", text)
    path = env.tmp / "pools.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _documented_failure() -> list[str]:
    """The lines docs/config.md shows `poolform validate` printing for the broken example."""
    section = DOCS.split("### Three example rules", 1)[1]
    block = section.split("```text\n", 1)[1].split("```", 1)[0]
    return block.rstrip("\n").splitlines()


def test_the_example_rules_fail_on_a_bad_config_as_documented_and_pass_after_the_fix(env):
    bad = _example(env, pinned=False, scoped=False)
    result = env.cli("validate", "-f", bad)
    out = assert_ok(result, 1)
    printed = [line.replace(str(env.tmp) + "/", "").replace(env.prefix, "") for line in result.stderr.splitlines()]
    for line in _documented_failure():
        assert line in printed, (line, printed)
    assert "2 errors" in out

    plan_file = env.tmp / "plan.json"
    result = env.cli("plan", "-f", bad, "--out", str(plan_file), "--json")
    assert_ok(result, 1)
    document = json.loads(result.stdout)
    assert document["errored"] is True
    violations = [d for d in document["diagnostics"] if d["range"]]
    assert [d["code"] for d in document["diagnostics"]] == ["policy_violation"] * 3  # and the summary line
    assert {(d["range"]["filename"], d["range"]["start"]["line"], d["address"]) for d in violations} == {
        (bad, 5, None), (bad, 14, f"work_pool.{env.prefix}policy-k8s")}
    assert not plan_file.exists()

    assert_ok(env.cli("apply", "-f", bad, "--auto-approve"), 1)
    assert env.pools() == {}

    good = _example(env)
    assert_ok(env.cli("validate", "-f", good))
    assert_ok(env.cli("plan", "-f", good, "--out", str(plan_file)))
    assert plan_file.exists()
    assert_ok(env.cli("apply", str(plan_file)))
    assert set(env.pools()) == {f"{env.prefix}policy-k8s", f"{env.prefix}policy-etl"}


def test_each_example_rule_on_its_own(env):
    """One broken thing at a time: exactly that rule fails."""
    for broken, rule in (({"pinned": False}, "image-defaults-are-pinned"), ({"scoped": False}, "no-prune-without-scope")):
        path = _example(env, **broken)
        result = env.cli("validate", "-f", path, "--json")
        assert_ok(result, 1)
        errors = [d for d in json.loads(result.stdout)["diagnostics"] if d["severity"] == "error"]
        assert [d["summary"].split(":")[0] for d in errors] == [f"policy {rule}"]


def test_the_failure_comment_links_each_violation_to_its_line(env, monkeypatch):
    _example(env, pinned=False)
    monkeypatch.chdir(env.tmp)  # links are made for files under the working directory
    result = env.cli("validate", "-f", "pools.yaml", "--format", "markdown", "--link-base", "https://github.com/o/r/blob/abc",
                     env={"POOLFORM_LINK_BASE": ""})
    assert_ok(result, 1)
    comment = result.stdout
    assert "**Failed: 1 error.**" in comment
    [line] = [x for x in comment.splitlines() if "image-defaults-are-pinned" in x]
    assert line.startswith("- [pools.yaml:15:7](https://github.com/o/r/blob/abc/pools.yaml#L15)"), line
    assert "pin the image default to a tag (not latest) or a digest" in line
    assert '"prefecthq/prefect:latest" is not valid under any of the given schemas' in line


def test_a_warning_rule_is_carried_by_the_plan_and_its_comment(env):
    path = _example(env)
    (env.tmp / "rules" / "paused.yaml").write_text(
        "version: 1\nrules:\n  - id: queues-have-a-limit\n    message: give every queue a concurrency_limit\n"
        "    target: queue\n    severity: warning\n    schema: {properties: {concurrency_limit: {type: integer}}}\n",
        encoding="utf-8")
    text = Path(path).read_text(encoding="utf-8").replace("critical: {priority: 1, concurrency_limit: 2}",
                                                          "critical: {priority: 1}")
    Path(path).write_text(text, encoding="utf-8")
    result = env.cli("plan", "-f", path, "--json", "--detailed-exitcode")
    assert_ok(result, 2)
    document = json.loads(result.stdout)
    [warning] = [d for d in document["diagnostics"] if d["code"] == "policy_violation"]
    assert warning["severity"] == "warning"
    assert warning["address"] == f"work_queue.{env.prefix}policy-k8s.critical"
    result = env.cli("plan", "-f", path, "--format", "markdown")
    assert_ok(result)
    assert "policy queues-have-a-limit: give every queue a concurrency_limit" in result.stdout


def test_a_prod_rule_fails_prod_only(env):
    """examples/policy's prod-only rule: a pool without a limit fails `--env prod` (plan writes no file),
    passes `--env staging` and without `--env`; `plan --all-envs` fails with prod's violation in its comment."""
    path = Path(_example(env))
    text = re.sub(r"(environments:\n)(.|\n)*", "", path.read_text(encoding="utf-8"))
    text = text.replace("    concurrency_limit: 4\n", "")  # policy-etl loses its limit
    text += f"environments:\n  staging:\n    api_url: {env.api_url}\n  prod:\n    api_url: {env.api_url}\n"
    path.write_text(text, encoding="utf-8")
    etl_line = text.splitlines().index(f"  {env.prefix}policy-etl:") + 1

    result = env.cli("validate", "-f", str(path), "--env", "prod", "--json")
    assert_ok(result, 1)
    [error] = json.loads(result.stdout)["diagnostics"]
    assert error["summary"] == "policy prod-pools-have-a-concurrency-limit: set concurrency_limit on every pool in prod"
    assert (error["range"]["start"]["line"], error["address"]) == (etl_line, f"work_pool.{env.prefix}policy-etl")

    plan_file = env.tmp / "prod.json"
    assert_ok(env.cli("plan", "-f", str(path), "--env", "prod", "--out", str(plan_file), add_url=False), 1)
    assert not plan_file.exists()
    assert_ok(env.cli("validate", "-f", str(path)))
    assert_ok(env.cli("plan", "-f", str(path), "--env", "staging", "--out", str(plan_file), add_url=False))
    assert plan_file.exists()

    result = env.cli("plan", "-f", str(path), "--all-envs", "--format", "markdown", add_url=False)
    assert_ok(result, 1)
    assert "policy prod-pools-have-a-concurrency-limit" in result.stdout
    assert result.stdout.count("policy prod-pools-have-a-concurrency-limit") == 1  # prod's section only


def test_a_rule_scoped_to_an_undeclared_environment_is_an_error(env):
    path = Path(_example(env))
    rule = env.tmp / "rules" / "pool-concurrency-limit.yaml"
    rule.write_text(rule.read_text(encoding="utf-8").replace("environments: [prod]", "environments: [prdo]"),
                    encoding="utf-8")
    result = env.cli("validate", "-f", str(path), "--json")
    assert_ok(result, 1)
    [error] = json.loads(result.stdout)["diagnostics"]
    assert error["code"] == "invalid_policy"
    assert "names the environment 'prdo', which the configuration does not declare" in error["summary"]
    assert 'Did you mean "prod"?' in error["detail"]
