"""What a plan does to the runs waiting on the server: the plan's ``runs`` notes.

Owns: which changes hold back due runs (:func:`affected`: a pause of a pool or queue, a
lowered concurrency limit, the delete or replace of a pool, the delete of a queue whose
pool stays), the note of each with the count of due SCHEDULED runs that observe read
(:func:`run_notes`), and what makes a document's notes wrong (:func:`note_problems`).
A queue deleted with its pool has no note of its own: the pool's counts its runs.
Must not read anything: the counts come from ``api.observe.observe_due_runs``. No I/O.
"""

from __future__ import annotations

import enum
from typing import Any, Mapping, NamedTuple

from reconciler.plan.actions import Action, Change, ResourceType


class Effect(enum.StrEnum):
    """How a change holds back the runs due in its pool or queue."""

    PAUSE = "pause"                  # they wait until it is resumed, then start late (Prefect #19313)
    LIMIT_LOWERED = "limit_lowered"  # fewer of them run at once
    DELETE = "delete"                # no worker of the pool will pick them up


class Affected(NamedTuple):
    """One change that holds back due runs: count the runs of ``pool`` (of its ``queue`` when set)."""

    address: str
    pool: str
    queue: str | None
    effect: Effect


def _lowered(before: Any, after: Any) -> bool:
    """A concurrency limit that lets fewer runs start (None is no limit)."""
    return after is not None and (before is None or after < before)


def affected(changes: list[Change]) -> list[Affected]:
    """The changes that hold back due runs, in plan order, each with the runs to count."""
    deleted_pools = {c.pool for c in changes if c.type is ResourceType.WORK_POOL and c.action in (Action.DELETE, Action.REPLACE)}
    out: list[Affected] = []
    for change in changes:
        queue = change.name if change.type is ResourceType.WORK_QUEUE else None
        if change.action in (Action.DELETE, Action.REPLACE):
            if queue is None or change.pool not in deleted_pools:
                out.append(Affected(change.address, change.pool, queue, Effect.DELETE))
            continue
        if change.action is not Action.UPDATE or change.before is None or change.after is None:
            continue
        if change.after.get("paused") is True and change.before.get("paused") is False:
            out.append(Affected(change.address, change.pool, queue, Effect.PAUSE))
        if _lowered(change.before.get("concurrency_limit"), change.after.get("concurrency_limit")):
            out.append(Affected(change.address, change.pool, queue, Effect.LIMIT_LOWERED))
    return out


def note(item: Affected, due_runs: int) -> dict[str, Any]:
    """The plan document's note for one affected change with ``due_runs`` due runs."""
    return {"address": item.address, "effect": item.effect.value, "due_runs": due_runs,
            "start_late_on_resume": item.effect is Effect.PAUSE}


def run_notes(changes: list[Change], due_runs: Mapping[str, int]) -> list[dict[str, Any]]:
    """A note per affected change whose address has due runs in ``due_runs`` (address -> count)."""
    return [note(item, due_runs[item.address]) for item in affected(changes) if due_runs.get(item.address, 0) > 0]


NOTE_KEYS = ("address", "effect", "due_runs", "start_late_on_resume")


def note_problems(changes: list[Change], notes: list[Any]) -> list[tuple[str | None, str]]:
    """What is wrong with a document's ``runs`` notes, as (address, message); [] when nothing is."""
    expected = {(a.address, a.effect.value) for a in affected(changes)}
    seen: set[tuple[str, str]] = set()
    out: list[tuple[str | None, str]] = []
    for index, item in enumerate(notes):
        where = f"runs[{index}]"
        if not isinstance(item, dict) or sorted(item) != sorted(NOTE_KEYS):
            out.append((None, f"{where} must be an object with exactly {', '.join(NOTE_KEYS)}"))
            continue
        address, effect, count = item["address"], item["effect"], item["due_runs"]
        if not isinstance(address, str) or not isinstance(effect, str):
            out.append((None, f"{where}: 'address' and 'effect' must be strings"))
            continue
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            out.append((address, f"{where}: 'due_runs' must be an integer >= 1"))
        if (address, effect) not in expected:
            out.append((address, f"{where}: no change of the plan to {address} holds back due runs as its 'effect' says"))
        elif (address, effect) in seen:
            out.append((address, f"{where}: the {effect} of {address} is noted twice"))
        seen.add((address, effect))
        if item["start_late_on_resume"] is not (effect == Effect.PAUSE.value):
            out.append((address, f"{where}: 'start_late_on_resume' must be true exactly for a pause"))
    return out


__all__ = ["NOTE_KEYS", "Affected", "Effect", "affected", "note", "note_problems", "run_notes"]
