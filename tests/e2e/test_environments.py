"""Environments end to end: two reference server processes (sockets) as staging and prod, one config repository.

staging takes basic auth from the variable its environment names; prod is reached through Prefect
Cloud's URL shape (``/api/accounts/{id}/workspaces/{id}``) with a Bearer API key. ``plan --all-envs``
plans both, ``apply --env staging`` changes staging only (prod is read back through its own API), a
saved plan refuses another environment or server, and ``diff`` compares the desired states offline.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from click.testing import CliRunner, Result

from reconciler.cli.main import cli

STAGING_AUTH = "stage-user:stage-pass-5c1e"
PROD_KEY = "pnu_prodkey0123456789abcdef"
FENCE = re.compile(r"```mermaid\n(.*?)\n```", re.S)
CLOUD = "/accounts/0ff44498-d380-4d7b-bd68-9b52da03823f/workspaces/c1e7f2b4-9a4a-4b55-9d3c-2f1e6f7a8b90"


def _start(db: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", "server", "start", "--port", "0", "--db", str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **env})
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("PREFECT_API_URL="):
            return proc, line.strip().split("=", 1)[1]
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"the server did not start: {proc.stderr.read() if proc.stderr else ''}")


class Servers:
    def __init__(self, staging: str, prod: str) -> None:
        self.staging = staging
        self.prod = prod

    def staging_pools(self) -> dict[str, Any]:
        rows = httpx.post(self.staging + "/work_pools/filter", json={}, auth=tuple(STAGING_AUTH.split(":"))).json()
        return {row["name"]: row for row in rows}

    def prod_pools(self) -> dict[str, Any]:
        rows = httpx.post(self.prod + CLOUD + "/work_pools/filter", json={},
                          headers={"Authorization": f"Bearer {PROD_KEY}"}).json()
        return {row["name"]: row for row in rows}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    tmp = tmp_path_factory.mktemp("envs")
    staging, staging_url = _start(tmp / "staging.db", {"POOLFORM_SERVER_AUTH_STRING": STAGING_AUTH})
    try:
        prod, prod_url = _start(tmp / "prod.db", {"POOLFORM_SERVER_API_KEY": PROD_KEY})
    except BaseException:
        staging.kill()
        raise
    try:
        yield Servers(staging_url, prod_url)
    finally:
        for proc in (staging, prod):
            proc.terminate()
            try:
                proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def repo(tmp: Path, servers: Servers, pool: str) -> Path:
    """One config repository: a base file, an overlay per environment."""
    (tmp / "overlays").mkdir()
    (tmp / "poolform.yaml").write_text(textwrap.dedent(f"""\
        version: 1
        work_pools:
          {pool}:
            type: process
            queues:
              high: {{priority: 1}}
              low: {{priority: 2}}
        environments:
          staging:
            api_url: {servers.staging}
            auth_string_env: STAGING_PASSWORD
            files: [overlays/staging.yaml]
          prod:
            api_url: {servers.prod}{CLOUD}
            api_key_env: PROD_KEY
            files: [overlays/prod.yaml]
        """), encoding="utf-8")
    (tmp / "overlays" / "staging.yaml").write_text(f"version: 1\nwork_pools:\n  {pool}:\n    concurrency_limit: 2\n",
                                                   encoding="utf-8")
    (tmp / "overlays" / "prod.yaml").write_text(
        f"version: 1\nwork_pools:\n  {pool}:\n    concurrency_limit: 20\n    queues:\n      high: {{concurrency_limit: 5}}\n",
        encoding="utf-8")
    return tmp


def run(tmp: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        base = {"CI": "", "POOLFORM_IN_AUTOMATION": "", "NO_COLOR": "1", "PREFECT_API_URL": "", "PREFECT_API_KEY": "",
                "PREFECT_API_AUTH_STRING": "", "PREFECT_HOME": str(tmp / ".prefect"),
                "STAGING_PASSWORD": STAGING_AUTH, "PROD_KEY": PROD_KEY}
        result = CliRunner().invoke(cli, list(args), env={**base, **(env or {})}, catch_exceptions=True)
    finally:
        os.chdir(cwd)
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert STAGING_AUTH not in result.output and PROD_KEY not in result.output
    return result


@pytest.fixture
def pool() -> str:
    return f"etl-{uuid.uuid4().hex[:6]}"


def test_all_envs_plans_each_environment_against_its_own_server(servers: Servers, tmp_path: Path, pool: str,
                                                                 mermaid_parse) -> None:
    repo(tmp_path, servers, pool)
    result = run(tmp_path, "plan", "--all-envs", "--json", "--detailed-exitcode")
    assert result.exit_code == 2, result.output
    documents = json.loads(result.stdout)["environments"]
    assert [d["environment"] for d in documents] == ["staging", "prod"]
    assert documents[0]["api_url"] == servers.staging and documents[1]["api_url"] == servers.prod + CLOUD
    limits = {d["environment"]: next(c["change"]["after"]["concurrency_limit"] for c in d["resource_changes"]
                                     if c["address"] == f"work_pool.{pool}") for d in documents}
    assert limits == {"staging": 2, "prod": 20}
    markdown = run(tmp_path, "plan", "--all-envs", "--format", "markdown").stdout
    assert markdown.startswith("<!-- poolform-plan:staging -->\n### poolform plan · staging\n")
    assert "\n<!-- poolform-plan:prod -->\n### poolform plan · prod\n" in markdown
    assert len(re.findall(r"^<!-- poolform-", markdown, re.M)) == 2
    diagrams = {section.split(" -->", 1)[0]: FENCE.findall(section)
                for section in markdown.split("<!-- poolform-plan:")[1:]}
    assert list(diagrams) == ["staging", "prod"] and all(len(d) == 1 for d in diagrams.values()), diagrams
    assert "limit 2" in diagrams["staging"][0] and "limit 20" in diagrams["prod"][0]
    sources = diagrams["staging"] + diagrams["prod"]
    assert [r["ok"] for r in mermaid_parse(sources)] == [True, True], mermaid_parse(sources)
    human = run(tmp_path, "plan", "--all-envs").stdout
    assert "=== Environment staging ===" in human and "poolform apply --env prod" in human


def test_apply_env_staging_changes_staging_only(servers: Servers, tmp_path: Path, pool: str) -> None:
    repo(tmp_path, servers, pool)
    applied = run(tmp_path, "apply", "--env", "staging", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert servers.staging_pools()[pool]["concurrency_limit"] == 2
    assert pool not in servers.prod_pools()
    after = run(tmp_path, "plan", "--all-envs", "--json", "--detailed-exitcode")
    assert after.exit_code == 2
    steps = {d["environment"]: len(d["steps"]) for d in json.loads(after.stdout)["environments"]}
    assert steps["staging"] == 0 and steps["prod"] > 0
    prod = run(tmp_path, "apply", "--env", "prod", "--auto-approve")
    assert prod.exit_code == 0, prod.output
    assert servers.prod_pools()[pool]["concurrency_limit"] == 20
    assert servers.staging_pools()[pool]["concurrency_limit"] == 2
    again = run(tmp_path, "plan", "--all-envs", "--detailed-exitcode")
    assert again.exit_code == 0, again.output


def test_saved_plan_refuses_another_environment_or_server(servers: Servers, tmp_path: Path, pool: str) -> None:
    repo(tmp_path, servers, pool)
    made = run(tmp_path, "plan", "--env", "staging", "--out", "staging.json")
    assert made.exit_code == 0, made.output
    assert "poolform apply staging.json --env staging" in made.output
    saved = json.loads((tmp_path / "staging.json").read_text())
    assert saved["environment"] == "staging" and saved["format_version"] == "1.3"
    other = run(tmp_path, "apply", "staging.json", "--env", "prod")
    assert other.exit_code == 1
    assert "made for environment 'staging', not 'prod'" in other.output
    elsewhere = run(tmp_path, "apply", "staging.json", env={"PREFECT_API_URL": servers.prod + CLOUD,
                                                            "PREFECT_API_KEY": PROD_KEY})
    assert elsewhere.exit_code == 1
    assert "made for environment 'staging' against" in elsewhere.output
    assert pool not in servers.staging_pools() and pool not in servers.prod_pools()
    ok = run(tmp_path, "apply", "staging.json", "--env", "staging")
    assert ok.exit_code == 0, ok.output
    assert servers.staging_pools()[pool]["concurrency_limit"] == 2 and pool not in servers.prod_pools()


def test_cloud_url_shape_with_an_api_key_for_plan_apply_and_import(servers: Servers, tmp_path: Path, pool: str) -> None:
    """No environments: --api-url (or PREFECT_API_URL) in Cloud's shape and PREFECT_API_KEY, as against Prefect Cloud."""
    (tmp_path / "p.yaml").write_text(f"version: 1\nwork_pools:\n  {pool}:\n    type: process\n", encoding="utf-8")
    cloud = servers.prod + CLOUD
    keyed = {"PREFECT_API_KEY": PROD_KEY}
    plan = run(tmp_path, "plan", "-f", "p.yaml", "--api-url", cloud, "--detailed-exitcode", env=keyed)
    assert plan.exit_code == 2, plan.output
    applied = run(tmp_path, "apply", "-f", "p.yaml", "--auto-approve", env={**keyed, "PREFECT_API_URL": cloud})
    assert applied.exit_code == 0, applied.output
    assert pool in servers.prod_pools()
    imported = run(tmp_path, "import", "--pool", pool, env={**keyed, "PREFECT_API_URL": cloud})
    assert imported.exit_code == 0 and f"{pool}:" in imported.output, imported.output
    refused = run(tmp_path, "plan", "-f", "p.yaml", "--api-url", cloud, env={"PREFECT_API_KEY": "pnu_wrong"})
    assert refused.exit_code == 1 and "401" in refused.output


