"""The server's routes are the app's own (``app._add_routes``) in an order chosen for speed; that
order must not change which route answers: no request path matches routes of two route modules."""

from __future__ import annotations

import importlib
import pkgutil
import re
import uuid

from fastapi.routing import APIRoute

import reconciler.server.routes as routes
from reconciler.server.app import create_app
from reconciler.server.store import open_store


def _modules() -> dict[str, list[APIRoute]]:
    return {info.name: list(importlib.import_module(f"{routes.__name__}.{info.name}").router.routes)
            for info in pkgutil.iter_modules(routes.__path__)}


def _sample(path: str, value: str) -> str:
    return re.sub(r"\{[^}:]+\}", value, re.sub(r"\{[^}:]+:uuid\}", str(uuid.UUID(int=1)), path))


def test_no_path_matches_routes_of_two_modules():
    modules = _modules()
    assert len(modules) >= 6
    clashes = []
    for name, own in modules.items():
        for route in own:
            for value in ("x", "filter", "count", "name", str(uuid.UUID(int=2))):
                path = _sample(route.path, value)
                for other, theirs in modules.items():
                    if other != name:
                        clashes += [(name, route.path, other, r.path) for r in theirs if r.path_regex.match(path)]
    assert clashes == []


OUTSIDE_API = {"page": ""}
"""Route modules served outside ``/api``: the status page at ``/``."""


def test_every_route_is_served_under_api_once():
    """As its module declares it, route class included (the strict JSON reader); the status page at ``/``."""
    app = create_app(open_store(":memory:"))
    served = [(r.path, tuple(sorted(r.methods)), type(r).__name__) for r in app.routes if isinstance(r, APIRoute)]
    expected = [(OUTSIDE_API.get(name, "/api") + r.path, tuple(sorted(r.methods)), type(r).__name__)
                for name, own in _modules().items() for r in own]
    assert sorted(p for p in served if p[0] != "/{path:path}") == sorted(expected)


def test_moving_hot_routes_changes_no_answer():
    """The routes moved to the front (``app.hot_routes``) keep their order against every route that
    matches one of their paths (whatever the method), so no request, not even one answered 405, is
    answered by another route than in the modules' own order."""
    from reconciler.server.app import hot_routes

    hot = [endpoint.__name__ for endpoint in hot_routes()]
    app = create_app(open_store(":memory:"))
    served = [r for r in app.routes if isinstance(r, APIRoute) and r.path != "/{path:path}"]
    names = [r.name for r in served]
    first_cold = next(i for i, n in enumerate(names) if n not in hot)
    assert list(dict.fromkeys(names[:first_cold])) == list(hot)
    assert not set(names[first_cold:]) & set(hot)
    declared = [("/api" + r.path, r.name) for own in _modules().values() for r in own]
    position = {(r.path, r.name): i for i, r in enumerate(served)}
    moved = 0
    for i, (path, name) in enumerate(declared):
        if name not in hot:
            continue
        for value in ("x", "filter", "count", "name", "queues", "heartbeat", str(uuid.UUID(int=2))):
            sample = _sample(path, value)
            for j, (other_path, other) in enumerate(declared):
                if other != name and re.fullmatch(_regex(other_path), sample):
                    moved += 1
                    assert (position[(path, name)] < position[(other_path, other)]) == (i < j), (name, other, sample)
    assert moved, "no hot route shares a path with another: the check is vacuous"


def _regex(path: str) -> str:
    return re.sub(r"\{[^}:]+:uuid\}", "[0-9a-f-]{36}", re.sub(r"\{[^}:]+\}", "[^/]+", path))
