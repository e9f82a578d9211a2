"""Benchmark: what the saved-plan checks cost, as multiples of ``make_plan`` on the same plan.

Builds (in memory, no server) a config of ``--pools`` pools x ``--queues`` queues and an
observed state where every pool's description differs, every queue's priority is reversed,
one undeclared queue per pool is pruned; so every pool's queue set is fingerprinted and every
step has to be derived again. Then times, in CPU seconds of this process with the cyclic
GC off (as the CLI runs), best of ``--runs``:

* the anchor: ``make_plan`` (desired + observed -> plan);
* ``loads_plan``: parsing the saved file with every document check (``verify.document_problems``);
* ``server_findings``: the checks ``apply PLANFILE`` makes after re-reading the server
  (fingerprints, ``before`` forms, steps and side effects derived again);

and prints each as a ratio to the anchor. Usage: python bench/plan_checks.py [--pools 1000] [--queues 5]
"""

from __future__ import annotations

import argparse
import gc
import time
from typing import Any, Callable

from reconciler.model.state import DesiredPool, DesiredQueue, DesiredState, ObservedPool, ObservedState
from reconciler.plan.planfile import dumps_plan, loads_plan
from reconciler.plan.planner import make_plan
from reconciler.plan.verify import server_findings


def _states(pools: int, queues: int) -> tuple[DesiredState, ObservedState]:
    desired = DesiredState(prune=True)
    observed = ObservedState()
    for i in range(pools):
        name = f"pool-{i:04d}"
        wanted = {f"q{j}": DesiredQueue(name, f"q{j}", description="d", priority=j + 1) for j in range(queues)}
        desired.pools[name] = DesiredPool(name, "process", description="new", queues=wanted)
        rows = [{"id": f"{name}-default", "name": "default", "priority": 1}]
        rows += [{"id": f"{name}-q{j}", "name": f"q{j}", "priority": queues + 1 - j} for j in range(queues)]
        rows.append({"id": f"{name}-stray", "name": "stray", "priority": queues + 4})
        observed.pools[name] = ObservedPool.from_api(
            {"id": name, "name": name, "type": "process", "description": "old", "default_queue_id": f"{name}-default"},
            rows)
    return desired, observed


def _best(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.process_time()
        result = fn()
        times.append(time.process_time() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=1000)
    parser.add_argument("--queues", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    desired, observed = _states(args.pools, args.queues)
    gc.disable()
    anchor, plan = _best(lambda: make_plan(desired, observed), args.runs)
    text = dumps_plan(plan)
    read_time, read = _best(lambda: loads_plan(text), args.runs)
    check_time, findings = _best(lambda: server_findings(read, observed), args.runs)
    assert not findings.stale and not findings.problems, findings
    print(f"{args.pools} pools x {args.queues + 2} queues: {len(plan.steps)} steps, plan file {len(text) // 1024} KiB")
    print(f"anchor make_plan          {anchor * 1000:8.0f} ms CPU   1.00x")
    print(f"loads_plan (file checks)  {read_time * 1000:8.0f} ms CPU   {read_time / anchor:.2f}x")
    print(f"server_findings (apply)   {check_time * 1000:8.0f} ms CPU   {check_time / anchor:.2f}x")


if __name__ == "__main__":
    main()
