"""The reference server's FastAPI application: ``create_app(store)``.

Owns the app wiring: error body shapes (Prefect 3.9.1's), the API-version and
auth checks (basic auth, a Bearer API key; of ``/api`` and of the status page at ``/``), the routers
under ``/api`` (also answering under Prefect Cloud's ``/api/accounts/{id}/workspaces/{id}`` prefix, any
ids, by rewriting the path once before routing: one mounting, not a copy of the routes), the status
page (``routes/page.py``) and the events intake websocket
``/api/events/in`` (accepted, auth message answered, every event dropped; every
other websocket path is refused 404 before the upgrade so Prefect clients poll).
Domain logic lives in ``domain/``, the routes in ``routes/``; this module must not import the
rest of the package.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import weakref
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Sequence

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import State

from reconciler.server import API_VERSION, SERVER_VERSION
from reconciler.server.bodies import MAX_BODY_BYTES, BodyLimit, Direct, Lane
from reconciler.server.clock import system_clock
from reconciler.server.jsontext import json_bytes
from reconciler.server.domain import Ctx
from reconciler.server.leases import PENDING_TIMEOUT
from reconciler.server.domain.refusals import Refusal
from reconciler.server.store import Store, StoreBusy, StoreUnavailable, StoreValueError

if TYPE_CHECKING:
    from reconciler.server.routes import Routes

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_AUTH_EXEMPT = {"/api/health", "/api/ready"}
EVENTS_IN = "/api/events/in"
_READS = re.compile(r"/(?:filter|count|paginate)/?$")
"""The POST endpoints that only read (Prefect's filters and counts): what a read-only credential may POST."""
CLOUD_PREFIX = re.compile(r"^/api/accounts/[^/]+/workspaces/[^/]+(?=/|$)")
"""Prefect Cloud's workspace API prefix: ``/api/accounts/{account_id}/workspaces/{workspace_id}``."""


def strip_cloud_prefix(path: str) -> str:
    """``/api/accounts/A/workspaces/W/work_pools/`` -> ``/api/work_pools/``; other paths unchanged."""
    match = CLOUD_PREFIX.match(path)
    return path if match is None else "/api" + path[match.end():]


def _json(status: int, body: Any) -> Response:
    return Response(
        content=json_bytes(body),
        status_code=status,
        media_type="application/json",
    )


class _Guard:
    """ASGI middleware: the Cloud prefix taken off the path, optional auth (basic, Bearer API key) and the
    X-PREFECT-API-VERSION check."""

    def __init__(self, app: Any, holder: Any) -> None:
        self.app = app
        # The holder's attributes, read live (they may change after start) but without Starlette's
        # State.__getattr__, which fails a normal lookup first (an AttributeError built each time).
        self.settings: dict[str, Any] = holder._state if isinstance(holder, State) else vars(holder)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {}
        for key, value in scope.get("headers", ()):  # only the two it reads (a repeated one: its last value)
            key = key.lower()
            if key == b"authorization" or key == b"x-prefect-api-version":
                headers[key.decode("latin-1")] = value.decode("latin-1")
        path = scope.get("path", "")
        bare = strip_cloud_prefix(path)
        if bare != path:
            scope = dict(scope, path=bare, raw_path=bare.encode("utf-8"))
            path = bare
        refusal = guard_refusal(self.settings, headers, path, scope.get("method", "WEBSOCKET"))
        if refusal is None and scope["type"] == "websocket" and path != EVENTS_IN:
            refusal = 404, {"detail": "Not Found"}
        if refusal is not None:
            status, body = refusal
            if scope["type"] == "websocket":
                await WebSocket(scope, receive, send).send_denial_response(_json(status, body))
                return
            response = _json(status, body)
            if status == 401 and path == "/":  # a browser asks for the credentials
                response.headers["WWW-Authenticate"] = 'Basic realm="poolform"'
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def guard_refusal(settings: dict[str, Any], headers: dict[str, str], path: str, method: str) -> tuple[int, Any] | None:
    """What the guard answers instead of the app (status, body), or None: auth, then the API version.
    ``headers``: the ``authorization`` and ``x-prefect-api-version`` values, by lower-case name."""
    auth = settings.get("auth_string")
    key = settings.get("api_key")
    read_key = settings.get("read_only_api_key")
    read_auth = settings.get("read_only_auth_string")
    if (auth or key) and (path.startswith("/api") or path == "/") and path not in _AUTH_EXEMPT:
        given = headers.get("authorization", "")
        ok = reads_only = False
        if (key or read_key) and given[:7].lower() == "bearer ":
            token = given[7:].strip().encode()
            ok = bool(key) and hmac.compare_digest(token, key.encode())
            reads_only = bool(read_key) and hmac.compare_digest(token, read_key.encode())
        elif (auth or read_auth) and given[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(given[6:].strip(), validate=True).decode("utf-8").encode()
            except (binascii.Error, UnicodeDecodeError, ValueError):
                decoded = b""
            ok = bool(auth) and bool(decoded) and hmac.compare_digest(decoded, auth.encode())
            reads_only = bool(read_auth) and bool(decoded) and hmac.compare_digest(decoded, read_auth.encode())
        if reads_only and not ok:
            if not (method in ("GET", "HEAD") or (method == "POST" and _READS.search(path))):
                return 403, {"detail": "This credential is read-only: it may GET, and POST to .../filter, "
                                       ".../count and .../paginate; use the full credential to change anything."}
        elif not ok:
            return 401, {"exception_message": "Unauthorized"}
    version = headers.get("x-prefect-api-version")
    if version is not None:
        match = _VERSION_RE.match(version.strip())
        if match is None:
            return 400, {"detail": f"Invalid X-PREFECT-API-VERSION header format: {version!r}; expected x.y.z"}
        if tuple(int(p) for p in match.groups()) < (0, 8, 0):
            return 400, {
                "detail": f"The request specified API version {version} but this server requires version 0.8.0 or higher."
            }
    return None


class _App(FastAPI):
    """The FastAPI app with ``bodies.Direct`` in front of its whole stack (``front``, when set): the
    hot requests skip Starlette's and FastAPI's middleware layers and ours (``_Guard`` and
    ``BodyLimit``, whose checks ``Direct`` makes for what it takes), about a tenth of such a
    request's CPU; everything else goes through the stack as before."""

    front: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        front = self.front
        if front is None or scope["type"] != "http":
            await FastAPI.__call__(self, scope, receive, send)
        else:
            await front(scope, receive, send)

    async def stack(self, scope: Any, receive: Any, send: Any) -> None:
        """The app without its front."""
        await FastAPI.__call__(self, scope, receive, send)


def _retryable(exc: Exception) -> bool:
    """A busy or locked database (another process holds the SQLite file, PostgreSQL could not
    order two transactions): the client retries."""
    import sqlite3

    text = str(exc).lower()
    return isinstance(exc, StoreBusy) or (isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text))


async def _drain_events(websocket: WebSocket, state: Any) -> None:
    """Answer the client's first ``{"type": "auth"}`` message, then drop every message until it leaves."""
    answered = False
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if answered:
            continue
        answered = True
        try:
            data = json.loads(message.get("text") or message.get("bytes") or b"")
        except ValueError:
            continue
        if not isinstance(data, dict) or data.get("type") != "auth":
            continue
        secrets = [s for s in (state.auth_string, getattr(state, "api_key", None)) if s]
        token = data.get("token")
        if secrets and not (isinstance(token, str) and any(hmac.compare_digest(token.encode(), s.encode())
                                                            for s in secrets)):
            await websocket.send_text(json.dumps({"type": "auth_failure", "reason": "Invalid token"}))
            await websocket.close(code=1008)
            return
        await websocket.send_text(json.dumps({"type": "auth_success"}))


def hot_routes() -> list[Callable[..., Any]]:
    """The endpoints matched first, in this order (a worker's poll, run creation and states,
    heartbeats, then what an apply sends most). Each keeps its order against every route that
    shares one of its paths, so moving them changes which route answers nothing, not even a 405's
    ``Allow`` (tests/server/test_routing.py)."""
    from reconciler.server.routes import deployments, flow_runs, pools, queues, workers

    return [pools.get_scheduled_flow_runs, deployments.create_deployment_flow_run, flow_runs.set_flow_run_state,
            workers.heartbeat, queues.create_queue, pools.create_work_pool]


def direct_lanes() -> list[Lane]:
    """The requests ``bodies.Direct`` answers without FastAPI's per-request work: a worker's poll and
    run creation from a deployment (the two a fleet sends most), and the pool and queue creates (what
    an apply sends most), each with its route's body model, the handler its route calls and whether
    the body is required. A path here must reach that route in the app too (``hot_routes`` puts them
    before any other route that could take it)."""
    from reconciler.server.routes import deployments, pools, queues
    from reconciler.server.schemas import DeploymentFlowRunCreate, ScheduledRunsBody, WorkPoolCreate, WorkQueueCreate

    uuid = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # canonical only: others go through the app
    return [(re.compile(r"/api/work_pools/([^/]+)/get_scheduled_flow_runs"), ScheduledRunsBody, pools.scheduled_runs, False),
            (re.compile(rf"/api/deployments/({uuid})/create_flow_run"), DeploymentFlowRunCreate,
             deployments.run_of_deployment, False),
            (re.compile(r"/api/work_pools/([^/]+)/queues/?"), WorkQueueCreate, queues.new_queue, True),
            (re.compile(r"/api/work_pools(/?)"), WorkPoolCreate, pools.new_pool, True)]


def _add_routes(app: FastAPI, routers: Sequence[Routes], prefix: str) -> None:
    """The routers' routes as the app's own, under ``prefix``, :func:`hot_routes` first, the others
    in their routers' order. FastAPI keeps included routers nested and matched every request
    against each router's routes through their include contexts (about 3 us a route: a fifth of
    a small request's time for a route at the end of the list); a plain route costs about 1 us.
    Each route is made here, once (``routes.Routes`` only records what its module declares)."""
    declared = [(router.route_class, path, endpoint, options)
                for router in routers for path, endpoint, options in router.declared]
    hot = {endpoint: rank for rank, endpoint in enumerate(hot_routes())}
    for route_class, path, endpoint, options in sorted(declared, key=lambda d: hot.get(d[2], len(hot))):  # stable
        app.router.add_api_route(prefix + path, endpoint, route_class_override=route_class, **options)


def create_app(
    store: Store,
    *,
    clock: Callable[[], datetime] | None = None,
    auth_string: str | None = None,
    api_key: str | None = None,
    read_only_api_key: str | None = None,
    read_only_auth_string: str | None = None,
    max_body_size: int = MAX_BODY_BYTES,
    pending_timeout: float = PENDING_TIMEOUT,
    direct: bool = True,
) -> FastAPI:
    """Build the app serving the Prefect-compatible API under ``/api`` from ``store``.

    ``clock`` (default: the system clock) gives "now" as an aware UTC datetime; tests may
    pass a ``ManualClock`` or replace ``app.state.clock`` later.  ``auth_string``
    ("user:pass") turns on basic auth as Prefect's ``PREFECT_SERVER_API_AUTH_STRING`` does; ``api_key``
    turns on ``Authorization: Bearer KEY`` as Prefect Cloud takes API keys (with both, either is accepted).
    ``read_only_api_key`` / ``read_only_auth_string``, beside one of those, are credentials that only read:
    GET and HEAD, and POST to ``.../filter``, ``.../count`` and ``.../paginate``; anything else gets 403.
    Request bodies over ``max_body_size`` bytes get 413 (``bodies.BodyLimit``). A run PENDING
    for more than ``pending_timeout`` seconds under a worker that stopped heartbeating returns to
    SCHEDULED (``leases``). ``direct`` (default) answers the requests of :func:`direct_lanes` with
    ``bodies.Direct`` in front of the whole stack, the same answers for less work; False sends them
    through FastAPI too.
    """
    from reconciler.server.routes import deployments, flow_runs, misc, page, poolform, pools, queues, status_of, workers

    app = _App(
        title="poolform reference server",
        version=API_VERSION,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
        # no OpenTelemetry here: FastAPI would look for configured providers on every request
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.store = store
    app.state.clock = clock or system_clock
    app.state.auth_string = auth_string
    app.state.api_key = api_key
    if (read_only_api_key or read_only_auth_string) and not (auth_string or api_key):
        raise ValueError("a read-only credential needs auth_string or api_key: without one the API is open anyway")
    app.state.read_only_api_key = read_only_api_key
    app.state.read_only_auth_string = read_only_auth_string
    settings = app.state._state  # app.state's values without State.__getattr__ (see _Guard)
    app.state.ctx = Ctx(store, lambda: settings["clock"](), pending_timeout=pending_timeout)
    app.state.validation_limiters = weakref.WeakKeyDictionary()  # event loop -> its limiter (routes.off_the_loop)
    app.state.turns = weakref.WeakKeyDictionary()  # event loop -> the statements of its turn (routes.written_together)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = []
        for error in exc.errors():
            error = dict(error)
            error.pop("url", None)
            errors.append(error)
        body = exc.body
        if isinstance(body, (bytes, bytearray)):
            body = body.decode("utf-8", "replace")
        return JSONResponse(
            status_code=422,
            content=jsonable_encoder(
                {"exception_message": "Invalid request received.", "exception_detail": errors, "request_body": body}
            ),
        )

    @app.exception_handler(Refusal)
    async def _refusal(request: Request, exc: Refusal) -> Response:
        return _json(status_of(exc), exc.body())

    @app.exception_handler(StoreValueError)
    async def _store_value(request: Request, exc: StoreValueError) -> Response:
        return _json(422, {"detail": str(exc)})

    @app.exception_handler(StoreUnavailable)
    async def _store_unavailable(request: Request, exc: StoreUnavailable) -> Response:
        return _json(503, {"exception_message": "Service Unavailable", "detail": str(exc)})

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        if _retryable(exc):
            response = _json(503, {"exception_message": "Service Unavailable"})
            response.headers["Retry-After"] = "1"
            return response
        return _json(500, {"exception_message": "Internal Server Error"})

    # No path matches routes of two modules (tests/server/test_routing.py): this order, as
    # hot_routes(), only decides how soon a request finds its route.
    _add_routes(app, [m.router for m in (pools, deployments, flow_runs, workers, queues, misc, poolform)], "/api")

    @app.websocket(EVENTS_IN)
    async def _events_in(websocket: WebSocket) -> None:
        await websocket.accept(subprotocol="prefect" if "prefect" in websocket.scope.get("subprotocols", ()) else None)
        try:
            await _drain_events(websocket, app.state)
        except WebSocketDisconnect:
            pass

    _add_routes(app, [page.router], "")  # the status page at "/": outside /api, shadowing no Prefect route

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def _not_found(path: str) -> Response:
        return _json(404, {"detail": "Not Found"})

    app.add_middleware(_Guard, holder=app.state)
    app.add_middleware(BodyLimit, limit=max_body_size)
    if direct:
        app.front = Direct(app.stack, direct_lanes(), app.exception_handlers, owner=app, limit=max_body_size,
                           bare=strip_cloud_prefix,
                           admits=lambda headers, path: guard_refusal(settings, headers, path, "POST") is None)
    return app
