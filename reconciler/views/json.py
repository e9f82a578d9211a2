"""The plan as JSON text: the plan document itself, indented 2, keys in document order."""

from __future__ import annotations

from typing import Any

from reconciler.plan.planfile import indented_json


def render_json(plan: dict[str, Any]) -> str:
    return indented_json(plan)
