"""``sequence``: a plan's changes -> its steps and side effects (pure).

The steps of a plan are a function of its ``resource_changes`` and of the queue
priorities of the pools it writes queues in, nothing else: the planner calls
:func:`sequence` to make them, and ``verify.py`` calls it again on a plan file's
changes (with the priorities read at apply time) to check that the file's steps
are exactly these. So what the views show (changes, side effects, summary) is
what the executor does.

Rules, per pool (pools keep the order of their first change; steps are ordered
by :class:`~reconciler.plan.steps.Phase`):

* pool delete -> ``delete_pool`` (its queues go with it: their deletes have no step);
* pool replace -> ``delete_pool`` then ``create_pool`` from ``after``; its queues
  are created from their ``after`` (the ``default`` one is updated from the form
  the server creates it with); its undeclared queues go with the old pool;
* pool create -> ``create_pool`` from ``after``; update -> ``update_pool`` with the
  changed top-level fields of ``changed_paths``;
* queue create/replace -> ``create_queue`` from ``after`` (those with a priority
  first, ascending), update -> ``update_queue`` with the changed fields other than
  ``priority``, delete -> ``delete_queue``;
* priorities: the managed ones (``after.priority``) are planned by
  :func:`~reconciler.plan.priorities.plan_priorities` against the pool's current
  priorities after the creates, followed by ``converge_priorities`` when anything
  moved; queues whose priority the walk moves without managing it are side effects.

Wire bodies hold only the keys to send; an explicit ``None`` clears a field;
``base_job_template`` is never sent as null. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from reconciler.model.state import DEFAULT_QUEUE, ObservedPool, queue_address
from reconciler.plan.actions import Action, Change, ResourceType
from reconciler.plan.priorities import assign_priority_on_create, bump_walk, plan_priorities, simulate
from reconciler.plan.steps import Op, Phase, Step

WIRE_NAMES = {"paused": "is_paused"}
"""Comparable-form field -> Prefect wire field, where they differ."""

POOL_UPDATABLE = ("description", "paused", "concurrency_limit", "base_job_template")
QUEUE_UPDATABLE = ("description", "paused", "concurrency_limit")


@dataclass
class Sequenced:
    """The steps, the side effects, and pools whose priorities cannot be planned (pool, why)."""

    steps: list[Step] = field(default_factory=list)
    side_effects: list[dict[str, Any]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)


# -- wire bodies from comparable forms ------------------------------------------------


def pool_create_body(after: Mapping[str, Any]) -> dict[str, Any]:
    """``WorkPoolCreate``: name and type, plus managed fields that differ from the server's defaults."""
    body: dict[str, Any] = {"name": after["name"], "type": after["type"]}
    if after.get("description") is not None:
        body["description"] = after["description"]
    if after.get("paused"):
        body["is_paused"] = True
    if after.get("concurrency_limit") is not None:
        body["concurrency_limit"] = after["concurrency_limit"]
    if after.get("base_job_template"):
        body["base_job_template"] = after["base_job_template"]
    return body


def queue_create_body(after: Mapping[str, Any]) -> dict[str, Any]:
    """``WorkQueueCreate``: the name plus managed fields that differ from the defaults; priority when managed."""
    body: dict[str, Any] = {"name": after["name"]}
    if after.get("description"):
        body["description"] = after["description"]
    if after.get("paused"):
        body["is_paused"] = True
    if after.get("concurrency_limit") is not None:
        body["concurrency_limit"] = after["concurrency_limit"]
    if "priority" in after:
        body["priority"] = after["priority"]
    return body


def update_body(change: Change, updatable: Iterable[str]) -> dict[str, Any]:
    """``WorkPoolUpdate``/``WorkQueueUpdate``: the changed top-level fields of ``changed_paths``."""
    changed = {path[0] for path in change.changed_paths if path}
    after = change.after or {}
    body: dict[str, Any] = {}
    for key in updatable:
        if key in changed and key in after and not (key == "base_job_template" and after[key] is None):
            body[WIRE_NAMES.get(key, key)] = after[key]
    return body


# -- the sequence ---------------------------------------------------------------------


def _by_pool(changes: Iterable[Change]) -> dict[str, tuple[Change | None, list[Change]]]:
    pools: dict[str, tuple[Change | None, list[Change]]] = {}
    for change in changes:
        pool_change, queues = pools.get(change.pool, (None, []))
        if change.type == ResourceType.WORK_POOL:
            pool_change = change
        else:
            queues.append(change)
        pools[change.pool] = (pool_change, queues)
    return pools