def test_diff_shows_how_two_environments_differ_without_a_server(servers: Servers, tmp_path: Path, pool: str) -> None:
    repo(tmp_path, servers, pool)
    no_secrets = {"STAGING_PASSWORD": "", "PROD_KEY": ""}  # diff reads no server: no credential is needed
    human = run(tmp_path, "diff", "--env", "staging", "--env", "prod", "--detailed-exitcode", env=no_secrets)
    assert human.exit_code == 2, human.output
    assert f"~ work_pool.{pool}\n      concurrency_limit: 2 -> 20" in human.output
    assert f"~ work_queue.{pool}.high\n      concurrency_limit: null -> 5" in human.output
    document = json.loads(run(tmp_path, "diff", "--env", "staging", "--env", "prod", "--json", env=no_secrets).stdout)
    assert (document["left"], document["right"]) == ("staging", "prod")
    assert document["summary"] == {"differ": 2, "only_left": 0, "only_right": 0, "same": 1}
    same = run(tmp_path, "diff", "--env", "prod", "--env", "prod")
    assert same.exit_code == 1 and "given twice" in same.output
    one = run(tmp_path, "diff", "--env", "prod", "--json")
    assert one.exit_code == 1 and json.loads(one.stdout)["diagnostics"][0]["code"] == "usage"
    typo = run(tmp_path, "diff", "--env", "staging", "--env", "prd")
    assert typo.exit_code == 1 and 'Did you mean "prod"?' in typo.output


