"""The server over a real socket: ``serve_in_thread`` and ``poolform server start`` as a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from reconciler.server.runner import serve_in_thread
from reconciler.server.store import open_store


def test_serve_in_thread_on_a_file_persists(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with serve_in_thread(str(db)) as server:
        assert server.api_url == server.url + "/api"
        assert server.url.startswith("http://127.0.0.1:")
        assert httpx.get(server.api_url + "/health").json() is True
        assert httpx.post(server.api_url + "/work_pools/", json={"name": "kept", "type": "process"}).status_code == 201
    with serve_in_thread(str(db)) as again:
        assert httpx.get(again.api_url + "/work_pools/kept").status_code == 200
    store = open_store(str(db))
    assert store.one("PRAGMA journal_mode")[0] == "wal"
    store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", "server", "start", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
    )


def wait_for_url(proc: subprocess.Popen) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("PREFECT_API_URL="):
            return line.strip().split("=", 1)[1]
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"no PREFECT_API_URL line; stderr: {proc.stderr.read() if proc.stderr else ''}")


def start_on_a_free_port(args: list[str], attempts: int = 5) -> tuple[subprocess.Popen, int]:
    """``poolform server start --port P *args`` on a port found free, once it listens, and P. A port
    found free can be taken before the server binds it (by a server another test starts): the server
    then exits saying the port is in use, and another port is tried."""
    for _ in range(attempts):
        port = free_port()
        proc = start(["--port", str(port), *args])
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("PREFECT_API_URL="):
                assert line.strip() == f"PREFECT_API_URL=http://127.0.0.1:{port}/api"
                return proc, port
        _, err = proc.communicate(timeout=20)
        assert f"port {port} on 127.0.0.1 is already in use" in err, f"no PREFECT_API_URL line; stderr: {err}"
    raise AssertionError(f"{attempts} ports found free were all taken before the server bound them")


def _stop_with(proc: subprocess.Popen, sig: int) -> tuple[str, str]:
    """Send ``sig`` and wait for the server to end (killed after 20 s): its stdout and stderr."""
    proc.send_signal(sig)
    try:
        return proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_server_start_prints_url_serves_and_stops(tmp_path: Path, sig: int) -> None:
    proc, port = start_on_a_free_port(["--db", str(tmp_path / "nested" / "s.db")])
    try:
        url = f"http://127.0.0.1:{port}/api"
        assert httpx.get(url + "/health").json() is True
    finally:
        out, err = _stop_with(proc, sig)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert (tmp_path / "nested" / "s.db").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_server_stopped_as_soon_as_it_prints_its_url_exits_0(tmp_path: Path, sig: int) -> None:
    """A supervisor may stop the server the moment it reads the PREFECT_API_URL line, before any
    request: the signal handlers are in place by then (exit 0, no traceback)."""
    for _ in range(5):
        proc = start(["--port", "0", "--db", str(tmp_path / "s.db")])
        try:
            wait_for_url(proc)
        finally:
            out, err = _stop_with(proc, sig)
        assert proc.returncode == 0, err
        assert "Traceback" not in err and "poolform server stopped." in out


def test_server_start_with_auth_string_from_env(tmp_path: Path) -> None:
    proc = start(["--port", "0", "--db", str(tmp_path / "s.db")], env={"POOLFORM_SERVER_AUTH_STRING": "u:p"})
    try:
        url = wait_for_url(proc)
        assert httpx.get(url + "/health").status_code == 200
        assert httpx.get(url + "/version").status_code == 401
        assert httpx.get(url + "/version", auth=("u", "p")).json() == "0.8.4"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)


def test_port_in_use_is_one_line_exit_1(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "reconciler", "server", "start", "--port", str(port), "--db", str(tmp_path / "s.db")],
            capture_output=True, text=True, timeout=30,
        )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"Error: port {port} on 127.0.0.1 is already in use; stop the other process or pass --port"]


def test_unwritable_db_is_one_line_exit_1(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "server", "start", "--port", "0", "--db", str(blocker / "s.db")],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot create") and "--db" in lines[0]


def test_unreachable_postgres_is_one_line_exit_1() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "server", "start", "--port", "0", "--db", "postgresql://nobody@127.0.0.1:1/x"],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot open the PostgreSQL database:")


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--auth-string", "s3cr3t-no-colon"], {}, "--auth-string must be user:password with a non-empty user and password"),
        (["--auth-string", ":s3cr3t"], {}, "--auth-string must be user:password"),
        (["--auth-string", "user:"], {}, "--auth-string must be user:password"),
        ([], {"PREFECT_SERVER_API_AUTH_STRING": "s3cr3t"}, "PREFECT_SERVER_API_AUTH_STRING must be user:password"),
        (["--auth-string-file", "{tmp}/secret"], {}, "--auth-string-file {tmp}/secret must be user:password"),
        (["--auth-string-file", "{tmp}/missing"], {}, "cannot read --auth-string-file {tmp}/missing: No such file or directory"),
        (["--auth-string", "u:s3cr3t", "--auth-string-file", "{tmp}/secret"], {}, "pass either --auth-string or --auth-string-file, not both"),
    ],
    ids=["no-colon", "empty-user", "empty-password", "prefect-env-no-colon", "file-no-colon", "file-missing", "both"],
)
def test_bad_auth_string_is_one_line_exit_1_without_the_secret(tmp_path: Path, args, env, message) -> None:
    (tmp_path / "secret").write_text("s3cr3t\n")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    clean = {k: v for k, v in os.environ.items() if k not in ("POOLFORM_SERVER_AUTH_STRING", "PREFECT_SERVER_API_AUTH_STRING")}
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "server", "start", "--port", "0", "--db", str(tmp_path / "s.db"), *args],
        capture_output=True, text=True, timeout=30, env={**clean, **env},
    )
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: {message.replace('{tmp}', str(tmp_path))}"), line
    assert "s3cr3t" not in result.stderr + result.stdout


@pytest.mark.parametrize("source", ["file", "prefect-env"])
def test_auth_string_from_a_file_or_prefects_variable_is_not_in_ps(tmp_path: Path, source: str) -> None:
    secret = tmp_path / "auth"
    secret.write_text("ops:hunter2:with-colon\n")
    args, env = ["--auth-string-file", str(secret)], {}
    if source == "prefect-env":
        args, env = [], {"PREFECT_SERVER_API_AUTH_STRING": "ops:hunter2:with-colon"}
    proc = start(["--port", "0", "--db", str(tmp_path / "s.db"), *args], env=env)
    try:
        url = wait_for_url(proc)
        assert httpx.get(url + "/version").status_code == 401
        assert httpx.get(url + "/version", auth=("ops", "hunter2:with-colon")).json() == "0.8.4"
        assert "hunter2" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode(errors="replace")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)


@pytest.mark.parametrize(("host", "auth", "warned"), [("0.0.0.0", None, True), ("0.0.0.0", "u:p", False), ("127.0.0.1", None, False)],
                         ids=["all-interfaces-open", "all-interfaces-auth", "loopback"])
def test_non_loopback_host_without_auth_warns(tmp_path: Path, host: str, auth: str | None, warned: bool) -> None:
    env = {"POOLFORM_SERVER_AUTH_STRING": auth} if auth else {}
    clean_env = {k: v for k, v in os.environ.items() if k not in ("POOLFORM_SERVER_AUTH_STRING", "PREFECT_SERVER_API_AUTH_STRING")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "server", "start", "--host", host, "--port", "0", "--db", str(tmp_path / "s.db")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**clean_env, **env},
    )
    try:
        wait_for_url(proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert ("without authentication" in err) == warned, err
