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
