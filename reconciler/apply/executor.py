"""Execute a plan document: ``apply_plan(client, plan_json, hooks=...)``.

Owns: the stale-plan check (re-observe what the plan read, compare fingerprints
computed by the planner's own function), running ``steps`` (one pool's steps in
order, different pools concurrently), idempotent retries of creates and deletes,
converging priorities, and reporting progress through hooks.
Must not decide what to change: it runs the steps as written.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

from reconciler.api.observe import observe_pools
from reconciler.apply.hooks import ApplyHooks, NullHooks
from reconciler.errors import ApiError, ApplyError, NotFound, StalePlanError
from reconciler.model.state import DEFAULT_QUEUE, ObservedState

CONVERGE_ROUNDS = 5


@dataclass
class ApplyResult:
    """What an apply did. ``added/changed/destroyed`` count resources as the plan summary does."""

    applied: list[dict[str, Any]] = field(default_factory=list)
    added: int = 0
    changed: int = 0
    destroyed: int = 0
    calls: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"applied": len(self.applied), "add": self.added, "change": self.changed,
                "remove": self.destroyed, "calls": self.calls, "seconds": round(self.seconds, 3)}


# -- the stale check -------------------------------------------------------------


def _split(addresses: Iterable[str], hints: dict[str, tuple[str, str | None]]) -> dict[str, tuple[str, str | None]]:
    """address -> (pool, queue|None); queue addresses resolved against known pool names."""
    out: dict[str, tuple[str, str | None]] = {}
    addresses = list(addresses)
    pools = {a[len("work_pool."):] for a in addresses if a.startswith("work_pool.")}
    pools |= {p for p, _ in hints.values()}
    for address in addresses:
        if address in hints:
            out[address] = hints[address]
        elif address.startswith("work_pool."):
            out[address] = (address[len("work_pool."):], None)
        elif address.startswith("work_queue."):
            rest = address[len("work_queue."):]
            match = max((p for p in pools if rest.startswith(p + ".")), key=len, default=None)
            if match is None:
                match, _, _ = rest.rpartition(".")
            out[address] = (match, rest[len(match) + 1:])
    return out


def _address_hints(plan_json: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    hints: dict[str, tuple[str, str | None]] = {}
    for change in plan_json.get("resource_changes", []):
        if change.get("type") == "work_queue":
            hints[change["address"]] = (change["pool"], change["name"])
        elif change.get("type") == "work_pool":
            hints[change["address"]] = (change["pool"], None)
    return hints


def _current_form(observed: ObservedState, pool: str, queue: str | None) -> dict[str, Any] | None:
    from reconciler.plan import normalize

    p = observed.pools.get(pool)
    if p is None:
        return None
    if queue is None:
        return normalize.observed_pool_form(p)
    q = p.queues.get(queue)
    return None if q is None else normalize.observed_queue_form(q)


def _what_changed(before: dict[str, Any] | None, now: dict[str, Any] | None) -> str:
    from reconciler.plan import normalize

    if before is None and now is not None:
        return "it was created"
    if before is not None and now is None:
        return "it was deleted"
    if before is None or now is None:
        return "its fields"
    fields = sorted(k for k in set(before) | set(now)
                    if k in before and not normalize.json_equal(before.get(k), now.get(k)))
    return ", ".join(fields) if fields else "fields the plan does not show"


def refuse_stale_plan(client: Any, plan_json: dict[str, Any]) -> None:
    """Re-read everything the plan read; raise StalePlanError naming each address that changed."""
    from reconciler.plan.normalize import fingerprints

    recorded: dict[str, str | None] = plan_json.get("observed") or {}
    if not recorded:
        return
    where = _split(recorded, _address_hints(plan_json))
    pools = sorted({pool for pool, _ in where.values()})
    queue_pools = sorted({pool for pool, queue in where.values() if queue is not None})
    observed = observe_pools(client, pools, queues_for=queue_pools)
    current = fingerprints(observed, list(recorded))
    changed = [a for a in recorded if current.get(a) != recorded[a]]
    if not changed:
        return
    befores = {c["address"]: (c.get("change") or {}).get("before") for c in plan_json.get("resource_changes", [])}
    lines = []
    for address in changed:
        pool, queue = where[address]
        now = _current_form(observed, pool, queue)
        if address in befores:
            what = _what_changed(befores[address], now)
        elif recorded[address] is None:
            what = "it was created"
        elif now is None:
            what = "it was deleted"
        else:
            what = "its fields"
        lines.append(f"{address} changed since the plan was made ({what})")
    raise StalePlanError(
        "Saved plan is stale: " + "; ".join(lines) + ". Run `poolform plan` again and apply the new plan.",
        changed,
    )


# -- running steps ---------------------------------------------------------------


class _PoolRun:
    """The steps of one pool, in order, plus what we know of its queue priorities."""

    def __init__(self, pool: str, steps: list[dict[str, Any]]) -> None:
        self.pool = pool
        self.steps = steps
        self.priorities: dict[str, int] | None = None


class _Executor:
    def __init__(self, client: Any, hooks: ApplyHooks) -> None:
        self.client = client
        self.hooks = hooks
        self.lock = threading.Lock()
        self.applied: list[dict[str, Any]] = []
        self.failures: list[tuple[dict[str, Any], BaseException]] = []
        self.skipped: list[dict[str, Any]] = []
        self.stop = threading.Event()

    def run_pool(self, run: _PoolRun) -> None:
        for index, step in enumerate(run.steps):
            if self.stop.is_set():
                with self.lock:
                    self.skipped.extend(run.steps[index:])
                return
            self.hooks.on_step_start(step)
            started = time.monotonic()
            try:
                self.run_step(run, step)
            except Exception as exc:  # noqa: BLE001 - reported through ApplyError
                self.hooks.on_step_error(step, exc)
                with self.lock:
                    self.failures.append((step, exc))
                    self.skipped.extend(run.steps[index + 1:])
                return
            with self.lock:
                self.applied.append(step)
            self.hooks.on_step_done(step, time.monotonic() - started)

    def run_step(self, run: _PoolRun, step: dict[str, Any]) -> None:
        op = step["op"]
        client = self.client
        pool = step["pool"]
        if op == "create_pool":
            client.create_pool(step["body"])
            run.priorities = {DEFAULT_QUEUE: 1}
        elif op == "update_pool":
            client.update_pool(pool, step["body"])
        elif op == "delete_pool":
            try:
                client.delete_pool(pool)
            except NotFound:
                pass
            run.priorities = None
        elif op == "create_queue":
            created = client.create_queue(pool, step["body"])
            self._note_create(run, step["body"], created)
        elif op == "update_queue":
            client.update_queue(pool, step["queue"], step["body"])
            if "priority" in step["body"] or "name" in step["body"]:
                run.priorities = None
        elif op == "delete_queue":
            try:
                client.delete_queue(pool, step["queue"])
            except NotFound:
                pass
            if run.priorities is not None:
                run.priorities.pop(step["queue"], None)
        elif op == "converge_priorities":
            self.converge(run, step)
        else:
            raise ValueError(f"unknown step op {op!r} in the plan")

    @staticmethod
    def _note_create(run: _PoolRun, body: dict[str, Any], created: Any) -> None:
        """Keep the known priorities exact only while no server-side bump can have happened."""
        known = run.priorities
        if known is None or not isinstance(created, dict) or not isinstance(created.get("priority"), int):
            run.priorities = None
            return
        got = created["priority"]
        wanted = body.get("priority")
        highest = max(known.values(), default=0)
        if wanted is None:
            if got in known.values():
                run.priorities = None
            else:
                known[body["name"]] = got
        elif got == wanted and wanted > highest:
            known[body["name"]] = got
        else:
            run.priorities = None

    def converge(self, run: _PoolRun, step: dict[str, Any]) -> None:
        pool = step["pool"]
        wanted: dict[str, int] = dict(step.get("priorities") or {})
        if not wanted:
            return
        known = run.priorities
        if known is not None and all(known.get(q) == p for q, p in wanted.items()):
            return
        for _ in range(CONVERGE_ROUNDS):
            current = {q["name"]: q.get("priority") for q in self.client.read_queues(pool)}
            missing = [q for q in wanted if q not in current]
            if missing:
                raise ApiError(f"queues {', '.join(sorted(missing))} of work pool {pool!r} disappeared during the apply")
            off = sorted((p, q) for q, p in wanted.items() if current[q] != p)
            if not off:
                run.priorities = {q: int(p) for q, p in current.items() if isinstance(p, int)}
                return
            for priority, queue in off:
                self.client.update_queue(pool, queue, {"priority": priority})
        current = {q["name"]: q.get("priority") for q in self.client.read_queues(pool)}
        off = {q: (current.get(q), p) for q, p in wanted.items() if current.get(q) != p}
        if off:
            detail = ", ".join(f"{q} is {now} (wanted {p})" for q, (now, p) in sorted(off.items()))
            raise ApiError(f"priorities of work pool {pool!r} did not converge after {CONVERGE_ROUNDS} rounds: {detail}")
        run.priorities = {q: int(p) for q, p in current.items() if isinstance(p, int)}


def group_steps(steps: Iterable[dict[str, Any]]) -> list[_PoolRun]:
    """Steps grouped by pool, keeping each pool's order and the pools' first-appearance order."""
    runs: dict[str, _PoolRun] = {}
    for step in steps:
        run = runs.get(step["pool"])
        if run is None:
            run = runs[step["pool"]] = _PoolRun(step["pool"], [])
        run.steps.append(step)
    return list(runs.values())


def _counts(plan_json: dict[str, Any], applied: list[dict[str, Any]], complete: bool) -> tuple[int, int, int]:
    summary = plan_json.get("summary") or {}
    if complete:
        return int(summary.get("add", 0)), int(summary.get("change", 0)), int(summary.get("destroy", 0))
    done = {s.get("address") for s in applied}
    added = changed = destroyed = 0
    for change in plan_json.get("resource_changes", []):
        if change["address"] not in done:
            continue
        actions = (change.get("change") or {}).get("actions", [])
        added += "create" in actions
        destroyed += "delete" in actions
        changed += actions == ["update"]
    return added, changed, destroyed


def apply_plan(client: Any, plan_json: dict[str, Any], *, hooks: ApplyHooks | None = None,
               check_stale: bool = True) -> ApplyResult:
    """Run the plan's steps; see the module docstring.

    Raises StalePlanError before touching anything when the server changed since
    the plan was made, and ApplyError (with ``applied``, ``failed``, and the
    extra attributes ``failures`` and ``skipped``) when a step failed; steps of
    other pools still run to the end, so a new plan + apply converges.
    """
    hooks = hooks or NullHooks()
    started = time.monotonic()
    calls_before = client.count_calls
    if check_stale:
        refuse_stale_plan(client, plan_json)
    runs = group_steps(plan_json.get("steps") or [])
    executor = _Executor(client, hooks)
    if runs:
        try:
            client.map(executor.run_pool, runs)
        except KeyboardInterrupt:
            executor.stop.set()
            raise
    result = ApplyResult(applied=executor.applied)
    result.calls = client.count_calls - calls_before
    result.seconds = time.monotonic() - started
    if executor.failures:
        step, exc = executor.failures[0]
        result.added, result.changed, result.destroyed = _counts(plan_json, executor.applied, complete=False)
        what = "; ".join(f"{s.get('address', s['pool'])}: {e}" for s, e in executor.failures)
        err = ApplyError(f"apply stopped part-way: {what}", applied=executor.applied, failed=step, cause=exc)
        err.failures = executor.failures  # type: ignore[attr-defined]
        err.skipped = executor.skipped  # type: ignore[attr-defined]
        err.result = result  # type: ignore[attr-defined]
        raise err
    result.added, result.changed, result.destroyed = _counts(plan_json, executor.applied, complete=True)
    return result
