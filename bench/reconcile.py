"""Benchmark: plan and apply of 1,000 pools x 5 queues against the reference server.

Starts ``poolform server start`` as a subprocess on a temporary SQLite file
(127.0.0.1, a free port), generates a config, then times:

* plan against the empty server, apply (from the saved plan, stale check
  included), and the second plan (which must be empty), each with its HTTP call
  count, in process through the same functions the CLI uses;
* the same plan as a ``poolform plan`` subprocess (wall time, start-up included);
* ``poolform --version`` cold start (median of 10 runs);
* the anchor: the seeds' CI recipe, a loop of ``prefect work-pool update``
  processes, N=5 runs from .venv-prefect when it exists (else skipped, saying why).

Targets: plan <= 1.5 s, apply >= 300 pools/s, --version <= 0.2 s.
Usage: python bench/reconcile.py [--pools 1000] [--queues 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
POOLFORM = [PY, "-m", "reconciler"]


NODELAY_SHIM = """
import socket, sys
import asyncio.base_events as base_events
def _set_nodelay(sock):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
base_events._set_nodelay = _set_nodelay
sys.argv[0] = "poolform"
from reconciler.cli.main import main
main()
"""
"""A server whose listening socket was made with proto 0 gets no TCP_NODELAY from asyncio on
accepted sockets; its two-part responses then wait for the client's delayed ACK (~40 ms each).
The shim shows what the server does with the option on."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(path: Path, pools: int, queues: int) -> None:
    template = json.loads((REPO / "reconciler" / "data" / "process-default-base-job-template.json").read_text())
    doc = {
        "version": 1,
        "manage": {"prune": True, "scope": ["bench-*"]},
        "base_job_templates": {"proc": template},
        "work_pools": {},
    }
    for i in range(pools):
        qs = {}
        for j in range(queues):
            q = {"priority": 2 + j * 3, "concurrency_limit": j + 1}
            if j == queues - 1:
                q["description"] = "bulk work"
            qs[f"q{j}"] = q
        doc["work_pools"][f"bench-{i:04d}"] = {
            "type": "process",
            "description": f"bench pool {i}",
            "concurrency_limit": 10 + i % 7,
            "base_job_template": {"template": "proc", "defaults": {"command": f"python -m job{i % 3}"}},
            "queues": qs,
        }
    path.write_text(json.dumps(doc, indent=1))


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited early with code {proc.returncode}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"the server at {url} did not become ready within {timeout} s")


def timed(fn):
    t = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t


