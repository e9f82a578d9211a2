"""KeepAliveTransport over a real socket: reuse, a server-closed connection, faults mapped for the client."""

from __future__ import annotations

import gzip
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import httpx
import pytest

from reconciler.api.client import PrefectClient
from reconciler.api.transport import KeepAliveTransport
from reconciler.errors import NotFound, TransportError
from reconciler.settings import ConnectionSettings


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0
        self.close_after_next = False
        self.delay = 0.0
        self.requests: list[tuple[str, str, bytes]] = []

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up first (the timeout test) closed the connection before the answer:
        expected here, not a traceback on the test run's output."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append((self.command, self.path, body))
        time.sleep(self.server.delay)
        if self._odd(body):
            return
        if self.path.endswith("/missing") or self.path.endswith("/csrf-token"):
            payload, status = json.dumps({"detail": "Work pool \"missing\" not found."}).encode(), 404
        else:
            payload, status = json.dumps({"echo": json.loads(body) if body else None, "path": self.path}).encode(), 200
        gz = "gzip" in (self.headers.get("Accept-Encoding") or "")
        if gz:
            payload = gzip.compress(payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if gz:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        if self.server.close_after_next:
            self.server.close_after_next = False
            self.close_connection = True

    def _odd(self, body: bytes) -> bool:
        """Answers a server may give that the client must read all the same."""
        payload = json.dumps({"echo": json.loads(body) if body else None, "path": self.path}).encode()
        if self.path.endswith("/moved"):  # a redirect, followed (through httpx)
            self.send_response(307)
            self.send_header("Location", self.path[:-len("/moved")] + "/here")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path.endswith("/gzip-anyway"):  # a content coding nobody asked for
            payload = gzip.compress(payload)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        elif self.path.endswith("/chunked"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (payload[:5], payload[5:]):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path.endswith("/until-close"):  # no length: the body ends with the connection
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
            self.close_connection = True
        else:
            return False
        return True

    do_GET = do_POST = do_PATCH = do_DELETE = _answer


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _client(url: str, **settings: object) -> PrefectClient:
    return PrefectClient(ConnectionSettings(api_url=url, **settings), max_workers=4)  # type: ignore[arg-type]


def _url(srv: _Server) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}/api"


def test_plain_http_uses_the_keep_alive_transport_and_reuses_one_connection(server):
    client = _client(_url(server))
    try:
        assert isinstance(client.http._transport, KeepAliveTransport)
        for i in range(5):
            answer = client.request("POST", "/work_pools/filter", json={"offset": i})
            assert answer == {"echo": {"offset": i}, "path": "/api/work_pools/filter"}
        assert client.request("GET", "/work_pools/a%20b") == {"echo": None, "path": "/api/work_pools/a%20b"}
        assert server.connections == 1
    finally:
        client.close()


def test_a_connection_the_server_closed_is_replaced_without_an_error(server):
    client = _client(_url(server), max_retries=0)
    try:
        client.request("GET", "/one")
        server.close_after_next = True
        client.request("GET", "/two")
        time.sleep(0.05)
        assert client.request("PATCH", "/three", json={"x": 1})["echo"] == {"x": 1}
        assert [r[1] for r in server.requests if "csrf" not in r[1]] == ["/api/one", "/api/two", "/api/three"]
    finally:
        client.close()


def test_error_statuses_still_map_to_api_errors(server):
    client = _client(_url(server))
    try:
        with pytest.raises(NotFound):
            client.request("GET", "/work_pools/missing")
        assert client.read_pool("missing") is None
    finally:
        client.close()


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://127.0.0.1:{free}/api", "cannot reach the Prefect API at http://127.0.0.1:{free}/api: connection refused"),
        ("http://no-such-host.invalid/api", "cannot reach the Prefect API at http://no-such-host.invalid/api: unknown host"),
    ],
    ids=["refused", "unknown-host"],
)
def test_unreachable_servers_are_one_clear_line(url, message, refused_port):
    free = refused_port
    client = _client(url.format(free=free))
    try:
        with pytest.raises(TransportError) as info:
            client.request("GET", "/health")
        assert str(info.value).startswith(message.format(free=free))
    finally:
        client.close()


def test_a_slow_answer_is_a_timeout_after_retries(server):
    server.delay = 0.5
    client = _client(_url(server), timeout=0.1, max_retries=1)
    client._sleep = lambda s: None
    try:
        with pytest.raises(TransportError, match="no answer within 0.1s"):
            client.request("GET", "/slow")
        # the server's thread records a request once it has read it, which on a loaded machine can
        # come after the client gave up on it: wait for the record, then count
        deadline = time.monotonic() + 5
        while len(server.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)
        assert len(server.requests) == 2
    finally:
        client.close()


def test_other_schemes_go_through_httpx_own_transport(refused_port):
    transport = KeepAliveTransport(1.0)
    try:
        request = httpx.Request("GET", f"https://127.0.0.1:{refused_port}/api/health")
        with pytest.raises(httpx.ConnectError):
            transport.handle_request(request)
        assert transport._fallback is not None
    finally:
        transport.close()


def test_a_proxied_environment_keeps_httpx_transport(monkeypatch):
    """httpx ignores HTTP_PROXY when given a transport, so the client must not use the lean one then."""
    from reconciler.api.client import PrefectClient
    from reconciler.api.transport import KeepAliveTransport
    from reconciler.settings import ConnectionSettings

    settings = ConnectionSettings.from_env("http://pools.internal:4200/api", environ={})
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    direct = PrefectClient(settings)
    assert isinstance(direct.http._transport, KeepAliveTransport)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    proxied = PrefectClient(settings)
    assert not isinstance(proxied.http._transport, KeepAliveTransport)
    assert proxied.http._mounts, "httpx should mount the environment's proxy"
    monkeypatch.setenv("NO_PROXY", "pools.internal")
    bypassed = PrefectClient(settings)
    assert isinstance(bypassed.http._transport, KeepAliveTransport)


@pytest.mark.parametrize("ending", ["gzip-anyway", "chunked", "until-close", "moved"])
def test_answers_in_every_framing_are_read_whole(server, ending):
    """Read straight from the socket (the client's direct path): a body with a content coding the
    client did not ask for, a chunked one, one that ends with the connection, and a redirect (which
    httpx follows); the connection is reused after each whenever the server keeps it."""
    client = _client(_url(server))
    try:
        for i in range(2):
            answer = client.request("POST", f"/work_pools/{i}/{ending}", json={"n": i, "name": "ü"})
            expected = f"/api/work_pools/{i}/{'here' if ending == 'moved' else ending}"
            assert answer == {"echo": {"n": i, "name": "ü"}, "path": expected}
        assert server.connections == (2 if ending == "until-close" else 1)
    finally:
        client.close()
