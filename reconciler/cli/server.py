"""``poolform server start``: run the reference server (FastAPI + uvicorn) in the foreground.

Parses options, opens the store, prints the PREFECT_API_URL to use and serves
until SIGINT/SIGTERM.  Errors (port in use, unusable database, the ``server`` extra not
installed) are one line on stderr with exit code 1.  Server logic lives in ``reconciler.server``;
this module imports its web stack only once ``start`` runs, so a CLI-only install
(``pip install poolform``) lists and documents the command.
"""

from __future__ import annotations

import errno
import importlib.util
import ipaddress
import os
import signal
import socket
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import click

from reconciler.server import MAX_BODY_BYTES, MAX_DEPTH, MAX_DESCRIPTION_LENGTH, MAX_NAME_LENGTH

DEFAULT_DB_SHOWN = "~/.poolform/server.db"
"""The default database as help and docs/cli.md show it: the same on every machine, whoever's home it is."""
DEFAULT_DB = Path(DEFAULT_DB_SHOWN).expanduser()
SERVER_EXTRA_MODULES = ("anyio", "fastapi", "packaging", "pydantic_core", "starlette", "uvicorn", "websockets")
"""What ``poolform[server]`` installs, by top-level module (uvloop is optional: uvicorn uses it when present).
tests/test_dependencies.py keeps this equal to the extra in pyproject.toml."""
AUTH_ENV = ("POOLFORM_SERVER_AUTH_STRING", "PREFECT_SERVER_API_AUTH_STRING")
API_KEY_ENV = "POOLFORM_SERVER_API_KEY"
READ_ONLY_API_KEY_ENV = "POOLFORM_SERVER_READ_ONLY_API_KEY"
READ_ONLY_AUTH_ENV = "POOLFORM_SERVER_READ_ONLY_AUTH_STRING"


def _quiet_server_class() -> type:
    import uvicorn

    class QuietServer(uvicorn.Server):
        """uvicorn without its own signal capture: SIGINT/SIGTERM end with exit code 0; once it
        listens, the heap start-up freed goes back to the system (:func:`_release_free_heap`)."""

        @contextmanager
        def capture_signals(self):  # type: ignore[no-untyped-def,override]
            yield

        async def startup(self, sockets=None):  # type: ignore[no-untyped-def,override]
            await super().startup(sockets)
            _settle_heap()

    return QuietServer


MMAP_THRESHOLD = 1 << 20
TRIM_THRESHOLD = 4 << 20


def _settle_heap() -> None:
    """Once the server listens: give the C heap's free pages back, then let large buffers reuse
    the heap's pages (glibc's ``malloc_trim`` and ``mallopt``; elsewhere nothing).

    Building the app frees about 1 MB that glibc keeps mapped and never needs again at idle
    (``bench/server_memory.py``: 0.8 MB less resident memory at idle, the same under load).
    A poll of 200 runs moves about 350 kB several times (the database's answer, the text, the
    response's bytes); glibc mapped each such block fresh and gave it back when freed, or trimmed
    the heap's top once more than twice its (self-tuned) mapping threshold was free, so every poll
    faulted its buffers' pages in again: 254 minor page faults a poll of 200, about a third of the
    server's CPU for it (``bench/server_poll.py`` prints the count). Blocks under
    ``MMAP_THRESHOLD`` now come from the heap and up to ``TRIM_THRESHOLD`` of free heap stays
    mapped (at most that much more resident memory after a burst)."""
    import ctypes
    import gc

    gc.collect()
    try:
        libc = ctypes.CDLL(None)
        trim, mallopt = libc.malloc_trim, libc.mallopt
    except (AttributeError, OSError):  # not glibc
        return
    trim(0)
    mallopt(-3, MMAP_THRESHOLD)  # M_MMAP_THRESHOLD
    mallopt(-1, TRIM_THRESHOLD)  # M_TRIM_THRESHOLD


def _without_pydantic_v1() -> None:
    """Make ``pydantic.v1`` unimportable in the server's process (unless something loaded it already).

    FastAPI refuses pydantic.v1 models, yet imports ``pydantic.v1`` once a route declares a body
    model, only to check that the model is not one; with the module unimportable it takes the
    answer "not a v1 model", as it does on a pydantic without ``v1``. The server declares none and
    saves the module's 1.3 MB of resident memory and 30 ms of start (bench/README.md, memory)."""
    sys.modules.setdefault("pydantic.v1", None)  # type: ignore[arg-type]