def version_cold_start(runs: int = 10) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([str(Path(PY).parent / "poolform"), "--version"], check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def anchor(api_url: str, runs: int = 5) -> tuple[float | None, str]:
    prefect = REPO / ".venv-prefect" / "bin" / "prefect"
    if not prefect.exists():
        return None, f"skipped: {prefect} does not exist (make compat creates it)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"PREFECT_API_URL": api_url, "PREFECT_HOME": tempfile.mkdtemp(prefix="bench-prefect-home-")})
    times = []
    for i in range(runs):
        t = time.perf_counter()
        done = subprocess.run([str(prefect), "work-pool", "update", "bench-0000", "--description", f"anchor {i}"],
                              env=env, capture_output=True, text=True, timeout=120)
        times.append(time.perf_counter() - t)
        if done.returncode != 0:
            return None, f"skipped: prefect work-pool update failed: {(done.stderr or done.stdout).strip()[:200]}"
    return statistics.median(times), f"median of {runs} `prefect work-pool update` processes"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=1000)
    parser.add_argument("--queues", type=int, default=5)
    parser.add_argument("--parallelism", type=int, default=10, help="concurrent API calls (poolform's default is 10)")
    parser.add_argument("--tcp-nodelay-shim", action="store_true",
                        help="start the server with TCP_NODELAY forced on its accepted sockets (see NODELAY_SHIM)")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))

    from reconciler.api.client import PrefectClient
    from reconciler.api.observe import observe
    from reconciler.apply.executor import apply_plan
    from reconciler.config.load import load
    from reconciler.plan.planfile import dumps_plan
    from reconciler.plan.planner import make_plan
    from reconciler.settings import ConnectionSettings

    tmp = Path(tempfile.mkdtemp(prefix="poolform-bench-"))
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    launcher = POOLFORM
    if args.tcp_nodelay_shim:
        launcher = [PY, "-c", NODELAY_SHIM]
    server = subprocess.Popen(launcher + ["server", "start", "--port", str(port), "--db", str(tmp / "bench.db")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    results: dict[str, str] = {}
    try:
        wait_ready(api_url, server)
        cfg = tmp / "pools.yaml"
        write_config(cfg, args.pools, args.queues)
        n_objects = args.pools * (1 + args.queues)
        print(f"poolform bench: {args.pools} pools x {args.queues} queues ({n_objects} objects), server {api_url}, "
              f"parallelism {args.parallelism}{', TCP_NODELAY shim' if args.tcp_nodelay_shim else ''}")

        (desired, diags), t_load = timed(lambda: load([str(cfg)]))
        if desired is None:
            raise SystemExit("the generated config has errors: " + "; ".join(d.summary for d in diags.errors))
        client = PrefectClient(ConnectionSettings(api_url=api_url), max_workers=args.parallelism)

        def plan_once():
            observed = observe(client, desired, all_pools=True)
            return make_plan(desired, observed, api_url=client.api_url)

        client.reset_calls()
        plan1, t_plan1 = timed(plan_once)
        calls_plan1 = client.count_calls
        assert plan1.summary["add"] == n_objects, plan1.summary
        planfile = tmp / "plan.json"
        planfile.write_text(dumps_plan(plan1))

        client.reset_calls()
        result, t_apply = timed(lambda: apply_plan(client, json.loads(planfile.read_text())))
        calls_apply = client.count_calls
        by_route = client.calls_by_route

        client.reset_calls()
        plan2, t_plan2 = timed(plan_once)
        calls_plan2 = client.count_calls
        if plan2.steps:
            raise SystemExit(f"the second plan is not empty: {plan2.summary}")
        client.close()

        cli_env = {**os.environ, "PREFECT_API_URL": api_url, "CI": "1"}
        t = time.perf_counter()
        done = subprocess.run([str(Path(PY).parent / "poolform"), "plan", "-f", str(cfg), "--detailed-exitcode"],
                              env=cli_env, capture_output=True, text=True)
        t_cli_plan = time.perf_counter() - t
        if done.returncode != 0:
            raise SystemExit(f"poolform plan (second, CLI) exited {done.returncode}: {done.stderr[-500:]}")

        t_version = version_cold_start()
        t_anchor, anchor_note = anchor(api_url)

        print(f"load config          {t_load:7.3f} s")
        print(f"plan (empty server)  {t_plan1:7.3f} s   {calls_plan1:6d} HTTP calls   target <= 1.5 s")
        print(f"apply                {t_apply:7.3f} s   {calls_apply:6d} HTTP calls   "
              f"{args.pools / t_apply:7.1f} pools/s ({n_objects / t_apply:.0f} objects/s)   target >= 300 pools/s")
        print(f"second plan (empty)  {t_plan2:7.3f} s   {calls_plan2:6d} HTTP calls   target <= 1.5 s")
        print(f"poolform plan (CLI, second plan, cold process) {t_cli_plan:7.3f} s")
        print(f"poolform --version   {t_version:7.3f} s   (median of 10)   target <= 0.2 s")
        print("apply calls by route: " + ", ".join(f"{k}={v}" for k, v in sorted(by_route.items())))
        if t_anchor is None:
            print(f"anchor               {anchor_note}")
        else:
            per_pool = t_anchor
            print(f"anchor               {t_anchor:7.3f} s per `prefect work-pool update` process ({anchor_note})")
            print(f"  -> the anchor recipe would take {per_pool * args.pools:,.0f} s for {args.pools} pool updates; "
                  f"poolform apply is {per_pool * args.pools / t_apply:,.0f}x faster, "
                  f"a poolform plan of all pools costs {t_plan2 / per_pool:.2f} anchor processes")
        results.update(plan=f"{t_plan1:.3f}", apply=f"{t_apply:.3f}", plan2=f"{t_plan2:.3f}", version=f"{t_version:.3f}")
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
