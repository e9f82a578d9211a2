"""`make demo`: the main job end to end on a laptop.

Starts the reference server on a temporary SQLite file, validates, plans and applies
the configs under examples/, plans again (no changes), then acts as a worker on the
kubernetes example's pool (queues critical p1 limit 1, high p5 limit 3, low p10):
schedules runs, polls, claims what it gets, and prints what each poll hands out.
Stops the server on the way out, whatever happens.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
POOLFORM = str(Path(sys.executable).with_name("poolform"))
CONFIGS = ["examples/process", "examples/kubernetes", "examples/hcl", "examples/overlays"]
POOL = "k8s-prod"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def banner(text: str) -> None:
    print(f"\n\033[1m=== {text}\033[0m" if sys.stdout.isatty() else f"\n=== {text}", flush=True)


def poolform(*args: str, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> int:
    print(f"$ poolform {' '.join(args)}", flush=True)
    code = subprocess.call([POOLFORM, *args], cwd=ROOT, env=env)
    if code not in ok:
        raise SystemExit(f"demo: `poolform {' '.join(args)}` exited {code}")
    return code


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="poolform-demo-"))
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_API_URL": api, "NO_COLOR": os.environ.get("NO_COLOR", "")}
    env.pop("PREFECT_API_KEY", None)
    server = subprocess.Popen(
        [POOLFORM, "server", "start", "--port", str(port), "--db", str(workdir / "server.db")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        banner("Reference server (embedded SQLite)")
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{api}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                print(server.stdout.read() if server.stdout else "", file=sys.stderr)
                raise SystemExit("demo: the reference server did not start")
            time.sleep(0.1)
        print(f"PREFECT_API_URL={api}  (database {workdir / 'server.db'})")

        files = [arg for path in CONFIGS for arg in ("-f", path)]
        banner("Validate the examples (offline)")
        poolform("validate", *files, env=env)
        banner("Plan against the empty server")
        poolform("plan", *files, "--out", str(workdir / "plan.json"), "--detailed-exitcode", env=env, ok=(2,))
        banner("Apply the saved plan")
        poolform("apply", str(workdir / "plan.json"), env=env)
        banner("Plan again: nothing to do")
        poolform("plan", *files, "--detailed-exitcode", env=env, ok=(0,))

        worker_demo(api)
        return 0
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(workdir, ignore_errors=True)
        print("\nServer stopped.")


def worker_demo(api: str) -> None:
    banner(f"A worker polls {POOL}: queues critical (p1, limit 1), high (p5, limit 3), low (p10)")
    with httpx.Client(base_url=api, timeout=10) as http:
        flow = http.post("/flows/", json={"name": "demo-flow"}).json()
        start = datetime.now(timezone.utc) - timedelta(minutes=10)
        for queue, count in (("low", 3), ("high", 4), ("critical", 2)):
            for i in range(count):
                http.post("/flow_runs/", json={
                    "flow_id": flow["id"], "name": f"{queue}-{i}", "work_pool_name": POOL,
                    "work_queue_name": queue,
                    "state": {"type": "SCHEDULED", "state_details": {
                        "scheduled_time": (start + timedelta(seconds=30 * i)).isoformat()}},
                }).raise_for_status()
        print("Scheduled 2 critical, 4 high and 3 low runs, all due now (low ones oldest).")
        http.post(f"/work_pools/{POOL}/workers/heartbeat", json={"name": "demo-worker"}).raise_for_status()
        for poll in (1, 2, 3):
            runs = http.post(f"/work_pools/{POOL}/get_scheduled_flow_runs",
                             json={"scheduled_before": datetime.now(timezone.utc).isoformat()}).json()
            names = [r["flow_run"]["name"] for r in runs]
            print(f"poll {poll}: handed out {names or 'nothing (every limit is in use)'}")
            for run in runs:
                result = http.post(f"/flow_runs/{run['flow_run']['id']}/set_state",
                                   json={"state": {"type": "PENDING", "name": "Pending"}}).json()
                if result["status"] != "ACCEPT":
                    print(f"  claim of {run['flow_run']['name']}: {result['status']} "
                          f"({result['details'].get('reason')})")
            if poll == 2:
                done = [r for r in http.post("/flow_runs/filter", json={
                    "flow_runs": {"state": {"type": {"any_": ["PENDING"]}}}}).json()
                    if r["name"].startswith("critical")]
                for run in done:
                    for state in ("RUNNING", "COMPLETED"):
                        http.post(f"/flow_runs/{run['id']}/set_state",
                                  json={"state": {"type": state}, "force": True})
                print(f"  {', '.join(r['name'] for r in done)} ran and completed: a critical slot is free")
        pool = http.get(f"/work_pools/{POOL}").json()
        print(f"pool status {pool['status']}, {pool['active_slots']} of {pool['concurrency_limit']} slots in use")


if __name__ == "__main__":
    sys.exit(main())