def queue_set_pools(changes: Iterable[Change]) -> list[str]:
    """Existing pools whose whole queue set the plan depends on: those it deletes or replaces, and
    those where it creates, deletes or replaces a queue or sets a priority. Their fingerprints cover
    the set of queue names, and every queue of theirs is fingerprinted (``planner``, ``verify``)."""
    out: list[str] = []
    for pool, (pool_change, queues) in _by_pool(changes).items():
        if pool_change is not None and pool_change.action is Action.CREATE:
            continue
        if ((pool_change is not None and pool_change.action in (Action.DELETE, Action.REPLACE))
                or any(q.action in (Action.CREATE, Action.DELETE, Action.REPLACE) for q in queues)
                or any(["priority"] in q.changed_paths for q in queues)):
            out.append(pool)
    return out


def current_priorities(pool: ObservedPool | None) -> dict[str, int]:
    """A pool's queue priorities in the order the server's walk takes them (ascending, then as listed)."""
    if pool is None:
        return {}
    return {q.name: q.priority for q in sorted(pool.queues.values(), key=lambda q: q.priority)}


def sequence(changes: Iterable[Change], pools: Mapping[str, ObservedPool]) -> Sequenced:
    """The steps and side effects of ``changes`` (see the module docstring).

    ``pools``: the pools as observed, for the current priorities of every pool whose
    queues the changes write (pools that are created or replaced start from the
    ``default`` queue alone, at priority 1).
    """
    out = Sequenced()
    phased: list[tuple[Phase, Step]] = []
    for pool, (pool_change, queues) in _by_pool(changes).items():
        action = pool_change.action if pool_change is not None else None
        if action is Action.DELETE:
            phased.append((Phase.POOL_DELETE, Step(Op.DELETE_POOL, pool)))
            continue
        if action is Action.REPLACE:
            phased.append((Phase.REPLACE_DELETE, Step(Op.DELETE_POOL, pool)))
        if action in (Action.CREATE, Action.REPLACE):
            phased.append((Phase.POOL_WRITE, Step(Op.CREATE_POOL, pool, body=pool_create_body(pool_change.after or {}))))
        elif action is Action.UPDATE:
            assert pool_change is not None
            phased.append((Phase.POOL_WRITE, Step(Op.UPDATE_POOL, pool, body=update_body(pool_change, POOL_UPDATABLE))))
        if queues:
            fresh = action in (Action.CREATE, Action.REPLACE)
            phased.extend(_queues(pool, queues, {DEFAULT_QUEUE: 1} if fresh else current_priorities(pools.get(pool)),
                                  fresh, out))
    phased.sort(key=lambda item: item[0])
    out.steps = [step for _, step in phased]
    return out


def _queues(pool: str, changes: list[Change], state: dict[str, int], fresh: bool, out: Sequenced) -> list[tuple[Phase, Step]]:
    phased: list[tuple[Phase, Step]] = []
    initial = dict(state)
    wanted: dict[str, int] = {}
    creates: list[Change] = []
    deleted: set[str] = set()
    for change in changes:
        if change.action is Action.DELETE:
            if not fresh:
                deleted.add(change.name)
                phased.append((Phase.QUEUE_DELETE, Step(Op.DELETE_QUEUE, pool, change.name)))
            continue
        if change.action in (Action.CREATE, Action.REPLACE):
            creates.append(change)
        elif change.action is Action.UPDATE:
            body = update_body(change, QUEUE_UPDATABLE)
            if body:
                phased.append((Phase.QUEUE_UPDATE, Step(Op.UPDATE_QUEUE, pool, change.name, body=body)))
        after = change.after or {}
        if "priority" in after:
            wanted[change.name] = after["priority"]

    moved = False
    ordered = (sorted((c for c in creates if "priority" in (c.after or {})), key=lambda c: (c.after or {})["priority"])
               + [c for c in creates if "priority" not in (c.after or {})])
    for change in ordered:
        after = change.after or {}
        phased.append((Phase.QUEUE_CREATE, Step(Op.CREATE_QUEUE, pool, change.name, body=queue_create_body(after))))
        if "priority" in after:
            state = bump_walk(state, change.name, after["priority"])
            moved = True
        else:
            state[change.name] = assign_priority_on_create(state.values())

    final = state
    if wanted:
        try:
            moves = plan_priorities(state, wanted, fix_duplicates=bool(deleted))
        except ValueError as exc:
            out.errors.append((pool, str(exc)))
            moves = []
        for name, priority in moves:
            phased.append((Phase.PRIORITY, Step(Op.UPDATE_QUEUE, pool, name, body={"priority": priority})))
        moved = moved or bool(moves)
        final = simulate(state, moves)
        if moved:
            priorities = dict(sorted(wanted.items(), key=lambda item: item[1]))
            phased.append((Phase.CONVERGE, Step(Op.CONVERGE_PRIORITIES, pool, priorities=priorities)))
    for name, before in initial.items():
        if name in wanted or name in deleted or name not in final or final[name] == before:
            continue
        out.side_effects.append({"address": queue_address(pool, name), "path": ["priority"],
                                 "before": before, "after": final[name]})
    return phased


__all__ = ["Sequenced", "current_priorities", "pool_create_body", "queue_create_body", "queue_set_pools", "sequence",
           "update_body"]
