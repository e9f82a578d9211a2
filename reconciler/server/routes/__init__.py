"""HTTP routes of the reference server, one module per resource: each parses the request, calls
one domain function (``reconciler.server.domain``) and maps what it returns — or the refusal it
raises (:func:`status_of`) — to a status code and a body. Must not hold domain rules."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from reconciler.server.domain import Ctx
from reconciler.server.domain.refusals import Conflict, Forbidden, Invalid, NotFound, NotNow, Refusal

STATUS = {NotFound: 404, Conflict: 409, Forbidden: 403, Invalid: 422, NotNow: 400}
"""The status code of each kind of refusal."""


def status_of(refusal: Refusal) -> int:
    return next(code for kind, code in STATUS.items() if isinstance(refusal, kind))


def ctx(request: Request) -> Ctx:
    return request.app.state.ctx


def json_response(body: Any, status: int = 200) -> Response:
    return Response(
        content=json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8"),
        status_code=status,
        media_type="application/json",
    )


def no_content() -> Response:
    return Response(status_code=204)


def created_or_ok(created: bool) -> int:
    """201 for a new object (or state), 200 for an existing one."""
    return 201 if created else 200
