"""Benchmark: plan and apply of 1,000 pools x 5 queues against the reference server.

Generates a config of 1,000 process pools with 5 queues each (a shared named template), then:

* the issue's row, CLI process -> server process: ``poolform server start`` on a temporary
  SQLite file (127.0.0.1, a free port), ``poolform plan -f ... --out plan.json`` and
  ``poolform apply plan.json`` as processes (stale check included, progress lines to a file),
  pools/s of the apply's wall time, the CPU each side used, the CPU time the hypervisor gave
  to other machines meanwhile (``/proc/stat`` steal), then a plan that must be empty; the
  anchor, timed against the same server: ``prefect work-pool create`` processes (median of
  5, from ``.venv-prefect`` or ``POOLFORM_PREFECT_VENV``), a pool each; ``--repeat N`` runs the
  CLI apply N times on fresh servers and reports the best;
* in process, on a fresh server: plan against the empty server, apply (from the saved plan),
  and the second plan (which must be empty), each with its HTTP call count, through the same
  functions the CLI uses; the second plan as a ``poolform plan`` process;
* ``poolform --version`` cold start (median of 10 runs).

Targets: plan <= 1.5 s, CLI apply >= 300 pools/s, --version <= 0.2 s.
``--instructions`` adds the server's instructions a request of the CLI apply (callgrind), which do not
depend on the machine's load.

Usage: python bench/reconcile.py [--pools 1000] [--queues 5] [--parallelism 10] [--repeat 1] [--instructions]
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
from typing import Any

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


PREFECT_VENV = os.environ.get("POOLFORM_PREFECT_VENV") or str(REPO / ".venv-prefect")


def anchor(api_url: str, runs: int = 5) -> tuple[float | None, str]:
    """Median wall time of a ``prefect work-pool create`` process (what a loop over the CLI costs a pool)."""
    prefect = Path(PREFECT_VENV) / "bin" / "prefect"
    if not prefect.exists():
        return None, f"skipped: {prefect} does not exist (--prefect-venv, or make compat creates .venv-prefect)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"PREFECT_API_URL": api_url, "PREFECT_HOME": tempfile.mkdtemp(prefix="bench-prefect-home-")})
    times = []
    for i in range(runs):
        t = time.perf_counter()
        done = subprocess.run([str(prefect), "work-pool", "create", f"anchor-{i}", "--type", "process"],
                              env=env, capture_output=True, text=True, timeout=120)
        times.append(time.perf_counter() - t)
        if done.returncode != 0:
            return None, f"skipped: prefect work-pool create failed: {(done.stderr or done.stdout).strip()[:200]}"
    return statistics.median(times), f"median of {runs} `prefect work-pool create` processes"


def start_server(tmp: Path, name: str, launcher: list[str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    server = subprocess.Popen(launcher + ["server", "start", "--port", str(port), "--db", str(tmp / f"{name}.db")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    wait_ready(api_url, server)
    return server, api_url


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()


def cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def steal() -> int:
    """Jiffies the hypervisor gave the machine's CPUs to others so far (/proc/stat)."""
    return int(Path("/proc/stat").read_text().split("\n", 1)[0].split()[8])


