"""Fixed plans for the view tests (built with the real planner, clock injected)."""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Any

from plan_test_helpers import TEMPLATE, desired, dp, dq, observed, op, oq
from reconciler.model.state import ObservedDeployment
from reconciler.plan.planner import make_plan

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=timezone.utc)


def _changed_template() -> dict[str, Any]:
    template = copy.deepcopy(TEMPLATE)
    template["variables"]["properties"]["image"]["default"] = "prefect:4"
    template["variables"]["properties"]["cpu"] = {"type": "integer", "default": 2}
    template["job_configuration"]["cpu"] = "{{ cpu }}"
    del template["job_configuration"]["env"]["A"]
    return template


def mixed() -> dict[str, Any]:
    cfg = desired(
        dp("k8s-prod", type="kubernetes", description="Production", concurrency_limit=20, base_job_template=_changed_template(),
           queues=[dq("k8s-prod", "critical", priority=1, concurrency_limit=1), dq("k8s-prod", "high", priority=5),
                   dq("k8s-prod", "low", priority=10, description="bulk")]),
        dp("batch", type="process"),
        dp("new-pool", type="process", description="fresh", queues=[dq("new-pool", "etl", priority=1)]),
        prune=True, scope=["team-*"],
    )
    state = observed(
        op("k8s-prod", type="kubernetes", description="Prod", concurrency_limit=20, base_job_template=TEMPLATE,
           queues=[oq("default", 1), oq("critical", 2, concurrency_limit=1), oq("high", 3), oq("scratch", 4)]),
        op("batch", type="docker", queues=[oq("default", 1), oq("nightly", 2)]),
        op("team-old"),
        op("legacy"),
    )
    return make_plan(cfg, state, now=NOW, api_url="http://127.0.0.1:4200/api").to_json()


def create() -> dict[str, Any]:
    cfg = desired(dp("k8s", type="kubernetes", base_job_template=TEMPLATE,
                     queues=[dq("k8s", "critical", priority=1), dq("k8s", "default", description="catch-all")]))
    return make_plan(cfg, observed(), now=NOW, api_url="http://127.0.0.1:4200/api").to_json()


def no_changes() -> dict[str, Any]:
    cfg = desired(dp("p", description="d", queues=[dq("p", "q", priority=2)]))
    state = observed(op("p", description="d", queues=[oq("default", 1), oq("q", 2)]), op("legacy"))
    return make_plan(cfg, state, now=NOW).to_json()


def destroy() -> dict[str, Any]:
    cfg = desired(dp("a", queues=[dq("a", "q")]))
    state = observed(op("a", queues=[oq("default", 1), oq("q", 2)]))
    return make_plan(cfg, state, destroy=True, now=NOW).to_json()


def warnings() -> dict[str, Any]:
    template = copy.deepcopy(TEMPLATE)
    template["variables"]["properties"]["image"] = {"type": "integer", "default": 1}
    cfg = desired(dp("p", base_job_template=template), dp("q", description="x"))
    state = observed(op("p", base_job_template=TEMPLATE), op("q"))
    state.deployments = {"p": [ObservedDeployment("d1", "nightly", "etl", "p", None, {"image": "custom:1"})]}
    return make_plan(cfg, state, targets=["work_pool.p"], now=NOW).to_json()


def runs() -> dict[str, Any]:
    """Every kind of ``runs`` note: pauses, lowered limits, a queue delete and a pool replace, with due runs."""
    cfg = desired(
        dp("prod", paused=True, concurrency_limit=4,
           queues=[dq("prod", "high", priority=1, paused=True), dq("prod", "low", priority=2, concurrency_limit=1)]),
        dp("batch", type="docker"),
        prune=True,
    )
    state = observed(
        op("prod", concurrency_limit=10, queues=[oq("default", 3), oq("high", 1), oq("low", 2, concurrency_limit=3),
                                                 oq("old", 4)]),
        op("batch", queues=[oq("default", 1)]),
    )
    state.due_runs = {"work_pool.prod": 7, "work_queue.prod.high": 1, "work_queue.prod.low": 4,
                      "work_queue.prod.old": 2, "work_pool.batch": 3}
    return make_plan(cfg, state, now=NOW, api_url="http://127.0.0.1:4200/api").to_json()


SCENARIOS = {"mixed": mixed, "create": create, "no-changes": no_changes, "destroy": destroy, "warnings": warnings,
             "runs": runs}


def many_pools(count: int = 1000) -> dict[str, Any]:
    pools = [dp(f"pool-{i:04d}", type="kubernetes", base_job_template=TEMPLATE, description=f"pool number {i}",
                queues=[dq(f"pool-{i:04d}", f"q{j}", priority=j + 2, description="work") for j in range(5)])
             for i in range(count)]
    return make_plan(desired(*pools), observed(), now=NOW).to_json()