def test_all_envs_exits_1_when_one_environment_fails_and_still_plans_the_others(servers: Servers, tmp_path: Path,
                                                                                 pool: str) -> None:
    repo(tmp_path, servers, pool)
    config = tmp_path / "poolform.yaml"
    config.write_text(config.read_text() + "  broken:\n    api_url: http://127.0.0.1:9/api\n", encoding="utf-8")
    result = run(tmp_path, "plan", "--all-envs", "--json", "--detailed-exitcode")
    assert result.exit_code == 1, result.output
    documents = {d["environment"]: d for d in json.loads(result.stdout)["environments"]}
    assert list(documents) == ["staging", "prod", "broken"]
    assert documents["staging"]["steps"] and documents["prod"]["steps"]
    assert documents["broken"]["errored"] and documents["broken"]["diagnostics"][0]["code"] == "api_unreachable"
    missing = run(tmp_path, "plan", "--all-envs", env={"PROD_KEY": ""})
    assert missing.exit_code == 1 and "from $PROD_KEY, which is not set" in missing.output
    assert "=== Environment staging ===" in missing.output


def test_status_explain_import_and_render_talk_to_the_environments_server(servers: Servers, tmp_path: Path,
                                                                          pool: str) -> None:
    """--env on every command that reads a server: each goes to that environment's server with its credentials."""
    repo(tmp_path, servers, pool)
    assert run(tmp_path, "apply", "--env", "prod", "--auto-approve").exit_code == 0
    status = {name: run(tmp_path, "status", "--env", name, "--json") for name in ("staging", "prod")}
    assert status["prod"].exit_code == 0, status["prod"].output
    assert [p["name"] for p in json.loads(status["prod"].stdout)["pools"] if p["name"] == pool] == [pool]
    assert pool not in [p["name"] for p in json.loads(status["staging"].stdout)["pools"]]
    one = run(tmp_path, "status", "--env", "staging", "--pool", pool)
    assert one.exit_code == 1 and f"not found at {servers.staging}" in one.output, one.output
    imported = run(tmp_path, "import", "--env", "prod", "--pool", pool)
    assert imported.exit_code == 0 and "concurrency_limit: 20" in imported.stdout, imported.output
    absent = run(tmp_path, "import", "--env", "staging", "--pool", pool)
    assert absent.exit_code == 1 and f"not found at {servers.staging}" in absent.output, absent.output
    run_id = str(uuid.uuid4())
    explained = run(tmp_path, "explain", run_id, "--env", "prod")
    assert explained.exit_code == 1 and f"flow run {run_id} not found at {servers.prod}{CLOUD}" in explained.output
    live = run(tmp_path, "render", "--pool", pool, "--env", "prod", "--live")  # found on prod, with no template
    assert live.exit_code == 1 and f"work pool {pool!r} has no base job template on the server" in live.output
    missing = run(tmp_path, "render", "--pool", pool, "--env", "staging", "--live")
    assert missing.exit_code == 1 and f"not found at {servers.staging}" in missing.output, missing.output
    for args in (["status"], ["import", "--all"], ["explain", run_id], ["render", "--pool", pool]):
        both = run(tmp_path, *args, "--env", "prod", "--api-url", servers.staging)
        assert both.exit_code == 1 and "--api-url cannot be used with --env" in both.output, (args, both.output)
        typo = run(tmp_path, *args, "--env", "prd")
        assert typo.exit_code == 1 and 'Did you mean "prod"?' in typo.output, (args, typo.output)