def cli_apply(tmp: Path, cfg: Path, pools: int, parallelism: int, launcher: list[str], run: int) -> dict[str, Any]:
    """The issue's protocol: `poolform plan --out` then `poolform apply PLANFILE`, each a CLI process, against
    a server process on an empty database; wall time of each, and the CPU each side used during the apply."""
    server, api_url = start_server(tmp, f"cli-{run}", launcher)
    try:
        env = {**os.environ, "PREFECT_API_URL": api_url, "CI": "1"}
        env.pop("POOLFORM_PARALLELISM", None)
        plan = tmp / "cli-plan.json"
        t = time.perf_counter()
        done = subprocess.run([str(Path(PY).parent / "poolform"), "plan", "-f", str(cfg), "--out", str(plan)],
                              env=env, capture_output=True, text=True)
        t_plan = time.perf_counter() - t
        if done.returncode not in (0, 2):
            raise SystemExit(f"poolform plan exited {done.returncode}: {done.stderr[-500:]}")
        import resource

        before, server_cpu, stolen = resource.getrusage(resource.RUSAGE_CHILDREN), cpu_of(server.pid), steal()
        t = time.perf_counter()
        with open(tmp / "apply.out", "w") as out:
            done = subprocess.run([str(Path(PY).parent / "poolform"), "apply", str(plan), "--parallelism", str(parallelism)],
                                  env=env, stdout=out, stderr=subprocess.PIPE, text=True)
        t_apply = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"poolform apply exited {done.returncode}: {done.stderr[-500:]}")
        lines = (tmp / "apply.out").read_text().splitlines()
        t = time.perf_counter()
        again = subprocess.run([str(Path(PY).parent / "poolform"), "plan", "-f", str(cfg), "--detailed-exitcode"],
                               env=env, capture_output=True, text=True)
        t_plan2 = time.perf_counter() - t
        if again.returncode != 0:
            raise SystemExit(f"the plan after the CLI apply is not empty (exit {again.returncode}): {again.stdout[-500:]}")
        t_anchor, note = anchor(api_url)
        return {"plan": t_plan, "apply": t_apply, "plan2": t_plan2, "pools_per_s": pools / t_apply,
                "cli_cpu": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
                "server_cpu": cpu_of(server.pid) - server_cpu, "steal_s": (steal() - stolen) / os.sysconf("SC_CLK_TCK"),
                "progress_lines": len(lines), "summary": lines[-1] if lines else "",
                "anchor": t_anchor, "anchor_note": note}
    finally:
        stop(server)


