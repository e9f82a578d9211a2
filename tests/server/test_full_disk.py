"""A database that cannot take writes (full disk, failing writes) answers 503 with the cause, writes
nothing, and the server keeps serving reads and recovers once there is room again (never a bare 500).

PostgreSQL's disk-full error (SQLSTATE 53100) is in ``test_postgres.py``."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from reconciler.server.app import create_app
from reconciler.server.store import open_store

from test_runner_cli import wait_for_url

BIG = "d" * 9000


def test_full_sqlite_database_is_503_with_the_cause_and_recovers(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "s.db"))
    client = TestClient(create_app(store), raise_server_exceptions=False)
    assert client.post("/api/work_pools/", json={"name": "before", "description": BIG}).status_code == 201
    pages = store.one("PRAGMA page_count")[0]
    store.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow: SQLite's own "disk is full"
    counts = store.one("SELECT (SELECT COUNT(*) FROM work_pool) AS pools, (SELECT COUNT(*) FROM work_queue) AS queues")

    refused = client.post("/api/work_pools/", json={"name": "after", "description": BIG})
    assert refused.status_code == 503, refused.text
    assert refused.json()["exception_message"] == "Service Unavailable"
    assert "database or disk is full" in refused.json()["detail"] and "free disk space" in refused.json()["detail"]
    assert store.one("SELECT (SELECT COUNT(*) FROM work_pool) AS pools, (SELECT COUNT(*) FROM work_queue) AS queues") == counts
    assert client.get("/api/work_pools/before").status_code == 200
    assert client.post("/api/work_pools/filter", json={}).status_code == 200

    store.execute(f"PRAGMA max_page_count = {pages * 100}")
    created = client.post("/api/work_pools/", json={"name": "after", "description": BIG})
    assert created.status_code == 201, created.text
    store.close()


def test_server_whose_writes_fail_answers_503_and_keeps_reading(tmp_path: Path) -> None:
    """A real server process whose files may not grow past 400 kB (RLIMIT_FSIZE): the write that
    crosses it fails in the kernel, and the client gets SQLite's cause in a 503."""

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))

    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "server", "start", "--port", "0", "--db", str(tmp_path / "s.db")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=small_files,
    )
    try:
        url = wait_for_url(proc)
        statuses = []
        for i in range(100):
            response = httpx.post(url + "/work_pools/", json={"name": f"p{i}", "description": BIG}, timeout=30)
            statuses.append(response.status_code)
            if response.status_code != 201:
                break
        assert statuses[-1] == 503 and set(statuses[:-1]) == {201}, statuses
        assert "SQLite says" in response.json()["detail"], response.text
        assert httpx.get(url + "/work_pools/p0", timeout=30).status_code == 200
        assert len(httpx.post(url + "/work_pools/filter", json={}, timeout=30).json()) == len(statuses) - 1
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert "Traceback" not in err, err
