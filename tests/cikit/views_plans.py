"""Real plans (made by the planner) for the CI tests: with or without changes, destroying, failed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from reconciler.plan.planner import make_plan

if "plan_test_helpers" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("plan_test_helpers", Path(__file__).parents[1] / "plan" / "helpers.py")
    _module = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
    sys.modules["plan_test_helpers"] = _module
    _spec.loader.exec_module(_module)  # type: ignore[union-attr]

from plan_test_helpers import desired, dp, dq, observed, op, oq  # noqa: E402


def plan_json(*, steps: bool, destroy: int = 0, errored: bool = False) -> dict[str, Any]:
    if errored:
        plan = make_plan(desired(), observed()).to_json()
        plan["diagnostics"] = [{"severity": "error", "summary": "policy: every pool needs a concurrency_limit",
                                "detail": "", "address": "work_pool.p", "range": None, "path": []}]
        plan["errored"] = True
        return plan
    if not steps:
        return make_plan(desired(), observed()).to_json()
    cfg = desired(dp("p", queues=[dq("p", "fast", priority=1, concurrency_limit=2)]), prune=bool(destroy), scope=["old-*"] if destroy else None)
    state = observed(*(op(f"old-{i}", queues=[oq("default", 1)]) for i in range(destroy)))
    plan = make_plan(cfg, state).to_json()
    assert plan["steps"] and plan["summary"]["destroy"] == destroy, plan["summary"]
    return plan
