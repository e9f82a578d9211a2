"""The official provider's arguments for Prefect Cloud: ``account_id``, ``workspace_id`` and
``PREFECT_CLOUD_ACCOUNT_ID``, and the workspace-scoped API URL built from them (its rules:
``internal/provider/provider.go`` and ``internal/client/util.go`` of terraform-provider-prefect
v3.4.1).
"""

from __future__ import annotations

import pytest

from reconciler.provider.codec import Diags
from reconciler.provider.config import ProviderState, workspace_api_url

A = "11111111-2222-4333-8444-555555555555"
W = "66666666-7777-4888-9999-aaaaaaaaaaaa"
B = "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff"
CLOUD = "https://api.prefect.cloud/api"


@pytest.mark.parametrize("api_url, account, workspace, expected", [
    pytest.param(CLOUD, A, W, f"{CLOUD}/accounts/{A}/workspaces/{W}", id="both-ids"),
    pytest.param(CLOUD, A, None, CLOUD, id="account-only-is-not-scoped"),
    pytest.param(CLOUD, None, W, CLOUD, id="workspace-only-is-not-scoped"),
    pytest.param(f"{CLOUD}/accounts/{A}/workspaces/{W}", None, None, f"{CLOUD}/accounts/{A}/workspaces/{W}",
                 id="ids-in-the-url"),
    pytest.param(f"{CLOUD}/accounts/{A}/workspaces/{W}/", None, None, f"{CLOUD}/accounts/{A}/workspaces/{W}",
                 id="ids-in-the-url-trailing-slash"),
    pytest.param(f"{CLOUD}/accounts/{A}/workspaces/{W}", None, B, f"{CLOUD}/accounts/{A}/workspaces/{B}",
                 id="attribute-beats-the-url"),
    pytest.param(f"{CLOUD}/accounts/{A}/workspaces/{W}", B, None, f"{CLOUD}/accounts/{B}/workspaces/{W}",
                 id="account-attribute-beats-the-url"),
    pytest.param("http://127.0.0.1:4200/api", None, None, "http://127.0.0.1:4200/api", id="oss-untouched"),
    pytest.param("http://h:4200/prefix/api", A, W, f"http://h:4200/prefix/api/accounts/{A}/workspaces/{W}",
                 id="path-prefix-kept"),
])
def test_workspace_api_url(api_url, account, workspace, expected):
    assert workspace_api_url(api_url, account, workspace) == expected


@pytest.mark.parametrize("account, workspace, bad", [("not-a-uuid", W, "account_id"), (A, "12", "workspace_id")])
def test_ids_that_are_no_uuid_are_refused(account, workspace, bad):
    with pytest.raises(ValueError, match=bad):
        workspace_api_url(CLOUD, account, workspace)


def _configure(config: dict, environ: dict) -> tuple[ProviderState, Diags]:
    state, diags = ProviderState(environ), Diags()
    state.validate(config, diags)
    if not diags.has_errors:
        state.configure(config, diags)
    return state, diags


@pytest.mark.parametrize("config, environ, expected", [
    pytest.param({"endpoint": "https://api.prefect.cloud", "api_key": "k", "account_id": A, "workspace_id": W}, {},
                 f"{CLOUD}/accounts/{A}/workspaces/{W}", id="attributes"),
    pytest.param({"workspace_id": W, "api_key": "k"},
                 {"PREFECT_API_URL": "https://api.prefect.cloud/api", "PREFECT_CLOUD_ACCOUNT_ID": A},
                 f"{CLOUD}/accounts/{A}/workspaces/{W}", id="account-from-PREFECT_CLOUD_ACCOUNT_ID"),
    pytest.param({"account_id": B}, {"PREFECT_API_URL": f"{CLOUD}/accounts/{A}/workspaces/{W}",
                                     "PREFECT_API_KEY": "k", "PREFECT_CLOUD_ACCOUNT_ID": A},
                 f"{CLOUD}/accounts/{B}/workspaces/{W}", id="attribute-beats-env-beats-url"),
    pytest.param({}, {"PREFECT_API_URL": f"{CLOUD}/accounts/{A}/workspaces/{W}", "PREFECT_API_KEY": "k"},
                 f"{CLOUD}/accounts/{A}/workspaces/{W}", id="prefect-cli-url"),
    pytest.param({"endpoint": "http://127.0.0.1:4200"}, {"PREFECT_CLOUD_ACCOUNT_ID": A},
                 "http://127.0.0.1:4200/api", id="oss-account-only"),
])
def test_provider_block_and_environment_build_the_workspace_url(config, environ, expected):
    state, diags = _configure(config, environ)
    assert not diags.has_errors, list(diags)
    assert state.api_url == expected


def test_bad_ids_and_a_cloud_endpoint_without_key_are_clear_errors():
    _, diags = _configure({"account_id": "nope"}, {})
    assert diags.has_errors
    assert any(d[0] == "error" and "account_id" in d[1] + d[2] and "UUID" in d[2] for d in diags), list(diags)

    _, diags = _configure({}, {"PREFECT_CLOUD_ACCOUNT_ID": "nope"})
    assert any(d[0] == "error" and "PREFECT_CLOUD_ACCOUNT_ID" in d[2] for d in diags), list(diags)

    state, diags = _configure({"endpoint": "https://api.prefect.cloud", "account_id": A, "workspace_id": W}, {})
    assert any(d[0] == "error" and d[1] == "Missing Prefect API Key" for d in diags), list(diags)
