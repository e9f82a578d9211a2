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


@dataclass
class Server:
    label: str
    api_url: str
    pid: int | None = None
    proc: subprocess.Popen | None = None
    tmpdir: str | None = None

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


def start_ours() -> Server:
    tmp = tempfile.mkdtemp(prefix="poolform-bench-")
    port = free_port()
    exe = Path(sys.executable).with_name("poolform")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "reconciler"]
    cmd += ["server", "start", "--host", "127.0.0.1", "--port", str(port), "--db", f"{tmp}/bench.db"]
    log = open(f"{tmp}/server.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server("poolform", f"http://127.0.0.1:{port}/api", proc.pid, proc, tmp)
    wait_healthy(server, 60)
    return server


def start_prefect(venv: str) -> Server:
    exe = Path(venv) / "bin" / "prefect"
    if not exe.exists():
        raise SystemExit(f"{exe} not found: build it with `python3 -m venv {venv} && {venv}/bin/pip install prefect==3.9.1`")
    tmp = tempfile.mkdtemp(prefix="prefect-bench-")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=tmp, PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_ENABLED="false")
    log = open(f"{tmp}/server.log", "wb")
    proc = subprocess.Popen([str(exe), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server = Server("prefect", f"http://127.0.0.1:{port}/api", proc.pid, proc, tmp)
    wait_healthy(server, 180)
    return server


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

    async def _once(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self._open()
        assert self.reader is not None and self.writer is not None
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

    async def post(self, path: str, body: bytes, result: Result) -> bytes:
        """POST with the same retry policy as ``request``; returns the response body."""
        attempts = 25
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
            for i in indexes:
                await conn.post("/flow_runs/", bodies[i], result)
        finally:
            conn.close()

    began, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - began
    result.client_cpu[f"{start}->{stop}"] = (time.process_time() - cpu) / wall
    return (stop - start) / wall


async def poll_latency(api_url, result, pool, body, n) -> dict[str, float]:
    path = f"/work_pools/{pool}/get_scheduled_flow_runs"
    payload = json.dumps(body).encode()
    conn = RawConnection(api_url)
    try:
        returned = len(json.loads(await conn.post(path, payload, result)))
        for _ in range(3):
            await conn.post(path, payload, result)
        times = []
        for _ in range(n):
            began = time.perf_counter()
            await conn.post(path, payload, result)
            times.append((time.perf_counter() - began) * 1000)
    finally:
        conn.close()
    times.sort()
    return {"p50": percentile(times, 50), "p95": percentile(times, 95), "p99": percentile(times, 99),
            "returned": returned, "n": n}


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
        yield f"RSS {'idle' if 'idle' in name else 'after load'} (MB)", fmt(a), fmt(b), ratio(a, b, False)


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


def run_one(make_server, sizes: list[int], args) -> Result:
    """Start (or attach to) one server, measure it, stop it if we started it: one at a time."""
    server = make_server()
    try:
        return asyncio.run(measure(server, sizes, args.clients, args.polls))
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="measure an already running poolform server (API URL ending in /api)")
    ap.add_argument("--pid", type=int, help="PID of the --url server, for RSS")
    ap.add_argument("--against", help="also measure this server (e.g. a real Prefect 3.9.1), API URL")
    ap.add_argument("--against-pid", type=int, help="PID of the --against server, for RSS")
    ap.add_argument("--start-prefect", metavar="VENV", help="start a real Prefect server from VENV and use it as --against")
    ap.add_argument("--sizes", default="1000,10000", help="cumulative run counts (default 1000,10000)")
    ap.add_argument("--polls", type=int, default=100, help="measured polls per size and limit (default 100)")
    ap.add_argument("--clients", type=int, default=4, help="concurrent clients creating runs (default 4)")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if sizes != sorted(sizes) or sizes[0] <= 0:
        ap.error("--sizes must be increasing positive numbers, e.g. 1000,10000")

    ours = run_one(lambda: Server("poolform", args.url.rstrip("/"), args.pid) if args.url else start_ours(),
                   sizes, args)
    theirs = None
    if args.start_prefect or args.against:
        print(report(ours, None, sizes), file=sys.stderr)
        theirs = run_one(lambda: start_prefect(args.start_prefect) if args.start_prefect
                         else Server("prefect", args.against.rstrip("/"), args.against_pid), sizes, args)
    print(report(ours, theirs, sizes))
    if args.json:
        Path(args.json).write_text(json.dumps({"ours": ours.__dict__, "theirs": theirs.__dict__ if theirs else None},
                                              indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
