"""The ``environments:`` map: checks at file:line (never echoing a credential), selection, overlays, variables.

Environments live in YAML config files; an HCL configuration declares them in a YAML file beside its
``.tf`` files, and selects per-environment values with ``.tfvars`` files and ``variables`` (tested here)."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli.main import cli
from reconciler.config.environments import find_environments, unknown_environment
from reconciler.config.load import load
from reconciler.diagnostics import Diagnostics

BASE = "version: 1\nwork_pools:\n  etl:\n    type: process\n"


def write(tmp: Path, name: str, text: str) -> str:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def validate(tmp: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        result = CliRunner().invoke(cli, ["validate", *args], env={"NO_COLOR": "1", **(env or {})})
    finally:
        os.chdir(cwd)
    assert "Traceback" not in result.output
    return result.exit_code, result.output


BAD = [
    # (environment body, the error's summary part, its line in the file)
    ("api_key: pnu_a1b2c3d4e5f6a1b2c3d4e5f6\n    api_url: http://x/api", "'api_key' would put a credential in the config file", 7),
    ("auth_string: admin:s3cr3t-value\n    api_url: http://x/api", "'auth_string' would put a credential in the config file", 7),
    ("api_url: http://x/api\n    password: s3cr3t-value", "'password' would put a credential in the config file", 8),
    ("api_url: http://admin:s3cr3t-value@x/api", "api_url carries user info, a credential in the config file", 7),
    ("api_url: http://x/api\n    api_key_env: pnu_a1b2c3d4e5f6a1b2c3d4e5f6", "api_key_env must be the NAME of an environment variable", 8),
    ("api_url: http://x/api\n    auth_string_env: 'admin:s3cr3t-value'", "auth_string_env must be the NAME of an environment variable", 8),
    ("api_url: http://x/api\n    api_key_env: 'MY KEY'", "api_key_env must be the NAME of an environment variable 'MY KEY'", 8),
    ("api_url: ftp://x/api", "api_url is not an http(s) URL", 7),
    ("api_url: http://x/api\n    profile: prod", "has both api_url and profile", 8),
    ("description: no server", "names no server", 6),
    ("api_url: http://x/api\n    files: [overlays/nope.yaml]", "file not found: overlays/nope.yaml", 8),
    ("api_url: http://x/api\n    api_url_env: X", "unknown key 'api_url_env'", 8),
    ("api_url: http://x/api\n    files: overlays/p.yaml", "files must be a list", 8),
]


@pytest.mark.parametrize(("body", "summary", "line"), BAD, ids=[b[1][:40] for b in BAD])
def test_bad_environments_are_errors_at_file_line_without_the_secret(tmp_path: Path, body: str, summary: str,
                                                                      line: int) -> None:
    write(tmp_path, "poolform.yaml", BASE + "environments:\n  prod:\n    " + body + "\n")
    for args in (["-f", "poolform.yaml"], ["-f", "poolform.yaml", "--env", "prod"]):
        code, output = validate(tmp_path, *args)
        assert code == 1, output
        assert f"poolform.yaml:{line}:" in output and summary in output, output
        assert "s3cr3t-value" not in output and "pnu_a1b2" not in output


def test_invalid_environment_name(tmp_path: Path) -> None:
    write(tmp_path, "poolform.yaml", BASE + "environments:\n  'prod eu':\n    api_url: http://x/api\n")
    code, output = validate(tmp_path)
    assert code == 1 and "poolform.yaml:6:3: error: invalid environment name 'prod eu'" in output


def test_unknown_environment_says_did_you_mean_and_exits_1(tmp_path: Path) -> None:
    write(tmp_path, "poolform.yaml", BASE + "environments:\n  staging: {api_url: 'http://s/api'}\n  prod: {api_url: 'http://p/api'}\n")
    code, output = validate(tmp_path, "--env", "stagin")
    assert code == 1
    assert "unknown environment 'stagin'. Did you mean \"staging\"? Declared: prod, staging." in output
    code, output = validate(tmp_path, "--env", "stagin", "--json")
    document = json.loads(output[output.index("{"):])
    assert code == 1 and document["valid"] is False and document["diagnostics"][0]["code"] == "usage"
    assert "declares no environments" in unknown_environment("x", [])


def test_an_environment_overlays_its_files_after_the_f_files(tmp_path: Path) -> None:
    write(tmp_path, "poolform.yaml", BASE + textwrap.dedent("""\
        environments:
          staging:
            api_url: http://s/api
            files: [overlays/staging.yaml]
          prod:
            api_url: http://p/api
            files: [overlays/prod.yaml, overlays/prod-extra]
        """))
    write(tmp_path, "overlays/staging.yaml", "version: 1\nwork_pools:\n  etl:\n    concurrency_limit: 2\n")
    write(tmp_path, "overlays/prod.yaml", "version: 1\nwork_pools:\n  etl:\n    concurrency_limit: 20\n")
    write(tmp_path, "overlays/prod-extra/more.yaml", "version: 1\nwork_pools:\n  etl:\n    paused: true\n")
    diags = Diagnostics()
    found = find_environments([str(tmp_path / "poolform.yaml")], diags)
    assert not diags and list(found) == ["staging", "prod"]
    assert found["prod"].files == (str(tmp_path / "overlays/prod.yaml"), str(tmp_path / "overlays/prod-extra"))
    for name, limit, paused in (("staging", 2, False), ("prod", 20, True)):
        state, diags = load([str(tmp_path / "poolform.yaml")], overlays=found[name].files)
        assert state is not None, diags.to_json()
        assert (state.pools["etl"].concurrency_limit, state.pools["etl"].paused) == (limit, paused)
    state, _ = load([str(tmp_path / "poolform.yaml")])
    assert state is not None and state.pools["etl"].concurrency_limit is None


def test_without_f_the_working_directory_is_discovered_and_the_overlay_added(tmp_path: Path) -> None:
    write(tmp_path, "poolform.yaml", BASE + "environments:\n  prod:\n    api_url: http://p/api\n    files: [env/prod.yaml]\n")
    write(tmp_path, "compose.yaml", "services:\n  web: {image: nginx}\n")  # not a poolform config: passed over
    write(tmp_path, "env/prod.yaml", "version: 1\nwork_pools:\n  etl:\n    description: prod\n")
    code, output = validate(tmp_path, "--env", "prod")
    assert code == 0, output
    code, output = validate(tmp_path, "--env", "prod", "--json")
    assert json.loads(output)["pool_count"] == 1


def test_an_environment_file_outside_the_configuration_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside, "secret.yaml", "version: 1\n")
    repo = tmp_path / "repo"
    write(repo, "poolform.yaml", BASE + f"environments:\n  prod:\n    api_url: http://p/api\n    files: [{outside / 'secret.yaml'}]\n")
    code, output = validate(repo, "-f", "poolform.yaml", "--env", "prod")
    assert code == 1 and "environment 'prod'" in output, output


HCL = '''\
variable "limit" {
  type    = number
  default = 1
}
variable "tag" {
  type    = string
  default = "dev"
}
resource "prefect_work_pool" "etl" {
  name              = "etl"
  type              = "process"
  concurrency_limit = var.limit
  description       = var.tag
}
'''


def test_hcl_configs_take_environments_from_a_yaml_file_beside_them(tmp_path: Path) -> None:
    """The explicit choice: no HCL block for environments; a YAML file declares them, and an environment's
    .tfvars files and variables set the HCL variables (the command line's --var still wins)."""
    write(tmp_path, "main.tf", HCL)
    write(tmp_path, "prod.tfvars", 'limit = 30\ntag = "from-tfvars"\n')
    write(tmp_path, "environments.yaml", """\
        version: 1
        environments:
          prod:
            api_url: http://p/api
            files: [prod.tfvars]
            variables: {tag: from-environment}
        """)
    diags = Diagnostics()
    found = find_environments([str(tmp_path)], diags)
    prod = found["prod"]
    assert prod.var_files == (str(tmp_path / "prod.tfvars"),) and prod.files == ()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        state, diags = _read(prod, [])
        assert state is not None, diags.to_json()
        assert (state.pools["etl"].concurrency_limit, state.pools["etl"].description) == (30, "from-environment")
        state, diags = _read(prod, ["tag=cli"])
        assert state is not None and state.pools["etl"].description == "cli"
        state, diags = _read(None, [])
        assert state is not None and (state.pools["etl"].concurrency_limit, state.pools["etl"].description) == (1, "dev")
    finally:
        os.chdir(cwd)
    code, output = validate(tmp_path, "--env", "prod")
    assert code == 0, output


def _read(environment, variables):
    from reconciler.cli import _common

    return _common.read_config([], variables, (), environment=environment)


def test_an_environments_block_in_hcl_is_not_read_as_one(tmp_path: Path) -> None:
    write(tmp_path, "main.tf", HCL + 'environments "prod" {\n  api_url = "http://p/api"\n}\n')
    code, output = validate(tmp_path)
    assert code == 1 and "main.tf:15:1: error: unsupported block type 'environments': environments are declared in YAML" in output
    code, output = validate(tmp_path, "--env", "prod")
    assert code == 1 and "declares no environments" in output, output


def test_a_credential_variable_of_any_name_is_accepted_without_a_warning(tmp_path: Path) -> None:
    """Its value is declared to output masking whatever its name (tests/e2e/test_environments.py checks the outputs)."""
    write(tmp_path, "poolform.yaml", BASE + "environments:\n  prod:\n    api_url: http://p/api\n"
                                           "    auth_string_env: PROD_AUTH\n    api_key_env: PROD_API_KEY\n")
    code, output = validate(tmp_path)
    assert code == 0 and "warning" not in output, output
    assert "PROD_API_KEY" not in output


def invoke(tmp: Path, *args: str, env: dict[str, str] | None = None):
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        result = CliRunner().invoke(cli, list(args), env={"NO_COLOR": "1", "CI": "", **(env or {})})
    finally:
        os.chdir(cwd)
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize(("args", "message"), [
    (["plan", "--env", "prod", "--api-url", "http://x/api"], "--api-url cannot be used with --env"),
    (["apply", "--env", "prod", "--api-url", "http://x/api", "--auto-approve"], "--api-url cannot be used with --env"),
    (["plan", "--all-envs", "--env", "prod"], "--env and --all-envs are exclusive"),
    (["plan", "--all-envs", "--out", "p.json"], "--out saves one plan"),
    (["plan", "--all-envs", "-f", "plain.yaml"], "declares no environments"),
    (["apply", "p.json", "-f", "poolform.yaml"], "a saved plan is applied as it is"),
    (["validate", "--env", "prod", "--format", "markdown", "--environment", "staging"],
     "--environment staging is not --env prod"),
])
def test_environment_options_that_do_not_go_together(tmp_path: Path, args: list[str], message: str) -> None:
    write(tmp_path, "poolform.yaml", BASE + "environments:\n  prod: {api_url: 'http://127.0.0.1:9/api'}\n")
    write(tmp_path, "plain.yaml", BASE)
    result = invoke(tmp_path, *args)
    assert result.exit_code == 1 and message in result.output, result.output


def test_an_environment_uses_only_its_own_server_and_credentials(tmp_path: Path, monkeypatch) -> None:
    """PREFECT_API_URL / PREFECT_API_KEY / PREFECT_API_AUTH_STRING never reach an environment's server;
    a profile-based environment takes the profile's URL and key; timeouts still come from PREFECT_*."""
    from reconciler.cli._common import environment_connection
    from reconciler.errors import ProfileError

    (tmp_path / "profiles.toml").write_text('[profiles.prod]\nPREFECT_API_URL = "https://cloud/api/accounts/a/workspaces/w"\n'
                                            'PREFECT_API_KEY = "pnu_from_profile"\n', encoding="utf-8")
    write(tmp_path, "poolform.yaml", BASE + "environments:\n"
                                           "  staging: {api_url: 'http://staging/api', auth_string_env: STAGING_PASSWORD}\n"
                                           "  prod: {profile: prod}\n"
                                           "  bare: {api_url: 'http://bare/api'}\n"
                                           "  keyed: {profile: prod, api_key_env: OTHER_KEY}\n")
    for name, value in {"PREFECT_HOME": str(tmp_path), "PREFECT_API_URL": "http://leak/api",
                        "PREFECT_API_KEY": "leaked-key", "PREFECT_API_AUTH_STRING": "leak:leak",
                        "PREFECT_API_REQUEST_TIMEOUT": "9", "STAGING_PASSWORD": "u:stage-pass",
                        "OTHER_KEY": "pnu_other"}.items():
        monkeypatch.setenv(name, value)
    found = find_environments([str(tmp_path / "poolform.yaml")], Diagnostics())
    got = {name: environment_connection(env) for name, env in found.items()}
    assert (got["staging"].api_url, got["staging"].auth_string, got["staging"].api_key) == ("http://staging/api", "u:stage-pass", None)
    assert (got["prod"].api_url, got["prod"].api_key, got["prod"].auth_string) == (
        "https://cloud/api/accounts/a/workspaces/w", "pnu_from_profile", None)
    assert (got["bare"].api_url, got["bare"].api_key, got["bare"].auth_string) == ("http://bare/api", None, None)
    assert got["keyed"].api_key == "pnu_other"
    assert {s.timeout for s in got.values()} == {9.0}
    monkeypatch.delenv("STAGING_PASSWORD")
    with pytest.raises(ProfileError, match=r"from \$STAGING_PASSWORD, which is not set"):
        environment_connection(found["staging"])


def test_an_overlay_in_the_base_directory_is_read_last_and_warned_about(tmp_path: Path) -> None:
    write(tmp_path, "poolform.yaml", BASE + "environments:\n  prod:\n    api_url: http://p/api\n    files: [a-prod.yaml]\n")
    write(tmp_path, "a-prod.yaml", "version: 1\nwork_pools:\n  etl:\n    concurrency_limit: 20\n")
    write(tmp_path, "z-base.yaml", "version: 1\nwork_pools:\n  etl:\n    concurrency_limit: 1\n")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        prod = find_environments([], Diagnostics())["prod"]
        state, diags = _read(prod, [])
    finally:
        os.chdir(cwd)
    assert state is not None and state.pools["etl"].concurrency_limit == 20  # after z-base.yaml, though named before
    assert [d.summary for d in diags.warnings] == [
        "a-prod.yaml is an environment's overlay and also part of the base configuration"]


def test_validate_markdown_carries_the_env_marker(tmp_path: Path) -> None:
    """--env names the comment's environment (its marker) unless --environment says the same; an unknown
    --env is a failure comment with that marker, so it replaces the environment's plan comment."""
    write(tmp_path, "poolform.yaml", BASE + "environments:\n  prod: {api_url: 'http://127.0.0.1:9/api'}\n")
    for args in (["--env", "prod"], ["--env", "prod", "--environment", "prod"]):
        result = invoke(tmp_path, "validate", *args, "--format", "markdown")
        assert result.exit_code == 0 and result.stdout.startswith("<!-- poolform-plan:prod -->\n"), result.output
    result = invoke(tmp_path, "validate", "--env", "prd", "--format", "markdown")
    assert result.exit_code == 1 and result.stdout.startswith("<!-- poolform-plan:prd -->\n"), result.output
    assert "**Failed: 1 error.**" in result.stdout and 'Did you mean "prod"?' in result.stdout