def _missing_server_modules() -> list[str]:
    return [name for name in SERVER_EXTRA_MODULES if importlib.util.find_spec(name) is None]


def _fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _auth_string(given: str | None, path: Path | None) -> str | None:
    """The basic-auth secret from --auth-string (or its environment variables) or --auth-string-file,
    checked to be ``user:password`` with both parts non-empty (never echoed)."""
    source = "--auth-string"
    if click.get_current_context().get_parameter_source("auth_string") == click.core.ParameterSource.ENVIRONMENT:
        source = next(name for name in AUTH_ENV if os.environ.get(name) is not None)
    if given is not None and path is not None:
        _fail(f"pass either {source} or --auth-string-file, not both")
    if path is not None:
        source = f"--auth-string-file {path}"
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            _fail(f"cannot read {source}: {getattr(exc, 'strerror', None) or exc}")
        given = lines[0] if lines else ""
    if given is None:
        return None
    user, colon, password = given.partition(":")
    if not (user and colon and password):
        _fail(f"{source} must be user:password with a non-empty user and password")
    return given


def _api_key(path: Path | None, env: str = API_KEY_ENV, flag: str = "--api-key-file") -> str | None:
    """The Bearer API key from --api-key-file (its first line) or POOLFORM_SERVER_API_KEY (never echoed)."""
    given = os.environ.get(env) or None
    source = env
    if path is not None:
        if given is not None:
            _fail(f"pass either {env} or {flag}, not both")
        source = f"{flag} {path}"
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            _fail(f"cannot read {source}: {getattr(exc, 'strerror', None) or exc}")
        given = lines[0].strip() if lines else ""
    if given is not None and (not given.strip() or any(c.isspace() for c in given.strip())):
        _fail(f"{source} must be one API key without spaces")
    return given.strip() if given is not None else None


def _read_only_auth_string(path: Path | None) -> str | None:
    """The read-only basic-auth ``user:password`` from --read-only-auth-string-file or its variable."""
    given = _api_key(path, READ_ONLY_AUTH_ENV, "--read-only-auth-string-file")
    if given is not None:
        user, colon, password = given.partition(":")
        if not (user and colon and password):
            _fail("the read-only auth string must be user:password with a non-empty user and password")
    return given


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@click.group("server")
def server() -> None:
    """Run the reference server (a Prefect-compatible API for pools, queues and runs)."""


START_HELP = f"""Start the server and serve until interrupted (Ctrl-C or SIGTERM).

Limits on what one request may carry, each answered 4xx and never 500: a body of at most
--max-body-size bytes (413, before the body is read); JSON with finite numbers, no lone
surrogates and at most {MAX_DEPTH} levels of nesting (422); names of at most {MAX_NAME_LENGTH:,}
characters and descriptions of at most {MAX_DESCRIPTION_LENGTH:,} (422).
"""


