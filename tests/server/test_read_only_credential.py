"""The reference server's read-only credential (``--read-only-api-key-file``, ``--read-only-auth-string-file``),
for CI's plans and drift checks: it may GET and POST to ``.../filter``, ``.../count`` and ``.../paginate``
(also under the Cloud prefix); every other request with it gets 403 and changes nothing. Checked request by
request in process, then with the real CLI over a socket: ``poolform plan`` works with the read-only key,
``poolform apply`` is refused with 403 and the pool is not created."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from reconciler.server.app import create_app
from reconciler.server.store import open_store

FULL_KEY, READ_KEY = "full-key-0123456789", "read-key-0123456789"
FULL_AUTH, READ_AUTH = "admin:s3cret", "reader:r3ad"
CLOUD = "/api/accounts/a/workspaces/b"


def _basic(secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(secret.encode()).decode()}


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


REQUESTS = [  # method, path, body, what the read-only credential gets (None: not 403/401, the route's answer)
    ("GET", "/api/work_pools/p", None, None),
    ("GET", "/", None, None),
    ("POST", "/api/work_pools/filter", {}, None),
    ("POST", "/api/work_pools/p/queues/filter", {}, None),
    ("POST", "/api/flow_runs/count", {}, None),
    ("POST", CLOUD + "/work_pools/filter", {}, None),
    ("POST", "/api/work_pools/", {"name": "new", "type": "process"}, 403),
    ("POST", "/api/work_pools/p/queues/", {"name": "q2"}, 403),
    ("PATCH", "/api/work_pools/p", {"description": "x"}, 403),
    ("PATCH", CLOUD + "/work_pools/p", {"description": "x"}, 403),
    ("DELETE", "/api/work_pools/p", None, 403),
    ("PUT", "/api/work_pools/p", {}, 403),
    ("POST", "/api/work_pools/p/get_scheduled_flow_runs", {}, 403),  # a worker's poll records the poll
    ("POST", "/api/work_pools/filterx", {}, 403),
    ("POST", "/api/work_pools/p/filter/../../work_pools/", {"name": "sneaky", "type": "process"}, 403),
]


@pytest.fixture
def client() -> TestClient:
    app = create_app(open_store(":memory:"), auth_string=FULL_AUTH, api_key=FULL_KEY, read_only_api_key=READ_KEY,
                     read_only_auth_string=READ_AUTH)
    with TestClient(app) as test_client:
        assert test_client.post("/api/work_pools/", json={"name": "p", "type": "process"},
                                headers=_bearer(FULL_KEY)).status_code == 201
        yield test_client


@pytest.mark.parametrize("credential", [_bearer(READ_KEY), _basic(READ_AUTH)], ids=["bearer", "basic"])
@pytest.mark.parametrize(("method", "path", "body", "expected"), REQUESTS, ids=[f"{m} {p}" for m, p, _, _ in REQUESTS])
def test_the_read_only_credential_reads_and_nothing_else(client: TestClient, credential: dict[str, str], method: str,
                                                         path: str, body: object, expected: int | None) -> None:
    before = client.get("/api/work_pools/p", headers=_bearer(FULL_KEY)).json()
    response = client.request(method, path, json=body, headers=credential)
    if expected is None:
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == expected, response.text
        assert "read-only" in response.json()["detail"]
    assert client.get("/api/work_pools/p", headers=_bearer(FULL_KEY)).json() == before
    assert client.get("/api/work_pools/new", headers=_bearer(FULL_KEY)).status_code == 404


@pytest.mark.parametrize(("headers", "status"), [
    (_bearer(FULL_KEY), 200), (_basic(FULL_AUTH), 200),
    (_bearer("wrong"), 401), (_basic("reader:wrong"), 401), ({}, 401),
    (_bearer(READ_AUTH), 401), (_basic(READ_KEY), 401),  # each read-only secret only in its own scheme
])
def test_the_full_credentials_still_write_and_others_are_unauthorized(client: TestClient, headers: dict[str, str],
                                                                      status: int) -> None:
    response = client.patch("/api/work_pools/p", json={"description": "changed"}, headers=headers)
    assert response.status_code == (204 if status == 200 else status), response.text


def test_a_read_only_credential_alone_is_refused() -> None:
    with pytest.raises(ValueError, match="read-only credential needs"):
        create_app(open_store(":memory:"), read_only_api_key=READ_KEY)
    from reconciler.cli.main import cli

    for env in ({"POOLFORM_SERVER_READ_ONLY_API_KEY": READ_KEY},
                {"POOLFORM_SERVER_READ_ONLY_AUTH_STRING": READ_AUTH}):
        result = CliRunner().invoke(cli, ["server", "start", "--db", ":memory:", "--port", "0"], env=env)
        assert result.exit_code == 1 and "needs the full one too" in result.output, result.output
    result = CliRunner().invoke(cli, ["server", "start", "--db", ":memory:", "--port", "0"],
                                env={"POOLFORM_SERVER_AUTH_STRING": FULL_AUTH,
                                     "POOLFORM_SERVER_READ_ONLY_AUTH_STRING": "reader"})
    assert result.exit_code == 1 and "user:password" in result.output and FULL_AUTH not in result.output


def test_plan_works_and_apply_is_refused_with_the_read_only_key(tmp_path: Path) -> None:
    from reconciler.server.runner import serve_in_thread

    (tmp_path / "pools.yaml").write_text("version: 1\nwork_pools:\n  ro-pool:\n    type: process\n", encoding="utf-8")
    server = serve_in_thread(store_path=":memory:", port=0, api_key=FULL_KEY, read_only_api_key=READ_KEY)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "POOLFORM_"))}
        env.update(PREFECT_API_URL=server.api_url, PREFECT_API_KEY=READ_KEY, POOLFORM_IN_AUTOMATION="1")

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "reconciler", *args], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)

        planned = run("plan", "-f", "pools.yaml", "--detailed-exitcode")
        assert planned.returncode == 2, planned.stderr
        refused = run("apply", "-f", "pools.yaml", "--auto-approve")
        assert refused.returncode == 1 and "403" in refused.stderr, refused.stderr
        assert READ_KEY not in refused.stderr + refused.stdout
        env["PREFECT_API_KEY"] = FULL_KEY
        assert run("apply", "-f", "pools.yaml", "--auto-approve").returncode == 0
        env["PREFECT_API_KEY"] = READ_KEY
        assert run("plan", "-f", "pools.yaml", "--detailed-exitcode").returncode == 0
    finally:
        server.stop()
