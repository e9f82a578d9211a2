"""gRPC over HTTP/2 and TLS for the provider's calls, without grpcio: unary and server-streaming
methods, as Terraform's plugin client (grpc-go) speaks them.

Owns the connections of a listening socket: TLS (``ssl``, ALPN ``h2``; when the client's
certificate is given, as go-plugin's AutoMTLS does in ``PLUGIN_CLIENT_CERT``, a client without it
is refused in the TLS handshake), HTTP/2 (the ``h2`` state machine, with flow control both ways),
gRPC's length-prefixed messages and its ``grpc-status``/``grpc-message`` trailers, the errors
grpcio answered (an unknown method is UNIMPLEMENTED, a handler's exception UNKNOWN, a request that
does not parse INTERNAL). Each connection has one thread that alone touches its TLS and HTTP/2
state; the calls run on a pool of worker threads (Terraform sends up to ``-parallelism`` at once)
and hand their answers back through a pipe that wakes the connection's thread.

Knows nothing of tfplugin6: ``lookup`` maps a method's path to how to parse its request and what
to call (``server``). Must not import grpc.
"""

from __future__ import annotations

import os
import select
import socket
import ssl
import sys
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, NamedTuple

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

# gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html) that this server answers.
OK = 0
UNKNOWN = 2
RESOURCE_EXHAUSTED = 8
UNIMPLEMENTED = 12
INTERNAL = 13

MAX_MESSAGE = 256 << 20
"""The largest request message taken (terraform-plugin-go's servers allow 256 MiB, grpcio 4 MiB)."""

_WINDOW = 1 << 20
"""What a client may send before it waits for our WINDOW_UPDATE, per stream and on the connection."""


class Method(NamedTuple):
    """How to serve one method: ``parse`` the request's bytes, ``call`` it; ``streaming``: the
    call returns an iterable of response messages instead of one."""

    parse: Callable[[bytes], Any]
    call: Callable[[Any], Any]
    streaming: bool = False


