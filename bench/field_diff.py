"""Benchmark: what computing the plan's field diff with deepdiff costs, against a hand-written walk.

The plan's ``changed_paths`` come from ``reconciler.plan.differ``, which compares equal values with
one ``json_equal`` and hands values that differ to ``deepdiff``. This script builds, in memory (no
server), ``--pools`` process pools x ``--queues`` queues with Prefect's default process template
and times ``make_plan`` (CPU seconds of this process, cyclic GC off as the CLI runs, best of
``--runs``) in three cases:

* ``re-plan, nothing to do``: the observed state equals the config (the second plan of CI);
* ``every template changed``: each pool's template differs in one default and one new variable
  (a shared template edited: the worst case for the differ, one deepdiff per pool);
* ``every field changed``: description, limit and template of every pool, priority of every queue;

each with the differ as shipped and with the anchor, a plain recursive walk over the same
semantics (the differ before deepdiff, kept here only as the yardstick), and prints the ratio.
Usage: python bench/field_diff.py [--pools 1000] [--queues 5] [--runs 5]
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
from importlib import resources
from typing import Any

import reconciler.plan.differ as differ
from reconciler.model.state import DesiredPool, DesiredQueue, DesiredState, ObservedPool, ObservedState
from reconciler.plan.normalize import json_equal
from reconciler.plan.planner import make_plan

from plan_checks import _best as best  # this directory is on sys.path when a bench script runs

TEMPLATE = json.loads(resources.files("reconciler.data").joinpath("process-default-base-job-template.json").read_text())


def walk(before: Any, after: Any, path: list | None = None) -> list[list]:
    """The anchor: a direct recursive walk (lists index by index, dicts key by key)."""
    base = list(path or [])
    if json_equal(before, after):
        return []
    out: list[list] = []

    def go(b: Any, a: Any, p: list) -> None:
        if isinstance(b, dict) and isinstance(a, dict):
            for key in b:
                if key not in a:
                    out.append(p + [key])
                elif not json_equal(b[key], a[key]):
                    go(b[key], a[key], p + [key])
            out.extend(p + [key] for key in a if key not in b)
        elif isinstance(b, list) and isinstance(a, list):
            for i in range(max(len(b), len(a))):
                if i >= len(b) or i >= len(a) or not json_equal(b[i], a[i]):
                    go(b[i], a[i], p + [i]) if i < len(b) and i < len(a) else out.append(p + [i])
        else:
            out.append(p)

    go(before, after, base)
    return out


def states(pools: int, queues: int, case: str) -> tuple[DesiredState, ObservedState]:
    desired, observed = DesiredState(), ObservedState()
    for i in range(pools):
        name = f"pool-{i:04d}"
        wanted = copy.deepcopy(TEMPLATE)
        queue_rows = [{"id": f"{name}-default", "name": "default", "priority": 1}]
        queue_rows += [{"id": f"{name}-q{j}", "name": f"q{j}", "priority": j + 2} for j in range(queues)]
        declared = {f"q{j}": DesiredQueue(name, f"q{j}", priority=j + 2) for j in range(queues)}
        have = copy.deepcopy(wanted)
        pool_row = {"id": name, "name": name, "type": "process", "description": "d", "concurrency_limit": 5,
                    "default_queue_id": f"{name}-default", "base_job_template": have}
        if case != "re-plan, nothing to do":
            wanted["variables"]["properties"]["working_dir"]["default"] = f"/srv/{name}"
            wanted["variables"]["properties"]["team"] = {"type": "string", "default": "data"}
        if case == "every field changed":
            pool_row["description"], pool_row["concurrency_limit"] = "old", 4
            for row in queue_rows[1:]:
                row["priority"] += 10
        desired.pools[name] = DesiredPool(name, "process", description="d", concurrency_limit=5,
                                          base_job_template=wanted, queues=declared)
        observed.pools[name] = ObservedPool.from_api(pool_row, queue_rows)
    return desired, observed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=1000)
    parser.add_argument("--queues", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    shipped = differ.diff_values
    gc.disable()
    print(f"{args.pools} pools x {args.queues} queues, Prefect's process template; make_plan, CPU ms, best of {args.runs}")
    print(f"{'case':28} {'deepdiff':>9} {'anchor':>9} {'ratio':>6}  plans")
    for case in ("re-plan, nothing to do", "every template changed", "every field changed"):
        desired, observed = states(args.pools, args.queues, case)
        differ.diff_values = shipped
        ours, plan = best(lambda: make_plan(desired, observed), args.runs)
        differ.diff_values = walk
        anchor, reference = best(lambda: make_plan(desired, observed), args.runs)
        differ.diff_values = shipped
        same = "same" if plan == reference else "DIFFERENT"
        print(f"{case:28} {ours * 1000:9.0f} {anchor * 1000:9.0f} {ours / anchor:5.2f}x  {same}")


if __name__ == "__main__":
    main()
