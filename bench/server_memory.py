#!/usr/bin/env python3
"""Where the reference server's resident memory goes: ``poolform server start`` on SQLite and on
PostgreSQL, its RSS idle and after load, each split by mapping (``/proc/PID/smaps``).

    .venv/bin/python bench/server_memory.py                  # both stores, idle and after issue 10's protocol
    .venv/bin/python bench/server_memory.py --store sqlite --runs 0  # idle only
    .venv/bin/python bench/server_memory.py --floor          # and an empty FastAPI app on the same stack

For each store: start the server (``server_poll.start_ours``: a temporary SQLite file, or a database
of a throwaway PostgreSQL cluster), wait 2 s, read the RSS of its process tree and split the main
process's by mapping: the C heap and anonymous memory (Python's objects, pydantic's validators, the
drivers' buffers), then each shared library or extension module (its resident pages), grouped by
package. With ``--runs N`` (default 2,000, as ``server_poll.py``'s table) it then runs issue 10's
protocol (``server_poll.measure_table``: runs created through ``create_flow_run``, 1 and 10 in flight,
and a worker's polls) and reads the same again. ``--floor`` also measures a process that imports and
serves what the server's stack does (click, FastAPI, uvicorn with uvloop, httptools and websockets,
the store's driver connected) with one route: what no change to poolform's own code can go below.
Nothing is asserted; it prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import server_poll  # noqa: E402  (this directory, on sys.path above)

FLOOR_APP = """
import socket, sys
import click  # the server starts from poolform's click CLI
db = sys.argv[1]
if db.startswith("postgresql://"):
    import psycopg
    connection = psycopg.connect(db)
else:
    import sqlite3
    connection = sqlite3.connect(db)
import uvicorn
from fastapi import FastAPI
from fastapi.responses import Response

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None,
              telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False})


@app.get("/api/health")
async def health() -> Response:
    return Response(b"true", media_type="application/json")


sock = socket.socket()
sock.bind(("127.0.0.1", int(sys.argv[2])))
sock.listen(128)
uvicorn.Server(uvicorn.Config(app, lifespan="off", ws="websockets-sansio", log_level="warning")).run(sockets=[sock])
"""


def smaps(pid: int) -> dict[str, float]:
    """Resident MB of ``pid`` by mapping name ("[anon]" for anonymous mappings)."""
    sizes: dict[str, float] = {}
    name = "[anon]"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split(maxsplit=5)
        if re.fullmatch(r"[0-9a-f]+-[0-9a-f]+", head[0]):
            name = head[5] if len(head) > 5 else "[anon]"
        elif head[0] == "Rss:":
            sizes[name] = sizes.get(name, 0.0) + int(head[1]) / 1024
    return sizes


def group(path: str) -> str:
    """A mapping's group: the heap, the interpreter, a site-packages distribution, a system library."""
    if path in ("[anon]", "[heap]"):
        return "C heap + anonymous (Python objects, validators, buffers)"
    if path.startswith("["):
        return "stack and kernel pages"
    if "/site-packages/" in path:
        top = path.split("/site-packages/", 1)[1].split("/", 1)[0]
        return "site-packages: " + re.sub(r"(\.libs|-[0-9].*)$", "", top)
    if "libpython" in path or "/lib-dynload/" in path:
        return "the Python interpreter and its extension modules"
    if ".so" in path:
        return "system library: " + Path(path).name.split(".so")[0]
    return "other files"


def breakdown(pid: int) -> list[tuple[str, float]]:
    groups: dict[str, float] = {}
    for path, mb in smaps(pid).items():
        groups[group(path)] = groups.get(group(path), 0.0) + mb
    return sorted(((g, mb) for g, mb in groups.items() if mb >= 0.05), key=lambda item: -item[1])


def show(label: str, pid: int) -> None:
    print(f"  {label}: RSS of the process tree {server_poll.rss_mb(pid):.1f} MB")
    for name, mb in breakdown(pid):
        print(f"    {mb:6.1f} MB  {name}")


def floor(db: str) -> None:
    port = server_poll.free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(FLOOR_APP)
    proc = subprocess.Popen([sys.executable, script.name, db, str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    server = server_poll.Server("floor", f"http://127.0.0.1:{port}/api", proc.pid, proc)
    try:
        server_poll.wait_healthy(server, 60)
        asyncio.run(asyncio.sleep(2))
        show("the stack's floor (an empty FastAPI app, the driver connected), idle", proc.pid)
    finally:
        server.stop()
        os.unlink(script.name)


def measure(db: str | None, runs: int) -> None:
    server = server_poll.start_ours(db)
    try:
        asyncio.run(asyncio.sleep(2))
        show("poolform server start, idle", server.pid)
        if runs:
            table = asyncio.run(server_poll.measure_table(server, polls=50))
            del table
            show(f"after {2 * server_poll.TABLE_RUNS:,} runs created and polled", server.pid)
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--runs", type=int, default=2000, choices=(0, 2000),
                    help="0: idle only; 2000: also after issue 10's protocol (default)")
    ap.add_argument("--floor", action="store_true", help="also measure an empty FastAPI app on the same stack")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    print(f"machine: {os.cpu_count()} cpu, Python {sys.version.split()[0]}, load average "
          + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    if args.store in ("sqlite", "both"):
        print("== SQLite")
        measure(None, args.runs)
        if args.floor:
            floor(tempfile.mkdtemp(prefix="poolform-floor-") + "/floor.db")
    if args.store in ("postgresql", "both"):
        print("== PostgreSQL (one replica, a throwaway cluster)")
        cluster = server_poll.pg_cluster()
        try:
            measure(cluster.new_database("memory"), args.runs)
            if args.floor:
                floor(cluster.new_database("floor"))
        finally:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