@server.command("start", help=START_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=4200, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on (0 = any free port).")
@click.option("--db", "db", default=None, help=f"SQLite file or postgresql:// URL  [default: {DEFAULT_DB_SHOWN}]")
@click.option(
    "--auth-string",
    envvar=list(AUTH_ENV),
    default=None,
    help="Require HTTP basic auth 'user:password' (both non-empty); clients set PREFECT_API_AUTH_STRING. "
    "Prefer --auth-string-file or the environment (POOLFORM_SERVER_AUTH_STRING, or Prefect's "
    "PREFECT_SERVER_API_AUTH_STRING) so the secret is not visible in ps.",
)
@click.option(
    "--auth-string-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Read the 'user:password' for basic auth from the first line of this file.",
)
@click.option(
    "--api-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Also accept 'Authorization: Bearer KEY' (as Prefect Cloud takes API keys; clients set PREFECT_API_KEY) "
    f"with KEY the first line of this file, or {API_KEY_ENV}.",
)
@click.option(
    "--read-only-api-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Also accept this Bearer key (the first line; or {READ_ONLY_API_KEY_ENV}) for reads only: GET, and POST to "
    ".../filter, .../count and .../paginate; anything else answers 403. For CI's plans and drift checks.",
)
@click.option(
    "--read-only-auth-string-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Also accept this basic-auth 'user:password' (the first line; or {READ_ONLY_AUTH_ENV}) for reads only, "
    "as --read-only-api-key-file.",
)
@click.option(
    "--max-body-size",
    type=click.IntRange(min=1024),
    default=MAX_BODY_BYTES,
    show_default=True,
    help="Largest request body in bytes; larger bodies get 413 before they are read.",
)
@click.option(
    "--pending-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=600.0,
    show_default=True,
    help="Seconds a run may stay PENDING under a worker that stopped heartbeating before it returns to SCHEDULED "
    "(its slot freed, the late worker's start refused). A heartbeating worker's runs are never taken back.",
)
@click.option("--log-level", default="warning", show_default=True, type=click.Choice(["critical", "error", "warning", "info", "debug"]), help="Server log level; info and debug also log every request.")
def start(host: str, port: int, db: str | None, auth_string: str | None, auth_string_file: Path | None,
          api_key_file: Path | None, read_only_api_key_file: Path | None, read_only_auth_string_file: Path | None,
          max_body_size: int, pending_timeout: float, log_level: str) -> None:
    """Start the server and serve until interrupted (Ctrl-C or SIGTERM)."""
    missing = _missing_server_modules()
    if missing:
        _fail(f"the reference server needs poolform's server extra ({', '.join(missing)} not installed): "
              "pip install 'poolform[server]'")
    _without_pydantic_v1()
    from reconciler.server.store import StoreError, open_store

    target = db or str(DEFAULT_DB)
    auth_string = _auth_string(auth_string, auth_string_file)
    api_key = _api_key(api_key_file)
    read_only = {"api_key": _api_key(read_only_api_key_file, READ_ONLY_API_KEY_ENV, "--read-only-api-key-file"),
                 "auth_string": _read_only_auth_string(read_only_auth_string_file)}
    if any(read_only.values()) and not (auth_string or api_key):
        _fail("a read-only credential needs the full one too (--auth-string-file or --api-key-file): without it "
              "the server is open to everyone anyway")
    if read_only["api_key"] and read_only["api_key"] == api_key or read_only["auth_string"] and read_only["auth_string"] == auth_string:
        _fail("the read-only credential is the same as the full one")
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

    app = create_app(store, auth_string=auth_string, api_key=api_key, read_only_api_key=read_only["api_key"],
                     read_only_auth_string=read_only["auth_string"], max_body_size=max_body_size,
                     pending_timeout=pending_timeout)
    config = uvicorn.Config(app, log_level=log_level, access_log=log_level in ("info", "debug"), lifespan="off",
                            ws="websockets-sansio")
    sys.setswitchinterval(0.001)  # template checks run in threads: the event loop gets the GIL back within 1 ms
    runner = _quiet_server_class()(config)
    from reconciler.server.runner import quiet_uvicorn

    quiet_uvicorn()

    def _stop(signum: int, frame: object) -> None:
        if runner.should_exit:
            runner.force_exit = True
        runner.should_exit = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)  # before the URL is printed: whoever read it may stop the server at once
    shown_host = f"[{host}]" if ":" in host else host
    if not auth_string and not api_key and not _is_loopback(sock.getsockname()[0]):
        click.echo(f"Warning: serving on {shown_host} without authentication: anyone who can reach this port can "
                   "change pools, queues and runs. Pass --auth-string-file (or set POOLFORM_SERVER_AUTH_STRING).", err=True)
    click.echo(f"poolform reference server on http://{shown_host}:{bound} (database: {store.url if store.dialect == 'sqlite' else 'postgresql'})")
    click.echo(f"PREFECT_API_URL=http://{shown_host}:{bound}/api")
    if auth_string:
        click.echo("Basic auth is on: set PREFECT_API_AUTH_STRING to the same user:password.")
    if api_key:
        click.echo("API key auth is on: set PREFECT_API_KEY to the same key.")
    if any(read_only.values()):
        click.echo("A read-only credential is on: it reads, and gets 403 for anything else.")
    click.echo(f"The API is also served under Prefect Cloud's URL shape: "
               f"http://{shown_host}:{bound}/api/accounts/<id>/workspaces/<id>")
    sys.stdout.flush()
    try:
        runner.run(sockets=[sock])
    finally:
        store.close()
    click.echo("poolform server stopped.")
