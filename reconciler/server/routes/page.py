"""``GET /``: the read-only status page (``statuspage.render_page`` of ``overview``'s documents).

Served outside ``/api`` (Prefect clients only call ``/api/*``, and Prefect's UI is its own
server), as HTML with a Content-Security-Policy that allows no script, and never cached.
``overview`` (and ``reconciler.explain`` under it) is imported by the first request, not at start:
a server a fleet polls may never be asked for this page (tests/test_boundaries.py).
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from reconciler.server.routes import Routes, ctx
from reconciler.server.statuspage import CONTENT_SECURITY_POLICY, render_page

router = Routes()

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@router.get("/", include_in_schema=False)
async def status_page(request: Request) -> Response:
    from reconciler.server.domain import overview

    status, pending = overview.overview(ctx(request))
    return HTMLResponse(render_page(status, pending), headers=HEADERS)
