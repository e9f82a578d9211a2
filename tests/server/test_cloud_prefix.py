"""The reference server under Prefect Cloud's URL shape (``/api/accounts/{id}/workspaces/{id}``), any ids,
auth as configured (basic auth, a Bearer API key): one mounting of the same routes, not a copy."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from reconciler.server.app import create_app, strip_cloud_prefix
from reconciler.server.store import open_store

PREFIX = "/api/accounts/0ff44498-d380-4d7b-bd68-9b52da03823f/workspaces/c1e7f2b4-9a4a-4b55-9d3c-2f1e6f7a8b90"


@pytest.mark.parametrize(("path", "bare"), [
    (PREFIX + "/work_pools/", "/api/work_pools/"),
    ("/api/accounts/a/workspaces/b/work_pools/x/queues/y", "/api/work_pools/x/queues/y"),
    ("/api/accounts/a/workspaces/b", "/api"),
    ("/api/accounts/a/workspaces//work_pools/", "/api/accounts/a/workspaces//work_pools/"),
    ("/api/accounts/a/workspacesX/work_pools/", "/api/accounts/a/workspacesX/work_pools/"),
    ("/api/work_pools/accounts/a/workspaces/b", "/api/work_pools/accounts/a/workspaces/b"),
])
def test_strip_cloud_prefix(path: str, bare: str) -> None:
    assert strip_cloud_prefix(path) == bare


def test_the_whole_api_answers_under_the_prefix_from_one_store() -> None:
    app = create_app(open_store(":memory:"))
    assert not any("accounts" in getattr(route, "path", "") for route in app.routes)  # mounted once, not copied
    with TestClient(app) as client:
        assert client.get(PREFIX + "/health").json() is True
        assert client.post(PREFIX + "/work_pools/", json={"name": "cloudy", "type": "process"}).status_code == 201
        assert client.get("/api/work_pools/cloudy").json()["name"] == "cloudy"
        other = "/api/accounts/another/workspaces/ids"  # any ids: the reference server has one workspace
        assert client.post(other + "/work_pools/cloudy/queues/", json={"name": "q"}).status_code == 201
        assert [q["name"] for q in client.post(PREFIX + "/work_pools/cloudy/queues/filter", json={}).json()] == ["default", "q"]
        assert client.get("/api/accounts/a/workspaces//work_pools/cloudy").status_code == 404
        with client.websocket_connect(PREFIX + "/events/in") as ws:
            ws.send_json({"type": "auth", "token": None})
            assert ws.receive_json() == {"type": "auth_success"}


def _basic(secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(secret.encode()).decode()}


@pytest.mark.parametrize(("auth_string", "api_key", "headers", "status"), [
    (None, "k3y", {}, 401),
    (None, "k3y", {"Authorization": "Bearer wrong"}, 401),
    (None, "k3y", {"Authorization": "Bearer k3y"}, 200),
    (None, "k3y", {"Authorization": "bearer  k3y"}, 200),
    (None, "k3y", _basic("u:k3y"), 401),
    ("u:p", None, {"Authorization": "Bearer u:p"}, 401),
    ("u:p", None, _basic("u:p"), 200),
    ("u:p", "k3y", _basic("u:p"), 200),
    ("u:p", "k3y", {"Authorization": "Bearer k3y"}, 200),
    ("u:p", "k3y", {"Authorization": "Bearer u:p"}, 401),
])
def test_auth_as_configured_under_both_paths(auth_string, api_key, headers, status) -> None:
    app = create_app(open_store(":memory:"), auth_string=auth_string, api_key=api_key)
    with TestClient(app) as client:
        for base in ("/api", PREFIX):
            assert client.post(base + "/work_pools/filter", json={}, headers=headers).status_code == status
            assert client.get(base + "/health").status_code == 200  # exempt, as /api/health


def test_the_events_socket_takes_the_api_key_as_its_token() -> None:
    app = create_app(open_store(":memory:"), api_key="k3y")
    with TestClient(app) as client:
        with client.websocket_connect(PREFIX + "/events/in", headers={"Authorization": "Bearer k3y"}) as ws:
            ws.send_json({"type": "auth", "token": "k3y"})
            assert ws.receive_json() == {"type": "auth_success"}
        with client.websocket_connect(PREFIX + "/events/in", headers={"Authorization": "Bearer k3y"}) as ws:
            ws.send_json({"type": "auth", "token": "nope"})
            assert ws.receive_json()["type"] == "auth_failure"


def test_server_start_refuses_an_unusable_api_key(tmp_path) -> None:
    from click.testing import CliRunner

    from reconciler.cli.main import cli

    runner = CliRunner()
    missing = runner.invoke(cli, ["server", "start", "--api-key-file", str(tmp_path / "nope"), "--db", ":memory:"])
    assert missing.exit_code == 1 and "cannot read --api-key-file" in missing.output
    spaced = runner.invoke(cli, ["server", "start", "--db", ":memory:"], env={"POOLFORM_SERVER_API_KEY": "two words"})
    assert spaced.exit_code == 1 and "must be one API key without spaces" in spaced.output
    (tmp_path / "key").write_text("k3y-from-file\n")
    both = runner.invoke(cli, ["server", "start", "--api-key-file", str(tmp_path / "key"), "--db", ":memory:"],
                         env={"POOLFORM_SERVER_API_KEY": "other"})
    assert both.exit_code == 1 and "not both" in both.output
    assert "k3y-from-file" not in both.output and "two words" not in spaced.output
