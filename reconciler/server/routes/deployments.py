"""Flow and deployment routes (prefect-api.md §1.5, §1.6)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
