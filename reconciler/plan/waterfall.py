"""Each changed pool's queue waterfall before and after the plan (pure, no I/O).

A worker polls a pool's queues in priority order (1 first); the review question "what order
will my queues be served in, with which limits, and is anything paused" needs every queue of
the pool, not only the changed ones. :func:`waterfalls` builds, for every pool the plan
touches (a change of the pool or one of its queues, or a priority moved by the server's
bump), the pool's pause and limit and its queues in waterfall order, as observed and as
they will be after the apply. The views draw it (a mermaid diagram in the PR comment); this
module decides nothing about the plan.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from reconciler.model.state import ObservedPool
from reconciler.plan.actions import Action, Change, ResourceType


def _queue(form: Mapping[str, Any], *, unmanaged: bool = False) -> dict[str, Any]:
    entry = {
        "name": form.get("name"),
        "priority": form.get("priority"),
        "concurrency_limit": form.get("concurrency_limit"),
        "paused": bool(form.get("paused", False)),
    }
    if unmanaged:
        entry["unmanaged"] = True
    return entry


def _ordered(queues: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(queues, key=lambda q: (q["priority"] is None, q["priority"] or 0, str(q["name"])))


def _observed_side(pool: ObservedPool) -> dict[str, Any]:
    queues = [_queue({"name": q.name, "priority": q.priority, "concurrency_limit": q.concurrency_limit,
                      "paused": q.paused}) for q in pool.queues.values()]
    return {"paused": pool.paused, "concurrency_limit": pool.concurrency_limit, "queues": _ordered(queues)}


def _queue_of(address: str, pool: str) -> str | None:
    prefix = f"work_queue.{pool}."
    return address[len(prefix):] if address.startswith(prefix) else None


def waterfalls(observed: Mapping[str, ObservedPool], changes: list[Change],
               side_effects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{pool: {"before": side | None, "after": side | None}}``, a side being
    ``{"paused", "concurrency_limit", "queues": [{"name", "priority", "concurrency_limit", "paused"}]}``
    with queues in waterfall order (priority, then name). ``before`` is None for a pool the plan
    creates, ``after`` None for one it deletes."""
    touched: list[str] = []
    changes = [c for c in changes if c.action is not Action.NOOP]
    for change in changes:
        if change.pool not in touched:
            touched.append(change.pool)
    for effect in side_effects:
        for pool in observed:
            if _queue_of(str(effect.get("address", "")), pool) is not None and pool not in touched:
                touched.append(pool)
    result: dict[str, dict[str, Any]] = {}
    for pool in touched:
        have = observed.get(pool)
        before = _observed_side(have) if have else None
        pool_change = next((c for c in changes if c.type is ResourceType.WORK_POOL and c.pool == pool), None)
        if pool_change is not None and pool_change.action is Action.DELETE:
            result[pool] = {"before": before, "after": None}
            continue
        fresh = pool_change is not None and pool_change.action in (Action.CREATE, Action.REPLACE)
        queues: dict[str, dict[str, Any]] = {} if fresh or have is None else {q["name"]: q for q in before["queues"]}  # type: ignore[index]
        for change in changes:
            if change.type is not ResourceType.WORK_QUEUE or change.pool != pool:
                continue
            if change.action is Action.DELETE:
                queues.pop(change.name, None)
            elif change.after is not None:
                queues[change.name] = _queue(change.after)
        for effect in side_effects:
            name = _queue_of(str(effect.get("address", "")), pool)
            if name is None or list(effect.get("path", [])) != ["priority"]:
                continue
            if name in queues:
                queues[name] = {**queues[name], "priority": effect.get("after")}
            else:
                queues[name] = _queue({"name": name, "priority": effect.get("after")}, unmanaged=True)
        form = pool_change.after if pool_change is not None and pool_change.after is not None else {}
        kept = have is not None and not fresh
        after = {
            "paused": bool(form.get("paused", have.paused if kept else False)),  # type: ignore[union-attr]
            "concurrency_limit": form.get("concurrency_limit", have.concurrency_limit if kept else None),  # type: ignore[union-attr]
            "queues": _ordered(queues.values()),
        }
        result[pool] = {"before": before, "after": after}
    return result


__all__ = ["waterfalls"]
