"""Shared fixtures for the scheduling tests: the Prefect 3.9.1 capture and a live server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def poll_capture() -> dict:
    return json.loads((FIXTURES / "get-scheduled-flow-runs.json").read_text())


@pytest.fixture(scope="session")
def legacy_capture() -> dict:
    return json.loads((FIXTURES / "work-queue-get-runs-legacy.json").read_text())


@pytest.fixture()
def live_server(tmp_path):
    """Our server on a real socket (127.0.0.1, free port) over a fresh SQLite file."""
    from reconciler.server.runner import serve_in_thread

    handle = serve_in_thread(str(tmp_path / "server.db"))
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture()
def api(live_server):
    import httpx

    with httpx.Client(base_url=live_server.api_url, timeout=30) as client:
        yield client
