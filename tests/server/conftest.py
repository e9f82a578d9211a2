"""Fixtures for the reference server tests: an in-process app on an in-memory store
with a manual clock, and a TestClient talking to it."""

from __future__ import annotations

import sys
import warnings
from datetime import datetime, timezone
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

warnings.filterwarnings("ignore", message=".*httpx2.*")

from fastapi.testclient import TestClient  # noqa: E402

from reconciler.server.app import create_app  # noqa: E402
from reconciler.server.clock import ManualClock  # noqa: E402
from reconciler.server.store import open_store  # noqa: E402

T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def postgres_cluster():
    """One throwaway PostgreSQL cluster per test session (per xdist worker); see pgcluster.py."""
    from pgcluster import Cluster

    cluster = Cluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def store():
    s = open_store(":memory:")
    yield s
    s.close()


@pytest.fixture
def app(store, clock):
    return create_app(store, clock=clock)


@pytest.fixture
def client(app):
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def pool(client):
    response = client.post("/api/work_pools/", json={"name": "pool", "type": "process"})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def flow(client):
    response = client.post("/api/flows/", json={"name": "flow"})
    assert response.status_code == 201, response.text
    return response.json()


def queues(client, pool_name: str = "pool") -> dict[str, int]:
    response = client.post(f"/api/work_pools/{pool_name}/queues/filter", json={})
    assert response.status_code == 200, response.text
    return {q["name"]: q["priority"] for q in response.json()}
