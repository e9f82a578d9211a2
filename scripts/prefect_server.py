"""Run a real Prefect 3.9.1 server from its own venv, for the compatibility suite.

Owns: the environment the real server runs in (a temporary PREFECT_HOME and SQLite file, no
profile or PREFECT_* variable inherited from the caller, services the contract does not need
turned off), waiting for `/api/health`, and stopping the server by its process group.
Must not: install anything, touch the caller's Prefect profile, or stop a process it did not start.

As a module: `with running_prefect_server(venv) as api_url: ...` (api_url ends in `/api`).
As a script: `python scripts/prefect_server.py [--venv DIR] [--port P]` prints
`PREFECT_API_URL=...` and serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

DEFAULT_VENV = Path(__file__).resolve().parent.parent / ".venv-prefect"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 10.0
PORT_ATTEMPTS = 5

# Late runs and the foreman stay on (the contract's statuses and "Late" runs depend on them);
# everything else only costs start time, CPU and SQLite locks during the tests.
_SERVER_SETTINGS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_UI_ENABLED": "false",
    "PREFECT_UI_ENABLED": "false",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_REPOSSESSOR_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_CLEANUP_RECONCILER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_EVENT_LOGGER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED": "false",
    "PREFECT_SERVER_EVENTS_STREAM_OUT_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "true",
    "PREFECT_SERVER_SERVICES_FOREMAN_ENABLED": "true",
}


class PrefectServerError(RuntimeError):
    """The real Prefect server could not be started; the message says why and what to do."""


class _PortTaken(PrefectServerError):
    """The server exited because another process bound its port first."""


def prefect_executable(venv: str | os.PathLike[str]) -> Path:
    """The `prefect` command of `venv`, or PrefectServerError naming how to create the venv."""
    exe = Path(venv).resolve() / "bin" / "prefect"
    if not exe.is_file() or not os.access(exe, os.X_OK):
        raise PrefectServerError(
            f"no Prefect installation at {exe}: create it with "
            f"`python3 -m venv {venv} && {venv}/bin/pip install prefect==3.9.1` "
            "(or run `make compat`, which does this)"
        )
    return exe


def clean_prefect_env(home: str | os.PathLike[str], **extra: str) -> dict[str, str]:
    """The caller's environment without any PREFECT_* variable, with PREFECT_HOME=home and `extra`.

    Use it for every real-Prefect process (server or CLI) so no profile or setting leaks in.
    """
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(home)
    env["PREFECT_PROFILES_PATH"] = str(Path(home) / "profiles.toml")
    env["NO_COLOR"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as resp:
            return resp.status == 200 and resp.read().strip() == b"true"
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no server log)"
    return "\n".join(text.splitlines()[-lines:]) or "(server log is empty)"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stops the server's process group: what is left of it too when the server exited on its own
    (a server that could not bind its port leaves the children it started)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    if proc.poll() is not None:
        return
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_TIMEOUT_S)


@contextlib.contextmanager
def running_prefect_server(
    venv: str | os.PathLike[str] = DEFAULT_VENV,
    *,
    port: int | None = None,
    timeout: float = START_TIMEOUT_S,
) -> Iterator[str]:
    """Start a real Prefect server on 127.0.0.1 with a fresh SQLite database; yield its API URL.

    The URL ends in `/api` (the form PREFECT_API_URL takes). The server runs in its own process
    group and is stopped (SIGTERM, then SIGKILL) when the block exits, whatever happened inside.
    Raises PrefectServerError with the tail of the server's log when it is not healthy in time.
    """
    exe = prefect_executable(venv)
    with tempfile.TemporaryDirectory(prefix="poolform-prefect-") as tmp:
        home = Path(tmp)
        log_path = home / "server.log"
        env = clean_prefect_env(
            home,
            PREFECT_SERVER_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{home / 'prefect.db'}",
            **_SERVER_SETTINGS,
        )
        deadline = time.monotonic() + timeout
        for attempt in range(1 if port else PORT_ATTEMPTS):
            # A port found free is not held until the server binds it, seconds later: a server
            # started meanwhile can take it. Then Prefect exits saying so, and another port is tried.
            chosen = port or free_port()
            api_url = f"http://127.0.0.1:{chosen}/api"
            proc = _start(exe, chosen, home, env, log_path)
            try:
                _wait_healthy(proc, api_url, deadline, timeout, log_path)
            except _PortTaken:
                if attempt == PORT_ATTEMPTS - 1:
                    raise
                continue
            try:
                yield api_url
            finally:
                _stop(proc)
            return


def _start(exe: Path, port: int, home: Path, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [str(exe), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            cwd=home,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_healthy(proc: subprocess.Popen[bytes], api_url: str, deadline: float, timeout: float, log_path: Path) -> None:
    """Returns once the server answers; stops it and raises PrefectServerError otherwise."""
    try:
        while not _healthy(api_url):
            if proc.poll() is not None:
                tail = _log_tail(log_path)
                kind = _PortTaken if "already in use" in tail.lower() else PrefectServerError
                raise kind(
                    f"the Prefect server exited with code {proc.returncode} before it was "
                    f"healthy at {api_url}; its log ends with:\n{tail}"
                )
            if time.monotonic() > deadline:
                raise PrefectServerError(
                    f"the Prefect server was not healthy at {api_url} after {timeout:.0f} s; "
                    f"its log ends with:\n{_log_tail(log_path)}"
                )
            time.sleep(0.2)
    except BaseException:
        _stop(proc)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a real Prefect server for compatibility tests.")
    parser.add_argument("--venv", default=str(DEFAULT_VENV), help="venv holding prefect==3.9.1")
    parser.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    args = parser.parse_args(argv)

    stop = {"now": False}

    def _request_stop(signum: int, _frame: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    try:
        with running_prefect_server(args.venv, port=args.port) as api_url:
            print(f"PREFECT_API_URL={api_url}", flush=True)
            while not stop["now"]:
                time.sleep(0.2)
    except PrefectServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
