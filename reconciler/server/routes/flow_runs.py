"""Flow run routes (prefect-api.md §1.5)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
