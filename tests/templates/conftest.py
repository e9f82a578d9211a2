"""Fixtures for template-rule tests."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.templates import default_template


@pytest.fixture
def process_template() -> dict[str, Any]:
    """Prefect 3.9.1's default process template (a fresh copy)."""
    return default_template("process")
