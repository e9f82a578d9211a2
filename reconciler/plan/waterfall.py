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

from typing import Any, Collection, Iterable, Mapping

from reconciler.model.state import ObservedPool, pool_address, queue_address
from reconciler.plan.actions import Action, Change, ResourceType
from reconciler.plan.normalize import strict_equal


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


def _by_pool(changes: Iterable[Change]) -> dict[str, list[Change]]:
    """The changes of each pool, in plan order (one pass: a plan of thousands of pools must not
    scan every change for every pool)."""
    out: dict[str, list[Change]] = {}
    for change in changes:
        out.setdefault(change.pool, []).append(change)
    return out


def _effects_by_pool(side_effects: Iterable[Mapping[str, Any]],
                     pools: Collection[str] | Mapping[str, Any]) -> dict[str, list[tuple[str, Mapping[str, Any]]]]:
    """``{pool: [(queue name, effect)]}`` for every pool in ``pools`` whose queue address prefix an
    effect's address starts with (pool and queue names may hold dots: an address can belong to
    more than one pool), found by trying each dot of the address rather than each pool."""
    out: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    head = queue_address("", "")[:-1]  # "work_queue."
    for effect in side_effects:
        address = str(effect.get("address", ""))
        if not address.startswith(head):
            continue
        rest = address[len(head):]
        for i, char in enumerate(rest):
            if char == "." and rest[:i] in pools:
                out.setdefault(rest[:i], []).append((rest[i + 1:], effect))
    return out


