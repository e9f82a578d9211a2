"""Builders for desired/observed states and a tiny in-memory server that applies plan steps.

The fake server follows prefect-api.md §2/§3 for what the planner relies on: a pool
create adds the ``default`` queue at priority 1, queue creates and priority PATCHes
run the bump walk, deletes run the no-target walk, a pool delete cascades.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

from hypothesis import strategies as st

from reconciler.model.state import (
    UNMANAGED,
    DesiredPool,
    DesiredQueue,
    DesiredState,
    ObservedPool,
    ObservedQueue,
    ObservedState,
)
from reconciler.plan.normalize import DEFAULT_QUEUE_DESCRIPTION
from reconciler.plan.priorities import assign_priority_on_create, bump_walk
from reconciler.plan.steps import Step

_ids = itertools.count(1)

TEMPLATE = {
    "job_configuration": {"command": "{{ command }}", "image": "{{ image }}", "env": {"A": "1"}},
    "variables": {
        "type": "object",
        "properties": {
            "command": {"type": "string", "default": "python flow.py"},
            "image": {"type": "string", "default": "prefect:3"},
        },
    },
}


def dq(pool: str, name: str, **fields: Any) -> DesiredQueue:
    return DesiredQueue(pool=pool, name=name, **fields)


def dp(name: str, type: str = "process", queues: list[DesiredQueue] = (), **fields: Any) -> DesiredPool:  # type: ignore[assignment]
    return DesiredPool(name=name, type=type, queues={q.name: q for q in queues}, **fields)


def desired(*pools: DesiredPool, prune: bool = False, scope: list[str] | None = None) -> DesiredState:
    return DesiredState(pools={p.name: p for p in pools}, prune=prune, scope=list(scope or []))


def oq(name: str, priority: int, **fields: Any) -> dict[str, Any]:
    body = {"id": f"q-{next(_ids)}", "name": name, "priority": priority, "description": "", "is_paused": False,
            "concurrency_limit": None}
    body.update(fields)
    return body


def op(name: str, type: str = "process", queues: list[dict[str, Any]] | None = None, **fields: Any) -> ObservedPool:
    """An observed pool; without ``queues`` it has just its default queue at priority 1."""
    if queues is None:
        queues = [oq("default", 1, description=DEFAULT_QUEUE_DESCRIPTION)]
    default = next((q for q in queues if q["name"] == "default"), None)
    body = {"id": f"p-{next(_ids)}", "name": name, "type": type, "description": None, "is_paused": False,
            "concurrency_limit": None, "base_job_template": {}, "default_queue_id": default["id"] if default else None}
    body.update(fields)
    return ObservedPool.from_api(body, queues)


def observed(*pools: ObservedPool) -> ObservedState:
    return ObservedState(pools={p.name: p for p in pools})


_WIRE = {"is_paused": "paused"}


def apply_steps(state: ObservedState, steps: list[Step] | list[dict[str, Any]]) -> ObservedState:
    """Apply plan steps (typed, or as the plan document spells them) to a copy of ``state`` the way the server would."""
    state = copy.deepcopy(state)
    for typed in steps:
        step = typed if isinstance(typed, dict) else typed.to_json()
        op_name = step["op"]
        pool_name = step["pool"]
        if op_name == "create_pool":
            body = step["body"]
            assert pool_name not in state.pools, f"create of existing pool {pool_name}"
            default = oq("default", 1, description=DEFAULT_QUEUE_DESCRIPTION)
            state.pools[pool_name] = ObservedPool.from_api(
                {"id": f"p-{next(_ids)}", "name": body["name"], "type": body.get("type", "prefect-agent"),
                 "description": body.get("description"), "is_paused": body.get("is_paused", False),
                 "concurrency_limit": body.get("concurrency_limit"),
                 "base_job_template": body.get("base_job_template", {}), "default_queue_id": default["id"]},
                [default],
            )
            continue
        pool = state.pools[pool_name]
        if op_name == "update_pool":
            assert "base_job_template" not in step["body"] or step["body"]["base_job_template"] is not None
            for key, value in step["body"].items():
                setattr(pool, _WIRE.get(key, key), copy.deepcopy(value))
        elif op_name == "delete_pool":
            del state.pools[pool_name]
        elif op_name == "create_queue":
            body = step["body"]
            assert body["name"] not in pool.queues
            current = {q.name: q.priority for q in pool.queues.values()}
            if body.get("priority"):
                new = bump_walk(current, body["name"], body["priority"])
            else:
                new = dict(current, **{body["name"]: assign_priority_on_create(current.values())})
            pool.queues[body["name"]] = ObservedQueue(pool_name, f"q-{next(_ids)}", body["name"], body.get("description", ""),
                                                      body.get("is_paused", False), body.get("concurrency_limit"), 0)
            _set_priorities(pool, new)
        elif op_name == "update_queue":
            queue = pool.queues[step["queue"]]
            for key, value in step["body"].items():
                if key != "priority":
                    setattr(queue, _WIRE.get(key, key), value)
            if "priority" in step["body"]:
                current = {q.name: q.priority for q in pool.queues.values()}
                _set_priorities(pool, bump_walk(current, queue.name, step["body"]["priority"]))
        elif op_name == "delete_queue":
            assert step["queue"] != "default", "the default queue must never be deleted"
            del pool.queues[step["queue"]]
            _set_priorities(pool, bump_walk({q.name: q.priority for q in pool.queues.values()}, None, None))
        elif op_name == "converge_priorities":
            for name, priority in step["priorities"].items():
                assert pool.queues[name].priority == priority, (name, pool.queues[name].priority, priority)
        else:  # pragma: no cover
            raise AssertionError(op_name)
    for pool in state.pools.values():
        pool.queues = dict(sorted(pool.queues.items(), key=lambda item: item[1].priority))
    return state


def reordered(value: Any) -> Any:
    """The same JSON value with every mapping's keys in reverse order."""
    if isinstance(value, dict):
        return {k: reordered(value[k]) for k in reversed(list(value))}
    return value


