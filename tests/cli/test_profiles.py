"""Prefect profiles (profiles.toml) read as the Prefect CLI reads them, and the precedence of every
connection setting: the flag, then the PREFECT_* environment variable, then the active profile, then the default."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import _common
from reconciler.cli.main import cli
from reconciler.errors import ProfileError
from reconciler.profiles import load_profile, profiles_path
from reconciler.settings import DEFAULT_API_URL

PROFILES = '''\
active = "local"

[profiles.local]
PREFECT_API_URL = "http://local-profile:4200/api"

[profiles.cloud]
PREFECT_API_URL = "https://api.prefect.cloud/api/accounts/a1/workspaces/w1"
PREFECT_API_KEY = "pnu_profilekey"
PREFECT_API_REQUEST_TIMEOUT = 7
PREFECT_API_TLS_INSECURE_SKIP_VERIFY = true
PREFECT_SERVER_API_PORT = 4300
'''


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "profiles.toml").write_text(PROFILES, encoding="utf-8")
    return tmp_path


def settings(env: dict[str, str], flag: str | None = None):
    profile = load_profile(env)
    from reconciler.settings import ConnectionSettings

    return ConnectionSettings.from_env(flag, environ=env, profile=profile.values if profile else None)


# (flag, environment beyond PREFECT_HOME, expected api_url, expected api_key)
MATRIX = [
    pytest.param(None, {}, "http://local-profile:4200/api", None, id="the-file's-active-profile"),
    pytest.param(None, {"PREFECT_PROFILE": "cloud"}, "https://api.prefect.cloud/api/accounts/a1/workspaces/w1",
                 "pnu_profilekey", id="PREFECT_PROFILE-chooses"),
    pytest.param(None, {"PREFECT_PROFILE": "cloud", "PREFECT_API_URL": "http://env:1/api"}, "http://env:1/api",
                 "pnu_profilekey", id="env-var-beats-profile-url"),
    pytest.param(None, {"PREFECT_PROFILE": "cloud", "PREFECT_API_KEY": "envkey"},
                 "https://api.prefect.cloud/api/accounts/a1/workspaces/w1", "envkey", id="env-var-beats-profile-key"),
    pytest.param("http://flag:2/api", {"PREFECT_PROFILE": "cloud", "PREFECT_API_URL": "http://env:1/api"},
                 "http://flag:2/api", "pnu_profilekey", id="flag-beats-env-var-and-profile"),
    pytest.param("http://flag:2/api", {}, "http://flag:2/api", None, id="flag-beats-profile"),
    pytest.param(None, {"PREFECT_API_URL": "http://env:1/api"}, "http://env:1/api", None, id="env-var-beats-active"),
]


@pytest.mark.parametrize(("flag", "extra", "url", "key"), MATRIX)
def test_precedence_flag_then_env_var_then_profile(home: Path, flag, extra, url, key) -> None:
    got = settings({"PREFECT_HOME": str(home), **extra}, flag)
    assert (got.api_url, got.api_key) == (url, key)


def test_other_settings_come_from_the_profile_unless_the_environment_sets_them(home: Path) -> None:
    got = settings({"PREFECT_HOME": str(home), "PREFECT_PROFILE": "cloud"})
    assert (got.timeout, got.verify) == (7.0, False)
    got = settings({"PREFECT_HOME": str(home), "PREFECT_PROFILE": "cloud", "PREFECT_API_REQUEST_TIMEOUT": "3",
                    "PREFECT_API_TLS_INSECURE_SKIP_VERIFY": "false"})
    assert (got.timeout, got.verify) == (3.0, True)


def test_where_the_file_is(tmp_path: Path) -> None:
    home = str(tmp_path / "h")
    assert profiles_path({"PREFECT_HOME": home}) == Path(home) / "profiles.toml"
    assert profiles_path({"PREFECT_HOME": home, "PREFECT_PROFILES_PATH": "$PREFECT_HOME/p.toml"}) == Path(home) / "p.toml"
    assert profiles_path({"PREFECT_PROFILES_PATH": str(tmp_path / "x.toml")}) == tmp_path / "x.toml"
    assert profiles_path({}) == Path.home() / ".prefect" / "profiles.toml"


def test_no_file_and_no_profile_asked_for_is_the_default(tmp_path: Path) -> None:
    assert load_profile({"PREFECT_HOME": str(tmp_path)}) is None
    assert settings({"PREFECT_HOME": str(tmp_path)}).api_url == DEFAULT_API_URL


def test_the_files_active_naming_no_profile_falls_back_like_prefect(tmp_path: Path) -> None:
    (tmp_path / "profiles.toml").write_text('active = "gone"\n[profiles.other]\nPREFECT_API_URL = "http://o/api"\n')
    assert load_profile({"PREFECT_HOME": str(tmp_path)}) is None


@pytest.mark.parametrize(("text", "env", "message"), [
    pytest.param(PROFILES, {"PREFECT_PROFILE": "clod"}, "Prefect profile 'clod' not found in", id="unknown-profile"),
    pytest.param("active = [", {}, "is not valid TOML", id="bad-toml"),
    pytest.param("profiles = 3\n", {"PREFECT_PROFILE": "x"}, "no [profiles.NAME] tables", id="bad-shape"),
    pytest.param(None, {"PREFECT_PROFILE": "cloud"}, "there is no profiles file at", id="no-file"),
])
def test_profile_problems_are_errors(tmp_path: Path, text, env, message) -> None:
    if text is not None:
        (tmp_path / "profiles.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError, match=__import__("re").escape(message)):
        load_profile({"PREFECT_HOME": str(tmp_path), **env})
    if text == PROFILES:
        with pytest.raises(ProfileError, match='Did you mean "cloud"'):
            load_profile({"PREFECT_HOME": str(tmp_path), **env})


def test_every_server_command_uses_the_profile(home: Path, socket_server, tmp_path: Path) -> None:
    """plan, apply and import reach the server the active profile names (no flag, no PREFECT_API_URL)."""
    (home / "profiles.toml").write_text(f'active = "ref"\n[profiles.ref]\nPREFECT_API_URL = "{socket_server.api_url}"\n')
    config = tmp_path / "p.yaml"
    config.write_text("version: 1\nwork_pools:\n  profile-pool-x1:\n    type: process\n", encoding="utf-8")
    env = {"PREFECT_HOME": str(home), "PREFECT_API_URL": "", "CI": "", "NO_COLOR": "1"}
    old = _common.CLIENT_FACTORY
    _common.CLIENT_FACTORY = None
    try:
        runner = CliRunner()
        plan = runner.invoke(cli, ["plan", "-f", str(config), "--detailed-exitcode"], env=env)
        assert plan.exit_code == 2, plan.output
        applied = runner.invoke(cli, ["apply", "-f", str(config), "--auto-approve"], env=env)
        assert applied.exit_code == 0, applied.output
        imported = runner.invoke(cli, ["import", "--pool", "profile-pool-x1"], env=env)
        assert "profile-pool-x1" in imported.output, imported.output
        broken = runner.invoke(cli, ["plan", "-f", str(config)], env={**env, "PREFECT_PROFILE": "nope"})
        assert broken.exit_code == 1 and "Prefect profile 'nope' not found" in broken.output
        assert "Traceback" not in broken.output
    finally:
        _common.CLIENT_FACTORY = old
        runner.invoke(cli, ["apply", "-f", str(config), "--destroy", "--auto-approve"], env=env)
