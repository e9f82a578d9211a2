"""Routes made by their first request (``routes.deferred``): a deferred route is, once made, the
route FastAPI would have made at start (same class, same attributes), made once even when threads
race for it, and one that cannot be made fails every time it is asked for, not once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.routing import APIRoute

from reconciler.server.app import create_app
from reconciler.server.routes import _AT_ONCE, Routes, deferred
from reconciler.server.store import open_store


def _declared(app_routes: list[Any]) -> list[APIRoute]:
    return [r for r in app_routes if isinstance(r, APIRoute) and "_options" in vars(r)]


def test_a_made_route_is_the_route_fastapi_makes_at_once() -> None:
    app = create_app(open_store(":memory:"))
    routes = _declared(app.routes)
    assert len(routes) > 60  # every declared route waits for its first request
    for route in routes:
        path, endpoint, options = route.__dict__["_options"]
        route_class = type(route).__mro__[2]
        at_once = route_class(path, endpoint, **options)
        # what routing reads before making it is what APIRoute sets
        assert {name: getattr(route, name) for name in _AT_ONCE} == {name: getattr(at_once, name) for name in _AT_ONCE}
        # every other attribute the route class sets is one that makes the route when read
        assert set(vars(at_once)) - set(_AT_ONCE) <= set(vars(type(route))), route.path
        route.dependant  # noqa: B018  (reading it makes the route)
        assert type(route) is route_class
        assert set(vars(route)) == set(vars(at_once)), route.path
        assert route.unique_id == at_once.unique_id
        assert (route.body_field is None) == (at_once.body_field is None)


def test_threads_racing_for_a_route_make_it_once() -> None:
    app = create_app(open_store(":memory:"))
    route = next(r for r in _declared(app.routes) if r.path == "/api/work_pools/filter")
    start, seen, errors = threading.Barrier(8), [], []

    def read() -> None:
        start.wait()
        try:
            seen.append(route.app)
        except Exception as exc:  # an attribute missing while another thread makes the route
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({id(app) for app in seen}) == 1


def test_a_route_that_cannot_be_made_fails_each_time() -> None:
    routes = Routes()

    @routes.get("/things/{thing}")
    async def thing(thing: dict) -> None:  # a path parameter FastAPI cannot take
        return None

    route = deferred(APIRoute)("/things/{thing}", thing, **routes.declared[0][2])
    for _ in range(2):
        with pytest.raises(AssertionError):
            route.app  # noqa: B018
    assert "_options" in vars(route)
