import base64

import pytest

from reconciler.settings import DEFAULT_API_URL, ConnectionSettings, in_automation, normalize_api_url


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("http://127.0.0.1:4200/api", "http://127.0.0.1:4200/api"),
        ("http://127.0.0.1:4200/api/", "http://127.0.0.1:4200/api"),
        ("http://127.0.0.1:4200", "http://127.0.0.1:4200/api"),
        ("http://127.0.0.1:4200/", "http://127.0.0.1:4200/api"),
        ("https://prefect.example.com/prefix/api", "https://prefect.example.com/prefix/api"),
        ("localhost:4200", "http://localhost:4200/api"),
        ("https://api.prefect.cloud/api/accounts/a/workspaces/w", "https://api.prefect.cloud/api/accounts/a/workspaces/w"),
    ],
    ids=["with-api", "trailing-slash", "no-path", "root-slash", "custom-prefix", "no-scheme", "cloud"],
)
def test_normalize_api_url(raw, expected):
    assert normalize_api_url(raw) == expected


def _basic(s: str) -> str:
    return "Basic " + base64.b64encode(s.encode()).decode()


@pytest.mark.parametrize(
    "env, flag, url, authorization",
    [
        ({}, None, DEFAULT_API_URL, None),
        ({"PREFECT_API_URL": "http://h:1"}, None, "http://h:1/api", None),
        ({"PREFECT_API_URL": "http://h:1/api"}, "http://flag:2", "http://flag:2/api", None),
        ({"PREFECT_API_KEY": "pnu_x"}, None, DEFAULT_API_URL, "Bearer pnu_x"),
        ({"PREFECT_API_AUTH_STRING": "u:p"}, None, DEFAULT_API_URL, _basic("u:p")),
        ({"PREFECT_BASIC_AUTH_KEY": "a:b"}, None, DEFAULT_API_URL, _basic("a:b")),
        ({"PREFECT_API_AUTH_STRING": "u:p", "PREFECT_API_KEY": "k"}, None, DEFAULT_API_URL, _basic("u:p")),
        ({"PREFECT_API_AUTH_STRING": "u:p", "PREFECT_BASIC_AUTH_KEY": "a:b"}, None, DEFAULT_API_URL, _basic("u:p")),
    ],
    ids=["defaults", "env-url", "flag-wins", "bearer", "auth-string", "basic-auth-key", "auth-string-beats-key",
         "auth-string-beats-basic-key"],
)
def test_from_env(env, flag, url, authorization):
    s = ConnectionSettings.from_env(flag, environ=env)
    assert s.api_url == url
    assert s.authorization == authorization


def test_numbers_and_tls():
    s = ConnectionSettings.from_env(environ={"PREFECT_API_REQUEST_TIMEOUT": "2.5", "PREFECT_CLIENT_MAX_RETRIES": "0",
                                             "PREFECT_API_TLS_INSECURE_SKIP_VERIFY": "true"})
    assert (s.timeout, s.max_retries, s.verify) == (2.5, 0, False)
    assert ConnectionSettings.from_env(environ={}).verify is True


@pytest.mark.parametrize("env", [{"PREFECT_API_REQUEST_TIMEOUT": "soon"}, {"PREFECT_CLIENT_MAX_RETRIES": "-1"}],
                         ids=["timeout-word", "negative-retries"])
def test_bad_numbers_are_one_line_errors(env):
    with pytest.raises(ValueError) as info:
        ConnectionSettings.from_env(environ=env)
    assert list(env)[0] in str(info.value)


def test_secrets_not_in_repr():
    s = ConnectionSettings.from_env(environ={"PREFECT_API_KEY": "pnu_secret"})
    assert "pnu_secret" not in repr(s)


@pytest.mark.parametrize("env, expected", [({}, False), ({"CI": "true"}, True), ({"POOLFORM_IN_AUTOMATION": "1"}, True),
                                           ({"CI": ""}, False)], ids=["none", "ci", "poolform", "empty-ci"])
def test_in_automation(env, expected):
    assert in_automation(env) is expected