class Status(Exception):
    """A call's non-OK end, raised by a handler: the gRPC code and message the client receives."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


Lookup = Callable[[str], "Method | None"]


def tls_context(cert_pem: bytes, key_pem: bytes, client_cert_pem: str | None) -> ssl.SSLContext:
    """The server's TLS: our certificate and key (given in memory: they reach OpenSSL through pipes,
    never a file), ALPN ``h2`` (grpc-go requires it), TLS 1.2 at least (go-plugin's floor) and, when
    ``client_cert_pem`` is given, that certificate and no other required of the client."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["h2"])
    cert_fd, key_fd = _pipe(cert_pem), _pipe(key_pem)
    try:
        context.load_cert_chain(f"/dev/fd/{cert_fd}", f"/dev/fd/{key_fd}")
    finally:
        os.close(cert_fd)
        os.close(key_fd)
    if client_cert_pem:
        try:
            context.load_verify_locations(cadata=client_cert_pem)
        except (ssl.SSLError, ValueError) as exc:
            raise ssl.SSLError(f"PLUGIN_CLIENT_CERT is not a PEM certificate ({exc}); Terraform sets it: "
                               "start the provider through Terraform") from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _pipe(data: bytes) -> int:
    """A pipe's read end holding ``data`` (a PEM: far below a pipe's capacity)."""
    read, write = os.pipe()
    try:
        os.write(write, data)
    finally:
        os.close(write)
    return read


def _percent_encode(message: str) -> bytes:
    """``grpc-message``'s encoding: UTF-8, then every byte outside printable ASCII and ``%`` as %XX."""
    return b"".join(b"%%%02X" % b if b < 0x20 or b > 0x7E or b == 0x25 else bytes((b,))
                    for b in message.encode("utf-8"))


class Server:
    """Serves ``lookup``'s methods on ``listener`` (bound and listening) over ``context``'s TLS."""

    def __init__(self, listener: socket.socket, context: ssl.SSLContext, lookup: Lookup,
                 workers: int = 16) -> None:
        self._listener = listener
        self._context = context
        self._lookup = lookup
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rpc")
        self._calls = 0
        self._idle = threading.Condition()
        self._stopping = False
        self._connections: set[_Connection] = set()

    def start(self) -> None:
        threading.Thread(target=self._accept, name="accept", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed (stop)
            connection = _Connection(self, sock)
            self._connections.add(connection)
            threading.Thread(target=connection.run, name="h2", daemon=True).start()

    def stop(self, grace: float) -> None:
        """Take no new connection; wait at most ``grace`` seconds for the calls in flight to end
        and their answers to reach the sockets (Shutdown's own answer among them)."""
        self._stopping = True
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._idle:
            self._idle.wait_for(lambda: self._calls == 0 and all(c.drained() for c in list(self._connections)),
                                timeout=grace)
        for connection in list(self._connections):
            connection.close()

    def _run(self, connection: "_Connection", stream_id: int, method: Method, body: bytes) -> None:
        """A worker: one call, its answer handed to the connection's thread."""
        messages: list[bytes] = []
        try:
            try:
                request = method.parse(body)
            except Exception:  # noqa: BLE001 - grpcio's answer to a request it cannot deserialize
                raise Status(INTERNAL, "Exception deserializing request!") from None
            result = method.call(request)
            if method.streaming:
                for message in result:
                    connection.reply(stream_id, [message.SerializeToString()], None)
            else:
                messages.append(result.SerializeToString())
            connection.reply(stream_id, messages, (OK, ""))
        except Status as exc:
            connection.reply(stream_id, messages, (exc.code, exc.message))
        except Exception as exc:  # noqa: BLE001 - as grpcio: the client gets UNKNOWN, the log the traceback
            traceback.print_exc(file=sys.stderr)
            connection.reply(stream_id, [], (UNKNOWN, f"Exception calling application: {exc}"))
        finally:
            with self._idle:
                self._calls -= 1
                self._idle.notify_all()

    def _submit(self, connection: "_Connection", stream_id: int, method: Method, body: bytes) -> None:
        with self._idle:
            self._calls += 1
        self._pool.submit(self._run, connection, stream_id, method, body)


class _Stream:
    __slots__ = ("method", "body", "pending", "trailers", "headers_sent", "remote_ended", "answered")

    def __init__(self, method: Method | None) -> None:
        self.method = method
        self.body = bytearray()
        self.pending = bytearray()  # response bytes the flow-control window did not let out yet
        self.trailers: list[tuple[bytes, bytes]] | None = None
        self.headers_sent = False
        self.remote_ended = False
        self.answered = False


_RESPONSE_HEADERS = [(b":status", b"200"), (b"content-type", b"application/grpc")]


class _Connection:
    """One client connection. Its thread reads, decrypts and parses what arrives; a worker that
    has an answer writes it itself (HTTP/2, TLS, the socket), so an answer costs no thread switch
    back. Both hold ``_lock`` while they touch the TLS and HTTP/2 state; bytes the socket does not
    take at once wait in ``_send`` for the connection's thread (woken through a pipe)."""

    def __init__(self, server: Server, sock: socket.socket) -> None:
        self._server = server
        self._sock = sock
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = server._context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._h2 = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=False, header_encoding=None, validate_inbound_headers=False,
            validate_outbound_headers=False, normalize_outbound_headers=False))
        self._streams: dict[int, _Stream] = {}
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self._lock = threading.Lock()
        self._send = bytearray()
        self._closed = False

    # -- called from the workers ------------------------------------------------------------
    def reply(self, stream_id: int, messages: list[bytes], status: tuple[int, str] | None) -> None:
        """Send ``messages`` (and, with ``status``, the call's end) on the stream."""
        with self._lock:
            if self._closed:
                return
            stream = self._streams.get(stream_id)
            if stream is None:  # reset by the client meanwhile
                return
            try:
                try:
                    self._answer(stream_id, stream, messages, status)
                except h2.exceptions.StreamClosedError:  # the client reset it: the answer has no reader
                    self._streams.pop(stream_id, None)
                self._pump()
            except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
                self._closed = True
            if self._send or self._closed:  # the connection's thread writes the rest when the socket takes it
                self._wake()

    def drained(self) -> bool:
        """Nothing left to send: no answer waiting for a window, no bytes unsent. Read without the
        connection's lock (``stop`` asks while holding the server's, which the connection's thread
        takes under its own to count a call): a stale answer only makes ``stop`` wait for the next
        notification."""
        return not self._send and not any(s.pending or s.trailers is not None for s in list(self._streams.values()))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wake()

    def _wake(self) -> None:
        """(Under the lock.) Wake the connection's thread, unless it has ended (its pipe is closed)."""
        if self._wake_write >= 0:
            try:
                os.write(self._wake_write, b"!")
            except BlockingIOError:
                pass  # the pipe is full of wake-ups already

    # -- the connection's thread ----------------------------------------------------------
    def run(self) -> None:
        try:
            self._sock.setblocking(False)
            self._handshake()
            with self._lock:
                self._h2.initiate_connection()
                self._h2.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: _WINDOW,
                                          h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1000})
                self._h2.increment_flow_control_window(_WINDOW - 65535)
                self._pump()
            self._serve()
        except (OSError, ssl.SSLError, h2.exceptions.ProtocolError, _Closed):
            pass  # the peer left, broke the protocol or failed the TLS handshake: nothing to answer
        finally:
            with self._lock:
                self._closed = True
                self._streams.clear()
                for fd in (self._wake_read, self._wake_write):
                    os.close(fd)
                self._wake_read = self._wake_write = -1
                self._sock.close()
            self._server._connections.discard(self)

    def _handshake(self) -> None:
        while True:
            try:
                self._tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError:  # refused (a client without the certificate): TLS's alert goes out first
                try:
                    self._sock.send(self._outgoing.read())
                except OSError:
                    pass
                raise
            self._send += self._outgoing.read()
            while self._send:
                select.select([], [self._sock], [])
                del self._send[:self._sock.send(self._send)]
            select.select([self._sock], [], [])
            data = self._sock.recv(1 << 16)
            if not data:
                raise _Closed()
            self._incoming.write(data)
        self._send += self._outgoing.read()

    def _pump(self) -> None:
        """(Under the lock.) HTTP/2's pending bytes through TLS to the socket, as far as it takes them."""
        data = self._h2.data_to_send()
        if data:
            self._tls.write(data)
        out = self._outgoing.read()
        if out:
            self._send += out
        if self._send:
            try:
                del self._send[:self._sock.send(self._send)]
            except BlockingIOError:
                pass

    def _serve(self) -> None:
        poller = select.poll()
        poller.register(self._wake_read, select.POLLIN)
        sock_fd = self._sock.fileno()
        writing = False
        poller.register(sock_fd, select.POLLIN)
        while True:
            with self._lock:
                if self._closed:
                    raise _Closed()
                self._pump()
                want_write = bool(self._send)
            if self._server._stopping:
                with self._server._idle:
                    self._server._idle.notify_all()
            if want_write != writing:
                writing = want_write
                poller.modify(sock_fd, select.POLLIN | (select.POLLOUT if writing else 0))
            for fd, flags in poller.poll():
                if fd == self._wake_read:
                    os.read(self._wake_read, 4096)
                elif flags & (select.POLLIN | select.POLLHUP | select.POLLERR):
                    try:
                        data = self._sock.recv(1 << 18)
                    except BlockingIOError:
                        continue
                    if not data:
                        raise _Closed()
                    with self._lock:
                        self._receive(data)

    def _receive(self, data: bytes) -> None:
        """(Under the lock.) Decrypt ``data`` and act on the HTTP/2 events it holds."""
        self._incoming.write(data)
        chunks = []
        while True:
            try:
                chunk = self._tls.read(1 << 18)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                raise _Closed() from None
            if not chunk:  # the client's close_notify
                raise _Closed()
            chunks.append(chunk)
        plain = b"".join(chunks)
        if not plain:
            return
        for event in self._h2.receive_data(plain):
            try:
                self._event(event)
            except h2.exceptions.StreamClosedError as exc:  # closed by a later frame of the same read
                self._streams.pop(exc.stream_id, None)

    def _event(self, event: Any) -> None:
        kind = type(event)
        if kind is h2.events.DataReceived:
            self._data(event)
        elif kind is h2.events.RequestReceived:
            self._request(event)
        elif kind is h2.events.StreamEnded:
            self._ended(event.stream_id)
        elif kind is h2.events.StreamReset:
            self._streams.pop(event.stream_id, None)
        elif kind is h2.events.WindowUpdated or kind is h2.events.RemoteSettingsChanged:
            for stream_id, stream in list(self._streams.items()):
                if stream.pending or stream.trailers is not None:
                    self._flush_stream(stream_id, stream)
        elif kind is h2.events.ConnectionTerminated:
            raise _Closed()

    def _request(self, event: Any) -> None:
        headers = dict(event.headers)
        stream = self._streams[event.stream_id] = _Stream(None)
        if event.stream_ended:
            stream.remote_ended = True
        content_type = headers.get(b"content-type", b"")
        if headers.get(b":method") != b"POST" or not content_type.startswith(b"application/grpc"):
            stream.answered = True
            self._h2.send_headers(event.stream_id, [(b":status", b"415")], end_stream=True)
            self._finish(event.stream_id, stream)
            return
        encoding = headers.get(b"grpc-encoding", b"identity")
        if encoding != b"identity":
            self._end(event.stream_id, stream, UNIMPLEMENTED,
                      f"grpc-encoding {encoding.decode('latin-1')} is not supported",
                      [(b"grpc-accept-encoding", b"identity")])
            return
        method = self._server._lookup(headers.get(b":path", b"").decode("latin-1"))
        if method is None:  # grpcio's words for an unknown method
            self._end(event.stream_id, stream, UNIMPLEMENTED, "Method not found!")
            return
        stream.method = method
        if event.stream_ended:
            self._ended(event.stream_id)

    def _data(self, event: Any) -> None:
        self._h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        stream = self._streams.get(event.stream_id)
        if stream is None or stream.answered:
            return
        stream.body += event.data
        if len(stream.body) > MAX_MESSAGE + 5:
            self._end(event.stream_id, stream, RESOURCE_EXHAUSTED,
                      f"Received message larger than max ({len(stream.body) - 5} vs. {MAX_MESSAGE})")

    def _ended(self, stream_id: int) -> None:
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        stream.remote_ended = True
        if stream.answered or stream.method is None:
            return
        body = stream.body
        stream.body = bytearray()
        if len(body) < 5 or int.from_bytes(body[1:5], "big") != len(body) - 5:
            self._end(stream_id, stream, INTERNAL, "a unary request holds exactly one length-prefixed message")
            return
        if body[0] != 0:
            self._end(stream_id, stream, INTERNAL, "a compressed message without grpc-encoding")
            return
        stream.answered = True
        self._server._submit(self, stream_id, stream.method, bytes(body[5:]))

    def _answer(self, stream_id: int, stream: _Stream, messages: list[bytes], status: tuple[int, str] | None) -> None:
        if status is not None and status[0] != OK and not messages and not stream.headers_sent:
            self._end(stream_id, stream, *status)
            return
        if not stream.headers_sent:
            self._h2.send_headers(stream_id, _RESPONSE_HEADERS)
            stream.headers_sent = True
        for message in messages:
            stream.pending += len(message).to_bytes(5, "big")
            stream.pending += message
        if status is not None:
            stream.trailers = self._trailers(*status)
        self._flush_stream(stream_id, stream)

    @staticmethod
    def _trailers(code: int, message: str) -> list[tuple[bytes, bytes]]:
        trailers = [(b"grpc-status", str(code).encode())]
        if message:
            trailers.append((b"grpc-message", _percent_encode(message)))
        return trailers

    def _end(self, stream_id: int, stream: _Stream, code: int, message: str,
             extra: list[tuple[bytes, bytes]] | None = None) -> None:
        """A trailers-only answer: the call ends with ``code`` before any message."""
        stream.answered = True
        stream.body = bytearray()
        self._h2.send_headers(stream_id, _RESPONSE_HEADERS + self._trailers(code, message) + (extra or []),
                              end_stream=True)
        self._finish(stream_id, stream)

    def _flush_stream(self, stream_id: int, stream: _Stream) -> None:
        """As much of the stream's response as the flow-control windows let out; then its trailers."""
        connection = self._h2
        while stream.pending:
            room = min(connection.local_flow_control_window(stream_id), connection.max_outbound_frame_size)
            if room <= 0:
                return  # a WINDOW_UPDATE from the client resumes it
            connection.send_data(stream_id, bytes(stream.pending[:room]))
            del stream.pending[:room]
        if stream.trailers is not None:
            connection.send_headers(stream_id, stream.trailers, end_stream=True)
            stream.trailers = None
            self._finish(stream_id, stream)

    def _finish(self, stream_id: int, stream: _Stream) -> None:
        """Our side of the stream is closed: forget it, and stop a client still sending (grpc-go's way)."""
        self._streams.pop(stream_id, None)
        if not stream.remote_ended:
            try:
                self._h2.reset_stream(stream_id, 0)  # NO_ERROR
            except h2.exceptions.StreamClosedError:
                pass  # its end arrived in the read being handled


class _Closed(Exception):
    """The connection is over (the peer closed it, or the server is stopping)."""
