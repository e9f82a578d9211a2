"""``poolform status --watch`` as a process against our server over a socket: it refreshes (in
place on a terminal, through rich's Live; one document a line with --json; a table per refresh
elsewhere) until Ctrl-C, which exits 0 without a traceback."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import uuid
from typing import Any, Callable

import httpx
import pytest

WAIT_S = 60


def _seed(api_url: str) -> str:
    pool = f"watch-{uuid.uuid4().hex[:6]}"
    with httpx.Client(base_url=api_url + "/", timeout=30) as http:
        assert http.post("work_pools/", json={"name": pool, "type": "process", "concurrency_limit": 2}).status_code == 201
        http.post(f"work_pools/{pool}/workers/heartbeat", json={"name": "w1"})
    return pool


def _read_until(read: Callable[[], bytes], done: Callable[[str], bool]) -> str:
    seen = ""
    while not done(seen):
        chunk = read()
        if not chunk:
            break
        seen += chunk.decode("utf-8", "replace")
    return seen


def _ctrl_c_heard() -> None:
    """In the child before exec: SIGINT back to its default, so Python installs its Ctrl-C handler
    even when this suite runs as a background job (which starts with SIGINT ignored, inherited)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _env(**extra: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "POOLFORM_")) and k not in ("CI", "NO_COLOR")}
    return {**env, **extra}


@pytest.mark.parametrize("json_lines", [False, True], ids=["plain", "json"])
def test_watch_refreshes_until_ctrl_c_and_exits_0(socket_server: Any, json_lines: bool) -> None:
    pool = _seed(socket_server.api_url)
    args = [sys.executable, "-m", "reconciler", "status", "--watch", "--interval", "0.5", "--pool", pool,
            "--api-url", socket_server.api_url, *(["--json"] if json_lines else [])]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(NO_COLOR="1"),
                            preexec_fn=_ctrl_c_heard)
    try:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()

        def read() -> bytes:
            ready, _, _ = select.select([fd], [], [], WAIT_S)
            return os.read(fd, 65536) if ready else b""

        seen = _read_until(read, lambda text: text.count(pool) >= 2)
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert seen.count(pool) >= 2, seen
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err
    if json_lines:
        lines = [line for line in (seen + rest.decode()).splitlines() if line.strip()]
        documents = [json.loads(line) for line in lines[:2]]
        assert all(d["pools"][0]["name"] == pool and d["pools"][0]["concurrency_limit"] == 2 for d in documents)
    else:
        assert "w1" in seen and "ONLINE" in seen and "\x1b[" not in seen


def test_watch_on_a_terminal_redraws_in_place(socket_server: Any) -> None:
    pool = _seed(socket_server.api_url)
    master, slave = pty.openpty()
    args = [sys.executable, "-m", "reconciler", "status", "--watch", "--interval", "0.5", "--pool", pool,
            "--api-url", socket_server.api_url]
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                            env=_env(TERM="xterm-256color", COLUMNS="120", LINES="40"), preexec_fn=_ctrl_c_heard)
    os.close(slave)
    try:
        def read() -> bytes:
            ready, _, _ = select.select([master], [], [], WAIT_S)
            try:
                return os.read(master, 65536) if ready else b""
            except OSError:
                return b""

        seen = _read_until(read, lambda text: text.count(pool) >= 2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert seen.count(pool) >= 2, seen
    assert "\x1b[" in seen  # colour and cursor movement: the table is redrawn where it stands
    assert "\x1b[2K" in seen or "\x1b[1A" in seen or "\x1b[A" in seen, repr(seen[-400:])
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err
