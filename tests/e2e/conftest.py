"""End-to-end fixtures: the reference server (in process or over a socket) or a real Prefect server.

``env`` runs each test against the reference server in process and over a
socket (``serve_in_thread``, one server per test session); when
POOLFORM_TEST_API_URL is set, also against that (real Prefect) server, marked
``compat``. Pool names carry a per-test prefix, and on a real server every pool
with that prefix is deleted afterwards. ``env.cli(...)`` runs ``poolform`` with
CliRunner, talking to the same server.
"""

from __future__ import annotations

import os
import re
import textwrap
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest
from click.testing import CliRunner, Result

from reconciler.api.client import PrefectClient
from reconciler.cli import _common
from reconciler.cli.main import cli
from reconciler.settings import ConnectionSettings

REAL_URL = os.environ.get("POOLFORM_TEST_API_URL", "").rstrip("/")
IN_PROCESS_URL = "http://testserver/api"

ENV_PARAMS = [pytest.param("inprocess", id="inprocess"), pytest.param("socket", id="socket")]
if REAL_URL:
    ENV_PARAMS.append(pytest.param("prefect", id="prefect", marks=pytest.mark.compat))


class Faults(httpx.BaseTransport):
    """Wraps a transport; answers ``status`` instead of forwarding the n-th request matching ``match``."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.rules: list[dict[str, Any]] = []
        self.seen: list[str] = []

    def fail(self, match: Callable[[httpx.Request], bool], *, nth: int = 1, status: int = 500,
             times: int = 1, headers: dict[str, str] | None = None) -> None:
        self.rules.append({"match": match, "nth": nth, "count": 0, "status": status, "left": times,
                           "headers": headers or {}})

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(f"{request.method} {request.url.path}")
        for rule in self.rules:
            if rule["left"] and rule["match"](request):
                rule["count"] += 1
                if rule["count"] >= rule["nth"]:
                    rule["left"] -= 1
                    request.read()
                    return httpx.Response(rule["status"], json={"exception_message": "injected failure"},
                                          headers=rule["headers"], request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@dataclass
class Env:
    kind: str
    api_url: str
    prefix: str
    tmp: Path
    faults: Faults
    _http: httpx.Client
    _clients: list[PrefectClient] = field(default_factory=list)

    def name(self, base: str) -> str:
        return f"{self.prefix}{base}"

    def client(self, **kw: Any) -> PrefectClient:
        c = PrefectClient(ConnectionSettings(api_url=self.api_url, max_retries=2), http=self._http, **kw)
        self._clients.append(c)
        return c

    def write(self, filename: str, text: str) -> str:
        """Write a config file; ``{p}`` in the text becomes this test's pool-name prefix."""
        path = self.tmp / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).replace("{p}", self.prefix), encoding="utf-8")
        return str(path)

    def cli(self, *args: str, input: str | None = None, tty: bool = False, env: dict[str, str] | None = None,
            inject: bool = True, add_url: bool = True) -> Result:
        """Run poolform; ``inject=False`` lets the CLI build its own network client (socket servers only)."""
        old_factory, old_tty = _common.CLIENT_FACTORY, _common.STDIN_IS_TTY
        _common.CLIENT_FACTORY = (lambda settings: PrefectClient(settings, http=self._http)) if inject else None
        _common.STDIN_IS_TTY = lambda: tty
        try:
            runner = CliRunner()
            full = list(args)
            if add_url and args and args[0] in ("plan", "apply", "import", "render") and "--api-url" not in args:
                full += ["--api-url", self.api_url]
            base_env = {"CI": "", "POOLFORM_IN_AUTOMATION": "", "NO_COLOR": "1"}
            return runner.invoke(cli, full, input=input, env={**base_env, **(env or {})}, catch_exceptions=True)
        finally:
            _common.CLIENT_FACTORY, _common.STDIN_IS_TTY = old_factory, old_tty

    def pools(self) -> dict[str, dict[str, Any]]:
        """This test's pools on the server, with ``queues`` as {name: row}."""
        c = self.client()
        out = {}
        for row in c.read_pools():
            if row["name"].startswith(self.prefix):
                row = dict(row)
                row["queues"] = {q["name"]: q for q in c.read_queues(row["name"])}
                out[row["name"]] = row
        return out

    def cleanup(self) -> None:
        c = self.client()
        for row in c.read_pools():
            if row["name"].startswith(self.prefix):
                try:
                    c.delete_pool(row["name"])
                except Exception:  # noqa: BLE001 - best effort on a shared server
                    pass
        for cl in self._clients:
            cl.close()


def squash(text: str) -> str:
    """Runs of spaces as one (the human view aligns ``=`` per block)."""
    return re.sub(r" +", " ", text)


def assert_ok(result: Result, code: int = 0) -> str:
    text = result.output
    assert "Traceback" not in text, text
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == code, f"exit {result.exit_code} (wanted {code}):\n{text}\n{result.exception!r}"
    return text


def _reference_http() -> tuple[httpx.Client, Faults]:
    from fastapi.testclient import TestClient

    from reconciler.server.app import create_app
    from reconciler.server.store import open_store

    tc = TestClient(create_app(open_store(":memory:")))
    faults = Faults(tc._transport)
    tc._transport = faults
    return tc, faults


@pytest.fixture(params=ENV_PARAMS)
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    prefix = f"e2e-{uuid.uuid4().hex[:8]}-"
    if request.param in ("prefect", "socket"):
        url = REAL_URL if request.param == "prefect" else request.getfixturevalue("socket_server").api_url
        faults = Faults(httpx.HTTPTransport())
        http = httpx.Client(transport=faults, timeout=60, follow_redirects=True)
        e = Env(request.param, url, prefix, tmp_path, faults, http)
    else:
        http, faults = _reference_http()
        e = Env("inprocess", IN_PROCESS_URL, prefix, tmp_path, faults, http)
    try:
        yield e
    finally:
        if e.kind in ("prefect", "socket"):
            e.cleanup()
        else:
            for cl in e._clients:
                cl.close()
        http.close()


@pytest.fixture
def ref_env(tmp_path: Path) -> Iterator[Env]:
    """The reference server in process only (tests that need its internals or are not about compatibility)."""
    http, faults = _reference_http()
    e = Env("inprocess", IN_PROCESS_URL, "r-", tmp_path, faults, http)
    yield e
    http.close()


@pytest.fixture(scope="session")
def socket_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from reconciler.server.runner import serve_in_thread

    handle = serve_in_thread(str(tmp_path_factory.mktemp("srv") / "server.db"))
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def socket_env(socket_server: Any, tmp_path: Path) -> Iterator[Env]:
    """The reference server over a real socket; CLI calls go through a real network client."""
    faults = Faults(httpx.HTTPTransport())
    http = httpx.Client(transport=faults, timeout=30)
    e = Env("socket", socket_server.api_url, f"s{uuid.uuid4().hex[:6]}-", tmp_path, faults, http)
    yield e
    e.cleanup()
    http.close()
