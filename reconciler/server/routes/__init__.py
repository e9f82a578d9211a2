"""HTTP routes of the reference server, one module per resource: each parses the request, calls
one domain function (``reconciler.server.domain``) and maps what it returns — or the refusal it
raises (:func:`status_of`) — to a status code and a body. Must not hold domain rules."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable, get_args, get_type_hints

import anyio
from fastapi import Request
from fastapi.responses import Response
from fastapi.routing import APIRoute, APIRouter
from pydantic import BaseModel
from starlette.routing import compile_path, get_name

from reconciler.server import VALIDATION_THREADS
from reconciler.server.jsontext import json_bytes
from reconciler.server.domain import Ctx
from reconciler.server.domain.pools import pool_template
from reconciler.server.domain.refusals import Conflict, Forbidden, Invalid, NotFound, NotNow, Refusal
from reconciler.template_rules import defaults_problem, defaults_problem_known, is_prepared, prepare

_MAKING = threading.RLock()
_AT_ONCE = ("path", "endpoint", "name", "methods", "path_regex", "path_format", "param_convertors")
"""What routing reads of a route before a request reaches it (Starlette's ``Route.matches`` and
``url_path_for``): a deferred route has these from the start, set as ``APIRoute.__init__`` sets them."""


class _Made:
    """An attribute ``APIRoute.__init__`` sets beyond :data:`_AT_ONCE`: reading it makes the route first."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, route: Any, owner: type | None = None) -> Any:
        if route is None:
            return self
        if "_options" in route.__dict__:
            route._make()  # (while it is being made, in the thread making it: nothing)
        try:
            return route.__dict__[self.name]
        except KeyError:
            raise AttributeError(self.name) from None

    def __set__(self, route: Any, value: Any) -> None:
        route.__dict__[self.name] = value