def instructions(tmp: Path, cfg: Path, pools: int, queues: int, parallelism: int, launcher: list[str]) -> dict[str, Any]:
    """The server's instructions a request of a CLI apply, whatever the machine's load: the server runs
    under ``valgrind --tool=callgrind`` with instrumentation off; a first apply (the same pools under
    other names) warms it up, then instrumentation is on for exactly the apply of ``cfg`` (its stale
    check's filter calls included). The server is stopped with SIGTERM and given time to exit, so
    callgrind writes its counts."""
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    out = tmp / "callgrind.out"
    server = subprocess.Popen(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}", *launcher,
                               "server", "start", "--port", str(port), "--db", str(tmp / "callgrind.db")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    try:
        wait_ready(api_url, server, timeout=300)
        env = {**os.environ, "PREFECT_API_URL": api_url, "CI": "1"}
        env.pop("POOLFORM_PARALLELISM", None)
        poolform = str(Path(PY).parent / "poolform")
        warm = tmp / "warm.yaml"
        warm.write_text(cfg.read_text().replace("bench-", "warm-"))
        for config, name in ((warm, "warm"), (cfg, "measured")):
            plan = tmp / f"{name}-plan.json"
            subprocess.run([poolform, "plan", "-f", str(config), "--out", str(plan)], env=env, capture_output=True, check=False)
            if name == "measured":
                subprocess.run(["callgrind_control", "-i", "on", str(server.pid)], capture_output=True, check=True)
            done = subprocess.run([poolform, "apply", str(plan), "--parallelism", str(parallelism)],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if name == "measured":
                subprocess.run(["callgrind_control", "-i", "off", str(server.pid)], capture_output=True, check=True)
            if done.returncode != 0:
                raise SystemExit(f"poolform apply under callgrind exited {done.returncode}: {done.stderr[-500:]}")
    finally:
        server.terminate()
        try:
            server.wait(timeout=300)
        except subprocess.TimeoutExpired:
            server.kill()
    total = 0
    for part in tmp.glob("callgrind.out*"):
        for line in part.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")):
                total = max(total, int(line.split()[1]))
    calls = pools * (1 + queues)
    return {"instructions": total, "creates": calls}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=1000)
    parser.add_argument("--queues", type=int, default=5)
    parser.add_argument("--parallelism", type=int, default=10, help="concurrent API calls (poolform's default is 10)")
    parser.add_argument("--repeat", type=int, default=1, help="CLI applies, each on a fresh server (the best is the row)")
    parser.add_argument("--prefect-venv", default=None, help="a venv with prefect==3.9.1 for the anchor "
                        "(default: $POOLFORM_PREFECT_VENV or .venv-prefect)")
    parser.add_argument("--tcp-nodelay-shim", action="store_true",
                        help="start the server with TCP_NODELAY forced on its accepted sockets (see NODELAY_SHIM)")
    parser.add_argument("--instructions", action="store_true",
                        help="also the server's instructions a request of a CLI apply, under valgrind's callgrind "
                             "(independent of the load; about a minute for 1,000 pools x 5 queues)")
    args = parser.parse_args()
    if args.prefect_venv:
        global PREFECT_VENV
        PREFECT_VENV = args.prefect_venv
    sys.path.insert(0, str(REPO))

    from reconciler.api.client import PrefectClient
    from reconciler.api.observe import observe
    from reconciler.apply.executor import apply_plan
    from reconciler.config.load import load
    from reconciler.plan.planfile import dumps_plan
    from reconciler.plan.planner import make_plan
    from reconciler.settings import ConnectionSettings

    tmp = Path(tempfile.mkdtemp(prefix="poolform-bench-"))
    launcher = [PY, "-c", NODELAY_SHIM] if args.tcp_nodelay_shim else POOLFORM
    n_objects = args.pools * (1 + args.queues)
    try:
        cfg = tmp / "pools.yaml"
        write_config(cfg, args.pools, args.queues)
        print(f"poolform bench: {args.pools} pools x {args.queues} queues ({n_objects} objects), "
              f"parallelism {args.parallelism}{', TCP_NODELAY shim' if args.tcp_nodelay_shim else ''}")
        load_before = os.getloadavg()
        runs = [cli_apply(tmp, cfg, args.pools, args.parallelism, launcher, i) for i in range(max(1, args.repeat))]
        best = min(runs, key=lambda r: r["apply"])
        print("\nthe issue's row: `poolform plan --out` then `poolform apply PLANFILE`, CLI processes -> a server process")
        for r in runs:
            print(f"  apply {r['apply']:6.2f} s = {r['pools_per_s']:6.1f} pools/s  (CPU: CLI {r['cli_cpu']:.2f} s, "
                  f"server {r['server_cpu']:.2f} s; stolen by other machines {r['steal_s']:.2f} s)")
        print(f"poolform plan (CLI, empty server)  {best['plan']:7.3f} s")
        print(f"poolform apply (CLI, saved plan)   {best['apply']:7.3f} s   {best['pools_per_s']:7.1f} pools/s   "
              f"target >= 300 pools/s   {best['progress_lines']} progress lines; {best['summary']}")
        print(f"poolform plan (CLI, after apply)   {best['plan2']:7.3f} s   no changes")
        if best["anchor"] is None:
            print(f"anchor                             {best['anchor_note']}")
        else:
            print(f"anchor                             {best['anchor']:7.3f} s per pool ({best['anchor_note']}): "
                  f"{1 / best['anchor']:.1f} pools/s; poolform apply is {best['pools_per_s'] * best['anchor']:,.0f}x that")
        print(f"load average before {', '.join(f'{x:.2f}' for x in load_before)}, "
              f"after {', '.join(f'{x:.2f}' for x in os.getloadavg())}")

        if args.instructions:
            counted = instructions(tmp, cfg, args.pools, args.queues, args.parallelism, launcher)
            print(f"server instructions (callgrind, the CLI apply only, after a warm-up apply): "
                  f"{counted['instructions'] / 1e9:.2f} G, {counted['instructions'] / counted['creates'] / 1e6:.3f} M "
                  f"a create ({counted['creates']} creates, plus the stale check's few filter calls)")

        print("\nin process (client in this process, same server code), on a fresh server:")
        server, api_url = start_server(tmp, "inproc", launcher)
        try:
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
        finally:
            stop(server)
        t_version = version_cold_start()

        print(f"load config          {t_load:7.3f} s")
        print(f"plan (empty server)  {t_plan1:7.3f} s   {calls_plan1:6d} HTTP calls   target <= 1.5 s")
        print(f"apply                {t_apply:7.3f} s   {calls_apply:6d} HTTP calls   "
              f"{args.pools / t_apply:7.1f} pools/s ({n_objects / t_apply:.0f} objects/s)")
        print(f"second plan (empty)  {t_plan2:7.3f} s   {calls_plan2:6d} HTTP calls   target <= 1.5 s")
        print(f"poolform plan (CLI, second plan, cold process) {t_cli_plan:7.3f} s")
        print(f"poolform --version   {t_version:7.3f} s   (median of 10)   target <= 0.2 s")
        print("apply calls by route: " + ", ".join(f"{k}={v}" for k, v in sorted(by_route.items())))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
