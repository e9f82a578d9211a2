"""Fresh poolform servers on demand, for Prefect's API tests run in another process.

``POST /servers`` answers ``{"id", "api_url"}`` of a server on a new SQLite file (one is kept
started ahead, so a case waits less); ``DELETE /servers/<id>`` stops it. Loopback only. Must
not be used by anything but tests/compat/test_upstream_api.py.
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from reconciler.server.runner import ServerHandle, serve_in_thread


class ServerFactory:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.servers: dict[str, ServerHandle] = {}
        self.ready: list[tuple[str, ServerHandle]] = []
        self.lock = threading.Lock()
        self.closed = False
        factory = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                server_id, handle = factory.take()
                self._answer({"id": server_id, "api_url": handle.api_url})

            def do_DELETE(self) -> None:  # noqa: N802
                factory.release(self.path.rsplit("/", 1)[-1])
                self._answer({})

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    def _start(self) -> tuple[str, ServerHandle]:
        server_id = uuid.uuid4().hex
        return server_id, serve_in_thread(str(self.directory / f"{server_id}.db"))

    def _prepare(self) -> None:
        made = self._start()
        with self.lock:
            if not self.closed:
                self.ready.append(made)
                return
        made[1].stop()

    def take(self) -> tuple[str, ServerHandle]:
        with self.lock:
            made = self.ready.pop() if self.ready else None
        if made is None:
            made = self._start()
        threading.Thread(target=self._prepare, daemon=True).start()
        with self.lock:
            self.servers[made[0]] = made[1]
        return made

    def release(self, server_id: str) -> None:
        with self.lock:
            handle = self.servers.pop(server_id, None)
        if handle is not None:
            handle.stop()

    def __enter__(self) -> "ServerFactory":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.shutdown()
        with self.lock:
            self.closed = True
            handles = list(self.servers.values()) + [h for _, h in self.ready]
            self.servers.clear()
            self.ready.clear()
        for handle in handles:
            handle.stop()
