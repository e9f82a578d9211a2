"""Helpers for client tests: a PrefectClient over an httpx.MockTransport that records requests."""

from __future__ import annotations

import json
from typing import Any, Callable

import httpx
import pytest

from reconciler.api.client import PrefectClient
from reconciler.settings import ConnectionSettings

API = "http://prefect.test/api"


class Recorder:
    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.raw_path.decode().split('?')[0]}" for r in self.requests]

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests if r.content]


@pytest.fixture
def make_client() -> Callable[..., tuple[PrefectClient, Recorder]]:
    clients: list[PrefectClient] = []

    def build(handler: Callable[[httpx.Request], httpx.Response], **settings: Any) -> tuple[PrefectClient, Recorder]:
        rec = Recorder(handler)
        http = httpx.Client(transport=httpx.MockTransport(rec))
        opts = {"api_url": API, "max_retries": 3, **settings}
        client = PrefectClient(ConnectionSettings(**opts), http=http, sleep=rec.sleeps.append, max_workers=4)
        clients.append(client)
        return client, rec

    yield build
    for c in clients:
        c.close()


def no_csrf(request: httpx.Request) -> httpx.Response | None:
    if request.url.path.endswith("/csrf-token"):
        return httpx.Response(422, json={"detail": "CSRF protection is disabled."})
    return None
