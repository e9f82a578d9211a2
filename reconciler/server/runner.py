"""Run the reference server in a background thread: ``serve_in_thread``.

For tests and embedding: uvicorn on 127.0.0.1 (port 0 picks a free one), the
app from ``create_app``, a handle with ``.url``, ``.api_url`` and ``.stop()``.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from datetime import datetime
from typing import Any, Callable

from reconciler.server.store import Store, open_store


class _NoUpgradeNoise(logging.Filter):
    """No uvicorn error for a refused websocket upgrade.

    uvicorn's websockets-sansio protocol logs "ASGI callable returned without completing
    handshake" after a denial response (the 404/401 the app sends before the upgrade), though
    the client got its answer.  The app either accepts or denies every upgrade, so the line is noise.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing handshake" not in record.getMessage()


def quiet_uvicorn() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _NoUpgradeNoise) for f in logger.filters):
        logger.addFilter(_NoUpgradeNoise())


class ServerHandle:
    def __init__(self, server: Any, thread: threading.Thread, host: str, port: int, store: Store, app: Any,
                 owns_store: bool) -> None:
        self._server = server
        self._thread = thread
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}"
        self.api_url = self.url + "/api"
        self.store = store
        self.app = app
        self._owns_store = owns_store

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> "ServerHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(
    store_path: str | Store = ":memory:",
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    clock: Callable[[], datetime] | None = None,
    auth_string: str | None = None,
    api_key: str | None = None,
    read_only_api_key: str | None = None,
    read_only_auth_string: str | None = None,
    max_body_size: int | None = None,
    timeout: float = 15.0,
) -> ServerHandle:
    """Start the server in a daemon thread and return once it accepts connections.

    ``store_path`` is ":memory:", a file path, a postgresql:// URL or an open ``Store``.
    """
    import uvicorn

    from reconciler.server.app import create_app

    owns_store = isinstance(store_path, str)
    store = open_store(store_path) if isinstance(store_path, str) else store_path
    limits = {} if max_body_size is None else {"max_body_size": max_body_size}
    app = create_app(store, clock=clock, auth_string=auth_string, api_key=api_key, read_only_api_key=read_only_api_key,
                     read_only_auth_string=read_only_auth_string, **limits)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", ws="websockets-sansio")
    server = uvicorn.Server(config)
    quiet_uvicorn()
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=f"poolform-server-{bound_port}")
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the server thread stopped before serving on {host}:{bound_port}")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the server did not start within {timeout} s on {host}:{bound_port}")
        time.sleep(0.01)
    return ServerHandle(server, thread, host, bound_port, store, app, owns_store)
