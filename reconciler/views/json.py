"""The plan as JSON text: the plan document itself, indented 2, keys in document order."""

from __future__ import annotations

import json as _json
from typing import Any


def render_json(plan: dict[str, Any]) -> str:
    return _json.dumps(plan, indent=2, ensure_ascii=False) + "\n"
