"""gRPC over HTTP/2 and TLS for the provider's calls, without grpcio: unary and server-streaming
methods, as Terraform's plugin client (grpc-go) speaks them.

Owns the connections of a listening socket: TLS (``ssl``, ALPN ``h2``; when the client's
certificate is given, as go-plugin's AutoMTLS does in ``PLUGIN_CLIENT_CERT``, a client without it
is refused in the TLS handshake), HTTP/2 (the frames a gRPC client sends, parsed here; request
headers decoded with ``hpack``; flow control both ways; constant response header blocks encoded once),
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

import hpack

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


# HTTP/2 (RFC 9113) as far as a gRPC server needs it: frame types, flags, error codes.
_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
(_DATA, _HEADERS, _PRIORITY, _RST_STREAM, _SETTINGS, _PUSH_PROMISE, _PING, _GOAWAY, _WINDOW_UPDATE,
 _CONTINUATION) = range(10)
_END_STREAM = _ACK = 0x1
_END_HEADERS, _PADDED, _PRIORITY_FLAG = 0x4, 0x8, 0x20
_NO_ERROR, _PROTOCOL_ERROR, _FLOW_CONTROL_ERROR, _STREAM_CLOSED, _FRAME_SIZE_ERROR, _REFUSED_STREAM = 0, 1, 3, 5, 6, 7
_COMPRESSION_ERROR = 9
_MAX_FRAME = 16384
"""The largest frame payload we take (SETTINGS_MAX_FRAME_SIZE is left at the protocol's default)."""
_MAX_WINDOW = (1 << 31) - 1
_MAX_STREAMS = 1000
_MAX_HEADER_BLOCK = 1 << 20
"""The largest request header block (HEADERS and its CONTINUATIONs) taken; grpc-go sends a few hundred bytes."""


def _hpack_int(value: int, prefix_bits: int, first: int) -> bytes:
    """An HPACK integer (RFC 7541 §5.1) in a ``prefix_bits`` prefix whose other bits are ``first``."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out = bytearray((first | limit,))
    value -= limit
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _hpack_string(data: bytes) -> bytes:
    return _hpack_int(len(data), 7, 0) + data  # no Huffman coding


def _literal(name: bytes, value: bytes) -> bytes:
    """A header as a literal without indexing (RFC 7541 §6.2.2): our header blocks never touch the
    client's dynamic table, so each is the same bytes every time, encoded once."""
    return b"\x00" + _hpack_string(name) + _hpack_string(value)


_RESPONSE_HEADERS = b"\x88" + _hpack_int(31, 4, 0) + _hpack_string(b"application/grpc")
"""``:status: 200`` (static table entry 8) and ``content-type: application/grpc`` (static name 31)."""
_STATUS_415 = _hpack_int(8, 4, 0) + _hpack_string(b"415")
_OK_TRAILERS = _literal(b"grpc-status", b"0")
_TABLE_SIZE_ZERO = b"\x20"
"""A dynamic table size update to 0 (§6.3), at the start of a connection's first header block:
our encoder never uses the table, so no later change of the client's SETTINGS_HEADER_TABLE_SIZE
needs signalling."""


def _indexed_only(block: bytes) -> bool:
    """True when every field of the HPACK block is an indexed field (RFC 7541 §6.1): one that
    neither adds to the dynamic table nor resizes it."""
    i, size = 0, len(block)
    while i < size:
        byte = block[i]
        if byte < 0x80:
            return False
        i += 1
        if byte == 0xFF:  # the index goes on in 7-bit groups while the high bit is set
            while i < size and block[i] & 0x80:
                i += 1
            i += 1
    return True


def _frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    return len(payload).to_bytes(3, "big") + bytes((kind, flags)) + stream_id.to_bytes(4, "big") + payload


class _ConnectionError(Exception):
    """The client broke HTTP/2: the connection ends with a GOAWAY carrying ``code``."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class _Stream:
    __slots__ = ("method", "body", "pending", "trailers", "headers_sent", "remote_ended", "answered", "window",
                 "receive_window")

    def __init__(self, method: Method | None, window: int) -> None:
        self.method = method
        self.body = bytearray()
        self.pending = bytearray()  # response bytes the flow-control windows did not let out yet
        self.trailers: bytes | None = None  # the encoded trailers, sent once ``pending`` is out
        self.headers_sent = False
        self.remote_ended = False
        self.answered = False
        self.window = window  # what we may still send on the stream (the client's window)
        self.receive_window = _WINDOW  # what the client may still send before our WINDOW_UPDATE


class _Connection:
    """One client connection. Its thread reads, decrypts and parses what arrives; a worker that
    has an answer writes it itself (HTTP/2, TLS, the socket), so an answer costs no thread switch
    back. Both hold ``_lock`` while they touch the TLS and HTTP/2 state; bytes the socket does not
    take at once wait in ``_send`` for the connection's thread (woken through a pipe).

    HTTP/2 is spoken here directly: the frames a gRPC client sends are parsed (DATA, HEADERS and
    CONTINUATION, with padding and priority fields; SETTINGS, PING, WINDOW_UPDATE, RST_STREAM,
    GOAWAY; PRIORITY and unknown types ignored), request headers decoded with ``hpack``'s decoder,
    flow control kept both ways, and the responses' constant header blocks encoded once. What
    breaks the protocol ends the connection with a GOAWAY (or the stream with a RST_STREAM)."""

    def __init__(self, server: Server, sock: socket.socket) -> None:
        self._server = server
        self._sock = sock
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = server._context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._decoder = hpack.Decoder()
        self._decoded: dict[bytes, list[tuple[bytes, bytes]]] = {}
        """Header blocks of indexed fields only, decoded: grpc-go sends each method's headers so
        once its table holds them, and such a block neither changes the table nor reads otherwise
        until another block changes it (which empties this)."""
        self._streams: dict[int, _Stream] = {}
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self._lock = threading.Lock()
        self._send = bytearray()  # TLS bytes the socket has not taken yet
        self._frames = bytearray()  # HTTP/2 frames not yet through TLS
        self._read = bytearray()  # plaintext received, not parsed yet
        self._closed = False
        self._preface = False
        self._last_stream = 0  # the highest stream the client opened
        self._window = 65535  # what we may still send on the connection
        self._initial_window = 65535  # the client's SETTINGS_INITIAL_WINDOW_SIZE
        self._max_frame = 16384  # the client's SETTINGS_MAX_FRAME_SIZE
        self._receive_window = _WINDOW
        self._block: tuple[int, bool, bytearray] | None = None  # a header block waiting for CONTINUATION
        self._table_reset = False

    # -- called from the workers ------------------------------------------------------------
    def reply(self, stream_id: int, messages: list[bytes], status: tuple[int, str] | None) -> None:
        """Send ``messages`` (and, with ``status``, the call's end) on the stream."""
        with self._lock:
            if self._closed:
                return
            stream = self._streams.get(stream_id)
            if stream is None:  # reset by the client meanwhile: the answer has no reader
                return
            try:
                self._answer(stream_id, stream, messages, status)
                self._pump()
            except (OSError, ssl.SSLError):
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
            with self._lock:  # our SETTINGS (the server's preface), and the connection's window opened
                self._frames += _frame(_SETTINGS, 0, 0, (4).to_bytes(2, "big") + _WINDOW.to_bytes(4, "big")
                                       + (3).to_bytes(2, "big") + _MAX_STREAMS.to_bytes(4, "big"))
                self._frames += _frame(_WINDOW_UPDATE, 0, 0, (_WINDOW - 65535).to_bytes(4, "big"))
                self._receive(b"")  # what came with the handshake's last flight (the client's preface, often)
                self._pump()
            self._serve()
        except (OSError, ssl.SSLError, _Closed):
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
        """(Under the lock.) The pending frames through TLS to the socket, as far as it takes them."""
        if self._frames:
            self._tls.write(self._frames)
            self._frames.clear()
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
        """(Under the lock.) Decrypt ``data`` and act on the HTTP/2 frames it completes."""
        self._incoming.write(data)
        while True:
            try:
                chunk = self._tls.read(1 << 18)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                raise _Closed() from None
            if not chunk:  # the client's close_notify
                raise _Closed()
            self._read += chunk
        try:
            self._parse()
        except _ConnectionError as exc:
            self._frames += _frame(_GOAWAY, 0, 0, self._last_stream.to_bytes(4, "big") + exc.code.to_bytes(4, "big"))
            try:
                self._pump()
            except (OSError, ssl.SSLError):
                pass
            raise _Closed() from None

    def _parse(self) -> None:
        """(Under the lock.) Every whole frame in ``_read``, in order."""
        buf = self._read
        pos = 0
        if not self._preface:
            if len(buf) < len(_PREFACE):
                if not _PREFACE.startswith(buf):
                    raise _ConnectionError(_PROTOCOL_ERROR)
                return
            if buf[:len(_PREFACE)] != _PREFACE:
                raise _ConnectionError(_PROTOCOL_ERROR)
            self._preface = True
            pos = len(_PREFACE)
        size = len(buf)
        try:
            while size - pos >= 9:
                length = int.from_bytes(buf[pos:pos + 3], "big")
                if length > _MAX_FRAME:
                    raise _ConnectionError(_FRAME_SIZE_ERROR)
                end = pos + 9 + length
                if end > size:
                    break
                kind, flags = buf[pos + 3], buf[pos + 4]
                stream_id = int.from_bytes(buf[pos + 5:pos + 9], "big") & 0x7FFFFFFF
                payload = bytes(buf[pos + 9:end])
                pos = end
                self._on_frame(kind, flags, stream_id, payload)
        finally:
            del buf[:pos]

    def _on_frame(self, kind: int, flags: int, stream_id: int, payload: bytes) -> None:
        if self._block is not None and kind != _CONTINUATION:
            raise _ConnectionError(_PROTOCOL_ERROR)  # a header block is contiguous (RFC 9113 §6.10)
        if kind == _DATA:
            self._data(flags, stream_id, payload)
        elif kind == _HEADERS:
            self._headers(flags, stream_id, payload)
        elif kind == _CONTINUATION:
            if self._block is None or self._block[0] != stream_id:
                raise _ConnectionError(_PROTOCOL_ERROR)
            block = self._block[2]
            block += payload
            if len(block) > _MAX_HEADER_BLOCK:
                raise _ConnectionError(_PROTOCOL_ERROR)
            if flags & _END_HEADERS:
                _, end_stream, _ = self._block
                self._block = None
                self._header_block(stream_id, end_stream, bytes(block))
        elif kind == _WINDOW_UPDATE:
            self._window_update(stream_id, payload)
        elif kind == _SETTINGS:
            self._settings(flags, stream_id, payload)
        elif kind == _PING:
            if stream_id:
                raise _ConnectionError(_PROTOCOL_ERROR)
            if len(payload) != 8:
                raise _ConnectionError(_FRAME_SIZE_ERROR)
            if not flags & _ACK:
                self._frames += _frame(_PING, _ACK, 0, payload)
        elif kind == _RST_STREAM:
            if not stream_id or stream_id > self._last_stream:
                raise _ConnectionError(_PROTOCOL_ERROR)
            if len(payload) != 4:
                raise _ConnectionError(_FRAME_SIZE_ERROR)
            self._streams.pop(stream_id, None)
        elif kind == _GOAWAY:
            raise _Closed()
        elif kind == _PRIORITY:
            if not stream_id:
                raise _ConnectionError(_PROTOCOL_ERROR)
            if len(payload) != 5:
                raise _ConnectionError(_FRAME_SIZE_ERROR)
        elif kind == _PUSH_PROMISE:  # a client never pushes
            raise _ConnectionError(_PROTOCOL_ERROR)
        # any other type is an extension this server does not know: ignored (RFC 9113 §5.5)

    def _data(self, flags: int, stream_id: int, payload: bytes) -> None:
        if not stream_id:
            raise _ConnectionError(_PROTOCOL_ERROR)
        length = len(payload)  # what flow control counts, padding included
        data = payload
        if flags & _PADDED:
            if not length or payload[0] >= length:
                raise _ConnectionError(_PROTOCOL_ERROR)
            data = payload[1:length - payload[0]]
        self._receive_window -= length
        if self._receive_window < 0:
            raise _ConnectionError(_FLOW_CONTROL_ERROR)
        if self._receive_window < _WINDOW // 2:
            self._frames += _frame(_WINDOW_UPDATE, 0, 0, (_WINDOW - self._receive_window).to_bytes(4, "big"))
            self._receive_window = _WINDOW
        stream = self._streams.get(stream_id)
        if stream is None:
            if stream_id > self._last_stream:  # a stream never opened
                raise _ConnectionError(_PROTOCOL_ERROR)
            return  # a stream already answered or reset: what still arrives has no reader
        if stream.remote_ended:
            self._reset(stream_id, _STREAM_CLOSED)
            return
        stream.receive_window -= length
        if stream.receive_window < 0:
            self._reset(stream_id, _FLOW_CONTROL_ERROR)
            return
        if not flags & _END_STREAM and stream.receive_window < _WINDOW // 2:
            self._frames += _frame(_WINDOW_UPDATE, 0, stream_id,
                                   (_WINDOW - stream.receive_window).to_bytes(4, "big"))
            stream.receive_window = _WINDOW
        if not stream.answered:
            stream.body += data
            if len(stream.body) > MAX_MESSAGE + 5:
                self._end(stream_id, stream, RESOURCE_EXHAUSTED,
                          f"Received message larger than max ({len(stream.body) - 5} vs. {MAX_MESSAGE})")
        if flags & _END_STREAM:
            self._ended(stream_id)

    def _headers(self, flags: int, stream_id: int, payload: bytes) -> None:
        if not stream_id or not stream_id % 2:  # a client's streams are odd
            raise _ConnectionError(_PROTOCOL_ERROR)
        block = payload
        if flags & _PADDED:
            if not block or block[0] >= len(block):
                raise _ConnectionError(_PROTOCOL_ERROR)
            block = block[1:len(block) - block[0]]
        if flags & _PRIORITY_FLAG:
            if len(block) < 5:
                raise _ConnectionError(_FRAME_SIZE_ERROR)
            block = block[5:]
        end_stream = bool(flags & _END_STREAM)
        if flags & _END_HEADERS:
            self._header_block(stream_id, end_stream, block)
        else:
            self._block = (stream_id, end_stream, bytearray(block))

    def _header_block(self, stream_id: int, end_stream: bool, block: bytes) -> None:
        headers = self._decoded.get(block) if _indexed_only(block) else None
        if headers is None:
            try:  # decoded whatever the stream's fate: the decoder's table must follow every block
                headers = self._decoder.decode(block, raw=True)
            except hpack.HPACKError:
                raise _ConnectionError(_COMPRESSION_ERROR) from None
            if _indexed_only(block):
                if len(self._decoded) < 64:
                    self._decoded[block] = headers
            else:  # the block may have changed the table: what was decoded before may read otherwise now
                self._decoded.clear()
        stream = self._streams.get(stream_id)
        if stream is not None:  # trailers (a gRPC client sends none): only the stream's end counts
            if end_stream:
                self._ended(stream_id)
            else:
                self._reset(stream_id, _PROTOCOL_ERROR)
            return
        if stream_id <= self._last_stream:
            return  # a stream already answered or reset
        self._last_stream = stream_id
        if len(self._streams) >= _MAX_STREAMS:
            self._frames += _frame(_RST_STREAM, 0, stream_id, _REFUSED_STREAM.to_bytes(4, "big"))
            return
        self._request(stream_id, dict(headers), end_stream)

    def _settings(self, flags: int, stream_id: int, payload: bytes) -> None:
        if stream_id:
            raise _ConnectionError(_PROTOCOL_ERROR)
        if flags & _ACK:
            if payload:
                raise _ConnectionError(_FRAME_SIZE_ERROR)
            return
        if len(payload) % 6:
            raise _ConnectionError(_FRAME_SIZE_ERROR)
        for i in range(0, len(payload), 6):
            setting, value = int.from_bytes(payload[i:i + 2], "big"), int.from_bytes(payload[i + 2:i + 6], "big")
            if setting == 2 and value > 1:  # ENABLE_PUSH
                raise _ConnectionError(_PROTOCOL_ERROR)
            if setting == 4:  # INITIAL_WINDOW_SIZE: every open stream's window moves by the difference
                if value > _MAX_WINDOW:
                    raise _ConnectionError(_FLOW_CONTROL_ERROR)
                delta, self._initial_window = value - self._initial_window, value
                for stream in self._streams.values():
                    stream.window += delta
                    if stream.window > _MAX_WINDOW:
                        raise _ConnectionError(_FLOW_CONTROL_ERROR)
            elif setting == 5:  # MAX_FRAME_SIZE
                if not 16384 <= value <= 16777215:
                    raise _ConnectionError(_PROTOCOL_ERROR)
                self._max_frame = value
            # HEADER_TABLE_SIZE: our blocks never use the table; the others do not bind a server
        self._frames += _frame(_SETTINGS, _ACK, 0)
        self._flush_all()

    def _window_update(self, stream_id: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise _ConnectionError(_FRAME_SIZE_ERROR)
        increment = int.from_bytes(payload, "big") & 0x7FFFFFFF
        if not stream_id:
            if not increment:
                raise _ConnectionError(_PROTOCOL_ERROR)
            self._window += increment
            if self._window > _MAX_WINDOW:
                raise _ConnectionError(_FLOW_CONTROL_ERROR)
            self._flush_all()
            return
        stream = self._streams.get(stream_id)
        if stream is None:
            if stream_id > self._last_stream:
                raise _ConnectionError(_PROTOCOL_ERROR)
            return
        if not increment:
            self._reset(stream_id, _PROTOCOL_ERROR)
            return
        stream.window += increment
        if stream.window > _MAX_WINDOW:
            self._reset(stream_id, _FLOW_CONTROL_ERROR)
            return
        if stream.pending or stream.trailers is not None:
            self._flush_stream(stream_id, stream)

    def _reset(self, stream_id: int, code: int) -> None:
        """End one stream with RST_STREAM ``code``; the connection serves on."""
        self._streams.pop(stream_id, None)
        self._frames += _frame(_RST_STREAM, 0, stream_id, code.to_bytes(4, "big"))

    def _request(self, stream_id: int, headers: dict[bytes, bytes], end_stream: bool) -> None:
        stream = self._streams[stream_id] = _Stream(None, self._initial_window)
        if end_stream:
            stream.remote_ended = True
        content_type = headers.get(b"content-type", b"")
        if headers.get(b":method") != b"POST" or not content_type.startswith(b"application/grpc"):
            stream.answered = True
            self._send_headers(stream_id, _STATUS_415, end_stream=True)
            self._finish(stream_id, stream)
            return
        encoding = headers.get(b"grpc-encoding", b"identity")
        if encoding != b"identity":
            self._end(stream_id, stream, UNIMPLEMENTED,
                      f"grpc-encoding {encoding.decode('latin-1')} is not supported",
                      _literal(b"grpc-accept-encoding", b"identity"))
            return
        method = self._server._lookup(headers.get(b":path", b"").decode("latin-1"))
        if method is None:  # grpcio's words for an unknown method
            self._end(stream_id, stream, UNIMPLEMENTED, "Method not found!")
            return
        stream.method = method
        if end_stream:
            self._ended(stream_id)

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
            self._send_headers(stream_id, _RESPONSE_HEADERS, end_stream=False)
            stream.headers_sent = True
        for message in messages:
            stream.pending += len(message).to_bytes(5, "big")
            stream.pending += message
        if status is not None:
            stream.trailers = self._trailers(*status)
        self._flush_stream(stream_id, stream)

    @staticmethod
    def _trailers(code: int, message: str) -> bytes:
        if code == OK and not message:
            return _OK_TRAILERS
        block = _literal(b"grpc-status", str(code).encode())
        if message:
            block += _literal(b"grpc-message", _percent_encode(message))
        return block

    def _end(self, stream_id: int, stream: _Stream, code: int, message: str, extra: bytes = b"") -> None:
        """A trailers-only answer: the call ends with ``code`` before any message."""
        stream.answered = True
        stream.body = bytearray()
        self._send_headers(stream_id, _RESPONSE_HEADERS + self._trailers(code, message) + extra, end_stream=True)
        self._finish(stream_id, stream)

    def _send_headers(self, stream_id: int, block: bytes, *, end_stream: bool) -> None:
        """A header block as HEADERS, and CONTINUATIONs when it is larger than the client's frames."""
        if not self._table_reset:
            block = _TABLE_SIZE_ZERO + block
            self._table_reset = True
        flags = _END_STREAM if end_stream else 0
        size = self._max_frame
        if len(block) <= size:
            self._frames += _frame(_HEADERS, flags | _END_HEADERS, stream_id, block)
            return
        self._frames += _frame(_HEADERS, flags, stream_id, block[:size])
        for start in range(size, len(block), size):
            last = start + size >= len(block)
            self._frames += _frame(_CONTINUATION, _END_HEADERS if last else 0, stream_id, block[start:start + size])

    def _flush_all(self) -> None:
        for stream_id, stream in list(self._streams.items()):
            if stream.pending or stream.trailers is not None:
                self._flush_stream(stream_id, stream)

    def _flush_stream(self, stream_id: int, stream: _Stream) -> None:
        """As much of the stream's response as the flow-control windows let out; then its trailers."""
        pending = stream.pending
        while pending:
            room = min(self._window, stream.window, self._max_frame, len(pending))
            if room <= 0:
                return  # a WINDOW_UPDATE from the client resumes it
            self._frames += _frame(_DATA, 0, stream_id, pending[:room])
            del pending[:room]
            self._window -= room
            stream.window -= room
        if stream.trailers is not None:
            self._send_headers(stream_id, stream.trailers, end_stream=True)
            stream.trailers = None
            self._finish(stream_id, stream)

    def _finish(self, stream_id: int, stream: _Stream) -> None:
        """Our side of the stream is closed: forget it, and stop a client still sending (grpc-go's way)."""
        self._streams.pop(stream_id, None)
        if not stream.remote_ended:
            self._frames += _frame(_RST_STREAM, 0, stream_id, _NO_ERROR.to_bytes(4, "big"))


class _Closed(Exception):
    """The connection is over (the peer closed it, or the server is stopping)."""
