"""The events intake websocket over a real socket: handshake, auth, ping, close, refusals."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct

import pytest

from reconciler.server.events_socket import accept_key, frame, parse_frame
from reconciler.server.runner import serve_in_thread


def _client_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    mask = os.urandom(4)
    size = len(payload)
    first = (0x80 if fin else 0) | opcode
    if size < 126:
        head = struct.pack("!BB", first, 0x80 | size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", first, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, size)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class Conn:
    def __init__(self, port: int, path: str, headers: dict[str, str] | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {self.key}", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Protocol: prefect"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        self.head = head.decode("latin-1")
        self.status = int(self.head.split(" ")[1])

    def send(self, opcode: int, payload: bytes, fin: bool = True) -> None:
        self.sock.sendall(_client_frame(opcode, payload, fin))

    def recv(self) -> tuple[int, bytes]:
        while True:
            parsed = parse_frame(self.buffer)
            if parsed is not None:
                opcode, _, payload, used = parsed
                self.buffer = self.buffer[used:]
                return opcode, payload
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed before a frame arrived"
            self.buffer += chunk


@pytest.fixture(scope="module")
def server():
    with serve_in_thread() as handle:
        yield handle


@pytest.fixture(scope="module")
def auth_server():
    with serve_in_thread(auth_string="user:pass") as handle:
        yield handle


def test_events_in_accepts_authenticates_answers_pings_and_drains_events(server):
    conn = Conn(server.port, "/api/events/in")
    assert conn.status == 101
    assert f"Sec-WebSocket-Accept: {accept_key(conn.key)}" in conn.head and "Sec-WebSocket-Protocol: prefect" in conn.head
    conn.send(0x1, json.dumps({"type": "auth", "token": None}).encode())
    assert conn.recv() == (0x1, b'{"type": "auth_success"}')
    event = json.dumps({"event": "prefect.flow-run.Running", "payload": "x" * 70000}).encode()
    conn.send(0x1, event[:100], fin=False)
    conn.send(0x0, event[100:])
    conn.send(0x9, b"checkpoint")
    assert conn.recv() == (0xA, b"checkpoint")
    conn.send(0x8, struct.pack("!H", 1000))
    assert conn.recv() == (0x8, struct.pack("!H", 1000))
    conn.sock.close()


@pytest.mark.parametrize("path", ["/api/events/out", "/api/work_pools/p/workers/connect", "/api/nothing"],
                         ids=["events-out", "worker-channel", "unknown"])
def test_other_websocket_paths_are_refused_with_404_so_clients_poll(server, path):
    conn = Conn(server.port, path)
    assert conn.status == 404 and json.loads(conn.buffer) == {"detail": "Not Found"}


@pytest.mark.parametrize(
    ("header", "token", "outcome"),
    [(None, "user:pass", 401), ("user:pass", "user:pass", "auth_success"), ("user:pass", "wrong", "auth_failure")],
    ids=["no-header", "right-token", "wrong-token"],
)
def test_basic_auth_guards_the_upgrade_and_the_auth_message(auth_server, header, token, outcome):
    headers = {"Authorization": "Basic " + base64.b64encode(header.encode()).decode()} if header else {}
    conn = Conn(auth_server.port, "/api/events/in", headers)
    if outcome == 401:
        assert conn.status == 401
        return
    assert conn.status == 101
    conn.send(0x1, json.dumps({"type": "auth", "token": token}).encode())
    opcode, payload = conn.recv()
    assert opcode == 0x1 and json.loads(payload)["type"] == outcome


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536], ids=lambda s: f"len-{s}")
def test_frames_round_trip_at_each_length_encoding(size):
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert parse_frame(frame(0x2, payload)) == (0x2, True, payload, len(frame(0x2, payload)))
    masked = _client_frame(0x1, payload)
    assert parse_frame(masked) == (0x1, True, payload, len(masked))
    assert parse_frame(masked[:-1] if size else masked[:1]) is None


def test_accept_key_matches_rfc_6455_example():
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
