#!/usr/bin/env python3
"""Health latency of the reference server while it validates large base job templates.

Starts ``poolform server start`` on a temporary SQLite file as a subprocess (so this client does
not share the server's interpreter), then:

1. anchor: ``--probes`` sequential ``GET /api/health`` on the idle server (p50, p99, max);
2. load: ``--templates`` pools created one after the other, each with a distinct base job template
   of about ``--mb`` MB (``--variables`` string variables with titles, descriptions and defaults, all
   used by ``job_configuration``), from a background thread; meanwhile health is probed back to back
   and every answer that arrives while a creation is in flight is counted;
3. then times, on the first of those pools, a deployment with job variables and ``--runs`` runs of it
   (each run's job variables are checked against the template, as Prefect does);
4. prints the creation times, health p50/p99/max under load, the ratio of the p99s, and the
   deployment and run times.

    .venv/bin/python bench/server_validation.py [--mb 2] [--templates 3] [--probes 300]

Binds 127.0.0.1 only; stops only the server it started (by its process group). Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx


def template(variables: int, salt: int) -> dict:
    properties = {
        f"v{i}": {"type": "string", "title": f"Variable {i}", "description": "d" * 150, "default": f"value-{salt}-{i}"}
        for i in range(variables)
    }
    return {
        "job_configuration": {"command": "{{ v0 }}", "env": {f"E{i}": f"{{{{ v{i} }}}}" for i in range(variables)}},
        "variables": {"type": "object", "properties": properties},
    }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def start_server(db: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "server", "start", "--host", "127.0.0.1", "--port", "0", "--db", str(db)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("PREFECT_API_URL="):
            return proc, line.strip().split("=", 1)[1]
    raise SystemExit(f"the server did not start: {proc.stderr.read() if proc.stderr else ''}")


def probe(client: httpx.Client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url + "/health")
    response.raise_for_status()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=2.0, help="approximate size of each template body")
    parser.add_argument("--templates", type=int, default=3)
    parser.add_argument("--probes", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    variables = max(1, int(args.mb * 1_000_000 / 275))

    with tempfile.TemporaryDirectory(prefix="poolform-bench-") as tmp:
        proc, url = start_server(Path(tmp) / "s.db")
        try:
            with httpx.Client(timeout=600) as client:
                for _ in range(20):
                    probe(client, url)
                idle = [probe(client, url) for _ in range(args.probes)]

                bodies = [json.dumps({"name": f"big-{i}", "type": "process", "base_job_template": template(variables, i)})
                          for i in range(args.templates)]
                created: list[tuple[int, float]] = []
                busy = threading.Event()

                def create() -> None:
                    with httpx.Client(timeout=600) as poster:
                        for body in bodies:
                            busy.set()
                            started = time.perf_counter()
                            response = poster.post(url + "/work_pools/", content=body, headers={"content-type": "application/json"})
                            created.append((response.status_code, time.perf_counter() - started))
                    busy.clear()

                worker = threading.Thread(target=create)
                worker.start()
                busy.wait()
                loaded: list[float] = []
                while worker.is_alive():
                    latency = probe(client, url)
                    if busy.is_set():
                        loaded.append(latency)
                worker.join()

                flow = client.post(url + "/flows/", json={"name": "bench"}).json()
                started = time.perf_counter()
                deployment = client.post(url + "/deployments/", json={
                    "name": "bench", "flow_id": flow["id"], "work_pool_name": "big-0", "job_variables": {"v1": "x"}})
                deployment_seconds = time.perf_counter() - started
                run_seconds = []
                for i in range(args.runs):
                    started = time.perf_counter()
                    run = client.post(url + f"/deployments/{deployment.json()['id']}/create_flow_run", json={"job_variables": {"v2": str(i)}})
                    run.raise_for_status()
                    run_seconds.append(time.perf_counter() - started)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)

    size = len(bodies[0]) / 1e6
    print(f"templates: {args.templates} x {size:.2f} MB ({variables} variables each)")
    for status, seconds in created:
        print(f"  create: HTTP {status} in {seconds:.2f} s")
    print(f"health idle        ({len(idle)} probes): p50 {percentile(idle, 50):.2f} ms, p99 {percentile(idle, 99):.2f} ms, max {max(idle):.2f} ms")
    if loaded:
        print(f"health during load ({len(loaded)} probes): p50 {percentile(loaded, 50):.2f} ms, "
              f"p99 {percentile(loaded, 99):.2f} ms, max {max(loaded):.2f} ms")
        print(f"p99 under load / p99 idle: {percentile(loaded, 99) / percentile(idle, 99):.1f}x")
    print(f"deployment with job variables: HTTP {deployment.status_code} in {deployment_seconds:.2f} s")
    print("runs (job variables checked): " + ", ".join(f"{s:.3f} s" for s in run_seconds))


if __name__ == "__main__":
    main()
