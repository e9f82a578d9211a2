"""``GET /``: the read-only status page (``statuspage.render_page`` of ``overview``'s documents).

Served outside ``/api`` (Prefect clients only call ``/api/*``, and Prefect's UI is its own
server), as HTML with a Content-Security-Policy that allows no script, and never cached.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from reconciler.server.domain import overview
from reconciler.server.routes import ctx
from reconciler.server.statuspage import CONTENT_SECURITY_POLICY, render_page

router = APIRouter()

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@router.get("/", include_in_schema=False)
async def status_page(request: Request) -> Response:
    status, pending = overview.overview(ctx(request))
    return HTMLResponse(render_page(status, pending), headers=HEADERS)
