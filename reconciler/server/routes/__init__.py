"""HTTP routes of the reference server, one module per resource; thin wrappers over ``core.Core``."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from reconciler.server.core import Core


def core(request: Request) -> Core:
    return request.app.state.core


def json_response(body: Any, status: int = 200) -> Response:
    return Response(
        content=json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8"),
        status_code=status,
        media_type="application/json",
    )


def no_content() -> Response:
    return Response(status_code=204)
