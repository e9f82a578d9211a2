"""The events intake websocket, ``/api/events/in``: accepted and drained, nothing stored.

Prefect clients (workers, flow runs) open this socket to emit events; when it is refused
they print warnings and "EventsWorker failed" errors for every run.  The venv has no
websocket library, so this is a minimal RFC 6455 server as a uvicorn websocket protocol
class: the upgrade handshake (with the ``prefect`` subprotocol), the client's
``{"type": "auth"}`` handshake answered ``auth_success`` (or ``auth_failure`` when basic
auth is on and the token differs), pings answered, close echoed, every event dropped.
Every other websocket path (``/api/events/out``, the worker channel) is answered 404 so
clients fall back to polling.  Must not: store events or call the app.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import struct
from typing import Any

EVENTS_IN = "/api/events/in"
MAX_MESSAGE = 16 * 1024 * 1024
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_key(client_key: str) -> str:
    return base64.b64encode(hashlib.sha1(client_key.encode("latin-1") + _GUID).digest()).decode("ascii")


def frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked server frame."""
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return head + payload


def parse_frame(buffer: bytes | bytearray) -> tuple[int, bool, bytes, int] | None:
    """``(opcode, fin, unmasked payload, bytes used)`` of the first whole frame, or None if incomplete."""
    if len(buffer) < 2:
        return None
    b0, b1 = buffer[0], buffer[1]
    size, offset = b1 & 0x7F, 2
    if size == 126:
        if len(buffer) < 4:
            return None
        size, offset = struct.unpack_from("!H", buffer, 2)[0], 4
    elif size == 127:
        if len(buffer) < 10:
            return None
        size, offset = struct.unpack_from("!Q", buffer, 2)[0], 10
    if size > MAX_MESSAGE:
        raise ValueError("frame too large")
    mask = b""
    if b1 & 0x80:
        if len(buffer) < offset + 4:
            return None
        mask, offset = bytes(buffer[offset:offset + 4]), offset + 4
    if len(buffer) < offset + size:
        return None
    payload = bytes(buffer[offset:offset + size])
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if size < 64 else _unmask(payload, mask)
    return b0 & 0x0F, bool(b0 & 0x80), payload, offset + size


def _unmask(payload: bytes, mask: bytes) -> bytes:
    size = len(payload)
    key = int.from_bytes((mask * (size // 4 + 1))[:size], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(size, "big")


def _http(status: str, body: dict[str, Any]) -> bytes:
    content = json.dumps(body).encode()
    return (f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(content)}\r\n"
            "connection: close\r\n\r\n").encode() + content


def protocol_class(state: Any) -> type[asyncio.Protocol]:
    """A uvicorn ``ws`` protocol class bound to the app's ``state`` (for ``auth_string``)."""

    class EventsSocket(asyncio.Protocol):
        def __init__(self, config: Any = None, server_state: Any = None, app_state: Any = None) -> None:
            self.server_state = server_state
            self.transport: Any = None
            self.buffer = bytearray()
            self.upgraded = False
            self.authenticated = False
            self.message = bytearray()

        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            if self.server_state is not None:
                self.server_state.connections.add(self)

        def connection_lost(self, exc: Exception | None) -> None:
            if self.server_state is not None:
                self.server_state.connections.discard(self)

        def shutdown(self) -> None:
            if self.upgraded and not self.transport.is_closing():
                self.transport.write(frame(0x8, struct.pack("!H", 1001)))
            self.transport.close()

        def _refuse(self, status: str, body: dict[str, Any]) -> None:
            self.transport.write(_http(status, body))
            self.transport.close()

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            if not self.upgraded:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
                del self.buffer[:end + 4]
                self._handshake(head)
                if not self.upgraded:
                    return
            self._frames()

        def _handshake(self, head: list[str]) -> None:
            parts = head[0].split(" ")
            path = parts[1].split("?", 1)[0] if len(parts) > 1 else ""
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            auth = getattr(state, "auth_string", None)
            if auth and path.startswith("/api"):
                given = headers.get("authorization", "")
                try:
                    ok = given[:6].lower() == "basic " and hmac.compare_digest(
                        base64.b64decode(given[6:].strip(), validate=True), auth.encode())
                except ValueError:
                    ok = False
                if not ok:
                    self._refuse("401 Unauthorized", {"exception_message": "Unauthorized"})
                    return
            key = headers.get("sec-websocket-key")
            if path != EVENTS_IN:
                self._refuse("404 Not Found", {"detail": "Not Found"})
                return
            if not key:
                self._refuse("400 Bad Request", {"detail": "Missing Sec-WebSocket-Key"})
                return
            offered = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
            lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
                     f"Sec-WebSocket-Accept: {accept_key(key)}"]
            if "prefect" in offered:
                lines.append("Sec-WebSocket-Protocol: prefect")
            self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            self.upgraded = True

        def _frames(self) -> None:
            while not self.transport.is_closing():
                try:
                    parsed = parse_frame(self.buffer)
                except ValueError:
                    self.transport.write(frame(0x8, struct.pack("!H", 1009)))
                    self.transport.close()
                    return
                if parsed is None:
                    return
                opcode, fin, payload, used = parsed
                del self.buffer[:used]
                if opcode == 0x8:
                    self.transport.write(frame(0x8, payload[:2]))
                    self.transport.close()
                    return
                if opcode == 0x9:
                    self.transport.write(frame(0xA, payload))
                    continue
                if opcode in (0x0, 0x1, 0x2):
                    self.message += payload
                    if len(self.message) > MAX_MESSAGE:
                        self.transport.write(frame(0x8, struct.pack("!H", 1009)))
                        self.transport.close()
                        return
                    if fin:
                        self._message(bytes(self.message))
                        self.message.clear()

        def _message(self, data: bytes) -> None:
            if self.authenticated:
                return
            try:
                message = json.loads(data)
            except ValueError:
                message = None
            if not isinstance(message, dict) or message.get("type") != "auth":
                self.authenticated = True
                return
            auth = getattr(state, "auth_string", None)
            token = message.get("token")
            if auth and not (isinstance(token, str) and hmac.compare_digest(token.encode(), auth.encode())):
                self.transport.write(frame(0x1, json.dumps({"type": "auth_failure", "reason": "Invalid token"}).encode()))
                self.transport.write(frame(0x8, struct.pack("!H", 1008)))
                self.transport.close()
                return
            self.authenticated = True
            self.transport.write(frame(0x1, json.dumps({"type": "auth_success"}).encode()))

    return EventsSocket
