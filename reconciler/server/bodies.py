"""How the server reads a request body: at most ``max_body_size`` bytes (``BodyLimit``) and
strict JSON (``parse_json``), through the route class ``StrictJsonRoute`` every router uses, or,
for the hottest requests, ``Direct`` (the same reading without FastAPI's per-request machinery).

Strict means what ``json.loads`` lets through and a Prefect-compatible store or client cannot
round-trip is refused as a JSON decode error (422 in Prefect's validation shape, the offending
character's offset in ``loc``): ``NaN``, ``Infinity`` and numbers too large for a float, a lone
UTF-16 surrogate escape (``"\\ud800"``), invalid UTF-8, and arrays/objects nested more than
``MAX_DEPTH`` deep.  The checks cost a fraction of ``json.loads`` (hooks, a breadth-first walk of
the containers); the token-by-token scan that says where the problem is runs only once a problem is known.
This module must not import the rest of the package.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Awaitable, Callable, Coroutine, Mapping, Optional, Sequence

from fastapi import HTTPException
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from reconciler.server import MAX_BODY_BYTES, MAX_DEPTH

__all__ = ["MAX_BODY_BYTES", "MAX_DEPTH", "BodyLimit", "Direct", "Lane", "StrictJsonRoute", "parse_json"]

_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_TOKEN_RE = re.compile(_STRING + r"|[\[\]{}]|-?Infinity|NaN|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_SURROGATE_ESCAPE_RE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE_RE = re.compile("[\ud800-\udfff]")


class _Refused(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _Refused(name)


def _finite_float(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise _Refused(literal)
    return number


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)
"""``json.loads`` with the hooks builds this decoder (and its scanner) for every body."""


def _decode(raw: bytes | str) -> str:
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode(json.detect_encoding(raw))
    except UnicodeDecodeError as exc:
        text = raw.decode("utf-8", "replace")
        raise json.JSONDecodeError(f"the body is not valid UTF-8 ({exc.reason} at byte {exc.start})", text, exc.start) from None


def _nests_deeper(value: Any, limit: int) -> bool:
    """Whether ``value`` has arrays/objects more than ``limit`` levels deep (breadth first, no recursion)."""
    level = [value]
    for _ in range(limit):
        level = [
            item
            for container in level
            for item in (container.values() if isinstance(container, dict) else container)
            if isinstance(item, (dict, list))
        ]
        if not level:
            return False
    return True


def _has_lone_surrogate(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _problem(text: str) -> json.JSONDecodeError:
    """The decode error for the first thing in ``text`` (valid JSON syntax up to there) that strict JSON refuses."""
    depth = 0
    for match in _TOKEN_RE.finditer(text):
        token = match.group()
        first = token[0]
        if first == '"':
            if _SURROGATE_ESCAPE_RE.search(token) and _LONE_SURROGATE_RE.search(json.loads(token)):
                problem = "a lone UTF-16 surrogate (\\ud800-\\udfff without its pair) is not a character; remove it"
                return json.JSONDecodeError(problem, text, match.start())
        elif first in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return json.JSONDecodeError(f"arrays and objects nest deeper than {MAX_DEPTH} levels, the server's limit", text, match.start())
        elif first in "]}":
            depth -= 1
        elif token.endswith(("NaN", "Infinity")):
            return json.JSONDecodeError(f"{token} is not a JSON number; send a finite number or null", text, match.start())
        elif not token.lstrip("-").isdigit() and not math.isfinite(float(token)):
            shown = token if len(token) <= 40 else token[:20] + "..." + token[-10:]
            return json.JSONDecodeError(f"{shown} is too large for a number; send a finite number or null", text, match.start())
    return json.JSONDecodeError("the body cannot be read as strict JSON", text, 0)  # pragma: no cover - callers know a problem exists


def parse_json(raw: bytes | str) -> Any:
    """``json.loads`` for request bodies, raising ``json.JSONDecodeError`` for what it lets through
    but strict JSON refuses (see the module docstring)."""
    text = _decode(raw)
    try:
        if text.startswith("\ufeff"):  # what json.loads says (its decoder itself does not look)
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        value = _DECODER.decode(text)
    except (_Refused, RecursionError):
        raise _problem(text) from None
    deep = text.count("[") + text.count("{") > MAX_DEPTH and _nests_deeper(value, MAX_DEPTH)
    if deep or (_SURROGATE_ESCAPE_RE.search(text) and _has_lone_surrogate(value)):
        raise _problem(text)
    return value


class StrictJsonRequest(Request):
    """A request whose ``.json()`` is ``parse_json``."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """An API route that reads its JSON body with ``parse_json`` (FastAPI turns the decode error into
    the 422 ``json_invalid`` answer Prefect gives)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict


def _too_large(limit: int) -> str:
    return (f"The request body is larger than the server's limit of {limit} bytes "
            "(poolform server start --max-body-size); send less in one request.")


