"""A lean keep-alive HTTP/1.1 transport for plain ``http://`` API URLs.

Owns: one socket per thread and host, reused while it is fresh; writing a request and reading its
answer with ``httptools``' response parser (the C parser uvicorn uses); mapping socket faults onto
httpx's exceptions (so ``reconciler.api.client`` handles them as it handles httpx's own). Two
ways in: :meth:`KeepAliveTransport.exchange`, which the client calls directly with the request's
bytes and reads a :class:`Reply` (about 0.15 ms of client CPU a call, where httpx's request and
response objects over ``http.client`` cost about 1 ms and capped an apply at ~150 pools/s on a
small machine), and ``handle_request``, the ``httpx.BaseTransport`` interface for whatever still
goes through an ``httpx.Client`` (a redirect to follow). Must not retry anything but a request
that failed on a reused connection before any answer arrived (the server had closed it), and
hands anything but ``http://`` (an https API URL never reaches it; a redirect to https may) to
httpx's own transport. httpx ignores the environment's proxies when it is given a transport, so the
client does not use this one for a URL the environment sends through a proxy.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import zlib
from typing import Any

import httptools
import httpx

IDLE_REUSE_S = 4.0
"""A connection idle longer than this is replaced before use (uvicorn closes idle ones after 5 s)."""
READ_SIZE = 262_144


class Headers(dict):  # type: ignore[type-arg]
    """Response headers by lower-case name (a repeated header keeps its last value)."""

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)


class Reply:
    """An answer read by :meth:`KeepAliveTransport.exchange`: what the client reads of a response."""

    __slots__ = ("status_code", "headers", "content", "reason_phrase")

    def __init__(self, status_code: int, headers: Headers, content: bytes, reason_phrase: str) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.reason_phrase = reason_phrase

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class _Reader:
    """``httptools.HttpResponseParser`` callbacks: collects one response."""

    __slots__ = ("raw_headers", "body", "done", "reason", "parser", "keep_alive")

    def __init__(self) -> None:
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.done = False
        self.reason = b""
        self.parser: Any = None
        self.keep_alive = False

    def on_headers_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()  # the parser forgets it once the message is complete

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self.raw_headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.done = True


class _Conn:
    __slots__ = ("sock", "used_at", "reused")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.used_at = 0.0
        self.reused = False


class _Stale(Exception):
    """A reused connection the server had closed: nothing of the answer arrived."""


def _decoded(headers: Headers, body: bytes) -> bytes:
    """The body without its content coding (we ask for none, but a server may apply one anyway)."""
    encoding = (headers.get("content-encoding") or "").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompress(body, 16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, -zlib.MAX_WBITS)
    return body


class KeepAliveTransport(httpx.BaseTransport):
    def __init__(self, timeout: float, *, verify: bool = True) -> None:
        self.timeout = timeout
        self.verify = verify
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[socket.socket] = []
        self._fallback: httpx.HTTPTransport | None = None

    # -- the direct way: bytes in, Reply out ---------------------------------------------------

    def exchange(self, method: str, host: str, port: int, target: str, headers: list[tuple[str, str]],
                 body: bytes | None, *, connect_timeout: float | None = None,
                 read_timeout: float | None = None) -> Reply:
        """Send one request (``target`` is the path and query, percent-encoded; ``headers`` without
        Host and Content-Length) and read its answer. Raises httpx's exceptions for socket faults."""
        connect_timeout = self.timeout if connect_timeout is None else connect_timeout
        read_timeout = self.timeout if read_timeout is None else read_timeout
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host if ':' not in host else f'[{host}]'}:{port}"]
        lines.extend(f"{name}: {value}" for name, value in headers)
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
        while True:
            conn = self._connection(host, port, connect_timeout)
            try:
                return self._once(conn, host, port, data, read_timeout)
            except _Stale:
                self._drop(host, port)
                continue

    def _once(self, conn: _Conn, host: str, port: int, data: bytes, read_timeout: float | None) -> Reply:
        reused = conn.reused
        reader = _Reader()
        parser = reader.parser = httptools.HttpResponseParser(reader)
        received = False
        try:
            conn.sock.settimeout(read_timeout)
            conn.sock.sendall(data)
            while not reader.done:
                chunk = conn.sock.recv(READ_SIZE)
                if not chunk:
                    if reused and not received:
                        raise _Stale()
                    if received and parser.get_status_code() and not _framed(reader.raw_headers):
                        break  # an answer delimited by the connection's end
                    raise httpx.RemoteProtocolError("the server closed the connection before answering in full")
                received = True
                parser.feed_data(chunk)
        except (BrokenPipeError, ConnectionResetError) as exc:
            self._drop(host, port)
            if reused and not received:
                raise _Stale() from None
            raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__) from None
        except TimeoutError as exc:
            self._drop(host, port)
            raise httpx.ReadTimeout(str(exc) or "timed out") from None
        except httptools.HttpParserError as exc:
            self._drop(host, port)
            raise httpx.RemoteProtocolError(f"not an HTTP answer: {exc}") from None
        except (_Stale, httpx.HTTPError):
            self._drop(host, port)
            raise
        except OSError as exc:
            self._drop(host, port)
            raise httpx.ReadError(str(exc) or type(exc).__name__) from None
        finally:
            reader.parser = None  # no cycle left for the collector (paused during an apply)
        headers = Headers((name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in reader.raw_headers)
        if not reader.done or not reader.keep_alive:
            self._drop(host, port)
        else:
            conn.used_at = time.monotonic()
            conn.reused = True
        content = b"".join(reader.body)
        if headers.get("content-encoding"):
            content = _decoded(headers, content)
            headers.pop("content-encoding", None)
            headers.pop("content-length", None)
        return Reply(parser.get_status_code(), headers, content, reader.reason.decode("latin-1", "replace"))

    def _connection(self, host: str, port: int, connect_timeout: float | None) -> _Conn:
        conns: dict[tuple[str, int], _Conn] | None = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        conn = conns.get((host, port))
        if conn is not None and time.monotonic() - conn.used_at > IDLE_REUSE_S:
            conn.sock.close()
            conn = None
        if conn is None:
            try:
                sock = socket.create_connection((host, port), timeout=connect_timeout)
            except TimeoutError as exc:
                raise httpx.ConnectTimeout(str(exc) or "timed out") from None
            except OSError as exc:
                raise httpx.ConnectError(str(exc) or type(exc).__name__) from None
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._all.append(sock)
            conn = conns[(host, port)] = _Conn(sock)
        return conn

    def _drop(self, host: str, port: int) -> None:
        conn = getattr(self._local, "conns", {}).pop((host, port), None)
        if conn is not None:
            conn.sock.close()

    # -- the httpx way ----------------------------------------------------------------------------

    def _other(self, request: httpx.Request) -> httpx.Response:
        """Anything but plain http (say, a redirect to https) goes through httpx's own transport."""
        with self._lock:
            if self._fallback is None:
                self._fallback = httpx.HTTPTransport(verify=self.verify)
        return self._fallback.handle_request(request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "http":
            return self._other(request)
        spec: dict[str, Any] = request.extensions.get("timeout") or {}
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
                   if k.lower() not in (b"host", b"content-length", b"transfer-encoding", b"accept-encoding")]
        try:
            reply = self.exchange(request.method, url.host, url.port or 80, url.raw_path.decode("ascii"), headers,
                                  request.read() or None, connect_timeout=spec.get("connect", self.timeout),
                                  read_timeout=spec.get("read", self.timeout))
        except httpx.TransportError as exc:
            exc.request = request
            raise
        return httpx.Response(reply.status_code, headers=list(reply.headers.items()), content=reply.content,
                              extensions={"http_version": b"HTTP/1.1",
                                          "reason_phrase": reply.reason_phrase.encode("latin-1", "replace")})

    def close(self) -> None:
        with self._lock:
            socks, self._all = self._all, []
            fallback, self._fallback = self._fallback, None
        for sock in socks:
            sock.close()
        if fallback is not None:
            fallback.close()


def _framed(raw_headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether the answer says where it ends (Content-Length or chunked), so the connection's end
    before that is a fault, not the end of the body."""
    return any(name.lower() in (b"content-length", b"transfer-encoding") for name, _ in raw_headers)