def waterfalls(observed: Mapping[str, ObservedPool], changes: list[Change],
               side_effects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{pool: {"before": side | None, "after": side | None}}``, a side being
    ``{"paused", "concurrency_limit", "queues": [{"name", "priority", "concurrency_limit", "paused"}]}``
    with queues in waterfall order (priority, then name). ``before`` is None for a pool the plan
    creates, ``after`` None for one it deletes."""
    changes = [c for c in changes if c.action is not Action.NOOP]
    by_pool = _by_pool(changes)
    effects = _effects_by_pool(side_effects, set(observed) | set(by_pool))
    touched = list(by_pool) + [pool for pool in effects if pool not in by_pool and pool in observed]
    result: dict[str, dict[str, Any]] = {}
    for pool in touched:
        have = observed.get(pool)
        before = _observed_side(have) if have else None
        mine = by_pool.get(pool, [])
        pool_change = next((c for c in mine if c.type is ResourceType.WORK_POOL), None)
        if before is not None and pool_change is not None and pool_change.action in (Action.DELETE, Action.REPLACE):
            # the old pool goes: show the queues its changes name (the server's own default is not one)
            listed = {c.name for c in mine if c.type is ResourceType.WORK_QUEUE}
            before = {**before, "queues": [q for q in before["queues"] if q["name"] in listed]}
        if pool_change is not None and pool_change.action is Action.DELETE:
            result[pool] = {"before": before, "after": None}
            continue
        fresh = pool_change is not None and pool_change.action in (Action.CREATE, Action.REPLACE)
        queues: dict[str, dict[str, Any]] = {} if fresh or have is None else {q["name"]: q for q in before["queues"]}  # type: ignore[index]
        for change in mine:
            if change.type is not ResourceType.WORK_QUEUE:
                continue
            if change.action is Action.DELETE:
                queues.pop(change.name, None)
            elif change.after is not None:
                queues[change.name] = _queue(change.after)
        for name, effect in effects.get(pool, []):
            if list(effect.get("path", [])) != ["priority"]:
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


_SHOWN = ("priority", "concurrency_limit", "paused")


def _side(entry: Any, key: str) -> Any:
    return entry.get(key) if isinstance(entry, dict) else None


def _queues_of(side: Any) -> dict[str, dict[str, Any]] | None:
    queues = side.get("queues") if isinstance(side, dict) else None
    if not isinstance(queues, list) or not all(isinstance(q, dict) and isinstance(q.get("name"), str) for q in queues):
        return None
    return {q["name"]: q for q in queues}


def waterfall_problems(shown: Mapping[str, Any], changes: list[Change],
                       side_effects: list[dict[str, Any]]) -> list[tuple[str | None, str]]:
    """Where a document's ``waterfalls`` contradicts its changes (an empty one is a file written
    before the field existed): the pools must be the touched ones, each side well formed and
    ordered, every changed queue and pool and every side effect shown as the change says."""
    if not shown:
        return []
    if not all(isinstance(e, dict) for e in side_effects):
        return []  # the reader refuses such side effects on its own
    expected = waterfalls({}, changes, side_effects)
    by_pool = _by_pool(c for c in changes if c.action is not Action.NOOP)
    touched = set(expected) | set(by_pool)
    out: list[tuple[str | None, str]] = []
    if set(shown) != touched:
        return [(None, "its waterfalls are not the pools its changes touch")]
    effects = _effects_by_pool(side_effects, shown)
    for pool, entry in shown.items():
        where = pool_address(pool)
        if not isinstance(entry, dict) or set(entry) != {"before", "after"}:
            out.append((where, f"its waterfall of {where} is not a before/after pair"))
            continue
        sides = {}
        for name in ("before", "after"):
            side = entry[name]
            if side is None:
                sides[name] = None
                continue
            queues = _queues_of(side)
            if queues is None or list(queues.values()) != _ordered(queues.values()):
                out.append((where, f"its waterfall of {where} ({name}) is not a list of queues in polling order"))
                sides = {}
                break
            sides[name] = queues
        if not sides:
            continue
        mine = by_pool.get(pool, [])
        # a new pool's default is not the old one
        fresh = any(c.type is ResourceType.WORK_POOL and c.action in (Action.CREATE, Action.REPLACE) for c in mine)
        for change in mine:
            if change.type is ResourceType.WORK_POOL:
                gone = change.action is Action.DELETE
                if (entry["after"] is None) != gone or (entry["before"] is None) != (change.action is Action.CREATE):
                    out.append((change.address, f"its waterfall of {where} does not show the pool's {change.action.value}"))
                    continue
                for key in ("paused", "concurrency_limit"):
                    if change.after is not None and key in change.after and _side(entry["after"], key) != change.after[key]:
                        out.append((change.address, f"its waterfall of {where} does not show the planned {key}"))
                continue
            after, before = sides.get("after"), sides.get("before")
            if change.action is Action.DELETE:
                if after is not None and change.name in after:
                    out.append((change.address, f"its waterfall of {where} keeps {change.address}, which the plan deletes"))
            elif change.after is not None:
                row = (after or {}).get(change.name)
                if row is None or any(key in change.after and row.get(key) != change.after[key] for key in _SHOWN):
                    out.append((change.address, f"its waterfall of {where} does not show {change.address} as planned"))
            if change.before is not None and before is not None and not fresh:
                row = before.get(change.name)
                if row is None or any(key in change.before and row.get(key) != change.before[key] for key in _SHOWN):
                    out.append((change.address, f"its waterfall of {where} does not show {change.address} as it was"))
        moved: dict[str, Any] = {}
        for name, effect in effects.get(pool, []):
            moved[name] = effect.get("after")
            row = (sides.get("after") or {}).get(name)
            if row is None or row.get("priority") != effect.get("after"):
                out.append((str(effect.get("address")), f"its waterfall of {where} does not show the priority move of "
                                                        f"{effect.get('address')}"))
        out.extend(_unchanged_problems(pool, entry, sides, mine, moved, expected.get(pool)))
    return out


def _unchanged_problems(pool: str, entry: dict[str, Any], sides: dict[str, Any], changes: list[Change],
                        moved: dict[str, Any], expected: dict[str, Any] | None) -> list[tuple[str | None, str]]:
    """What the changes leave alone must read the same before and after: the pool's pause and
    limit without a pool change, and each queue no change touches (its priority aside when the
    server's bump moves it); a queue appears or disappears only by a change. A created or replaced
    pool's ``after`` is exactly what its changes make. ``changes`` are the pool's own, no NOOPs."""
    where = pool_address(pool)
    pool_change = next((c for c in changes if c.type is ResourceType.WORK_POOL), None)
    before, after = sides.get("before"), sides.get("after")
    out: list[tuple[str | None, str]] = []
    touched = {c.name for c in changes if c.type is ResourceType.WORK_QUEUE}
    if pool_change is not None and pool_change.action in (Action.DELETE, Action.REPLACE) and before is not None:
        if not set(before) <= touched:
            out.append((where, f"its waterfall of {where} (before) shows a queue no change names"))
    if pool_change is not None and pool_change.action in (Action.CREATE, Action.REPLACE, Action.DELETE):
        if expected is not None and not strict_equal(entry["after"], expected["after"]):
            out.append((where, f"its waterfall of {where} (after) is not what the plan makes"))
        if pool_change.before is not None:
            for key in ("paused", "concurrency_limit"):
                if key in pool_change.before and _side(entry["before"], key) != pool_change.before[key]:
                    out.append((where, f"its waterfall of {where} does not show the pool's {key} as it was"))
        return out
    if pool_change is None and entry["before"] is not None and entry["after"] is not None:
        for key in ("paused", "concurrency_limit"):
            if _side(entry["before"], key) != _side(entry["after"], key):
                out.append((where, f"its waterfall of {where} changes the pool's {key}, which the plan does not"))
    if pool_change is not None and pool_change.before is not None:
        for key in ("paused", "concurrency_limit"):
            if key in pool_change.before and _side(entry["before"], key) != pool_change.before[key]:
                out.append((where, f"its waterfall of {where} does not show the pool's {key} as it was"))
    if before is None or after is None:
        return out
    for name in set(before) ^ set(after):
        if name not in touched and not (name in moved and name not in before and after[name].get("unmanaged")):
            out.append((queue_address(pool, name), f"its waterfall of {where} adds or drops a queue no change touches"))
    for name in set(before) & set(after) - touched:
        keys = set(before[name]) | set(after[name])
        if any(before[name].get(k) != after[name].get(k) for k in keys if not (k == "priority" and name in moved)):
            out.append((queue_address(pool, name), f"its waterfall of {where} changes a queue no change touches"))
    return out


__all__ = ["waterfall_problems", "waterfalls"]