class BodyLimit:
    """ASGI middleware: HTTP request bodies of more than ``limit`` bytes get 413 before they are read
    whole.  A declared ``Content-Length`` over the limit is refused before any byte is read; a chunked
    or under-declared body is counted as it arrives and refused at the first chunk that passes the
    limit (``HTTPException`` 413, which FastAPI hands to the app's handler)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = [v for k, v in scope.get("headers", ()) if k.lower() == b"content-length"]
        if any(v.strip().isdigit() and int(v) > self.limit for v in declared):
            await JSONResponse({"detail": _too_large(self.limit)}, status_code=413)(scope, receive, send)
            return
        seen = 0

        async def counted() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, _too_large(self.limit))
            return message

        await self.app(scope, counted, send)


Lane = tuple["re.Pattern[str]", type[BaseModel], Callable[[Request, str, Optional[BaseModel]], Awaitable[Response]], bool]
"""(path pattern with one group, body model, handler(request, the group, the body or None), whether
the body is required: an empty one then goes on to the app, which words the 422)."""


class Direct:
    """The app's front (it sees every request first, ahead of FastAPI's middleware stack): a few hot
    POST endpoints (a worker's poll, run creation from a deployment, the pool and queue creates of
    an apply) answered without FastAPI's per-request work (the middleware layers, dependency
    solving, its content-type parsing, a second request object, the router's walk), about a third
    of the server's CPU for such a request. It takes only a request it can answer exactly as the app
    would: a ``lanes`` path (``fullmatch`` of the whole path once ``bare`` has taken any prefix the
    app's guard takes off, no ``root_path``), ``Content-Type: application/json``, a declared
    ``Content-Length`` of at most ``limit`` bytes (``BodyLimit``'s), headers the guard lets through
    (``admits(headers, path)``: the ``authorization`` and ``x-prefect-api-version`` values, a
    repeated one's last), a body ``parse_json`` reads and the lane's model validates (empty: None,
    as FastAPI gives an optional body, unless the lane requires one).
    Anything else, a bad body
    included, goes on to the app (``app``: the whole stack) with the body replayed, so every error
    keeps FastAPI's shape. What the handler raises is answered by the app's exception ``handlers``
    (by the exception's classes, as Starlette looks them up); anything else as Starlette's
    ``ServerErrorMiddleware`` does: the ``Exception`` handler's answer, then the exception raised on."""

    def __init__(self, app: Any, lanes: Sequence[Lane], handlers: Mapping[Any, Any], *, owner: Any = None,
                 limit: int = MAX_BODY_BYTES, bare: Callable[[str], str] = lambda path: path,
                 admits: Callable[[dict[str, str], str], bool] = lambda headers, path: True) -> None:
        self.app = app
        self.lanes = list(lanes)
        self.handlers = {k: v for k, v in handlers.items() if isinstance(k, type) and k is not Exception}
        self.last_resort = handlers.get(Exception)
        self.owner = owner
        self.limit = limit
        self.bare = bare
        self.admits = admits

    def _handler(self, exc: BaseException) -> Any:
        return next((self.handlers[c] for c in type(exc).__mro__ if c in self.handlers), None)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        path = self.bare(scope["path"])
        for pattern, model, handler, required in self.lanes:
            match = pattern.fullmatch(path)
            if match is not None:
                break
        else:
            await self.app(scope, receive, send)
            return
        length = kind = None
        guarded: dict[str, str] = {}
        for key, value in scope["headers"]:
            if key == b"content-length":
                length = value
            elif key == b"content-type":
                kind = value
            elif key == b"authorization" or key == b"x-prefect-api-version":
                guarded[key.decode("latin-1")] = value.decode("latin-1")
        if (kind is None or length is None or kind.lower() != b"application/json" or not length.isdigit()
                or int(length) > self.limit or not self.admits(guarded, path)):
            await self.app(scope, receive, send)
            return
        if path != scope["path"]:
            scope = dict(scope, path=path, raw_path=path.encode("utf-8"))
        if self.owner is not None:
            scope["app"] = self.owner
        messages: list[dict[str, Any]] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.limit or not message.get("more_body"):
                break
        request = StrictJsonRequest(scope, _replay(messages, receive))
        raw = b"".join(m.get("body", b"") for m in messages)
        try:
            if messages[-1]["type"] != "http.request" or messages[-1].get("more_body"):
                raise ValueError("the client went away, or sent more than the limit")
            if required and not raw:
                raise ValueError("no body")
            body = model.model_validate(parse_json(raw), from_attributes=True) if raw else None
        except ValueError:  # a decode error or a pydantic ValidationError: the app words it
            await self.app(scope, request.receive, send)
            return
        try:
            response = await handler(request, match.group(1), body)
        except Exception as exc:
            answer = self._handler(exc)
            if answer is None:
                if self.last_resort is None:
                    raise
                response = await self.last_resort(request, exc)
                await response(scope, request.receive, send)
                raise
            response = await answer(request, exc)
        await response(scope, request.receive, send)


def _replay(messages: list[dict[str, Any]], receive: Any) -> Callable[[], Awaitable[dict[str, Any]]]:
    """A ``receive`` that gives ``messages`` (filled by the caller) once, then the real ``receive``'s."""
    given = 0

    async def replay() -> dict[str, Any]:
        nonlocal given
        if given < len(messages):
            given += 1
            return messages[given - 1]
        return await receive()

    return replay
