"""HTTP routes of the reference server, one module per resource: each parses the request, calls
one domain function (``reconciler.server.domain``) and maps what it returns — or the refusal it
raises (:func:`status_of`) — to a status code and a body. Must not hold domain rules."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable

import anyio
from fastapi import Request
from fastapi.responses import Response
from fastapi.routing import APIRoute, APIRouter

from reconciler.server import VALIDATION_THREADS
from reconciler.server.jsontext import json_bytes
from reconciler.server.domain import Ctx
from reconciler.server.domain.pools import pool_template
from reconciler.server.domain.refusals import Conflict, Forbidden, Invalid, NotFound, NotNow, Refusal
from reconciler.template_rules import defaults_problem, defaults_problem_known, is_prepared, prepare

class Routes:
    """A route module's routes as declared (``@router.get(path, **options)``, as on FastAPI's
    ``APIRouter``), made into FastAPI routes only where the app serves them (``app._add_routes``,
    under its prefix): FastAPI builds a route's request models and handler when it makes the route,
    so a module ``APIRouter`` kept a second copy of every route that served nothing (0.5 MB of the
    server's resident memory, tests/test_boundaries.py)."""

    def __init__(self, route_class: type[APIRoute] = APIRoute) -> None:
        self.route_class = route_class
        self.declared: list[tuple[str, Callable[..., Any], dict[str, Any]]] = []
        """(path, endpoint, the options of ``APIRouter.add_api_route``), in declaration order."""

    def api_route(self, path: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def declare(endpoint: Callable[..., Any]) -> Callable[..., Any]:
            self.declared.append((path, endpoint, options))
            return endpoint

        return declare

    def get(self, path: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.api_route(path, methods=["GET"], **options)

    def post(self, path: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.api_route(path, methods=["POST"], **options)

    def patch(self, path: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.api_route(path, methods=["PATCH"], **options)

    def put(self, path: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.api_route(path, methods=["PUT"], **options)

    def delete(self, path: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.api_route(path, methods=["DELETE"], **options)

    @property
    def routes(self) -> list[APIRoute]:
        """The declared routes made into FastAPI routes, unprefixed, for inspection (each call makes new ones)."""
        router = APIRouter(route_class=self.route_class)
        for path, endpoint, options in self.declared:
            router.add_api_route(path, endpoint, **options)
        return router.routes  # type: ignore[return-value]


STATUS = {NotFound: 404, Conflict: 409, Forbidden: 403, Invalid: 422, NotNow: 400}
"""The status code of each kind of refusal."""


def status_of(refusal: Refusal) -> int:
    return next(code for kind, code in STATUS.items() if isinstance(refusal, kind))


def ctx(request: Request) -> Ctx:
    return request.app.state["ctx"]  # not .ctx: Starlette's State.__getattr__ builds an AttributeError first


_LIMITERS_LOCK = threading.Lock()


def validation_limiter(request: Request) -> anyio.CapacityLimiter:
    """The running event loop's bound on CPU-heavy checks (``VALIDATION_THREADS``). One per loop:
    a limiter's waiters belong to the loop they wait on (a test client may run a loop per request)."""
    loop = asyncio.get_running_loop()
    limiters = request.app.state.validation_limiters
    with _LIMITERS_LOCK:
        if loop not in limiters:
            limiters[loop] = anyio.CapacityLimiter(VALIDATION_THREADS)
        return limiters[loop]


async def off_the_loop(request: Request, work: Callable[..., Any], *args: Any) -> Any:
    """``work(*args)`` in a worker thread, at most ``VALIDATION_THREADS`` at once, while the event
    loop goes on answering: for pure CPU-heavy checks a handler awaits *before* its store work
    (which stays one block with no await in it)."""
    return await anyio.to_thread.run_sync(work, *args, limiter=validation_limiter(request))


ON_LOOP_BYTES = 65_536
"""A request body up to this size may have its template's memo looked up on the event loop (a
digest of its ``variables``); a larger or unannounced one goes to a worker thread directly."""


async def check_defaults(request: Request, template: Any) -> None:
    """Have ``template_rules.defaults_problem(template)`` computed before the store work (pool create
    and PATCH): in a worker thread, unless the verdict is in the memo already (a fleet's pools
    share a template) and the body is small enough to look it up on the loop."""
    if not template:
        return
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) <= ON_LOOP_BYTES and defaults_problem_known(template):
        return
    await off_the_loop(request, defaults_problem, template)


async def prepare_pool_template(request: Request, pool_name: str | None) -> None:
    """Checking job variables against a pool's base job template costs CPU time the first time
    (seconds for a template of megabytes): do that part off the event loop now, so the domain's
    check, inside its store work, is answered from ``template_rules``' memo."""
    if pool_name:
        await prepare_template(request, pool_template(ctx(request), pool_name))


async def prepare_template(request: Request, template: dict[str, Any]) -> None:
    """:func:`prepare_pool_template` for a template in hand (``pools.parsed_template``'s object, so
    one seen before is known by identity and costs no thread)."""
    if not is_prepared(template):
        await off_the_loop(request, prepare, template)


def json_response(body: Any, status: int = 200) -> Response:
    return Response(
        content=json_bytes(body),
        status_code=status,
        media_type="application/json",
    )


def no_content() -> Response:
    return Response(status_code=204)


def created_or_ok(created: bool) -> int:
    """201 for a new object (or state), 200 for an existing one."""
    return 201 if created else 200
