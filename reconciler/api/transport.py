"""A lean keep-alive HTTP/1.1 transport for plain ``http://`` API URLs.

Owns: sending an ``httpx.Request`` over one ``http.client`` connection per thread and
host, reusing it while it is fresh, and mapping socket faults onto httpx's exceptions
(so ``reconciler.api.client`` handles them as it handles httpx's own). httpcore's
connection pool and h11 cost about 0.3 ms of client CPU per call, which caps an apply
at a few hundred calls per second on a small machine; this transport roughly halves it.
Must not retry anything but a request that failed on a reused connection before any
answer arrived (the server had closed it), and hands anything but ``http://`` (an https API
URL never reaches it; a redirect to https may) to httpx's own transport. httpx ignores the
environment's proxies when it is given a transport, so the client does not use this one for a
URL the environment sends through a proxy.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from typing import Any

import httpx

IDLE_REUSE_S = 4.0
"""A connection idle longer than this is replaced before use (uvicorn closes idle ones after 5 s)."""


class _Conn:
    __slots__ = ("http", "used_at", "reused")

    def __init__(self, conn: http.client.HTTPConnection) -> None:
        self.http = conn
        self.used_at = 0.0
        self.reused = False


class KeepAliveTransport(httpx.BaseTransport):
    def __init__(self, timeout: float, *, verify: bool = True) -> None:
        self.timeout = timeout
        self.verify = verify
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[http.client.HTTPConnection] = []
        self._fallback: httpx.HTTPTransport | None = None

    def _other(self, request: httpx.Request) -> httpx.Response:
        """Anything but plain http (say, a redirect to https) goes through httpx's own transport."""
        with self._lock:
            if self._fallback is None:
                self._fallback = httpx.HTTPTransport(verify=self.verify)
        return self._fallback.handle_request(request)

    def _timeouts(self, request: httpx.Request) -> tuple[float | None, float | None]:
        spec: dict[str, Any] = request.extensions.get("timeout") or {}
        return spec.get("connect", self.timeout), spec.get("read", self.timeout)

    def _connection(self, host: str, port: int, connect_timeout: float | None) -> _Conn:
        conns: dict[tuple[str, int], _Conn] | None = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        conn = conns.get((host, port))
        if conn is not None and time.monotonic() - conn.used_at > IDLE_REUSE_S:
            conn.http.close()
            conn = None
        if conn is None:
            raw = http.client.HTTPConnection(host, port, timeout=connect_timeout)
            with self._lock:
                self._all.append(raw)
            conn = conns[(host, port)] = _Conn(raw)
        return conn

    def _drop(self, host: str, port: int) -> None:
        conn = self._local.conns.pop((host, port), None)
        if conn is not None:
            conn.http.close()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "http":
            return self._other(request)
        host, port = url.host, url.port or 80
        target = url.raw_path.decode("ascii")
        body = request.read() or None
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        connect_timeout, read_timeout = self._timeouts(request)
        while True:
            conn = self._connection(host, port, connect_timeout)
            reused = conn.reused
            try:
                if conn.http.sock is None:
                    conn.http.connect()
                conn.http.sock.settimeout(read_timeout)
                conn.http.putrequest(request.method, target, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    conn.http.putheader(name, value)
                conn.http.endheaders(body)
                response = conn.http.getresponse()
                content = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop(host, port)
                if reused:
                    continue
                raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__, request=request) from None
            except TimeoutError as exc:
                connected = conn.http.sock is not None
                self._drop(host, port)
                cls = httpx.ReadTimeout if connected else httpx.ConnectTimeout
                raise cls(str(exc) or "timed out", request=request) from None
            except (ConnectionRefusedError, socket.gaierror) as exc:
                self._drop(host, port)
                raise httpx.ConnectError(str(exc), request=request) from None
            except (http.client.HTTPException, OSError) as exc:
                connected = conn.http.sock is not None
                self._drop(host, port)
                cls = httpx.ReadError if connected else httpx.ConnectError
                raise cls(str(exc) or type(exc).__name__, request=request) from None
            break
        if response.will_close:
            self._drop(host, port)
        else:
            conn.used_at = time.monotonic()
            conn.reused = True
        return httpx.Response(response.status, headers=response.getheaders(), content=content,
                              extensions={"http_version": b"HTTP/1.1", "reason_phrase": response.reason.encode("latin-1", "replace")})

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
            fallback, self._fallback = self._fallback, None
        for conn in conns:
            conn.close()
        if fallback is not None:
            fallback.close()