_NAMES = st.sampled_from(["a", "b", "c", "d", "default"])


@st.composite
def scenarios(draw):
    """(desired, observed) pairs: up to three pools with random queues, priorities, templates; some exist."""
    pools = []
    observed_pools = []
    for pool_name in draw(st.lists(st.sampled_from(["p1", "p2", "p3"]), min_size=1, max_size=3, unique=True)):
        queue_NAMES = draw(st.lists(_NAMES, unique=True, max_size=5))
        priorities = draw(st.lists(st.integers(1, 9), min_size=len(queue_NAMES), max_size=len(queue_NAMES), unique=True))
        queues = []
        for name, priority in zip(queue_NAMES, priorities):
            queues.append(dq(pool_name, name,
                             priority=priority if draw(st.booleans()) else UNMANAGED,
                             description=draw(st.sampled_from(["", "x"])) if name != "default" else DEFAULT_QUEUE_DESCRIPTION,
                             concurrency_limit=draw(st.sampled_from([None, 1, 5]))))
        pools.append(dp(pool_name, type=draw(st.sampled_from(["process", "docker"])), queues=queues,
                        description=draw(st.sampled_from([None, "d"])),
                        base_job_template=draw(st.sampled_from([UNMANAGED, TEMPLATE, reordered(TEMPLATE), {}]))))
        if draw(st.booleans()):
            existing = draw(st.lists(st.sampled_from(["a", "b", "c", "x", "y"]), unique=True, max_size=4))
            prios = [draw(st.integers(1, 8)) for _ in existing]
            observed_pools.append(op(pool_name, type=draw(st.sampled_from(["process", "docker"])),
                                     description=draw(st.sampled_from([None, "old"])),
                                     queues=[oq("default", draw(st.integers(1, 8)))] + [oq(n, p) for n, p in zip(existing, prios)]))
    if draw(st.booleans()):
        observed_pools.append(op("team-z"))
    return desired(*pools, prune=draw(st.booleans()), scope=["team-*"]), observed(*observed_pools)



def _set_priorities(pool: ObservedPool, priorities: dict[str, int]) -> None:
    for name, priority in priorities.items():
        pool.queues[name].priority = priority


__all__ = ["UNMANAGED", "TEMPLATE", "dq", "dp", "desired", "oq", "op", "observed", "apply_steps", "reordered", "scenarios"]
