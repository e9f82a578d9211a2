"""``poolform server start``: run the reference server (FastAPI + uvicorn) in the foreground.

Parses options, opens the store, prints the PREFECT_API_URL to use and serves
until SIGINT/SIGTERM.  Errors (port in use, unusable database) are one line on
stderr with exit code 1.  Server logic lives in ``reconciler.server``.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
from contextlib import contextmanager
from pathlib import Path

import click

DEFAULT_DB = Path.home() / ".poolform" / "server.db"


def _quiet_server_class() -> type:
    import uvicorn

    class QuietServer(uvicorn.Server):
        """uvicorn without its own signal capture: SIGINT/SIGTERM end with exit code 0."""

        @contextmanager
        def capture_signals(self):  # type: ignore[no-untyped-def,override]
            yield

    return QuietServer


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@click.group("server")
def server() -> None:
    """Run the reference server (a Prefect-compatible API for pools, queues and runs)."""


@server.command("start")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=4200, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on (0 = any free port).")
@click.option("--db", "db", default=None, help=f"SQLite file or postgresql:// URL  [default: {DEFAULT_DB}]")
@click.option(
    "--auth-string",
    envvar="POOLFORM_SERVER_AUTH_STRING",
    default=None,
    help="Require HTTP basic auth 'user:pass' (env POOLFORM_SERVER_AUTH_STRING); clients set PREFECT_API_AUTH_STRING.",
)
@click.option("--log-level", default="warning", show_default=True, type=click.Choice(["critical", "error", "warning", "info", "debug"]), help="Server log level; info and debug also log every request.")
def start(host: str, port: int, db: str | None, auth_string: str | None, log_level: str) -> None:
    """Start the server and serve until interrupted (Ctrl-C or SIGTERM)."""
    from reconciler.server.store import StoreError, open_store

    target = db or str(DEFAULT_DB)
    if auth_string is not None and ":" not in auth_string:
        _fail("--auth-string must look like user:pass")
    if not target.startswith(("postgresql://", "postgres://")) and target != ":memory:":
        path = Path(target).expanduser()
        target = str(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            _fail(f"cannot create {path.parent}: {exc.strerror}; pass --db with a writable path")
        if (path.exists() and not os.access(path, os.W_OK)) or not os.access(path.parent, os.W_OK):
            _fail(f"the database {path} is not writable; pass --db with a writable path")

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            _fail(f"port {port} on {host} is already in use; stop the other process or pass --port")
        _fail(f"cannot listen on {host}:{port}: {exc.strerror}")
    bound = sock.getsockname()[1]
    sock.listen(2048)

    try:
        store = open_store(target)
    except StoreError as exc:
        sock.close()
        _fail(str(exc))

    import uvicorn

    from reconciler.server.app import create_app

    app = create_app(store, auth_string=auth_string)
    shown_host = f"[{host}]" if ":" in host else host
    click.echo(f"poolform reference server on http://{shown_host}:{bound} (database: {store.url if store.dialect == 'sqlite' else 'postgresql'})")
    click.echo(f"PREFECT_API_URL=http://{shown_host}:{bound}/api")
    if auth_string:
        click.echo("Basic auth is on: set PREFECT_API_AUTH_STRING to the same user:pass.")
    sys.stdout.flush()
    config = uvicorn.Config(app, log_level=log_level, access_log=log_level in ("info", "debug"), lifespan="off",
                            ws="websockets-sansio")
    runner = _quiet_server_class()(config)
    from reconciler.server.runner import quiet_uvicorn

    quiet_uvicorn()

    def _stop(signum: int, frame: object) -> None:
        if runner.should_exit:
            runner.force_exit = True
        runner.should_exit = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        runner.run(sockets=[sock])
    finally:
        store.close()
    click.echo("poolform server stopped.")
