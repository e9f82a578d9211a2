#!/usr/bin/env python3
"""Issue 10's whole table in one run: ``make bench-table`` or ``.venv/bin/python bench/all.py``.

One step after the other (never two servers measured at once), each script's own output shown:

1. ``server_poll.py --start-prefect VENV --postgres --sections table``: the issue's protocol (a
   worker's poll of 1,000 runs over 3 queues, 200 returned; ``limit: 10``; ``create_flow_run`` 1
   and 10 in flight; the health round trip as the floor) for ours, then a Prefect 3.9.1 the script
   starts, on SQLite, then both on one throwaway PostgreSQL cluster (one replica each); ratios
   against Prefect measured in the same run; RSS of each server's process tree idle and loaded;
2. ``reconcile.py``: ``poolform apply`` of 1,000 pools x 5 queues, CLI process -> server process,
   beside ``prefect work-pool create`` processes;
3. ``terraform_plan.py`` (when ``terraform`` is on the PATH): ``terraform plan`` of 50 pools x 3
   queues with no changes, and the provider's start to handshake (``--provider-venv`` adds the
   figure of a provider installed from a wheel, not editable).

Then the wall time of each step and the load average. About 15-20 minutes on the 2-core
development machine (Prefect's run creation at ~20 runs/s is most of it); ``--sizes`` adds
server_poll's run-count section (1k and 10k runs through ``/flow_runs/``, ~10 minutes more).
Nothing is asserted; figures move with the machine's load, the ratios much less.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prefect-venv", default=os.environ.get("POOLFORM_PREFECT_VENV", ".venv-prefect"),
                    help="a venv with prefect==3.9.1 (default $POOLFORM_PREFECT_VENV or .venv-prefect)")
    ap.add_argument("--provider-venv", help="also time the handshake of DIR/bin/terraform-provider-prefect "
                                            "(a venv where poolform is installed from its wheel)")
    ap.add_argument("--sizes", action="store_true", help="also server_poll's 1k/10k run-count section")
    ap.add_argument("--polls", type=int, default=200, help="measured polls per case (default 200)")
    args = ap.parse_args(argv)
    prefect = Path(args.prefect_venv)
    if not (prefect / "bin" / "prefect").exists():
        print(f"{prefect}/bin/prefect not found: make it with `python3 -m venv {prefect} && "
              f"{prefect}/bin/pip install prefect==3.9.1` or pass --prefect-venv", file=sys.stderr)
        return 1
    sections = "table,sizes" if args.sizes else "table"
    steps = [("server_poll (SQLite and PostgreSQL, ours and Prefect)",
              ["server_poll.py", "--start-prefect", str(prefect.resolve()), "--postgres", "--sections", sections,
               "--polls", str(args.polls)], {}),
             ("reconcile (poolform apply, CLI -> server)", ["reconcile.py"],
              {"POOLFORM_PREFECT_VENV": str(prefect.resolve())})]
    if shutil.which("terraform"):
        extra = ["--provider-venv", str(Path(args.provider_venv).resolve())] if args.provider_venv else []
        steps.append(("terraform_plan (plan and provider start)", ["terraform_plan.py", *extra], {}))
    else:
        print("terraform is not on the PATH: the terraform plan row is left out", file=sys.stderr)
    timings, failed = [], []
    for title, cmd, env in steps:
        print(f"\n=== {title}: {' '.join(cmd)}", flush=True)
        began = time.monotonic()
        code = subprocess.call([sys.executable, str(BENCH / cmd[0]), *cmd[1:]], env={**os.environ, **env})
        timings.append((title, time.monotonic() - began))
        if code != 0:
            failed.append(f"{cmd[0]} exited with {code}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n=== done: {', '.join(f'{t} {s / 60:.1f} min' for t, s in timings)}; load average now {load} "
          f"on {os.cpu_count()} CPUs")
    for problem in failed:
        print(problem, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
