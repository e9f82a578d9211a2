"""A pytest plugin that runs Prefect's own API tests against poolform's server.

Loaded with ``-p poolform_upstream_plugin`` by tests/compat/test_upstream_api.py, in the real
Prefect 3.9.1 venv (the test files import prefect), next to copies of Prefect's
``tests/server/orchestration/api/test_workers.py`` and ``test_work_queues.py`` — never with
Prefect's own conftest. It provides the fixtures their pure-HTTP cases use: ``client`` and its
siblings as an httpx client to a fresh poolform server per test (over a socket, from the factory
at ``$POOLFORM_UPSTREAM_FACTORY``), and ``work_pool``, ``work_queue``, ``flow``... built through
the API instead of Prefect's database session. A case that needs anything else is skipped with
its reason (:func:`skip_reason`), so every skip says why.

Must not import poolform (this runs in Prefect's venv) or change what the cases assert.
"""

from __future__ import annotations

import inspect
import json
import os
import urllib.request
import uuid
from typing import Any, AsyncIterator, Iterator

import httpx
import pytest

FACTORY = os.environ.get("POOLFORM_UPSTREAM_FACTORY", "")

# Source that shows a case reaches into Prefect's server process, and why it cannot run here.
IN_PROCESS = (
    ("AssertingEventsClient", "asserts the events Prefect's server emits inside its own process"),
    ("monkeypatch.setattr", "patches Prefect's server internals in-process"),
    ("temporary_settings", "changes Prefect's server settings in-process"),
    ("websocket_connect", "uses the worker channel websocket, which poolform's API subset does not serve"),
)


def _factory(method: str, path: str) -> dict[str, Any]:
    request = urllib.request.Request(FACTORY + path, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read() or b"{}")


@pytest.fixture
def poolform_api_url() -> Iterator[str]:
    """A fresh poolform server (empty database) for one case; its API URL ends in ``/api``."""
    server = _factory("POST", "/servers")
    try:
        yield server["api_url"]
    finally:
        _factory("DELETE", f"/servers/{server['id']}")


async def _client(url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield client


@pytest.fixture
async def client(poolform_api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(poolform_api_url):
        yield c


hosted_api_client = client
client_without_exceptions = client
ephemeral_client_with_lifespan = client


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), f"fixture request failed: {response.status_code} {response.text}"
    return response.json()


@pytest.fixture
async def work_pool(client: httpx.AsyncClient) -> Any:
    """Prefect's ``work_pool`` fixture (tests/fixtures/database.py), created through the API."""
    from prefect.server.schemas.core import WorkPool

    body = {
        "name": f"test-work-pool-{uuid.uuid4()}",
        "type": "test-type",
        "base_job_template": {
            "job_configuration": {"command": "{{ command }}"},
            "variables": {"properties": {"command": {"type": "string", "title": "Command"}}, "required": []},
        },
    }
    return WorkPool.model_validate(_created(await client.post("/work_pools/", json=body)))


@pytest.fixture
async def prefect_agent_work_pool(client: httpx.AsyncClient) -> Any:
    from prefect.server.schemas.core import WorkPool

    body = {"name": f"process-work-pool-{uuid.uuid4()}", "type": "prefect-agent"}
    return WorkPool.model_validate(_created(await client.post("/work_pools/", json=body)))


@pytest.fixture
async def work_queue_1(client: httpx.AsyncClient, work_pool: Any) -> Any:
    from prefect.server.schemas.core import WorkQueue

    body = {"name": f"wq-1-{uuid.uuid4()}"}
    return WorkQueue.model_validate(_created(await client.post(f"/work_pools/{work_pool.name}/queues", json=body)))


@pytest.fixture
async def work_queue(client: httpx.AsyncClient) -> Any:
    """Prefect's legacy ``work_queue`` fixture (the agent pool's), created through the API."""
    from prefect.server.schemas.core import WorkQueue

    body = {"name": f"wq-1-{uuid.uuid4()}", "description": "All about my work queue", "priority": 1}
    return WorkQueue.model_validate(_created(await client.post("/work_queues/", json=body)))


@pytest.fixture
async def flow(client: httpx.AsyncClient) -> Any:
    from prefect.server.schemas.core import Flow

    return Flow.model_validate(_created(await client.post("/flows/", json={"name": f"my-flow-{uuid.uuid4()}"})))


def skip_reason(item: pytest.Item) -> str | None:
    """Why a case cannot run against another server over HTTP, or None when it can."""
    manager = item.session._fixturemanager
    params = set(getattr(getattr(item, "callspec", None), "params", {}))
    missing = sorted(
        name for name in item.fixturenames
        if name not in params and name != "request" and not manager.getfixturedefs(name, item)
    )
    if "session" in missing or "db" in missing:
        return "reads or writes Prefect's database session directly (its fixtures or its body)"
    if "test_client" in missing:
        return "uses the worker channel websocket through an in-process TestClient; poolform does not serve it"
    if missing:
        return f"needs Prefect's {', '.join(missing)} fixture, built through its database session"
    function = getattr(item, "function", None)
    if function is None:
        return None
    source = inspect.getsource(function)
    for token, why in IN_PROCESS + _helpers(inspect.getmodule(function)):
        if token in source:
            return why
    return None


def _helpers(module: Any) -> tuple[tuple[str, str], ...]:
    """The module's own helper functions that reach into Prefect's process, as (call, why)."""
    found = []
    for name, helper in inspect.getmembers(module, inspect.isfunction):
        if name.startswith("test_") or getattr(helper, "__module__", None) != module.__name__:
            continue
        try:
            source = inspect.getsource(helper)
        except (OSError, TypeError):
            continue
        for token, why in IN_PROCESS:
            if token in source:
                found.append((f"{name}(", why))
                break
    return tuple(found)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        reason = skip_reason(item)
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=reason))
