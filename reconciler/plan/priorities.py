"""Queue priorities: an exact simulation of the server's walk, and a plan that converges under it.

The server (prefect-api.md §3.2, ``bulk_update_work_queue_priorities``) handles a
create-with-priority or a pool-scoped PATCH of ``priority = p`` on queue ``q`` so:
``q`` gets ``p``; the other queues, sorted by priority, get ``q`` inserted just before
the first one whose priority is >= ``p`` (if there is none, ``q`` is not inserted
and keeps ``p``); then the list is walked and every queue whose priority is <= the
previous one gets previous+1. Gaps are never closed. A delete re-runs the walk
with no target, which only fixes duplicates.

Queues with equal priorities (left by the legacy route) are taken in the order of
the input mapping, which is the order the server listed them in.

:func:`plan_priorities` orders single-queue PATCHes so that, applied one by one
through that walk, every managed queue ends at its desired priority whatever
unmanaged queues sit between them. Why it converges:

1. If the pool holds duplicate priorities, the first step PATCHes the managed queue
   with the lowest current priority to the pool's lowest priority. Every other queue
   has a priority >= that, so the queue is inserted first and the walk leaves the
   whole pool strictly increasing (no duplicates).
2. Then one pass in ascending order of desired priority, skipping queues already
   right. With unique priorities, setting ``q_i`` to ``d_i`` leaves every queue below
   ``d_i`` untouched (a strictly increasing prefix is a fixed point of the walk) —
   that includes ``q_1..q_{i-1}`` at ``d_1..d_{i-1}`` — and only pushes queues at or
   above ``d_i`` upward, keeping priorities unique. By induction all managed queues
   hold their desired priorities after the pass.

No I/O here.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence


def bump_walk(current: Mapping[str, int], target_queue: str | None, target_priority: int | None) -> dict[str, int]:
    """The priorities after the server sets ``target_queue`` to ``target_priority`` (or walks with no target).

    ``target_queue`` need not be in ``current`` (a queue being created). The result
    lists queues in the order the walk leaves them (ascending priority).
    """
    if target_queue is None or target_priority is None:
        order = sorted(current.items(), key=lambda item: item[1])
        return _walk(order)
    others = sorted(((q, p) for q, p in current.items() if q != target_queue), key=lambda item: item[1])
    for index, (_, priority) in enumerate(others):
        if priority >= target_priority:
            others.insert(index, (target_queue, target_priority))
            return _walk(others)
    result = _walk(others)
    result[target_queue] = target_priority
    return result


def _walk(order: Sequence[tuple[str, int]]) -> dict[str, int]:
    result: dict[str, int] = {}
    last = 0
    for queue, priority in order:
        if priority <= last:
            last += 1
        else:
            last = priority
        result[queue] = last
    return result


def assign_priority_on_create(existing: Iterable[int]) -> int:
    """The priority the server gives a queue created without one: the first gap, else max+1."""
    ordered = sorted(existing)
    for index, priority in enumerate(ordered):
        if index + 1 != priority:
            return index + 1
    return (ordered[-1] if ordered else 0) + 1


def has_duplicates(priorities: Mapping[str, int]) -> bool:
    return len(set(priorities.values())) != len(priorities)


def plan_priorities(current: Mapping[str, int], desired: Mapping[str, int], *, fix_duplicates: bool = False) -> list[tuple[str, int]]:
    """Single-queue priority PATCHes, in order, that bring every queue of ``desired`` to its priority.

    ``current`` holds every queue of the pool (managed or not); ``desired`` the managed
    ones (a subset, unique priorities >= 1). Returns ``[]`` when nothing needs to move.
    ``fix_duplicates`` forces the duplicate-removing first step even when the managed
    queues are already right (used when queue deletes follow, since a delete's walk
    would otherwise move queues).
    Raises ValueError for a desired queue missing from ``current``, duplicate desired
    priorities or a priority below 1.
    """
    missing = [q for q in desired if q not in current]
    if missing:
        raise ValueError(f"queues with a desired priority are not in the pool: {', '.join(sorted(missing))}")
    if has_duplicates(desired):
        raise ValueError("two queues have the same desired priority")
    if any(p < 1 for p in desired.values()):
        raise ValueError("priorities must be >= 1")
    state = dict(current)
    steps: list[tuple[str, int]] = []
    wrong = any(state[q] != p for q, p in desired.items())
    if not desired or not (wrong or fix_duplicates):
        return steps
    if has_duplicates(state):
        lowest = min(state.values())
        first = min(desired, key=lambda q: (state[q], list(state).index(q)))
        steps.append((first, lowest))
        state = bump_walk(state, first, lowest)
    for queue, priority in sorted(desired.items(), key=lambda item: item[1]):
        if state[queue] != priority:
            steps.append((queue, priority))
            state = bump_walk(state, queue, priority)
    if any(state[q] != p for q, p in desired.items()):
        raise AssertionError(f"priority plan did not converge: {state} vs {dict(desired)}")
    return steps


def simulate(current: Mapping[str, int], steps: Iterable[tuple[str, int]]) -> dict[str, int]:
    """The priorities after applying ``steps`` one by one through :func:`bump_walk`."""
    state = dict(current)
    for queue, priority in steps:
        state = bump_walk(state, queue, priority)
    return state