def test_credentials_from_any_variable_and_from_a_profile_never_reach_an_output(servers: Servers, tmp_path: Path,
                                                                                pool: str) -> None:
    """Staging's user:password comes from a variable whose name masking would not guess (STAGING_LOGIN),
    prod's key from a Prefect profile (not the environment). The pool's description quotes both and the
    password alone, as a careless or hostile config could: no output shows any of them."""
    password = STAGING_AUTH.split(":", 1)[1]
    (tmp_path / ".prefect").mkdir()
    (tmp_path / ".prefect" / "profiles.toml").write_text(
        f'[profiles.prod-cloud]\nPREFECT_API_URL = "{servers.prod}{CLOUD}"\nPREFECT_API_KEY = "{PROD_KEY}"\n',
        encoding="utf-8")
    (tmp_path / "poolform.yaml").write_text(textwrap.dedent(f"""\
        version: 1
        work_pools:
          {pool}:
            type: process
            description: "auth {STAGING_AUTH} password {password} key {PROD_KEY}"
        environments:
          staging: {{api_url: "{servers.staging}", auth_string_env: STAGING_LOGIN}}
          prod: {{profile: prod-cloud}}
        """), encoding="utf-8")
    env = {"STAGING_LOGIN": STAGING_AUTH, "STAGING_PASSWORD": "", "PROD_KEY": ""}
    outputs = [run(tmp_path, "plan", "--all-envs", *fmt, env=env) for fmt in ([], ["--json"], ["--format", "markdown"])]
    assert all(r.exit_code == 0 for r in outputs), [r.output for r in outputs]
    outputs += [run(tmp_path, "plan", "--env", name, *fmt, env=env) for name in ("staging", "prod")
                for fmt in ([], ["--json"], ["--format", "markdown"])]
    for fmt in ([], ["--json"]):  # no --env: PREFECT_PROFILE chooses the profile, as for the Prefect CLI
        no_env = run(tmp_path, "plan", "--detailed-exitcode", *fmt, env={**env, "PREFECT_PROFILE": "prod-cloud"})
        assert no_env.exit_code == 2, no_env.output
        outputs.append(no_env)
    assert json.loads(outputs[-1].stdout)["api_url"] == servers.prod + CLOUD
    outputs.append(run(tmp_path, "apply", "--env", "staging", "--auto-approve", env=env))
    outputs.append(run(tmp_path, "status", "--env", "staging", "--pool", pool, "--json", env=env))
    outputs.append(run(tmp_path, "import", "--env", "staging", "--pool", pool, env=env))
    outputs.append(run(tmp_path, "render", "--env", "prod", "--pool", pool, env=env))
    wrong = {**env, "STAGING_LOGIN": "stage-user:wrong-pass-77aa"}
    outputs.append(run(tmp_path, "plan", "--env", "staging", env=wrong))  # refused: 401
    assert outputs[-1].exit_code == 1 and "401" in outputs[-1].output, outputs[-1].output
    text = "\n".join(r.output for r in outputs)
    for secret in (STAGING_AUTH, password, PROD_KEY, "wrong-pass-77aa"):
        assert secret not in text
    assert "[masked:STAGING_LOGIN]" in text and "[masked:PREFECT_API_KEY]" in text
    assert "not found" not in outputs[-4].output and pool in servers.staging_pools()
