"""Benchmark: `terraform plan` wall time with our provider, 50 pools x 3 queues, reference server.

Applies the configuration once, then times `terraform plan` (median of 3; issue 10's goal <= 1.5 s).
Also prints how many times Terraform launches the provider per plan, and for each launch, from one
plan run with TF_LOG=TRACE, its start to handshake and its Close to exit (Terraform waits for the
exit before it goes on), and the provider's launch-to-handshake time (median of 5 launches), for this
venv's provider and, with ``--provider-venv DIR``, for ``DIR/bin/terraform-provider-prefect`` (a
venv where poolform is installed from its wheel: an editable install's import finder costs every
start more than a wheel's site-packages).
Usage: .venv/bin/python bench/terraform_plan.py [--pools 50] [--queues 3] [--provider-venv DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciler.provider.install import cli_config, install  # noqa: E402
from reconciler.provider.main import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE  # noqa: E402

SERVER = """
import sys, uvicorn
from reconciler.server.app import create_app
from reconciler.server.store import open_store
uvicorn.run(create_app(open_store(sys.argv[1])), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


class Server:
    """The reference server in its own process, bound by uvicorn itself (TCP_NODELAY on connections)."""

    def __init__(self, db: Path) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.api_url = f"http://127.0.0.1:{port}/api"
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER, str(db), str(port)],
                                     cwd=Path(__file__).resolve().parents[1])
        import httpx

        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.api_url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise SystemExit("the reference server did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)

CONFIG = """terraform {
  required_providers {
    prefect = { source = "poolform/prefect" }
  }
}

locals {
  pools  = [for i in range(%(pools)d) : format("bench-%%03d", i)]
  queues = [for i in range(%(queues)d) : format("q%%d", i)]
}

resource "prefect_work_pool" "pool" {
  for_each          = toset(local.pools)
  name              = each.key
  type              = "process"
  description       = "bench pool ${each.key}"
  concurrency_limit = 10
  base_job_template = jsonencode({
    job_configuration = { command = "{{ command }}", env = "{{ env }}" }
    variables = {
      type = "object"
      properties = {
        command = { type = "string", default = "python -m flows" }
        env     = { type = "object", additionalProperties = { type = "string" } }
      }
    }
  })
}

resource "prefect_work_queue" "queue" {
  for_each       = { for pair in setproduct(local.pools, local.queues) : "${pair[0]}/${pair[1]}" => pair }
  work_pool_name = prefect_work_pool.pool[each.value[0]].name
  name           = each.value[1]
  priority       = index(local.queues, each.value[1]) + 2
}
"""


def launch_phases(log: str) -> tuple[list[float], list[float]]:
    """From a TF_LOG=TRACE log: each provider launch's start to handshake, and its Close to exit (s)."""
    events = re.findall(r"^(\S+) \[\w+\]\s+(?:provider: (starting plugin|using plugin|plugin process exited)"
                        r"|GRPCProvider.v6: (Close))", log, re.M)
    handshakes, exits = [], []
    marks: dict[str, datetime] = {}
    for stamp, plugin_event, close in events:
        t = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        what = plugin_event or close
        if what in ("starting plugin", "Close"):
            marks[what] = t
        elif what == "using plugin" and "starting plugin" in marks:
            handshakes.append((t - marks.pop("starting plugin")).total_seconds())
        elif what == "plugin process exited" and "Close" in marks:
            exits.append((t - marks.pop("Close")).total_seconds())
    return handshakes, exits


def timeline(log: str) -> list[str]:
    """From a TF_LOG=TRACE log: where a plan's wall time goes, in ms from Terraform's first line:
    each provider start (start, handshake line, first and last call, Close, exit), the refresh
    (first to last ReadResource) and the plan (first to last PlanResourceChange), and the calls
    by method."""
    stamps = re.findall(r"^(\d{4}-\d\d-\d\dT[\d:.]+Z) \[\w+\]\s+(.*)$", log, re.M)
    if not stamps:
        return []
    origin = datetime.fromisoformat(stamps[0][0].replace("Z", "+00:00"))
    launches: list[dict[str, float]] = []
    calls: dict[str, int] = {}
    phases: dict[str, list[float]] = {}
    for stamp, text in stamps:
        at = (datetime.fromisoformat(stamp.replace("Z", "+00:00")) - origin).total_seconds() * 1000
        if text.startswith("provider: starting plugin"):
            launches.append({"start": at})
        elif not launches:
            continue
        elif text.startswith("provider: using plugin"):
            launches[-1]["handshake"] = at
        elif text.startswith("provider: plugin process exited"):
            launches[-1]["exit"] = at
        elif text.startswith("GRPCProvider.v6: "):
            method = text.split()[1]
            if method == "Close":
                launches[-1]["Close"] = at
            elif method[:1].isupper() and method != "returning":
                calls[method] = calls.get(method, 0) + 1
                launches[-1].setdefault("first call", at)
                launches[-1]["last call"] = at
                phases.setdefault(method, []).append(at)
    lines = [f"start {i + 1}: " + ", ".join(f"{k} {v:.0f}" for k, v in launch.items())
             for i, launch in enumerate(launches)]
    for name, method in (("refresh", "ReadResource"), ("plan", "PlanResourceChange")):
        if method in phases:
            lines.append(f"{name} ({method}): {min(phases[method]):.0f} to {max(phases[method]):.0f}")
    lines.append(f"end of the log: {(datetime.fromisoformat(stamps[-1][0].replace('Z', '+00:00')) - origin).total_seconds() * 1000:.0f}")
    lines.append("calls: " + ", ".join(f"{k} {v}" for k, v in sorted(calls.items())))
    return lines


def handshake_time(executable: Path) -> float:
    env = {**os.environ, MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE, "PLUGIN_PROTOCOL_VERSIONS": "6",
           "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    start = time.perf_counter()
    proc = subprocess.Popen([str(executable)], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    elapsed = time.perf_counter() - start
    proc.kill()
    proc.wait()
    if not line.startswith("1|6|unix|"):
        raise SystemExit(f"unexpected handshake line: {line!r}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=50)
    parser.add_argument("--queues", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--provider-venv", help="also time the handshake of DIR/bin/terraform-provider-prefect")
    args = parser.parse_args()
    terraform = shutil.which("terraform")
    if terraform is None:
        print("terraform is not on the PATH; install Terraform >= 1.6 to run this benchmark.", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="tfbench-") as tmp:
        root = Path(tmp)
        executable = install(root / "mirror")
        (root / "cli.tfrc").write_text(cli_config(root / "mirror"))
        work = root / "work"
        work.mkdir()
        (work / "main.tf").write_text(CONFIG % {"pools": args.pools, "queues": args.queues})
        server = Server(root / "bench.db")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PREFECT_"))}
        env.update({"PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),"TF_CLI_CONFIG_FILE": str(root / "cli.tfrc"), "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1",
                    "PREFECT_API_URL": server.api_url})

        def tf(*cmd: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
            proc = subprocess.run([terraform, *cmd], cwd=work, env={**env, **(extra or {})}, capture_output=True,
                                  text=True)
            if proc.returncode not in (0, 2):
                raise SystemExit(f"terraform {' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
            return proc

        try:
            tf("init", "-input=false", "-no-color")
            start = time.perf_counter()
            tf("apply", "-auto-approve", "-input=false", "-no-color")
            apply_time = time.perf_counter() - start
            import resource

            times, cpu = [], []
            for _ in range(args.runs):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                proc = tf("plan", "-detailed-exitcode", "-input=false", "-no-color")
                times.append(time.perf_counter() - start)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
                if proc.returncode != 0:
                    raise SystemExit(f"the plan after apply is not empty:\n{proc.stdout}")
            log = tf("plan", "-input=false", "-no-color", extra={"TF_LOG": "TRACE"}).stderr
            launches = log.count("provider: plugin started")
            in_tf, exits = launch_phases(log)
            handshakes = [handshake_time(executable) for _ in range(5)]
            wheel = []
            if args.provider_venv:
                wheel = [handshake_time(Path(args.provider_venv) / "bin" / "terraform-provider-prefect") for _ in range(5)]
        finally:
            server.stop()
    resources = args.pools * (1 + args.queues)
    median = statistics.median(times)
    print(f"resources: {args.pools} pools x {args.queues} queues = {resources}")
    print(f"apply (create all): {apply_time:.2f} s")
    print(f"terraform plan (no changes), median of {args.runs}: {median:.2f} s  "
          f"[{', '.join(f'{t:.2f}' for t in times)}]  target <= 1.50 s: {'OK' if median <= 1.5 else 'MISSED'}")
    print(f"CPU time of terraform + provider processes per plan, median: {statistics.median(cpu):.2f} s "
          f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print(f"provider launches per plan: {launches}")
    print(f"provider launch to handshake (standalone, median of 5): {statistics.median(handshakes) * 1000:.0f} ms "
          f"(this venv's provider, through the launcher); target <= 80 ms")
    if wheel:
        print(f"provider launch to handshake, {args.provider_venv} (median of 5): {statistics.median(wheel) * 1000:.0f} ms")
    if in_tf:
        print(f"provider start to handshake inside terraform (per launch, TF_LOG=TRACE): "
              f"{', '.join(f'{t * 1000:.0f} ms' for t in in_tf)}")
    if exits:
        print(f"provider Close to process exit inside terraform (per launch, TF_LOG=TRACE): "
              f"{', '.join(f'{t * 1000:.0f} ms' for t in exits)}")
    print("timeline of the TF_LOG=TRACE plan (ms from its first log line; TRACE logging slows Terraform):")
    for line in timeline(log):
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