class _Deferred:
    """A route made by its class (the next in the MRO after this one) when something first reads
    more of it than :data:`_AT_ONCE`: the first request that reaches it (its ``app``), or the OpenAPI
    document. Once made it is an instance of that class and nothing else: no hook left on its path."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        self.__dict__["_options"] = (path, endpoint, options)
        self.path, self.endpoint = path, endpoint
        self.name = get_name(endpoint) if options.get("name") is None else options["name"]
        self.methods = {method.upper() for method in options.get("methods") or ["GET"]}
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)

    def _make(self) -> None:
        """Under a lock: a test's client may serve the app from another thread. A route that fails
        to be made stays deferred (the next request fails the same way)."""
        with _MAKING:
            options = self.__dict__.get("_options")
            if options is None or "_making" in self.__dict__:
                return
            made = type(self).__mro__[2]  # (the deferred class, _Deferred, the route class, ...)
            self.__dict__["_making"] = True
            try:
                _complete_models(options[1])
                made.__init__(self, options[0], options[1], **options[2])
            finally:
                del self.__dict__["_making"]
            del self.__dict__["_options"]
            self.__class__ = made


def _complete_models(endpoint: Callable[..., Any]) -> None:
    """Build the request models ``endpoint`` takes (``schemas``' models wait for their first use:
    ``defer_build``) and let what is built from them be built at once: FastAPI makes the route's
    fields from built models, as it did at start. (A pydantic TypeAdapter takes ``defer_build``
    from its model's config; built later, on the field's first request, pydantic warns about
    FastAPI's ``Body(alias=...)``.)"""
    for hint in get_type_hints(endpoint).values():
        for kind in (hint, *get_args(hint)):
            if isinstance(kind, type) and issubclass(kind, BaseModel) and kind.model_config.get("defer_build"):
                kind.model_config["defer_build"] = False
                kind.model_rebuild()


_DEFERRED: dict[type[APIRoute], type[APIRoute]] = {}


def deferred(route_class: type[APIRoute]) -> type[APIRoute]:
    """``route_class`` made when a request first reaches it, not when the app is built.

    FastAPI makes a route's parameter and body fields when it makes the route (a pydantic
    TypeAdapter each, with its own validator), and with them the body models (``schemas``' wait
    for their first use); of the server's 70 routes a deployment uses a handful. Made at start,
    they and the models were 1.4 MB of the server's resident memory at idle (bench/server_memory.py).
    A route is made once, by the first request that reaches it (about 1 ms more for that request)."""
    if route_class not in _DEFERRED:
        names = {name for cls in route_class.__mro__ for name in getattr(cls, "__annotations__", {})}
        made = {name: _Made() for name in sorted((names | {"app", "form_limits"}) - set(_AT_ONCE))}
        _DEFERRED[route_class] = type(f"Deferred{route_class.__name__}", (_Deferred, route_class), made)
    return _DEFERRED[route_class]


class Routes:
    """A route module's routes as declared (``@router.get(path, **options)``, as on FastAPI's
    ``APIRouter``), made into FastAPI routes only where the app serves them (``app._add_routes``,
    under its prefix): FastAPI builds a route's request models and handler when it makes the route,
    so a module ``APIRouter`` kept a second copy of every route that served nothing (0.5 MB of the
    server's resident memory, tests/test_boundaries.py)."""

    def __init__(self, route_class: type[APIRoute] = APIRoute) -> None:
        self.route_class = deferred(route_class)
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


ALONE_AFTER = 8
"""Batches of one request in a row after which :func:`written_together` stops waiting for others."""
PROBE_EVERY = 16
"""While requests come alone, every this many leads a batch again (and finds whether others come)."""


class _Turn:
    """One event loop's batch of statements (:func:`written_together`): None while no request leads
    one; how many requests in a row were alone."""

    def __init__(self, store: Any) -> None:
        self.store = store  # (not the loop: the loop's entry in a weak mapping holds this)
        self.pending: list[tuple[str, Any, asyncio.Future[int]]] | None = None
        self.alone = 0


async def written_together(request: Request, sql: str, params: Any) -> int:
    """Run ``sql`` as a transaction of its own and give its row count (or raise its error), sent to
    the database (on PostgreSQL in one round trip, ``Store.execute_each``) with the statements of
    the other requests that reach this point in the same turn of the event loop, each still
    committed, or refused, on its own. The first request of a batch leads it: it lets the requests
    ready in this turn run up to here (one more pass of the loop), then sends the batch and
    answers the others' futures. While a batch waits for the database the loop waits too (the
    store is used from it), and the requests that arrive meanwhile make the next batch. After
    :data:`ALONE_AFTER` batches of one in a row (requests come one at a time) a request is sent
    at once, without that pass, but every :data:`PROBE_EVERY`-th still leads a batch, and one
    that others join makes every request lead or join again."""
    loop = asyncio.get_running_loop()
    turns = request.app.state.turns
    turn = turns.get(loop)
    if turn is None:
        with _LIMITERS_LOCK:
            turn = turns.setdefault(loop, _Turn(ctx(request).store))
    if turn.pending is not None:  # a batch is forming: join it
        future: asyncio.Future[int] = loop.create_future()
        turn.pending.append((sql, params, future))
        return await future
    if turn.alone >= ALONE_AFTER and turn.alone % PROBE_EVERY:
        turn.alone += 1
        return turn.store.execute(sql, params)  # type: ignore[no-any-return]
    turn.pending = []
    mine: list[tuple[str, Any]] = [(sql, params)]
    try:
        await asyncio.sleep(0)
    except BaseException:  # cancelled: the others' statements still go
        mine = []
        raise
    finally:
        followers, turn.pending = turn.pending, None
        turn.alone = 0 if followers else turn.alone + 1
        try:
            outcomes = turn.store.execute_each(mine + [(s, p) for s, p, _ in followers])
        except Exception as exc:  # pragma: no cover - execute_each answers each statement's error
            outcomes = [exc] * (len(mine) + len(followers))
        for (_, _, future), outcome in zip(followers, outcomes[len(mine):]):
            if future.cancelled():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
    if isinstance(outcomes[0], BaseException):
        raise outcomes[0]
    return outcomes[0]  # type: ignore[return-value]


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
